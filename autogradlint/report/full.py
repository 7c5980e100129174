"""The finding, then the source line it points at with the span underlined (ruff's "full" format)."""
from __future__ import annotations

from typing import List, Sequence

from autogradlint.report.concise import line_of
from autogradlint.rule import Diagnostic


def _snippet(d: Diagnostic, lines: List[str]) -> List[str]:
    if not (1 <= d.line <= len(lines)):
        return []
    text = lines[d.line - 1].rstrip("\r\n").expandtabs(1)
    number = str(d.line)
    gutter = " " * len(number)
    start = max(d.column - 1, 0)
    end = d.end_column - 1 if d.end_line == d.line else len(text)
    width = max(end - start, 1)
    return [
        f"{gutter} |",
        f"{number} | {text}",
        f"{gutter} | {' ' * start}{'^' * width} {d.code}",
        f"{gutter} |",
    ]


def render(diagnostics: Sequence[Diagnostic], source_lines, unsafe: bool = False) -> str:
    out: List[str] = []
    for d in diagnostics:
        out.append(line_of(d, unsafe))
        lines = source_lines(d.path) if source_lines is not None else []
        out.extend(_snippet(d, lines))
        out.append("")
    return "\n".join(out) + ("\n" if out else "")
