"""What is an optimizer: one answer for every rule.

- ``is_torch_optimizer_name``: a class of ``torch.optim`` (``torch.optim.SGD``, ``torch.optim.adamw.AdamW``),
  whose behaviour torch documents (it refuses non-leaf tensors, its ``zero_grad`` sets grads to None);
- ``is_optimizer_name``: also the optimizers of other libraries built on ``torch.optim.Optimizer`` (apex,
  bitsandbytes, transformers, timm's factories, ZeroRedundancyOptimizer);
- ``is_optimizer_class``: a class of this file: True when it subclasses one of those (directly or through
  classes of this file), False when it certainly does not (a home-made optimizer with its own ``step`` and
  ``zero_grad`` is not a torch optimizer: what they do is its own business), None when a base is unknown;
- ``optimizer_value``: the optimizer an expression certainly holds, followed through values rather than names
  (``values.origins``): a constructor of an optimizer class, a function of this file whose every return is one,
  a parameter annotated with one or to which every call site passes one, an attribute every assignment of its
  class sets to one.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Optional

import libcst as cst

from autogradlint.analysis.modules import is_module_base_name, local_class, summary_subclasses
from autogradlint.analysis.torch_api import canonical
from autogradlint.analysis.values import origins
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


def holds_plain_project_object(context: "LintContext", expression: cst.BaseExpression) -> bool:
    """``expression`` certainly holds an instance of a class another file of the project defines that
    subclasses neither an optimizer nor an nn.Module (read from that file's summary: a home-made optimizer, a
    scikit-learn-style model, a config): its ``step``/``zero_grad``/``eval`` are its own. Every origin of
    the value (``values.origins``) must be a call of such a class."""
    found = origins(context, expression)
    if not found:
        return False
    from autogradlint.analysis.project import project_of  # the project is read only when a value needs it

    project = project_of(context)
    for origin in found:
        if type(origin) is not cst.Call or type(origin.func) not in (cst.Name, cst.Attribute):
            return False
        if local_class(context, origin.func) is not None:
            return False
        found_class = project.lookup(context.qualified_name(origin.func))
        if found_class is None or found_class[0] != "class" or not isinstance(found_class[2], dict):
            return False
        info = found_class[2]
        if info.get("decorated") or info.get("dynamic") or summary_subclasses(
                project, info, _module_or_optimizer, _NEUTRAL_BASES | {"object"}) is not False:
            return False
    return True


def _module_or_optimizer(qualified_name: str) -> bool:
    return is_optimizer_name(qualified_name) or is_module_base_name(qualified_name)


class OptimizerValue(FrozenRecord):
    """What is known of the optimizer an expression certainly holds."""

    __slots__ = ("class_name", "torch")

    def __init__(self, class_name: Optional[str], torch: bool) -> None:
        # the qualified name of its class (a class of this file: its name); None when the values disagree
        # torch: an optimizer class of torch.optim itself, whose ``step``/``zero_grad`` behave as torch documents
        self._assign(class_name, torch)


# the base class an annotation may name: any optimizer, not one whose behaviour is torch's own
_OPTIMIZER_BASE = "torch.optim.Optimizer"


def optimizer_value(context: "LintContext", expression: cst.BaseExpression) -> Optional[OptimizerValue]:
    """The optimizer ``expression`` certainly holds: every origin of its value (``values.origins``) is an
    optimizer's constructor or annotation; None when that is not certain."""
    found = origins(context, expression)
    if not found:
        return None
    return _all_of(_origin_value(context, origin) for origin in found)


def _origin_value(context: "LintContext", origin: cst.BaseExpression) -> Optional[OptimizerValue]:
    annotation = type(origin) is not cst.Call
    func = origin if annotation else origin.func  # type: ignore[attr-defined]
    if type(func) not in (cst.Name, cst.Attribute):
        return None
    name = context.qualified_name(func)
    if is_optimizer_name(name):
        return OptimizerValue(name, is_torch_optimizer_name(name) and not (annotation and name == _OPTIMIZER_BASE))
    klass = local_class(context, func)
    if klass is not None and is_optimizer_class(context, klass) is True:
        return OptimizerValue(klass.name.value, False)
    return None


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
