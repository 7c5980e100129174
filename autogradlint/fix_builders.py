"""Helpers rules build their fixes with: node replacements that add or drop an argument, unwrap a block,
name a torch object through the file's own imports, and the like. (The fix engine is autogradlint.fixing.)"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import libcst as cst

from autogradlint.edits import Replacement


def _module_imports(context) -> List[Tuple[str, str]]:
    """(local name, imported dotted name) for every unambiguous module-level import of the file."""
    scope = context.names.module_scope
    found = []
    for local, bindings in scope.bindings.items():
        first = bindings[0]
        if first.kind == "import" and first.target and all(b.kind == "import" and b.target == first.target for b in bindings):
            found.append((local, first.target))
    return found


def _dotted_expression(dotted: str) -> cst.BaseExpression:
    parts = dotted.split(".")
    expression: cst.BaseExpression = cst.Name(parts[0])
    for part in parts[1:]:
        expression = cst.Attribute(value=expression, attr=cst.Name(part))
    return expression


def reference_to(context, qualified_name: str) -> Optional[Tuple[cst.BaseExpression, Optional[Replacement]]]:
    """An expression naming ``qualified_name`` (e.g. ``torch.nn.ModuleList``) for a fix to insert, using what
    the file already imports (``nn.ModuleList`` after ``import torch.nn as nn``, ``ModuleList`` after
    ``from torch.nn import ModuleList``); otherwise ``torch.nn.ModuleList`` plus a Replacement that adds
    ``import torch`` after the file's imports. None when the top-level name is taken by something else."""
    best: Optional[Tuple[int, str]] = None
    for local, target in _module_imports(context):
        if qualified_name == target or qualified_name.startswith(target + "."):
            rest = qualified_name[len(target):]
            candidate = local + rest
            if best is None or len(target) > best[0]:
                best = (len(target), candidate)
    if best is not None:
        return _dotted_expression(best[1]), None
    top = qualified_name.split(".")[0]
    if top in context.names.module_scope.bindings:
        return None  # `torch` means something else in this file: adding `import torch` would change it
    module = context.module
    position = 0
    for index, statement in enumerate(module.body):
        if _is_import_or_docstring(statement, index):
            position = index + 1
        else:
            break
    new_import = cst.SimpleStatementLine(body=[cst.Import(names=[cst.ImportAlias(name=cst.Name(top))])])
    body = list(module.body)
    body.insert(position, new_import)
    return _dotted_expression(qualified_name), Replacement(module, module.with_changes(body=body))


def wrapped_in_container(context, value: cst.BaseExpression, qualified_name: str):
    """Replacement(s) that wrap a plain container literal in ``qualified_name`` (``nn.ModuleList([...])``,
    ``nn.ParameterDict({...})``): a tuple becomes a list, an empty ``[]``/``{}`` no argument. None when
    the container's name cannot be written in this file."""
    reference = reference_to(context, qualified_name)
    if reference is None:
        return None
    container, new_import = reference
    if isinstance(value, (cst.List, cst.Dict)) and not value.elements:
        args = []
    elif isinstance(value, cst.Tuple):
        args = [cst.Arg(value=cst.List(elements=value.elements))]
    else:
        args = [cst.Arg(value=value)]
    wrap = Replacement(value, cst.Call(func=container, args=args))
    return [wrap, new_import] if new_import is not None else wrap


def _is_import_or_docstring(statement: cst.CSTNode, index: int) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            continue
        if index == 0 and isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
            continue
        return False
    return True


def _without_comment(whitespace):
    """The whitespace with the comment of its first line dropped, to copy it without duplicating the comment."""
    if isinstance(whitespace, cst.ParenthesizedWhitespace):
        first_line = cst.TrailingWhitespace(newline=whitespace.first_line.newline)
        return whitespace.with_changes(first_line=first_line, empty_lines=())
    return whitespace


def without_argument(call: cst.Call, argument: cst.Arg) -> cst.Call:
    """``call`` with ``argument`` (one of its args) removed; the new last argument takes the removed one's
    (possibly absent) trailing comma, so ``f(a, b=1)`` gives ``f(a)`` and a multi-line call keeps its layout."""
    args = list(call.args)
    index = next(i for i, arg in enumerate(args) if arg is argument)
    del args[index]
    if not args:
        return call.with_changes(args=(), whitespace_before_args=cst.SimpleWhitespace(""))
    if index == len(args):
        args[-1] = args[-1].with_changes(comma=argument.comma, whitespace_after_arg=argument.whitespace_after_arg)
    return call.with_changes(args=args)


def with_argument(call: cst.Call, argument: cst.Arg) -> cst.Call:
    """``call`` with ``argument`` appended; a trailing comma and the layout of a multi-line call are kept."""
    args = list(call.args)
    if not args:
        return call.with_changes(args=[argument])
    last = args[-1]
    if isinstance(last.comma, cst.Comma):  # a trailing comma: the new argument ends with it
        if len(args) > 1:
            layout = args[-2].comma.whitespace_after
        elif isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
            layout = call.whitespace_before_args
        else:
            layout = cst.SimpleWhitespace(" ")
        own = last.comma.whitespace_after
        if isinstance(layout, cst.ParenthesizedWhitespace) and isinstance(own, cst.ParenthesizedWhitespace):
            # one argument per line: a comment after the last argument stays on its line
            between = layout.with_changes(first_line=own.first_line, empty_lines=own.empty_lines)
            args[-1] = last.with_changes(comma=last.comma.with_changes(whitespace_after=between))
            args.append(argument.with_changes(comma=last.comma.with_changes(whitespace_after=_without_comment(own))))
        else:
            args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=_without_comment(layout)))
            args.append(argument.with_changes(comma=last.comma))
    else:
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                                     whitespace_after_arg=cst.SimpleWhitespace(""))
        args.append(argument.with_changes(whitespace_after_arg=last.whitespace_after_arg))
    return call.with_changes(args=args)


def unwrapped(block: Union[cst.Module, cst.IndentedBlock], statement: cst.BaseCompoundStatement):
    """``block`` (a module or indented block) with ``statement``, one of its statements, replaced by the
    statements of its body, dedented. Comments move along: those above the statement and on its header line
    go before the first body statement, those closing its body go after the last."""
    suite = statement.body
    leading = list(statement.leading_lines)
    if isinstance(suite, cst.SimpleStatementSuite):  # ``with x: y = f()``: the one line becomes a statement line
        inner = [cst.SimpleStatementLine(body=suite.body, trailing_whitespace=suite.trailing_whitespace)]
        closing = []
    else:
        inner = list(suite.body)
        if suite.header.comment is not None:
            leading.append(cst.EmptyLine(comment=suite.header.comment))
        closing = list(suite.footer)
    inner[0] = inner[0].with_changes(leading_lines=leading + list(inner[0].leading_lines))
    body = list(block.body)
    index = next(i for i, node in enumerate(body) if node is statement)
    body[index:index + 1] = inner
    footer = block.footer
    if closing and index + len(inner) < len(body):
        following = body[index + len(inner)]
        body[index + len(inner)] = following.with_changes(leading_lines=closing + list(following.leading_lines))
    elif closing:
        footer = closing + list(footer)
    return block.with_changes(body=body, footer=footer)


def keyword_argument(name: str, value: cst.BaseExpression) -> cst.Arg:
    """The argument ``name=value``, without spaces around ``=`` (PEP 8)."""
    no_space = cst.SimpleWhitespace("")
    equal = cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space)
    return cst.Arg(keyword=cst.Name(name), value=value, equal=equal)


def with_keyword(call: cst.Call, name: str, value: cst.BaseExpression) -> cst.Call:
    """``call`` with its ``name=`` argument set to ``value``: replaced when present, appended otherwise."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return call.with_changes(args=[a.with_changes(value=value) if a is arg else a for a in call.args])
    return with_argument(call, keyword_argument(name, value))


def statement_line(context, node: cst.CSTNode) -> Optional[cst.SimpleStatementLine]:
    """The line that ``node`` (the node being visited: a simple statement, or the whole expression of an
    expression statement) fills on its own; None when it shares its line or sits in a one-line suite."""
    ancestors = context.ancestors
    if len(ancestors) >= 2 and isinstance(ancestors[-1], cst.Expr) and ancestors[-1].value is node:
        node, line = ancestors[-1], ancestors[-2]
    else:
        line = ancestors[-1] if ancestors else None
    if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and line.body[0] is node:
        return line
    return None


def unbound_name(context, candidates: Sequence[str]) -> Optional[str]:
    """The first candidate that the scope of the node being visited (a function or the module) cannot see
    bound: a new loop variable with that name shadows nothing. None when all are taken or in a class body."""
    owner = next((a for a in reversed(context.ancestors) if isinstance(a, (cst.FunctionDef, cst.ClassDef, cst.Module))), None)
    if owner is None or isinstance(owner, cst.ClassDef):
        return None
    scope = context.names.scope_of(owner)
    return next((name for name in candidates if not context.names.lookup(name, scope)), None)


def one_line_loop(line: cst.SimpleStatementLine, target: cst.BaseAssignTargetExpression,
                  iterable: cst.BaseExpression, body: cst.BaseSmallStatement) -> Replacement:
    """Replace ``line`` by ``for <target> in <iterable>: <body>`` on that line, keeping its comments."""
    loop = cst.For(target=target, iter=iterable, leading_lines=line.leading_lines,
                   body=cst.SimpleStatementSuite(body=[body], trailing_whitespace=line.trailing_whitespace))
    return Replacement(line, loop)


def is_plain_value(expression: cst.BaseExpression) -> bool:
    """A name, an attribute of one, a literal or ``not`` of these: evaluating it again has no side effect."""
    if isinstance(expression, cst.UnaryOperation) and isinstance(expression.operator, cst.Not):
        return is_plain_value(expression.expression)
    if isinstance(expression, cst.Attribute):
        return is_plain_value(expression.value) and not isinstance(expression.value, cst.UnaryOperation)
    return isinstance(expression, (cst.Name, cst.Integer, cst.Float, cst.SimpleString))


def conversion_inside(conversion: cst.Call) -> Optional[Replacement]:
    """``Parameter(t).cuda()`` -> ``Parameter(t.cuda())``: the conversion applied to the Parameter's data."""
    parameter = conversion.func.value
    args = [a for a in parameter.args if a.keyword is None and not a.star]
    data = args[0] if args else next((a for a in parameter.args if a.keyword is not None and a.keyword.value == "data"), None)
    if data is None:
        return None
    tensor = data.value
    if not isinstance(tensor, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) and not tensor.lpar:
        tensor = tensor.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    converted = conversion.with_changes(func=conversion.func.with_changes(value=tensor), lpar=[], rpar=[])
    new_args = [arg.with_changes(value=converted) if arg is data else arg for arg in parameter.args]
    return Replacement(conversion, parameter.with_changes(args=new_args, lpar=conversion.lpar, rpar=conversion.rpar))
