"""What a tensor factory call creates: dtype (from literals and ``dtype=``), ``requires_grad=``, device.

Unknown stays None: rules must stay silent when a fact they need is None.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import libcst as cst

if TYPE_CHECKING:  # pragma: no cover
    from gradlint.engine import LintContext

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
TENSOR_FACTORIES = FLOAT_FACTORIES | LIKE_FACTORIES | DATA_FACTORIES | INT_FACTORIES
PARAMETER = "torch.nn.Parameter"

_DTYPES = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16",
    "complex64": "complex64", "cfloat": "complex64", "complex128": "complex128", "cdouble": "complex128",
    "int8": "int8", "uint8": "uint8", "int16": "int16", "short": "int16", "int32": "int32", "int": "int32",
    "int64": "int64", "long": "int64", "bool": "bool", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
}
FLOATING = frozenset({"float32", "float64", "float16", "bfloat16", "complex64", "complex128"})


def is_integral(dtype: Optional[str]) -> bool:
    """Certainly an integer or bool dtype (None, unknown, is not)."""
    return dtype is not None and dtype not in FLOATING


def dtype_of(context: "LintContext", expression: cst.BaseExpression) -> Optional[str]:
    """``torch.float64`` / ``th.long`` ... -> canonical dtype name; None when not a known torch dtype."""
    if not isinstance(expression, (cst.Name, cst.Attribute)):
        return None
    name = context.qualified_name(expression)
    if name and name.startswith("torch.") and name.count(".") == 1:
        return _DTYPES.get(name[len("torch."):])
    return None


def keyword(call: cst.Call, name: str) -> Optional[cst.Arg]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call):
    return [a for a in call.args if a.keyword is None and not a.star]


def bool_literal(expression: Optional[cst.BaseExpression]) -> Optional[bool]:
    if isinstance(expression, cst.Name) and expression.value in ("True", "False"):
        return expression.value == "True"
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


@dataclass(frozen=True)
class FactoryCall:
    """A call that creates a new tensor: which factory, and what is certain about the result."""

    name: str
    dtype: Optional[str]  # None: unknown
    requires_grad: Optional[bool]  # None: depends on a variable
    device: Optional[cst.BaseExpression]  # the device= argument, if any


def factory_call(context: "LintContext", node: cst.CSTNode) -> Optional[FactoryCall]:
    """The facts of a torch tensor factory call (or ``nn.Parameter(...)``), None for any other node."""
    if not isinstance(node, cst.Call) or not isinstance(node.func, (cst.Name, cst.Attribute)):
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
    device_arg = keyword(node, "device")
    dtype_arg = keyword(node, "dtype")
    if dtype_arg is not None:
        dtype = dtype_of(context, dtype_arg.value)
    else:
        dtype = _implicit_dtype(name, positional(node))
    return FactoryCall(name, dtype, requires, device_arg.value if device_arg is not None else None)


def _implicit_dtype(name: str, args) -> Optional[str]:
    if name in FLOAT_FACTORIES:
        return "float32"
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
