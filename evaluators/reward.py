"""The reward model: learns hypothesis -> measured win rate from the archive, ranks a round's
proposals, and keeps a diverse top-k for the sandbox (after arXiv 2409.05258).

- Features of a hypothesis: the embedding of its idea and code, its behavioural fingerprint (from
  the probe run in the sandbox) and simple statistics of its code.
- Models behind one interface (``RewardModel``): a Gaussian process over a sum of kernels, one per
  feature block, with its hyperparameters chosen by marginal likelihood (the default: it gives an
  uncertainty for the exploration bonus), and a bootstrap ensemble of ridge regressions.
- ``select``: greedy upper-confidence choice with a redundancy penalty on behavioural similarity,
  so the chosen set is not a handful of near-duplicates; ``collapse`` says when it failed to be.
- ``metrics``: Kendall's tau, Spearman, Pearson and the top-k discovery curve's AUC against random.

Targets: the one-pass win rate; a hypothesis that failed in the sandbox, or whose result the
harness flagged (a shortcut such as a bigger model), counts as winning nothing.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

FAILED = ("invalid", "hyp_error", "nonfinite", "timeout", "oom", "invalid_result")
# The archive's outcome for a run the harness flagged (e.g. more parameters than the budget): it
# ran, but it is learned as no win, so the reward model does not learn to favour the shortcut.
FLAGGED = "flagged"
MIN_EXAMPLES = 8  # fewer labelled hypotheses than this: no model, rank by diversity only

_FAMILIES = {
    "gate": {"sigmoid", "tanh", "erf", "erfc", "softsign", "atan", "expit", "hardsigmoid"},
    "rectifier": {"relu", "maximum", "minimum", "clamp", "clamp_min", "clamp_max", "elu", "gelu",
                  "silu", "softplus", "mish", "leaky_relu", "relu6", "selu", "celu", "hardswish"},
    "explog": {"exp", "log", "log1p", "expm1", "exp2", "logsigmoid", "logaddexp"},
    "periodic": {"sin", "cos", "tan", "sinc"},
    "power": {"pow", "square", "sqrt", "rsqrt", "float_power", "reciprocal"},
    "sign": {"abs", "sign", "neg", "where", "heaviside", "copysign"},
}  # fmt: skip


@dataclass
class Example:
    """One hypothesis as the reward model sees it."""

    id: str
    idea: str
    code: str
    embedding: np.ndarray | None = None  # unit vector of idea + code
    fingerprint: np.ndarray | None = None  # unit vector (evaluators.fingerprint)
    target: float | None = None  # measured one-pass win rate (0 for a sandbox failure)
    generator: str = ""
    added: float = 0.0
    outcome: str = ""
    stats: np.ndarray = field(init=False)

    @property
    def rankable(self) -> bool:
        """Passed the property probe: the kind of hypothesis a campaign asks the model to rank."""
        return self.fingerprint is not None and self.outcome != "invalid"

    def __post_init__(self) -> None:
        self.stats = code_stats(self.code)


def target_of(outcome: str, win_rate: float | None) -> float | None:
    """The training target of an archived hypothesis, or None when it was never measured."""
    if outcome == FLAGGED:
        return 0.0
    if win_rate is not None:
        return float(win_rate)
    return 0.0 if outcome in FAILED else None


def code_stats(code: str) -> np.ndarray:
    """Counts of operation families, size, depth and constants of the code (log-scaled)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return np.zeros(len(_FAMILIES) + 4)
    names = [
        n.attr if isinstance(n, ast.Attribute) else n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute | ast.Name)
    ]
    counts = [sum(name in ops for name in names) for ops in _FAMILIES.values()]
    every = list(ast.walk(tree))
    nodes = len(every)
    consts = sum(isinstance(n, ast.Constant) and not isinstance(n.value, str) for n in every)
    products = sum(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult) for n in every)
    return np.log1p(np.array([*counts, nodes, _depth(tree), consts, products], dtype=float))


def _depth(node: ast.AST) -> int:
    return 1 + max((_depth(c) for c in ast.iter_child_nodes(node)), default=0)


def _unit_rows(vectors: list[np.ndarray | None], dim: int) -> np.ndarray:
    """Stack vectors, zeros for missing ones and for any of another length (a fingerprint of an
    earlier version: cosine 0 to everything)."""
    out = np.zeros((len(vectors), dim))
    for i, v in enumerate(vectors):
        if v is not None and np.shape(v) == (dim,):
            out[i] = v
    return out


def _blocks(examples: list[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fp_dim = next((len(e.fingerprint) for e in examples if e.fingerprint is not None), 1)
    em_dim = next((len(e.embedding) for e in examples if e.embedding is not None), 1)
    fps = _unit_rows([e.fingerprint for e in examples], fp_dim)
    ems = _unit_rows([e.embedding for e in examples], em_dim)
    stats = np.stack([e.stats for e in examples])
    return fps, ems, stats


class RewardModel(Protocol):
    name: str

    def fit(self, examples: list[Example]) -> None: ...
    def predict(self, examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
        """(mean, standard deviation) of the predicted win rate of each example."""
        ...


class GPReward:
    """Gaussian process: k = a*exp(-(1-cos_fp)/l_f) + b*exp(-(1-cos_emb)/l_e) + c*exp(-|s-s'|²/l_s).

    Length scales and noise are chosen on a small grid by the log marginal likelihood.
    """

    name = "gp"
    GRID: ClassVar = {
        "l_fp": (0.01, 0.03, 0.1, 0.3),
        "l_emb": (0.1, 0.3),
        "noise": (0.05, 0.2, 0.5),
    }

    def fit(self, examples: list[Example]) -> None:
        train = [e for e in examples if e.target is not None]
        y = np.array([e.target for e in train], dtype=float)
        self.mu, self.scale = float(y.mean()), float(y.std()) or 1.0
        self.train = _blocks(train)
        z = (y - self.mu) / self.scale
        best = None
        for l_fp, l_emb, noise in itertools.product(*self.GRID.values()):
            gram = self._kernel(self.train, self.train, l_fp, l_emb) + noise * np.eye(len(z))
            try:
                chol = np.linalg.cholesky(gram)
            except np.linalg.LinAlgError:
                continue
            alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, z))
            evidence = -0.5 * z @ alpha - np.log(np.diag(chol)).sum()
            if best is None or evidence > best[0]:
                best = (evidence, (l_fp, l_emb, noise), chol, alpha)
        assert best is not None, "no kernel matrix was positive definite"
        _, self.hyper, self.chol, self.alpha = best

    def _kernel(self, a: tuple, b: tuple, l_fp: float, l_emb: float) -> np.ndarray:
        (fa, ea, sa), (fb, eb, sb) = a, b
        d_stats = ((sa[:, None, :] - sb[None, :, :]) ** 2).sum(-1)
        return (
            0.6 * np.exp(-(1 - fa @ fb.T) / l_fp)
            + 0.3 * np.exp(-(1 - ea @ eb.T) / l_emb)
            + 0.1 * np.exp(-d_stats / sa.shape[1])
        )

    def predict(self, examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
        l_fp, l_emb, _ = self.hyper
        cross = self._kernel(_blocks(examples), self.train, l_fp, l_emb)
        mean = cross @ self.alpha
        v = np.linalg.solve(self.chol, cross.T)
        var = np.clip(1.0 - (v * v).sum(0), 0.0, None)  # prior variance of the kernel is 1
        return self.mu + self.scale * mean, self.scale * np.sqrt(var)


class RidgeReward:
    """Bootstrap ensemble of ridge regressions on all features (mean and spread of members)."""

    name = "ridge"

    def __init__(self, alpha: float = 3.0, members: int = 16, seed: int = 0) -> None:
        self.alpha, self.members, self.seed = alpha, members, seed

    def _features(self, examples: list[Example]) -> np.ndarray:
        fps, ems, stats = _blocks(examples)
        return np.hstack([fps * 3.0, ems, (stats - self.stats_mu) / self.stats_sd])

    def fit(self, examples: list[Example]) -> None:
        train = [e for e in examples if e.target is not None]
        stats = np.stack([e.stats for e in train])
        self.stats_mu, self.stats_sd = stats.mean(0), stats.std(0) + 1e-6
        x = self._features(train)
        y = np.array([e.target for e in train], dtype=float)
        rng = np.random.default_rng(self.seed)
        self.weights = []
        for _ in range(self.members):
            idx = rng.integers(0, len(y), len(y))
            xb, yb = x[idx], y[idx]
            mu_x, mu_y = xb.mean(0), yb.mean()
            xc = xb - mu_x
            # Dual form: d features > n examples.
            dual = np.linalg.solve(xc @ xc.T + self.alpha * np.eye(len(yb)), yb - mu_y)
            w = xc.T @ dual
            self.weights.append((w, mu_y - mu_x @ w))

    def predict(self, examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
        x = self._features(examples)
        preds = np.stack([x @ w + b for w, b in self.weights])
        return preds.mean(0), preds.std(0)


MODELS = {"gp": GPReward, "ridge": RidgeReward}


def make_model(kind: str = "gp") -> RewardModel:
    return MODELS[kind]()


def trained(examples: list[Example], kind: str = "gp") -> RewardModel | None:
    """A model fitted on ``examples``, or None while fewer than MIN_EXAMPLES are labelled."""
    if sum(e.target is not None for e in examples) < MIN_EXAMPLES:
        return None
    model = make_model(kind)
    model.fit(examples)
    return model


# -- choosing what to run ----------------------------------------------------------------------
SIMILAR = 0.95  # fingerprint cosine above which two hypotheses start to count as redundant
COLLAPSE_SIMILARITY = 0.99  # mean pairwise similarity of the chosen set that raises the alarm
COLLAPSE_SPREAD = 0.005  # spread of the predictions below which the model no longer ranks


def similarity_matrix(vectors: list[np.ndarray | None]) -> np.ndarray:
    dim = next((len(v) for v in vectors if v is not None), 1)
    m = _unit_rows(vectors, dim)
    return m @ m.T


def select(
    mean: np.ndarray,
    std: np.ndarray,
    vectors: list[np.ndarray | None],
    k: int,
    bonus: float = 1.0,
    redundancy: float = 0.3,
) -> list[int]:
    """Indices of ``k`` candidates chosen greedily by mean + bonus*std, each pick penalised by
    its behavioural similarity to those already chosen (maximal marginal relevance)."""
    sim = similarity_matrix(vectors)
    score = mean + bonus * std
    chosen: list[int] = []
    left = list(range(len(mean)))
    while left and len(chosen) < k:

        def value(i: int) -> float:
            near = max((sim[i, j] for j in chosen), default=0.0)
            return float(score[i] - redundancy * max(0.0, (near - SIMILAR) / (1 - SIMILAR)))

        best = max(left, key=value)
        chosen.append(best)
        left.remove(best)
    return chosen


def collapse(mean: np.ndarray | None, vectors: list[np.ndarray | None]) -> str | None:
    """Why the chosen set or the predictions (None: no model yet) look collapsed, or None."""
    if len(vectors) >= 2:
        sim = similarity_matrix(vectors)
        pairs = sim[np.triu_indices(len(vectors), 1)]
        if float(pairs.mean()) >= COLLAPSE_SIMILARITY:
            return f"chosen hypotheses behave alike (mean similarity {pairs.mean():.3f})"
    if mean is not None and len(mean) >= 3 and float(np.std(mean)) < COLLAPSE_SPREAD:
        return f"predictions no longer separate the proposals (spread {np.std(mean):.4f})"
    return None


# -- measuring it --------------------------------------------------------------------------------
def discovery_curve(predicted: np.ndarray, measured: np.ndarray, top: float = 0.1) -> np.ndarray:
    """Share of the true top ``top`` hypotheses found after examining 1..n in the model's order."""
    n = len(measured)
    k = max(1, round(top * n))
    best = set(np.argsort(-measured, kind="stable")[:k].tolist())
    order = np.argsort(-predicted, kind="stable")
    return np.cumsum([i in best for i in order]) / k


def discovery_auc(predicted: np.ndarray, measured: np.ndarray, top: float = 0.1) -> float:
    """AUC of the discovery curve divided by its expected value in random order (1.0: no better
    than random)."""
    n = len(measured)
    random_curve = np.arange(1, n + 1) / n
    return float(discovery_curve(predicted, measured, top).mean() / random_curve.mean())


def metrics(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    from scipy import stats

    return {
        "n": float(len(measured)),
        "kendall_tau": float(stats.kendalltau(predicted, measured).statistic),
        "spearman": float(stats.spearmanr(predicted, measured).statistic),
        "pearson": float(stats.pearsonr(predicted, measured).statistic),
        "discovery_auc_vs_random": discovery_auc(predicted, measured),
    }


def held_out(
    examples: list[Example],
    kind: str = "gp",
    min_test: int = 10,
    curves: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics on held-out splits: the newest 30% by time, and each generator in turn
    (``curves``, when given, receives each split's discovery curve).

    Only hypotheses that passed the property probe are used, for training and testing: they
    are the ones a campaign asks the model to rank (the probe rejects the others first).
    """
    labelled = sorted(
        (e for e in examples if e.target is not None and e.rankable), key=lambda e: e.added
    )
    splits: dict[str, tuple[list[Example], list[Example]]] = {}
    cut = int(len(labelled) * 0.7)
    splits["by time (newest 30%)"] = (labelled[:cut], labelled[cut:])
    generators = sorted({e.generator for e in labelled})
    if len(generators) > 1:
        for g in generators:
            test = [e for e in labelled if e.generator == g]
            splits[f"generator {g} held out"] = ([e for e in labelled if e.generator != g], test)
    out = {}
    for name, (train, test) in splits.items():
        model = trained(train, kind)
        if model is None or len(test) < min_test:
            continue
        predicted, _ = model.predict(test)
        measured = np.array([e.target for e in test], dtype=float)
        out[name] = metrics(predicted, measured)
        if curves is not None:  # the discovery curve of each split, for a plot
            curves[name] = discovery_curve(predicted, measured)
    return out
