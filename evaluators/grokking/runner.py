"""The fixed harness that runs INSIDE the sandbox for the grokking task. No hypoforge here.

Each candidate is train.py with a hypothesis's edits already applied and checked by the host.
For each split it runs the script's fixed ``train_and_predict`` and writes the predicted answers
at every checkpoint and the parameter count; the host scores the predictions with answers that
never entered the container. ``status.json`` is advisory.

Usage (in the container): python3 -B runner.py IN_DIR DATA_NPZ OUT_DIR
"""

from __future__ import annotations

import json
import sys
import traceback
import zlib
from pathlib import Path

import numpy as np


def _load(path: Path) -> dict:
    namespace: dict = {"__name__": "train"}
    exec(compile(path.read_text(), "train.py", "exec"), namespace)
    if not callable(namespace.get("train_and_predict")):
        raise TypeError("train.py defines no train_and_predict")
    return namespace


def run(in_dir: Path, data_path: Path, out: Path) -> int:
    import torch

    torch.set_num_threads(1)
    job = json.loads((in_dir / "job.json").read_text())
    data = dict(np.load(data_path, allow_pickle=False))
    status: dict[str, dict] = {}
    code = 0
    for name in job["candidates"]:
        stage = "load"
        try:
            script = _load(in_dir / "candidates" / f"{name}.py")
            stage = "train"
            counts = []
            for split in job["splits"]:
                steps = int(data[f"{split}.steps"]) * int(job["train"]["step_scale"])
                vocab = int(data[f"{split}.n_classes"]) + 1
                predictions, n_params = script["train_and_predict"](
                    data[f"{split}.x_train"],
                    data[f"{split}.y_train"],
                    data[f"{split}.x_test"],
                    vocab,
                    steps,
                    zlib.crc32(split.encode()),
                )
                np.save(out / f"{name}.{split}.npy", predictions, allow_pickle=False)
                counts.append(n_params)
            np.save(out / f"{name}.params.npy", np.array(counts, dtype=np.int64))
            status[name] = {"stage": "done"}
        except Exception as exc:
            tail = traceback.format_exc(limit=-3)[-1500:]
            status[name] = {"stage": stage, "error": f"{type(exc).__name__}: {exc}", "trace": tail}
            code = max(code, 3)
    (out / "status.json").write_text(json.dumps(status))
    return code


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
