"""From a rule's node replacement to text edits, and applying edits to a text.

A rule describes its fix as LibCST node replacements on the exact node it flagged (``Replacement``); the edit is
the span of the file that the replacement changes, so everything else (comments, formatting, encoding, line
endings) stays byte for byte.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from typing import Optional, Sequence, Tuple, Union

import libcst as cst

from autogradlint.records import FrozenRecord
from autogradlint.rule import Edit


_NEWLINE = re.compile(r"\r\n|\r|\n")


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
        line = max(bisect_right(self.starts, offset) - 1, 0)
        return line + 1, offset - self.starts[line] + 1

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
