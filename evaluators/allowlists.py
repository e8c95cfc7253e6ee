"""What the static checks allow, as data: one ``Policy`` per task and the name lists it is built
from. Anything a list does not name is refused; see ``evaluators.static_rules`` for the rules.

Each list was chosen against one question: can this name, reached from anything else on the
lists, give a hypothesis a reference to the interpreter, a file, global state, or a way to change
the trusted training loop? A method name is allowed on *every* computed value, so a method list
holds only names that are harmless on every object a hypothesis can reach (arrays, tensors,
lists, dicts, strings, the regularizer's ``torch.nn.Sequential``). In particular the tensor lists
hold no in-place method (``*_``), nothing that reaches storage or autograd internals (``data``,
``grad``, ``storage``, ``data_ptr``, ``grad_fn``), and no name that ``nn.Module`` also has and
that changes a module (``to``, ``float``, ``double``, ``half``, ``type``, ``train``, ``apply``).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field

from evaluators.static_check import SAFE_BUILTINS


def words(text: str) -> frozenset[str]:
    """The whitespace-separated names of ``text``."""
    return frozenset(text.split())


# Names the runners and the conventional imports use: no constant, argument or local may take
# them (an import may bind its own alias). The regularizer's runner reads DROPOUT, so only that
# task may define it.
RUNNER_NAMES = words("np numpy torch F nn math DROPOUT")

MATH = words(
    """pi e tau inf nan sqrt exp expm1 log log1p log2 log10 pow fabs sin cos tan asin acos atan
    atan2 sinh cosh tanh asinh acosh atanh erf erfc floor ceil trunc hypot copysign isfinite
    isnan isinf isclose gamma lgamma"""
)
# Annotation-only helpers from typing (never reachable as values: typing also holds
# get_type_hints, which evaluates strings).
TYPING_TYPES = frozenset(
    f"typing.{n}" for n in words("Any Callable Dict List Optional Sequence Tuple Union")
)

# --- activation: elementwise operations only (the task's rule), kept from the original check.
ACT_TORCH = words(
    """abs absolute acos acosh add asin asinh atan atan2 atanh ceil clamp clamp_max clamp_min
    clip cos cosh div erf erfc exp exp2 expm1 floor frac heaviside hypot lerp log log10 log1p
    log2 logaddexp logit maximum minimum mul neg negative pow reciprocal relu round rsqrt sigmoid
    sign sin sinc sinh sqrt square sub tan tanh trunc where xlogy zeros_like ones_like
    full_like float_power fmod remainder copysign nan_to_num"""
)
ACT_SPECIAL = words("expit erf erfc erfinv logit log1p sinc xlogy ndtr log_ndtr i0")
ACT_FUNCTIONAL = words(
    """relu relu6 elu selu celu gelu silu mish softplus softsign leaky_relu hardtanh hardswish
    hardsigmoid logsigmoid tanhshrink softshrink hardshrink sigmoid tanh"""
)
ACT_METHODS = ACT_TORCH - words("zeros_like ones_like full_like where")
# Builtins that reduce over, count or iterate the batch are left out: an "elementwise" function
# that reads len(x) or sum(x) can recognise the probe (a red team scored 0.786 against ReLU's
# 0.649 that way). min and max stay, for two or more scalars only (see the activation check).
ACT_BUILTINS = words("abs bool divmod float int isinstance max min pow round")

# --- preprocess: numpy on the training and test arrays, no files, no randomness, no C.
NUMPY = words(
    """abs absolute add subtract multiply divide true_divide floor_divide power float_power mod
    remainder fmod sqrt cbrt square exp expm1 exp2 log log1p log2 log10 logaddexp sign sin cos
    tan tanh sinh cosh arcsin arccos arctan arctan2 arcsinh arccosh arctanh hypot sinc heaviside
    clip maximum minimum fmax fmin floor ceil rint round around trunc fabs reciprocal negative
    mean median std var sum prod cumsum cumprod min max amin amax ptp average nanmean nanmedian
    nanstd nanvar nansum nanmin nanmax nanpercentile nanquantile percentile quantile sort argsort
    searchsorted unique interp digitize histogram histogram_bin_edges bincount diff where select
    isfinite isnan isinf nan_to_num any all count_nonzero argmax argmin argpartition partition
    zeros ones zeros_like ones_like full full_like eye identity arange linspace logspace
    concatenate stack hstack vstack column_stack tile repeat reshape ravel transpose swapaxes
    moveaxis expand_dims squeeze atleast_1d atleast_2d asarray array copy dot matmul outer inner
    einsum tensordot kron cov corrcoef diag diagonal triu tril trace take take_along_axis isin
    polyfit polyval apply_along_axis meshgrid finfo float16 float32 float64 int8 int16 int32
    int64 uint8 intp bool_ newaxis pi e inf nan euler_gamma"""
)
NUMPY_LINALG = words(
    """norm svd eig eigh eigvals eigvalsh inv pinv qr cholesky det slogdet solve lstsq
    matrix_rank matrix_power multi_dot cond"""
)
NUMPY_TYPES = frozenset(
    {"numpy.ndarray", "numpy.floating", "numpy.typing.NDArray", "numpy.typing.ArrayLike"}
)
# ndarray methods and attributes, plus what lists, dicts and finfo offer that code reads.
NDARRAY_METHODS = words(
    """mean std var min max sum prod cumsum cumprod argmin argmax argsort sort ptp any all clip
    round reshape ravel flatten squeeze transpose swapaxes astype copy dot item tolist nonzero
    repeat diagonal trace T shape ndim size dtype real imag kind itemsize fill
    append extend index count items keys values get eps tiny resolution"""
)

# --- regularizer: read-only torch on the model's parameters, the logits and the targets.
TORCH_REG = words(
    """abs absolute sum mean std var norm square sqrt exp log log1p log2 logsumexp softmax
    log_softmax sigmoid tanh relu clamp clip maximum minimum max min amax amin argmax argmin
    stack cat zeros ones zeros_like ones_like full full_like eye tensor scalar_tensor arange
    linspace where matmul mm bmm mv einsum outer dot trace diag diagonal triu tril cdist cov
    corrcoef sort topk cumsum prod sign pow mul add sub div neg reciprocal erf cos sin atan
    isfinite isnan nan_to_num numel flatten reshape transpose unsqueeze squeeze gather
    masked_select count_nonzero var_mean std_mean xlogy finfo float32 float64 float16 long int64
    bool pi e inf is_tensor is_floating_point"""
)
FUNCTIONAL_REG = words(
    """softmax log_softmax one_hot cross_entropy nll_loss kl_div mse_loss l1_loss smooth_l1_loss
    huber_loss binary_cross_entropy binary_cross_entropy_with_logits normalize cosine_similarity
    pairwise_distance relu softplus logsigmoid sigmoid tanh gelu silu elu hardtanh"""
)
LINALG_REG = words(
    """norm vector_norm matrix_norm svdvals eigvalsh det slogdet inv pinv qr svd cond
    matrix_rank"""
)
SPECIAL_REG = words("entr xlogy expit logsumexp softmax log_softmax logit")
TORCH_TYPES = frozenset({"torch.Tensor", "torch.FloatTensor", "torch.LongTensor"})
NN_TYPES = frozenset(
    f"torch.nn.{n}" for n in words("Module Sequential Linear ReLU Dropout Parameter")
)
TENSOR_METHODS_REG = words(
    """abs sum mean std var norm pow square sqrt exp log log1p logsumexp softmax log_softmax
    sigmoid tanh relu clamp clip max min amax amin argmax argmin t T mT transpose reshape view
    view_as flatten unsqueeze squeeze size shape dim ndim numel dtype device gather index_select
    matmul mm bmm mv dot outer diag diagonal trace triu tril sort topk cumsum prod mul add sub div
    neg reciprocal sign masked_fill eq ne gt lt ge le new_zeros new_ones new_full new_tensor item
    tolist contiguous clone detach expand expand_as repeat chunk split unbind narrow
    is_floating_point requires_grad values indices weight bias erf bool long int"""
)
# What a penalty reads from the model: its parameters and submodules, never its state_dict
# (detached tensors that share the parameters' storage) nor anything that changes it.
MODULE_READ = words("parameters named_parameters modules named_modules children named_children")
CONTAINER_READ = words("items keys values startswith endswith eps tiny")


@dataclass(frozen=True)
class Policy:
    """One task's allowlists and the few rules that differ between tasks."""

    function: str
    params: tuple[str, ...]
    # module path -> its allowed functions and constants ("numpy" -> {"mean", ...}); a dotted
    # key is a submodule reachable from its parent ("numpy.linalg").
    modules: Mapping[str, frozenset[str]]
    # types, usable only in annotations and as isinstance's second argument
    types: frozenset[str]
    # attribute and method names allowed on any value that is not a module
    methods: frozenset[str]
    builtins: frozenset[str]
    # local statements and expressions the function may contain (isinstance, so base classes
    # such as ast.operator cover their subclasses)
    nodes: tuple[type[ast.AST], ...]
    reserved: frozenset[str] = RUNNER_NAMES
    nested_functions: bool = True
    # x[i] = ... and x[i] += ... on local names (numpy code on the runner's copies)
    item_assignment: bool = False
    # name op= value for any local; otherwise only for accumulators (see static_rules)
    free_augassign: bool = False
    # why something is refused, where the generic reason would not say: keyed by a builtin's
    # name, ".attribute", a node kind ("Subscript") or "item_assignment"
    notes: Mapping[str, str] = field(default_factory=dict)
    # the kinds of value whose methods the code can call (``evaluators.signatures.KINDS``): a
    # method call may pass only what every one of them takes without writing
    kinds: tuple[str, ...] = ("tensor",)

    def __post_init__(self) -> None:
        # The runner executes hypotheses with exactly SAFE_BUILTINS; a name outside it would
        # pass the check and fail at run time.
        if not self.builtins <= SAFE_BUILTINS:
            raise ValueError(f"builtins outside SAFE_BUILTINS: {self.builtins - SAFE_BUILTINS}")


_CONTEXTS = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
_EXPRESSIONS = (
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Call, ast.keyword,
    ast.Constant, ast.Attribute, ast.Name, ast.List, ast.Tuple, ast.Dict, ast.Set,
)  # fmt: skip
_STATEMENTS = (
    ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Assign, ast.AugAssign,
    ast.AnnAssign, ast.If, ast.Expr, ast.Pass, ast.Assert,
)  # fmt: skip
# Loops, indexing, comprehensions and unpacking are for tasks that work on whole arrays; an
# activation gets them only in the forms its own check allows.
_ARRAY_CODE = (
    ast.For, ast.Break, ast.Continue, ast.Subscript, ast.Slice, ast.Starred, ast.ListComp,
    ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension,
)  # fmt: skip
ARRAY_NODES = (*_CONTEXTS, *_EXPRESSIONS, *_STATEMENTS, *_ARRAY_CODE)
ACTIVATION_NODES = (*_CONTEXTS, *_EXPRESSIONS, *_STATEMENTS, ast.For)

# Names a capable model might try on the regularizer's model or torch, refused with a reason.
_CHANGES_MODEL = words(
    """train eval apply to cuda cpu float double half type zero_grad requires_grad_
    load_state_dict state_dict add_module register_buffer register_parameter register_module
    register_forward_hook register_forward_pre_hook register_full_backward_hook append extend
    insert pop backward"""
)
_GLOBAL_STATE = words(
    """manual_seed seed set_grad_enabled no_grad enable_grad optim autograd save load from_file
    set_default_dtype set_num_threads use_deterministic_algorithms backends cuda hub jit utils
    storage untyped_storage data_ptr"""
)
_BATCH = "it reads the batch, and an activation must be elementwise"
ACTIVATION = Policy(
    function="activation",
    params=("x",),
    modules={
        "torch": ACT_TORCH,
        "torch.special": ACT_SPECIAL,
        "torch.nn": frozenset(),
        "torch.nn.functional": ACT_FUNCTIONAL,
        "math": MATH,
        "typing": frozenset(),
    },
    types=TORCH_TYPES | TYPING_TYPES,
    methods=ACT_METHODS,
    builtins=ACT_BUILTINS,
    nodes=ACTIVATION_NODES,
    nested_functions=False,
    notes={
        name: _BATCH
        for name in words("sum len range Subscript ListComp SetComp DictComp GeneratorExp")
    },
)
PREPROCESS = Policy(
    function="preprocess",
    params=("X_train", "X_test"),
    modules={
        "numpy": NUMPY,
        "numpy.linalg": NUMPY_LINALG,
        "numpy.typing": frozenset(),
        "math": MATH,
        "typing": frozenset(),
    },
    types=NUMPY_TYPES | TYPING_TYPES,
    methods=NDARRAY_METHODS,
    builtins=SAFE_BUILTINS,
    nodes=ARRAY_NODES,
    item_assignment=True,
    free_augassign=True,
    kinds=("ndarray", "container"),
)
REGULARIZER = Policy(
    function="penalty",
    params=("model", "logits", "targets"),
    modules={
        "torch": TORCH_REG,
        "torch.nn": frozenset(),
        "torch.nn.functional": FUNCTIONAL_REG,
        "torch.linalg": LINALG_REG,
        "torch.special": SPECIAL_REG,
        "math": MATH,
        "typing": frozenset(),
    },
    types=TORCH_TYPES | NN_TYPES | TYPING_TYPES,
    methods=TENSOR_METHODS_REG | MODULE_READ | CONTAINER_READ,
    builtins=SAFE_BUILTINS,
    nodes=ARRAY_NODES,
    reserved=RUNNER_NAMES - {"DROPOUT"},
    kinds=("tensor", "module", "container"),
    notes={
        **{f".{name}": "it would change the model" for name in _CHANGES_MODEL},
        **{f".{name}": "it reaches global state or files" for name in _GLOBAL_STATE},
        ".data": "it bypasses autograd and can change the parameters",
        ".grad": "the penalty must not read or change gradients",
        "item_assignment": "the penalty must not change any tensor",
    },
)
