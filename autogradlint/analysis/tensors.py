"""What a tensor expression is: dtype (from literals and ``dtype=``), ``requires_grad``, device, leafness.

``factory_call`` reads one factory call; ``tensor_facts`` follows an expression through method chains
(``.requires_grad_()``, ``.to(...)``, ``.double()`` ...) and names bound once; ``makes_new_tensor`` says
whether a conversion certainly copies. Unknown stays None: rules must stay silent when a fact they need
is None.
"""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Optional, Tuple

import libcst as cst

from autogradlint.analysis.call_sites import bool_literal, keyword, parameter_arguments, positional
from autogradlint.analysis.modules import enclosing_method_class, is_module_class, single_self_value
from autogradlint.analysis.torch_semantics import is_in_place_method
from autogradlint.records import FrozenRecord
from autogradlint.walk import current_index, nodes_of, own_nodes_of

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

# factories whose result dtype is the default float dtype unless dtype= says otherwise
FLOAT_FACTORIES = frozenset(
    f"torch.{n}" for n in ("ones", "zeros", "empty", "rand", "randn", "eye", "linspace", "logspace", "normal", "empty_strided")
)
# factories whose dtype follows their input tensor
LIKE_FACTORIES = frozenset(
    f"torch.{n}" for n in ("ones_like", "zeros_like", "empty_like", "rand_like", "randn_like", "full_like", "randint_like")
)
# factories whose dtype follows their data or fill value
DATA_FACTORIES = frozenset({"torch.tensor", "torch.as_tensor", "torch.full", "torch.arange", "torch.range"})
INT_FACTORIES = frozenset({"torch.randint", "torch.randperm"})
# legacy typed constructors (torch.FloatTensor(2, 3)); torch.Tensor follows the default dtype
LEGACY_CONSTRUCTORS = {
    "torch.FloatTensor": "float32", "torch.DoubleTensor": "float64", "torch.HalfTensor": "float16",
    "torch.BFloat16Tensor": "bfloat16", "torch.LongTensor": "int64", "torch.IntTensor": "int32",
    "torch.ShortTensor": "int16", "torch.CharTensor": "int8", "torch.ByteTensor": "uint8", "torch.BoolTensor": "bool",
}
DEFAULT_TYPE_CONSTRUCTOR = "torch.Tensor"
FROM_NUMPY = "torch.from_numpy"
TENSOR_FACTORIES = (
    FLOAT_FACTORIES | LIKE_FACTORIES | DATA_FACTORIES | INT_FACTORIES
    | frozenset(LEGACY_CONSTRUCTORS) | {DEFAULT_TYPE_CONSTRUCTOR, FROM_NUMPY}
)
PARAMETER = "torch.nn.Parameter"

_DTYPES = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16",
    "complex64": "complex64", "cfloat": "complex64", "complex128": "complex128", "cdouble": "complex128",
    "int8": "int8", "uint8": "uint8", "int16": "int16", "short": "int16", "int32": "int32", "int": "int32",
    "int64": "int64", "long": "int64", "bool": "bool", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
}
FLOATING = frozenset({"float32", "float64", "float16", "bfloat16", "complex64", "complex128"})
# dtypes gradcheck warns about: "not a double precision floating point or complex"
SINGLE_PRECISION = frozenset({"float32", "float16", "bfloat16", "complex64"})

# tensor methods that convert to a fixed dtype
_DTYPE_METHODS = {
    "float": "float32", "double": "float64", "half": "float16", "bfloat16": "bfloat16",
    "long": "int64", "int": "int32", "short": "int16", "char": "int8", "byte": "uint8", "bool": "bool",
}
# of these, the methods that convert to a floating dtype
FLOATING_DTYPE_METHODS = {method: dtype for method, dtype in _DTYPE_METHODS.items() if dtype in FLOATING}
# device types torch accepts in a device string besides cpu and cuda
_OTHER_DEVICE_TYPES = frozenset({"mps", "xpu", "meta", "hpu", "xla", "npu", "ipu", "mtia", "privateuseone"})
# calls that change the dtype or device factories use by default
_DEFAULT_SETTERS = frozenset({"set_default_dtype", "set_default_tensor_type", "set_default_device"})


_NAME_OR_ATTRIBUTE = frozenset({cst.Name, cst.Attribute})


def is_integral(dtype: Optional[str]) -> bool:
    """Certainly an integer or bool dtype (None, unknown, is not)."""
    return dtype is not None and dtype not in FLOATING


def dtype_of(context: "LintContext", expression: cst.BaseExpression) -> Optional[str]:
    """``torch.float64`` / ``th.long`` ... -> canonical dtype name; None when not a known torch dtype."""
    if type(expression) not in _NAME_OR_ATTRIBUTE:
        return None
    name = context.qualified_name(expression)
    if name and name.startswith("torch.") and name.count(".") == 1:
        return _DTYPES.get(name[len("torch."):])
    return None


def literal_dtype(expression: cst.BaseExpression) -> Optional[str]:
    """dtype torch infers from a Python literal (nested lists of one kind); None when not certain."""
    if isinstance(expression, cst.Integer):
        return "int64"
    if isinstance(expression, cst.Float):
        return "float32"
    if isinstance(expression, cst.Name) and expression.value in ("True", "False"):
        return "bool"
    if isinstance(expression, cst.UnaryOperation) and isinstance(expression.operator, cst.Minus):
        return literal_dtype(expression.expression)
    if isinstance(expression, (cst.List, cst.Tuple)):
        kinds = {literal_dtype(e.value) for e in expression.elements if not isinstance(e, cst.StarredElement)}
        if not expression.elements or None in kinds or any(isinstance(e, cst.StarredElement) for e in expression.elements):
            return None
        if "float32" in kinds:
            return "float32"
        if kinds == {"bool"}:
            return "bool"
        return "int64"
    return None


class FactoryCall(FrozenRecord):
    """A call that creates a new tensor: which factory, and what is certain about the result."""

    __slots__ = ("name", "dtype", "requires_grad", "device")

    def __init__(self, name: str, dtype: Optional[str], requires_grad: Optional[bool],
                 device: Optional[cst.BaseExpression]) -> None:
        # dtype None: unknown
        # requires_grad None: depends on a variable
        # device: the device= argument, if any
        self._assign(name, dtype, requires_grad, device)


def factory_call(context: "LintContext", node: cst.CSTNode) -> Optional[FactoryCall]:
    """The facts of a torch tensor factory call (or ``nn.Parameter(...)``), None for any other node."""
    if type(node) is not cst.Call or type(node.func) not in _NAME_OR_ATTRIBUTE:
        return None
    name = context.qualified_name(node.func)
    if name not in TENSOR_FACTORIES and name != PARAMETER:
        return None
    requires_arg = keyword(node, "requires_grad")
    if name == PARAMETER:
        args = positional(node)
        requires = True
        if requires_arg is not None:
            requires = bool_literal(requires_arg.value)
        elif len(args) >= 2:
            requires = bool_literal(args[1].value)
        inner = factory_call(context, args[0].value) if args else None
        return FactoryCall(name, inner.dtype if inner else None, requires, inner.device if inner else None)
    requires = False if requires_arg is None else bool_literal(requires_arg.value)
    if _may_alias_tensor(name, positional(node)):
        requires = None  # torch.Tensor(t) aliases a tensor argument and keeps its requires_grad
    device_arg = keyword(node, "device")
    dtype_arg = keyword(node, "dtype")
    if dtype_arg is not None:
        dtype = dtype_of(context, dtype_arg.value)
    elif name in LIKE_FACTORIES:
        dtype = _like_dtype(context, name, positional(node))
    else:
        dtype = _implicit_dtype(name, positional(node))
        if dtype == "float32" and name not in LEGACY_CONSTRUCTORS and defaults_changed(context):
            dtype = None  # it was the default dtype, which this file changes
    return FactoryCall(name, dtype, requires, device_arg.value if device_arg is not None else None)


def _may_alias_tensor(name: str, args) -> bool:
    """A legacy constructor given one argument that may be a tensor (not sizes or literal data)."""
    if name not in LEGACY_CONSTRUCTORS and name != DEFAULT_TYPE_CONSTRUCTOR:
        return False
    return len(args) == 1 and not isinstance(args[0].value, (cst.Integer, cst.List, cst.Tuple))


def _takes_device_from_data(name: str, args) -> bool:
    """Whether the result's device may follow a tensor argument (``torch.tensor(t)``, ``ones_like(t)``)."""
    if name in LIKE_FACTORIES:
        return True
    if name in ("torch.tensor", "torch.as_tensor"):
        return not args or literal_dtype(args[0].value) is None
    return _may_alias_tensor(name, args)


def _like_dtype(context: "LintContext", name: str, args) -> Optional[str]:
    """A ``*_like`` factory's dtype: its input's (``torch.zeros_like(torch.arange(5))`` is int64). rand_like and
    randn_like of an integer tensor raise NotImplementedError instead: no dtype is certain there."""
    inner = tensor_facts(context, args[0].value) if args else None
    dtype = inner.dtype if inner is not None else None
    if is_integral(dtype) and name in _FLOAT_ONLY_LIKE_FACTORIES:
        return None
    return dtype


_FLOAT_ONLY_LIKE_FACTORIES = frozenset({"torch.rand_like", "torch.randn_like"})


def _implicit_dtype(name: str, args) -> Optional[str]:
    if name in FLOAT_FACTORIES or name == DEFAULT_TYPE_CONSTRUCTOR:
        return "float32"
    if name in LEGACY_CONSTRUCTORS:
        return LEGACY_CONSTRUCTORS[name]
    if name in INT_FACTORIES:
        return "int64"
    if name in ("torch.tensor", "torch.as_tensor"):
        return literal_dtype(args[0].value) if args else None
    if name == "torch.full":
        return literal_dtype(args[1].value) if len(args) >= 2 else None
    if name in ("torch.arange", "torch.range"):
        kinds = {literal_dtype(a.value) for a in args}
        if not args or None in kinds:
            return None
        return "float32" if "float32" in kinds or name == "torch.range" else "int64"
    return None


# ------------------------------------------------------------------------------------------------
# defaults, devices and conversions

_CALLS_AND_WITH_ITEMS = (cst.Call, cst.WithItem)
_defaults_cache: Tuple[Optional[cst.Module], bool] = (None, False)


def defaults_changed(context: "LintContext") -> bool:
    """Whether the file may change the default dtype or device (``torch.set_default_dtype``,
    ``set_default_tensor_type``, ``set_default_device``, ``with torch.device(...)``): then a factory's
    implicit float32 and CPU are not certain. Matched by spelling, which errs on the silent side."""
    global _defaults_cache
    module = context.module
    if _defaults_cache[0] is module:
        return _defaults_cache[1]
    changed = False
    for node in nodes_of(module, _CALLS_AND_WITH_ITEMS):
        if type(node) is cst.Call:
            if _called_name(node) in _DEFAULT_SETTERS:
                changed = True
                break
        elif type(node.item) is cst.Call and _called_name(node.item) == "device":
            changed = True
            break
    _defaults_cache = (module, changed)
    return changed


def _called_name(call: cst.Call) -> Optional[str]:
    func = call.func
    func_type = type(func)
    if func_type is cst.Attribute:
        return func.attr.value
    if func_type is cst.Name:
        return func.value
    return None


def _string_value(expression: cst.BaseExpression) -> Optional[str]:
    if isinstance(expression, cst.SimpleString):
        try:
            value = ast.literal_eval(expression.value)
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, str) else None
    return None


def device_kind(context: "LintContext", expression: cst.BaseExpression) -> Optional[str]:
    """The device type an argument certainly names: ``"cpu"``, ``"cuda"`` or another device type
    (``"mps"``, ``"meta"`` ...), from a string literal, a device index or ``torch.device("...")``."""
    if isinstance(expression, cst.Integer):
        return "cuda"  # a bare index means a CUDA device
    text = _string_value(expression)
    if text is None and isinstance(expression, cst.Call) and isinstance(expression.func, (cst.Name, cst.Attribute)):
        if context.qualified_name(expression.func) == "torch.device":
            args = positional(expression)
            if args:
                text = _string_value(args[0].value)
    if text is None:
        return None
    kind = text.split(":", 1)[0].strip()
    if kind in ("cpu", "cuda") or kind in _OTHER_DEVICE_TYPES:
        return kind
    return None


def tensor_type_of(context: "LintContext", expression: cst.BaseExpression) -> Tuple[Optional[str], Optional[str]]:
    """(dtype, device type) of a tensor type such as ``torch.cuda.HalfTensor`` or ``'torch.DoubleTensor'``."""
    name = _string_value(expression)
    if name is None and isinstance(expression, (cst.Name, cst.Attribute)):
        name = context.qualified_name(expression)
    if name is None:
        return None, None
    if name.startswith("torch.cuda."):
        return LEGACY_CONSTRUCTORS.get("torch." + name[len("torch.cuda."):]), "cuda"
    if name in LEGACY_CONSTRUCTORS:
        return LEGACY_CONSTRUCTORS[name], "cpu"
    return None, None


class TensorFacts(FrozenRecord):
    """What is certain about the tensor an expression evaluates to (None: unknown)."""

    __slots__ = ("origin", "dtype", "device", "requires_grad", "is_leaf")

    def __init__(self, origin: str, dtype: Optional[str], device: Optional[str], requires_grad: Optional[bool],
                 is_leaf: Optional[bool]) -> None:
        # origin: the qualified name of the factory (or nn.Parameter) it comes from
        # device: "cpu", "cuda" or another device type
        self._assign(origin, dtype, device, requires_grad, is_leaf)


# a conversion argument that is present but not understood
_UNKNOWN = "?"


def _conversion_target(context: "LintContext", call: cst.Call) -> Optional[Tuple[Optional[str], Optional[str], bool]]:
    """(target dtype, target device, copy=True) of a conversion call; None for a target left unchanged,
    ``_UNKNOWN`` for one not understood. None when ``call`` is not a conversion."""
    if not isinstance(call.func, cst.Attribute):
        return None
    method = call.func.attr.value
    args = positional(call)
    if method in _DTYPE_METHODS:
        return (_DTYPE_METHODS[method], None, False) if not args else None
    if method == "cuda":
        return None, "cuda", False
    if method == "cpu":
        return None, "cpu", False
    if method == "type":
        dtype_arg = keyword(call, "dtype")
        target = args[0].value if len(args) == 1 else (dtype_arg.value if dtype_arg is not None else None)
        if target is None:
            return None  # ``.type()`` returns the type's name
        dtype = dtype_of(context, target)
        if dtype is not None:
            return dtype, None, False
        dtype, device = tensor_type_of(context, target)
        return (dtype, device, False) if dtype is not None else (_UNKNOWN, _UNKNOWN, False)
    if method != "to":
        return None
    dtype: Optional[str] = None
    device: Optional[str] = None
    for index, arg in enumerate(args):
        as_dtype = dtype_of(context, arg.value)
        if as_dtype is not None:
            dtype = as_dtype
            continue
        as_device = device_kind(context, arg.value) if index == 0 else None
        if as_device is not None:
            device = as_device
        elif index == 0:
            return _UNKNOWN, _UNKNOWN, False  # a device, a dtype or another tensor: unknown
    dtype_arg, device_arg, copy_arg = keyword(call, "dtype"), keyword(call, "device"), keyword(call, "copy")
    if dtype_arg is not None:
        dtype = dtype_of(context, dtype_arg.value) or _UNKNOWN
    if device_arg is not None:
        device = device_kind(context, device_arg.value) or _UNKNOWN
    if keyword(call, "other") is not None or keyword(call, "memory_format") is not None:
        return _UNKNOWN, _UNKNOWN, False
    copy = copy_arg is not None and bool_literal(copy_arg.value) is True
    return dtype, device, copy


def conversion_dtype(context: "LintContext", call: cst.Call) -> Optional[str]:
    """The dtype a conversion call (``.float()``, ``.to(torch.float64)``, ``.type(torch.HalfTensor)`` ...)
    certainly returns, whatever its receiver; None when it is not a conversion or keeps the dtype."""
    target = _conversion_target(context, call)
    if target is None or target[0] in (None, _UNKNOWN):
        return None
    return target[0]


def _differs(target: Optional[str], source: Optional[str]) -> Optional[bool]:
    """Whether a conversion certainly changes (True), certainly keeps (False) one property, or None."""
    if target is None:
        return False
    if target == _UNKNOWN or source is None:
        return None
    return target != source


def makes_new_tensor(context: "LintContext", conversion_call: cst.Call, source: TensorFacts) -> bool:
    """Whether the conversion call (``.cuda()``, ``.to(...)``, ``.double()``, ``.type(...)`` ...) certainly
    returns a new tensor rather than ``source`` itself (``.cpu()`` or ``.float()`` of a CPU float32
    tensor return the same tensor)."""
    return _copies(context, conversion_call, source) is True


def _copies(context: "LintContext", call: cst.Call, source: TensorFacts) -> Optional[bool]:
    target = _conversion_target(context, call)
    if target is None:
        return None
    dtype, device, copy = target
    if copy:
        return True
    changes = (_differs(dtype, source.dtype), _differs(device, source.device))
    if True in changes:
        return True
    if None in changes:
        return None
    return False


def _after_conversion(context: "LintContext", call: cst.Call, source: TensorFacts) -> Optional[TensorFacts]:
    target = _conversion_target(context, call)
    if target is None:
        return None
    dtype, device, _ = target
    copies = _copies(context, call, source)
    new_dtype = source.dtype if dtype is None else (None if dtype == _UNKNOWN else dtype)
    new_device = source.device if device is None else (None if device == _UNKNOWN else device)
    requires = source.requires_grad
    if is_integral(new_dtype):
        requires = False  # an integer copy never requires grad
    if copies is False:
        is_leaf = source.is_leaf
    elif requires is False:
        is_leaf = True
    elif copies is True and requires is True and source.requires_grad:
        is_leaf = False  # a differentiable copy of a grad tensor
    else:
        is_leaf = None
    return TensorFacts(source.origin, new_dtype, new_device, requires, is_leaf)


_MAX_NAME_HOPS = 4


def tensor_facts(context: "LintContext", expression: cst.BaseExpression, follow_names: bool = True,
                 _hops: int = 0) -> Optional[TensorFacts]:
    """Facts of a tensor expression built from a torch factory or ``nn.Parameter``: through
    ``.requires_grad_()``, ``.detach()``, ``.clone()``, conversions, and (``follow_names``) names bound
    exactly once to such an expression. None when the expression is not known to be such a tensor."""
    if isinstance(expression, cst.Name):
        if not follow_names or _hops >= _MAX_NAME_HOPS:
            return None
        value = single_assigned_value(context, expression)
        if value is None:
            return _argument_facts(context, expression, _hops)
        facts = tensor_facts(context, value, True, _hops + 1)
        return _after_flag_statements(context, expression, value, facts) if facts is not None else None
    if type(expression) is cst.Attribute:
        return _self_attribute_facts(context, expression, follow_names, _hops)
    if not isinstance(expression, cst.Call):
        return None
    factory = factory_call(context, expression)
    if factory is not None:
        if factory.name == PARAMETER:
            args = positional(expression)
            inner = tensor_facts(context, args[0].value, follow_names, _hops) if args else None
            dtype = inner.dtype if inner else None
            device = inner.device if inner else None
            return TensorFacts(PARAMETER, dtype, device, factory.requires_grad, True)
        if factory.device is not None:
            device = device_kind(context, factory.device)
        elif _takes_device_from_data(factory.name, positional(expression)) or defaults_changed(context):
            device = None
        else:
            device = "cpu"
        return TensorFacts(factory.name, factory.dtype, device, factory.requires_grad, True)
    initialized = _initialized_tensor(context, expression)
    if initialized is not None:
        return tensor_facts(context, initialized, follow_names, _hops)
    if not isinstance(expression.func, cst.Attribute):
        return None
    method = expression.func.attr.value
    source = tensor_facts(context, expression.func.value, follow_names, _hops)
    if source is None:
        return None
    if method == "requires_grad_":
        args = positional(expression)
        flag = keyword(expression, "requires_grad")
        value = flag.value if flag is not None else (args[0].value if args else None)
        requires = True if value is None else bool_literal(value)
        leaf = True if source.requires_grad is False else source.is_leaf
        return source.replace(requires_grad=requires, is_leaf=leaf)
    if method == "detach":
        return source.replace(requires_grad=False, is_leaf=True)
    if method == "clone":
        leaf = None if source.requires_grad is None else not source.requires_grad
        return source.replace(is_leaf=leaf)
    if source.requires_grad is False and is_in_place_method(method) and _constant_arguments(expression):
        # ``torch.empty(n, d).normal_(0, 0.02)``: an in-place op returns its receiver, same dtype and device;
        # with only constant arguments nothing can make it require grad
        return source
    return _after_conversion(context, expression, source)


# torch.nn.init's in-place initializers: they fill their tensor argument under no_grad and return it
_INITIALIZERS = frozenset(f"torch.nn.init.{name}_" for name in (
    "constant", "dirac", "eye", "kaiming_normal", "kaiming_uniform", "normal", "ones", "orthogonal", "sparse",
    "trunc_normal", "uniform", "xavier_normal", "xavier_uniform", "zeros"))


def _initialized_tensor(context: "LintContext", call: cst.Call) -> Optional[cst.BaseExpression]:
    """The tensor argument of ``nn.init.normal_(t, ...)``: the call returns that same tensor, flags unchanged."""
    func = call.func
    if type(func) not in (cst.Name, cst.Attribute) or context.qualified_name(func) not in _INITIALIZERS:
        return None
    tensor = keyword(call, "tensor")
    args = positional(call)
    return tensor.value if tensor is not None else (args[0].value if args else None)


def _constant_arguments(call: cst.Call) -> bool:
    """Every argument is a number or bool literal (``normal_(0, 0.02)``, ``uniform_(-0.1, b=0.1)``, ``fill_(1)``)."""
    for arg in call.args:
        value = arg.value
        if type(value) is cst.UnaryOperation and type(value.operator) is cst.Minus:
            value = value.expression
        if not (type(value) in (cst.Integer, cst.Float) or bool_literal(value) is not None) or arg.star:
            return False
    return True


def _self_attribute_facts(context: "LintContext", attribute: cst.Attribute, follow_names: bool,
                          hops: int) -> Optional[TensorFacts]:
    """``self.h`` in a method: the facts of the one value the class assigns to it (``self.h = torch.zeros(1, 4)``),
    when nothing in the file assigns that attribute elsewhere or changes its flag."""
    if not follow_names or hops >= _MAX_NAME_HOPS or type(attribute.value) is not cst.Name:
        return None
    index = current_index()
    if index is None:
        return None
    up = index.ancestors(attribute)
    function = next((node for node in up if type(node) is cst.FunctionDef), None)
    if function is None:
        return None
    klass = up[up.index(function) + 2] if len(up) > up.index(function) + 2 else None
    params = [*function.params.posonly_params, *function.params.params]
    if type(klass) is not cst.ClassDef or not params or params[0].name.value != attribute.value.value:
        return None
    if context.names.binding_of(attribute.value) is None or context.names.binding_of(attribute.value).node is not params[0]:
        return None
    attr = attribute.attr.value
    value = single_self_value(context, klass, attr)
    if value is None:
        return None
    if attr in _attributes_changed_in_place(context):
        return None  # its flag or data may be changed in place
    return tensor_facts(context, value, True, hops + 1)


_CHANGED = "tensors.attributes_changed_in_place"  # key of this analysis in the file's LintContext.facts


def _attributes_changed_in_place(context: "LintContext") -> frozenset:
    """Names X of the file's ``<...>.X.requires_grad_``, ``<...>.X.requires_grad`` and ``<...>.X.data``."""
    found = context.facts.get(_CHANGED)
    if found is None:
        found = context.facts[_CHANGED] = frozenset(
            node.value.attr.value for node in nodes_of(context.module, (cst.Attribute,))
            if node.attr.value in ("requires_grad_", "requires_grad", "data") and type(node.value) is cst.Attribute)
    return found


def _argument_facts(context: "LintContext", name: cst.Name, hops: int) -> Optional[TensorFacts]:
    """Facts of a parameter every call site of the file fills with tensors of the same facts (``describe(torch.ones(2))``),
    when the function changes no flag of it."""
    binding = context.names.binding_of(name)
    if binding is None or binding.kind != "param" or type(binding.node) is not cst.Param:
        return None
    arguments = parameter_arguments(context, binding.node)
    if not arguments:
        return None
    found = [tensor_facts(context, argument, True, hops + 1) for argument in arguments]
    if any(facts is None or facts != found[0] for facts in found):
        return None
    index = current_index()
    function = next((n for n in index.ancestors(binding.node) if type(n) is cst.FunctionDef), None) if index else None
    if function is None:
        return None
    for node in own_nodes_of(function.body, (cst.Attribute,)):
        if node.attr.value in ("requires_grad_", "requires_grad") and type(node.value) is cst.Name \
                and node.value.value == name.value:
            return found[0].replace(requires_grad=None, is_leaf=None)
    return found[0]


def _after_flag_statements(context: "LintContext", name: cst.Name, value: cst.BaseExpression,
                           facts: TensorFacts) -> Optional[TensorFacts]:
    """``facts`` of the value bound to ``name``, as the read of ``name`` sees it after the statements of its scope
    that change the tensor's flag in place (``t.requires_grad_()``, ``t.requires_grad = True``): they change the
    object, wherever they stand. Known only for such statements with a literal flag, on a leaf, in the block of
    the assignment between it and the read (the last one wins); any other change leaves requires_grad unknown."""
    index = current_index()
    assignment = index.number(value) if index is not None else None
    read = index.number(name) if index is not None else None
    if assignment is None or read is None:
        return facts
    parents = index.ancestors(value)
    scope = next((node for node in parents if type(node) in (cst.FunctionDef, cst.Module)), None)
    block = next((node for node in parents if type(node) in (cst.IndentedBlock, cst.Module)), None)
    if scope is None:
        return facts
    binding = context.names.binding_of(name)
    unknown = facts.replace(requires_grad=None, is_leaf=None)
    changes = []  # (position, flag)
    for node in own_nodes_of(scope.body if type(scope) is cst.FunctionDef else scope, (cst.Attribute,)):
        if node.attr.value not in ("requires_grad_", "requires_grad") or type(node.value) is not cst.Name \
                or node.value.value != name.value or context.names.binding_of(node.value) is not binding:
            continue
        up = index.ancestors(node)
        if node.attr.value == "requires_grad" and not (up and type(up[0]) is cst.AssignTarget):
            continue  # a read of the flag
        position = index.number(node)
        if facts.is_leaf is not True or not assignment < position < read or len(up) < 4 or up[3] is not block:
            return unknown
        flag = _flag_statement(node, up)
        if flag is None:
            return unknown
        changes.append((position, flag))
    if not changes:
        return facts
    return facts.replace(requires_grad=max(changes)[1], is_leaf=True)


def _flag_statement(node: cst.Attribute, up) -> Optional[bool]:
    """The literal flag of the statement ``t.requires_grad_(<flag>)`` / ``t.requires_grad = <flag>`` whose
    attribute is ``node`` (``up``: its ancestors, nearest first); None for anything else."""
    if node.attr.value == "requires_grad_":
        call = up[0]
        if not (type(call) is cst.Call and call.func is node and type(up[1]) is cst.Expr):
            return None
        if not call.args:
            return True
        arg = call.args[0]
        if len(call.args) > 1 or arg.star or (arg.keyword is not None and arg.keyword.value != "requires_grad"):
            return None
        return bool_literal(arg.value)
    assign = up[1]
    if type(assign) is not cst.Assign or len(assign.targets) != 1:
        return None
    return bool_literal(assign.value)


def single_assigned_value(context: "LintContext", name: cst.Name) -> Optional[cst.BaseExpression]:
    """The value of the one plain assignment (``name = value``) a read of ``name`` can see, if that is
    the name's only binding in its scope."""
    binding = context.names.binding_of(name)
    if binding is None or binding.kind != "assign":
        return None
    node = binding.node
    if isinstance(node, cst.Assign) and len(node.targets) == 1:
        target = node.targets[0].target
        if isinstance(target, cst.Name) and target.value == name.value:
            return node.value
    if isinstance(node, cst.AnnAssign) and node.value is not None:
        if isinstance(node.target, cst.Name) and node.target.value == name.value:
            return node.value
    return None


def module_attribute_target(context: "LintContext", node: cst.CSTNode) -> Optional[str]:
    """The attribute name when ``node`` (the assignment being visited) stores one value into
    ``self.<attr>`` inside a method of a class that is certainly an nn.Module."""
    if isinstance(node, cst.Assign) and len(node.targets) == 1:
        target = node.targets[0].target
    elif isinstance(node, cst.AnnAssign) and node.value is not None:
        target = node.target
    else:
        return None
    if not (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self"):
        return None
    klass = enclosing_method_class(context.ancestors)
    if klass is None or is_module_class(context, klass) is not True:
        return None
    return target.attr.value


# methods that cast to a floating dtype in ``x.data = x.data.<cast>(...)`` (``to``/``type`` with an argument)
_FLOATING_CASTS = frozenset(["to", "type", *FLOATING_DTYPE_METHODS])


def dtype_swap_operands(statement: cst.CSTNode) -> Optional[Tuple[cst.Attribute, cst.Attribute]]:
    """The two ``.data`` of ``x.data = x.data.to(dtype)`` (or ``.half()``, ``.float()`` ...): the one way to change
    a tensor's dtype while keeping the object (a parameter, a ``.grad``), which ``copy_`` under no_grad cannot do;
    None for any other statement."""
    if not (isinstance(statement, cst.Assign) and len(statement.targets) == 1):
        return None
    target, value = statement.targets[0].target, statement.value
    if not (isinstance(target, cst.Attribute) and target.attr.value == "data"):
        return None
    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)
            and value.func.attr.value in _FLOATING_CASTS):
        return None
    source = value.func.value
    if not (isinstance(source, cst.Attribute) and source.attr.value == "data" and source.value.deep_equals(target.value)):
        return None
    if value.func.attr.value in ("to", "type") and not value.args:
        return None
    return target, source
