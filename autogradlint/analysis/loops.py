"""Loops, straight-line blocks and the lifetime of autograd graphs in them.

Facts the graph-lifetime rules share: which loop body a node sits in, the statements that run one after
another in a block (``with`` bodies included: they always run), which names a piece of code rebinds,
which names an expression reads as tensor data (cut at ``.detach()``/``.item()``...), and which calls run
a backward pass that frees the graph.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

import libcst as cst

from autogradlint.analysis.grad_mode import GRAD_OFF, with_mode
from autogradlint.analysis.modules import is_module_instance
from autogradlint.analysis.names import bound_names, target_names
from autogradlint.analysis.tensors import factory_call
from autogradlint.analysis.torch_api import GRAPH_CUTTING_METHODS, TENSOR_ITERATORS
from autogradlint.walk import NESTED_SCOPES, children, own_nodes_of

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

AUTOGRAD_BACKWARD = "torch.autograd.backward"

# attributes that are not the tensor's graph (``.data`` shares storage but has no grad_fn)
GRAPH_CUTTING_ATTRIBUTES = frozenset({"data", "shape", "dtype", "device", "ndim", "grad", "requires_grad", "is_leaf"})
# methods whose result is metadata, not a tensor with the receiver's graph
METADATA_METHODS = frozenset({"size", "dim", "numel", "nelement", "element_size", "get_device", "stride", "type"})
# builtins that report a value: print it, or turn it into a Python number or string (a total used there is a
# metric use)
REPORTING_BUILTINS = frozenset({"print", "float", "int", "round", "str", "format", "repr"})
# builtins whose result carries no graph: the reporting ones (not ``round``: ``round(t)`` is ``torch.round(t)``,
# a tensor with a graph), other conversions to Python values, and fetching the next data item
NON_GRAPH_BUILTINS = (REPORTING_BUILTINS - {"round"}) | {"bool", "len", "isinstance", "type", "id", "next", "iter",
                                                         "range"}
_CUT_OR_METADATA_METHODS = GRAPH_CUTTING_METHODS | METADATA_METHODS
_NAME_OR_ATTRIBUTE = frozenset({cst.Name, cst.Attribute})

_SCOPES = NESTED_SCOPES
Loop = (cst.For, cst.While)
_SCOPES_AND_LOOPS = (*_SCOPES, *Loop)
_SCOPE_TYPES = frozenset(_SCOPES)
_SCOPE_OWNERS = frozenset({cst.FunctionDef, cst.ClassDef, cst.Module})
_EXITS = (cst.Break, cst.Return, cst.Raise)
_STATEMENTS = (cst.BaseSmallStatement, cst.BaseCompoundStatement)


# ------------------------------------------------------------------------------------ loops


def enclosing_loop(ancestors: Sequence[cst.CSTNode]) -> Optional[cst.CSTNode]:
    """The innermost ``for``/``while`` whose body holds the node below ``ancestors`` (parent last), within
    the current function; None outside any loop body (a loop's header or ``else:`` is not its body)."""
    for index in range(len(ancestors) - 1, -1, -1):
        node = ancestors[index]
        node_type = type(node)
        if node_type in _SCOPE_TYPES:
            return None
        if node_type is cst.For or node_type is cst.While:
            below = ancestors[index + 1] if index + 1 < len(ancestors) else None
            if below is node.body:
                return node
    return None


def enclosing_function(ancestors: Sequence[cst.CSTNode]) -> Optional[cst.FunctionDef]:
    """The innermost function whose body holds the node (None at module or class level)."""
    for index in range(len(ancestors) - 1, -1, -1):
        node_type = type(ancestors[index])
        if node_type is cst.FunctionDef:
            return ancestors[index]
        if node_type is cst.ClassDef or node_type is cst.Lambda:
            return None
    return None


def enclosing_scope(ancestors: Sequence[cst.CSTNode]) -> cst.CSTNode:
    """The function, class or module whose code holds the node."""
    for index in range(len(ancestors) - 1, -1, -1):
        if type(ancestors[index]) in _SCOPE_OWNERS:
            return ancestors[index]
    return ancestors[0]


def loop_exits_early(loop: cst.CSTNode) -> bool:
    """Whether the loop body can leave the loop (``break``/``return``/``raise``) outside nested loops."""
    return bool(own_nodes_of(loop.body, _EXITS, _SCOPES_AND_LOOPS))


def iterates_at_most_once(loop: cst.CSTNode) -> bool:
    """``for ... in range(1)`` / a one-element literal: the body certainly runs at most once."""
    if not isinstance(loop, cst.For):
        return False
    iterable = loop.iter
    if isinstance(iterable, (cst.List, cst.Tuple, cst.Set)):
        return len(iterable.elements) <= 1
    if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) and iterable.func.value == "range":
        args = iterable.args
        return len(args) == 1 and isinstance(args[0].value, cst.Integer) and int(args[0].value.value) <= 1
    return False


def parameter_loop_items(loop: cst.For) -> Dict[str, Tuple[cst.BaseExpression, str]]:
    """The loop variables that hold a parameter (or buffer) of a module on every iteration, each with the
    receiver and the method of its iterator: ``p`` in ``for p in m.parameters()``, ``for n, p in
    m.named_parameters()``, ``for i, p in enumerate(m.parameters())``, and both of ``for p, q in
    zip(a.parameters(), b.parameters())`` (an EMA update). The receiver is not checked to be a module."""
    found: Dict[str, Tuple[cst.BaseExpression, str]] = {}
    _add_parameter_items(loop.target, loop.iter, found)
    return found


def _add_parameter_items(target: cst.BaseExpression, iterable: cst.BaseExpression,
                         found: Dict[str, Tuple[cst.BaseExpression, str]]) -> None:
    if type(iterable) is not cst.Call or any(arg.star for arg in iterable.args):
        return
    func = iterable.func
    if type(func) is cst.Attribute and func.attr.value in TENSOR_ITERATORS:
        if func.attr.value.startswith("named_"):
            if type(target) is cst.Tuple and len(target.elements) == 2 and type(target.elements[1].value) is cst.Name \
                    and type(target.elements[1]) is not cst.StarredElement:
                found[target.elements[1].value.value] = (func.value, func.attr.value)
        elif type(target) is cst.Name:
            found[target.value] = (func.value, func.attr.value)
        return
    if type(func) is not cst.Name or type(target) is not cst.Tuple or any(arg.keyword is not None for arg in iterable.args):
        return
    elements = target.elements
    if any(type(e) is cst.StarredElement for e in elements):
        return
    if func.value == "zip" and len(elements) == len(iterable.args):
        for element, arg in zip(elements, iterable.args):
            _add_parameter_items(element.value, arg.value, found)
    elif func.value == "enumerate" and len(elements) == 2 and len(iterable.args) == 1:
        _add_parameter_items(elements[1].value, iterable.args[0].value, found)


def is_parameter_loop_item(context: "LintContext", name: cst.Name) -> bool:
    """``p`` bound only by a loop over ``<x>.parameters()`` / ``<x>.named_parameters()`` (or the buffer
    equivalents, or a ``zip``/``enumerate`` of them: ``parameter_loop_items``): a parameter or buffer
    tensor of a module."""
    binding = context.names.binding_of(name)
    if binding is None or not isinstance(binding.node, cst.For):
        return False
    return name.value in parameter_loop_items(binding.node)


# ------------------------------------------------------------------------------------ blocks


def straight_line(body: cst.CSTNode) -> List[cst.CSTNode]:
    """The statements of a block in the order they run, each a small statement (``Expr``, ``Assign``...)
    or a compound statement; the bodies of ``with`` statements are spliced in, since they always run."""
    out: List[cst.CSTNode] = []
    statements = body.body if isinstance(body, (cst.IndentedBlock, cst.Module)) else [body]
    for statement in statements:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            out.extend(statement.body)
        elif isinstance(statement, cst.With):
            out.extend(straight_line(statement.body))
        else:
            out.append(statement)
    return out


def innermost_block(ancestors: Sequence[cst.CSTNode], node: cst.CSTNode) -> Optional[Tuple[cst.CSTNode, cst.CSTNode]]:
    """(owner, statement) for ``node`` below ``ancestors``: the owner is the nearest function, loop,
    branch, handler or module whose block holds the node (``with`` bodies belong to the enclosing block),
    the statement is the element of ``straight_line(block_body(owner))`` that holds the node."""
    statement: cst.CSTNode = node
    below = node
    for index in range(len(ancestors) - 1, -1, -1):
        current = ancestors[index]
        if isinstance(current, cst.Module):
            return current, statement
        if isinstance(current, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            statement = below
        elif isinstance(current, cst.With):
            if below is not current.body:
                statement = current  # in the header: not a statement of the straight line
        elif isinstance(getattr(current, "body", None), cst.BaseSuite):
            if below is current.body:
                return current, statement
            if isinstance(current, cst.BaseCompoundStatement):
                statement = current
        below = current
    return None


def block_body(owner: cst.CSTNode) -> cst.CSTNode:
    """The block of an owner returned by ``innermost_block``, for ``straight_line``."""
    return owner if isinstance(owner, cst.Module) else owner.body  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------ names


def own_calls(root: cst.CSTNode) -> List[cst.Call]:
    """The calls code under ``root`` makes itself (not those in nested functions, classes or lambdas)."""
    return own_nodes_of(root, (cst.Call,))


def own_statements(root: cst.CSTNode) -> List[cst.CSTNode]:
    """The small and compound statements under ``root``, in source order, outside nested scopes."""
    return [node for node in own_nodes_of(root, _STATEMENTS) if node is not root]


def assignment_pairs(statement: cst.CSTNode) -> List[Tuple[List[str], Optional[cst.BaseExpression]]]:
    """(names bound, value) for a small statement that binds names: ``a = b = v`` gives ([a, b], v);
    ``a += v`` gives ([a], v) (the old value is read too); value None for a binding whose value is unknown."""
    if isinstance(statement, cst.Assign):
        names = [n for target in statement.targets for n in target_names(target.target)]
        return [(names, statement.value)] if names else []
    if isinstance(statement, cst.AnnAssign):
        names = target_names(statement.target)
        return [(names, statement.value)] if names else []
    if isinstance(statement, cst.AugAssign):
        names = target_names(statement.target)
        return [(names, statement.value)] if names else []
    return []


def data_names(expression: cst.CSTNode) -> List[cst.Name]:
    """The names an expression reads as tensor data that can carry a graph into its result: method
    receivers and arguments, operands; not called functions (``model`` in ``model(x)``, ``self`` in
    ``self.encoder(x)``; use ``is_non_tensor_name`` to drop ``torch`` in ``torch.cat``), not values cut
    from the graph (``x.detach()``, ``x.item()``, ``x.data``, ``x.shape``, ``float(x)``), not subscript
    indices, not nested lambdas."""
    found: List[cst.Name] = []
    stack: List[cst.CSTNode] = [expression]
    while stack:
        node = stack.pop()
        node_type = type(node)
        if node_type is cst.Name:
            found.append(node)
        elif node_type is cst.Call:
            func = node.func
            func_type = type(func)
            if func_type is cst.Attribute:
                if func.attr.value in GRAPH_CUTTING_METHODS or func.attr.value in METADATA_METHODS:
                    continue
                if not (type(func.value) is cst.Name and func.value.value in ("self", "cls")):
                    stack.append(func.value)  # a method's receiver, not an object whose method is called
            elif func_type is cst.Name and func.value in NON_GRAPH_BUILTINS:
                continue
            elif func_type is not cst.Name:
                stack.append(func)
            stack.extend(arg.value for arg in node.args)
        elif node_type is cst.Attribute:
            if node.attr.value in GRAPH_CUTTING_ATTRIBUTES:
                continue
            stack.append(node.value)
        elif node_type is cst.Subscript:
            stack.append(node.value)
        elif node_type in _SCOPE_TYPES:
            continue
        elif node_type is cst.Comparison or node_type is cst.BooleanOperation or (
            node_type is cst.UnaryOperation and type(node.operator) is cst.Not
        ):
            continue  # comparisons and logic give bools without a graph
        else:
            stack.extend(children(node))
    return found


def is_non_tensor_name(context: "LintContext", name: cst.Name) -> bool:
    """A name that certainly holds no tensor: an import (``torch``, ``F``), a builtin, a function or class
    of this file, or an nn.Module instance."""
    if context.qualified_name(name) is not None:
        return True
    binding = context.names.binding_of(name)
    if binding is not None and binding.kind in ("def", "class"):
        return True
    return is_module_instance(context, name)


# ------------------------------------------------------------------------------------ backward


def keeps_graph(context: "LintContext", call: cst.Call) -> Optional[bool]:
    """Whether a backward call keeps its graph: True with ``retain_graph=True``/``create_graph=True``,
    False when it certainly frees it, None when an argument decides at run time."""
    retain = create = None
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is not None and arg.keyword.value == "retain_graph":
            retain = arg.value
        elif arg.keyword is not None and arg.keyword.value == "create_graph":
            create = arg.value
    verdicts = [_literal_bool(value) for value in (retain, create) if value is not None]
    if any(v is True for v in verdicts):
        return True
    if any(v is None for v in verdicts):
        return None
    positional_count = sum(1 for arg in call.args if arg.keyword is None)
    # positional retain_graph: loss.backward(gradient, retain_graph) / autograd.grad(out, inp, go, retain_graph)
    limit = 1 if isinstance(call.func, cst.Attribute) and call.func.attr.value == "backward" and \
        context.qualified_name(call.func) != AUTOGRAD_BACKWARD else 2
    if positional_count > limit:
        return None
    return False


def _literal_bool(expression: cst.BaseExpression) -> Optional[bool]:
    if isinstance(expression, cst.Name) and expression.value in ("True", "False", "None"):
        return expression.value == "True"
    return None


# ------------------------------------------------------------------------------------ dataflow

# tensor methods whose backward saves no tensor: a graph made only of them can be backward-ed twice
NON_SAVING_METHODS = frozenset(
    {
        "sum", "mean", "add", "sub", "neg", "view", "view_as", "reshape", "reshape_as", "flatten", "squeeze",
        "unsqueeze", "contiguous", "clone", "t", "transpose", "permute", "expand", "expand_as", "to", "float",
        "double", "half", "bfloat16", "cpu", "cuda", "requires_grad_", "retain_grad", "narrow", "select",
        "split", "chunk", "unbind",
    }
)
_SAVING_OPERATORS = (cst.Multiply, cst.Divide, cst.MatrixMultiply, cst.Power)
_SAVING_OPERATOR_TYPES = frozenset(_SAVING_OPERATORS)


class Value:
    """One binding of a name in a straight line: the expression it was bound to (None when bound by a
    compound statement or a construct whose value is unknown), the earlier values it reads as tensor data
    (transitively), and whether computing it certainly records an op that saves tensors for backward."""

    __slots__ = ("name", "expression", "reads", "saves", "statement")

    def __init__(self, name: str, expression: Optional[cst.BaseExpression], reads: FrozenSet["Value"], saves: bool,
                 statement: Optional[cst.CSTNode] = None):
        self.name = name
        self.expression = expression
        self.reads = reads
        self.saves = saves
        self.statement = statement  # the small statement that bound it


class StraightLineFlow:
    """Which value each name holds before each statement of a straight line (``straight_line(body)``).

    Names first bound before the block are absent; a name rebound inside a compound statement (``if``,
    ``for``, ``try``) gets a Value with an unknown expression there.
    """

    def __init__(self, context: "LintContext", body: cst.CSTNode) -> None:
        self.context = context
        self.statements = straight_line(body)
        self._index = {id(statement): index for index, statement in enumerate(self.statements)}
        self.env_before: List[Dict[str, Value]] = []
        graph_off = _statements_without_grad(context, body)
        env: Dict[str, Value] = {}
        for statement in self.statements:
            self.env_before.append(dict(env))
            if isinstance(statement, cst.BaseCompoundStatement) or id(statement) in graph_off:
                for name in sorted(bound_names(statement)):
                    env[name] = Value(name, None, frozenset(), False)
                continue
            for names, expression in assignment_pairs(statement):
                value = self.value_of(expression, env) if expression is not None else None
                for name in names:
                    if value is None:
                        env[name] = Value(name, None, frozenset(), False)
                    else:
                        reads, saves = value
                        if isinstance(statement, cst.AugAssign) and name in env:
                            reads = reads | {env[name]} | env[name].reads
                            saves = saves or env[name].saves
                        env[name] = Value(name, expression, reads, saves, statement)
            for name in bound_names(statement) - {n for names, _ in assignment_pairs(statement) for n in names}:
                env[name] = Value(name, None, frozenset(), False)

    def index_of(self, statement: cst.CSTNode) -> Optional[int]:
        """Position of a statement in the straight line (None when it is not one of them)."""
        return self._index.get(id(statement))

    def value_of(self, expression: cst.BaseExpression, env: Dict[str, Value]) -> Tuple[FrozenSet[Value], bool]:
        """(values the expression reads as tensor data, transitively; whether it records a saving op)."""
        reads: Set[Value] = set()
        for name in data_names(expression):
            value = env.get(name.value)
            if value is not None:
                reads.add(value)
                reads.update(value.reads)
        saves = records_saving_op(self.context, expression) or any(value.saves for value in reads)
        return frozenset(reads), saves


def carries_module_graph(context: "LintContext", value: Value) -> bool:
    """Whether a value is certainly a non-leaf with a graph: it was computed by calling an nn.Module
    (``out = model(x)``, ``feats = self.encoder(x).flatten(1)``) outside ``.detach()``."""
    if value.expression is None:
        return False
    stack: List[cst.CSTNode] = [value.expression]
    while stack:
        node = stack.pop()
        node_type = type(node)
        if node_type is cst.Call:
            func = node.func
            if type(func) is cst.Attribute and func.attr.value in _CUT_OR_METADATA_METHODS:
                continue
            if (type(func) is cst.Name or type(func) is cst.Attribute) and is_module_instance(context, func):
                return True
        if node_type is cst.Lambda or node_type is cst.Comparison or (
            node_type is cst.Attribute and node.attr.value in GRAPH_CUTTING_ATTRIBUTES
        ):
            continue
        stack.extend(children(node))
    return False


def _statements_without_grad(context: "LintContext", body: cst.CSTNode) -> Set[int]:
    """ids of the straight-line statements of ``body`` that run inside a ``no_grad``/``inference_mode`` block."""
    found: Set[int] = set()
    statements = body.body if isinstance(body, (cst.IndentedBlock, cst.Module)) else []
    for statement in statements:
        if isinstance(statement, cst.With):
            if with_mode(context, statement) in GRAD_OFF:
                found.update(id(s) for s in straight_line(statement.body))
            else:
                found.update(_statements_without_grad(context, statement.body))
    return found


def records_saving_op(context: "LintContext", expression: cst.BaseExpression) -> bool:
    """Whether evaluating the expression calls something whose backward keeps tensors (a module or loss
    call, a multiplication, ...): a graph that backward frees. Factories, reductions, views and
    additions save none; code after ``.detach()`` is not in the graph."""
    stack: List[cst.CSTNode] = [expression]
    while stack:
        node = stack.pop()
        node_type = type(node)
        if node_type is cst.Call:
            func = node.func
            if type(func) is cst.Attribute and func.attr.value in _CUT_OR_METADATA_METHODS:
                continue
            if type(func) is cst.Name and func.value in NON_GRAPH_BUILTINS:
                continue
            if type(func) is cst.Attribute and func.attr.value in NON_SAVING_METHODS:
                stack.append(func.value)
                stack.extend(arg.value for arg in node.args)
                continue
            if isinstance(func, (cst.Name, cst.Attribute)) and (context.qualified_name(func) or "").startswith("torch."):
                if factory_call(context, node) is not None or context.qualified_name(func) in NON_GRAPH_TORCH_CALLS:
                    continue
            return True
        if node_type is cst.BinaryOperation and type(node.operator) in _SAVING_OPERATOR_TYPES:
            return True
        if node_type is cst.Attribute and node.attr.value in GRAPH_CUTTING_ATTRIBUTES:
            continue
        if node_type is cst.Lambda or node_type is cst.Comparison:
            continue
        stack.extend(children(node))
    return False


# torch calls that make a tensor without a graph
NON_GRAPH_TORCH_CALLS = frozenset({"torch.from_numpy", "torch.tensor", "torch.as_tensor", "torch.zeros_like",
                                   "torch.ones_like", "torch.empty_like", "torch.randn_like", "torch.rand_like"})
