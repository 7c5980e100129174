"""What is an optimizer: one answer for every rule.

- ``is_torch_optimizer_name``: a class of ``torch.optim`` (``torch.optim.SGD``, ``torch.optim.adamw.AdamW``),
  whose behaviour torch documents (it refuses non-leaf tensors, its ``zero_grad`` sets grads to None);
- ``is_optimizer_name``: also the optimizers of other libraries built on ``torch.optim.Optimizer`` (apex,
  bitsandbytes, transformers, timm's factories, ZeroRedundancyOptimizer);
- ``is_optimizer_class``: a class of this file: True when it subclasses one of those (directly or through
  classes of this file), False when it certainly does not (a home-made optimizer with its own ``step`` and
  ``zero_grad`` is not a torch optimizer: what they do is its own business), None when a base is unknown;
- ``optimizer_value``: what an expression certainly holds, followed through values rather than names: a
  constructor of an optimizer class, a function of this file whose every return is one, a parameter annotated
  with one or to which every call site passes one, an attribute every assignment of its class sets to one.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional

import libcst as cst

from autogradlint.analysis.call_sites import parameter_arguments
from autogradlint.analysis.modules import attribute_values, instance_class, local_class, returned_values
from autogradlint.analysis.torch_api import canonical
from autogradlint.records import FrozenRecord

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

# optimizer-building functions that are not classes
OPTIMIZER_FACTORIES = frozenset({"timm.optim.create_optimizer", "timm.optim.create_optimizer_v2"})
_NEUTRAL_BASES = frozenset({"builtins.object", "abc.ABC", "typing.Generic"})


def is_torch_optimizer_name(qualified_name: Optional[str]) -> bool:
    """``torch.optim.SGD`` and the other optimizer classes of torch.optim (not its schedulers)."""
    name = canonical(qualified_name)
    if not name or not name.startswith("torch.optim."):
        return False
    parts = name.split(".")
    last = parts[-1]
    return (last[:1].isupper() and "lr_scheduler" not in parts and "swa_utils" not in parts
            and "scheduler" not in last.lower())


def is_optimizer_name(qualified_name: Optional[str]) -> bool:
    """torch.optim.Adam, torch.optim.adamw.AdamW, apex/bitsandbytes/transformers optimizers, timm factories."""
    if not qualified_name:
        return False
    if qualified_name in OPTIMIZER_FACTORIES or is_torch_optimizer_name(qualified_name):
        return True
    parts = qualified_name.split(".")
    last = parts[-1]
    if not last[:1].isupper() or "scheduler" in last.lower() or "swa_utils" in parts or "lr_scheduler" in parts:
        return False
    if parts[0] == "torch":
        return qualified_name == "torch.distributed.optim.ZeroRedundancyOptimizer"
    return any(p in ("optim", "optimizers", "optimization") for p in parts[1:-1]) or qualified_name == "transformers.AdamW"


def is_optimizer_class(context: "LintContext", classdef: cst.ClassDef, _seen: Optional[set] = None) -> Optional[bool]:
    """True when a class of this file certainly subclasses an optimizer class (directly or through classes
    of this file); False when it certainly does not (no base, ``object``, only such classes of this file);
    None when a base is unknown."""
    seen = _seen if _seen is not None else set()
    if id(classdef) in seen:
        return False
    seen.add(id(classdef))
    answer: Optional[bool] = False
    for arg in classdef.bases:
        if arg.keyword is not None:
            if arg.keyword.value == "metaclass":
                continue
            answer = None
            continue
        if arg.star:
            answer = None
            continue
        base = arg.value
        name = context.qualified_name(base) if type(base) in (cst.Name, cst.Attribute) else None
        if is_optimizer_name(name):
            return True
        local = local_class(context, base)
        if local is not None:
            verdict = is_optimizer_class(context, local, seen)
            if verdict:
                return True
            if verdict is None:
                answer = None
            continue
        if name not in _NEUTRAL_BASES:
            answer = None
    return answer


class OptimizerValue(FrozenRecord):
    """What is known of the optimizer an expression certainly holds."""

    __slots__ = ("class_name", "torch")

    def __init__(self, class_name: Optional[str], torch: bool) -> None:
        # the qualified name of its class (a class of this file: its name); None when the values disagree
        # torch: an optimizer class of torch.optim itself, whose ``step``/``zero_grad`` behave as torch documents
        self._assign(class_name, torch)


# how many values deep an expression is followed (names, parameters, attributes, returns)
_MAX_DEPTH = 8
# the base class an annotation may name: any optimizer, not one whose behaviour is torch's own
_OPTIMIZER_BASE = "torch.optim.Optimizer"


def optimizer_value(context: "LintContext", expression: cst.BaseExpression) -> Optional[OptimizerValue]:
    """The optimizer ``expression`` certainly holds, or None when that is not certain (a value we cannot
    follow, call sites that disagree, an assignment that is not an optimizer, a cycle)."""
    return _value(context, expression, 0, set())


def _value(context: "LintContext", expression: cst.BaseExpression, depth: int, seen: set) -> Optional[OptimizerValue]:
    if depth > _MAX_DEPTH or id(expression) in seen:
        return None
    seen = seen | {id(expression)}
    expression_type = type(expression)
    if expression_type is cst.Call:
        return _call_value(context, expression, depth, seen)
    if expression_type is cst.Name:
        bindings = context.names.bindings_of(expression)
        if not bindings:
            return None
        return _all_of(_binding_value(context, binding, expression.value, depth, seen) for binding in bindings)
    if expression_type is cst.Attribute:
        klass = instance_class(context, expression.value)
        if klass is None:
            return None
        values = attribute_values(context, klass, expression.attr.value)
        if not values:
            return None
        return _all_of(None if value is None else _value(context, value, depth + 1, seen) for value in values)
    return None


def _call_value(context: "LintContext", call: cst.Call, depth: int, seen: set) -> Optional[OptimizerValue]:
    func = call.func
    if type(func) not in (cst.Name, cst.Attribute):
        return None
    name = context.qualified_name(func)
    if is_optimizer_name(name):
        return OptimizerValue(name, is_torch_optimizer_name(name))
    if type(func) is not cst.Name:
        return None
    klass = local_class(context, func)
    if klass is not None:
        return OptimizerValue(klass.name.value, False) if is_optimizer_class(context, klass) is True else None
    binding = context.names.binding_of(func)
    if binding is None or binding.kind != "def" or type(binding.node) is not cst.FunctionDef:
        return None
    returns = returned_values(binding.node)
    if not returns:
        return None
    return _all_of(None if value is None else _value(context, value, depth + 1, seen) for value in returns)


def _binding_value(context: "LintContext", binding, name: str, depth: int, seen: set) -> Optional[OptimizerValue]:
    node = binding.node
    if binding.kind == "param" and type(node) is cst.Param:
        annotation = node.annotation.annotation if node.annotation is not None else None
        default = node.default
        if (type(annotation) in (cst.Name, cst.Attribute)
                and not (type(default) is cst.Name and default.value == "None")):
            qualified = context.qualified_name(annotation)
            if is_optimizer_name(qualified):
                return OptimizerValue(qualified, is_torch_optimizer_name(qualified) and qualified != _OPTIMIZER_BASE)
        arguments = parameter_arguments(context, node)
        if not arguments:
            return None
        return _all_of(None if argument is None else _value(context, argument, depth + 1, seen)
                       for argument in arguments)
    if binding.kind != "assign" or type(node) not in (cst.Assign, cst.AnnAssign) or node.value is None:
        return None
    targets = [t.target for t in node.targets] if type(node) is cst.Assign else [node.target]
    if not any(type(t) is cst.Name and t.value == name for t in targets):
        return None  # a tuple target: which item is this name's is not followed
    return _value(context, node.value, depth + 1, seen)


def _all_of(values: Iterable[Optional[OptimizerValue]]) -> Optional[OptimizerValue]:
    """What every value has in common; None as soon as one is not certainly an optimizer."""
    found = None
    for value in values:
        if value is None:
            return None
        if found is None:
            found = value
        else:
            found = OptimizerValue(found.class_name if found.class_name == value.class_name else None,
                                   found.torch and value.torch)
    return found
