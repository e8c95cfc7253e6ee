"""What the editable blocks of a template script (grokking's ``train.py``, any template task's
script) may use: allowlists, not denylists.

The blocks run in the same Python process as the fixed training loop, so anything not listed here
is refused: ``numpy`` and ``sys`` (C-level bridges, the interpreter), torch beyond the listed
functions, any attribute not listed (``.numpy``, ``.data``, ``.grad``, ``.step``, in-place
methods ending in ``_``), and any builtin not listed. Dotted paths are written with the aliases
the fixed part imports (``torch``, ``nn``, ``F``, ``math``); ``torch.nn`` and
``torch.nn.functional`` are read as ``nn`` and ``F``.
"""

from __future__ import annotations

import builtins
import types
from functools import cache

ALIASES = frozenset({"torch", "nn", "F", "math"})
# Tensor functions and constructors: pure, no files, no global state, no numpy, no autograd.
TORCH_FUNCTIONS = frozenset(
    """abs all amax amin any arange argmax argmin argsort bmm cat ceil chunk clamp clip cos cosh
    cumsum diag diagonal dot einsum eq exp exp2 expm1 eye flatten flip floor full full_like gather
    ge gt index_select isfinite isnan le lerp linspace log log1p log2 log_softmax logaddexp
    logsumexp lt matmul max maximum mean median min minimum mm mul ne neg norm numel ones
    ones_like outer permute pow rand rand_like randint randn randn_like randperm reciprocal relu
    remainder reshape roll round rsqrt sigmoid sign sin sinh softmax sort split sqrt square
    squeeze stack std sub sum t tanh tensor topk transpose tril triu unbind unsqueeze var
    where zeros zeros_like""".split()
)
TORCH_CONSTANTS = frozenset(
    """float32 float64 float16 bfloat16 float double half long int int64 int32 bool pi e inf
    nan Tensor""".split()
)
LINALG = frozenset("norm vector_norm matrix_norm svdvals eigvalsh qr svd".split())
NN_LAYERS = frozenset(
    """Linear Bilinear Embedding LayerNorm RMSNorm GroupNorm BatchNorm1d MultiheadAttention
    TransformerEncoderLayer Conv1d Sequential ModuleList ModuleDict Parameter ParameterList
    ParameterDict Identity Dropout Flatten Unflatten GELU ReLU SiLU Tanh Mish ELU SELU CELU GLU
    LeakyReLU Sigmoid Softplus Softsign Hardswish Softmax LogSoftmax Module""".split()
)
NN_INIT = frozenset(
    """normal_ uniform_ zeros_ ones_ constant_ xavier_uniform_ xavier_normal_ kaiming_uniform_
    kaiming_normal_ orthogonal_ trunc_normal_ eye_ calculate_gain""".split()
)
F_FUNCTIONS = frozenset(
    """cross_entropy nll_loss mse_loss smooth_l1_loss huber_loss kl_div
    binary_cross_entropy_with_logits one_hot softmax log_softmax softmin logsigmoid gelu relu
    relu6 silu mish elu selu celu glu tanh sigmoid softplus softsign hardswish leaky_relu
    layer_norm rms_norm normalize dropout linear embedding pad scaled_dot_product_attention
    cosine_similarity""".split()
)
OPTIMIZERS = frozenset("AdamW Adam SGD RMSprop Adagrad Adadelta Adamax NAdam RAdam".split())
MATH_NAMES = frozenset(
    "pi e tau inf sqrt exp log log2 log10 cos sin tan tanh atan pow floor ceil isqrt".split()
)
# Builtins a block may call or read. Every name in dir(builtins) is also one a block may never
# bind, so the fixed part's own uses of builtins cannot be redirected.
# They are the runner's safe builtins (evaluators/runner_loop.py): no others exist in the sandbox.
BUILTINS_USED = frozenset(
    """abs all any bool dict divmod enumerate float int isinstance len list max min pow range
    reversed round slice sorted sum tuple zip""".split()
)
# Builtins a module-level constant or a default argument may call (no tensors at import time).
CONSTANT_CALLS = frozenset("abs bool float int max min pow round".split())

# Attributes of computed values (tensors, modules, parameters, containers) a block may read or
# call: none reaches files, numpy, storage, gradients, autograd or the optimizer's step, none
# changes a tensor in place (no name ends in "_"), and none gives a view of a parameter that
# autograd does not track (no detach: in-place writes to a parameter then fail while training).
METHODS = frozenset(
    """view view_as reshape reshape_as transpose permute contiguous flatten unflatten unsqueeze
    squeeze expand expand_as repeat repeat_interleave roll flip size shape dim ndim numel dtype
    device softmax log_softmax mean sum max min amax amin argmax argmin std var norm abs exp log
    log1p expm1 sqrt rsqrt pow square tanh sigmoid relu sin cos sign clamp clip neg reciprocal
    floor ceil round trunc frac fmod remainder erf lerp matmul mm bmm t T mT float double long
    int bool to clone chunk split unbind gather index_select narrow masked_fill where
    logsumexp cumsum triu tril diag diagonal outer topk sort argsort all any eq ne lt le gt ge
    isfinite nan_to_num new_zeros new_ones new_full new_tensor type_as item tolist
    requires_grad weight bias in_features out_features num_embeddings embedding_dim
    normalized_shape eps embed_dim num_heads head_dim in_proj_weight in_proj_bias out_proj
    training parameters named_parameters children named_children modules named_modules buffers
    named_buffers startswith endswith""".split()
)
# The kinds of value a block calls methods on (evaluators.signatures): a method call passes
# only what each of them takes without writing.
KINDS = ("tensor", "module", "optimizer", "container")
# Methods that change a container; a block may call them only while building it in __init__.
INIT_METHODS = frozenset({"append", "extend"})
# Attributes of allowed layers that hold a plain function (TransformerEncoderLayer keeps F.relu
# or F.gelu as .activation): a block may not define one, so that it cannot reach and call the
# function with arguments the signature check never sees (tests/unit/evaluators/test_signatures.py
# instantiates every allowed layer to keep this list whole).
LAYER_FUNCTIONS = frozenset({"activation"})
# Builtins an annotation may name (annotations run when a function is defined, so only names that
# exist in the sandbox and are harmless to evaluate).
ANNOTATION_NAMES = frozenset("int float bool list tuple dict None".split())


@cache
def paths() -> dict[str, str]:
    """Every dotted path a block may use -> where: 'any', 'model' (built only in the model
    block), 'init' (only in ``__init__`` of the model block) or 'optimizer'."""
    allowed = {f"torch.{n}": "any" for n in TORCH_FUNCTIONS | TORCH_CONSTANTS}
    allowed.update({f"torch.linalg.{n}": "any" for n in LINALG})
    allowed.update({f"F.{n}": "any" for n in F_FUNCTIONS})
    allowed.update({f"math.{n}": "any" for n in MATH_NAMES})
    allowed.update({f"nn.{n}": "model" for n in NN_LAYERS})
    allowed.update({f"nn.init.{n}": "init" for n in NN_INIT})
    allowed.update({f"torch.optim.{n}": "optimizer" for n in OPTIMIZERS})
    return allowed


def canonical(path: str) -> str:
    """``torch.nn.functional.x`` and ``nn.functional.x`` as ``F.x``; ``torch.nn.x`` as ``nn.x``."""
    for long, short in (("torch.nn.functional.", "F."), ("nn.functional.", "F.")):
        if path.startswith(long):
            return short + path[len(long) :]
    return "nn." + path[len("torch.nn.") :] if path.startswith("torch.nn.") else path


@cache
def builtin_names() -> frozenset[str]:
    """Every public builtin (none may be rebound by a block)."""
    return frozenset(n for n in dir(builtins) if not n.startswith("_"))


@cache
def module_names() -> frozenset[str]:
    """nn.Module's own names: a block's class may not define them or set them on self."""
    from torch import nn

    return frozenset(n for n in dir(nn.Module) if not n.startswith("_")) | {"training"}


@cache
def dangerous_attributes() -> frozenset[str]:
    """Attributes of the objects a block can reach (tensors, modules, arrays, optimizers,
    generators, functions, frames, classes, containers) that are not in ``METHODS``. A name the
    hypothesis defines (``self.x = ...``, a method) becomes readable on every object, so it may
    not be one of these: ``self.numpy = ...`` would open ``tensor.numpy()``."""
    import numpy as np
    import torch

    kinds = (
        torch.Tensor,
        torch.nn.Module,
        torch.nn.Parameter,
        torch.optim.Optimizer,
        torch.Size,
        torch.dtype,
        torch.device,
        np.ndarray,
        types.GeneratorType,
        types.FunctionType,
        types.MethodType,
        types.BuiltinFunctionType,
        types.FrameType,
        types.CodeType,
        types.TracebackType,
        types.ModuleType,
        types.CellType,
        type,
        property,
        BaseException,
        dict,
        list,
        tuple,
        set,
        str,
        int,
        float,
    )
    names = {n for kind in kinds for n in dir(kind) if not n.startswith("_")}
    return frozenset(names - METHODS) | module_names() | LAYER_FUNCTIONS
