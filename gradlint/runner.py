"""Linting (and fixing) many files: one job per file, its outcome, and writing fixed files back."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Type

from gradlint.engine import lint_source
from gradlint.fixing import fix_source, write_atomically
from gradlint.rule import Diagnostic, Rule

CHECK, FIX, DIFF = "check", "fix", "diff"


@dataclass
class FileOutcome:
    """What happened to one file: findings left, fixes made, and its bytes before and after."""

    display: str
    diagnostics: List[Diagnostic] = field(default_factory=list)
    fixed: List[Diagnostic] = field(default_factory=list)
    source: Optional[bytes] = None  # kept only when needed for output (findings or a diff)
    new_source: Optional[bytes] = None  # set when fixing changed the file
    error: Optional[str] = None  # a read or write failure: the user is told, exit code 2
    warning: Optional[str] = None  # a fix that could not be applied


def process_source(data: bytes, display: str, rules: Sequence[Type[Rule]], mode: str, unsafe: bool) -> FileOutcome:
    """Lint (or fix, or diff) one file's bytes; nothing is written here."""
    outcome = FileOutcome(display)
    if mode == CHECK:
        outcome.diagnostics = lint_source(data, display, rules)
    else:
        result = fix_source(data, display, rules, unsafe)
        outcome.diagnostics = result.remaining
        outcome.fixed = result.fixed
        outcome.new_source = result.new_source
        outcome.warning = result.error
    if outcome.diagnostics or outcome.new_source is not None:
        outcome.source = data
    return outcome


def process_file(path: str, display: str, rules: Sequence[Type[Rule]], mode: str, unsafe: bool) -> FileOutcome:
    """Read, lint or fix one file; with ``mode == FIX`` the fixed bytes are written back atomically."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return FileOutcome(display, error=f"{display}: cannot read: {error.strerror or error}")
    outcome = process_source(data, display, rules, mode, unsafe)
    if mode == FIX and outcome.new_source is not None:
        try:
            write_atomically(path, outcome.new_source)
        except OSError as error:
            outcome.error = f"{display}: cannot write the fixed file: {error.strerror or error}"
            outcome.new_source = None
    return outcome
