"""Output formats: one module per format, each exposing ``render(diagnostics, sources) -> str``."""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence

from autogradlint.rule import Diagnostic

from . import concise, full, json as json_format

SourceLines = Callable[[str], List[str]]

FORMATS: Dict[str, Callable[..., str]] = {
    "full": full.render,
    "concise": concise.render,
    "json": json_format.render,
}


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    if not diagnostics:
        return "All checks passed!"
    count = len(diagnostics)
    return f"Found {count} error{'s' if count != 1 else ''}."
