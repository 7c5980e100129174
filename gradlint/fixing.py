"""Fixes: from a rule's node replacement to text edits, and applying them to a file safely.

A rule describes its fix as LibCST node replacements on the exact node it flagged; the edit is the span of
the file that the replacement changes, so everything else (comments, formatting, encoding, line endings)
stays byte for byte. ``fix_source`` applies fixes to a fixed point, re-parsing after every pass.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Type, Union

import libcst as cst

from gradlint.rule import Diagnostic, Edit, Fix, Rule

_NEWLINE = re.compile(r"\r\n|\r|\n")
MAX_PASSES = 10


@dataclass(frozen=True)
class Replacement:
    """Replace ``old`` (a node of the file's tree) with ``new`` (a node, or ``cst.RemoveFromParent()``)."""

    old: cst.CSTNode
    new: Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]


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


def edits_for(module: cst.Module, code: str, index: LineIndex, replacements: Sequence[Replacement]) -> Optional[Tuple[Edit, ...]]:
    """The text edits that the replacements make to ``code`` (the module's source), one per replacement;
    None when a replacement changes nothing or two of them overlap."""
    spans = []
    for replacement in replacements:
        new_code = module.visit(_Replace(replacement.old, replacement.new)).code
        if new_code == code:
            return None
        prefix = 0
        limit = min(len(code), len(new_code))
        while prefix < limit and code[prefix] == new_code[prefix]:
            prefix += 1
        suffix = 0
        while suffix < limit - prefix and code[len(code) - 1 - suffix] == new_code[len(new_code) - 1 - suffix]:
            suffix += 1
        spans.append((prefix, len(code) - suffix, new_code[prefix:len(new_code) - suffix]))
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


@dataclass
class FixResult:
    """What fixing one file did: the new bytes (None when unchanged), the findings fixed and remaining."""

    new_source: Optional[bytes]
    fixed: List[Diagnostic] = field(default_factory=list)
    remaining: List[Diagnostic] = field(default_factory=list)
    error: Optional[str] = None


def applicable(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    return fix is not None and bool(fix.edits) and (fix.applicability == "safe" or unsafe)


def _decode(source: bytes) -> Tuple[str, str]:
    module = cst.parse_module(source)
    return module.code, module.encoding


def fix_source(source: bytes, path: str, rules: Sequence[Type[Rule]], unsafe: bool) -> FixResult:
    """Apply every applicable fix, pass after pass, until none is left (or ``MAX_PASSES``).
    A pass whose result does not parse, or a run that does not converge, leaves the file untouched."""
    from gradlint.engine import lint_source

    current = source
    fixed: List[Diagnostic] = []
    diagnostics = lint_source(current, path, rules)
    for _ in range(MAX_PASSES):
        todo = [d for d in diagnostics if applicable(d, unsafe)]
        if not todo:
            return FixResult(current if current != source else None, fixed, diagnostics)
        try:
            text, encoding = _decode(current)
        except Exception as error:  # the previous pass checked it parses; this is defensive
            return FixResult(None, [], lint_source(source, path, rules), f"cannot re-read the file: {error}")
        chosen: List[Diagnostic] = []
        taken: List[Tuple[Tuple[int, int], Tuple[int, int]]] = []
        for diagnostic in todo:
            spans = [((e.line, e.column), (e.end_line, e.end_column)) for e in diagnostic.fix.edits]
            if any(start < other_end and other_start < end for start, end in spans for other_start, other_end in taken):
                continue  # overlapping fixes wait for the next pass
            taken.extend(spans)
            chosen.append(diagnostic)
        new_text = apply_edits(text, [e for d in chosen for e in d.fix.edits])
        try:
            new_bytes = new_text.encode(encoding)
            cst.parse_module(new_bytes)
        except Exception:
            codes = ", ".join(sorted({d.code for d in chosen}))
            return FixResult(None, [], lint_source(source, path, rules),
                             f"the fix of {codes} would produce invalid code; the file is left unchanged")
        fixed.extend(chosen)
        current = new_bytes
        diagnostics = lint_source(current, path, rules)
    codes = ", ".join(sorted({d.code for d in diagnostics if applicable(d, unsafe)}))
    return FixResult(None, [], lint_source(source, path, rules),
                     f"fixes of {codes} did not converge after {MAX_PASSES} passes; the file is left unchanged")


def write_atomically(path: str, data: bytes) -> None:
    """Replace the file's bytes through a temporary file in the same directory, keeping its mode."""
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode
    handle, temporary = tempfile.mkstemp(prefix=".gradlint-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


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
