"""``path:line:col: CODE message``, one finding a line."""
from __future__ import annotations

from typing import Sequence

from gradlint.rule import Diagnostic


def line_of(d: Diagnostic) -> str:
    return f"{d.path}:{d.line}:{d.column}: {d.code} {d.message}"


def render(diagnostics: Sequence[Diagnostic], source_lines=None) -> str:
    return "".join(line_of(d) + "\n" for d in diagnostics)
