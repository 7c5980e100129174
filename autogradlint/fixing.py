"""Fixes: from a rule's node replacement to text edits, and applying them to a file safely.

A rule describes its fix as LibCST node replacements on the exact node it flagged; the edit is the span of
the file that the replacement changes, so everything else (comments, formatting, encoding, line endings)
stays byte for byte. ``fix_source`` applies fixes to a fixed point, re-parsing after every pass.
"""
from __future__ import annotations

import os
import re
from typing import List, Optional, Sequence, Tuple, Union

import libcst as cst

from autogradlint.records import FrozenRecord, Record
from autogradlint.rule import AnyRule, Diagnostic, Edit, applicable

_NEWLINE = re.compile(r"\r\n|\r|\n")
MAX_PASSES = 10


class Replacement(FrozenRecord):
    """Replace ``old`` (a node of the file's tree) with ``new`` (a node, or ``cst.RemoveFromParent()``).
    (A Record, not a dataclass: a pre-commit call imports this module, and a dataclass costs half a
    millisecond to create; not a tuple either, which Rule.report would take for a list of replacements.)"""

    __slots__ = ("old", "new")

    def __init__(self, old: cst.CSTNode, new: Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]) -> None:
        self._assign(old, new)


class _Replace(cst.CSTTransformer):
    def __init__(self, old: cst.CSTNode, new) -> None:
        super().__init__()
        self.old = old
        self.new = new

    def on_leave(self, original_node, updated_node):
        if original_node is self.old:
            return self.new
        return updated_node


class LineIndex:
    """Converts between offsets in a text and 1-based (line, column) positions."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]

    def position(self, offset: int) -> Tuple[int, int]:
        low, high = 0, len(self.starts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self.starts[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        return low + 1, offset - self.starts[low] + 1

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1


def edits_for(module: cst.Module, code: str, index: LineIndex, replacements: Sequence[Replacement],
              tree=None, positions=None) -> Optional[Tuple[Edit, ...]]:
    """The text edits that the replacements make to ``code`` (the module's source), one per replacement;
    None when a replacement changes nothing or two of them overlap.

    With the file's TreeIndex and positions, only the statement around each replaced node is regenerated;
    otherwise (or when that statement's text cannot be found exactly) the whole module is."""
    spans = []
    for replacement in replacements:
        span = _statement_span(module, code, index, replacement, tree, positions) if tree is not None else None
        if span is None:
            if module.code != code:
                return None  # the file is not what LibCST gives back: no exact edit can be made
            span = _changed_span(code, module.visit(_Replace(replacement.old, replacement.new)).code, 0)
        if span is None:
            return None
        spans.append(span)
    spans.sort()
    for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
        if start < end:
            return None
    edits = []
    for start, end, content in spans:
        line, column = index.position(start)
        end_line, end_column = index.position(end)
        edits.append(Edit(line, column, end_line, end_column, content))
    return tuple(edits)


def _changed_span(old: str, new: str, offset: int) -> Optional[Tuple[int, int, str]]:
    """(start, end, new text) of the one region where ``new`` differs from ``old``, shifted by ``offset``."""
    if new == old:
        return None
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    return offset + prefix, offset + len(old) - suffix, new[prefix:len(new) - suffix]


def _statement_span(module, code, index, replacement, tree, positions):
    """The changed region, regenerating only the statement that holds the replaced node (with the
    indentation of its blocks); None when that cannot be done exactly."""
    from libcst._nodes.internal import CodegenState

    chain = [replacement.old, *tree.ancestors(replacement.old)]
    statement_at = next((i for i, node in enumerate(chain) if isinstance(node, cst.BaseStatement)), None)
    if statement_at is None:
        return None
    statement = chain[statement_at]
    first = statement.decorators[0] if getattr(statement, "decorators", None) else statement
    where = positions.get(first)
    if where is None:
        return None
    first_line = where.start.line - len(statement.leading_lines)
    if first_line < 1:
        return None
    indents = [
        block.indent if block.indent is not None else module.default_indent
        for block in reversed(chain[statement_at + 1:])
        if isinstance(block, cst.IndentedBlock)
    ]

    def generate(nodes) -> str:
        state = CodegenState(default_indent=module.default_indent, default_newline=module.default_newline,
                             indent_tokens=list(indents))
        for node in nodes:
            node._codegen(state)
        return "".join(state.tokens)

    old_text = generate([statement])
    start = index.offset(first_line, 1)
    if code[start:start + len(old_text)] != old_text:
        return None
    replaced = statement.visit(_Replace(replacement.old, replacement.new))
    if isinstance(replaced, cst.RemovalSentinel):
        new_text = ""
    elif isinstance(replaced, cst.FlattenSentinel):
        new_text = generate(replaced.nodes)
    else:
        new_text = generate([replaced])
    return _changed_span(old_text, new_text, start)


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """``text`` with the (non-overlapping) edits applied."""
    index = LineIndex(text)
    spans = sorted((index.offset(e.line, e.column), index.offset(e.end_line, e.end_column), e.content) for e in edits)
    out = []
    position = 0
    for start, end, content in spans:
        out.append(text[position:start])
        out.append(content)
        position = end
    out.append(text[position:])
    return "".join(out)


class FixResult(Record):
    """What fixing one file did: the new bytes (None when unchanged), the findings fixed and remaining."""

    __slots__ = ("new_source", "fixed", "remaining", "error")

    def __init__(self, new_source: Optional[bytes], fixed: List[Diagnostic], remaining: List[Diagnostic],
                 error: Optional[str] = None) -> None:
        self.new_source = new_source
        self.fixed = fixed
        self.remaining = remaining
        self.error = error


def fix_source(source: bytes, path: str, rules: Sequence[AnyRule], unsafe: bool,
               torch_version: Optional[Tuple[int, int]] = None, max_code_size: Optional[int] = None) -> FixResult:
    """Apply every applicable fix to a file's bytes (a script, or a notebook's code cells: see
    autogradlint.documents), pass after pass, until none is left (or ``MAX_PASSES``). A pass whose result does
    not parse, or a run that does not converge, leaves the file untouched."""
    from autogradlint.documents import InvalidEdit, open_document

    def lint(document):
        return document.lint(rules, max_code_size, torch_version)

    original = open_document(source, path)
    document = original
    fixed: List[Diagnostic] = []
    diagnostics = lint(document)
    for _ in range(MAX_PASSES):
        todo = [d for d in diagnostics if applicable(d, unsafe)]
        if not todo:
            if not fixed:
                return FixResult(None, fixed, diagnostics)
            try:
                new_source = document.data
            except Exception as error:  # a notebook whose layout the writer cannot follow
                return FixResult(None, [], lint(original), f"cannot write the fixed file: {error}")
            return FixResult(new_source if new_source != source else None, fixed, diagnostics)
        chosen: List[Diagnostic] = []
        taken: List[Tuple[tuple, tuple]] = []
        for diagnostic in todo:
            spans = [((e.cell or 0, e.line, e.column), (e.cell or 0, e.end_line, e.end_column)) for e in diagnostic.fix.edits]
            if any(start < other_end and other_start < end for start, end in spans for other_start, other_end in taken):
                continue  # overlapping fixes wait for the next pass
            taken.extend(spans)
            chosen.append(diagnostic)
        # an edit two fixes both make is made once: each fix that needs `import torch` adds the same line at the
        # same place (reference_to), and the file must end with one
        edits: List[Edit] = []
        made = set()
        for diagnostic in chosen:
            for edit in diagnostic.fix.edits:
                key = (edit.cell, edit.line, edit.column, edit.end_line, edit.end_column, edit.content)
                if key not in made:
                    made.add(key)
                    edits.append(edit)
        try:
            document = document.with_edits(edits)
        except InvalidEdit:
            codes = ", ".join(sorted({d.code for d in chosen}))
            return FixResult(None, [], lint(original),
                             f"the fix of {codes} would produce invalid code; the file is left unchanged")
        fixed.extend(chosen)
        diagnostics = lint(document)
    codes = ", ".join(sorted({d.code for d in diagnostics if applicable(d, unsafe)}))
    return FixResult(None, [], lint(original),
                     f"fixes of {codes} did not converge after {MAX_PASSES} passes; the file is left unchanged")


def write_atomically(path: str, data: bytes) -> None:
    """Replace the bytes of the file ``path`` names, keeping what makes it that file:

    - through a symbolic link, the file it points to is written and the link stays a link;
    - a file with other hard links is written in place (the same inode), so that every name sees the fix;
    - otherwise the bytes go to a temporary file in the same directory, given the file's owner, group and
      mode, which then replaces it atomically (a reader never sees half a file); when the owner cannot be
      given (an ordinary user fixing a file it may write but does not own) the file is written in place.

    Raises OSError when the file cannot be written; then it is unchanged."""
    target = os.path.realpath(path)
    status = os.stat(target)
    if status.st_nlink > 1:
        _write_in_place(target, data)
        return
    import tempfile  # here: only --fix writes files

    handle, temporary = tempfile.mkstemp(prefix=".autogradlint-", suffix=".tmp", dir=os.path.dirname(target))
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            if hasattr(os, "fchown"):
                current = os.fstat(out.fileno())
                if (current.st_uid, current.st_gid) != (status.st_uid, status.st_gid):
                    try:
                        os.fchown(out.fileno(), status.st_uid, status.st_gid)
                    except PermissionError:
                        raise _OwnerNotKept() from None
            # after the owner: changing the owner clears the set-user-ID and set-group-ID bits
            if hasattr(os, "fchmod"):
                os.fchmod(out.fileno(), status.st_mode & 0o7777)
            else:  # pragma: no cover
                os.chmod(temporary, status.st_mode & 0o7777)
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except _OwnerNotKept:
        _remove(temporary)
        _write_in_place(target, data)
    except BaseException:
        _remove(temporary)
        raise


class _OwnerNotKept(Exception):
    pass


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_in_place(path: str, data: bytes) -> None:
    """Overwrite the file's bytes through its own inode (owner, mode and hard links stay as they are)."""
    with open(path, "r+b") as out:
        out.write(data)
        out.truncate()
        out.flush()
        os.fsync(out.fileno())


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
