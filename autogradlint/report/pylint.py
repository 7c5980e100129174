"""``path:line: [CODE] message``, as pylint's parseable format and ruff's ``pylint`` format (no column, no
rule name), for tools that read pylint's output."""
from __future__ import annotations

from typing import Sequence

from autogradlint.rule import Diagnostic


def render(diagnostics: Sequence[Diagnostic], source_lines=None, unsafe: bool = False, style=None) -> str:
    return "".join(f"{d.path}:{d.line}: [{d.code}] {d.message}\n" for d in diagnostics)
