"""A lean, iterative walk over a LibCST tree.

LibCST's own visitor rebuilds every node it passes and recurses in Python; this walk reads each node's
syntactic children straight from its dataclass fields, skips whitespace and punctuation, and uses an
explicit stack so a deeply nested expression cannot exhaust Python's recursion limit.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Iterator, List, Tuple, Type

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


def iter_tree(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every syntactic node under ``root`` (included), depth first in source order."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


VisitFn = Callable[[cst.CSTNode], None]


def walk(
    root: cst.CSTNode,
    on_visit: Dict[Type[cst.CSTNode], List[VisitFn]],
    on_leave: Dict[Type[cst.CSTNode], List[VisitFn]],
    ancestors: List[cst.CSTNode],
) -> None:
    """Call ``on_visit[type]`` handlers entering each node and ``on_leave[type]`` leaving it.

    ``ancestors`` is kept up to date during the walk: while a node's handlers run, it holds the
    node's ancestors (its parent last), not the node itself.
    """
    stack: List[Tuple[cst.CSTNode, bool]] = [(root, False)]
    push = stack.append
    while stack:
        node, leaving = stack.pop()
        if leaving:
            ancestors.pop()
            handlers = on_leave.get(type(node))
            if handlers:
                for handler in handlers:
                    handler(node)
            continue
        handlers = on_visit.get(type(node))
        if handlers:
            for handler in handlers:
                handler(node)
        push((node, True))
        ancestors.append(node)
        kids = children(node)
        for child in reversed(kids):
            push((child, False))
