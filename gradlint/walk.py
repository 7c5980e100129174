"""A lean, iterative walk over a LibCST tree.

LibCST's own visitor rebuilds every node it passes and recurses in Python; this walk reads each node's
syntactic children straight from its dataclass fields, skips whitespace and punctuation, and uses an
explicit stack so a deeply nested expression cannot exhaust Python's recursion limit.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Type

import libcst as cst

# Fields that only hold formatting (whitespace, brackets, commas, operators' tokens).
_FORMATTING_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "comma",
        "semicolon",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "newline",
        "trailing_whitespace",
        "dot",
        "colon",
        "equal",
        "star",
        "asynchronous",
        "operator",
        "whitespace",
        "indent",
        "default_indent",
        "default_newline",
        "encoding",
        "has_trailing_newline",
        "quote",
        "prefix",
    }
)

_FIELDS: Dict[type, Tuple[str, ...]] = {}


def _syntactic_fields(node_type: type) -> Tuple[str, ...]:
    names = tuple(
        f.name
        for f in dataclasses.fields(node_type)
        if f.name not in _FORMATTING_FIELDS and not f.name.startswith("whitespace")
    )
    _FIELDS[node_type] = names
    return names


# is-a-node answers per concrete type: isinstance against CSTNode (an ABC) is slow in the hot loop
_IS_NODE: Dict[type, bool] = {}


def _is_node_type(value_type: type) -> bool:
    answer = _IS_NODE.get(value_type)
    if answer is None:
        answer = _IS_NODE[value_type] = issubclass(value_type, cst.CSTNode)
    return answer


def children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """The syntactic child nodes of ``node``, in field order (source order for statement bodies)."""
    names = _FIELDS.get(type(node))
    if names is None:
        names = _syntactic_fields(type(node))
    out: List[cst.CSTNode] = []
    for name in names:
        value = getattr(node, name)
        value_type = type(value)
        if value_type is tuple or value_type is list:
            for item in value:
                if _is_node_type(type(item)):
                    out.append(item)
        elif _is_node_type(value_type):
            out.append(value)
    return out


class TreeIndex:
    """The nodes of one tree in source (pre-)order, with where each node's subtree ends, so that a
    subtree is a slice: rules and analyses iterate subtrees many times per file."""

    def __init__(self, root: cst.CSTNode) -> None:
        order: List[cst.CSTNode] = []
        ends: List[int] = []
        parents: List[int] = []
        position: Dict[int, int] = {}
        # nodes to enter, with their parent's number; a bare number marks "that subtree is finished"
        stack: List[object] = [(root, -1)]
        while stack:
            item = stack.pop()
            if type(item) is int:
                ends[item] = len(order)
                continue
            node, parent = item  # type: ignore[misc]
            number = len(order)
            order.append(node)
            ends.append(0)
            parents.append(parent)
            position[id(node)] = number
            stack.append(number)
            stack.extend((child, number) for child in reversed(children(node)))
        self.order = order
        self.ends = ends
        self.parents = parents
        self.position = position

    def ancestors(self, node: cst.CSTNode) -> List[cst.CSTNode]:
        """The ancestors of ``node`` (of this tree), nearest first."""
        number = self.position.get(id(node))
        out: List[cst.CSTNode] = []
        if number is None or self.order[number] is not node:
            return out
        number = self.parents[number]
        while number >= 0:
            out.append(self.order[number])
            number = self.parents[number]
        return out

    def subtree(self, node: cst.CSTNode) -> Optional[List[cst.CSTNode]]:
        """Every node under ``node`` (included) in source order, or None for a node of another tree."""
        number = self.position.get(id(node))
        if number is None or self.order[number] is not node:
            return None
        return self.order[number:self.ends[number]]


# the index of the tree being linted in this process (set by the engine for the length of one file)
_current: Optional[TreeIndex] = None


def current_index() -> Optional[TreeIndex]:
    """The index of the tree being linted, if any."""
    return _current


@contextlib.contextmanager
def indexed(index: TreeIndex):
    """Make ``iter_tree`` use ``index`` while linting one file."""
    global _current
    previous, _current = _current, index
    try:
        yield index
    finally:
        _current = previous


def iter_tree(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every syntactic node under ``root`` (included), depth first in source order."""
    if _current is not None:
        nodes = _current.subtree(root)
        if nodes is not None:
            return iter(nodes)
    return _iter_tree_uncached(root)


def _iter_tree_uncached(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


VisitFn = Callable[[cst.CSTNode], None]


def walk(
    index: TreeIndex,
    on_visit: Dict[Type[cst.CSTNode], List[VisitFn]],
    on_leave: Dict[Type[cst.CSTNode], List[VisitFn]],
    ancestors: List[cst.CSTNode],
) -> None:
    """Call ``on_visit[type]`` handlers entering each node of the indexed tree and ``on_leave[type]``
    leaving it.

    ``ancestors`` is kept up to date during the walk: while a node's handlers run, it holds the
    node's ancestors (its parent last), not the node itself.
    """
    order, ends = index.order, index.ends
    open_ends: List[int] = []  # where the subtree of each ancestor ends
    for number, node in enumerate(order):
        while open_ends and open_ends[-1] <= number:
            open_ends.pop()
            left = ancestors.pop()
            handlers = on_leave.get(type(left))
            if handlers:
                for handler in handlers:
                    handler(left)
        handlers = on_visit.get(type(node))
        if handlers:
            for handler in handlers:
                handler(node)
        ancestors.append(node)
        open_ends.append(ends[number])
    while open_ends:
        open_ends.pop()
        left = ancestors.pop()
        handlers = on_leave.get(type(left))
        if handlers:
            for handler in handlers:
                handler(left)
