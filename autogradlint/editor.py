"""What the language server (autogradlint.server) does with a document, without the protocol: positions in
the units an editor counts, the configuration that applies to a document, linting and fixing its text with
the CLI's own functions, and the edit that suppresses a finding with ``# noqa``.

Nothing here imports pygls: the protocol layer is autogradlint.server.
"""
from __future__ import annotations

import os
import re
from bisect import bisect_right
import threading
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from autogradlint.config import ConfigError, Settings, effective_torch_version, load_settings, nearest_config, parse_torch_version
from autogradlint.documents import source_bytes
from autogradlint.records import Record
from autogradlint.rule import (
    ENGINE_CODES,
    INTERNAL_ERROR,
    Diagnostic,
    RuleInfo,
    SelectionLayer,
    UnknownSelector,
    resolve_selection,
    rules_matching,
)

# The position encodings of LSP 3.17 (PositionEncodingKind): what a column counts
UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"

# LSP's line ends, the engine's too (autogradlint.edits.LineIndex)
_LINE_END = re.compile(r"\r\n|\r|\n")


def units(text: str, encoding: str) -> int:
    """How many code units of ``encoding`` the text is."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF16:
        return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)
    return len(text.encode("utf-8", "surrogatepass"))


class LineMap:
    """A text's lines as LSP counts them (``\\r\\n``, ``\\r`` and ``\\n`` end a line, nothing else: not the form
    feeds and separators ``str.splitlines`` also splits on), and conversions between the engine's 1-based
    character positions, offsets into the text and LSP's 0-based positions in the client's code units."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in _LINE_END.finditer(text)]

    def line_text(self, line0: int) -> str:
        """The line's text without its line end ('' past the end)."""
        if line0 < 0 or line0 >= len(self.starts):
            return ""
        start = self.starts[line0]
        end = self.starts[line0 + 1] if line0 + 1 < len(self.starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def to_client(self, line: int, column: int, encoding: str) -> Tuple[int, int]:
        """LSP's (line, character) of the engine's 1-based (line, column); a column past the line's end is
        its end, a line past the text's end the text's end."""
        line0 = line - 1
        if line0 < 0:
            return 0, 0
        if line0 >= len(self.starts):
            last = len(self.starts) - 1
            return last, units(self.line_text(last), encoding)
        text = self.line_text(line0)
        return line0, units(text[:max(column - 1, 0)], encoding)

    def offset(self, line0: int, character: int, encoding: str) -> int:
        """The offset into the text of LSP's (line, character); past a line's end is its end (the spec's
        rule), past the last line the text's end."""
        if line0 < 0:
            return 0
        if line0 >= len(self.starts):
            return len(self.text)
        text = self.line_text(line0)
        start = self.starts[line0]
        if encoding == UTF32 or text.isascii():
            return start + min(max(character, 0), len(text))
        count = 0
        for index, char in enumerate(text):
            if count >= character:
                return start + index
            count += 1 if encoding == UTF32 else units(char, encoding)
        return start + len(text)

    def client_position_of_offset(self, offset: int, encoding: str) -> Tuple[int, int]:
        """LSP's (line, character) of an offset into the text."""
        line = max(bisect_right(self.starts, offset) - 1, 0)
        return line, units(self.text[self.starts[line]:offset], encoding)


def apply_change(text: str, start: Optional[Tuple[int, int]], end: Optional[Tuple[int, int]], new_text: str,
                 encoding: str) -> str:
    """The text after one ``TextDocumentContentChangeEvent``: ``new_text`` replaces the range between the two
    LSP positions, or the whole text when there is no range."""
    if start is None or end is None:
        return new_text
    lines = LineMap(text)
    begin = lines.offset(start[0], start[1], encoding)
    finish = lines.offset(end[0], end[1], encoding)
    if finish < begin:
        begin, finish = finish, begin
    return text[:begin] + new_text + text[finish:]


# ---------------------------------------------------------------------------------------------------------
# configuration


class ClientSettings(Record):
    """What the editor's settings (initializationOptions, workspace/didChangeConfiguration) say: a rule
    selection applied on top of the configuration file's, as the CLI's flags are, and whether the fix-all
    action also applies unsafe fixes (None: as the configuration file says)."""

    __slots__ = ("layer", "unsafe_fixes", "torch_version", "problems")

    def __init__(self, layer: Optional[SelectionLayer] = None, unsafe_fixes: Optional[bool] = None,
                 torch_version: Optional[Tuple[int, int]] = None, problems: Optional[List[str]] = None) -> None:
        self.layer = SelectionLayer() if layer is None else layer
        self.unsafe_fixes = unsafe_fixes
        self.torch_version = torch_version  # as --torch-version (None: the configuration's, or the project's pin)
        self.problems = [] if problems is None else problems

    @classmethod
    def parse(cls, value: object) -> "ClientSettings":
        """From ``{"autogradlint": {"select": [...], "ignore": [...], "extendSelect": [...], "unsafeFixes": b,
        "torchVersion": "X.Y"}}``
        (or the inner object alone). Unknown selectors are dropped and reported in ``problems``."""
        problems: List[str] = []
        if isinstance(value, dict) and isinstance(value.get("autogradlint"), dict):
            value = value["autogradlint"]
        if not isinstance(value, dict):
            return cls()

        def selectors(*keys: str) -> Optional[List[str]]:
            for key in keys:
                if key not in value or value[key] is None:
                    continue
                raw = value[key]
                if isinstance(raw, str):
                    raw = [part for part in raw.split(",")]
                if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
                    problems.append(f"setting autogradlint.{keys[0]} must be a list of rule codes or names; ignored")
                    return None
                kept = []
                for item in (part.strip() for part in raw):
                    if not item:
                        continue
                    try:
                        rules_matching(item)
                    except UnknownSelector:
                        problems.append(f"setting autogradlint.{keys[0]}: unknown rule code or name '{item}' (ignored)")
                        continue
                    kept.append(item)
                return kept
            return None

        layer = SelectionLayer(select=selectors("select"),
                               extend_select=selectors("extendSelect", "extend-select", "extend_select") or [],
                               ignore=selectors("ignore") or [])
        unsafe = value.get("unsafeFixes", value.get("unsafe-fixes"))
        if unsafe is not None and not isinstance(unsafe, bool):
            problems.append("setting autogradlint.unsafeFixes must be true or false; ignored")
            unsafe = None
        torch_version = None
        raw_version = value.get("torchVersion", value.get("torch-version"))
        if raw_version is not None:
            try:
                torch_version = parse_torch_version(raw_version, "setting autogradlint.torchVersion")
            except ConfigError as error:
                problems.append(f"{error}; ignored")
        return cls(layer, unsafe, torch_version, problems)


class DocumentConfig(Record):
    """Everything linting one document needs from the configuration: the settings (None when the
    configuration file is broken: ``error`` says why), the rules selected for this document (per-file-ignores
    applied), how the CLI would show its path, and whether fix-all applies unsafe fixes."""

    __slots__ = ("settings", "rules", "display", "unsafe", "error", "torch_version")

    def __init__(self, settings: Optional[Settings], rules: List[RuleInfo], display: str, unsafe: bool,
                 error: Optional[str] = None, torch_version: Optional[Tuple[int, int]] = None) -> None:
        self.settings = settings
        self.rules = rules
        self.display = display
        self.unsafe = unsafe
        self.error = error
        self.torch_version = torch_version  # the torch release linted for (None: the newest)

    @property
    def max_size(self) -> int:
        """The configuration's max-file-size in bytes (0: no limit)."""
        return self.settings.max_file_size if self.settings is not None else 0


class ConfigStore:
    """The configuration for each document, found as the CLI finds it (the nearest pyproject.toml with a
    ``[tool.autogradlint]`` table at or above the document), read once and kept until a configuration file
    changes (``invalidate``) or the client's settings do. Thread-safe: the protocol thread invalidates, the
    lint thread reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client = ClientSettings()
        self._folders: List[Path] = []
        self._generation = 0
        # directory -> (generation, config path or None, settings or ConfigError)
        self._by_directory: Dict[str, Tuple[int, Optional[Path], object]] = {}
        self._selection: Dict[Tuple[int, int], Tuple[Settings, List[RuleInfo]]] = {}
        self._client_generation = 0
        self.reported: set = set()  # messages already shown to the user

    # ---- changes (protocol thread)
    def set_folders(self, folders: Sequence[Path]) -> None:
        with self._lock:
            self._folders = sorted({Path(os.path.abspath(f)) for f in folders}, key=lambda p: -len(p.parts))
            self._generation += 1

    def set_client(self, client: ClientSettings) -> None:
        with self._lock:
            self._client = client
            self._client_generation += 1
            self._selection.clear()

    def invalidate(self) -> None:
        """A configuration file was created, changed or deleted: read them again when next needed."""
        with self._lock:
            self._generation += 1
            self._by_directory.clear()
            self._selection.clear()

    @property
    def client(self) -> ClientSettings:
        return self._client

    # ---- reading (lint thread)
    def folder_of(self, path: Path) -> Optional[Path]:
        for folder in self._folders:
            if path == folder or folder in path.parents:
                return folder
        return None

    def _settings_for(self, directory: Path) -> Tuple[Optional[Settings], Optional[str], Optional[Tuple[int, int]]]:
        key = str(directory)
        with self._lock:
            generation = self._generation
            cached = self._by_directory.get(key)
        if cached is not None and cached[0] == generation and _unchanged(cached[1], cached[2]):
            value, _, pinned = cached[2]
            return (value, None, pinned) if isinstance(value, Settings) else (None, str(value), None)
        config_path, parsed = nearest_config(directory)
        stamp = _stamp(config_path)
        pinned = None
        try:
            if config_path is None:
                folder = self.folder_of(directory)
                value: object = Settings(root=(folder or directory).resolve())
            else:
                value = load_settings(config_path, directory, parsed)
            # the CLI's torch version, run from the document's directory: the configuration's, else the
            # project's pin (the client's torchVersion, as --torch-version, is applied by for_document)
            pinned = effective_torch_version(value, None, directory)[0]
        except ConfigError as error:
            value = error
        with self._lock:
            if self._generation == generation:
                self._by_directory[key] = (generation, config_path, (value, stamp, pinned))
        return (value, None, pinned) if isinstance(value, Settings) else (None, str(value), None)

    def for_document(self, path: Optional[Path]) -> DocumentConfig:
        """The configuration of the document at ``path`` (None for a document not on disk: the first workspace
        folder's, else the working directory's)."""
        from autogradlint.config import per_file_rules
        from autogradlint.discovery import display_path

        if path is None:
            directory = self._folders[-1] if self._folders else Path.cwd()
        else:
            directory = path.parent
        settings, error, pinned = self._settings_for(directory)
        client = self._client
        if settings is None:
            return DocumentConfig(None, [], path.name if path is not None else "untitled", False, error)
        key = (id(settings), self._client_generation)
        with self._lock:
            entry = self._selection.get(key)
        # the entry holds its settings: an id is only unique while its object lives
        selected = entry[1] if entry is not None and entry[0] is settings else None
        if selected is None:
            selected = resolve_selection([settings.file_layer, client.layer])
            with self._lock:
                self._selection[key] = (settings, selected)
        if not selected:  # as the CLI, which refuses to run
            return DocumentConfig(settings, [], path.name if path is not None else "untitled", False,
                                  "no rule is selected (the ignores remove every selected rule): nothing would be checked")
        if path is None:
            display = "untitled.py"
            rules = selected
        else:
            display = display_path(str(path), str(settings.root))
            rules = per_file_rules(display, str(path), settings, selected)
        unsafe = settings.unsafe_fixes if client.unsafe_fixes is None else client.unsafe_fixes
        torch_version = client.torch_version if client.torch_version is not None else pinned
        return DocumentConfig(settings, rules, display, unsafe, torch_version=torch_version)


def _stamp(path: Optional[Path]) -> Optional[Tuple[int, int]]:
    if path is None:
        return None
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def _unchanged(config_path: Optional[Path], entry: object) -> bool:
    """Whether the configuration file read for a cached entry is as it was (one stat per lint: an editor that
    does not report file changes still sees an edited pyproject.toml)."""
    return config_path is None or _stamp(config_path) == entry[1]  # type: ignore[index]


# ---------------------------------------------------------------------------------------------------------
# linting and fixing a document's text


def lint_text(text: str, config: DocumentConfig) -> List[Diagnostic]:
    """The CLI's findings for this text (``autogradlint check`` on a file holding it, in its configuration):
    through the runner's process_source, so the rules, noqa handling and time limit are the CLI's."""
    return _lint(source_bytes(text)[0], script_name(config.display), config)


def _lint(data: bytes, display: str, config: DocumentConfig) -> List[Diagnostic]:
    """The CLI's findings for a file of these bytes shown as ``display``."""
    from autogradlint.runner import CHECK, too_large

    if config.max_size and len(data) > config.max_size:  # as the CLI: refused before parsing
        return [too_large(display, len(data), config.max_size)]
    try:
        return _process(data, display, config, CHECK).diagnostics
    except Exception as error:  # a failure of autogradlint's own: one finding, never a crashed server
        return [internal_error(display, error)]


def _fixed(data: bytes, display: str, config: DocumentConfig) -> Optional[bytes]:
    """The bytes ``autogradlint check --fix`` leaves of a file of these bytes; None when it changes nothing
    or the file is over the size limit."""
    from autogradlint.runner import FIX

    if config.max_size and len(data) > config.max_size:
        return None
    return _process(data, display, config, FIX).new_source


def _process(data: bytes, display: str, config: DocumentConfig, mode):
    """The runner's process_source in the configuration (its torch_version only when there is one to give:
    its default is the newest)."""
    from autogradlint.runner import DEFAULT_FILE_TIMEOUT, process_source

    torch = () if config.torch_version is None else (config.torch_version,)
    return process_source(data, display, config.rules, mode, config.unsafe, DEFAULT_FILE_TIMEOUT, *torch)


def script_name(display: str) -> str:
    """The name a text document is linted under: its own, unless that would make the runner read it as a
    notebook file (jupyterlab-lsp sends a notebook's cells as one Python document named like the .ipynb)."""
    return display + ".py" if display.lower().endswith(".ipynb") else display


def internal_error(display: str, error: BaseException) -> Diagnostic:
    return Diagnostic(display, 1, 1, 1, 1, INTERNAL_ERROR[0], INTERNAL_ERROR[1], "error",
                      f"internal error: {type(error).__name__}: {error}. Please report this.")


def fix_all(text: str, config: DocumentConfig) -> Optional[str]:
    """The text ``autogradlint check --fix`` would leave (the fix loop of autogradlint.fixing, unsafe fixes
    as the configuration says); None when it changes nothing or cannot fix."""
    data, encoding = source_bytes(text)
    fixed = _fixed(data, script_name(config.display), config)
    return None if fixed is None else fixed.decode(encoding)


def changed_spans(old: str, new: str) -> List[Tuple[int, int, str]]:
    """(start, end, replacement) of each region of ``old`` that ``new`` changes, whole lines apart, in order:
    an editor applying them moves nothing it does not change (no cursor, mark or fold between two fixes)."""
    import difflib

    from autogradlint.edits import _changed_span

    old_lines = old.splitlines(True)
    new_lines = new.splitlines(True)
    starts = [0]
    for line in old_lines:
        starts.append(starts[-1] + len(line))
    spans = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        # lines that differ are never the same text: there is always a span
        spans.append(_changed_span(old[starts[i1]:starts[i2]], "".join(new_lines[j1:j2]), starts[i1]))
    return spans


# ---------------------------------------------------------------------------------------------------------
# suppressing a finding


# a noqa comment's code list: the codes up to the last one followed by a comma, the end or another comment
# (`# noqa: E501, GL101 because ...` ends at GL101)
_NOQA_CODES = re.compile(r"#\s*noqa\s*:\s*[A-Za-z0-9_\-]+"
                         r"(?:[ \t]*,[ \t]*[A-Za-z0-9_\-]+|[ \t]+[A-Za-z0-9_\-]+(?=[ \t]*(?:,|$|#)))*", re.I)


def noqa_edit(text: str, diagnostic: Diagnostic) -> Optional[Tuple[int, int, str]]:
    """(start offset, end offset, new text) of the edit that suppresses ``diagnostic`` with a ``# noqa`` on
    its line: the code added to the line's ``# noqa: ...`` list, or ``  # noqa: CODE`` appended to the line.
    None where a comment cannot go (the line ends inside a string or with a backslash), for the engine's own
    findings (they cannot be suppressed), and whenever the result would not suppress the finding."""
    from autogradlint.suppression import Suppressions

    if diagnostic.code in ENGINE_CODES:
        return None
    lines = LineMap(text)
    line0 = diagnostic.line - 1
    if line0 < 0 or line0 >= len(lines.starts):
        return None
    comment = _line_end_comment(text, diagnostic.line)
    if comment is False:
        return None
    line_text = lines.line_text(line0)
    start = lines.starts[line0]
    edit: Optional[Tuple[int, int, str]] = None
    if comment is not None:
        column, comment_text = comment
        match = _NOQA_CODES.search(comment_text)
        if match is not None:
            at = start + column + match.end()
            edit = (at, at, f", {diagnostic.code}")
    if edit is None:
        end = start + len(line_text)
        # one trailing space or tab is reused: two spaces before the comment, as PEP 8 has it
        spaces = len(line_text) - len(line_text.rstrip(" \t"))
        padding = "" if spaces >= 2 else " " * (2 - spaces)
        edit = (end, end, f"{padding}# noqa: {diagnostic.code}")
    new_text = text[:edit[0]] + edit[2] + text[edit[1]:]
    if not Suppressions.from_text(new_text).suppresses(diagnostic):
        return None
    return edit


def _line_end_comment(text: str, line: int):
    """How the 1-based ``line`` ends, from Python's tokenizer: ``(column, text)`` of its comment, None when it
    ends in code or nothing, False when a comment cannot be added there (inside a string, after a line
    continuation, or the tokenizer cannot read the file that far)."""
    import io
    import tokenize

    comment = None
    ends = False
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.start[0] > line:
                break
            if token.type == tokenize.COMMENT and token.start[0] == line:
                comment = (token.start[1], token.string)
            if token.type in (tokenize.NEWLINE, tokenize.NL) and token.start[0] == line:
                ends = True
                break
            if token.type == tokenize.ENDMARKER:
                ends = True
                break
            if token.end[0] > line and token.start[0] <= line and token.type not in (tokenize.NEWLINE, tokenize.NL):
                return False  # a token (a multi-line string) runs past the line's end
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    return comment if ends else False


# ---------------------------------------------------------------------------------------------------------
# notebooks: an editor's cells, linted and fixed as the CLI does a .ipynb file holding them


def notebook_bytes(cells: Sequence[Tuple[str, str]]) -> bytes:
    """A Jupyter notebook (nbformat 4) holding the cells, (kind, text) each, kind "code", "markdown" or "raw"."""
    import json

    content = {
        "cells": [dict({"cell_type": kind, "metadata": {}, "source": text},
                       **({"execution_count": None, "outputs": []} if kind == "code" else {}))
                  for kind, text in cells],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(content).encode("utf-8")


def _notebook_display(config: DocumentConfig) -> str:
    from autogradlint.documents import is_notebook_path

    return config.display if is_notebook_path(config.display) else config.display + ".ipynb"


def lint_notebook(cells: Sequence[Tuple[str, str]], config: DocumentConfig) -> List[Diagnostic]:
    """The CLI's findings for a notebook of these cells (each finding's ``cell`` is 1-based over ``cells``)."""
    return _lint(notebook_bytes(cells), _notebook_display(config), config)


def fix_notebook(cells: Sequence[Tuple[str, str]], config: DocumentConfig) -> Optional[List[str]]:
    """Every cell's text as ``autogradlint check --fix`` leaves a notebook of these cells; None when it
    changes nothing or cannot fix."""
    import json

    new_source = _fixed(notebook_bytes(cells), _notebook_display(config), config)
    if new_source is None:
        return None
    fixed = json.loads(new_source.decode("utf-8"))["cells"]
    if len(fixed) != len(cells):
        return None
    return [cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"]) for cell in fixed]
