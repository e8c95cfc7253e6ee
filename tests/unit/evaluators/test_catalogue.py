"""The catalogue of published activation functions: complete, valid code for the slot, citations
with their ids, and behaviour matching that sees through rewrites (Mish written with log1p and
exp is Mish) while a new function matches nothing."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from evaluators import catalogue
from evaluators.activation.harness import ActivationEvaluator
from evaluators.fingerprint import draw_points, fingerprint
from evaluators.registry import get

ACTIVATION = get("activation").folder
IMPORTS_F = "import torch\nimport torch.nn.functional as F"
REQUIRED = [
    "ReLU", "leaky ReLU", "PReLU (slope 0.25)", "ELU", "SELU", "CELU", "GELU",
    "GELU (tanh approximation)", "SiLU", "Swish (beta 2)", "Mish", "softplus", "softsign",
    "hard-swish", "hard-sigmoid", "tanhshrink", "squareplus", "SERF", "Logish", "Smish",
    "sine (SIREN)", "Snake", "max(x, sigmoid(x))", "cos(x) - x", "min(x, sin(x))",
]  # fmt: skip


def behaviour(code: str) -> list[float]:
    """The fingerprint of trusted code (the catalogue's or this test's), run here with torch at
    points drawn afresh, as each sandbox job draws its own."""
    import numpy as np
    import torch

    namespace: dict = {}
    exec(code, namespace)
    pts = draw_points(np.random.default_rng())
    y = namespace["activation"](torch.from_numpy(pts)).numpy()
    found = fingerprint(pts, y)
    assert found is not None
    return [float(v) for v in found]


@pytest.fixture(scope="module")
def known() -> list[tuple[catalogue.Component, list[float]]]:
    return [(c, behaviour(c.code)) for c in catalogue.load(ACTIVATION) if c.code]


def test_the_catalogue_holds_the_well_known_ones_each_with_code_that_passes_the_check():
    entries = {c.name: c for c in catalogue.load(ACTIVATION)}
    assert set(REQUIRED) <= set(entries)
    for c in entries.values():
        assert c.code is not None, c.name
        assert ActivationEvaluator.static_problem(c.code) is None, c.name


def test_citations_name_the_paper_and_its_id():
    mish = {c.name: c for c in catalogue.load(ACTIVATION)}["Mish"]
    assert mish.reference.cite() == (
        "Diganta Misra (2019). Mish: A Self Regularized Non-Monotonic Activation Function. "
        "arXiv (BMVC 2020). arXiv:1908.08681."
    )
    mobile = {c.name: c for c in catalogue.load(ACTIVATION)}["hard-swish"]
    assert mobile.reference.cite().startswith("Andrew Howard, et al. (2019). Searching for")


def test_the_entries_are_distinct_behaviours(known):
    """No two entries are one function, except the GELU and its own tanh approximation, and the
    leaky ReLU, whose 0.01 slope is below the fingerprint's resolution (so a leaky ReLU
    proposal is recognised as published either way)."""
    same = {
        (a.name, b.name)
        for i, (a, fa) in enumerate(known)
        for b, fb in known[i + 1 :]
        if catalogue.match(fa, [(b, fb)]) is not None
        and catalogue.match(fa, [(b, fb)])[1] == "same"  # type: ignore[index]
    }
    assert same == {("GELU", "GELU (tanh approximation)"), ("ReLU", "leaky ReLU")}


def src(expr: str, imports: str = "import torch") -> str:
    return f"{imports}\n\ndef activation(x):\n    return {expr}\n"


@pytest.mark.parametrize(
    ("rewrite", "published"),
    [
        (src("x * torch.tanh(torch.log1p(torch.exp(x)))"), "Mish"),
        (src("x / (1 + torch.exp(-x))"), "SiLU"),
        (src("torch.clamp(x, min=0.0)"), "ReLU"),
        (src("0.5 * x * (1 + torch.erf(x / math.sqrt(2)))", "import math\nimport torch"), "GELU"),
        (src("3.0 * (x - torch.tanh(x)) + 1.0"), "tanhshrink"),
    ],
)
def test_rewritten_forms_are_recognised_with_their_citation(known, rewrite, published):
    found = catalogue.match(behaviour(rewrite), known)
    assert found is not None
    component, kind, _ = found
    assert (component.name, kind) == (published, "same")
    assert component.reference.cite()


def test_a_new_function_matches_nothing_and_a_near_one_is_close(known):
    assert (
        catalogue.match(behaviour(src("x * torch.tanh(x) + 0.3 * torch.sin(2 * x)")), known) is None
    )
    found = catalogue.match(behaviour(src("x * torch.sigmoid(1.03 * x)")), known)
    assert found is not None
    component, kind, gap = found
    assert (component.name, kind) == ("SiLU", "close") and gap > 1e-3


def test_a_malformed_catalogue_is_a_config_error_naming_the_field(tmp_path):
    (tmp_path / "catalogue.toml").write_text(
        '[[component]]\nname = "x"\ndescription = "a thing"\n'
        'reference = { authors = ["A"], year = 2020, title = "T T", venue = "Venue", '
        'arxiv = "12" }\n'
    )
    with pytest.raises(ConfigError, match=r"component\.0\.reference\.arxiv"):
        catalogue.load(tmp_path)
    assert catalogue.load(tmp_path / "none") == []


@pytest.mark.parametrize(
    ("task", "required"),
    [
        ("preprocess", ["standardisation", "robust scaling", "quantile transform (uniform)",
                        "Yeo-Johnson power transform", "PCA whitening", "signed log1p",
                        "rank-gauss"]),
        ("regularizer", ["L1 penalty", "L2 weight decay", "dropout", "label smoothing",
                         "confidence penalty", "entropy minimisation",
                         "spectral norm regularization", "mixup", "orthogonal regularization"]),
        ("grokking", ["weight decay (grokking)", "learning-rate warm-up",
                      "representation learning rate and decay (effective theory)",
                      "layer-wise learning rates (discriminative fine-tuning)",
                      "label noise (DisturbLabel)"]),
    ],
)  # fmt: skip
def test_every_task_has_a_catalogue_whose_code_passes_its_check(task, required):
    plugin = get(task)
    entries = {c.name: c for c in catalogue.load(plugin.folder)}
    assert set(required) <= set(entries)
    check = plugin.evaluator_class().static_problem
    for c in entries.values():
        assert c.reference.cite().count("(") >= 1
        if c.code is not None:
            assert check(c.code) is None, (c.name, check(c.code))


@pytest.mark.parametrize(
    "evasion",
    [
        src("x * torch.tanh(F.softplus(-x))", IMPORTS_F),  # -mish(-x): the layers absorb both flips
        src("-x * torch.tanh(F.softplus(x))", IMPORTS_F),  # -mish(x)
        src("x * torch.tanh(F.softplus(x)) + 3e-7 * torch.tanh(x * 1e6)", IMPORTS_F),  # a kink at 0
    ],
)
def test_flipped_or_bent_at_zero_a_published_function_is_still_that_function(known, evasion):
    found = catalogue.match(behaviour(evasion), known)
    assert found is not None and (found[0].name, found[1]) == ("Mish", "same")


def test_a_fingerprint_that_is_not_finite_matches_nothing(known):
    spoiled = [(c, [float("nan")] * len(fp)) for c, fp in known]
    assert catalogue.match(behaviour(src("torch.relu(x)")), spoiled) is None
    assert catalogue.match([float("nan")] * len(known[0][1]), known) is None
    assert catalogue.match([float("inf")] * len(known[0][1]), known) is None
