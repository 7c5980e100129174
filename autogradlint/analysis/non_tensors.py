"""Objects that are certainly not tensors, parameters or modules: what an attribute write on them means.

- argparse: ``args = parser.parse_args()`` of ``parser = argparse.ArgumentParser(...)`` is a Namespace, and
  ``parser.add_argument("--require-grad")`` declares the option ``require_grad`` on it;
- the project's own plain classes declare their attributes (``self.require_grad = ...`` in a method,
  ``require_grad: bool = False`` in the body of a dataclass).

A rule about tensor attributes (GL101 ``p.require_grad = False``) asks these before it speaks.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, FrozenSet

import libcst as cst

from autogradlint.analysis.modules import is_module_class
from autogradlint.walk import nodes_of

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

ARGUMENT_PARSER = "argparse.ArgumentParser"
NAMESPACE = "argparse.Namespace"
_PARSING_METHODS = frozenset({"parse_args", "parse_known_args", "parse_intermixed_args", "parse_known_intermixed_args"})
_OPTIONS = "non_tensors.argparse_options"
_DECLARED = "non_tensors.declared_attributes"


def _is_call_of(context: "LintContext", expression, qualified_name: str) -> bool:
    return (type(expression) is cst.Call and type(expression.func) in (cst.Name, cst.Attribute)
            and context.qualified_name(expression.func) == qualified_name)


def _parser_object(context: "LintContext", expression) -> bool:
    """``argparse.ArgumentParser(...)`` inline, or a name every binding of which assigns one."""
    if _is_call_of(context, expression, ARGUMENT_PARSER):
        return True
    if type(expression) is not cst.Name:
        return False
    return _every_assignment(context, expression, lambda value: _is_call_of(context, value, ARGUMENT_PARSER))


def _every_assignment(context: "LintContext", name: cst.Name, test) -> bool:
    """Every binding of ``name`` is ``name = value`` with ``test(value)`` true (or ``name, rest =
    parser.parse_known_args()``)."""
    bindings = context.names.bindings_of(name)
    if not bindings:
        return False
    for binding in bindings:
        node = binding.node
        if binding.kind != "assign" or type(node) is not cst.Assign or len(node.targets) != 1:
            return False
        target = node.targets[0].target
        if type(target) is cst.Name and target.value == name.value:
            if not test(node.value):
                return False
        elif type(target) is cst.Tuple and target.elements and type(target.elements[0].value) is cst.Name \
                and target.elements[0].value.value == name.value:
            # ``args, rest = parser.parse_known_args()``
            value = node.value
            if not (type(value) is cst.Call and type(value.func) is cst.Attribute
                    and value.func.attr.value in ("parse_known_args", "parse_known_intermixed_args")
                    and _parser_object(context, value.func.value)):
                return False
        else:
            return False
    return True


def _parsed(context: "LintContext", value) -> bool:
    """``parser.parse_args(...)``, ``parser.parse_known_args(...)[0]`` or ``argparse.Namespace(...)``."""
    if _is_call_of(context, value, NAMESPACE):
        return True
    if type(value) is cst.Subscript and len(value.slice) == 1:
        index = value.slice[0].slice
        if type(index) is cst.Index and type(index.value) is cst.Integer and index.value.value == "0":
            value = value.value
    return (type(value) is cst.Call and type(value.func) is cst.Attribute
            and value.func.attr.value in _PARSING_METHODS and _parser_object(context, value.func.value))


def is_argparse_namespace(context: "LintContext", expression: cst.BaseExpression) -> bool:
    """Whether ``expression`` certainly holds an argparse Namespace: a name every binding of which is
    the result of an ArgumentParser's ``parse_args()``/``parse_known_args()`` (or ``argparse.Namespace()``)."""
    if type(expression) is not cst.Name:
        return _parsed(context, expression)
    return _every_assignment(context, expression, lambda value: _parsed(context, value))


def argparse_options(context: "LintContext") -> FrozenSet[str]:
    """The attribute names the file's ``add_argument(...)`` calls declare (``--require-grad`` ->
    ``require_grad``; ``dest=`` when given)."""
    found = context.facts.get(_OPTIONS)
    if found is not None:
        return found
    options = set()
    for call in nodes_of(context.module, (cst.Call,)):
        if type(call.func) is not cst.Attribute or call.func.attr.value != "add_argument":
            continue
        dest = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "dest"), None)
        if type(dest) is cst.SimpleString and isinstance(dest.evaluated_value, str):
            options.add(dest.evaluated_value)
            continue
        flags = [a.value.evaluated_value for a in call.args
                 if a.keyword is None and type(a.value) is cst.SimpleString and isinstance(a.value.evaluated_value, str)]
        long_flags = [f for f in flags if f.startswith("--")]
        chosen = long_flags[0][2:] if long_flags else (flags[0].lstrip("-") if flags else None)
        if chosen:
            options.add(chosen.replace("-", "_"))
    found = context.facts[_OPTIONS] = frozenset(options)
    return found


def is_option_of_parsed_arguments(context: "LintContext", receiver: cst.BaseExpression, attr: str) -> bool:
    """``<receiver>.<attr>`` is an option of parsed command-line arguments, not a tensor attribute: the
    receiver is an argparse Namespace, or a function parameter and the file declares ``attr`` with
    ``add_argument``."""
    if is_argparse_namespace(context, receiver):
        return True
    if attr not in argparse_options(context) or type(receiver) is not cst.Name:
        return False
    bindings = context.names.bindings_of(receiver)
    return bool(bindings) and all(b.kind == "param" for b in bindings)


def attributes_declared_by_plain_classes(context: "LintContext") -> FrozenSet[str]:
    """Attributes that classes of this file that are not certainly nn.Modules declare for themselves
    (``self.X = ...`` in a method, ``X: bool = False`` in the class body)."""
    found = context.facts.get(_DECLARED)
    if found is not None:
        return found
    declared: set = set()
    for node in nodes_of(context.module, (cst.ClassDef,)):
        if is_module_class(context, node) is not True:
            _collect_class_attributes(node, declared)
    found = context.facts[_DECLARED] = frozenset(declared)
    return found


def _collect_class_attributes(classdef: cst.ClassDef, declared: set) -> None:
    for statement in classdef.body.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    declared.add(small.target.value)
                elif isinstance(small, cst.Assign):
                    for t in small.targets:
                        if isinstance(t.target, cst.Name):
                            declared.add(t.target.value)
        elif isinstance(statement, cst.FunctionDef):
            for node in nodes_of(statement.body, (cst.Attribute,)):
                if type(node.value) is cst.Name and node.value.value == "self":
                    declared.add(node.attr.value)
