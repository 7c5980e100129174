"""The engine's GL001 findings: a file that does not parse (or must not be parsed) gets one, with the
position and message of Python's own parser when it agrees the code is wrong."""
from __future__ import annotations

import libcst as cst

from autogradlint.rule import SYNTAX_ERROR, Diagnostic
from autogradlint.screening import python_parse


def syntax_error(path: str, error: cst.ParserSyntaxError, source: bytes) -> Diagnostic:
    """One diagnostic for a file LibCST cannot parse; Python's own parser, when it also rejects the
    file, gives the more precise position and message."""
    line, column, message = error.raw_line, error.raw_column + 1, error.message
    try:
        python_parse(source)
    except SyntaxError as python_error:
        if python_error.lineno:
            line, column = python_error.lineno, max(python_error.offset or 1, 1)
            message = python_error.msg
    except (ValueError, RecursionError, MemoryError):
        pass
    else:
        # Python accepts the file: say that it is LibCST's parser, not the code, that fails
        return syntax_finding(path, f"cannot parse: LibCST cannot parse this file, although Python can ({message})",
                               int(line), int(column))
    return syntax_finding(path, f"SyntaxError: {message}", int(line), int(column))


def syntax_finding(path: str, message: str, line: int = 1, column: int = 1) -> Diagnostic:
    """The engine's own GL001 finding for a file it cannot (or must not) parse."""
    return Diagnostic(path, line, column, line, column, SYNTAX_ERROR[0], SYNTAX_ERROR[1], "error", message)
