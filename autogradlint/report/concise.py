"""``path:line:col: CODE message``, one finding a line."""
from __future__ import annotations

from typing import Sequence

from autogradlint.rule import Diagnostic, applicable


def line_of(d: Diagnostic, unsafe: bool = False) -> str:
    """``path:line:col: CODE message``, with ``[*]`` when ``--fix`` (with ``unsafe``) would fix it."""
    marker = "[*] " if applicable(d, unsafe) else ""
    return f"{d.path}:{d.line}:{d.column}: {d.code} {marker}{d.message}"


def render(diagnostics: Sequence[Diagnostic], source_lines=None, unsafe: bool = False) -> str:
    return "".join(line_of(d, unsafe) + "\n" for d in diagnostics)
