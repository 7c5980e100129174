"""Each finding, then the source lines it spans with the span underlined (ruff's "full" format).

A finding over several lines underlines each of them, up to ``MAX_SPAN_LINES``; a longer one shows its first
lines and a ``...`` row.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

from autogradlint.report.concise import line_of
from autogradlint.report.locations import lines_of
from autogradlint.report.style import PLAIN, Style
from autogradlint.rule import Diagnostic

MAX_SPAN_LINES = 5


def _underlines(d: Diagnostic, lines: List[str]) -> List[Tuple[int, str, int, int]]:
    """(line number, text, start, end) of each shown line of the span; start/end are 0-based, end exclusive."""
    last = min(max(d.end_line, d.line), len(lines))
    shown = []
    for number in range(d.line, min(last, d.line + MAX_SPAN_LINES - 1) + 1):
        # tabs become one space: columns count characters, and the carets must line up under them
        text = lines[number - 1].rstrip("\r\n").expandtabs(1)
        if number == d.line:
            start = max(d.column - 1, 0)
        else:
            start = len(text) - len(text.lstrip())
        if number == d.end_line:
            end = d.end_column - 1 if d.end_line > d.line or d.end_column > d.column else start + 1
        else:
            end = len(text)
        shown.append((number, text, start, min(max(end, start), max(len(text), start + 1))))
    return shown


def _snippet(d: Diagnostic, lines: List[str], style: Style) -> List[str]:
    if not (1 <= d.line <= len(lines)):
        return []
    shown = _underlines(d, lines)
    cut = min(d.end_line, len(lines)) > shown[-1][0]
    gutter_width = len(str(shown[-1][0]))
    bar = style.paint(" " * gutter_width + " |", "blue")
    out = [bar]
    for index, (number, text, start, end) in enumerate(shown):
        out.append(style.paint(f"{number:>{gutter_width}} |", "blue") + f" {text}".rstrip())
        width = end - start
        if width <= 0 and index > 0:
            continue  # a blank line inside the span: nothing to underline
        label = f" {d.code}" if index == len(shown) - 1 and not cut else ""
        carets = style.severity("^" * max(width, 1) + label, d.severity)
        out.append(f"{bar} {' ' * start}{carets}")
    if cut:
        out.append(style.paint(" " * gutter_width + " |", "blue") + " " + style.severity(f"... {d.code}", d.severity))
    out.append(bar)
    return out


def render(diagnostics: Sequence[Diagnostic], source_lines, unsafe: bool = False, style: Style = PLAIN) -> str:
    out: List[str] = []
    for d in diagnostics:
        out.append(line_of(d, unsafe, style))
        lines = lines_of(d, source_lines)  # a notebook finding is shown in its cell's lines
        out.extend(_snippet(d, lines, style))
        out.append("")
    return "\n".join(out) + ("\n" if out else "")
