"""Which classes are nn.Modules, and which class a statement sits in."""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Sequence

import libcst as cst

if TYPE_CHECKING:  # pragma: no cover
    from gradlint.engine import LintContext

# torch.nn names that are not modules
_NN_NON_MODULES = frozenset({"Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer"})

# well-known module base classes outside torch.nn
KNOWN_MODULE_BASES = frozenset(
    {
        "torch.nn.Module",
        "torch.jit.ScriptModule",
        "pytorch_lightning.LightningModule",
        "pytorch_lightning.core.LightningModule",
        "pytorch_lightning.core.module.LightningModule",
        "lightning.LightningModule",
        "lightning.pytorch.LightningModule",
        "lightning.pytorch.core.LightningModule",
        "lightning.pytorch.core.module.LightningModule",
        "transformers.PreTrainedModel",
        "transformers.modeling_utils.PreTrainedModel",
    }
)


def is_module_base_name(qualified_name: Optional[str]) -> bool:
    """Whether an imported class name is certainly an nn.Module class."""
    if qualified_name is None:
        return False
    if qualified_name in KNOWN_MODULE_BASES:
        return True
    parts = qualified_name.split(".")
    if len(parts) == 3 and parts[0] == "torch" and parts[1] == "nn":
        last = parts[2]
        return last[:1].isupper() and last not in _NN_NON_MODULES
    if qualified_name.startswith("torch.nn.modules.") and parts[-1][:1].isupper():
        return parts[-1] not in _NN_NON_MODULES
    return False


def is_module_class(context: "LintContext", classdef: cst.ClassDef, _seen: Optional[set] = None) -> Optional[bool]:
    """True when ``classdef`` certainly subclasses nn.Module (directly, through a known module base,
    or through classes of the same file); False when it certainly does not; None when unknown."""
    seen = _seen if _seen is not None else set()
    if id(classdef) in seen:
        return False
    seen.add(id(classdef))
    if not classdef.bases:
        return False
    answer: Optional[bool] = False
    for arg in classdef.bases:
        if arg.keyword is not None or arg.star:
            answer = None
            continue
        base = arg.value
        if is_module_base_name(context.qualified_name(base)):
            return True
        local = local_class(context, base)
        if local is not None:
            verdict = is_module_class(context, local, seen)
            if verdict:
                return True
            if verdict is None:
                answer = None
            continue
        if context.qualified_name(base) in ("builtins.object", "builtins.Exception", "builtins.dict"):
            continue
        answer = None
    return answer


def local_class(context: "LintContext", expression: cst.BaseExpression) -> Optional[cst.ClassDef]:
    """The class of this file that a name certainly refers to, if any."""
    if not isinstance(expression, cst.Name):
        return None
    binding = context.names.binding_of(expression)
    if binding is not None and binding.kind == "class" and isinstance(binding.node, cst.ClassDef):
        return binding.node
    return None


def enclosing_method_class(ancestors: Sequence[cst.CSTNode]) -> Optional[cst.ClassDef]:
    """The class whose method body the walk is in (the nearest function must sit directly in a class)."""
    for index in range(len(ancestors) - 1, -1, -1):
        node = ancestors[index]
        if isinstance(node, cst.FunctionDef):
            # FunctionDef -> IndentedBlock -> ClassDef when it is a method
            if index >= 2 and isinstance(ancestors[index - 2], cst.ClassDef):
                return ancestors[index - 2]  # type: ignore[return-value]
            return None
        if isinstance(node, cst.ClassDef):
            return None
    return None


def is_self_of_non_module(context: "LintContext", receiver: cst.BaseExpression) -> bool:
    """``self``/``cls`` inside a method of a class that is not certainly an nn.Module."""
    if not (isinstance(receiver, cst.Name) and receiver.value in ("self", "cls")):
        return False
    klass = enclosing_method_class(context.ancestors)
    if klass is None:
        return True
    return is_module_class(context, klass) is not True
