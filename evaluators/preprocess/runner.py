"""The fixed harness that runs INSIDE the sandbox for the preprocessing task. No hypoforge here.

For each candidate and split: X_train2 comes from a call that sees no test rows (a training row
the host drew for this job stands in for the test set), a second such call must give the same
array, and the test set is transformed one row at a time, so no test row can influence another
or the fit. Then the fixed MLP of the activation task (ReLU) is trained on X_train2 and its
test logits are written. The host checks the logits and scores them; ``status.json`` is advisory.

Usage (in the container): python3 -B runner.py IN_DIR DATA_NPZ OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from activation_runner import train_predict

sys.path.append(str(Path(__file__).resolve().parents[1]))  # the host's evaluators/ folder
from runner_loop import CheckFailed, Stage, load, run_candidates


def _pair(out, which: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(f"{which}: preprocess must return (X_train2, X_test2)")
    return np.asarray(out[0]), np.asarray(out[1])


def transform(
    fn, x_train: np.ndarray, x_test: np.ndarray, stand_in: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(X_train2, X_test2). ``stand_in``: the training row (drawn by the host for this job) that
    stands in for the test set in the training calls."""
    d = x_train.shape[1]
    row = x_train[stand_in : stand_in + 1]
    train2, _ = _pair(fn(x_train.copy(), row.copy()), "training call")
    if train2.ndim != 2 or train2.shape[0] != len(x_train) or train2.dtype.kind != "f":
        raise CheckFailed(f"X_train2 must be a float array [{len(x_train)}, k]: got "
                          f"{train2.dtype}{list(train2.shape)}")  # fmt: skip
    k = train2.shape[1]
    if not 1 <= k <= 4 * d + 16:
        raise CheckFailed(f"X_train2 has {k} columns; allowed 1 to {4 * d + 16}")
    if not np.isfinite(train2).all():
        raise CheckFailed("X_train2 has non-finite values")
    again, _ = _pair(fn(x_train.copy(), row.copy()), "training call")
    if again.shape != train2.shape or not np.array_equal(again, train2):
        raise CheckFailed("not deterministic: two calls on the same training data differ")
    rows = []
    for i in range(len(x_test)):
        _, row = _pair(fn(x_train.copy(), x_test[i : i + 1].copy()), "test call")
        if row.shape != (1, k) or row.dtype.kind != "f":
            raise CheckFailed(f"X_test2 for one row must be float [1, {k}]: got {list(row.shape)}")
        rows.append(row)
    test2 = np.concatenate(rows).astype(np.float32)
    if not np.isfinite(test2).all():
        raise CheckFailed("X_test2 has non-finite values")
    return train2.astype(np.float32), test2


def evaluate_one(name: str, path: Path, job: dict, data: dict, out: Path, stage: Stage) -> None:
    """Transform every split with one candidate, train the fixed MLP, write the test logits."""
    import torch

    fn = load(path, "preprocess")["preprocess"]
    for split in job["splits"]:
        stage.name = "transform"
        stand_in = int(job.get("checks", {}).get(split, {}).get("stand_in", 0))
        train2, test2 = transform(fn, data[f"{split}.x_train"], data[f"{split}.x_test"], stand_in)
        stage.name = "train"
        view = {
            f"{split}.x_train": train2,
            f"{split}.y_train": data[f"{split}.y_train"],
            f"{split}.x_test": test2,
            f"{split}.n_classes": data[f"{split}.n_classes"],
        }
        logits = train_predict(torch.relu, view, split, job["train"])
        np.save(out / f"{name}.{split}.npy", logits, allow_pickle=False)


def run(in_dir: Path, data_path: Path, out: Path) -> int:
    return run_candidates(in_dir, data_path, out, evaluate_one)


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
