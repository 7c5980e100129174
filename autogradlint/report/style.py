"""Terminal colour for the human formats (full, concise, grouped): on when the report goes to a terminal,
off when piped; ``NO_COLOR`` (https://no-color.org) and ``FORCE_COLOR`` (https://force-color.org) override
that, each when set to a non-empty value, and ``NO_COLOR`` wins when both are set (an opt-out is never
overridden)."""
from __future__ import annotations

import os
from typing import Mapping, Optional

_RESET = "\x1b[0m"
_CODES = {"bold": "1", "red": "31", "yellow": "33", "blue": "34", "cyan": "36"}
# how each severity is painted: errors red, warnings yellow, hints cyan (as compilers and ruff do)
SEVERITY_STYLE = {"error": ("bold", "red"), "warning": ("bold", "yellow"), "hint": ("bold", "cyan")}


def color_wanted(stream, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether to colour what is written to ``stream``."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


class Style:
    """Paints text with ANSI escapes when enabled; a no-op otherwise."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled

    def paint(self, text: str, *styles: str) -> str:
        if not self.enabled or not text or not styles:
            return text
        return "\x1b[" + ";".join(_CODES[s] for s in styles) + "m" + text + _RESET

    def severity(self, text: str, severity: str) -> str:
        return self.paint(text, *SEVERITY_STYLE.get(severity, ("bold",)))


PLAIN = Style(False)
