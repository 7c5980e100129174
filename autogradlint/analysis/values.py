"""Where a value comes from: the calls (and annotations) that certainly made what an expression holds.

``origins(context, expression)`` follows a value back through this file: a name to every assignment of it, a
parameter to its annotation or to the argument every call site passes (``call_sites``), ``self.x``/``obj.x`` to
every value the class assigns to that attribute, a call of a function of this file to every value it returns.
It stops at calls it cannot look into (``torch.optim.SGD(...)``, ``MyClass()``, ``GradScaler()``): those are the
origins, and the analyses that ask (what is an optimizer, a GradScaler) judge them. None whenever a value on the
way cannot be followed (an import, a tuple target, a parameter without a certain argument, a cycle): then
nothing is known, and rules stay silent.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

import libcst as cst

from autogradlint.analysis.call_sites import parameter_arguments
from autogradlint.analysis.modules import attribute_values, instance_class, own_returns

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

# how many values deep an expression is followed (names, parameters, attributes, returns)
_MAX_DEPTH = 8


def origins(context: "LintContext", expression: cst.BaseExpression) -> Optional[List[cst.BaseExpression]]:
    """The calls that certainly made the value of ``expression`` (a constructor or a function this file does
    not define), and the annotations of parameters annotated with a class (``opt: torch.optim.Adam``); None
    when some way the value may come is not followed."""
    found: List[cst.BaseExpression] = []
    return found if _collect(context, expression, 0, frozenset(), found) else None


def _collect(context: "LintContext", expression: cst.BaseExpression, depth: int, seen: frozenset,
             found: List[cst.BaseExpression]) -> bool:
    if expression is None or depth > _MAX_DEPTH or id(expression) in seen:
        return False
    seen = seen | {id(expression)}
    expression_type = type(expression)
    if expression_type is cst.Call:
        func = expression.func
        if type(func) is cst.Name:
            binding = context.names.binding_of(func)
            if binding is not None and binding.kind == "def" and type(binding.node) is cst.FunctionDef:
                returns = own_returns(binding.node)
                return bool(returns) and all(_collect(context, value, depth + 1, seen, found) for value in returns)
        found.append(expression)
        return True
    if expression_type is cst.Name:
        bindings = context.names.bindings_of(expression)
        return bool(bindings) and all(
            _collect_binding(context, binding, expression.value, depth, seen, found) for binding in bindings)
    if expression_type is cst.Attribute:
        klass = instance_class(context, expression.value)
        if klass is None:
            return False
        values = attribute_values(context, klass, expression.attr.value)
        return bool(values) and all(_collect(context, value, depth + 1, seen, found) for value in values)
    return False


def _collect_binding(context: "LintContext", binding, name: str, depth: int, seen: frozenset,
                     found: List[cst.BaseExpression]) -> bool:
    node = binding.node
    if binding.kind == "param" and type(node) is cst.Param:
        annotation = node.annotation.annotation if node.annotation is not None else None
        default = node.default
        if type(annotation) in (cst.Name, cst.Attribute) and not (type(default) is cst.Name and default.value == "None"):
            found.append(annotation)
            return True
        arguments = parameter_arguments(context, node)
        return bool(arguments) and all(_collect(context, argument, depth + 1, seen, found) for argument in arguments)
    if binding.kind != "assign" or type(node) not in (cst.Assign, cst.AnnAssign) or node.value is None:
        return False
    targets = [t.target for t in node.targets] if type(node) is cst.Assign else [node.target]
    if not any(type(t) is cst.Name and t.value == name for t in targets):
        return False  # a tuple target: which item is this name's is not followed
    return _collect(context, node.value, depth + 1, seen, found)
