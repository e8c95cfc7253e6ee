"""The fixed harness that runs INSIDE the sandbox container. Do not import hypoforge here.

It loads each candidate activation, probes it on inputs the host drew for this job, trains the
same small MLP with it on every split it was given (checking on real batches that it stays
elementwise), and writes test-set logits. It never sees test labels and computes no
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
from typing import Any

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1]))  # the host's evaluators/ folder
from runner_loop import CheckFailed, Stage, load, run_candidates

GRID_HALF = 20.0
GRID_POINTS = 401
LARGE = (50.0, 100.0, 1e3, 1e4)
# The arrays the probe saves, each in the order of its call (the host puts them back in order).
PROBE_ARRAYS = ("y", "y_again", "y_batch", "y_part", "grad")
RTOL, ATOL = 1e-5, 1e-6  # float32 kernels may round a value differently in another batch
# Where training's inputs to the activation go (``Watch.reach``): counts per cell of REACH_STEP
# on [-REACH_HALF, REACH_HALF] (the cells of the fingerprint's canonical grid), plus one slot
# below and one above, for the training calls and for the final test pass apart.
REACH_HALF, REACH_STEP = 5.0, 0.1
REACH_SLOTS = round(2 * REACH_HALF / REACH_STEP) + 2


def probe_points() -> np.ndarray:
    """The fixed part of every probe: a dense grid on [-20, 20] plus large magnitudes, float32.
    Plots use these; fingerprints never do (a hypothesis knows them): they read the points each
    job adds at random (``evaluators.fingerprint``), and every job shuffles them all."""
    grid = np.linspace(-GRID_HALF, GRID_HALF, GRID_POINTS)
    big = np.array([s * v for v in LARGE for s in (-1.0, 1.0)])
    pts = np.concatenate([grid, big, [0.0, 1e-6, -1e-6]])
    return pts.astype(np.float32)


def _unshuffle(raw: np.ndarray, order: np.ndarray) -> np.ndarray | None:
    """Values in call order (``raw[i]`` at ``points[order[i]]``) back in point order."""
    if raw.shape != order.shape:
        return None
    out = np.empty_like(raw)
    out[order] = raw
    return out


def check_probe(spec: dict, raw: dict[str, np.ndarray]) -> str | None:
    """Why the probed function is not a usable activation, or None if it is.

    ``spec`` is the job's probe (``points``, the call order ``order``, the 2-D batch's ``rows``,
    the sub-batch ``part``), drawn by the host for this job alone so that no input can be
    recognised. ``raw`` holds what each call returned, in call order: ``y`` and ``y_again`` (two
    calls on all points), ``y_batch`` (the points as a 2-D
    batch), ``y_part`` (a random part alone: a function of batch statistics would differ) and
    ``grad`` (d(sum y)/dx, NaN where the output did not depend on x).
    """
    points = unpacked(spec["points"], "<f4")
    order = unpacked(spec["order"], "<i4").astype(np.int64)
    part, rows = unpacked(spec["part"], "<i4").astype(np.int64), int(spec["rows"])
    first = raw["y"]
    if first.shape != points.shape:
        return f"changes the shape of its input: {points.shape} -> {first.shape}"
    if first.dtype.kind != "f":
        return f"returns dtype {first.dtype}, not a float tensor"
    y = _unshuffle(first, order)
    assert y is not None
    bad = ~np.isfinite(y)
    if bad.any():
        return f"non-finite output at x={float(points[bad][0]):g}"
    again = _unshuffle(raw["y_again"], order)
    if again is None or not np.array_equal(y, again):
        return "not deterministic: two calls on the same input differ"
    if raw["y_batch"].shape != (rows, len(points) // rows):
        return f"changes the shape of a 2-D batch: got {raw['y_batch'].shape}"
    batch = _unshuffle(raw["y_batch"].reshape(-1), order)
    same_part = raw["y_part"].shape == part.shape and np.allclose(
        raw["y_part"], y[part], rtol=RTOL, atol=ATOL
    )
    if batch is None or not np.allclose(batch, y, rtol=RTOL, atol=ATOL) or not same_part:
        return "not elementwise: the output depends on the rest of the batch"
    return _check_shape(points, y, _unshuffle(raw["grad"], order))


def _check_shape(points: np.ndarray, y: np.ndarray, grad: np.ndarray | None) -> str | None:
    if np.ptp(y) == 0:
        return "constant output: the function carries no information about x"
    near = np.abs(points) <= GRID_HALF
    xs, ys = points[near].astype(np.float64), y[near].astype(np.float64)
    line = np.polyval(np.polyfit(xs, ys, 1), xs)
    if np.max(np.abs(ys - line)) <= 1e-4 * max(1.0, float(np.max(np.abs(ys)))):
        return "affine on [-20, 20]: a network built with it is just a linear model"
    if grad is None or not np.isfinite(grad[near]).all():
        return "not differentiable: gradient missing or non-finite on [-20, 20]"
    if not np.any(grad[near]):
        return "zero gradient everywhere on [-20, 20]: nothing can be learned through it"
    return None


def packed(values: np.ndarray) -> str:
    """An array as the job's JSON holds it: its little-endian bytes in base64 (a job draws
    thousands of probe points; as JSON numbers they took 170 KB, too much to move around)."""
    import base64

    return base64.b64encode(np.ascontiguousarray(values).tobytes()).decode("ascii")


def unpacked(value, dtype: str) -> np.ndarray:
    """An array of the probe's spec: ``packed`` text, or a list (a job of an earlier version).
    Raises ``ValueError`` or ``TypeError`` for anything else."""
    import base64
    import binascii

    if isinstance(value, str):
        try:
            return np.frombuffer(base64.b64decode(value, validate=True), dtype=dtype).copy()
        except binascii.Error as exc:
            raise ValueError(f"not an array: {exc}") from None
    return np.asarray(value, dtype=dtype)


def probe_inputs(spec: dict) -> dict[str, np.ndarray]:
    """The input of each probe call (float32, in call order), by the name of its output."""
    points = unpacked(spec["points"], "<f4")
    shuffled = points[unpacked(spec["order"], "<i4")]
    return {
        "y": shuffled,
        "y_again": shuffled,  # the same input again: bit for bit the same output
        "y_batch": shuffled.reshape(int(spec["rows"]), -1),
        "y_part": points[unpacked(spec["part"], "<i4")],
    }


def _probe(act, out: Path, name: str, spec: dict) -> str | None:
    import torch

    # On the device training uses: a function that tells a GPU from the CPU (by a rounding
    # difference) must show the probe what training gets.
    device = _device()
    inputs = probe_inputs(spec)
    x = torch.from_numpy(inputs["y"].copy()).to(device).requires_grad_(True)
    y = act(x)
    arrays = {"y": _as_array(y)}
    for key in ("y_again", "y_batch", "y_part"):
        arrays[key] = _as_array(act(torch.from_numpy(inputs[key].copy()).to(device)))
    grad = np.full(x.shape, np.nan, dtype=np.float32)
    if isinstance(y, torch.Tensor) and y.requires_grad and y.shape == x.shape:
        (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
        if g is not None:
            grad = g.detach().cpu().numpy().astype(np.float32)
    arrays["grad"] = grad
    for key, arr in arrays.items():
        np.save(out / f"{name}.probe_{key}.npy", arr, allow_pickle=False)
    return check_probe(spec, arrays)


def _as_array(y) -> np.ndarray:
    import torch

    if not isinstance(y, torch.Tensor):
        raise TypeError(f"activation returned {type(y).__name__}, not a torch.Tensor")
    return y.detach().cpu().numpy().copy()


def _device():
    """A GPU when the job was given one (limits.gpus), else the CPU: the probe's and
    training's."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Watch:
    """Checks, on real pre-activations at calls the host drew for this job, that the activation
    is elementwise there too: a random part of the batch, alone and reshaped, must give the same
    values. The probe's inputs could be told apart from training; these cannot.

    It also counts where the pre-activations go (``reach``, rows: training, test pass): what
    training reads of the function is its values there, so the host compares fingerprints
    there (``evaluators.fingerprint.reading``). Counted before the hypothesis sees ``h``."""

    def __init__(self, act, calls: list[int], seed: int) -> None:
        import torch

        self.act, self.calls, self.count = act, set(calls), 0
        self.gen = torch.Generator().manual_seed(seed)
        self.reach: Any = None  # int64 [2, REACH_SLOTS], on the device of the first call

    def __call__(self, h, final: bool = False):
        self.tally(h, final)
        y = self.act(h)
        self.count += 1
        if final or self.count in self.calls:
            self.verify(h, y)
        return y

    def tally(self, h, final: bool) -> None:
        """Count ``h``'s values per cell (NaN counts above: training stops on it anyway)."""
        import torch

        flat = h.detach().reshape(-1).float()
        edges = torch.linspace(-REACH_HALF, REACH_HALF, REACH_SLOTS - 1, device=flat.device)
        if self.reach is None:
            self.reach = torch.zeros((2, REACH_SLOTS), dtype=torch.int64, device=flat.device)
        slot = torch.bucketize(flat, edges).clamp_(0, REACH_SLOTS - 1)
        self.reach[int(final)] += torch.bincount(slot, minlength=REACH_SLOTS)

    def counts(self) -> np.ndarray:
        """``reach`` as int64 [2, REACH_SLOTS] (zeros before any call)."""
        if self.reach is None:
            return np.zeros((2, REACH_SLOTS), dtype=np.int64)
        return self.reach.cpu().numpy().astype(np.int64)

    def verify(self, h, y) -> None:
        import torch

        if not isinstance(y, torch.Tensor) or y.shape != h.shape:
            raise CheckFailed("in training: the output's shape differs from the input's", "check")
        flat = h.detach().reshape(-1)
        if len(flat) < 2:
            return
        m = int(torch.randint(1, len(flat), (1,), generator=self.gen))
        idx = torch.randperm(len(flat), generator=self.gen)[:m].to(flat.device)
        with torch.no_grad():
            alone = self.act(flat[idx].clone())
        want = y.detach().reshape(-1)[idx]
        if not isinstance(alone, torch.Tensor) or alone.shape != want.shape:
            raise CheckFailed("in training: a part of the batch alone changes the shape", "check")
        if not torch.allclose(alone, want, rtol=1e-4, atol=1e-5, equal_nan=True):
            raise CheckFailed(
                "not elementwise in training: on part of a real batch the output differs", "check"
            )


def architecture(data: dict, split: str, train: dict) -> tuple[int, int]:
    """(hidden layers, width) of the fixed MLP for ``split``: the split's own (a deeper variant)
    or two layers of the budget's width."""
    key = f"{split}.arch"
    depth, width = (int(v) for v in data[key]) if key in data else (2, 0)
    return max(1, min(depth, 16)), width if width > 0 else int(train["hidden"])


def train_predict(
    act, data: dict, split: str, train: dict, watch: dict | None = None, reach: list | None = None
) -> np.ndarray:
    """Train the fixed MLP with ``act`` on one split; return test logits [n_test, n_classes].
    ``watch`` (``calls``, ``seed``): where the elementwise check runs during training; the test
    forward pass is always checked. ``reach``: where the pre-activations went is appended to it
    (``Watch.counts``), however training ends."""
    import torch
    from torch import nn

    guard = Watch(act, **(watch or {"calls": [], "seed": 0}))
    final = [False]

    class Act(nn.Module):
        def forward(self, h):
            return guard(h, final=final[0])

    # A GPU when the job was given one (limits.gpus); the draws stay on the CPU generator, so
    # the data order and the checks' moments do not depend on the device.
    device = _device()
    x_tr = torch.from_numpy(data[f"{split}.x_train"]).to(device)
    y_tr = torch.from_numpy(data[f"{split}.y_train"]).to(device)
    x_te = torch.from_numpy(data[f"{split}.x_test"]).to(device)
    n_classes = int(data[f"{split}.n_classes"])
    seed = zlib.crc32(split.encode())  # same init and data order for every candidate
    torch.manual_seed(seed)
    depth, width = architecture(data, split, train)
    layers: list = []
    for i in range(depth):
        layers += [nn.Linear(x_tr.shape[1] if i == 0 else width, width), Act()]
    model = nn.Sequential(*layers, nn.Linear(width, n_classes)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=train["lr"])
    gen = torch.Generator().manual_seed(seed)
    try:
        return _fit(model, opt, gen, x_tr, y_tr, x_te, train, final)
    finally:
        if reach is not None:
            reach.append(guard.counts())


def _fit(model, opt, gen, x_tr, y_tr, x_te, train: dict, final: list) -> np.ndarray:
    """The training loop of ``train_predict``, then the test pass (``final`` set)."""
    import torch
    from torch import nn

    n_classes = model[-1].out_features
    device = x_tr.device
    batch = train["batch_size"]
    for _ in range(train["epochs"]):
        order = torch.randperm(len(x_tr), generator=gen).to(device)
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            loss = nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
            if not torch.isfinite(loss):
                return np.full((len(x_te), n_classes), np.nan, dtype=np.float32)
            opt.zero_grad()
            loss.backward()
            opt.step()
    final[0] = True
    with torch.no_grad():
        return model(x_te).cpu().numpy().astype(np.float32)


def evaluate_one(name: str, path: Path, job: dict, data: dict, out: Path, stage: Stage) -> None:
    """Probe one candidate, then train with it on every split and write the test logits."""
    act = load(path, "activation")["activation"]
    stage.name = "probe"
    checks = job.get("checks", {})
    problem = _probe(act, out, name, checks["probe"])
    if problem:
        raise CheckFailed(problem, stage="probe")
    stage.name = "train"
    reach: list[np.ndarray] = []
    try:
        for split in job["splits"]:
            watch = checks.get("watch", {}).get(split)
            logits = train_predict(act, data, split, job["train"], watch, reach)
            np.save(out / f"{name}.{split}.npy", logits, allow_pickle=False)
    finally:
        if reach:  # one row per split trained, in the job's order
            np.save(out / f"{name}.reach.npy", np.stack(reach), allow_pickle=False)


def run(in_dir: Path, data_path: Path, out: Path) -> int:
    """Evaluate every candidate named in ``IN_DIR/job.json``; the exit code of the container."""
    return run_candidates(in_dir, data_path, out, evaluate_one)


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
