"""Grad-mode regions: which grad mode a statement runs under, lexically.

Sources of a mode: ``with`` items (``torch.no_grad()``, ``torch.inference_mode()``, ``torch.enable_grad()``,
``torch.set_grad_enabled(<bool literal>)``, several items, nesting) and decorators of the enclosing
function (``@torch.no_grad``, ``@torch.no_grad()``, ``@torch.inference_mode``...). A function body
starts in the caller's mode, which is unknown here unless a decorator fixes it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

import libcst as cst

from autogradlint.analysis.call_sites import bool_literal, is_grad_mode_decorator, parameter_arguments
from autogradlint.analysis.modules import bound_method, is_subclassed_here, module_instance, own_returns
from autogradlint.analysis.names import target_names
from autogradlint.analysis.tensors import PARAMETER, factory_call
from autogradlint.analysis.torch_api import (
    ENABLE_GRAD,
    GRAPH_CUTTING_METHODS,
    INFERENCE_MODE,
    NO_GRAD,
    SET_GRAD_ENABLED,
    TENSOR_ITERATORS,
)
from autogradlint.analysis.torch_versions import BARE_GRAD_MODE_DECORATORS, torch_at_least
from autogradlint.analysis import torch_semantics
from autogradlint.analysis.torch_semantics import function_flags, method_flags
from autogradlint.walk import NESTED_SCOPES, TreeIndex, children, current_index, nodes_of, own_nodes_of

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

# the modes a region can have
NO_GRAD_MODE = "no_grad"
INFERENCE = "inference_mode"
ENABLED = "enable_grad"
UNKNOWN = "unknown"  # a grad-mode context whose mode cannot be known statically

# modes in which operations record no graph
GRAD_OFF = frozenset({NO_GRAD_MODE, INFERENCE})


def _mode_argument(call: cst.Call, keyword: str) -> Optional[cst.BaseExpression]:
    for index, arg in enumerate(call.args):
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
        if arg.keyword is None and index == 0 and not arg.star:
            return arg.value
    return None


def mode_of_expression(context: "LintContext", expression: cst.BaseExpression, as_decorator: bool = False) -> Optional[str]:
    """The grad mode a ``with`` item (or, with ``as_decorator``, a decorator) sets, or None when it is
    not a grad-mode context at all. ``UNKNOWN`` when it is one but its mode depends on a variable."""
    if isinstance(expression, cst.Call):
        if not isinstance(expression.func, (cst.Name, cst.Attribute)):
            return None
        name = context.qualified_name(expression.func)
        if name == NO_GRAD:
            return NO_GRAD_MODE
        if name == ENABLE_GRAD:
            return ENABLED
        if name == INFERENCE_MODE:
            argument = _mode_argument(expression, "mode")
            if argument is None:
                return INFERENCE
            literal = bool_literal(argument)
            if literal is None:
                return UNKNOWN
            return INFERENCE if literal else ENABLED_OR_CALLER
        if name == SET_GRAD_ENABLED:
            argument = _mode_argument(expression, "mode")
            literal = bool_literal(argument) if argument is not None else None
            if literal is None:
                return UNKNOWN
            return ENABLED if literal else NO_GRAD_MODE
        return None
    if as_decorator and isinstance(expression, (cst.Name, cst.Attribute)):
        # bare decorators work since torch 2.1; before, applying one raises TypeError (GL201 reports it), so the
        # function is never defined in any mode
        if not torch_at_least(context, BARE_GRAD_MODE_DECORATORS):
            return None
        name = context.qualified_name(expression)
        if name == NO_GRAD:
            return NO_GRAD_MODE
        if name == INFERENCE_MODE:
            return INFERENCE
        if name == ENABLE_GRAD:
            return ENABLED
    return None


# inference_mode(False) leaves the caller's mode in place
ENABLED_OR_CALLER = "caller"


def decorator_mode(context: "LintContext", function: cst.FunctionDef) -> Optional[str]:
    """The grad mode a function's decorators put its body in (the innermost decorator wins). None for an
    ``async def``: the decorator wraps the call that makes the coroutine, and the body runs later, when it
    is awaited, in the caller's mode (torch 2.13: ``torch.is_grad_enabled()`` is True in the body of an
    ``@torch.no_grad()`` coroutine)."""
    if function.asynchronous is not None:
        return None
    mode: Optional[str] = None
    for decorator in function.decorators:  # listed outermost first; the last applies innermost
        found = mode_of_expression(context, decorator.decorator, as_decorator=True)
        if found is not None and found != ENABLED_OR_CALLER:
            mode = found
    return mode


def grad_mode_at(context: "LintContext", ancestors: Optional[Sequence[cst.CSTNode]] = None) -> Optional[str]:
    """The grad mode in force at the walk's current node (or below ``ancestors``): one of
    ``NO_GRAD_MODE``, ``INFERENCE``, ``ENABLED``, ``UNKNOWN``, or None when no grad-mode context
    encloses it in this function (the caller's mode, normally grad enabled)."""
    chain = context.ancestors if ancestors is None else ancestors
    return _mode_and_region(context, chain)[0]


def with_mode(context: "LintContext", node: cst.With) -> Optional[str]:
    """The grad mode the body of this ``with`` statement runs in, if one of its items sets one."""
    for item in reversed(node.items):
        mode = mode_of_expression(context, item.item)
        if mode is not None and mode != ENABLED_OR_CALLER:
            return mode
    return None


# --------------------------------------------------------------------------------------------
# grad-mode regions and straight-line data flow within one function (or the module body)

# per-file caches, dropped with the file's LintContext
_FLOWS = "grad_mode.flows"  # key of this analysis in the file's LintContext.facts
_METHOD_CLASSES = "grad_mode.method_classes"  # key of this analysis in the file's LintContext.facts

_BLOCKS = (cst.IndentedBlock, cst.SimpleStatementSuite, cst.Module)
_BLOCK_TYPES = frozenset(_BLOCKS)
_CLASSES = (cst.ClassDef,)
_GRAD_SWITCHES = (cst.With, cst.Call, cst.FunctionDef)
_NAME_TYPES = frozenset({cst.Name, cst.Attribute})
_NESTED_SCOPES = NESTED_SCOPES
_LOOPS = (cst.For, cst.While)
_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Power, cst.MatrixMultiply,
               cst.Modulo)
# Calls torch's table (torch_semantics) leaves undecided, checked by tests/test_torch_semantics.py: tensor
# methods whose result needs grad exactly when their receiver does (their arguments are not tensors:
# devices, dtypes, dims), and torch functions whose result needs grad exactly when one of their tensor
# arguments does (called with a dim or keyword the table's probe did not use)
_GRAD_PRESERVING_METHODS = frozenset(
    {"sum", "mean", "norm", "float", "double", "half", "bfloat16", "to", "cpu", "cuda", "type_as"}
)
_GRAD_COMBINING_FUNCTIONS = frozenset({"torch.sum", "torch.mean"})


# keyword arguments of torch functions that are never tensors
_NON_TENSOR_KEYWORDS = frozenset({"dim", "keepdim", "dtype", "out", "alpha", "reduction", "training", "inplace", "p",
                                  "eps", "memory_format", "non_blocking", "device"})
_UNDECIDED = object()


class Constant:
    """A value that never needs grad and carries no graph: a number literal, or a batch a data loop yields."""


CONSTANT = Constant()
# augmented assignments that compute like their binary operator
_ARITHMETIC_AUGMENTED = frozenset({cst.AddAssign, cst.SubtractAssign, cst.MultiplyAssign, cst.DivideAssign,
                                   cst.PowerAssign, cst.MatrixMultiplyAssign})

# methods whose iteration yields tensors that may require grad
_GRAD_ITERABLES = TENSOR_ITERATORS | {"values", "items"}
# wrappers of a data iterable that yield its items (with an index)
_ITERABLE_WRAPPERS = frozenset({"enumerate", "zip", "tqdm", "iter", "list"})


class GradOffValue:
    """A value certainly computed with grad off: ``node`` computed it in ``region`` (a ``with`` block or a
    decorated function) under ``mode``."""

    def __init__(self, node: cst.CSTNode, region: cst.CSTNode, mode: str) -> None:
        self.node = node
        self.region = region
        self.mode = mode


def _mode_and_region(context: "LintContext", chain: Sequence[cst.CSTNode]):
    """(mode, region node) of the innermost grad-mode context in ``chain`` (root first, the node last)."""
    for index in range(len(chain) - 1, -1, -1):
        node = chain[index]
        node_type = type(node)  # exact types: isinstance on LibCST's ABCs is slow
        if node_type is cst.With:
            below = chain[index + 1] if index + 1 < len(chain) else None
            if below is node.body:
                mode = with_mode(context, node)
                if mode is not None:
                    return mode, node
        elif node_type is cst.FunctionDef:
            below = chain[index + 1] if index + 1 < len(chain) else None
            if below is node.body:
                mode = decorator_mode(context, node)
                return mode, (node if mode is not None else None)
            return None, None
        elif node_type is cst.Lambda or node_type is cst.ClassDef:
            return None, None
    return None, None


# node type -> whether it is a statement (an issubclass check once per type: isinstance on LibCST's ABCs
# is slow)
_STATEMENT_TYPES: Dict[type, bool] = {}


def is_statement(node: cst.CSTNode) -> bool:
    """Whether ``node`` is a small or a compound statement."""
    node_type = type(node)
    found = _STATEMENT_TYPES.get(node_type)
    if found is None:
        found = _STATEMENT_TYPES[node_type] = issubclass(node_type, (cst.BaseSmallStatement, cst.BaseCompoundStatement))
    return found


class ScopeFlow:
    """Grad-mode regions and certain straight-line assignments of one function body (or the module body).

    Nested functions, classes and lambdas are not entered: they are other scopes.
    """

    def __init__(self, context: "LintContext", root: cst.CSTNode) -> None:
        self.context = context
        self.root = root
        scope = context.names.scope_of(root)
        self._bindings = scope.bindings if scope is not None else {}
        self._shared = (scope.globals_ | scope.nonlocals) if scope is not None else set()
        self._parent: Dict[int, cst.CSTNode] = {}
        self._order: Dict[int, int] = {}
        self.names: List[cst.Name] = []
        self.calls: List[cst.Call] = []
        index = current_index()
        start = index.number(root) if index is not None else None
        if start is not None:
            self._index_scope(index, start)
            return
        stack: List[cst.CSTNode] = [root]
        while stack:
            node = stack.pop()
            self._order[id(node)] = len(self._order)
            if isinstance(node, cst.Name):
                self.names.append(node)
            elif isinstance(node, cst.Call):
                self.calls.append(node)
            if node is not root and isinstance(node, _NESTED_SCOPES):
                continue
            kids = children(node)
            for kid in kids:
                self._parent[id(kid)] = node
            stack.extend(reversed(kids))

    def _index_scope(self, index: TreeIndex, start: int) -> None:
        """Fill the tables from the index of the tree being linted: the numbers of the scope's own nodes
        are the root's subtree less the insides of nested functions, classes and lambdas."""
        end = index.ends[start]
        numbers: List[int] = []
        resume = start  # the first number not yet taken
        for nested in index.numbers_of(_NESTED_SCOPES, start + 1, end):
            if nested < resume:
                continue  # inside a nested scope already skipped
            numbers.extend(range(resume, nested + 1))  # up to the nested scope's node itself
            resume = index.ends[nested]
        numbers.extend(range(resume, end))
        order, parents = index.order, index.parents
        nodes = [order[number] for number in numbers]
        self._order = {id(node): place for place, node in enumerate(nodes)}
        self._parent = {id(order[number]): order[parents[number]] for number in numbers[1:]}
        self.names = [node for node in nodes if type(node) is cst.Name]
        self.calls = [node for node in nodes if type(node) is cst.Call]

    # ---------------------------------------------------------------- structure
    def contains(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` is in this scope's own code."""
        return id(node) in self._order

    def order(self, node: cst.CSTNode) -> int:
        """Source-order index of a node of this scope."""
        return self._order[id(node)]

    def parent(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        return self._parent.get(id(node))

    def chain(self, node: cst.CSTNode) -> List[cst.CSTNode]:
        """``node``'s ancestors from the scope root down, then ``node`` itself."""
        out = [node]
        current = self._parent.get(id(node))
        while current is not None:
            out.append(current)
            current = self._parent.get(id(current))
        out.reverse()
        return out

    def is_inside(self, node: cst.CSTNode, ancestor: cst.CSTNode) -> bool:
        current: Optional[cst.CSTNode] = node
        while current is not None:
            if current is ancestor:
                return True
            current = self._parent.get(id(current))
        return False

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """The statement (a direct child of a block) holding ``node``."""
        current = node
        parent = self._parent.get(id(current))
        while parent is not None and type(parent) not in _BLOCK_TYPES:
            current = parent
            parent = self._parent.get(id(current))
        return current

    def simple_statement_of(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        """The small statement (``Assign``, ``Expr``...) or compound statement header holding ``node``."""
        current: Optional[cst.CSTNode] = node
        while current is not None and not is_statement(current):
            current = self._parent.get(id(current))
        return current

    # ---------------------------------------------------------------- grad mode
    def mode_at(self, node: cst.CSTNode) -> Optional[str]:
        """The grad mode ``node`` is evaluated in (see ``grad_mode_at``)."""
        return _mode_and_region(self.context, self.chain(node))[0]

    def region_at(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        """The ``with`` statement or decorated function that sets the grad mode at ``node``, if any."""
        return _mode_and_region(self.context, self.chain(node))[1]

    # ---------------------------------------------------------------- data flow
    def reaching_binding(self, name: cst.Name) -> Optional[cst.CSTNode]:
        """The ``Assign``/``AnnAssign`` (or the ``For`` whose target it is) that certainly gave the read
        ``name`` its value: the last binding before it, run unconditionally on every path to it (only
        ``with`` blocks may sit between), with no rebinding inside a loop around the read. None when
        that is not certain."""
        bindings = self._bindings.get(name.value)
        if not bindings or name.value in self._shared or id(name) not in self._order:
            return None
        read_at = self._order[id(name)]
        last = None
        for binding in bindings:
            where = self._order.get(id(binding.node))
            if where is None:
                return None  # bound somewhere this flow does not see
            if self.is_inside(name, binding.node):
                if isinstance(binding.node, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
                    continue  # `x = x + 1` reads the earlier binding
                if not (isinstance(binding.node, cst.For) and self.is_inside(name, binding.node.body)):
                    return None
            if where < read_at and (last is None or where > self._order[id(last)]):
                last = binding.node
        if not isinstance(last, (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.For, cst.NamedExpr)):
            return None
        if isinstance(last, cst.NamedExpr) and not self._runs_with_statement(last):
            return None
        read_chain = self.chain(name)
        on_path = {id(n) for n in read_chain}
        current = self.statement_of(last)
        block = self._parent.get(id(current))
        while block is not None and id(block) not in on_path:
            owner = self._parent.get(id(block))
            if not (isinstance(owner, cst.With) and owner.body is block):
                return None
            current = self.statement_of(owner)
            block = self._parent.get(id(current))
        if block is None:
            return None
        for node in read_chain[read_chain.index(block) + 1:]:
            if isinstance(node, _LOOPS) and any(b.node is not node and self.is_inside(b.node, node) for b in bindings):
                return None  # another binding in the loop can reach the read on the next iteration
        return last

    def _runs_with_statement(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` (a walrus) is evaluated every time its statement runs: no ``and``/``or``, conditional
        expression or lambda between them may skip it."""
        current = self._parent.get(id(node))
        while current is not None and not is_statement(current):
            if isinstance(current, (cst.BooleanOperation, cst.IfExp, cst.Lambda)):
                return False
            current = self._parent.get(id(current))
        return current is not None

    def reaching_assignment(self, name: cst.Name) -> Optional[cst.CSTNode]:
        """``reaching_binding`` when it is an assignment statement."""
        binding = self.reaching_binding(name)
        return binding if isinstance(binding, (cst.Assign, cst.AnnAssign)) else None

    def reads_of(self, assignment: cst.CSTNode, name: str) -> List[cst.Name]:
        """The reads of ``name`` in this scope that ``assignment`` (any binding ``reaching_binding`` gives)
        certainly reaches, in source order."""
        out = []
        for node in self.names:
            if node.value == name and self._order[id(node)] > self._order[id(assignment)]:
                if self.reaching_binding(node) is assignment:
                    out.append(node)
        return out

    def assigned_value(self, name: cst.Name) -> Optional[cst.BaseExpression]:
        """The expression certainly assigned to ``name`` (``name = value``, or its element of
        ``a, name = x, value``), or None."""
        assignment = self.reaching_assignment(name)
        if isinstance(assignment, cst.AnnAssign):
            return assignment.value if isinstance(assignment.target, cst.Name) else None
        if not isinstance(assignment, cst.Assign) or len(assignment.targets) != 1:
            return None
        target, value = assignment.targets[0].target, assignment.value
        if isinstance(target, cst.Name):
            return value
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)):
            if len(target.elements) == len(value.elements) and not any(
                    isinstance(e, cst.StarredElement) for e in (*target.elements, *value.elements)):
                for element, part in zip(target.elements, value.elements):
                    if isinstance(element.value, cst.Name) and element.value.value == name.value:
                        return part.value
        return None

    def unpacked_value(self, name: cst.Name) -> Optional[cst.BaseExpression]:
        """The expression whose result ``name`` holds: ``assigned_value``, or the right-hand side a tuple
        target unpacks (``seq, (h, c) = self.lstm(x)``)."""
        value = self.assigned_value(name)
        if value is not None:
            return value
        assignment = self.reaching_assignment(name)
        if isinstance(assignment, cst.Assign) and len(assignment.targets) == 1 and \
                isinstance(assignment.targets[0].target, (cst.Tuple, cst.List)) and \
                not isinstance(assignment.value, (cst.Tuple, cst.List)):
            return assignment.value
        return None

    # ---------------------------------------------------------------- values computed without grad
    def grad_off_value(self, expression: cst.BaseExpression, _depth: int = 0):
        """``GradOffValue`` when ``expression`` certainly evaluates to a tensor computed with grad off
        (inline, in a no_grad/inference_mode block it was assigned in, or by a local function decorated
        with them), reached through names and arithmetic; ``CONSTANT`` for number literals; None otherwise."""
        if _depth > 20:
            return None
        if isinstance(expression, (cst.Integer, cst.Float, cst.SimpleString)):
            return CONSTANT
        if type(expression) is cst.Name and expression.value in ("True", "False", "None"):
            return CONSTANT
        if id(expression) not in self._order:
            return None
        mode, region = _mode_and_region(self.context, self.chain(expression))
        if mode in GRAD_OFF and self._computes(expression):
            return GradOffValue(expression, region, mode)
        if isinstance(expression, cst.Name):
            assignment = self.reaching_binding(expression)
            if isinstance(assignment, cst.For):
                return CONSTANT if _iterates_data(assignment.iter) else None
            if assignment is None:
                return None
            found = self._bound_value(expression, assignment, _depth)
            if isinstance(found, GradOffValue) and self._made_to_require_grad(expression, assignment):
                return None
            return found
        if isinstance(expression, cst.Call):
            returned = self._local_call_value(expression, _depth)
            if returned is not None:
                return returned
        if isinstance(expression, cst.BinaryOperation) and isinstance(expression.operator, _ARITHMETIC):
            return self._combine([expression.left, expression.right], _depth)
        if isinstance(expression, cst.UnaryOperation) and isinstance(expression.operator, (cst.Minus, cst.Plus)):
            return self.grad_off_value(expression.expression, _depth + 1)
        if isinstance(expression, (cst.Subscript, cst.Attribute)):
            # an element or field of a grad-off result (`out[0]`, `outputs.loss`, `batch["y"]`)
            return self.grad_off_value(expression.value, _depth + 1)
        if isinstance(expression, cst.Call):
            func = expression.func
            if isinstance(func, cst.Attribute) and func.attr.value in _GRAD_PRESERVING_METHODS:
                return self.grad_off_value(func.value, _depth + 1)
            by_table = self._by_torch_table(expression, _depth)
            if by_table is not _UNDECIDED:
                return by_table
            if isinstance(func, (cst.Name, cst.Attribute)) and self.context.qualified_name(func) in _GRAD_COMBINING_FUNCTIONS:
                parts: List[cst.BaseExpression] = []
                for arg in expression.args:
                    if arg.keyword is None:
                        _add_operand(parts, arg.value)
                return self._combine(parts, _depth)
            if is_torch_loss(self.context, func):
                marks = self._loss_marks(func, expression)
                return self._combine(
                    [arg.value for index, arg in enumerate(expression.args) if _is_loss_operand(arg)
                     and self._gradient_flows_into(arg.value, marks[index] if marks is not None else "")], _depth)
            function = _grad_off_local_function(self.context, func)
            if function is not None:
                return GradOffValue(expression, function, decorator_mode(self.context, function))
        return None

    def _by_torch_table(self, call: cst.Call, depth: int):
        """What torch's table says of a call: a factory without ``requires_grad=True`` or a result that
        never needs grad (``argmax``, a comparison, ``.item()``) is CONSTANT; a result that needs grad
        exactly when an input does combines its inputs. ``_UNDECIDED`` when the table does not say."""
        func = call.func
        if type(func) not in _NAME_TYPES:
            return _UNDECIDED
        factory = factory_call(self.context, call)
        if factory is not None:
            if factory.name == PARAMETER or factory.requires_grad is not False:
                return _UNDECIDED
            return CONSTANT
        name = self.context.qualified_name(func)
        if name is not None and name.startswith("torch."):
            flags = function_flags(name, call)
            receiver: List[cst.BaseExpression] = []
            marks = torch_semantics.function_argument_marks(name, call)
        elif type(func) is cst.Attribute:
            flags = method_flags(func.attr.value, call)
            receiver = [func.value]
            marks = torch_semantics.method_argument_marks(func.attr.value, call)
        else:
            return _UNDECIDED
        if flags is None or "T" in flags:
            return _UNDECIDED
        if "n" in flags or "N" in flags:
            if receiver:
                # a method of something we know nothing about is not certainly torch's
                inner = self.grad_off_value(receiver[0], depth + 1)
                return CONSTANT if inner is not None else _UNDECIDED
            return CONSTANT
        if "g" not in flags:
            return _UNDECIDED
        if "u" in flags:
            return self.grad_off_value(receiver[0], depth + 1)
        parts: List[cst.BaseExpression] = list(receiver)
        for index, arg in enumerate(call.args):
            if arg.star:
                return None
            if arg.keyword is not None and arg.keyword.value in _NON_TENSOR_KEYWORDS:
                continue
            if not self._gradient_flows_into(arg.value, marks[index] if marks is not None else ""):
                continue
            _add_operand(parts, arg.value)
        return self._combine(parts, depth)

    def _loss_marks(self, func: cst.BaseExpression, call: cst.Call) -> Optional[List[str]]:
        """torch's per-argument differentiability of a loss call: ``F.cross_entropy(...)``,
        ``nn.CrossEntropyLoss()(...)`` or a name holding such a loss (None: not known)."""
        name = self.context.qualified_name(func) if type(func) in _NAME_TYPES else None
        if torch_semantics.is_functional_loss(name):
            return torch_semantics.function_argument_marks(name, call)
        if type(func) is cst.Call:
            constructor = func.func
            class_name = self.context.qualified_name(constructor) if type(constructor) in _NAME_TYPES else None
        else:
            instance = module_instance(self.context, func)
            class_name = instance.class_name if instance is not None else None
        return torch_semantics.layer_argument_marks(class_name, call)

    def _gradient_flows_into(self, argument: cst.BaseExpression, mark: str) -> bool:
        """Whether an argument of a torch call is one of its grad inputs, per torch's per-argument table:
        not one that never takes a gradient (an index, a mask, a dim, ``nll_loss``'s target), nor a
        class-index target (``cross_entropy``'s) unless it certainly requires grad (probabilities do)."""
        if mark == torch_semantics.NEVER:
            return False
        if mark == torch_semantics.FLOATING_ONLY:
            from autogradlint.analysis.grad_state import facts_at  # grad_state builds on this module

            statement = next((node for node in reversed(self.chain(argument)) if is_statement(node)), None)
            return statement is not None and facts_at(self.context, argument, statement).requires_grad is True
        return True

    def _combine(self, parts: Sequence[cst.BaseExpression], depth: int):
        found = None
        for part in parts:
            verdict = self.grad_off_value(part, depth + 1)
            if verdict is None:
                return None
            if isinstance(verdict, GradOffValue) and found is None:
                found = verdict
        return found if found is not None else (CONSTANT if parts else None)

    def _computes(self, expression: cst.BaseExpression) -> bool:
        """Whether evaluating ``expression`` runs an operation (its result is new, not an alias), and no
        callee can switch grad back on."""
        if isinstance(expression, cst.BinaryOperation):
            return isinstance(expression.operator, _ARITHMETIC)
        if isinstance(expression, cst.UnaryOperation):
            return isinstance(expression.operator, cst.Minus)
        if isinstance(expression, cst.Call):
            return not may_enable_grad(self.context, expression.func, self)
        return False

    def _bound_value(self, name: cst.Name, assignment: cst.CSTNode, depth: int):
        """``grad_off_value`` of what ``assignment`` (the binding that reaches the read ``name``) gave it."""
        if isinstance(assignment, cst.AugAssign):
            return self._augmented_value(assignment, depth)
        if isinstance(assignment, cst.NamedExpr):
            return self.grad_off_value(assignment.value, depth + 1)
        value = self.assigned_value(name)
        if value is not None:
            return self.grad_off_value(value, depth + 1)
        # tuple unpacking of a computation made with grad off
        value = getattr(assignment, "value", None)
        if value is not None:
            mode, region = _mode_and_region(self.context, self.chain(value))
            if mode in GRAD_OFF and self._computes(value):
                return GradOffValue(value, region, mode)
        return None

    def _augmented_value(self, node: cst.AugAssign, depth: int):
        """The value ``x op= y`` leaves in ``x``: with grad off, the in-place update records nothing and ``x``
        keeps the grad state it had; otherwise ``x op y``."""
        if type(node.operator) not in _ARITHMETIC_AUGMENTED or type(node.target) is not cst.Name:
            return None
        if _mode_and_region(self.context, self.chain(node))[0] in GRAD_OFF:
            return self.grad_off_value(node.target, depth + 1)
        return self._combine([node.target, node.value], depth)

    def _made_to_require_grad(self, read: cst.Name, binding: cst.CSTNode) -> bool:
        """Whether the variable ``read`` sees was made a grad leaf between ``binding`` and the read
        (``x.requires_grad_()``, ``x.requires_grad = True``): its later computations record a graph again."""
        start, end = self._order[id(binding)], self._order[id(read)]
        for name in self.names:
            if name.value != read.value or not start < self._order[id(name)] < end:
                continue
            attribute = self._parent.get(id(name))
            if type(attribute) is not cst.Attribute or attribute.value is not name:
                continue
            user = self._parent.get(id(attribute))
            if attribute.attr.value == "requires_grad_" and type(user) is cst.Call and user.func is attribute:
                flag = _mode_argument(user, "requires_grad")
                switched = flag is None or bool_literal(flag) is not False
            elif attribute.attr.value == "requires_grad" and type(user) is cst.AssignTarget:
                assign = self._parent.get(id(user))
                switched = not (isinstance(assign, cst.Assign) and bool_literal(assign.value) is False)
            else:
                continue
            if switched and self.reaching_binding(name) is binding:
                return True
        return False

    def _local_call_value(self, call: cst.Call, depth: int):
        """A ``GradOffValue`` when ``call`` calls a function of this file (a ``self`` method too) decorated with
        no_grad/inference_mode, or every ``return`` of which gives a value it computed with grad off
        (``with torch.no_grad(): out = model(x)`` then ``return out``); None otherwise. A ``self`` method of a
        class that another class of this file subclasses may be overridden: not followed."""
        if type(call.func) is cst.Attribute and isinstance(self.root, cst.FunctionDef):
            klass = _class_of_method(self.context, self.root)
            if klass is None or is_subclassed_here(self.context, klass):
                return None
        decorated = _grad_off_local_function(self.context, call.func, self)
        if decorated is not None:
            return GradOffValue(call, decorated, decorator_mode(self.context, decorated))
        function = local_function(self.context, call.func, self)
        if function is None or depth > 6 or function.asynchronous is not None:
            return None
        returns = own_returns(function)
        if not returns or any(value is None for value in returns):
            return None
        inner = scope_flow(self.context, function)
        found = None
        for value in returns:
            verdict = inner.grad_off_value(value, depth + 3)
            if not isinstance(verdict, GradOffValue):
                return None
            found = found or verdict
        return GradOffValue(call, found.region, found.mode)


def _iterates_data(iterable: cst.BaseExpression) -> bool:
    """Whether a ``for`` loop over ``iterable`` certainly does not walk over parameters (a data loader,
    possibly wrapped in ``enumerate``/``zip``/``tqdm``)."""
    while isinstance(iterable, cst.Call):
        func = iterable.func
        if isinstance(func, cst.Name) and func.value in _ITERABLE_WRAPPERS and iterable.args:
            if not all(_iterates_data(arg.value) for arg in iterable.args if arg.keyword is None):
                return False
            return True
        return isinstance(func, cst.Attribute) and func.attr.value not in _GRAD_ITERABLES and not isinstance(func.value, cst.Call)
    return isinstance(iterable, (cst.Name, cst.Attribute))


def is_torch_loss(context: "LintContext", func: cst.BaseExpression, _depth: int = 0) -> bool:
    """Whether ``func`` is a torch loss: ``F.mse_loss`` and co., ``nn.MSELoss()(...)``, a name or attribute
    holding an ``nn.*Loss`` instance, or a parameter every caller in this file passes one to."""
    if isinstance(func, cst.Call):
        func = func.func
        return isinstance(func, (cst.Name, cst.Attribute)) and torch_semantics.is_loss_layer(context.qualified_name(func))
    if not isinstance(func, (cst.Name, cst.Attribute)):
        return False
    if torch_semantics.is_functional_loss(context.qualified_name(func)):
        return True
    instance = module_instance(context, func)
    if instance is not None:
        return torch_semantics.is_loss_layer(instance.class_name)
    if isinstance(func, cst.Name) and _depth < 3:
        binding = context.names.binding_of(func)
        if binding is not None and binding.kind == "param" and isinstance(binding.node, cst.Param):
            arguments = parameter_arguments(context, binding.node)
            return bool(arguments) and all(
                argument is not None and is_torch_loss(context, argument, _depth + 1) for argument in arguments)
    return False


def _add_operand(parts: List[cst.BaseExpression], value: cst.BaseExpression) -> None:
    """An argument's operands: the elements of a list or tuple literal (``torch.cat([a, b])``), else itself."""
    if isinstance(value, (cst.List, cst.Tuple)):
        parts.extend(element.value for element in value.elements)
    else:
        parts.append(value)


def _is_loss_operand(arg: cst.Arg) -> bool:
    """Whether an argument of a loss call is a tensor operand: a positional one, ``input=``/``target=``."""
    if arg.keyword is None:
        return not arg.star
    return arg.keyword.value in ("input", "target")


def has_grad_switch(context: "LintContext", function: cst.FunctionDef) -> bool:
    """Whether a function's body can set grad on: a ``with`` or decorator of another mode, or
    ``set_grad_enabled``."""
    for node in nodes_of(function.body, _GRAD_SWITCHES):
        node_type = type(node)
        if node_type is cst.With:
            mode = with_mode(context, node)
            if mode is not None and mode not in GRAD_OFF:
                return True
        elif node_type is cst.Call:
            if type(node.func) in _NAME_TYPES and context.qualified_name(node.func) in (SET_GRAD_ENABLED, ENABLE_GRAD):
                return True
        elif decorator_mode(context, node) is not None:
            return True
    return False


def local_function(context: "LintContext", func: cst.BaseExpression, flow: Optional[ScopeFlow] = None,
                   plain: bool = False) -> Optional[cst.FunctionDef]:
    """The function of this file a callee certainly is: a plain name bound once by ``def``,
    ``self.method`` of the class whose method ``flow`` is, or ``obj.method`` of an object certainly built
    from a class of this file (``modules.bound_method``). With ``plain``, only one whose ``return``s are
    what the call gives (``plain_function``)."""
    function = _local_function(context, func, flow)
    return function if function is None or not plain or plain_function(context, function) else None


def plain_function(context: "LintContext", function: cst.FunctionDef) -> bool:
    """Whether a call of ``function`` gives what its ``return``s give: it is neither decorated (grad-mode
    decorators aside: they do not change the result), async, nor a generator."""
    if function.asynchronous is not None or own_nodes_of(function.body, _YIELDS):
        return False
    return all(is_grad_mode_decorator(context, d) for d in function.decorators)


_YIELDS = (cst.Yield,)


def _local_function(context: "LintContext", func: cst.BaseExpression,
                    flow: Optional[ScopeFlow]) -> Optional[cst.FunctionDef]:
    if isinstance(func, cst.Name):
        binding = context.names.binding_of(func)
        if binding is not None and binding.kind == "def" and isinstance(binding.node, cst.FunctionDef):
            return binding.node
        return None
    if (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self"
            and flow is not None and isinstance(flow.root, cst.FunctionDef)):
        klass = _class_of_method(context, flow.root)
        if klass is not None:
            for statement in klass.body.body:
                if isinstance(statement, cst.FunctionDef) and statement.name.value == func.attr.value:
                    return statement
        return None
    if isinstance(func, cst.Attribute) and not (isinstance(func.value, cst.Name) and func.value.value == "self"):
        return bound_method(context, func)
    return None


def _class_of_method(context: "LintContext", function: cst.FunctionDef) -> Optional[cst.ClassDef]:
    classes = context.facts.get(_METHOD_CLASSES)
    if classes is None:
        classes = context.facts[_METHOD_CLASSES] = {
            id(statement): node
            for node in nodes_of(context.module, _CLASSES)
            for statement in node.body.body if type(statement) is cst.FunctionDef
        }
    return classes.get(id(function))


def may_enable_grad(context: "LintContext", func: cst.BaseExpression, flow: Optional[ScopeFlow] = None) -> bool:
    """Whether calling ``func`` may switch grad on inside: a function of this file whose body enables it."""
    function = local_function(context, func, flow)
    return function is not None and has_grad_switch(context, function)


def _grad_off_local_function(context: "LintContext", func: cst.BaseExpression,
                             flow: Optional[ScopeFlow] = None) -> Optional[cst.FunctionDef]:
    """A function of this file, decorated with no_grad/inference_mode, that ``func`` certainly names (a
    ``self.method`` too, when ``flow`` is a method's)."""
    function = local_function(context, func, flow)
    if function is None or decorator_mode(context, function) not in GRAD_OFF or has_grad_switch(context, function):
        return None
    return function




def scope_flow(context: "LintContext", root: Optional[cst.CSTNode] = None) -> Optional[ScopeFlow]:
    """The ``ScopeFlow`` of ``root`` (a FunctionDef or the Module), by default of the function (or module
    body) the walk is in; None inside a class body or a lambda. Built once per scope and file."""
    if root is None:
        root = context.module
        for node in reversed(context.ancestors):
            if isinstance(node, (cst.FunctionDef, cst.Module)):
                root = node
                break
            if isinstance(node, (cst.ClassDef, cst.Lambda)):
                return None
    flows = context.facts.setdefault(_FLOWS, {})
    flow = flows.get(id(root))
    if flow is None:
        flow = flows[id(root)] = ScopeFlow(context, root)
    return flow


# libraries whose objects run the backward pass of a loss given to their ``backward(loss)`` method
_TRAINER_PACKAGES = frozenset({"accelerate", "deepspeed", "lightning", "pytorch_lightning", "lightning_fabric",
                               "colossalai"})
# what such objects are called: Accelerate's Accelerator, Lightning's Fabric, a DeepSpeed engine
_TRAINER_NAMES = frozenset({"accelerator", "fabric", "engine", "model_engine", "deepspeed_engine"})


def trainer_backward_loss(context: "LintContext", call: cst.Call) -> Optional[cst.BaseExpression]:
    """The loss in ``accelerator.backward(loss)``: a ``.backward(...)`` call whose receiver is certainly not a
    tensor (an Accelerate ``Accelerator``, a Lightning ``Fabric``, a DeepSpeed engine, an instance of a class of
    this file) is that object's method, which runs the backward pass of the tensor it is given; it is not
    ``Tensor.backward`` (whose first argument is the gradient). None for any other call, ``loss.backward(g)``
    included."""
    func = call.func
    if type(func) is not cst.Attribute or func.attr.value != "backward" or not call.args:
        return None
    first = call.args[0]
    if first.star or first.keyword is not None:
        return None
    return first.value if _not_a_tensor(context, func.value) else None


def _not_a_tensor(context: "LintContext", receiver: cst.BaseExpression) -> bool:
    receiver_type = type(receiver)
    if receiver_type is cst.Attribute:
        return receiver.attr.value in _TRAINER_NAMES  # self.accelerator
    if receiver_type is not cst.Name:
        return False
    if receiver.value in _TRAINER_NAMES:
        return True
    binding = context.names.binding_of(receiver)
    if binding is None or binding.kind != "assign" or not isinstance(binding.node, (cst.Assign, cst.AnnAssign)):
        return False
    value = binding.node.value
    if type(value) is not cst.Call or type(value.func) not in (cst.Name, cst.Attribute):
        return False
    name = context.qualified_name(value.func)
    if name is not None:
        root = name.split(".", 1)[0]
        if root in _TRAINER_PACKAGES:
            return True  # accelerator = Accelerator(), engine, *_ = deepspeed.initialize(...)
        if root == "torch":
            return False
    if type(value.func) is cst.Name:
        klass = context.names.binding_of(value.func)
        return klass is not None and klass.kind == "class"  # an instance of a class defined here
    return False


_AUTOGRAD_ENTRY_POINTS = {"torch.autograd.backward": "tensors", "torch.autograd.grad": "outputs"}
_ENTRY_POINT_NAMES = frozenset(name.rsplit(".", 1)[1] for name in _AUTOGRAD_ENTRY_POINTS)


def backward_target(context: "LintContext", call: cst.Call) -> Optional[cst.BaseExpression]:
    """The tensor a backward pass starts from: ``loss`` in ``loss.backward()``, ``scaler.scale(loss).backward()``,
    ``torch.autograd.backward(loss)``, ``torch.autograd.grad(loss, params)`` or ``accelerator.backward(loss)``
    (trainer_backward_loss); None for other calls."""
    func = call.func
    func_type = type(func)  # exact types: this runs on every call, and isinstance on LibCST's ABCs is slow
    if func_type is cst.Attribute:
        attr = func.attr.value
        # a qualified name ends with the attribute's name: only these can be entry points
        if attr not in _ENTRY_POINT_NAMES:
            return None
        keyword = _AUTOGRAD_ENTRY_POINTS.get(context.qualified_name(func) or "")
        if keyword is not None:
            return _first_argument(call, keyword)
        if attr != "backward":
            return None
        loss = trainer_backward_loss(context, call)
        if loss is not None:
            return loss  # accelerator.backward(loss): the object runs loss's backward
        receiver = func.value
        if type(receiver) in _NAME_OR_ATTRIBUTE and context.qualified_name(receiver) is not None:
            return None  # ``something_imported.backward(...)`` is a function, not a tensor method
        if _is_scaler_scale(receiver):
            return receiver.args[0].value  # type: ignore[attr-defined]
        return receiver
    if func_type is cst.Name:
        keyword = _AUTOGRAD_ENTRY_POINTS.get(context.qualified_name(func) or "")
        if keyword is not None:
            return _first_argument(call, keyword)
    return None


_NAME_OR_ATTRIBUTE = frozenset({cst.Name, cst.Attribute})


def _is_scaler_scale(expression: cst.BaseExpression) -> bool:
    """``scaler.scale(loss)``: the AMP grad scaler's scaled loss, whose graph is the loss's."""
    return (isinstance(expression, cst.Call) and isinstance(expression.func, cst.Attribute)
            and expression.func.attr.value == "scale" and len(expression.args) == 1 and not expression.args[0].star
            and expression.args[0].keyword is None)


def _first_argument(call: cst.Call, keyword: str) -> Optional[cst.BaseExpression]:
    """The first positional argument of ``call`` or its ``keyword=`` argument; None behind a ``*``/``**``."""
    for index, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
        if arg.keyword is None and index == 0:
            return arg.value
    return None


def feeds_backward(flow: ScopeFlow, node: cst.BaseExpression) -> bool:
    """Whether the value of ``node`` certainly flows, through assignments of this scope, into the tensor
    a later ``backward()`` (or ``torch.autograd.backward/grad``) starts from."""
    targets = []
    for call in flow.calls:
        target = backward_target(flow.context, call)
        if target is not None:
            targets.append(target)
    return flows_into(flow, node, targets)


def flows_into(flow: ScopeFlow, node: cst.BaseExpression, targets: Sequence[cst.CSTNode]) -> bool:
    """Whether the value of ``node`` reaches one of the ``targets`` expressions, directly or through
    assignments of this scope (not through ``.detach()``/``.item()``)."""
    if not targets:
        return False
    frontier: List[cst.CSTNode] = [node]
    seen = set()
    while frontier:
        current = frontier.pop()
        if any(flow.is_inside(current, target) for target in targets):
            return True
        assignment = _assignment_holding(flow, current)
        if assignment is None or id(assignment) in seen:
            continue
        seen.add(id(assignment))
        for target in assignment.targets:
            for name in target_names(target.target):
                frontier.extend(flow.reads_of(assignment, name))
    return False


def _assignment_holding(flow: ScopeFlow, node: cst.CSTNode) -> Optional[cst.Assign]:
    """The ``Assign`` whose value holds ``node`` with no graph-ending call (``.detach()``...) between."""
    current = node
    parent = flow.parent(current)
    while parent is not None and not is_statement(parent):
        if type(parent) is cst.Attribute and parent.attr.value in GRAPH_CUTTING_METHODS:
            return None
        current = parent
        parent = flow.parent(current)
    if isinstance(parent, cst.Assign) and current is parent.value:
        return parent
    return None
