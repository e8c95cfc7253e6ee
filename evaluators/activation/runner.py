"""The fixed harness that runs INSIDE the sandbox container. Do not import hypoforge here.

It loads each candidate activation, probes it on a fixed grid, trains the same small MLP with it on
every split it was given, and writes test-set logits. It never sees test labels and computes no
score: the host checks the probe arrays and scores the logits itself. Files it writes (flat, in the
output folder): ``<cand>.probe_*.npy``, ``<cand>.<split>.npy`` and ``status.json`` (advisory only:
error messages for humans).

The probe check lives here so the container can skip training a candidate that fails it; the host
runs the same function again on the arrays, and only the host's verdict counts.

Usage (in the container): python3 -B runner.py IN_DIR DATA_NPZ OUT_DIR
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1]))  # the host's evaluators/ folder
from runner_loop import CheckFailed, Stage, load, run_candidates

GRID_HALF = 20.0
GRID_POINTS = 401
LARGE = (50.0, 100.0, 1e3, 1e4)
BATCH_SHAPE = (3, -1)  # the probe grid is also passed as a 2-D batch
# The arrays the probe saves, in the order check_probe takes them after the points.
PROBE_ARRAYS = ("y", "y_again", "y_batch", "y_part", "grad")


def probe_points() -> np.ndarray:
    """The probe inputs: a dense grid on [-20, 20] plus large magnitudes, float32."""
    grid = np.linspace(-GRID_HALF, GRID_HALF, GRID_POINTS)
    big = np.array([s * v for v in LARGE for s in (-1.0, 1.0)])
    pts = np.concatenate([grid, big, [0.0, 1e-6, -1e-6]])
    pts = pts[: (len(pts) // 3) * 3]  # divisible by 3 for the batch shape
    return pts.astype(np.float32)


def check_probe(
    points: np.ndarray,
    y: np.ndarray,
    y_again: np.ndarray,
    y_batch: np.ndarray,
    y_part: np.ndarray,
    grad: np.ndarray,
) -> str | None:
    """Why the probed function is not a usable activation, or None if it is.

    ``y``, ``y_again``: two calls on ``points``; ``y_batch``: one call on the points reshaped to
    ``BATCH_SHAPE``; ``y_part``: one call on the first third of the points alone (a function of
    batch statistics would see the test batch: a shortcut); ``grad``: d(sum y)/dx, NaN-filled
    when the output did not depend on x.
    """
    if y.shape != points.shape:
        return f"changes the shape of its input: {points.shape} -> {y.shape}"
    if y.dtype.kind != "f":
        return f"returns dtype {y.dtype}, not a float tensor"
    bad = ~np.isfinite(y)
    if bad.any():
        return f"non-finite output at x={float(points[bad][0]):g}"
    if y_again.shape != y.shape or not np.array_equal(y, y_again):
        return "not deterministic: two calls on the same input differ"
    if y_batch.shape != points.reshape(BATCH_SHAPE).shape:
        return f"changes the shape of a 2-D batch: got {y_batch.shape}"
    part = len(points) // 3
    same_part = y_part.shape == (part,) and np.allclose(y_part, y[:part], rtol=1e-5, atol=1e-6)
    if not np.allclose(y_batch.reshape(-1), y, rtol=1e-5, atol=1e-6) or not same_part:
        return "not elementwise: the output depends on the rest of the batch"
    if np.ptp(y) == 0:
        return "constant output: the function carries no information about x"
    grid = np.abs(points) <= GRID_HALF
    xs, ys = points[grid].astype(np.float64), y[grid].astype(np.float64)
    line = np.polyval(np.polyfit(xs, ys, 1), xs)
    if np.max(np.abs(ys - line)) <= 1e-4 * max(1.0, float(np.max(np.abs(ys)))):
        return "affine on [-20, 20]: a network built with it is just a linear model"
    near = np.abs(points) <= GRID_HALF
    if grad.shape != points.shape or not np.isfinite(grad[near]).all():
        return "not differentiable: gradient missing or non-finite on [-20, 20]"
    if not np.any(grad[near]):
        return "zero gradient everywhere on [-20, 20]: nothing can be learned through it"
    return None


def _probe(act, out: Path, name: str) -> str | None:
    import torch

    pts = probe_points()
    x = torch.from_numpy(pts.copy()).requires_grad_(True)
    y = act(x)
    arrays = {"y": _as_array(y), "y_again": _as_array(act(torch.from_numpy(pts.copy())))}
    arrays["y_batch"] = _as_array(act(torch.from_numpy(pts.reshape(BATCH_SHAPE).copy())))
    arrays["y_part"] = _as_array(act(torch.from_numpy(pts[: len(pts) // 3].copy())))
    grad = np.full(pts.shape, np.nan, dtype=np.float32)
    if isinstance(y, torch.Tensor) and y.requires_grad and y.shape == x.shape:
        (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
        if g is not None:
            grad = g.detach().numpy().astype(np.float32)
    arrays["grad"] = grad
    for key, arr in arrays.items():
        np.save(out / f"{name}.probe_{key}.npy", arr, allow_pickle=False)
    return check_probe(pts, **arrays)


def _as_array(y) -> np.ndarray:
    import torch

    if not isinstance(y, torch.Tensor):
        raise TypeError(f"activation returned {type(y).__name__}, not a torch.Tensor")
    return y.detach().numpy().copy()


def train_predict(act, data: dict, split: str, train: dict) -> np.ndarray:
    """Train the fixed MLP with ``act`` on one split; return test logits [n_test, n_classes]."""
    import torch
    from torch import nn

    class Act(nn.Module):
        def forward(self, h):
            return act(h)

    x_tr = torch.from_numpy(data[f"{split}.x_train"])
    y_tr = torch.from_numpy(data[f"{split}.y_train"])
    x_te = torch.from_numpy(data[f"{split}.x_test"])
    n_classes = int(data[f"{split}.n_classes"])
    seed = zlib.crc32(split.encode())  # same init and data order for every candidate
    torch.manual_seed(seed)
    width = train["hidden"]
    model = nn.Sequential(
        nn.Linear(x_tr.shape[1], width),
        Act(),
        nn.Linear(width, width),
        Act(),
        nn.Linear(width, n_classes),
    )
    opt = torch.optim.Adam(model.parameters(), lr=train["lr"])
    gen = torch.Generator().manual_seed(seed)
    batch = train["batch_size"]
    for _ in range(train["epochs"]):
        order = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            loss = nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
            if not torch.isfinite(loss):
                return np.full((len(x_te), n_classes), np.nan, dtype=np.float32)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return model(x_te).numpy().astype(np.float32)


def evaluate_one(name: str, path: Path, job: dict, data: dict, out: Path, stage: Stage) -> None:
    """Probe one candidate, then train with it on every split and write the test logits."""
    act = load(path, "activation")["activation"]
    stage.name = "probe"
    problem = _probe(act, out, name)
    if problem:
        raise CheckFailed(problem, stage="probe")
    stage.name = "train"
    for split in job["splits"]:
        logits = train_predict(act, data, split, job["train"])
        np.save(out / f"{name}.{split}.npy", logits, allow_pickle=False)


def run(in_dir: Path, data_path: Path, out: Path) -> int:
    """Evaluate every candidate named in ``IN_DIR/job.json``; the exit code of the container."""
    return run_candidates(in_dir, data_path, out, evaluate_one)


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
