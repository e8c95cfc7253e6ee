"""The fixed harness that runs INSIDE the sandbox for the grokking task. No hypoforge here.

Each candidate is train.py with a hypothesis's edits already applied and checked by the host.
For each split it runs the script's fixed ``train_and_predict`` and writes the predicted answers
at every checkpoint and the parameter count; the host scores the predictions with answers that
never entered the container. ``status.json`` is advisory.

Usage (in the container): python3 -B runner.py IN_DIR DATA_NPZ OUT_DIR
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1]))  # the host's evaluators/ folder
from runner_loop import MODULES as TASK_MODULES
from runner_loop import CheckFailed, Stage, load, run_candidates

# train.py's fixed part imports sys (for its own __main__) and gc (its walk of what the model
# holds); the static check keeps blocks from naming either.
MODULES = (*TASK_MODULES, "sys", "gc")
# What train.py's fixed part and its classes need beside the safe builtins; the static check
# keeps blocks from naming or rebinding any of them.
FIXED_PART_BUILTINS = ("__build_class__", "super", "id", "FloatingPointError", "ValueError")


def evaluate_one(name: str, path: Path, job: dict, data: dict, out: Path, stage: Stage) -> None:
    """Train with one edited script on every split; write its predictions and parameter counts.
    A change to what the optimizer does not train (the fixed part's ``RuleBroken``, checked at
    steps the host drew) is a broken rule."""
    script = load(path, "train_and_predict", MODULES, FIXED_PART_BUILTINS)
    stage.name = "train"
    counts = []
    for split in job["splits"]:
        steps = int(data[f"{split}.steps"]) * int(job["train"]["step_scale"])
        vocab = int(data[f"{split}.n_classes"]) + 1
        watched = [int(s) for s in job.get("checks", {}).get(split, {}).get("steps", [])]
        try:
            predictions, n_params = script["train_and_predict"](
                data[f"{split}.x_train"],
                data[f"{split}.y_train"],
                data[f"{split}.x_test"],
                vocab,
                steps,
                zlib.crc32(split.encode()),
                watched,
            )
        except script["RuleBroken"] as exc:  # a fixed name: no block can rebind it
            raise CheckFailed(f"{split}: {exc}"[:900]) from None
        np.save(out / f"{name}.{split}.npy", predictions, allow_pickle=False)
        counts.append(n_params)
    np.save(out / f"{name}.params.npy", np.array(counts, dtype=np.int64))


def run(in_dir: Path, data_path: Path, out: Path) -> int:
    return run_candidates(in_dir, data_path, out, evaluate_one)


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
