"""The fix engine: applying rules' fixes to a file to a fixed point, and writing the file back safely.

``fix_source`` lints the document (a script or a notebook, autogradlint.documents), applies every applicable
fix's edits (autogradlint.edits), re-parses, and goes again until nothing is left to fix; a pass whose result
does not parse leaves the file untouched. ``write_atomically`` writes it back. The helpers rules build their
fixes with live in autogradlint.fix_builders.
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple

from autogradlint.files import remove_quietly
from autogradlint.records import Record
from autogradlint.rule import AnyRule, Diagnostic, Edit, applicable

MAX_PASSES = 10


class FixResult(Record):
    """What fixing one file did: the new bytes (None when unchanged), the findings fixed and remaining."""

    __slots__ = ("new_source", "fixed", "remaining", "error")

    def __init__(self, new_source: Optional[bytes], fixed: List[Diagnostic], remaining: List[Diagnostic],
                 error: Optional[str] = None) -> None:
        self.new_source = new_source
        self.fixed = fixed
        self.remaining = remaining
        self.error = error


def fix_source(source: bytes, path: str, rules: Sequence[AnyRule], unsafe: bool,
               torch_version: Optional[Tuple[int, int]] = None, max_code_size: Optional[int] = None) -> FixResult:
    """Apply every applicable fix to a file's bytes (a script, or a notebook's code cells: see
    autogradlint.documents), pass after pass, until none is left (or ``MAX_PASSES``). A pass whose result does
    not parse, or a run that does not converge, leaves the file untouched."""
    from autogradlint.documents import InvalidEdit, open_document

    def lint(document):
        return document.lint(rules, max_code_size, torch_version)

    original = open_document(source, path)
    document = original
    fixed: List[Diagnostic] = []
    diagnostics = lint(document)
    for _ in range(MAX_PASSES):
        todo = [d for d in diagnostics if applicable(d, unsafe)]
        if not todo:
            if not fixed:
                return FixResult(None, fixed, diagnostics)
            try:
                new_source = document.data
            except Exception as error:  # a notebook whose layout the writer cannot follow
                return FixResult(None, [], lint(original), f"cannot write the fixed file: {error}")
            return FixResult(new_source if new_source != source else None, fixed, diagnostics)
        chosen: List[Diagnostic] = []
        taken: List[Tuple[tuple, tuple]] = []
        for diagnostic in todo:
            spans = [((e.cell or 0, e.line, e.column), (e.cell or 0, e.end_line, e.end_column)) for e in diagnostic.fix.edits]
            if any(start < other_end and other_start < end for start, end in spans for other_start, other_end in taken):
                continue  # overlapping fixes wait for the next pass
            taken.extend(spans)
            chosen.append(diagnostic)
        # an edit two fixes both make is made once: each fix that needs `import torch` adds the same line at the
        # same place (reference_to), and the file must end with one
        edits: List[Edit] = []
        made = set()
        for diagnostic in chosen:
            for edit in diagnostic.fix.edits:
                key = (edit.cell, edit.line, edit.column, edit.end_line, edit.end_column, edit.content)
                if key not in made:
                    made.add(key)
                    edits.append(edit)
        try:
            document = document.with_edits(edits)
        except InvalidEdit:
            codes = ", ".join(sorted({d.code for d in chosen}))
            return FixResult(None, [], lint(original),
                             f"the fix of {codes} would produce invalid code; the file is left unchanged")
        fixed.extend(chosen)
        diagnostics = lint(document)
    codes = ", ".join(sorted({d.code for d in diagnostics if applicable(d, unsafe)}))
    return FixResult(None, [], lint(original),
                     f"fixes of {codes} did not converge after {MAX_PASSES} passes; the file is left unchanged")


def write_atomically(path: str, data: bytes) -> None:
    """Replace the bytes of the file ``path`` names, keeping what makes it that file:

    - through a symbolic link, the file it points to is written and the link stays a link;
    - a file with other hard links is written in place (the same inode), so that every name sees the fix;
    - otherwise the bytes go to a temporary file in the same directory, given the file's owner, group and
      mode, which then replaces it atomically (a reader never sees half a file); when the owner cannot be
      given (an ordinary user fixing a file it may write but does not own) the file is written in place.

    Raises OSError when the file cannot be written; then it is unchanged."""
    target = os.path.realpath(path)
    status = os.stat(target)
    if status.st_nlink > 1:
        _write_in_place(target, data)
        return
    import tempfile  # here: only --fix writes files

    handle, temporary = tempfile.mkstemp(prefix=".autogradlint-", suffix=".tmp", dir=os.path.dirname(target))
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            if hasattr(os, "fchown"):
                current = os.fstat(out.fileno())
                if (current.st_uid, current.st_gid) != (status.st_uid, status.st_gid):
                    try:
                        os.fchown(out.fileno(), status.st_uid, status.st_gid)
                    except PermissionError:
                        raise _OwnerNotKept() from None
            # after the owner: changing the owner clears the set-user-ID and set-group-ID bits
            if hasattr(os, "fchmod"):
                os.fchmod(out.fileno(), status.st_mode & 0o7777)
            else:  # pragma: no cover
                os.chmod(temporary, status.st_mode & 0o7777)
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except _OwnerNotKept:
        remove_quietly(temporary)
        _write_in_place(target, data)
    except BaseException:
        remove_quietly(temporary)
        raise


class _OwnerNotKept(Exception):
    pass


def _write_in_place(path: str, data: bytes) -> None:
    """Overwrite the file's bytes through its own inode (owner, mode and hard links stay as they are)."""
    with open(path, "r+b") as out:
        out.write(data)
        out.truncate()
        out.flush()
        os.fsync(out.fileno())


