"""GitHub Actions workflow commands: one annotation a finding, shown on the pull request's diff.

``::error file=F,line=L,col=C,endLine=EL,endColumn=EC,title=GL101 misspelled-requires-grad::message``, with
error, warning or notice for autogradlint's error, warning and hint. Values are escaped as the Actions runner
unescapes them (actions/toolkit's ``command.ts``): the message (``%``, CR, LF) and the properties (also ``:``
and ``,``), so a file name or message holding them cannot end the command early or forge another one.
Paths are relative to the checkout (``GITHUB_WORKSPACE``) when set, else to the working directory.
"""
from __future__ import annotations

from typing import Sequence

from autogradlint.report.locations import checkout_root, file_position, repository_path
from autogradlint.rule import Diagnostic

COMMANDS = {"error": "error", "warning": "warning", "hint": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def line_of(d: Diagnostic, path: str) -> str:
    line, column, end_line, end_column, message = file_position(d)
    properties = [
        ("file", path),
        ("line", str(line)),
        ("col", str(column)),
        ("endLine", str(max(end_line, line))),
        ("endColumn", str(end_column)),
        ("title", f"{d.code} {d.name}"),
    ]
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{COMMANDS.get(d.severity, 'warning')} {joined}::{escape_data(message)}"


def render(diagnostics: Sequence[Diagnostic], source_lines=None, unsafe: bool = False, style=None) -> str:
    root = checkout_root("GITHUB_WORKSPACE")
    return "".join(line_of(d, repository_path(d.path, root)[0]) + "\n" for d in diagnostics)
