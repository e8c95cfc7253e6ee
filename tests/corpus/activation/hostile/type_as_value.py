# expect: line 7: Tensor is a type: only annotations and isinstance may use it
# ruff: noqa
from torch import Tensor


def activation(x: Tensor) -> Tensor:
    return Tensor(x.tolist())
