"""Grad-mode regions: which grad mode a statement runs under, lexically.

Sources of a mode: ``with`` items (``torch.no_grad()``, ``torch.inference_mode()``, ``torch.enable_grad()``,
``torch.set_grad_enabled(<bool literal>)``, several items, nesting) and decorators of the enclosing
function (``@torch.no_grad``, ``@torch.no_grad()``, ``@torch.inference_mode``...). A function body
starts in the caller's mode, which is unknown here unless a decorator fixes it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

import libcst as cst

from gradlint.analysis.torch_api import ENABLE_GRAD, INFERENCE_MODE, NO_GRAD, SET_GRAD_ENABLED

if TYPE_CHECKING:  # pragma: no cover
    from gradlint.engine import LintContext

# the modes a region can have
NO_GRAD_MODE = "no_grad"
INFERENCE = "inference_mode"
ENABLED = "enable_grad"
UNKNOWN = "unknown"  # a grad-mode context whose mode cannot be known statically

# modes in which operations record no graph
GRAD_OFF = frozenset({NO_GRAD_MODE, INFERENCE})


def _bool_literal(expression: cst.BaseExpression) -> Optional[bool]:
    if isinstance(expression, cst.Name) and expression.value in ("True", "False"):
        return expression.value == "True"
    return None


def _mode_argument(call: cst.Call, keyword: str) -> Optional[cst.BaseExpression]:
    for index, arg in enumerate(call.args):
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
        if arg.keyword is None and index == 0 and not arg.star:
            return arg.value
    return None


def mode_of_expression(context: "LintContext", expression: cst.BaseExpression, as_decorator: bool = False) -> Optional[str]:
    """The grad mode a ``with`` item (or, with ``as_decorator``, a decorator) sets, or None when it is
    not a grad-mode context at all. ``UNKNOWN`` when it is one but its mode depends on a variable."""
    if isinstance(expression, cst.Call):
        if not isinstance(expression.func, (cst.Name, cst.Attribute)):
            return None
        name = context.qualified_name(expression.func)
        if name == NO_GRAD:
            return NO_GRAD_MODE
        if name == ENABLE_GRAD:
            return ENABLED
        if name == INFERENCE_MODE:
            argument = _mode_argument(expression, "mode")
            if argument is None:
                return INFERENCE
            literal = _bool_literal(argument)
            if literal is None:
                return UNKNOWN
            return INFERENCE if literal else ENABLED_OR_CALLER
        if name == SET_GRAD_ENABLED:
            argument = _mode_argument(expression, "mode")
            literal = _bool_literal(argument) if argument is not None else None
            if literal is None:
                return UNKNOWN
            return ENABLED if literal else NO_GRAD_MODE
        return None
    if as_decorator and isinstance(expression, (cst.Name, cst.Attribute)):
        # bare decorators work since torch 2.1
        name = context.qualified_name(expression)
        if name == NO_GRAD:
            return NO_GRAD_MODE
        if name == INFERENCE_MODE:
            return INFERENCE
        if name == ENABLE_GRAD:
            return ENABLED
    return None


# inference_mode(False) leaves the caller's mode in place
ENABLED_OR_CALLER = "caller"


def decorator_mode(context: "LintContext", function: cst.FunctionDef) -> Optional[str]:
    """The grad mode a function's decorators put its body in (the innermost decorator wins)."""
    mode: Optional[str] = None
    for decorator in function.decorators:  # listed outermost first; the last applies innermost
        found = mode_of_expression(context, decorator.decorator, as_decorator=True)
        if found is not None and found != ENABLED_OR_CALLER:
            mode = found
    return mode


def grad_mode_at(context: "LintContext", ancestors: Optional[Sequence[cst.CSTNode]] = None) -> Optional[str]:
    """The grad mode in force at the walk's current node (or below ``ancestors``): one of
    ``NO_GRAD_MODE``, ``INFERENCE``, ``ENABLED``, ``UNKNOWN``, or None when no grad-mode context
    encloses it in this function (the caller's mode, normally grad enabled)."""
    chain = context.ancestors if ancestors is None else ancestors
    for index in range(len(chain) - 1, -1, -1):
        node = chain[index]
        below = chain[index + 1] if index + 1 < len(chain) else None
        if isinstance(node, cst.With) and below is node.body:
            for item in reversed(node.items):
                mode = mode_of_expression(context, item.item)
                if mode is not None and mode != ENABLED_OR_CALLER:
                    return mode
        elif isinstance(node, cst.FunctionDef):
            if below is node.body:
                return decorator_mode(context, node)
            return None
        elif isinstance(node, (cst.Lambda, cst.ClassDef)):
            return None
    return None


def with_mode(context: "LintContext", node: cst.With) -> Optional[str]:
    """The grad mode the body of this ``with`` statement runs in, if one of its items sets one."""
    for item in reversed(node.items):
        mode = mode_of_expression(context, item.item)
        if mode is not None and mode != ENABLED_OR_CALLER:
            return mode
    return None
