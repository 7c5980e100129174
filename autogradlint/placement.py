"""Placing findings: positions for the nodes rules reported (computed only for files that have findings,
and only for the statements that hold them) and text edits for their fixes."""
from __future__ import annotations

import re
from typing import Dict, List, Optional

import libcst as cst
from libcst._nodes.internal import CodegenState

from autogradlint.edits import LineIndex, edits_for
from autogradlint.rule import Diagnostic, Fix
from autogradlint.screening import python_parse
from autogradlint.walk import TreeIndex


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


def place(module: cst.Module, path: str, findings, expected_failure_blocks, text: Optional[str],
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
                            for s in python_parse(text).body]
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
