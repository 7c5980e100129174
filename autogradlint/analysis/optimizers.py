"""What is an optimizer: one answer for every rule.

- ``is_torch_optimizer_name``: a class of ``torch.optim`` (``torch.optim.SGD``, ``torch.optim.adamw.AdamW``),
  whose behaviour torch documents (it refuses non-leaf tensors, its ``zero_grad`` sets grads to None);
- ``is_optimizer_name``: also the optimizers of other libraries built on ``torch.optim.Optimizer`` (apex,
  bitsandbytes, transformers, timm's factories, ZeroRedundancyOptimizer);
- ``is_optimizer_class``: a class of this file: True when it subclasses one of those (directly or through
  classes of this file), False when it certainly does not (a home-made optimizer with its own ``step`` and
  ``zero_grad`` is not a torch optimizer: what they do is its own business), None when a base is unknown.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import libcst as cst

from autogradlint.analysis.modules import local_class
from autogradlint.analysis.torch_api import canonical

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
