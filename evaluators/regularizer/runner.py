"""The fixed harness that runs INSIDE the sandbox for the regularizer task. No hypoforge here.

For each candidate and split: a property check of the penalty on a fresh network (a finite float
scalar, the same on a second call, the network unchanged by the call), then training of the
fixed wide MLP with loss = cross-entropy + penalty, and the test logits written. The host checks
and scores the logits; ``status.json`` is advisory.

Usage (in the container): python3 -B runner.py IN_DIR DATA_NPZ OUT_DIR
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1]))  # the host's evaluators/ folder
from runner_loop import CheckFailed, Stage, load, run_candidates

WIDTH = 256
EPOCHS_PER_BUDGET_EPOCH = 20  # one-pass: 20 epochs over ~60 examples; full: 600


def _load(path: Path):
    namespace = load(path, "penalty")
    dropout = namespace.get("DROPOUT", 0.0)
    if not isinstance(dropout, int | float) or not 0.0 <= float(dropout) <= 0.9:
        raise CheckFailed(f"DROPOUT must be a number in [0, 0.9], got {dropout!r}")
    return namespace["penalty"], float(dropout)


def _network(d: int, n_classes: int, dropout: float, seed: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(d, WIDTH), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(WIDTH, n_classes),
    )  # fmt: skip


def check(
    penalty, model, x, y, when: str = "on a fresh network", in_training: bool = False
) -> None:
    """The penalty is a finite float scalar, the same on a second call, and leaves the network
    as it was. Run before training on a batch the host drew, and again at training steps the
    host drew, on the real batch of that step: neither can be recognised (the network stays in
    training mode, as in every step; the random state is put back, so a watched step changes
    nothing that follows)."""
    import torch

    before = [p.detach().clone() for p in model.parameters()]
    rng = torch.get_rng_state()
    logits = model(x)
    first = penalty(model, logits, y)
    second = penalty(model, logits, y)
    torch.set_rng_state(rng)
    if not isinstance(first, torch.Tensor) or first.dim() != 0 or not first.is_floating_point():
        raise CheckFailed(f"penalty must return a scalar float tensor, got {first!r}"[:200])
    # A penalty that turns non-finite during training is the training loop's to report (as
    # non-finite predictions); on a fresh network it is a broken rule.
    finite = bool(torch.isfinite(first))
    if not finite and not in_training:
        raise CheckFailed(f"penalty is not finite {when}")
    same = isinstance(second, torch.Tensor) and torch.equal(first.detach(), second.detach())
    if finite and not same:
        raise CheckFailed(f"not deterministic: two calls on the same batch differ ({when})")
    if any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)):
        raise CheckFailed(f"the penalty changed the network's parameters ({when})")


def train_predict(
    penalty, dropout: float, data: dict, split: str, train: dict, checks: dict | None = None
) -> np.ndarray:
    """Train the wide MLP with loss = cross-entropy + penalty; the test logits. ``checks``
    (``rows``: the first check's batch, ``steps``: where it runs again) come from the host."""
    import torch
    from torch import nn

    x_tr = torch.from_numpy(data[f"{split}.x_train"])
    y_tr = torch.from_numpy(data[f"{split}.y_train"])
    x_te = torch.from_numpy(data[f"{split}.x_test"])
    n_classes = int(data[f"{split}.n_classes"])
    seed = zlib.crc32(split.encode())
    model = _network(x_tr.shape[1], n_classes, dropout, seed)
    checks = checks or {"rows": list(range(min(16, len(x_tr)))), "steps": []}
    rows = torch.as_tensor(checks["rows"], dtype=torch.long)
    model.train()
    check(penalty, model, x_tr[rows], y_tr[rows])
    opt = torch.optim.Adam(model.parameters(), lr=train["lr"])
    gen = torch.Generator().manual_seed(seed)
    batch = train["batch_size"]
    watched, step = set(checks["steps"]), 0
    for _ in range(train["epochs"] * EPOCHS_PER_BUDGET_EPOCH):
        order = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            step += 1
            if step in watched:
                check(penalty, model, x_tr[idx], y_tr[idx], f"at training step {step}", True)
            logits = model(x_tr[idx])
            loss = nn.functional.cross_entropy(logits, y_tr[idx]) + penalty(
                model, logits, y_tr[idx]
            )
            if not torch.isfinite(loss):
                return np.full((len(x_te), n_classes), np.nan, dtype=np.float32)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return model(x_te).numpy().astype(np.float32)


def evaluate_one(name: str, path: Path, job: dict, data: dict, out: Path, stage: Stage) -> None:
    """Train the wide MLP with one candidate's penalty on every split; write the test logits."""
    penalty, dropout = _load(path)
    stage.name = "train"
    for split in job["splits"]:
        checks = job.get("checks", {}).get(split)
        logits = train_predict(penalty, dropout, data, split, job["train"], checks)
        np.save(out / f"{name}.{split}.npy", logits, allow_pickle=False)


def run(in_dir: Path, data_path: Path, out: Path) -> int:
    return run_candidates(in_dir, data_path, out, evaluate_one)


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
