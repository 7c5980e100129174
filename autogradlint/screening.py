"""Screening hostile input before LibCST sees it.

LibCST's native parser can crash the process or take quadratic time on code nested thousands deep, and it
accepts a NUL byte that CPython refuses. Before a file is parsed, a byte scan (and, only when the scan cannot
tell, Python's own parser) decides whether LibCST may be given it; ``screen_source`` is the one entry point.
See docs/robustness.md.
"""
from __future__ import annotations

import re
import sys
import warnings
from typing import TYPE_CHECKING, List, Optional, Tuple, Union

if TYPE_CHECKING:  # pragma: no cover
    import ast


def screen_source(source: bytes) -> Tuple[Optional[Tuple[str, int, int]], Optional[List[int]]]:
    """Whether LibCST may parse the file: (message, line, column) of the GL001 finding to report instead, or
    None; and, when Python's parser already looked at the file, the first line of each top-level statement
    (positions reuse them instead of parsing again)."""
    null = null_byte(source)
    if null is not None:
        return ("SyntaxError: source code cannot contain null bytes", null[0], null[1]), None
    too_deep = too_deeply_nested(source)
    if too_deep is not None:
        line, column, message = too_deep
        return (f"SyntaxError: {message}", line, column), None
    too_complex, first_lines = screen(source) if needs_screen(source) else (None, None)
    if too_complex is not None:
        return (too_complex, 1, 1), None
    return None, first_lines


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"()[]{}")


_BRACKET_STEP = {ord(c): (1 if c in "([{" else -1) for c in "()[]{}"}


# CPython refuses more than 200 nested brackets; LibCST's native parser can crash well before its own limit
_MAX_NESTING = 200


def too_deeply_nested(source: bytes) -> Optional[Tuple[int, int, str]]:
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
        python_parse(source)
    except SyntaxError as error:
        return (error.lineno or 1, error.offset or 1, error.msg)
    except (ValueError, RecursionError, MemoryError) as error:
        return (1, 1, f"the file is nested too deeply to parse ({type(error).__name__})")
    return None


# LibCST nests `a and b and ...` (CPython keeps it flat); its native parser overflows its stack, a crash no
# handler can catch, somewhere between 6000 and 8000 operands
_MAX_BOOL_OPERANDS = 4000


_BOOL_OPERATOR = re.compile(rb"\b(?:and|or)\b")


def python_parse(source: Union[bytes, str]) -> "ast.Module":
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


def needs_screen(source: bytes) -> bool:
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


def screen(source: bytes) -> Tuple[Optional[str], Optional[List[int]]]:
    """Python's own look at the file before LibCST's: why LibCST must not be given it (or None), and the
    first line of each top-level statement (its first decorator's for a decorated definition), which
    positions reuse instead of parsing again. CPython's parser refuses expressions nested about 3000 deep;
    LibCST's takes time quadratic in the depth and overflows its native stack not far above that, so a file
    CPython cannot build a tree for is not handed to LibCST."""
    try:
        tree = python_parse(source)
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


def null_byte(source: bytes) -> Optional[Tuple[int, int]]:
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
