"""Runs INSIDE the sandbox: evaluate the hypothesis's f on the grid, write predictions only."""

import json
import math
import sys
from pathlib import Path

import numpy as np


def main(code: Path, out: Path) -> int:
    namespace = {"math": math, "__name__": "hypothesis"}
    exec(compile(code.read_text(), str(code), "exec"), namespace)
    grid = np.linspace(-3.0, 3.0, 61)
    pred = np.array([float(namespace["f"](float(x))) for x in grid])
    np.save(out / "pred.npy", pred, allow_pickle=False)
    (out / "status.json").write_text(json.dumps({"done": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
