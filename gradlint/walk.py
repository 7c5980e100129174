"""A lean, iterative walk over a LibCST tree.

LibCST's own visitor rebuilds every node it passes and recurses in Python; this walk reads each node's
syntactic children straight from its dataclass fields, skips whitespace and punctuation, and uses an
explicit stack so a deeply nested expression cannot exhaust Python's recursion limit.
"""
from __future__ import annotations

import contextlib
import dataclasses
from bisect import bisect_left
from operator import attrgetter
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

def _syntactic_fields(node_type: type) -> Tuple[str, ...]:
    return tuple(
        f.name
        for f in dataclasses.fields(node_type)
        if f.name not in _FORMATTING_FIELDS and not f.name.startswith("whitespace")
    )


# node type -> a getter of its syntactic fields' values (always a tuple), or None for a node without any
_GETTERS: Dict[type, Optional[Callable[[cst.CSTNode], tuple]]] = {}
# value type -> 1 for a node, 2 for a sequence (of nodes), 0 for anything else (str, None, sentinels):
# isinstance against CSTNode (an ABC) is slow in the hot loop
_KIND: Dict[type, int] = {tuple: 2, list: 2}


def _getter(node_type: type) -> Optional[Callable[[cst.CSTNode], tuple]]:
    names = _syntactic_fields(node_type)
    if not names:
        getter = None
    elif len(names) == 1:
        single = attrgetter(names[0])
        getter = lambda node: (single(node),)  # noqa: E731
    else:
        getter = attrgetter(*names)
    _GETTERS[node_type] = getter
    return getter


def _kind(value_type: type) -> int:
    # the MRO, not issubclass: LibCST's classes are ABCs, whose first subclass checks are slow
    kind = _KIND[value_type] = 1 if cst.CSTNode in value_type.__mro__ else 0
    return kind


def children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """The syntactic child nodes of ``node``, in field order (source order for statement bodies)."""
    node_type = type(node)
    try:
        getter = _GETTERS[node_type]
    except KeyError:
        getter = _getter(node_type)
    out: List[cst.CSTNode] = []
    if getter is None:
        return out
    kinds = _KIND
    for value in getter(node):
        kind = kinds.get(type(value))
        if kind is None:
            kind = _kind(type(value))
        if kind == 1:
            out.append(value)
        elif kind == 2:
            for item in value:
                item_kind = kinds.get(type(item))
                if item_kind is None:
                    item_kind = _kind(type(item))
                if item_kind == 1:
                    out.append(item)
    return out


class TreeIndex:
    """The nodes of one tree in source (pre-)order, with where each node's subtree ends, so that a
    subtree is a slice: rules and analyses iterate subtrees many times per file. ``nodes_of`` finds the
    nodes of given types under a node without looking at the others."""

    def __init__(self, root: cst.CSTNode) -> None:
        order: List[cst.CSTNode] = []
        parents: List[int] = []
        by_type: Dict[type, List[int]] = {}
        # nodes to enter, and beside them their parent's number
        stack: List[cst.CSTNode] = [root]
        owners: List[int] = [-1]
        pop, owner_pop = stack.pop, owners.pop
        order_append, parents_append = order.append, parents.append
        while stack:
            node = pop()
            number = len(order)
            order_append(node)
            parents_append(owner_pop())
            node_type = type(node)
            numbers = by_type.get(node_type)
            if numbers is None:
                by_type[node_type] = [number]
            else:
                numbers.append(number)
            kids = children(node)
            if kids:
                kids.reverse()
                stack.extend(kids)
                owners.extend([number] * len(kids))
        # where each subtree ends: past its last descendant, found from the last node back to the first
        ends = list(range(1, len(order) + 1))
        for number in range(len(order) - 1, 0, -1):
            parent = parents[number]
            if ends[number] > ends[parent]:
                ends[parent] = ends[number]
        self.order = order
        self.ends = ends
        self.parents = parents
        # built in C at once rather than node by node in the loop above
        self.position: Dict[int, int] = dict(zip(map(id, order), range(len(order))))
        self._by_type = by_type
        self._matching: Dict[tuple, List[List[int]]] = {}

    def number(self, node: cst.CSTNode) -> Optional[int]:
        """The node's place in ``order``, or None for a node of another tree."""
        number = self.position.get(id(node))
        if number is None or self.order[number] is not node:
            return None
        return number

    def ancestors(self, node: cst.CSTNode) -> List[cst.CSTNode]:
        """The ancestors of ``node`` (of this tree), nearest first."""
        number = self.number(node)
        out: List[cst.CSTNode] = []
        if number is None:
            return out
        number = self.parents[number]
        while number >= 0:
            out.append(self.order[number])
            number = self.parents[number]
        return out

    def subtree(self, node: cst.CSTNode) -> Optional[List[cst.CSTNode]]:
        """Every node under ``node`` (included) in source order, or None for a node of another tree."""
        number = self.number(node)
        if number is None:
            return None
        return self.order[number:self.ends[number]]

    def numbers_of(self, types: Tuple[type, ...], start: int = 0, end: Optional[int] = None) -> List[int]:
        """The numbers, in source order, of the nodes between ``start`` and ``end`` that are instances of
        ``types`` (as ``isinstance`` says: a base class stands for its subclasses)."""
        lists = self._matching.get(types)
        if lists is None:
            by_type = self._by_type
            lists = self._matching[types] = [by_type[t] for t in _concrete_types(types) if t in by_type]
        if end is None:
            end = len(self.order)
        if len(lists) == 1:
            numbers = lists[0]
            return numbers[bisect_left(numbers, start):bisect_left(numbers, end)]
        found: List[int] = []
        for numbers in lists:
            found.extend(numbers[bisect_left(numbers, start):bisect_left(numbers, end)])
        found.sort()
        return found

    def nodes_of(self, types: Tuple[type, ...], root: Optional[cst.CSTNode] = None) -> Optional[List[cst.CSTNode]]:
        """The nodes under ``root`` (included; the whole tree when None) that are instances of ``types``,
        in source order; None when ``root`` is not of this tree."""
        if root is None:
            start, end = 0, len(self.order)
        else:
            start = self.number(root)
            if start is None:
                return None
            end = self.ends[start]
        order = self.order
        return [order[number] for number in self.numbers_of(types, start, end)]


# (types) -> every LibCST node class that is an instance-type of them, found once per process
_CONCRETE: Dict[tuple, List[type]] = {}


def _concrete_types(types: Tuple[type, ...]) -> List[type]:
    found = _CONCRETE.get(types)
    if found is None:
        every: List[type] = []
        stack = [cst.CSTNode]
        while stack:
            klass = stack.pop()
            every.append(klass)
            stack.extend(klass.__subclasses__())
        # the MRO, not issubclass: LibCST's classes are ABCs, whose subclass checks are slow
        found = _CONCRETE[types] = list({k: None for k in every if any(t in k.__mro__ for t in types)})
    return found


def nodes_of(root: cst.CSTNode, types: Tuple[type, ...]) -> List[cst.CSTNode]:
    """The nodes under ``root`` (included) that are instances of ``types``, in source order: from the index
    of the tree being linted without looking at other nodes, else by walking the subtree."""
    if _current is not None:
        found = _current.nodes_of(types, root)
        if found is not None:
            return found
    return [node for node in _iter_tree_uncached(root) if isinstance(node, types)]


# nodes that open a scope of their own: what is inside them does not run as part of the code around them
NESTED_SCOPES: Tuple[type, ...] = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def own_nodes_of(root: cst.CSTNode, types: Tuple[type, ...], stop: Tuple[type, ...] = NESTED_SCOPES) -> List[cst.CSTNode]:
    """The nodes under ``root`` (included) that are instances of ``types``, in source order, without entering
    nodes of ``stop`` types below ``root`` (a ``stop`` node itself is listed when it is of ``types``): from the
    index of the tree being linted, looking only at nodes of ``types`` and ``stop``."""
    index = _current
    start = index.number(root) if index is not None else None
    if start is None:
        return [node for node in _own_nodes_uncached(root, stop) if isinstance(node, types)]
    order, ends = index.order, index.ends
    found: List[cst.CSTNode] = []
    skip_to = start  # the end of a stop node's subtree: nothing in it runs as part of root
    for number in index.numbers_of(types + stop, start, ends[start]):
        if number < skip_to:
            continue
        node = order[number]
        if isinstance(node, types):
            found.append(node)
        if number != start and isinstance(node, stop):
            skip_to = ends[number]
    return found


def _own_nodes_uncached(root: cst.CSTNode, stop: Tuple[type, ...]) -> Iterator[cst.CSTNode]:
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if node is not root and isinstance(node, stop):
            continue
        stack.extend(reversed(children(node)))


def iter_with_parents(root: cst.CSTNode) -> Iterator[Tuple[cst.CSTNode, cst.CSTNode]]:
    """Every node strictly under ``root`` with its parent, in source order."""
    if _current is not None:
        start = _current.number(root)
        if start is not None:
            order, parents = _current.order, _current.parents
            return ((order[number], order[parents[number]]) for number in range(start + 1, _current.ends[start]))
    return _with_parents_uncached(root)


def _with_parents_uncached(root: cst.CSTNode) -> Iterator[Tuple[cst.CSTNode, cst.CSTNode]]:
    stack = [(child, root) for child in reversed(children(root))]
    while stack:
        node, parent = stack.pop()
        yield node, parent
        stack.extend((child, node) for child in reversed(children(node)))


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
