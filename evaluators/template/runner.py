"""The runner of template tasks. Runs INSIDE the container as ``/hf/code/runner.py``, beside
``runner_loop.py`` and ``template_fixed.py`` (``fixed.py``); no hypoforge here.

Each candidate is the task's script with a hypothesis's edits already applied and checked by the
host. For each split it calls the script's fixed ``train_and_predict(inputs, rung, seed, checks)``
and writes each predictions array as ``<name>.<split>.<key>.npy`` and the parameter counts as
``<name>.params.npy`` (one per split); the host scores the predictions with targets that never
entered the container. A ``template_fixed.RuleBroken`` is a broken rule (a failed check).

``job.json``'s ``train`` is ``{"rung": <the rung's table>, "modules": [<the spec's modules>]}``.

Usage (in the container): python3 -B runner.py IN_DIR DATA_NPZ OUT_DIR
"""

from __future__ import annotations

import re
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

sys.path.append(str(Path(__file__).resolve().parents[1]))  # on the host: evaluators/
import template_fixed
from runner_loop import MODULES as TASK_MODULES
from runner_loop import CheckFailed, Stage, load, run_candidates

# What a script's fixed part and the blocks' classes need beside the safe builtins; the static
# check keeps blocks from naming or rebinding any of them.
FIXED_PART_BUILTINS = ("__build_class__", "super", "id", "FloatingPointError", "ValueError")
KEY = re.compile(r"^[A-Za-z_]\w{0,40}$")
MAX_KEYS = 8


def evaluate_one(name: str, path: Path, job: dict, data: dict, out: Path, stage: Stage) -> None:
    """Train one edited script on every split; write its predictions and parameter counts."""
    train = job["train"]
    modules = (*TASK_MODULES, *train.get("modules", ()), "template_fixed")
    script = load(path, "train_and_predict", modules, FIXED_PART_BUILTINS)
    stage.name = "train"
    counts = []
    for split in job["splits"]:
        prefix = f"{split}."
        inputs = {k[len(prefix) :]: v for k, v in data.items() if k.startswith(prefix)}
        checks = dict(job.get("checks", {}).get(split, {}))
        seed = zlib.crc32(split.encode())
        try:
            predictions, n_params = script["train_and_predict"](
                inputs, dict(train["rung"]), seed, checks
            )
        except template_fixed.RuleBroken as exc:  # the fixed part's: no block can rebind it
            raise CheckFailed(f"{split}: {exc}"[:900]) from None
        for key, value in checked(predictions).items():
            np.save(out / f"{name}.{split}.{key}.npy", value, allow_pickle=False)
        counts.append(int(n_params))
    np.save(out / f"{name}.params.npy", np.array(counts, dtype=np.int64))


def checked(predictions: object) -> dict[str, np.ndarray]:
    """The predictions as named numeric arrays, or ``TypeError`` saying what is wrong."""
    if not isinstance(predictions, dict) or not 0 < len(predictions) <= MAX_KEYS:
        raise TypeError(f"train_and_predict must return a dict of 1 to {MAX_KEYS} arrays")
    out = {}
    for key, value in predictions.items():
        if not isinstance(key, str) or not KEY.match(key):
            raise TypeError(f"predictions key {key!r} is not a short identifier")
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"predictions[{key!r}] has dtype {array.dtype}; numbers only")
        out[key] = array
    return out


def run(in_dir: Path, data_path: Path, out: Path) -> int:
    return run_candidates(in_dir, data_path, out, evaluate_one)


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
