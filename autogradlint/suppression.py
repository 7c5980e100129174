"""``# noqa`` handling: per line (``# noqa``, ``# noqa: GL101, misspelled-requires-grad``) and per file
(``# autogradlint: noqa`` on a line of its own, optionally with codes)."""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Set, Tuple

from autogradlint.rule import ENGINE_CODES, Diagnostic, find_rule

_AUTOGRADLINT_CODE = re.compile(r"GL[0-9]+", re.I)
_NOQA_BYTES = re.compile(rb"noqa\s*:", re.I)
# what follows `noqa:` on its line, and the autogradlint-style codes in it: a cheap superset of the codes a noqa
# comment names, so that a file whose codes all exist is never tokenized
_NOQA_REST_BYTES = re.compile(rb"noqa\s*:([^\r\n]*)", re.I)
_AUTOGRADLINT_CODE_BYTES = re.compile(rb"GL[0-9]+", re.I)

# patterns, compiled by re (and cached there) the first time a file has a noqa comment: most runs never need
# them, and compiling both costs a pre-commit call a millisecond
_LINE_NOQA = r"#\s*noqa(?::\s*(?P<codes>[A-Za-z0-9_\-]+(?:[\s,]+[A-Za-z0-9_\-]+)*))?"
_FILE_NOQA = r"^#\s*autogradlint\s*:\s*noqa(?::\s*(?P<codes>[A-Za-z0-9_\-]+(?:[\s,]+[A-Za-z0-9_\-]+)*))?"

# None in these maps means "every code"
_ALL = None


def _codes(text: Optional[str]) -> Optional[Set[str]]:
    """The rule codes a noqa list names (rule names are turned into codes); None for a bare noqa."""
    if not text:
        return _ALL
    codes: Set[str] = set()
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        rule = find_rule(item)
        codes.add(rule.code if rule is not None else item.upper())
    return codes


def _comments(text: str) -> List[Tuple[int, str, bool]]:
    """(line, comment text, comment is alone on its line) for every comment of the file."""
    import io
    import tokenize  # here: most files have no noqa comment, and a cached run reads none

    found: List[Tuple[int, str, bool]] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                alone = token.line[: token.start[1]].strip() == ""
                found.append((token.start[0], token.string, alone))
        return found
    except (tokenize.TokenError, SyntaxError, IndentationError):
        # tokenize rejects some code LibCST accepts: fall back to a line scan
        found = []
        for number, line in enumerate(text.splitlines(), start=1):
            index = line.find("#")
            if index >= 0:
                found.append((number, line[index:], line[:index].strip() == ""))
        return found


class Suppressions:
    def __init__(self) -> None:
        self.by_line: Dict[int, Optional[Set[str]]] = {}
        self.file_level: Optional[Set[str]] = set()  # empty set: nothing suppressed file-wide

    @classmethod
    def from_text(cls, text: str) -> "Suppressions":
        result = cls()
        if "noqa" not in text.lower():
            return result
        for line, comment, alone in _comments(text):
            file_match = re.match(_FILE_NOQA, comment, re.I)
            if file_match and alone:
                codes = _codes(file_match.group("codes"))
                if codes is _ALL or result.file_level is _ALL:
                    result.file_level = _ALL
                else:
                    result.file_level |= codes
                continue
            match = re.search(_LINE_NOQA, comment, re.I)
            if match:
                codes = _codes(match.group("codes"))
                previous = result.by_line.get(line, set())
                result.by_line[line] = _ALL if codes is _ALL or previous is _ALL else (previous | codes)
        return result

    def suppresses(self, diagnostic: Diagnostic) -> bool:
        if diagnostic.code in ENGINE_CODES:
            return False
        if self.file_level is _ALL or diagnostic.code in self.file_level:
            return True
        if diagnostic.line in self.by_line:
            codes = self.by_line[diagnostic.line]
            return codes is _ALL or diagnostic.code in codes
        return False

    def filter(self, diagnostics: List[Diagnostic]) -> List[Diagnostic]:
        return [d for d in diagnostics if not self.suppresses(d)]


def unknown_noqa_codes(data: bytes) -> List[Tuple[int, str]]:
    """(line, code) for every autogradlint-style code (``GL`` and digits) that a ``# noqa`` or ``# autogradlint: noqa``
    comment names but no rule has; other tools' codes (E501, F401) are not autogradlint's business."""
    if b"noqa" not in data.lower() or not _NOQA_BYTES.search(data):
        return []
    named = {code.upper().decode("ascii") for rest in _NOQA_REST_BYTES.findall(data)
             for code in _AUTOGRADLINT_CODE_BYTES.findall(rest)}
    if all(find_rule(code) is not None or code in ENGINE_CODES for code in named):
        return []
    text = _decoded(data)
    found: List[Tuple[int, str]] = []
    for line, comment, _ in _comments(text):
        match = re.match(_FILE_NOQA, comment, re.I) or re.search(_LINE_NOQA, comment, re.I)
        if not match or not match.group("codes"):
            continue
        for item in re.split(r"[\s,]+", match.group("codes").strip()):
            code = item.upper()
            if _AUTOGRADLINT_CODE.fullmatch(code) and code not in ENGINE_CODES and find_rule(code) is None:
                found.append((line, code))
    return found


def _decoded(data: bytes) -> str:
    """The file's text in its declared encoding; undecodable bytes replaced (only comments are read)."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        return data.decode("utf-8", errors="replace")
