"""``path:line:col: CODE severity [*] message``, one finding a line."""
from __future__ import annotations

from typing import Sequence

from autogradlint.report.locations import cell_of
from autogradlint.report.style import PLAIN, Style
from autogradlint.rule import Diagnostic, applicable


def fix_marker(d: Diagnostic, unsafe: bool, style: Style = PLAIN) -> str:
    """``[*] `` when ``--fix`` (with ``unsafe``) would fix the finding."""
    return style.paint("[*]", "cyan") + " " if applicable(d, unsafe) else ""


def line_of(d: Diagnostic, unsafe: bool = False, style: Style = PLAIN) -> str:
    """``path:line:col: CODE severity [*] message`` (``path:cell N:line:col:`` in a notebook)."""
    colon = style.paint(":", "cyan")
    cell = cell_of(d)
    in_cell = "" if cell is None else f"cell {cell}{colon}"  # a notebook finding: path:cell N:line:col
    where = f"{style.paint(d.path, 'bold')}{colon}{in_cell}{d.line}{colon}{d.column}{colon}"
    code = style.paint(d.code, "bold")
    return f"{where} {code} {style.severity(d.severity, d.severity)} {fix_marker(d, unsafe, style)}{d.message}"


def render(diagnostics: Sequence[Diagnostic], source_lines=None, unsafe: bool = False, style: Style = PLAIN) -> str:
    return "".join(line_of(d, unsafe, style) + "\n" for d in diagnostics)
