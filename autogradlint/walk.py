"""A lean, iterative walk over a LibCST tree.

LibCST's own visitor rebuilds every node it passes and recurses in Python; this walk reads each node's
syntactic children straight from its dataclass fields, skips whitespace and punctuation, and uses an
explicit stack so a deeply nested expression cannot exhaust Python's recursion limit.
"""
from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import itertools
import typing
from bisect import bisect_left
from operator import attrgetter
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type

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


# value type -> 1 for a node, 2 for a sequence (of nodes), 0 for anything else (str, None, sentinels):
# isinstance against CSTNode (an ABC) is slow in the hot loop
_KIND: Dict[type, int] = {tuple: 2, list: 2}


def _kind(value_type: type) -> int:
    # the MRO, not issubclass: LibCST's classes are ABCs, whose first subclass checks are slow
    kind = _KIND[value_type] = 1 if cst.CSTNode in value_type.__mro__ else 0
    return kind


def _add_reversed(value: object, out: List[cst.CSTNode]) -> None:
    """Add the node(s) ``value`` holds to ``out``, last first: for a field whose annotation does not say."""
    kinds = _KIND
    kind = kinds.get(type(value))
    if kind is None:
        kind = _kind(type(value))
    if kind == 1:
        out.append(value)  # type: ignore[arg-type]
    elif kind == 2:
        for item in reversed(value):  # type: ignore[call-overload]
            item_kind = kinds.get(type(item))
            if item_kind is None:
                item_kind = _kind(type(item))
            if item_kind == 1:
                out.append(item)


def _is_node_class(annotation: object) -> bool:
    if isinstance(annotation, typing.ForwardRef):
        annotation = getattr(cst, annotation.__forward_arg__, None)
    return isinstance(annotation, type) and cst.CSTNode in annotation.__mro__


def _field_shape(annotation: object) -> str:
    """What a syntactic field holds, from its annotation: "none" (a str or bool: never a node), "node" (always
    one), "optional" (a node or None), "nodes" (a sequence of nodes), or "any" (to be looked at: unions with
    sentinels, string annotations, anything else)."""
    if annotation is str or annotation is bool:
        return "none"
    if _is_node_class(annotation):
        return "node"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union and len(args) == 2 and type(None) in args:
        if _is_node_class(args[0] if args[1] is type(None) else args[1]):
            return "optional"
    if origin is collections.abc.Sequence and len(args) == 1:
        item = args[0]
        if _is_node_class(item) or (typing.get_origin(item) is typing.Union and all(map(_is_node_class, typing.get_args(item)))):
            return "nodes"
    return "any"


# node type -> a function giving its syntactic children last first (a tuple or a list), or None for a node type
# that cannot have any (Name, strings, numbers: half the nodes of real code)
_KIDS: Dict[type, Optional[Callable[[cst.CSTNode], Sequence[cst.CSTNode]]]] = {}


def _kids_function(node_type: type) -> Optional[Callable[[cst.CSTNode], Sequence[cst.CSTNode]]]:
    """Compiled once per node type, from its fields' annotations (LibCST's parser keeps to them): a type
    whose syntactic fields always hold one node each gets an attrgetter (no Python frame at all); others a
    function made for the type, which looks at a value only where the annotation leaves it open. The generic
    loop it replaces asked every value of every node what it was: the tree index's largest cost."""
    annotations = {f.name: f.type for f in dataclasses.fields(node_type)}
    fields = [(name, _field_shape(annotations[name])) for name in _syntactic_fields(node_type)]
    fields = [(name, shape) for name, shape in fields if shape != "none"]
    fields.reverse()  # last first: the tree index pushes them on its stack
    function: Optional[Callable[[cst.CSTNode], Sequence[cst.CSTNode]]]
    if not fields:
        function = None
    elif len(fields) >= 2 and all(shape == "node" for _, shape in fields):
        function = attrgetter(*(name for name, _ in fields))
    else:
        lines = ["def kids(node):", "    out = []"]
        for name, shape in fields:
            if shape == "node":
                lines.append(f"    out.append(node.{name})")
            elif shape == "optional":
                lines += [f"    value = node.{name}", "    if value is not None:", "        out.append(value)"]
            elif shape == "nodes":
                lines.append(f"    out.extend(node.{name}[::-1])")
            else:
                lines.append(f"    add_reversed(node.{name}, out)")
        lines.append("    return out")
        namespace: Dict[str, object] = {"add_reversed": _add_reversed}
        exec(compile("\n".join(lines) + "\n", f"<children of {node_type.__name__}>", "exec"), namespace)
        function = namespace["kids"]  # type: ignore[assignment]
    _KIDS[node_type] = function
    return function


def children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """The syntactic child nodes of ``node``, in field order (source order for statement bodies)."""
    node_type = type(node)
    try:
        kids = _KIDS[node_type]
    except KeyError:
        kids = _kids_function(node_type)
    if kids is None:
        return []
    out = list(kids(node))
    out.reverse()
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
        pop, owner_pop, push, owners_push = stack.pop, owners.pop, stack.extend, owners.extend
        order_append, parents_append = order.append, parents.append
        kids_of = _KIDS
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
            try:
                kids = kids_of[node_type]
            except KeyError:
                kids = _kids_function(node_type)
            if kids is not None:
                found = kids(node)  # last first, as the stack wants them
                if found:
                    push(found)
                    owners_push((number,) * len(found))
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
        # each type's own subclasses, not every LibCST class checked against every type (that took a
        # pre-commit call 10 ms); __subclasses__, not issubclass: LibCST's classes are ABCs, slow to check
        seen: Dict[type, None] = {}
        for base in types:
            stack = [base]
            while stack:
                klass = stack.pop()
                if klass not in seen:
                    seen[klass] = None
                    stack.extend(klass.__subclasses__())
        found = _CONCRETE[types] = list(seen)
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
    leaving it (the node's exact type: a handler for a base class is not called for its subclasses).

    ``ancestors`` is kept up to date during the walk: while a node's handlers run, it holds the
    node's ancestors (its parent last), not the node itself.

    Only the nodes of the handlers' types are gone through (from the index's per-type lists, a sixth of
    the tree on real code): on the way to each, the ancestors it has that are not yet in ``ancestors`` are
    entered from the index's parents, and those whose subtree ends before it are left, innermost first, with
    their leave handlers. That is the order, and the ancestors, a walk through every node would give the
    handlers: no handler is called on the nodes passed over."""
    order, ends, parents = index.order, index.ends, index.parents
    by_type = index._by_type
    lists = [by_type[node_type] for node_type in {**on_visit, **on_leave} if node_type in by_type]
    if not lists:
        return
    numbers = lists[0] if len(lists) == 1 else sorted(itertools.chain.from_iterable(lists))
    open_numbers: List[int] = []  # the number of each node in ``ancestors``
    path: List[int] = []

    def leave_innermost() -> None:
        open_numbers.pop()
        left = ancestors.pop()
        handlers = on_leave.get(type(left))
        if handlers:
            for handler in handlers:
                handler(left)

    for number in numbers:
        # leave what ends before this node, innermost first
        while open_numbers and ends[open_numbers[-1]] <= number:
            leave_innermost()
        # enter the ancestors of this node that are not open yet (what is still open encloses it)
        innermost = open_numbers[-1] if open_numbers else -1
        parent = parents[number]
        if parent != innermost:
            while parent != innermost:
                path.append(parent)
                parent = parents[parent]
            path.reverse()
            open_numbers.extend(path)
            ancestors.extend([order[entered] for entered in path])
            path.clear()
        node = order[number]
        handlers = on_visit.get(type(node))
        if handlers:
            for handler in handlers:
                handler(node)
        open_numbers.append(number)
        ancestors.append(node)
    while open_numbers:
        leave_innermost()
