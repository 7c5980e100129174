"""Output formats: one module per format, each exposing ``render(diagnostics, source_lines, unsafe, style)``
and returning the text to print.

Formats are imported when used: a run prints one, and a cached run should not pay for the others.
"""
from __future__ import annotations

import importlib
from collections import Counter
from typing import Callable, Dict, List, Sequence

from autogradlint.rule import SEVERITIES, Diagnostic

SourceLines = Callable[[str], List[str]]

# format name -> module in this package
_MODULES: Dict[str, str] = {
    "full": "full",
    "concise": "concise",
    "grouped": "grouped",
    "json": "json",
    "sarif": "sarif",
    "github": "github",
    "gitlab": "gitlab",
    "junit": "junit",
    "pylint": "pylint",
}
FORMAT_NAMES = tuple(_MODULES)
# the formats a person reads in a terminal: they get colour, the summary line and the fix hints
HUMAN_FORMATS = ("full", "concise", "grouped")


def renderer(name: str) -> Callable[..., str]:
    """The ``render`` function of the format called ``name``."""
    return importlib.import_module(f"{__name__}.{_MODULES[name]}").render


def counted(diagnostics: Sequence[Diagnostic]) -> str:
    """"1 error, 2 warnings and 1 hint": each severity that occurs, counted."""
    counts = Counter(d.severity for d in diagnostics)
    order = list(SEVERITIES) + sorted(set(counts) - set(SEVERITIES))
    parts = [f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in order if counts[s]]
    if not parts:
        return "0 findings"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    if not diagnostics:
        return "All checks passed!"
    return f"Found {counted(diagnostics)}."
