"""Findings grouped by file, as ruff's ``grouped`` format: the path once, then ``line:col CODE severity
[*] message`` for each of its findings, positions aligned, a blank line between files."""
from __future__ import annotations

from itertools import groupby
from typing import List, Sequence

from autogradlint.report.concise import fix_marker
from autogradlint.report.locations import cell_of
from autogradlint.report.style import PLAIN, Style
from autogradlint.rule import Diagnostic


def _line(d: Diagnostic) -> str:
    """The line, or ``cell N:line`` in a notebook."""
    cell = cell_of(d)
    return str(d.line) if cell is None else f"cell {cell}:{d.line}"


def render(diagnostics: Sequence[Diagnostic], source_lines=None, unsafe: bool = False, style: Style = PLAIN) -> str:
    out: List[str] = []
    for path, group in groupby(diagnostics, key=lambda d: d.path):
        findings = list(group)
        line_width = max(len(_line(d)) for d in findings)
        column_width = max(len(str(d.column)) for d in findings)
        out.append(style.paint(path, "bold") + style.paint(":", "cyan"))
        for d in findings:
            position = f"{_line(d):>{line_width}}{style.paint(':', 'cyan')}{d.column:<{column_width}}"
            code = style.paint(d.code, "bold")
            out.append(f"  {position} {code} {style.severity(d.severity, d.severity)} {fix_marker(d, unsafe, style)}{d.message}")
        out.append("")
    return "".join(line + "\n" for line in out)
