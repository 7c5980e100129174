"""A JSON list of findings: path, line, column, end_line, end_column, code, name, severity, message, fix."""
from __future__ import annotations

import json
from typing import Sequence

from autogradlint.rule import Diagnostic


def render(diagnostics: Sequence[Diagnostic], source_lines=None, unsafe: bool = False, style=None) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2) + "\n"
