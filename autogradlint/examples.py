"""What a rule carries besides its code: valid and invalid examples (run by the tests, shown in its
documentation) and evidence (programs run in real torch by the test suite)."""
from __future__ import annotations

from typing import NamedTuple, Optional

# NamedTuples, not dataclasses: a frozen dataclass costs about half a millisecond to create (its methods
# are compiled from generated source), paid by every run that loads a rule


class Valid(NamedTuple):
    """Source that must not produce a finding of the rule."""

    source: str
    why: str = ""
    torch_version: Optional[str] = None  # the torch release it is linted for ("1.13"); None: the newest


class Invalid(NamedTuple):
    """Source that must produce exactly one finding of the rule, at ``line``:``column`` (1-based)."""

    source: str
    line: int
    column: int
    why: str = ""
    fixed: Optional[str] = None  # expected source after the rule's fix, for fixable rules
    torch_version: Optional[str] = None  # the torch release it is linted for ("1.13"); None: the newest


class Outcome(NamedTuple):
    """What running a program in real torch shows.

    ``raises``: exception class name it must raise, with ``message`` a substring of its text;
    ``stdout``: the exact stripped standard output; ``warns``: a substring of an emitted warning.
    A field left at None is not checked; ``raises=None`` with ``clean=True`` means it must not raise.
    """

    raises: Optional[str] = None
    message: Optional[str] = None
    stdout: Optional[str] = None
    warns: Optional[str] = None
    clean: bool = True


class Evidence(NamedTuple):
    """A runnable program showing the pitfall in real torch, and its corrected form."""

    bad: str
    bad_shows: Outcome
    good: str
    good_shows: Outcome
