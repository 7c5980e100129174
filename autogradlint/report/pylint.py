"""``path:line: [CODE] message``, as pylint's parseable format and ruff's ``pylint`` format (no column, no
rule name), for tools that read pylint's output."""
from __future__ import annotations

from typing import Sequence

from autogradlint.report.locations import file_position
from autogradlint.rule import Diagnostic


def render(diagnostics: Sequence[Diagnostic], source_lines=None, unsafe: bool = False, style=None) -> str:
    out = []
    for d in diagnostics:
        line, _, _, _, message = file_position(d)
        out.append(f"{d.path}:{line}: [{d.code}] {message}\n")
    return "".join(out)
