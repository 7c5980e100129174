"""``# noqa`` handling: per line (``# noqa``, ``# noqa: GL101, misspelled-requires-grad``) and per file
(``# autogradlint: noqa`` on a line of its own, optionally with codes)."""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

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


def _comments(text: str) -> List[Tuple[int, int, str, bool]]:
    """(line, 0-based column, comment text, comment is alone on its line) for every comment of the file."""
    import io
    import tokenize  # here: most files have no noqa comment, and a cached run reads none

    found: List[Tuple[int, int, str, bool]] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                alone = token.line[: token.start[1]].strip() == ""
                found.append((token.start[0], token.start[1], token.string, alone))
        return found
    except (tokenize.TokenError, SyntaxError, IndentationError):
        # tokenize rejects some code LibCST accepts: fall back to a line scan
        found = []
        for number, line in enumerate(text.splitlines(), start=1):
            index = line.find("#")
            if index >= 0:
                found.append((number, index, line[index:], line[:index].strip() == ""))
        return found


class Suppressions:
    def __init__(self) -> None:
        self.by_line: Dict[int, Optional[Set[str]]] = {}
        self.file_level: Optional[Set[str]] = set()  # empty set: nothing suppressed file-wide
        # line -> (0-based column, text) of each line's `# noqa: CODES` comment (bare ones are not kept)
        self.comments: Dict[int, Tuple[int, str]] = {}

    @classmethod
    def from_text(cls, text: str) -> "Suppressions":
        result = cls()
        if "noqa" not in text.lower():
            return result
        for line, column, comment, alone in _comments(text):
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
                if codes is not _ALL:
                    result.comments[line] = (column, comment)
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
    for line, _, comment, _ in _comments(text):
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


# ------------------------------------------------------------------------------------------------------------
# unused suppressions (GL003, opt-in)

_CODE_LIKE = re.compile(r"[A-Za-z]+[0-9]+")


def _noqa_items(comment: str):
    """The ``# noqa:`` directive of a comment: its match, and (start, end, code or None) for each item of its
    code list, up to the first item that is neither a code (``GL101``, ``E501``) nor a rule name: the rest
    is free text. ``code`` is the autogradlint rule code an item names, None for another tool's code."""
    match = re.search(_LINE_NOQA, comment, re.I)
    if match is None or match.group("codes") is None:
        return None, []
    items = []
    for item in re.finditer(r"[A-Za-z0-9_\-]+", comment[match.start("codes"):match.end("codes")]):
        word = item.group(0)
        rule = find_rule(word)
        if rule is None and not _CODE_LIKE.fullmatch(word):
            break
        start = match.start("codes") + item.start()
        items.append((start, start + len(word), rule.code if rule is not None else None))
    return match, items


def _without_items(comment: str, match, items, unused) -> str:
    """The comment with the ``unused`` items of its noqa directive removed (the directive itself when no
    item is left); other text of the comment is kept. An empty string: nothing is left."""
    kept = [comment[start:end] for start, end, code in items if (start, end, code) not in unused]
    codes_end = items[-1][1]
    if kept:
        separator = ", " if "," in comment[items[0][0]:codes_end] else " "
        return comment[:items[0][0]] + separator.join(kept) + comment[codes_end:]
    before, after = comment[:match.start()], comment[codes_end:].strip()
    if before.strip():
        return before.rstrip() + (" " + after if after else "")
    if not after:
        return ""
    return after if after.startswith("#") else "# " + after


def unused_noqa(text: str, path: str, diagnostics: Sequence[Diagnostic], ran: Set[str]) -> List[Diagnostic]:
    """A GL003 finding for every ``# noqa: CODES`` comment that names an autogradlint rule which ran on the file
    (``ran``: the selected rules that did not crash) and found nothing on that line; its safe fix removes the
    unused codes. ``diagnostics`` are the file's findings before suppression. Bare ``# noqa``, other tools'
    codes, rules that did not run and file-level comments are not judged."""
    from autogradlint.rule import Edit, Fix, UNUSED_NOQA, rule_index

    suppressions = Suppressions.from_text(text)
    if not suppressions.comments:
        return []
    found_on = {(d.line, d.code) for d in diagnostics}
    lines = re.split(r"\r\n|\r|\n", text)  # the lines tokenize counts (str.splitlines also splits at form feeds)
    out: List[Diagnostic] = []
    for line, (column, comment) in sorted(suppressions.comments.items()):
        match, items = _noqa_items(comment)
        unused = [item for item in items if item[2] is not None and item[2] in ran and item[2] != UNUSED_NOQA[0]
                  and (line, item[2]) not in found_on]
        if not unused:
            continue
        names = ", ".join(f"{code} ({rule_index()[code].name})" for _, _, code in unused)
        plural = "s" if len(unused) > 1 else ""
        message = (f"unused noqa code{plural} {names}: nothing on this line is reported by {'them' if plural else 'it'}. "
                   f"Remove {'them' if plural else 'it'}")
        new_comment = _without_items(comment, match, items, unused)
        source_line = lines[line - 1] if line - 1 < len(lines) else ""
        end = column + len(comment) + 1
        if new_comment:
            edit = Edit(line, column + 1, line, end, new_comment)
        elif source_line[:column].strip():
            edit = Edit(line, len(source_line[:column].rstrip()) + 1, line, end, "")
        elif line < len(lines):
            edit = Edit(line, 1, line + 1, 1, "")  # a line that held only the comment goes
        else:
            edit = Edit(line, 1, line, end, "")
        first, last = unused[0], unused[-1]
        out.append(Diagnostic(path, line, column + 1 + first[0], line, column + 1 + last[1], UNUSED_NOQA[0],
                              UNUSED_NOQA[1], rule_index()[UNUSED_NOQA[0]].severity, message, Fix("safe", (edit,))))
    return suppressions.filter(out)
