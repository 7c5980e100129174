"""Documents: what is linted, as one Python source plus a map back to where each line came from.

A script is its own source. A Jupyter notebook becomes one program, its code cells joined in order (a model
defined in cell 3 is known in cell 7), with IPython syntax (magics, shell escapes, help) replaced line for line
by Python that no rule reacts to; findings and fix edits are mapped back to (cell, line, column). The engine,
the walk and the rules only ever see the program: they never know which kind of document it came from.

The runner and the CLI (and the language server) use ``open_document`` / ``NotebookDocument.from_cells``,
then ``lint``, ``with_edits`` and ``data``.
"""
from __future__ import annotations

import bisect
import json
import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

from autogradlint.records import Record
from autogradlint.rule import SYNTAX_ERROR, AnyRule, Diagnostic, Edit, Fix

NOTEBOOK_SUFFIX = ".ipynb"
CODE, MARKDOWN, RAW = "code", "markdown", "raw"

# lines as LibCST and the fixer count them: \r\n, \r and \n end a line (str.splitlines knows more)
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class InvalidEdit(ValueError):
    """Edits that cannot be applied to a document (their result would not parse, or cannot be written)."""


# a notebook's file holds its outputs too (plots of megabytes): max-file-size limits its code, and the file may be
# this many times larger
NOTEBOOK_FILE_FACTOR = 64


def is_notebook_path(path: str) -> bool:
    return path.lower().endswith(NOTEBOOK_SUFFIX)


def file_size_limit(path: str, max_size: Optional[int]) -> Optional[int]:
    """How many bytes of the file may be read under max-file-size (None or 0: no limit)."""
    return max_size * NOTEBOOK_FILE_FACTOR if max_size and is_notebook_path(path) else max_size


def open_document(data: bytes, path: str):
    """The document for a file's bytes: a notebook when the name ends in .ipynb, else a script."""
    if is_notebook_path(path):
        # the runner asks for a notebook's noqa codes, its findings and the lines shown under them: it is read once
        global _LAST_NOTEBOOK
        if _LAST_NOTEBOOK is not None and _LAST_NOTEBOOK[0] is data and _LAST_NOTEBOOK[1] == path:
            return _LAST_NOTEBOOK[2]
        document = NotebookDocument.from_bytes(data, path)
        _LAST_NOTEBOOK = (data, path, document)
        return document
    return ScriptDocument(data, path)


_LAST_NOTEBOOK: Optional[Tuple[bytes, str, "NotebookDocument"]] = None


def unknown_noqa(data: bytes, path: str) -> List[Tuple[str, str]]:
    """(where, code) for every unknown autogradlint code a ``# noqa`` comment of the file names; ``where`` is the
    line (``cell N:line`` in a notebook)."""
    if is_notebook_path(path):
        return open_document(data, path).unknown_noqa()  # its outputs are not looked into
    if b"noqa" not in data.lower():
        return []
    return ScriptDocument(data, path).unknown_noqa()


def shown_bytes(data: bytes, path: str) -> bytes:
    """What of a file's bytes the report needs (the lines under findings, a diff): a script's bytes; for a
    notebook, its cells' kinds and sources only, so that a run keeps no outputs in memory."""
    if not is_notebook_path(path):
        return data
    document = open_document(data, path)
    if document.problem is not None:
        return b""
    cells = [{"cell_type": cell.kind, "source": cell.text} for cell in document.cells]
    return json.dumps({"cells": cells, "nbformat": 4}).encode("utf-8")


def split_lines(text: str) -> List[str]:
    """``text``'s lines, each with its line end (as the fixer and LibCST count lines)."""
    return _LINES.findall(text)


def _lint_program(source: bytes, path: str, rules: Sequence[AnyRule], torch_version=None,
                  project=None, module=None, keep_tree=None) -> List[Diagnostic]:
    from autogradlint.engine import lint_source  # here: a cached run never imports the engine

    if torch_version is None:
        return lint_source(source, path, rules, project=project, module=module, keep_tree=keep_tree)
    return lint_source(source, path, rules, torch_version, project, module, keep_tree)


# ------------------------------------------------------------------------------------------------ scripts


class ScriptDocument:
    """A Python file (or editor buffer): the source is the file's bytes, positions are the file's own."""

    is_notebook = False

    def __init__(self, data: bytes, path: str, module=None) -> None:
        self.data = data
        self.path = path
        # the LibCST tree of ``data`` once it is parsed (linting parses it; a fixed document is parsed to check
        # the fix): the fixer's next lint and edits reuse it
        self.module = module

    def lint(self, rules: Sequence[AnyRule], max_code_size: Optional[int] = None, torch_version=None,
             project=None) -> List[Diagnostic]:
        """Every finding of ``rules`` (for ``torch_version``, default the newest; ``project`` the file's
        ProjectContext), noqa applied, sorted (the file's size was checked when it was read)."""
        return _lint_program(self.data, self.path, rules, torch_version, project, self.module, self._keep_tree)

    def _keep_tree(self, module) -> None:
        self.module = module

    def unknown_noqa(self) -> List[Tuple[str, str]]:
        """(where, code) for each unknown autogradlint code in a noqa comment; ``where`` is the line."""
        from autogradlint.suppression import unknown_noqa_codes

        return [(str(line), code) for line, code in unknown_noqa_codes(self.data)]

    def with_edits(self, edits: Sequence[Edit]) -> "ScriptDocument":
        """The document with the (non-overlapping) edits applied; InvalidEdit when the result does not parse."""
        import libcst as cst

        from autogradlint.edits import apply_edits

        try:
            module = self.module if self.module is not None else cst.parse_module(self.data)
            new_bytes = apply_edits(module.code, edits).encode(module.encoding)
            new_module = cst.parse_module(new_bytes)
        except Exception as error:
            raise InvalidEdit(str(error)) from None
        return ScriptDocument(new_bytes, self.path, new_module)

    def pieces(self) -> List[Tuple[Optional[int], str]]:
        """(cell, text) of each part of the document shown to the user: for a script, the whole file."""
        return [(None, decode_text(self.data))]


def decode_text(data: bytes) -> str:
    """A Python file's bytes as text, in its declared encoding (for showing it)."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return data.decode("utf-8", errors="replace")


# PEP 263: the encoding a source file declares in one of its first two lines
_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def declared_encoding(text: str) -> str:
    """The encoding the text declares (PEP 263), utf-8 when it declares none or one Python does not know."""
    import codecs

    for line in text.splitlines()[:2]:
        match = _CODING.match(line)
        if match:
            try:
                return codecs.lookup(match.group(1)).name
            except LookupError:
                return "utf-8"
        if line.strip() and not line.lstrip().startswith("#"):
            break
    return "utf-8"


def source_bytes(text: str) -> Tuple[bytes, str]:
    """The bytes of a source text (an editor's buffer, the lines flake8 decoded) as the file would hold them (in
    its declared encoding, so that the engine reads exactly this text back), and that encoding."""
    encoding = declared_encoding(text)
    try:
        return text.encode(encoding), encoding
    except (UnicodeEncodeError, LookupError):
        # a character the declared encoding cannot hold: the engine will say it cannot decode the file
        return text.encode("utf-8", "surrogatepass"), "utf-8"


# ------------------------------------------------------------------------------------------------ IPython

# cell magics whose body is Python that IPython runs (and so is linted); the body of any other (%%bash, %%html,
# %%writefile ...) is not Python, and is left out
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "python", "python3", "pypy"})
# line magics whose argument is one Python statement that IPython runs: linted, in place
_STATEMENT_MAGIC = re.compile(r"([ \t]*)%(time|timeit)(?:[ \t]+-[nrp][ \t]*\d+|[ \t]+-[tcqo])*[ \t]+(?=\S)")
_CELL_MAGIC = re.compile(r"%%([A-Za-z_][\w-]*)")
# a cell that has none of these can hold no IPython syntax (the common case: nothing to look at line by line)
_MAYBE_IPYTHON = re.compile(r"^[ \t]*[%!?]|\?[ \t]*$|=[ \t]*[%!]", re.M)
_HELP = re.compile(r"[ \t]*(?:\?{1,2}[\w.%]|[\w.%]+(?:\(\))?\?{1,2}[ \t]*$)")
_ASSIGNED_MAGIC = re.compile(r"[ \t]*[A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=[ \t]*[%!]")
# what on a line of Python opens or closes a string, a comment or a bracket
_TOKENS = re.compile(r"#|\"\"\"|'''|\"(?:\\.|[^\"\\\r\n])*(?:\"|$)|'(?:\\.|[^'\\\r\n])*(?:'|$)|[()\[\]{}]")
_PLACEHOLDER = "pass"


class _Masked(Record):
    """A code cell as Python: its text, the lines that were IPython (opaque to fixes), and the lines whose
    Python was moved left (by how many characters, for positions)."""

    __slots__ = ("text", "opaque", "shifts")

    def __init__(self, text: str, opaque: Set[int], shifts: Dict[int, int]) -> None:
        self.text = text
        self.opaque = opaque
        self.shifts = shifts


def _line_end(line: str) -> str:
    body = line.rstrip("\r\n")
    return line[len(body):]


def mask_ipython(text: str) -> _Masked:
    """The cell's text as Python, line for line: IPython's magic lines (``%matplotlib inline``), shell escapes
    (``!pip install x``), help (``x?``, ``??x``) and assigned magics (``files = !ls``) become ``pass`` at their
    indentation; ``%time stmt``/``%timeit stmt`` become ``stmt`` (moved left, noted in ``shifts``); the first
    line of a ``%%time``/``%%capture`` cell becomes ``pass`` and its body stays, every line of another cell
    magic (``%%bash``, ``%%html``) becomes empty. Lines inside strings and brackets are never taken for IPython."""
    opaque: Set[int] = set()
    shifts: Dict[int, int] = {}
    cell_magic = text.lstrip().startswith("%%")
    if not cell_magic and not _MAYBE_IPYTHON.search(text):
        return _Masked(text, opaque, shifts)
    lines = split_lines(text)
    if cell_magic:
        first = next(i for i, line in enumerate(lines) if line.strip())
        match = _CELL_MAGIC.match(lines[first].lstrip())
        if match is None or match.group(1) not in PYTHON_CELL_MAGICS:
            return _Masked("".join(_line_end(line) for line in lines), set(range(1, len(lines) + 1)), {})
        lines[first] = _PLACEHOLDER + _line_end(lines[first])
        opaque.add(first + 1)
    depth = 0
    open_string: Optional[str] = None
    magic_continues = python_continues = False
    for number, line in enumerate(lines, start=1):
        if number in opaque:
            continue
        end = _line_end(line)
        body = line[:len(line) - len(end)]
        if magic_continues:  # a magic line ending in a backslash goes on here
            opaque.add(number)
            magic_continues = body.endswith("\\")
            lines[number - 1] = end
            continue
        at_statement_start = open_string is None and depth == 0 and not python_continues
        if at_statement_start:
            stripped = body.lstrip(" \t")
            indent = body[:len(body) - len(stripped)]
            statement = _STATEMENT_MAGIC.match(body)
            if statement is not None and not body.endswith("\\"):
                shift = statement.end() - len(statement.group(1))
                body = statement.group(1) + body[statement.end():]
                lines[number - 1] = body + end
                shifts[number] = shift
                opaque.add(number)
            elif stripped[:1] in ("%", "!") or _HELP.match(body) or _ASSIGNED_MAGIC.match(body):
                opaque.add(number)
                magic_continues = body.endswith("\\")
                lines[number - 1] = indent + _PLACEHOLDER + end
                continue
        depth, open_string = _scan(body, depth, open_string)
        python_continues = open_string is None and body.endswith("\\") and not _in_comment(body)
    return _Masked("".join(lines), opaque, shifts)


def _in_comment(body: str) -> bool:
    """Whether the line has a comment (then a trailing backslash is the comment's, not a continuation)."""
    return any(match.group() == "#" for match in _TOKENS.finditer(body))


def _scan(body: str, depth: int, open_string: Optional[str]) -> Tuple[int, Optional[str]]:
    """The bracket depth and open triple-quoted string after one line of Python."""
    position = 0
    while True:
        if open_string is not None:
            close = re.compile(r"(?:\\.|[^\\])*?" + re.escape(open_string), re.S).match(body, position)
            if close is None:
                return depth, open_string
            position = close.end()
            open_string = None
        match = _TOKENS.search(body, position)
        if match is None:
            return depth, None
        token = match.group()
        position = match.end()
        if token == "#":
            return depth, None
        if token in ('"""', "'''"):
            open_string = token
        elif token in "([{":
            depth += 1
        elif token in ")]}":
            depth = max(depth - 1, 0)


# ------------------------------------------------------------------------------------------------ notebooks


class Cell(Record):
    """One cell: its kind ("code", "markdown", "raw" ...) and text; ``as_list`` when the file holds its source
    as a list of lines (nbformat's way) rather than one string."""

    __slots__ = ("kind", "text", "as_list")

    def __init__(self, kind: str, text: str, as_list: bool = True) -> None:
        self.kind = kind
        self.text = text
        self.as_list = as_list


class NotebookDocument:
    """A Jupyter notebook (nbformat 4) as one program: its code cells, IPython masked, joined in cell order.

    ``cells`` are all the notebook's cells, as Jupyter lists them; a finding's ``cell`` is 1-based over them,
    its line and column inside that cell. ``problem`` is set (and ``lint`` reports only it) when the file is not
    a notebook autogradlint can read."""

    is_notebook = True

    def __init__(self, path: str, cells: Sequence[Cell], raw: Optional[str] = None,
                 problem: Optional[Diagnostic] = None, is_python: bool = True, bom: bool = False) -> None:
        self.path = path
        self.cells = list(cells)
        self.problem = problem
        self.is_python = is_python
        self._raw = raw  # the file's text, for splicing changed sources into it
        self._bom = bom
        self._original: Optional[List[Cell]] = None  # the cells as the file holds them (set on with_edits)
        self._build()

    # ---------------------------------------------------------------- building
    @classmethod
    def from_cells(cls, path: str, cells: Sequence[Tuple[str, str]], language: str = "python") -> "NotebookDocument":
        """A notebook from (kind, text) pairs, e.g. an editor's notebook cells (kind "code" for Python cells)."""
        return cls(path, [Cell(kind, text) for kind, text in cells], is_python=_is_python_language(language))

    @classmethod
    def from_bytes(cls, data: bytes, path: str) -> "NotebookDocument":
        """The notebook a .ipynb file holds, or one whose ``problem`` says why it cannot be read."""
        bom = data.startswith(b"\xef\xbb\xbf")
        try:
            text = (data[3:] if bom else data).decode("utf-8")
        except UnicodeDecodeError as error:
            return cls._broken(path, f"cannot read the notebook: it is not UTF-8 ({error.reason} at byte {error.start})")
        if _WHITESPACE.match(text).end() == len(text):
            return cls(path, [], raw=text, bom=bom)  # an empty file: nothing to lint
        try:
            content = load_notebook_json(text)
        except ValueError as error:
            line, column = getattr(error, "lineno", 1), getattr(error, "colno", 1)
            return cls._broken(path, f"cannot read the notebook: it is not valid JSON ({getattr(error, 'msg', error)})",
                               line, column)
        except RecursionError:
            return cls._broken(path, "cannot read the notebook: its JSON is nested too deeply")
        if not isinstance(content, dict) or not isinstance(content.get("cells", content.get("worksheets")), list):
            return cls._broken(path, "not a Jupyter notebook: the JSON has no list of cells")
        version = content.get("nbformat")
        if "worksheets" in content or (isinstance(version, int) and version < 4):
            return cls._broken(path, f"nbformat {version if isinstance(version, int) else 3} notebooks are not "
                                     "supported: convert it with 'jupyter nbconvert --to notebook --nbformat 4'")
        cells = []
        for number, cell in enumerate(content["cells"], start=1):
            if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
                return cls._broken(path, f"not a valid notebook: cell {number} has no cell_type")
            source = cell.get("source", "")
            if isinstance(source, list) and all(isinstance(part, str) for part in source):
                cells.append(Cell(cell["cell_type"], "".join(source), True))
            elif isinstance(source, str):
                cells.append(Cell(cell["cell_type"], source, False))
            else:
                return cls._broken(path, f"not a valid notebook: the source of cell {number} is not text")
        metadata = content.get("metadata")
        language = None
        if isinstance(metadata, dict):
            info, kernel = metadata.get("language_info"), metadata.get("kernelspec")
            if isinstance(info, dict) and isinstance(info.get("name"), str):
                language = info["name"]
            elif isinstance(kernel, dict) and isinstance(kernel.get("language"), str):
                language = kernel["language"]
        return cls(path, cells, raw=text, is_python=language is None or _is_python_language(language), bom=bom)

    @classmethod
    def _broken(cls, path: str, message: str, line: int = 1, column: int = 1) -> "NotebookDocument":
        problem = Diagnostic(path, line, column, line, column, SYNTAX_ERROR[0], SYNTAX_ERROR[1], "error", message)
        return cls(path, [], problem=problem)

    def _build(self) -> None:
        """The program: every code cell masked, joined; per code cell its first line in the program."""
        parts: List[str] = []
        self._starts: List[int] = []  # first program line of each code cell that has lines
        self._cell_at: List[int] = []  # its index in self.cells
        self._masked: Dict[int, _Masked] = {}
        line = 1
        if self.is_python and self.problem is None:
            for index, cell in enumerate(self.cells):
                if cell.kind != CODE or not cell.text:
                    continue
                masked = mask_ipython(cell.text)
                self._masked[index] = masked
                text = masked.text
                if not text.endswith(("\n", "\r")):
                    text += "\n"
                self._starts.append(line)
                self._cell_at.append(index)
                parts.append(text)
                line += text.count("\n") if "\r" not in text else len(split_lines(text))
        self.program = "".join(parts)

    # ---------------------------------------------------------------- linting
    def lint(self, rules: Sequence[AnyRule], max_code_size: Optional[int] = None, torch_version=None,
             project=None) -> List[Diagnostic]:
        """Every finding of ``rules`` (for ``torch_version``, default the newest) in the notebook's code, noqa
        applied, each naming its cell, sorted; one GL002 finding when its code is larger than ``max_code_size``
        bytes (max-file-size)."""
        if self.problem is not None:
            return [self.problem]
        if not self.program.strip():
            return []
        if max_code_size and len(self.program) > max_code_size and len(self.program.encode("utf-8")) > max_code_size:
            from autogradlint.files import format_size
            from autogradlint.rule import FILE_TOO_LARGE

            return [Diagnostic(self.path, 1, 1, 1, 1, FILE_TOO_LARGE[0], FILE_TOO_LARGE[1], "error",
                               f"the notebook's code is too large to check: over the limit of {format_size(max_code_size)} "
                               "(--max-file-size, or max-file-size in [tool.autogradlint]; 0 for no limit)")]
        found = _lint_program(self.program.encode("utf-8"), self.path, rules, torch_version, project)
        return sorted((self._to_cell(d) for d in found), key=Diagnostic.sort_key)

    def lint_by_cell(self, rules: Sequence[AnyRule], max_code_size: Optional[int] = None,
                     torch_version=None) -> List[List[Diagnostic]]:
        """The findings of ``lint`` grouped per cell, in the order of ``cells`` (for an editor's cells).
        A problem with the notebook itself (not a cell's) comes with the first cell."""
        grouped: List[List[Diagnostic]] = [[] for _ in self.cells]
        for diagnostic in self.lint(rules, max_code_size, torch_version):
            if diagnostic.cell is not None:
                grouped[diagnostic.cell - 1].append(diagnostic)
            elif grouped:
                grouped[0].append(diagnostic)
        return grouped

    def unknown_noqa(self) -> List[Tuple[str, str]]:
        """(where, code) for each unknown autogradlint code in a noqa comment; ``where`` is ``cell N:line``."""
        from autogradlint.suppression import unknown_noqa_codes

        if "noqa" not in self.program.lower():
            return []
        found = []
        for line, code in unknown_noqa_codes(self.program.encode("utf-8")):
            index, local = self._locate(line)
            found.append((f"cell {index + 1}:{local}", code))
        return found

    def _locate(self, line: int) -> Tuple[int, int]:
        """(index of the cell, line inside it) of a program line."""
        at = max(bisect.bisect_right(self._starts, line) - 1, 0)
        return self._cell_at[at], line - self._starts[at] + 1

    def _cell_lines(self, index: int) -> List[str]:
        return split_lines(self.cells[index].text)

    def _to_cell(self, d: Diagnostic) -> Diagnostic:
        if not self._starts:
            return d
        index, line = self._locate(d.line)
        masked = self._masked[index]
        column = d.column + masked.shifts.get(line, 0)
        end_index, end_line = self._locate(d.end_line)
        if end_index != index:  # a span running into the next cell ends at its own cell's end
            lines = self._cell_lines(index)
            end_line = max(len(lines), line)
            end_column = len(lines[-1].rstrip("\r\n")) + 1 if lines else 1
        else:
            end_column = d.end_column + masked.shifts.get(end_line, 0)
        fix = d.fix
        if fix is not None:
            edits = [self._edit_to_cell(e) for e in fix.edits]
            fix = None if any(e is None for e in edits) else Fix(fix.applicability, tuple(edits))
        return d.replace(line=line, column=column, end_line=end_line, end_column=end_column, fix=fix, cell=index + 1)

    def _edit_to_cell(self, edit: Edit) -> Optional[Edit]:
        """The edit in its cell's coordinates; None when it spans cells or touches IPython (a magic line)."""
        index, line = self._locate(edit.line)
        end_index, end_line = self._locate(edit.end_line)
        if end_index != index:
            return None
        touched_to = end_line if edit.end_column > 1 or end_line == line else end_line - 1
        masked = self._masked[index]
        if any(number in masked.opaque for number in range(line, touched_to + 1)):
            return self._insertion_before_cell(edit, index, line)  # a fix never touches a magic line
        lines = self._cell_lines(index)
        if end_line > len(lines) + (1 if self.cells[index].text.endswith(("\n", "\r")) else 0):
            return None  # into the line end the program added after the cell
        if end_line == len(lines) + 1 and edit.end_column > 1:
            return None
        if end_line == len(lines) and not self.cells[index].text.endswith(("\n", "\r")) \
                and edit.end_column > len(lines[-1]) + 1:
            return None
        return Edit(line, edit.column, end_line, edit.end_column, edit.content, index + 1)

    def _insertion_before_cell(self, edit: Edit, index: int, line: int) -> Optional[Edit]:
        """Whole lines inserted at the start of a cell that begins with IPython (``import torch`` added after the
        imports, when the next cell is ``%matplotlib inline``) go to the end of the code cell before it."""
        at = self._cell_at.index(index)
        if not (line == 1 and edit.line == edit.end_line and edit.column == edit.end_column == 1 and at > 0
                and edit.content.endswith("\n")):
            return None
        previous = self._cell_at[at - 1]
        text = self.cells[previous].text
        lines = split_lines(text)
        if previous in self._masked and len(lines) in self._masked[previous].opaque:
            return None
        if text.endswith(("\n", "\r")):
            return Edit(len(lines) + 1, 1, len(lines) + 1, 1, edit.content, previous + 1)
        end = len(lines[-1]) + 1
        return Edit(len(lines), end, len(lines), end, "\n" + edit.content[:-1], previous + 1)

    # ---------------------------------------------------------------- fixing
    def with_edits(self, edits: Sequence[Edit]) -> "NotebookDocument":
        """The notebook with the edits (in cell coordinates) applied to their cells' text; InvalidEdit when the
        program would not parse."""
        import libcst as cst

        from autogradlint.edits import apply_edits

        by_cell: Dict[int, List[Edit]] = {}
        for edit in edits:
            if edit.cell is None or not 1 <= edit.cell <= len(self.cells) or self.cells[edit.cell - 1].kind != CODE:
                raise InvalidEdit("an edit names no code cell")
            by_cell.setdefault(edit.cell - 1, []).append(edit)
        cells = list(self.cells)
        for index, cell_edits in by_cell.items():
            cells[index] = Cell(CODE, apply_edits(cells[index].text, cell_edits), cells[index].as_list)
        new = NotebookDocument(self.path, cells, raw=self._raw, is_python=self.is_python, bom=self._bom)
        new._original = self._original if self._original is not None else self.cells
        for index in by_cell:
            if _ipython_lines(cells[index].text) != _ipython_lines(self.cells[index].text):
                raise InvalidEdit("an edit would change a line of IPython")
        try:
            cst.parse_module(new.program.encode("utf-8"))
        except Exception as error:
            raise InvalidEdit(str(error)) from None
        return new

    @property
    def data(self) -> bytes:
        """The notebook file's bytes: the original, with only the changed cells' ``source`` values rewritten."""
        if self._raw is None:
            raise ValueError("this notebook was not read from a file")
        original = self._original
        if original is None or all(a.text == b.text for a, b in zip(original, self.cells)):
            text = self._raw
        else:
            text = splice_sources(self._raw, {index: cell for index, cell in enumerate(self.cells)
                                              if cell.text != original[index].text})
            # what is written must read back as exactly these cells: never a damaged notebook
            written = load_notebook_json(text)
            sources = [cell.get("source") for cell in written["cells"]] if isinstance(written, dict) else []
            if [s if isinstance(s, str) else "".join(s) for s in sources] != [cell.text for cell in self.cells]:
                raise ValueError("the rewritten notebook does not read back as the fixed cells")
        return (b"\xef\xbb\xbf" if self._bom else b"") + text.encode("utf-8")

    def pieces(self) -> List[Tuple[Optional[int], str]]:
        """(cell number, text) of every code cell."""
        return [(index + 1, cell.text) for index, cell in enumerate(self.cells) if cell.kind == CODE]


def _ipython_lines(text: str) -> List[str]:
    """The cell's lines that are IPython, in order."""
    lines = split_lines(text)
    return [lines[number - 1] for number in sorted(mask_ipython(text).opaque) if number <= len(lines)]


def _is_python_language(language: str) -> bool:
    return language.strip().lower() in ("python", "python3", "python2", "ipython", "ipython3", "")


# ------------------------------------------------------------------------------------------------ writing back

_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _Scanner:
    """Where values sit in a JSON text: just enough of a parser to find each cell's ``source`` (every other
    value, outputs included, is skipped by the json module's own decoder)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.decoder = json.JSONDecoder()
        self.end = 0  # where the value last read ends (lazy_members, lazy_items)

    def skip_space(self, position: int) -> int:
        return _WHITESPACE.match(self.text, position).end()

    def expect(self, position: int, char: str) -> int:
        position = self.skip_space(position)
        if self.text[position:position + 1] != char:
            raise ValueError(f"expected {char!r} at {position}")
        return position + 1

    def lazy_members(self, position: int):
        """(key, value start) of each member of the object at ``position``; the caller reads the value and sets
        ``self.end`` to where it ends before asking for the next."""
        from json.decoder import scanstring

        position = self.expect(position, "{")
        position = self.skip_space(position)
        if self.text[position:position + 1] == "}":
            self.end = position + 1
            return
        while True:
            position = self.expect(position, '"')
            key, position = scanstring(self.text, position)
            position = self.skip_space(self.expect(position, ":"))
            yield key, position
            position = self.skip_space(self.end)
            if self.text[position:position + 1] == ",":
                position += 1
                continue
            self.end = self.expect(position, "}")
            return

    def lazy_items(self, position: int):
        """The start of each item of the array at ``position``; the caller sets ``self.end`` (as lazy_members)."""
        position = self.expect(position, "[")
        position = self.skip_space(position)
        if self.text[position:position + 1] == "]":
            self.end = position + 1
            return
        while True:
            yield self.skip_space(position)
            position = self.skip_space(self.end)
            if self.text[position:position + 1] == ",":
                position += 1
                continue
            self.end = self.expect(position, "]")
            return

    def members(self, position: int):
        """(key, value start, value end) of each member of the object at ``position``."""
        for key, start in self.lazy_members(position):
            _, end = self.decoder.raw_decode(self.text, start)
            yield key, start, end
            self.end = end  # set after the caller is done: it may have walked into the value meanwhile

    def items(self, position: int):
        """(start, end) of each item of the array at ``position``."""
        for start in self.lazy_items(position):
            _, end = self.decoder.raw_decode(self.text, start)
            yield start, end
            self.end = end


_STRUCTURE = re.compile(r'["\[\]{}]')


def _string_end(text: str, position: int) -> int:
    """The end of the JSON string whose content starts at ``position`` (after its opening quote), found with
    str.find: a 5 MB image is skipped at memory speed, its characters never decoded."""
    while True:
        quote = text.find('"', position)
        if quote < 0:
            raise ValueError("unterminated string")
        backslashes = 0
        while text[quote - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return quote + 1
        position = quote + 1


def _skip_value(text: str, position: int, decoder: json.JSONDecoder) -> int:
    """The end of the JSON value at ``position``, without building it (strings, lists and objects are skipped
    by their delimiters; a bare number or literal is decoded, it is short)."""
    first = text[position:position + 1]
    if first == '"':
        return _string_end(text, position + 1)
    if first not in ("[", "{"):
        return decoder.raw_decode(text, position)[1]
    depth = 0
    while True:
        match = _STRUCTURE.search(text, position)
        if match is None:
            raise ValueError("unterminated list or object")
        char = match.group()
        position = match.end()
        if char == '"':
            position = _string_end(text, position)
        elif char in "[{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return position


def load_notebook_json(text: str) -> object:
    """The notebook's JSON as json.loads gives it, except that each cell's ``outputs`` are skipped, never
    decoded (they are None): a notebook of 50 MB of plots costs what its code costs. Invalid JSON raises
    ValueError with json's own message and position."""
    decoder = json.JSONDecoder()
    try:
        scanner = _Scanner(text)
        content: Dict[str, object] = {}
        position = scanner.skip_space(0)
        if text[position:position + 1] != "{":
            raise ValueError("not an object")
        for key, start in scanner.lazy_members(position):
            if key == "cells" and text[start:start + 1] == "[":
                cells: List[object] = []
                for item in scanner.lazy_items(start):
                    if text[item:item + 1] != "{":
                        value, end = decoder.raw_decode(text, item)
                        cells.append(value)
                        scanner.end = end
                        continue
                    cell: Dict[str, object] = {}
                    for cell_key, cell_start in scanner.lazy_members(item):
                        if cell_key == "outputs":
                            cell[cell_key] = None
                            scanner.end = _skip_value(text, cell_start, decoder)
                        else:
                            cell[cell_key], scanner.end = decoder.raw_decode(text, cell_start)
                    cells.append(cell)
                content[key] = cells
            else:
                content[key], scanner.end = decoder.raw_decode(text, start)
        if scanner.skip_space(scanner.end) != len(text):
            raise ValueError("extra data")
        return content
    except (ValueError, IndexError):
        return json.loads(text)  # not what the scanner expects: json says what is wrong, or reads it after all


def source_spans(text: str) -> List[Optional[Tuple[int, int]]]:
    """(start, end) in the notebook's text of each cell's ``source`` value (None for a cell without one)."""
    scanner = _Scanner(text)
    for key, start, _ in scanner.members(0):
        if key == "cells":
            spans: List[Optional[Tuple[int, int]]] = []
            for cell_start, _ in scanner.items(start):
                span = None
                for cell_key, value_start, value_end in scanner.members(cell_start):
                    if cell_key == "source":
                        span = (value_start, value_end)
                spans.append(span)
            return spans
    return []


def splice_sources(text: str, changed: Dict[int, Cell]) -> str:
    """The notebook's text with the ``source`` of each changed cell (by index) rewritten, in the layout the
    file already has (a list of lines stays a list, with the same indentation; a string stays a string);
    every other byte is kept."""
    spans = source_spans(text)
    ascii_only = text.isascii() and "\\u" in text
    out = []
    position = 0
    for index in sorted(changed):
        span = spans[index] if index < len(spans) else None
        if span is None:
            raise ValueError(f"cell {index + 1} has no source to rewrite")
        start, end = span
        out.append(text[position:start])
        out.append(_source_value(text, start, end, changed[index].text, ascii_only))
        position = end
    out.append(text[position:])
    return "".join(out)


def _source_value(text: str, start: int, end: int, new_text: str, ascii_only: bool) -> str:
    """The JSON for a cell's new source, laid out as its old value ``text[start:end]`` was."""
    if text[start] == '"':
        return json.dumps(new_text, ensure_ascii=ascii_only)
    items = list(_Scanner(text).items(start))
    old = {}
    for item_start, item_end in items:
        old.setdefault(json.loads(text[item_start:item_end]), text[item_start:item_end])
    lines = split_lines(new_text)
    encoded = [old.get(line) or json.dumps(line, ensure_ascii=ascii_only) for line in lines]
    if not encoded:
        return "[]"
    if items:
        opening = text[start + 1:items[0][0]]
        # one item: its layout says how the next goes (one a line, indented; or json.dumps' ", " on one line)
        between = text[items[0][1]:items[1][0]] if len(items) > 1 else ("," + opening if "\n" in opening else ", ")
        closing = text[items[-1][1]:end - 1]
    else:
        opening, between, closing = "", ", ", ""
    return "[" + opening + between.join(encoded) + closing + "]"
