"""What the CI formats (sarif, github, gitlab) share: paths relative to the repository, and fingerprints.

CI systems resolve a finding's path against the repository's checkout, which is not always the directory
autogradlint runs in (a job step with ``working-directory: src``). The path shown to the user is relative to
the working directory; these formats re-root it at the checkout that the CI system names in its environment
(``GITHUB_WORKSPACE``, ``CI_PROJECT_DIR``) when the file lies inside it.
"""
from __future__ import annotations

import hashlib
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from autogradlint.rule import Diagnostic


def cell_of(d: Diagnostic) -> Optional[int]:
    """The notebook cell a finding is in (its lines and columns are then inside that cell), or None."""
    return getattr(d, "cell", None)


def lines_of(d: Diagnostic, source_lines: Optional[Callable[..., List[str]]]) -> List[str]:
    """The lines a finding's positions count in: its file's, or its notebook cell's."""
    if source_lines is None:
        return []
    cell = cell_of(d)
    return source_lines(d.path) if cell is None else source_lines(d.path, cell)


def file_position(d: Diagnostic) -> Tuple[int, int, int, int, str]:
    """(line, column, end_line, end_column, message) for formats that place a finding in the file itself.
    A notebook finding's positions are inside a cell, not lines of the .ipynb file: it is placed at the file's
    start, its message saying where in which cell (as ruff does for notebooks in these formats)."""
    cell = cell_of(d)
    if cell is None:
        return d.line, d.column, d.end_line, d.end_column, d.message
    return 1, 1, 1, 1, f"cell {cell}, line {d.line}, column {d.column}: {d.message}"


def checkout_root(env_var: Optional[str]) -> str:
    """The directory paths are made relative to: the CI checkout named by ``env_var``, else the working
    directory."""
    named = os.environ.get(env_var) if env_var else None
    return os.path.abspath(named) if named else os.getcwd()


def repository_path(display: str, root: str) -> Tuple[str, bool]:
    """``display`` (relative to the working directory, or absolute) as a forward-slash path relative to
    ``root``; the bool says whether it is relative (False: the file is outside ``root``, the path absolute)."""
    absolute = os.path.abspath(display)
    try:
        relative = os.path.relpath(absolute, root)
    except ValueError:  # another drive (Windows)
        relative = None
    if relative is None or relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return absolute.replace(os.sep, "/"), False
    return relative.replace(os.sep, "/"), True


def fingerprints(diagnostics: Sequence[Diagnostic], paths: Sequence[str],
                 source_lines: Optional[Callable[..., List[str]]]) -> List[str]:
    """A fingerprint for each finding that survives runs and unrelated edits: a hash of the file's
    repository path, the rule's code, the text of the finding's line without its indentation, and which
    occurrence of that (path, code, text) the finding is, counted in position order. Line numbers are left
    out on purpose: adding a line above a finding must not make it a new one."""
    order = sorted(range(len(diagnostics)), key=lambda i: diagnostics[i].sort_key())
    seen: Dict[Tuple[str, str, str], int] = {}
    result = [""] * len(diagnostics)
    for i in order:
        d = diagnostics[i]
        lines = lines_of(d, source_lines)
        text = lines[d.line - 1].strip() if 1 <= d.line <= len(lines) else ""
        cell = cell_of(d)
        key = (paths[i] if cell is None else f"{paths[i]}:cell", d.code, text)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        digest = hashlib.sha256("\0".join(key + (str(occurrence),)).encode("utf-8", "surrogatepass"))
        result[i] = digest.hexdigest()[:32]
    return result
