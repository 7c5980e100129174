"""Lint one file: prefilter -> parse -> shared analyses -> one batched walk -> diagnostics."""
from __future__ import annotations

import contextlib
import gc
import re
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Dict, FrozenSet, List, Optional, Sequence, Tuple, Union

import libcst as cst
from libcst._nodes.internal import CodegenState

from autogradlint.analysis.names import NameResolver
from autogradlint.analysis.torch_versions import NEWEST as NEWEST_TORCH
from autogradlint.analysis.torch_api import canonical
from autogradlint.fixing import LineIndex, edits_for
from autogradlint.rule import INTERNAL_ERROR, SYNTAX_ERROR, UNUSED_NOQA, AnyRule, Diagnostic, Fix, Rule
from autogradlint.suppression import Suppressions, unused_noqa
from autogradlint import walk as walk_module
from autogradlint.walk import TreeIndex, indexed, walk

if TYPE_CHECKING:  # pragma: no cover
    import ast

_EXPECTED_FAILURE_CALLS = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp"})


def active_rules(source: bytes, rules: Sequence[AnyRule]) -> List[AnyRule]:
    """The rules whose trigger words occur in the file's bytes (ignoring case); the others can never
    fire on it."""
    lowered = source.lower()
    # each word looked for once: the 49 rules have 85 triggers but 44 different ones, and a word that is
    # absent costs a scan of the whole file
    present: Dict[bytes, bool] = {}
    active = []
    for rule in rules:
        triggers = _LOWERED_TRIGGERS.get(rule.triggers)
        if triggers is None:
            triggers = _LOWERED_TRIGGERS[rule.triggers] = tuple(t.lower().encode("ascii") for t in rule.triggers)
        if not triggers:
            active.append(rule)
            continue
        for trigger in triggers:
            found = present.get(trigger)
            if found is None:
                found = present[trigger] = trigger in lowered
            if found:
                active.append(rule)
                break
    return active


_LOWERED_TRIGGERS: Dict[Tuple[str, ...], Tuple[bytes, ...]] = {}


class LintContext:
    """What rules see of the file being linted: the tree, the walk's position and shared analyses."""

    def __init__(self, path: str, module: cst.Module, torch_version: Tuple[int, int] = NEWEST_TORCH,
                 project: Optional[object] = None) -> None:
        self.path = path
        self.module = module
        # the project the file belongs to (analysis.project.ProjectContext): the summaries of the project's
        # other files; None: found from ``path`` when an analysis first asks
        self.project = project
        # the torch release the project is linted for (rules ask autogradlint.analysis.torch_versions about it)
        self.torch_version = torch_version
        self.ancestors: List[cst.CSTNode] = []
        self._names: Optional[NameResolver] = None
        self._findings: List[Tuple[Rule, cst.CSTNode, str, object]] = []
        self.expected_failure_blocks: List[cst.CSTNode] = []
        # per-file results of the shared analyses (autogradlint.analysis), keyed by analysis: they die with the file
        self.facts: Dict[str, object] = {}
        # id(node) -> (node, its qualified name): a dozen rules and analyses ask for the name every call calls
        self._qualified: Dict[int, Tuple[cst.CSTNode, Optional[str]]] = {}

    # ---------------------------------------------------------------- analyses
    @property
    def names(self) -> NameResolver:
        if self._names is None:
            self._names = NameResolver(self.module, walk_module.current_index())
        return self._names

    def qualified_name(self, node: cst.CSTNode) -> Optional[str]:
        """The canonical dotted name ``node`` refers to through imports (None if not certain).
        A Call has no qualified name: check ``node.func`` for the called object."""
        # remembered per node for the file (the names it sees do not change while it is linted); the entry
        # holds the node, so that its id cannot be another node's while the entry lives
        entry = self._qualified.get(id(node))
        if entry is not None and entry[0] is node:
            return entry[1]
        name = canonical(self.names.qualified_name(node))
        self._qualified[id(node)] = (node, name)
        return name

    @property
    def parent(self) -> Optional[cst.CSTNode]:
        return self.ancestors[-1] if self.ancestors else None

    def release(self) -> None:
        """Drop everything this file's analyses and rules left on the context."""
        self.facts.clear()
        self._findings.clear()
        self._names = None
        self._qualified.clear()
        self.ancestors.clear()
        self.expected_failure_blocks.clear()

    # ---------------------------------------------------------------- findings
    def add_finding(self, rule: Rule, node: cst.CSTNode, message: str, fix: object) -> None:
        self._findings.append((rule, node, message, fix))


def _is_expected_failure_block(node: cst.With) -> bool:
    for item in node.items:
        call = item.item
        if isinstance(call, cst.Call):
            func = call.func
            name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
            if name in _EXPECTED_FAILURE_CALLS:
                return True
    return False


def _syntax_error(path: str, error: cst.ParserSyntaxError, source: bytes) -> Diagnostic:
    """One diagnostic for a file LibCST cannot parse; Python's own parser, when it also rejects the
    file, gives the more precise position and message."""
    line, column, message = error.raw_line, error.raw_column + 1, error.message
    try:
        _python_parse(source)
    except SyntaxError as python_error:
        if python_error.lineno:
            line, column = python_error.lineno, max(python_error.offset or 1, 1)
            message = python_error.msg
    except (ValueError, RecursionError, MemoryError):
        pass
    else:
        # Python accepts the file: say that it is LibCST's parser, not the code, that fails
        return _syntax_finding(path, f"cannot parse: LibCST cannot parse this file, although Python can ({message})",
                               int(line), int(column))
    return _syntax_finding(path, f"SyntaxError: {message}", int(line), int(column))


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"()[]{}")
_BRACKET_STEP = {ord(c): (1 if c in "([{" else -1) for c in "()[]{}"}
# CPython refuses more than 200 nested brackets; LibCST's native parser can crash well before its own limit
_MAX_NESTING = 200


def _too_deeply_nested(source: bytes) -> Optional[Tuple[int, int, str]]:
    """A syntax error for brackets nested deeper than Python allows, found without parsing."""
    brackets = source.translate(None, _NOT_BRACKETS)
    if len(brackets) <= _MAX_NESTING:
        return None
    depth = deepest = 0
    for byte in brackets:
        depth += _BRACKET_STEP[byte]
        if depth > deepest:
            deepest = depth
    if deepest <= _MAX_NESTING:
        return None
    # brackets inside strings and comments were counted too: let Python's parser decide
    try:
        _python_parse(source)
    except SyntaxError as error:
        return (error.lineno or 1, error.offset or 1, error.msg)
    except (ValueError, RecursionError, MemoryError) as error:
        return (1, 1, f"the file is nested too deeply to parse ({type(error).__name__})")
    return None


# LibCST nests `a and b and ...` (CPython keeps it flat); its native parser overflows its stack, a crash no
# handler can catch, somewhere between 6000 and 8000 operands
_MAX_BOOL_OPERANDS = 4000
_BOOL_OPERATOR = re.compile(rb"\b(?:and|or)\b")


def _python_parse(source: Union[bytes, str]) -> "ast.Module":
    """CPython's parse of the file, its warnings (invalid escapes ...) silenced. (ast is imported here: most
    files never need Python's own parse, and the module costs a pre-commit call 3 ms to import.)"""
    import ast

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


# Strings and comments as Python 3.11's tokenizer reads them (an f-string cannot nest its own quote there)
_STRINGS_AND_COMMENTS = re.compile(
    rb'"""(?:\\[\s\S]|[^\\])*?"""'
    rb"|'''(?:\\[\s\S]|[^\\])*?'''"
    rb'|"(?:\\[\s\S]|[^"\\\r\n])*"'
    rb"|'(?:\\[\s\S]|[^'\\\r\n])*'"
    rb"|#[^\r\n]*"
)
_BRACKETS_SPLIT = re.compile(rb"([()\[\]{}])")
_PIECES_SPLIT = re.compile(rb"([()\[\]{},;])")
_OPENING = frozenset(b"([{")
_CLOSING = frozenset(b")]}")
_WHITESPACE = b" \t\n\x0b\x0c"
# A statement this many bytes long (strings and comments aside) has at most as many tokens; LibCST parses
# 2000-deep nesting and 2000-term chains of every kind in about a second, and crashes or hangs only on much
# longer ones (docs/robustness.md)
_SAFE_STATEMENT_BYTES = 2000
# the bytes (whitespace aside), along one path from a logical line down its brackets, that bound the depth of
# LibCST's tree there
_SAFE_PATH_BYTES = _SAFE_STATEMENT_BYTES // 2
# LibCST parses a 3000-branch if/elif chain in a tenth of a second; CPython refuses one not much longer
_SAFE_ELIF_CHAIN = 1000


def _needs_screen(source: bytes) -> bool:
    """Whether Python's own parse must look at the file before LibCST does. Only a statement thousands of
    tokens deep can crash or hang LibCST's parser, so a file whose every logical line is shallow is safe; a byte
    scan, several times cheaper than ast.parse, tells. When the scan is unsure (unbalanced brackets, a Python
    whose f-strings may nest their own quotes) the answer is yes.

    Depth, not length: a long statement is almost always a wide one (timm's and transformers' tables of model
    configurations are dict literals thousands of bytes long, a sixth of their files), and the items of a
    bracketed list, call, dict or subscript, or of a top-level tuple, are siblings in LibCST's tree, however
    many there are. Chains (``a + b + ...``, ``a.b.c``, ``f()()``, ``not not``, ``lambda: lambda:``, adjacent
    strings) nest, and they hold no comma at their own level: so the tree's depth at any point is bounded by the
    bytes of the comma-separated piece that holds it, outside its nested brackets, plus those of each piece
    enclosing it, up to the logical line (_deepest_path). A logical line shorter than that bound needs no
    closer look."""
    if len(source) < _SAFE_STATEMENT_BYTES:
        return False
    if sys.version_info >= (3, 12):
        return True  # PEP 701: the byte scan cannot find where such f-strings end
    # each string or comment one byte (not whitespace: it is a token), an f-string as many as its replacement
    # fields can nest; each physical line end one \n
    code = _code_without_strings(source)
    code = code.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\\\n", b" ")
    if code.count(b"elif") >= _SAFE_ELIF_CHAIN:
        return True  # LibCST nests each elif in the one before: a long chain is deep, however short its lines
    # the logical lines (a newline outside brackets ends one) at least _SAFE_PATH_BYTES long: only they can be deep
    long_lines = []
    depth = 0
    line_start = offset = 0
    for part in _BRACKETS_SPLIT.split(code):
        if len(part) == 1 and part in b"()[]{}":
            if part[0] in _OPENING:
                depth += 1
            else:
                depth -= 1
                if depth < 0:
                    return True
        elif depth == 0:
            first = part.find(b"\n")
            if first >= 0:
                if offset + first - line_start >= _SAFE_PATH_BYTES:
                    long_lines.append((line_start, offset + first))
                last = part.rfind(b"\n")
                if last - first > _SAFE_PATH_BYTES:  # whole lines without brackets between the two
                    start = offset + first + 1
                    for line in part[first + 1:last].split(b"\n"):
                        if len(line) >= _SAFE_PATH_BYTES:
                            long_lines.append((start, start + len(line)))
                        start += len(line) + 1
                line_start = offset + last + 1
        offset += len(part)
    if depth != 0:
        return True
    if offset - line_start >= _SAFE_PATH_BYTES:
        long_lines.append((line_start, offset))
    # whitespace is no token: only the other bytes count (each token has at least one)
    return any(_deepest_path(code[start:end].translate(None, _WHITESPACE)) >= _SAFE_PATH_BYTES
               for start, end in long_lines)


def _code_without_strings(source: bytes) -> bytes:
    """``source`` with each string and comment replaced by a run of ``0`` bytes that bounds the depth LibCST's tree
    can reach inside it: one byte, except for an f-string whose replacement fields hold code (see _fstring_depth)."""
    return _STRINGS_AND_COMMENTS.sub(_string_placeholder, source)


def _string_placeholder(match: "re.Match[bytes]") -> bytes:
    start = match.start()
    text = match.string
    # an f-string's prefix (f, rf, fr in any case) ends right before its quote; a word merely ending in f (`if"x"`)
    # is taken for one too, which can only overestimate
    if start and (text[start - 1] in b"fF" or (text[start - 1] in b"rR" and start > 1 and text[start - 2] in b"fF")):
        quote = 3 if match.group().startswith((b'"""', b"'''")) else 1
        return b"0" * min(_fstring_depth(match.group()[quote:-quote]), _SAFE_PATH_BYTES)
    return b"0"


# in an f-string's literal text: an escaped brace or the start of a replacement field
_LITERAL_BRACES = re.compile(rb"\{\{|\}\}|\{")
# in a replacement field's expression: what can end it, nest, or start a string
_FIELD_SIGNIFICANT = re.compile(rb"[()\[\]{}:!'\"]")
# in a format specification: a nested field's start, or the end of the field
_SPEC_BRACES = re.compile(rb"[{}]")


def _fstring_depth(body: bytes) -> int:
    """An upper bound on the depth of LibCST's tree for an f-string with this body (Python 3.9-3.11, where the
    tokenizer reads an f-string as one string): one level for the string, two for each replacement field, and
    the deepest path (_deepest_path) of each field's expression, found as CPython's f-string parser splits the
    fields: brackets nest, strings are skipped, ``!`` or ``:`` outside brackets ends the expression, and a
    format specification may hold fields of its own. Whatever does not scan is counted byte for byte."""
    deepest = 0
    position = 0
    while True:
        found = _LITERAL_BRACES.search(body, position)
        if found is None:
            return deepest + 1
        position = found.end()
        if found.group() != b"{":
            continue
        depth, position = _field_depth(body, position)
        if depth < 0:  # it does not scan: every byte from the field on may nest
            return deepest + 1 + len(body) - found.start()
        deepest = max(deepest, depth)


def _field_depth(body: bytes, start: int) -> Tuple[int, int]:
    """(depth bound, offset after the field) of the replacement field whose expression starts at ``start``;
    (-1, _) when it does not end."""
    level = 0
    position = start
    while True:
        found = _FIELD_SIGNIFICANT.search(body, position)
        if found is None:
            return -1, len(body)
        byte = found.group()
        position = found.end()
        if byte in b"([{":
            level += 1
        elif byte in b")]}":
            if level == 0:
                if byte != b"}":
                    return -1, position
                break
            level -= 1
        elif byte in b"'\"":
            quote = body[found.start():found.start() + 3]
            if quote != byte * 3:
                quote = byte
            end = body.find(quote, found.start() + len(quote))
            if end < 0:
                return -1, len(body)
            position = end + len(quote)
        elif level == 0 and (byte == b":" or body[position:position + 1] != b"="):
            break  # a format specification or a conversion (`!=` is an operator)
    expression = body[start:found.start()]
    # (a `#` cannot be in a field's expression: the rest of it is not taken for a comment)
    deepest = _path_bound(expression if b"#" in expression else _code_without_strings(expression))
    if byte in b":!":
        # the conversion and the format specification, up to the field's end; a field nested in the
        # specification is measured as one
        while True:
            found = _SPEC_BRACES.search(body, position)
            if found is None:
                return -1, len(body)
            position = found.end()
            if found.group() == b"}":
                break
            nested, position = _field_depth(body, position)
            if nested < 0:
                return -1, position
            deepest = max(deepest, nested)
    return deepest + 2, position


def _path_bound(code: bytes) -> int:
    """_deepest_path of ``code`` without its whitespace, or its length when its brackets do not balance."""
    code = code.translate(None, _WHITESPACE)
    brackets = code.translate(None, _NOT_BRACKETS)
    if brackets:
        depth = 0
        for byte in brackets:
            depth += _BRACKET_STEP[byte]
            if depth < 0:
                return len(code)
        if depth:
            return len(code)
    return _deepest_path(code)


def _deepest_path(line: bytes) -> int:
    """The most bytes along one path down a (balanced) logical line: of a comma-separated piece outside its
    nested brackets, plus those of every piece enclosing it. Every level of nesting in LibCST's tree below a
    piece takes at least one byte of it or of the pieces enclosing it: this bounds the tree's depth."""
    # per open bracket, the enclosing level: its current piece's own bytes, the deepest path below that piece so
    # far, and the deepest of its finished pieces
    stack: List[Tuple[int, int, int]] = []
    own = below = deepest = 0
    for part in _PIECES_SPLIT.split(line):
        if len(part) == 1 and part in b"()[]{},;":
            byte = part[0]
            if byte in _OPENING:
                stack.append((own + 1, below, deepest))
                own = below = deepest = 0
            elif byte in _CLOSING:
                inside = max(deepest, own + below)
                own, below, deepest = stack.pop()
                own += 1
                if inside > below:
                    below = inside
            else:  # a comma (a semicolon outside brackets) ends a piece: the next one is its sibling
                if own + below > deepest:
                    deepest = own + below
                own = below = 0
        else:
            own += len(part)
    return max(deepest, own + below)


# CPython 3.11 and 3.12 refuse a tree about 3000 levels deep, which LibCST's parser takes seconds on and crashes
# not far beyond; Python 3.9 and 3.10 build a call, attribute, subscript or binary-operator chain of any length, and
# 3.13 one up to 10000 deep: there the screen measures the tree itself
_MAX_TREE_DEPTH = 3000
_PARSER_LIMITS_DEPTH = (3, 11) <= sys.version_info[:2] < (3, 13)
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")


def _too_deep_line(tree: "ast.Module", source: bytes) -> Optional[int]:
    """The line of the statement holding a node more than _MAX_TREE_DEPTH levels deep in Python's tree, or None. Every level of a
    subtree takes at least one byte of its code (a context or an ``arguments`` node none, hence the factor 2), so
    only subtrees whose code is long enough are looked into: in an ordinary file, a few statements."""
    import ast

    starts = [0]
    starts.extend(m.end() for m in _LINE_ENDS.finditer(source))
    last = len(starts)
    # (node, its depth, whether its code's length bounds its depth (not inside an f-string, whose nodes' positions
    # Python 3.9-3.11 do not always give right), the line of its statement)
    stack = [(tree, 0, True, 1)]
    while stack:
        node, depth, prune, line = stack.pop()
        if isinstance(node, ast.stmt):
            line = node.lineno
        if depth > _MAX_TREE_DEPTH:
            return line
        end = getattr(node, "end_lineno", None)
        if prune and end is not None and 1 <= node.lineno <= end <= last:
            span = starts[end - 1] + node.end_col_offset - starts[node.lineno - 1] - node.col_offset
            if depth + 2 * span + 2 <= _MAX_TREE_DEPTH:
                continue
        prune = prune and not isinstance(node, ast.JoinedStr)
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1, prune, line))
    return None


def _screen(source: bytes) -> Tuple[Optional[str], Optional[List[int]]]:
    """Python's own look at the file before LibCST's: why LibCST must not be given it (or None), and the
    first line of each top-level statement (its first decorator's for a decorated definition), which
    positions reuse instead of parsing again. CPython's parser refuses expressions nested about 3000 deep;
    LibCST's takes time quadratic in the depth and overflows its native stack not far above that, so a file
    CPython cannot build a tree for is not handed to LibCST."""
    try:
        tree = _python_parse(source)
    except (RecursionError, MemoryError) as error:
        return f"SyntaxError: the file is nested too deeply for Python to parse ({type(error).__name__})", None
    except (SyntaxError, ValueError, UnicodeError, LookupError):
        return None, None  # LibCST reports it, with a position
    if not _PARSER_LIMITS_DEPTH:
        line = _too_deep_line(tree, source)
        if line is not None:
            return (f"cannot parse: the code on line {line} is nested too deeply for autogradlint to parse (more than "
                    f"{_MAX_TREE_DEPTH} levels; Python 3.11 and 3.12 refuse it too)"), None
    if len(_BOOL_OPERATOR.findall(source)) > _MAX_BOOL_OPERANDS:
        import ast

        for node in ast.walk(tree):
            if isinstance(node, ast.BoolOp) and len(node.values) > _MAX_BOOL_OPERANDS:
                return (f"cannot parse: a chain of {len(node.values)} 'and'/'or' operands on line {node.lineno} is longer than "
                        f"autogradlint can parse ({_MAX_BOOL_OPERANDS})"), None
    # only these numbers are kept: the tree itself would double the memory of a large file
    return None, [min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", ())]) for s in tree.body]


def _column_shifts(text: str, code: str) -> Dict[int, int]:
    """line -> how many characters LibCST's columns on that line are short of the file's own. LibCST drops
    the whitespace before a form feed in indentation (as Python's tokenizer does), so on such lines its
    columns count from the form feed; every other line is given back as it was."""
    ends = re.compile(r"\r\n|\r|\n")
    original, regenerated = ends.split(text), ends.split(code)
    if len(original) != len(regenerated):
        return {}
    shifts = {}
    for number, (before, after) in enumerate(zip(original, regenerated), start=1):
        if before != after:
            rest = before.lstrip(" \t\f")
            if rest == after.lstrip(" \t\f"):
                shifts[number] = len(before) - len(after)
    return shifts


def _syntax_finding(path: str, message: str, line: int = 1, column: int = 1) -> Diagnostic:
    """The engine's own GL001 finding for a file it cannot (or must not) parse."""
    return Diagnostic(path, line, column, line, column, SYNTAX_ERROR[0], SYNTAX_ERROR[1], "error", message)


def _null_byte(source: bytes) -> Optional[Tuple[int, int]]:
    """(line, column) of the first NUL byte, as CPython counts lines, or None. CPython refuses any file that
    holds one ("source code cannot contain null bytes"), even inside a string or a comment, where LibCST
    takes it: such a file is reported like CPython does, and never linted nor fixed."""
    index = source.find(b"\0")
    if index < 0:
        return None
    before = source[:index]
    starts = [m.end() for m in re.finditer(rb"\r\n|\r|\n", before)]
    line_start = starts[-1] if starts else 0
    column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
    return len(starts) + 1, column


def lint_source(source: bytes, path: str, rules: Sequence[AnyRule],
                torch_version: Tuple[int, int] = NEWEST_TORCH, project: Optional[object] = None) -> List[Diagnostic]:
    """All findings of ``rules`` on one file's bytes, noqa applied, sorted by position; ``torch_version`` is
    the torch release the project is linted for, ``project`` the file's ProjectContext (see LintContext)."""
    with _collector_paused():
        return _lint_source(source, path, rules, torch_version, project)


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector paused while one file is linted. A LibCST tree is hundreds of
    thousands of objects, none in a reference cycle, that live exactly as long as the file is linted: every
    automatic collection during that time walks all of them again, for nothing (a third of the parse time on
    real code). The tree is freed by reference counting when the file is done; the few cycles the analyses
    leave are collected as soon as the collector runs again, after the file."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _lint_source(source: bytes, path: str, rules: Sequence[AnyRule], torch_version: Tuple[int, int],
                 project: Optional[object] = None) -> List[Diagnostic]:
    # the rules selected for the file: one that is not active (its trigger words are absent) ran too, and found nothing
    selected = frozenset(rule.code for rule in rules)
    rules = active_rules(source, rules)
    if not rules:
        return []
    null = _null_byte(source)
    if null is not None:
        return [_syntax_finding(path, "SyntaxError: source code cannot contain null bytes", *null)]
    too_deep = _too_deeply_nested(source)
    if too_deep is not None:
        line, column, message = too_deep
        return [_syntax_finding(path, f"SyntaxError: {message}", line, column)]
    too_complex, first_lines = _screen(source) if _needs_screen(source) else (None, None)
    if too_complex is not None:
        return [_syntax_finding(path, too_complex)]
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        return [_syntax_error(path, error, source)]
    except (SyntaxError, UnicodeDecodeError, LookupError, ValueError) as error:
        # undecodable bytes or an unknown coding declaration
        return [_syntax_finding(path, f"SyntaxError: cannot decode the file: {error}")]
    except RecursionError:
        return [_syntax_finding(path, "SyntaxError: the file is nested too deeply to parse")]
    try:
        with _room_for_deep_trees():
            return lint_module(module, path, rules, text=source.decode(module.encoding), first_lines=first_lines,
                               torch_version=torch_version, selected=selected, project=project)
    except Exception as error:  # the engine's own failure on this file: reported, and the run goes on
        return [_engine_failure(path, error)]


# LibCST's metadata and code generation recurse a few Python frames per level of the tree: this is enough
# for the deepest tree CPython parses (about 3000 levels), measured on the main thread's 8 MB stack
_DEEP_TREE_RECURSION_LIMIT = 12000


@contextlib.contextmanager
def _room_for_deep_trees():
    """Raise Python's recursion limit while one file is analysed, on the main thread only (other threads'
    stacks may be smaller)."""
    previous = sys.getrecursionlimit()
    if threading.current_thread() is not threading.main_thread() or previous >= _DEEP_TREE_RECURSION_LIMIT:
        yield
        return
    sys.setrecursionlimit(_DEEP_TREE_RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def _caused_by_recursion(error: BaseException) -> bool:
    """Whether ``error`` is, or was raised while handling, a RecursionError (LibCST's context managers turn
    one into a KeyError on the way out)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, RecursionError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _engine_failure(path: str, error: Exception) -> Diagnostic:
    if _caused_by_recursion(error):
        # the tree is valid, but deeper than Python's recursion limit lets LibCST's metadata go
        message = "internal error: the file is nested too deeply for autogradlint to analyse (RecursionError)"
    else:
        message = f"internal error: {type(error).__name__}: {error}{_where(error)}. Please report this."
    return Diagnostic(path, 1, 1, 1, 1, INTERNAL_ERROR[0], INTERNAL_ERROR[1], "error", message)


def _where(error: BaseException) -> str:
    import traceback  # here: only a failure needs it

    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    return f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}"


def lint_module(module: cst.Module, path: str, rules: Sequence[AnyRule], text: Optional[str] = None,
                first_lines: Optional[List[int]] = None, torch_version: Tuple[int, int] = NEWEST_TORCH,
                selected: Optional[FrozenSet[str]] = None, project: Optional[object] = None) -> List[Diagnostic]:
    """Findings of ``rules`` on a parsed module whose source is ``text`` (regenerated when not given);
    ``first_lines`` are Python's first lines of its top-level statements, if known (see ``_screen``);
    ``selected``: the codes of every rule selected for the file (default: ``rules``), which unused-noqa judges."""
    context = LintContext(path, module, torch_version, project)
    internal: List[Diagnostic] = []
    instances: List[Rule] = []
    # rules that did not run to the end on this file (their noqa comments are not judged)
    unfinished = set()
    for rule in rules:
        try:
            instances.append(rule.load()(context))  # a RuleInfo imports its rule's module here
        except Exception as error:  # a broken rule must not stop the others
            internal.append(_internal_error(path, rule, error))
            unfinished.add(rule.code)

    broken: Dict[str, BaseException] = {}
    on_visit: Dict[type, list] = {}
    on_leave: Dict[type, list] = {}
    for instance in instances:
        for attr, node_type, is_visit in _handlers_of(type(instance)):
            table = on_visit if is_visit else on_leave
            table.setdefault(node_type, []).append(_guard(instance, getattr(instance, attr), broken))

    def note_expected_failure(node: cst.With) -> None:
        if _is_expected_failure_block(node):
            context.expected_failure_blocks.append(node)

    on_visit.setdefault(cst.With, []).insert(0, note_expected_failure)
    try:
        tree = TreeIndex(module)
        with indexed(tree):
            walk(tree, on_visit, on_leave, context.ancestors)
    except RecursionError:
        tree = None
        unfinished.update(rule.code for rule in rules)
        internal.append(Diagnostic(path, 1, 1, 1, 1, INTERNAL_ERROR[0], INTERNAL_ERROR[1], "error",
                                   "internal error: the file is nested too deeply to analyse"))
    for instance in instances:
        error = broken.get(instance.code)
        if error is not None:
            internal.append(_internal_error(path, type(instance), error))

    findings = [f for f in context._findings if f[0].code not in broken]
    try:
        diagnostics = _place(module, path, findings, context.expected_failure_blocks, text, tree, first_lines)
    finally:
        # the analyses and rules refer to the context and the context to them: untie them, so that reference
        # counting frees the tree now rather than the garbage collector later (see _collector_paused)
        context.release()
    source_text = module.code if text is None else text
    unused: List[Diagnostic] = []
    if any(rule.code == UNUSED_NOQA[0] for rule in rules):
        # after every other rule: a noqa comment is unused when a rule that ran found nothing on its line
        ran = set(selected if selected is not None else (rule.code for rule in rules)) - set(broken) - unfinished
        if UNUSED_NOQA[0] in ran:
            unused = unused_noqa(source_text, path, diagnostics, ran)
    if diagnostics:
        diagnostics = Suppressions.from_text(source_text).filter(diagnostics)
    return sorted(diagnostics + unused + internal, key=Diagnostic.sort_key)


_HANDLERS: Dict[type, List[Tuple[str, type, bool]]] = {}


def _handlers_of(rule_class: type) -> List[Tuple[str, type, bool]]:
    """(method name, node type, is a visit) for every visit_<Node>/leave_<Node> method of a rule class,
    found once per class rather than once per file."""
    found = _HANDLERS.get(rule_class)
    if found is None:
        found = []
        for attr in dir(rule_class):
            if attr.startswith("visit_") or attr.startswith("leave_"):
                node_type = getattr(cst, attr.split("_", 1)[1], None)
                if isinstance(node_type, type) and issubclass(node_type, cst.CSTNode):
                    found.append((attr, node_type, attr.startswith("visit_")))
        _HANDLERS[rule_class] = found
    return found


def _guard(instance: Rule, handler, broken: Dict[str, BaseException]):
    code = instance.code

    def guarded(node: cst.CSTNode) -> None:
        if code in broken:
            return
        try:
            handler(node)
        except Exception as error:  # reported as an internal-error diagnostic naming the rule
            broken[code] = error

    return guarded


def _internal_error(path: str, rule_class: AnyRule, error: BaseException) -> Diagnostic:
    where = _where(error)
    return Diagnostic(
        path, 1, 1, 1, 1, INTERNAL_ERROR[0], INTERNAL_ERROR[1], "error",
        f"internal error in rule {rule_class.code} ({rule_class.name}): {type(error).__name__}: {error}{where}; "
        "the other rules still ran. Please report this.",
    )


def _place(module: cst.Module, path: str, findings, expected_failure_blocks, text: Optional[str],
           tree: Optional[TreeIndex], python_first_lines: Optional[List[int]]) -> List[Diagnostic]:
    """Give findings their positions and fixes their edits (computed only for files that have findings).
    No fix is offered when LibCST does not give the file back exactly (lone CR line ends, form feeds)."""
    if not findings:
        return []
    if expected_failure_blocks and tree is not None:
        # code meant to fail (inside `with pytest.raises(...)`) is not a finding
        bodies = {id(block.body) for block in expected_failure_blocks}
        findings = [f for f in findings if not any(id(a) in bodies for a in tree.ancestors(f[1]))]
    # the nodes replaced by fixes too: edits_for regenerates the statement around each from its position
    replaced = [r.old for f in findings if f[3] is not None for r in f[3][0]]
    positions = _positions(module, text, tree, [f[1] for f in findings], python_first_lines, replaced)
    fixable: Optional[bool] = None
    index: Optional[LineIndex] = None
    shifts: Optional[Dict[int, int]] = None
    out = []
    seen = set()
    for rule, node, message, fix in findings:
        where = positions.get(node)
        if where is None:
            continue
        line = where.start.line
        key = (rule.code, line, where.start.column, message)
        if key in seen:
            continue
        seen.add(key)
        built: Optional[Fix] = None
        if fix is not None and fixable is None:
            # LibCST does not give back lone CR line ends and form feeds: no fix is offered there
            code = module.code if text is None else text
            fixable = "\x0c" not in code and "\r" not in code.replace("\r\n", "")
            index = LineIndex(code)
        if fix is not None and fixable:
            replacements, applicability = fix
            edits = edits_for(module, code, index, replacements, tree, positions)
            if edits:
                built = Fix(applicability, edits)
        if shifts is None:
            # only a form feed in indentation makes LibCST's text differ from the file's (see _column_shifts):
            # regenerating the whole module to compare costs as much as a third of the parse
            shifts = _column_shifts(text, module.code) if text is not None and "\x0c" in text and module.code != text else {}
        out.append(Diagnostic(path, line, where.start.column + 1 + shifts.get(line, 0), where.end.line,
                              where.end.column + 1 + shifts.get(where.end.line, 0), rule.code, rule.name,
                              rule.severity, message, built))
    return out


def _positions(module: cst.Module, text: Optional[str], tree: Optional[TreeIndex], nodes,
               python_first_lines: Optional[List[int]], replaced=()) -> dict:
    """Positions (LibCST CodeRanges) of at least ``nodes``, and of every node of the statements that hold
    them and the ``replaced`` nodes of their fixes (as far as they share a top-level statement with ``nodes``).
    Only the innermost statement around each node is regenerated, found in the file's text by its own
    (_statement_positions); failing that, the top-level statements that hold them, starting from the line
    Python's own parser gives them; when that cannot be matched exactly to the file's text, the whole module."""
    # imported here: files without findings never need positions, and a pre-commit call saves the import
    from libcst.metadata import PositionProvider
    from libcst.metadata.position_provider import PositionProvidingCodegenState

    if text is not None and tree is not None:
        found = _statement_positions(module, text, tree, nodes, replaced)
        if found is not None:
            return found
    provider = PositionProvider()
    if text is not None and tree is not None:
        tops = []
        seen = set()
        for node in nodes:
            chain = tree.ancestors(node)
            top = chain[-2] if len(chain) >= 2 else node  # chain[-1] is the Module
            if top is not module and id(top) not in seen:
                seen.add(id(top))
                tops.append(top)
        first_lines = _top_level_first_lines(module, text, python_first_lines)
        if first_lines is not None:
            index = LineIndex(text)
            for top in tops:
                first = first_lines.get(id(top))
                if first is None:
                    break
                start_line = first - len(top.leading_lines)
                if start_line < 1:
                    break
                state = PositionProvidingCodegenState(default_indent=module.default_indent,
                                                      default_newline=module.default_newline, provider=provider)
                state.line = start_line
                top._codegen(state)
                generated = "".join(state.tokens)
                start = index.offset(start_line, 1)
                if text[start:start + len(generated)] != generated:
                    break
            else:
                return provider._computed
        provider = PositionProvider()
    state = PositionProvidingCodegenState(default_indent=module.default_indent,
                                          default_newline=module.default_newline, provider=provider)
    module._codegen(state)
    return provider._computed


def _innermost_statement(tree: TreeIndex, number: int) -> int:
    """The number of the innermost statement holding node ``number`` (itself included), -1 for none: the
    statement whose code LibCST generates on its own, so not an ``elif`` (its If generates it, as ``elif``)."""
    order, parents = tree.order, tree.parents
    while number >= 0 and not isinstance(order[number], cst.BaseStatement):
        number = parents[number]
    while number >= 0 and type(order[number]) is cst.If:
        parent = parents[number]
        if parent < 0 or type(order[parent]) is not cst.If or order[parent].orelse is not order[number]:
            break
        number = parent
    return number


def _block_indents(module: cst.Module, tree: TreeIndex, number: int) -> List[str]:
    """The indentation LibCST's code generation has in force at node ``number``: one token per enclosing
    block, outermost first (as autogradlint.fixing sets it up for a statement)."""
    indents = []
    number = tree.parents[number]
    while number >= 0:
        block = tree.order[number]
        if type(block) is cst.IndentedBlock:
            indents.append(module.default_indent if block.indent is None else block.indent)
        number = tree.parents[number]
    indents.reverse()
    return indents


class _MarkingCodegenState(CodegenState):
    """LibCST's plain code generation, noting how many tokens precede ``target``'s code."""
    target: Optional[cst.CSTNode] = None
    mark = 0

    def before_codegen(self, node: cst.CSTNode) -> None:
        if node is self.target:
            self.mark = len(self.tokens)


# characters _statement_positions may scan whatever the file's length (a few milliseconds)
_SEARCH_BUDGET = 1 << 24


def _statement_positions(module: cst.Module, text: str, tree: TreeIndex, nodes, replaced) -> Optional[dict]:
    """Positions of every node of the innermost statements holding ``nodes`` (and the ``replaced`` nodes of
    fixes that share a top-level statement with them), or None when that cannot be done exactly.

    Each statement's place in the file is found from its own text: LibCST gives back a file without form
    feeds or lone CRs exactly, so the statement's generated code (indentation and leading comments included)
    is somewhere in the text, at the start of a line; where it occurs once, that is the statement. When it
    occurs more than once (the same line in two methods), the enclosing statements are tried outwards, and the
    statement's offset within the first that occurs once is taken from that one's code generation. Only then
    is the statement regenerated with positions, from its line: a finding deep in a large class costs one
    small statement's code generation, not the class's, and no parse by Python."""
    if "\x0c" in text or text.count("\r") != text.count("\r\n"):
        return None
    from libcst.metadata import PositionProvider
    from libcst.metadata.position_provider import PositionProvidingCodegenState

    order, ends, parents = tree.order, tree.ends, tree.parents
    wanted = set()
    tops = set()
    for node in nodes:
        number = tree.number(node)
        if number is None:
            return None
        statement = _innermost_statement(tree, number)
        if statement < 0:
            return None
        wanted.add(statement)
        while parents[statement] > 0:  # up to the top-level statement (the Module is number 0)
            statement = parents[statement]
        tops.add(statement)
    for node in replaced:
        number = tree.number(node)
        statement = _innermost_statement(tree, number) if number is not None else -1
        if statement >= 0:
            top = statement
            while parents[top] > 0:
                top = parents[top]
            if top in tops:
                wanted.add(statement)

    index: Optional[LineIndex] = None
    provider = PositionProvider()
    done_to = 0  # statements inside one already regenerated have their positions
    # each search for a statement's code scans the text up to it, and on to the end to see that it is the only
    # one: with thousands of findings that is quadratic. Past this many characters scanned, the other way
    # (Python's lines of the top-level statements) costs less
    budget = max(32 * len(text), _SEARCH_BUDGET)
    for statement in sorted(wanted):
        if statement < done_to:
            continue
        done_to = ends[statement]
        # where the statement starts in the text: from the innermost of it and its enclosing statements whose
        # code occurs exactly once in the text
        candidate = statement
        while True:
            state = _MarkingCodegenState(default_indent=module.default_indent, default_newline=module.default_newline,
                            indent_tokens=_block_indents(module, tree, candidate))
            state.target = order[statement]
            order[candidate]._codegen(state)
            code = "".join(state.tokens)
            # where it occurs at the start of a line (the same code may end a longer line, or sit deeper)
            needle = "\n" + code
            budget -= len(text)
            if budget < 0:
                return None
            if text.startswith(code):
                at = 0
            else:
                at = text.find(needle) + 1
                if at == 0:
                    return None  # not the file's text: let Python's parser say where the statements are
            if text.find(needle, at) < 0:
                start = at + len("".join(state.tokens[:state.mark]))
                break
            candidate = _innermost_statement(tree, parents[candidate])
            if candidate < 0:
                return None  # even the top-level statement occurs twice
        if index is None:
            index = LineIndex(text)
        line, column = index.position(start)
        if column != 1:
            return None
        state = PositionProvidingCodegenState(default_indent=module.default_indent,
                                              default_newline=module.default_newline, provider=provider,
                                              indent_tokens=_block_indents(module, tree, statement))
        state.line = line
        order[statement]._codegen(state)
        code = "".join(state.tokens)
        if text[start:start + len(code)] != code:
            return None
    return provider._computed


def _top_level_first_lines(module: cst.Module, text: str, python_lines: Optional[List[int]]) -> Optional[Dict[int, int]]:
    """id(top-level statement) -> the line of its first token (its first decorator for a decorated
    definition), from Python's parser (``python_lines`` when the screen already parsed the file); None when
    Python cannot parse the file or the two parsers disagree."""
    if python_lines is None:
        try:
            python_lines = [min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", ())])
                            for s in _python_parse(text).body]
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
    lines: Dict[int, int] = {}
    position = 0
    for statement in module.body:
        if position >= len(python_lines):
            return None
        lines[id(statement)] = python_lines[position]
        # `a; b` is one LibCST line but two Python statements
        position += len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
    return lines if position == len(python_lines) else None
