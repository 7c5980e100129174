"""Per-function gradient facts: does a value certainly require grad, is it a leaf, is it a scalar?

A small abstract interpretation of one function body (or the module body): statements are followed in
order, facts flow through assignment, augmented assignment, arithmetic, tensor methods, torch functions and
module calls. ``if``/``try`` branches are joined (a fact survives only when every branch agrees), loops are
iterated to a fixpoint, and anything not understood is unknown. Unknown means silent: a rule only acts on
facts that are certain.

Facts are recorded before every statement twice: the facts that hold every time the statement runs, and,
for statements certainly reached on a loop's first iteration, the sharper facts of that first run (the
pre-loop values). A statement that raises or misbehaves on its first run is a bug, so rules use the
sharper facts by default.

API (stable, queried by several rule families):

- ``facts_at(context, expression, statement=None, every_run=False) -> Facts``: facts of ``expression``
  evaluated just before ``statement`` (default: the statement enclosing the walk's current node).
- ``grad_mode_before(context, statement=None)``: the grad mode in force there, following ``with`` blocks,
  decorators and ``torch.set_grad_enabled(...)`` statements (``grad_mode`` constants, None = caller's).
- ``Facts``: ``kind`` ("tensor", "number" or None), ``requires_grad``, ``leaf``, ``single``
  (numel == 1), ``why_no_grad`` ("constant", "detached", "no_grad"), ``retains_grad`` ...
"""
from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import libcst as cst

from autogradlint.analysis.call_sites import parameter_arguments
from autogradlint.analysis.loops import parameter_loop_items
from autogradlint.analysis.memo import Memo
from autogradlint.analysis.modules import attribute_value, bound_method
from autogradlint.analysis.grad_mode import (
    ENABLED, GRAD_OFF, NO_GRAD_MODE, UNKNOWN, decorator_mode, is_statement, local_function, plain_function, with_mode,
)
from autogradlint.analysis.modules import module_instance, remote_forward_may_skip_grad
from autogradlint.analysis.names import bound_names, target_names
from autogradlint.analysis.tensors import (
    FLOAT_FACTORIES,
    LIKE_FACTORIES,
    PARAMETER,
    TensorFacts,
    bool_literal,
    defaults_changed,
    device_kind,
    factory_call,
    keyword,
    makes_new_tensor,
    positional,
    single_assigned_value,
)
from autogradlint.analysis.torch_api import MODULE_ITERATOR_METHODS, PARAMETER_ITERATORS, SET_GRAD_ENABLED, VARIABLE
from autogradlint.analysis.torch_semantics import function_flags, method_flags
from autogradlint.analysis import torch_semantics
from autogradlint.records import FrozenRecord, Record
from autogradlint.walk import children, current_index, iter_tree, nodes_of, own_nodes_of

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

# why a tensor certainly does not require grad
CONSTANT = "constant"  # built only from factories without requires_grad=True, literals, .item() results
DETACHED = "detached"  # its grad path went through .detach() / .data
NO_GRAD = "no_grad"  # computed under no_grad / inference_mode

TENSOR = "tensor"
NUMBER = "number"


class Facts(FrozenRecord):
    """What is certain about a value (None: unknown).

    ``kind``: TENSOR, NUMBER (a Python scalar), or None; ``single``: numel == 1 (True), certainly not
    (False); ``why_no_grad``: CONSTANT / DETACHED / NO_GRAD when requires_grad is False; ``retains_grad``:
    ``.retain_grad()`` was called on it; ``device``: "cpu", "cuda" ...; ``loop_data``: an item of a data
    loop (`for x, y in loader`), a batch, not a grad tensor.
    (A FrozenRecord, not a dataclass: a pre-commit call imports this module.)
    """

    __slots__ = ("kind", "requires_grad", "leaf", "single", "why_no_grad", "retains_grad", "dtype", "device",
                 "loop_data")

    def __init__(self, kind: Optional[str] = None, requires_grad: Optional[bool] = None, leaf: Optional[bool] = None,
                 single: Optional[bool] = None, why_no_grad: Optional[str] = None,
                 retains_grad: Optional[bool] = None, dtype: Optional[str] = None, device: Optional[str] = None,
                 loop_data: bool = False) -> None:
        self._assign(kind, requires_grad, leaf, single, why_no_grad, retains_grad, dtype, device, loop_data)

    @property
    def is_tensor(self) -> bool:
        return self.kind == TENSOR


UNKNOWN_FACTS = Facts()
_NUMBER = Facts(kind=NUMBER, requires_grad=False, single=True, why_no_grad=CONSTANT)
_LOOP_DATA = Facts(loop_data=True)
_GRAD_OF_UNKNOWN_LEAFNESS = Facts(kind=TENSOR, requires_grad=True)
# an item of ``module.parameters()``: an nn.Parameter
_PARAMETER_ITEM = Facts(kind=TENSOR, requires_grad=True, leaf=True, retains_grad=False)


def _join_field(a, b):
    return a if a == b else None


def join_facts(a: Facts, b: Facts) -> Facts:
    """The facts true of a value that is either ``a`` or ``b``."""
    if a == b:
        return a
    return Facts(
        kind=_join_field(a.kind, b.kind),
        requires_grad=_join_field(a.requires_grad, b.requires_grad),
        leaf=_join_field(a.leaf, b.leaf),
        single=_join_field(a.single, b.single),
        why_no_grad=_join_field(a.why_no_grad, b.why_no_grad),
        retains_grad=_join_field(a.retains_grad, b.retains_grad),
        dtype=_join_field(a.dtype, b.dtype),
        device=_join_field(a.device, b.device),
        loop_data=a.loop_data and b.loop_data,
    )


Env = Dict[str, Facts]


def _join_envs(envs: Sequence[Optional[Env]]) -> Optional[Env]:
    """Join of the environments that flow to one point (None: a path that never gets there)."""
    live = [e for e in envs if e is not None]
    if not live:
        return None
    first = live[0]
    if len(live) == 1:
        return first
    out: Env = {}
    for name, facts in first.items():
        joined = facts
        for other in live[1:]:
            theirs = other.get(name)
            if theirs is None:
                joined = None
                break
            joined = join_facts(joined, theirs)
        if joined is not None and joined != UNKNOWN_FACTS:
            out[name] = joined
    return out


# ------------------------------------------------------------------------------------------------
# torch vocabulary
#
# What a torch function or tensor method returns comes from torch's own table (torch_semantics.json,
# generated from the installed torch); the lists below answer only for calls the table leaves unknown
# (an arity torch was not probed with, a function it could not call on small tensors).

# Calls torch's table leaves unknown, because its probe could not make them with small tensors or was
# given other arguments: a tensor method (and torch.* / torch.nn.functional.* function of the same name)
# whose result needs grad exactly when an input does; value: how the result's numel relates to the
# inputs'. Only names some namespace's table entry does not decide are here (tests/test_torch_semantics.py
# checks each is still needed): clamp/clip called with min/max, where(c, a) forms, reductions with a dim
# or keyword, and ops that need 4-D inputs, an equation string or weights of a given shape.
_SAME = "same"  # elementwise with broadcasting: numel != 1 stays != 1
_REDUCE = "reduce"  # a full reduction when called without a dim: numel 1
_OTHER = "other"  # anything else: numel unknown
_DIFFERENTIABLE: Dict[str, str] = {
    **{n: _SAME for n in "clamp clip where".split()},
    **{n: _REDUCE for n in "sum mean prod norm std var max min".split()},
    **{n: _OTHER for n in ("mm bmm baddbmm addmm einsum tensordot bilinear conv1d conv2d conv3d layer_norm "
                           "batch_norm interpolate max_pool2d").split()},
}

_FUNCTION_PREFIXES = ("torch.", "torch.nn.functional.", "torch.linalg.", "torch.special.")
# tensor-output torch.nn layers whose output has as many elements as `out_features`/`out_channels` per item
_WIDTH_LAYERS = {"torch.nn.Linear": ("out_features", 1), "torch.nn.Bilinear": ("out_features", 2)}
_CONV_PREFIXES = ("torch.nn.Conv", "torch.nn.ConvTranspose")


# comparison operators and the torch functions they call
_COMPARISON_FUNCTIONS = {cst.GreaterThan: "gt", cst.LessThan: "lt", cst.GreaterThanEqual: "ge", cst.LessThanEqual: "le",
                         cst.Equal: "eq", cst.NotEqual: "ne"}


def _shape_of(flags: str) -> str:
    return _SAME if "s" in flags else _REDUCE if "r" in flags else _OTHER


def _torch_function(name: Optional[str]) -> Optional[str]:
    """The short name of a differentiable torch function (``torch.exp`` -> ``exp``), else None."""
    if name is None:
        return None
    for prefix in _FUNCTION_PREFIXES:
        if name.startswith(prefix):
            short = name[len(prefix):]
            if "." not in short and short in _DIFFERENTIABLE:
                return short
    return None


def _int_literal(expression: cst.BaseExpression) -> Optional[int]:
    if isinstance(expression, cst.Integer):
        try:
            return int(expression.value, 0)
        except ValueError:
            return None
    return None


def _shape_numel(args: Sequence[cst.BaseExpression]) -> Optional[int]:
    """numel of a shape given as int literals, a tuple or a list of them."""
    if len(args) == 1 and isinstance(args[0], (cst.Tuple, cst.List)):
        args = [e.value for e in args[0].elements]
    total = 1
    for arg in args:
        value = _int_literal(arg)
        if value is None:
            return None
        total *= value
    return total


def _literal_numel(expression: cst.BaseExpression) -> Optional[int]:
    """numel of the tensor ``torch.tensor(<literal>)`` builds."""
    if isinstance(expression, (cst.Integer, cst.Float)):
        return 1
    if isinstance(expression, cst.UnaryOperation):
        return _literal_numel(expression.expression)
    if isinstance(expression, (cst.List, cst.Tuple)):
        total = 0
        for element in expression.elements:
            if isinstance(element, cst.StarredElement):
                return None
            inner = _literal_numel(element.value)
            if inner is None:
                return None
            total += inner
        return total
    return None


def _single_of(numel: Optional[int]) -> Optional[bool]:
    return None if numel is None else numel == 1


# ------------------------------------------------------------------------------------------------
# file-level conditions


def _freezes_something(context: "LintContext") -> bool:
    """Whether the file may switch parameters' requires_grad off (``p.requires_grad = False``,
    ``requires_grad_(False)``, a ``freeze...`` helper): then no module output is certainly grad."""
    for node in nodes_of(context.module, _FREEZERS):
        node_type = type(node)  # exact types: isinstance on LibCST's ABCs is slow
        if node_type is cst.AssignTarget and type(node.target) is cst.Attribute:
            if node.target.attr.value == "requires_grad" and _may_hold_parameters(context, node.target.value):
                return True
        elif node_type is cst.Call:
            func = node.func
            func_type = type(func)
            name = func.attr.value if func_type is cst.Attribute else func.value if func_type is cst.Name else ""
            if name == "requires_grad_" and _may_hold_parameters(context, func.value):  # type: ignore[union-attr]
                args = positional(node)
                flag = keyword(node, "requires_grad")
                value = flag.value if flag is not None else (args[0].value if args else None)
                if value is not None and bool_literal(value) is not True:
                    return True
            elif "freeze" in name.lower():
                return True
    return False


_FREEZERS = (cst.AssignTarget, cst.Call)


def _may_hold_parameters(context: "LintContext", receiver: cst.BaseExpression) -> bool:
    """Whether the receiver of a requires_grad change may be a parameter or a module (not a name bound
    once to arithmetic or to the output of a module call)."""
    if not isinstance(receiver, cst.Name):
        return True
    binding = context.names.binding_of(receiver)
    if binding is not None and isinstance(binding.node, cst.Assign) and len(binding.node.targets) == 1 \
            and isinstance(binding.node.targets[0].target, (cst.Tuple, cst.List)):
        unpacked = binding.node.value  # `out, (h, c) = lstm(x)`: items of a module's output
        return not (isinstance(unpacked, cst.Call) and module_instance(context, unpacked.func) is not None
                    and module_instance(context, unpacked) is None)
    return _value_may_hold_parameters(context, single_assigned_value(context, receiver), 0)


def _value_may_hold_parameters(context: "LintContext", value: Optional[cst.BaseExpression], depth: int) -> bool:
    if value is None:
        return True
    if isinstance(value, (cst.Integer, cst.Float, cst.SimpleString)):
        return False
    if isinstance(value, cst.Name):
        return depth >= 3 or _value_may_hold_parameters(context, single_assigned_value(context, value), depth + 1)
    if isinstance(value, cst.BinaryOperation):
        return False
    if not isinstance(value, cst.Call):
        return True
    if isinstance(value.func, cst.Attribute) and value.func.attr.value in ("detach", "clone"):
        return False
    if factory_call(context, value) is not None:
        return False
    if module_instance(context, value.func) is not None and module_instance(context, value) is None:
        return False  # a module's output
    name = context.qualified_name(value.func) if isinstance(value.func, (cst.Name, cst.Attribute)) else None
    if name is not None and name.startswith("torch.") and depth < 3 and value.args and not any(a.star for a in value.args) \
            and function_flags(name, value) is not None and module_instance(context, value) is None:
        # a tensor function of torch's table returns a new tensor or one of its inputs (`F.dropout(x,
        # training=False)`): it holds a parameter only when an input may
        return any(_value_may_hold_parameters(context, arg.value, depth + 1) for arg in value.args)
    return True


# ------------------------------------------------------------------------------------------------
# evaluation of an expression in an environment

_SIGNS = frozenset({cst.Minus, cst.Plus})


class _Evaluator:
    """Computes the facts of expressions of one scope from the facts of its names.

    It holds what it needs of the scope, not the scope's analysis (which holds it): no reference cycle
    keeps the tree alive once the file is done."""

    def __init__(self, context: "LintContext", scope_bindings: dict, shared: set, freezes: bool) -> None:
        self.context = context
        self._scope_bindings = scope_bindings
        self._shared = shared
        self.freezes = freezes

    def tracks(self, name: cst.Name) -> bool:
        """Whether a read of ``name`` sees this scope's own variable (not a global, closure or
        comprehension variable)."""
        if name.value in self._shared:
            return False
        found = self.context.names.bindings_of(name)
        return found is not None and self._scope_bindings.get(name.value) is found

    def facts(self, expression: cst.BaseExpression, env: Env, mode: Optional[str]) -> Facts:
        try:
            return self._facts(expression, env, mode)
        except RecursionError:
            return UNKNOWN_FACTS

    # -------------------------------------------------------------- dispatch
    def _facts(self, node: cst.BaseExpression, env: Env, mode: Optional[str]) -> Facts:
        # exact types (LibCST's node classes are final): a negative isinstance on its ABCs is slow
        node_type = type(node)
        if node_type is cst.Name:
            if not self.tracks(node):
                return UNKNOWN_FACTS
            return env.get(node.value, UNKNOWN_FACTS)
        if node_type is cst.Call:
            return self._call(node, env, mode)
        if node_type is cst.Attribute:
            return self._attribute(node, env, mode)
        if node_type is cst.Integer or node_type is cst.Float:
            return _NUMBER
        if node_type is cst.UnaryOperation:
            if type(node.operator) in _SIGNS:
                return self._combine([self._facts(node.expression, env, mode)], mode, _SAME)
            return UNKNOWN_FACTS
        if node_type is cst.BinaryOperation:
            return self._binary(node, env, mode)
        if node_type is cst.IfExp:
            return join_facts(self._facts(node.body, env, mode), self._facts(node.orelse, env, mode))
        if node_type is cst.NamedExpr:
            return self._facts(node.value, env, mode)
        if node_type is cst.Comparison:
            return self._comparison(node, env, mode)
        if node_type is cst.Subscript:
            base = self._facts(node.value, env, mode)
            if base.loop_data:
                return _LOOP_DATA
            if base.is_tensor:
                return self._derived(base, base.requires_grad, mode, single=None)
            return UNKNOWN_FACTS
        return UNKNOWN_FACTS

    # -------------------------------------------------------------- building blocks
    def _derived(self, source: Facts, requires_grad: Optional[bool], mode: Optional[str], single: Optional[bool],
                 why: Optional[str] = None) -> Facts:
        """A new tensor computed from ``source`` (an op result, not a leaf unless it needs no grad)."""
        if mode in GRAD_OFF:
            return Facts(kind=TENSOR, requires_grad=False, leaf=True, single=single, why_no_grad=NO_GRAD)
        if requires_grad is True and mode not in (None, ENABLED):
            requires_grad = None
        leaf = None if requires_grad is None else not requires_grad
        if requires_grad is False:
            why = why or source.why_no_grad
        else:
            why = None
        return Facts(kind=TENSOR, requires_grad=requires_grad, leaf=leaf, single=single, why_no_grad=why,
                     retains_grad=False if requires_grad else None)

    def _combine(self, inputs: List[Facts], mode: Optional[str], shape: str, torch_op: bool = False) -> Facts:
        """The result of a differentiable op on ``inputs`` (tensors and numbers); ``torch_op``: a torch
        function, loss or module, whose result is a tensor whatever its inputs."""
        if not torch_op and not any(f.is_tensor for f in inputs):
            if inputs and all(f.kind == NUMBER for f in inputs):
                return _NUMBER
            return UNKNOWN_FACTS
        if any(f.requires_grad is True for f in inputs):
            requires: Optional[bool] = True
        elif all(f.requires_grad is False for f in inputs):
            requires = False
        else:
            requires = None
        why = None
        if requires is False:
            reasons = {f.why_no_grad for f in inputs}
            why = DETACHED if DETACHED in reasons else NO_GRAD if NO_GRAD in reasons else CONSTANT
            if None in reasons:
                why = None
        if shape == _SAME:
            if any(f.single is False for f in inputs):
                single: Optional[bool] = False
            elif all(f.single is True for f in inputs):
                single = True
            else:
                single = None
        elif shape == _REDUCE:
            single = True
        else:
            single = None
        return self._derived(Facts(why_no_grad=why), requires, mode, single)

    def _binary(self, node: cst.BinaryOperation, env: Env, mode: Optional[str]) -> Facts:
        operator = node.operator
        left = self._facts(node.left, env, mode)
        right = self._facts(node.right, env, mode)
        if isinstance(operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power)):
            return self._combine([left, right], mode, _SAME)
        if isinstance(operator, cst.MatrixMultiply) and left.is_tensor and right.is_tensor:
            return self._combine([left, right], mode, _OTHER)
        return UNKNOWN_FACTS

    def _comparison(self, node: cst.Comparison, env: Env, mode: Optional[str]) -> Facts:
        """``a > b`` of tensors: torch's ``gt`` (per its table, a bool mask that never needs grad)."""
        if len(node.comparisons) != 1:
            return UNKNOWN_FACTS
        operator = _COMPARISON_FUNCTIONS.get(type(node.comparisons[0].operator))
        if operator is None:
            return UNKNOWN_FACTS
        left = self._facts(node.left, env, mode)
        right = self._facts(node.comparisons[0].comparator, env, mode)
        if not (left.is_tensor or right.is_tensor):
            return UNKNOWN_FACTS
        flags = torch_semantics.entry_flags("torch", operator)
        if flags is None or "n" not in flags:
            return UNKNOWN_FACTS
        single = self._combine([left, right], mode, _SAME).single if "s" in flags else None
        return self._derived(Facts(why_no_grad=CONSTANT), False, mode, single, why=CONSTANT)

    def _attribute(self, node: cst.Attribute, env: Env, mode: Optional[str]) -> Facts:
        base = self._facts(node.value, env, mode)
        attr = node.attr.value
        if base.loop_data:
            return _LOOP_DATA if attr not in ("grad", "data") else UNKNOWN_FACTS
        if attr == "data":
            if base.kind is None and node.value.__class__ is cst.Attribute:
                base = self._attribute_leaf(node.value)
            return self._detached(base)
        if not base.is_tensor:
            if base.kind is None:
                return self._attribute_leaf(node)
            return UNKNOWN_FACTS
        if attr == "data":
            return self._detached(base)
        if attr in ("T", "mT", "H", "mH"):
            return self._derived(base, base.requires_grad, mode, base.single)
        return UNKNOWN_FACTS

    def _attribute_leaf(self, node: cst.Attribute) -> Facts:
        """An attribute that certainly holds a leaf that requires grad: a layer's ``weight``/``bias``, or
        ``self.w`` of a class of this file that assigns it once, to ``nn.Parameter(...)`` or a factory given
        ``requires_grad=True`` (unless the file may freeze or reparametrize)."""
        if node.attr.value in _LAYER_PARAMETERS:
            found = self._layer_parameter(node)
            if found is not UNKNOWN_FACTS:
                return found
        value = attribute_value(self.context, node, augmented_ok=True)
        if type(value) is not cst.Call:
            return UNKNOWN_FACTS
        factory = factory_call(self.context, value)
        if factory is None or factory.requires_grad is not True:
            return UNKNOWN_FACTS
        if self.freezes or _file_state(self.context).reparametrizes:
            return UNKNOWN_FACTS
        return _PARAMETER_ITEM

    def _layer_parameter(self, node: cst.Attribute) -> Facts:
        """``fc.weight`` / ``fc.bias`` of a torch layer built in this file (``fc = nn.Linear(3, 1)``): an
        nn.Parameter, a leaf that requires grad; unknown when the layer was built with ``bias=False``, by
        another call, or when the file may freeze or reparametrize weights."""
        attr = node.attr.value
        found = module_instance(self.context, node.value)
        if found is None or found.scripted or found.class_name is None:
            return UNKNOWN_FACTS
        bias_index = _LAYER_BIAS_INDEX.get(found.class_name)
        if bias_index is None and not found.class_name.startswith(_CONV_PREFIXES):
            return UNKNOWN_FACTS
        if bias_index is None:
            bias_index = 7  # Conv*(in, out, kernel, stride, padding, dilation|output_padding, groups, bias)
        constructor = _constructor(self.context, node.value)
        if constructor is None or type(constructor.func) not in (cst.Name, cst.Attribute) or \
                self.context.qualified_name(constructor.func) != found.class_name or \
                any(arg.star for arg in constructor.args):
            return UNKNOWN_FACTS
        if attr == "bias" and (keyword(constructor, "bias") is not None or len(positional(constructor)) > bias_index):
            return UNKNOWN_FACTS
        if self.freezes or _file_state(self.context).reparametrizes:
            return UNKNOWN_FACTS
        return _PARAMETER_ITEM

    @staticmethod
    def _detached(base: Facts) -> Facts:
        """``.detach()`` / ``.data`` of ``base`` (a tensor, or an unknown value that a torch op will
        certainly treat as one)."""
        why = CONSTANT if base.why_no_grad == CONSTANT else DETACHED
        return Facts(kind=base.kind if base.kind == TENSOR else None, requires_grad=False, leaf=True, single=base.single, why_no_grad=why,
                     dtype=base.dtype, device=base.device)

    def _arguments(self, call: cst.Call, env: Env, mode: Optional[str],
                   expand_sequences: bool = False, marks: Optional[List[str]] = None) -> Optional[List[Facts]]:
        """Facts of every argument gradients may flow into (None when one is starred); ``marks``: torch's
        per-argument differentiability of this call (``torch_semantics.*_argument_marks``): an argument
        that never takes a gradient (an index, a mask, a dim) is not an input, nor is a class-index target
        that does not certainly require grad; ``expand_sequences``: the elements of a list or tuple
        literal count one by one (``torch.cat([a, b])``, ``F.pad(x, (1, 1))``)."""
        out = []
        for index, arg in enumerate(call.args):
            if arg.star:
                return None
            if arg.keyword is not None and arg.keyword.value in ("dim", "keepdim", "dtype", "out", "alpha"):
                continue
            mark = marks[index] if marks is not None else ""
            if mark == torch_semantics.NEVER:
                continue
            value = arg.value
            if expand_sequences and type(value) in (cst.List, cst.Tuple):
                for element in value.elements:
                    if type(element) is cst.StarredElement:
                        return None
                    out.append(self._facts(element.value, env, mode))
                continue
            facts = self._facts(value, env, mode)
            if mark == torch_semantics.FLOATING_ONLY and facts.requires_grad is not True:
                continue
            out.append(facts)
        return out

    def _by_flags(self, flags: str, inputs: Optional[List[Facts]], mode: Optional[str],
                  torch_op: bool = False) -> Optional[Facts]:
        """The result torch's table says a call gives (None: the table does not decide)."""
        if "T" in flags:
            return UNKNOWN_FACTS  # a tuple (values, indices)
        if "N" in flags:
            return _NUMBER
        single = True if "r" in flags else None
        if "n" in flags:
            # an integer or bool result, or an output autograd does not differentiate: never needs grad
            return self._derived(Facts(why_no_grad=CONSTANT), False, mode, single, why=CONSTANT)
        if "g" in flags and inputs is not None:
            return self._combine(inputs, mode, _shape_of(flags), torch_op=torch_op)
        return None

    # -------------------------------------------------------------- calls
    def _call(self, call: cst.Call, env: Env, mode: Optional[str]) -> Facts:
        func = call.func
        if isinstance(func, cst.Attribute):
            receiver = self._facts(func.value, env, mode)
            if func.attr.value == "detach" and not call.args and receiver.kind in (TENSOR, None):
                return self._detached(receiver)
            if receiver.is_tensor or receiver.loop_data:
                return self._method(call, func.attr.value, receiver, env, mode)
            if func.attr.value == "requires_grad_" and receiver.kind is None and \
                    module_instance(self.context, func.value) is None:
                value = _flag_argument(call)
                if value is None or bool_literal(value) is True:
                    # images.clone().requires_grad_(): a tensor that requires grad (it already did, or it is a
                    # leaf now); torch's method returns its receiver
                    return _GRAD_OF_UNKNOWN_LEAFNESS
        call = _target_keyword_as_positional(call)
        if isinstance(func, (cst.Name, cst.Attribute)):
            name = self.context.qualified_name(func)
            if name is not None:
                known = self._torch_call(call, name, env, mode)
                if known is not None:
                    return known
        if isinstance(func, cst.Name) and func.value in ("float", "int", "len") and \
                self.context.qualified_name(func) == f"builtins.{func.value}":
            return _NUMBER
        if mode in (None, ENABLED) and type(func) in (cst.Name, cst.Attribute):
            # a function of this file, or a method of an instance of a class of this file
            function = local_function(self.context, func, plain=True) if type(func) is cst.Name else \
                _plain_method(self.context, func)
            if function is not None:
                return _returned_facts(self.context, function)
        return self._module_call(call, env, mode)

    def _method(self, call: cst.Call, method: str, receiver: Facts, env: Env, mode: Optional[str]) -> Facts:
        if receiver.loop_data:
            # a batch moved or reshaped is still a batch
            if method in ("to", "cuda", "cpu", "float", "double", "half", "long", "view", "squeeze",
                          "unsqueeze", "reshape", "contiguous", "type"):
                return _LOOP_DATA
            return UNKNOWN_FACTS
        if method in ("item", "tolist"):
            return _NUMBER
        if method == "detach":
            return self._detached(receiver)
        if method == "requires_grad_":
            value = _flag_argument(call)
            requires = True if value is None else bool_literal(value)
            leaf = receiver.leaf if receiver.requires_grad is not False else True
            return receiver.replace(requires_grad=requires, leaf=leaf, why_no_grad=None if requires else receiver.why_no_grad)
        conversion = self._conversion(call, receiver)
        if conversion is not None:
            return conversion
        flags = method_flags(method, call)
        if flags is not None:
            inputs = None
            if "g" in flags:
                arguments = [] if "u" in flags else self._arguments(
                    call, env, mode, marks=torch_semantics.method_argument_marks(method, call))
                inputs = None if arguments is None else [receiver, *arguments]
            known = self._by_flags(flags, inputs, mode)
            if known is not None:
                return known
        shape = _DIFFERENTIABLE.get(method)
        if shape is None:
            return UNKNOWN_FACTS
        arguments = self._arguments(call, env, mode)
        if arguments is None:
            return UNKNOWN_FACTS
        if shape == _REDUCE and (positional(call) or keyword(call, "dim") is not None):
            shape = _OTHER
        return self._combine([receiver, *arguments], mode, shape)

    def _conversion(self, call: cst.Call, receiver: Facts) -> Optional[Facts]:
        """``.to()``, ``.cuda()``, ``.cpu()``, ``.double()``... : the same tensor or a differentiable copy."""
        method = call.func.attr.value  # type: ignore[union-attr]
        if method not in ("to", "cuda", "cpu", "double", "half", "bfloat16", "float", "type"):
            return None
        source = TensorFacts("", receiver.dtype, receiver.device, receiver.requires_grad, receiver.leaf)
        if makes_new_tensor(self.context, call, source):
            leaf = None if receiver.requires_grad is None else not receiver.requires_grad
            return receiver.replace(leaf=leaf, dtype=None, device=None,
                           retains_grad=False if receiver.requires_grad else None)
        if receiver.leaf is True and receiver.requires_grad is True:
            # may be the same tensor (a leaf) or a copy (not a leaf)
            return receiver.replace(leaf=None, dtype=None, device=None, retains_grad=None)
        return receiver.replace(dtype=None, device=None)

    def _torch_call(self, call: cst.Call, name: str, env: Env, mode: Optional[str]) -> Optional[Facts]:
        factory = factory_call(self.context, call)
        if factory is not None:
            return self._factory(call, factory, env, mode)
        args = positional(call)
        if name == VARIABLE:
            flag = keyword(call, "requires_grad")
            if flag is not None and bool_literal(flag.value) is True:
                inner = self._facts(args[0].value, env, mode) if args else UNKNOWN_FACTS
                return Facts(kind=TENSOR, requires_grad=True, leaf=True, single=inner.single, retains_grad=False)
            return self._facts(args[0].value, env, mode) if args and flag is None else UNKNOWN_FACTS
        if name == "torch.from_numpy":
            return Facts(kind=TENSOR, requires_grad=False, leaf=True, why_no_grad=CONSTANT)
        if torch_semantics.is_functional_loss(name):
            return self._loss(call, env, mode, keyword(call, "reduction"),
                              torch_semantics.function_argument_marks(name, call))
        flags = function_flags(name, call) if not name.startswith("numpy.") else None
        if flags is not None:
            inputs = None
            if "g" in flags:
                inputs = self._arguments(call, env, mode, expand_sequences=True,
                                         marks=torch_semantics.function_argument_marks(name, call))
            known = self._by_flags(flags, inputs, mode, torch_op=True)
            if known is not None:
                return known
        short = _torch_function(name)
        if short is None:
            return None
        arguments = self._arguments(call, env, mode)
        if arguments is None:
            return UNKNOWN_FACTS
        shape = _DIFFERENTIABLE[short]
        if short in ("cat", "concat", "concatenate", "stack") and args and isinstance(args[0].value, (cst.List, cst.Tuple)):
            arguments = [self._facts(e.value, env, mode) for e in args[0].value.elements]
        if shape == _REDUCE and (len(args) > 1 or keyword(call, "dim") is not None):
            shape = _OTHER
        if short == "where":
            arguments = arguments[1:]
        return self._combine(arguments, mode, shape, torch_op=True)

    def _factory(self, call: cst.Call, factory, env: Env, mode: Optional[str]) -> Facts:
        args = [a.value for a in positional(call)]
        numel: Optional[int] = None
        if factory.name == PARAMETER:
            inner = self._facts(args[0], env, mode) if args else UNKNOWN_FACTS
            requires = factory.requires_grad
            return Facts(kind=TENSOR, requires_grad=requires, leaf=True, single=inner.single,
                         why_no_grad=CONSTANT if requires is False else None, retains_grad=False,
                         dtype=inner.dtype, device=inner.device)
        if factory.name in FLOAT_FACTORIES and factory.name not in ("torch.linspace", "torch.logspace", "torch.normal"):
            size = keyword(call, "size")
            shape_args = [size.value] if size is not None else args
            if factory.name == "torch.eye":
                numel = _shape_numel(shape_args[:1]) if shape_args else None
                numel = numel * numel if numel is not None and len(shape_args) == 1 else None
            else:
                numel = _shape_numel(shape_args) if shape_args else None
        elif factory.name in ("torch.tensor", "torch.as_tensor") and args:
            numel = _literal_numel(args[0])
            if factory.name == "torch.as_tensor" and numel is None and type(args[0]) not in (cst.List, cst.Tuple):
                return UNKNOWN_FACTS  # as_tensor of a tensor returns that tensor; of a list, a new one
        elif factory.name == "torch.full" and args:
            numel = _shape_numel([args[0]])
        elif factory.name in LIKE_FACTORIES and args:
            numel_single = self._facts(args[0], env, mode).single
            numel = 1 if numel_single else (2 if numel_single is False else None)
        requires = factory.requires_grad
        if factory.device is not None:
            device = device_kind(self.context, factory.device)
        elif factory.name in LIKE_FACTORIES or defaults_changed(self.context):
            device = None
        else:
            device = "cpu"
        return Facts(kind=TENSOR, requires_grad=requires, leaf=True, single=_single_of(numel),
                     why_no_grad=CONSTANT if requires is False else None,
                     retains_grad=False if requires else None, dtype=factory.dtype, device=device)

    def _loss(self, call: cst.Call, env: Env, mode: Optional[str], reduction: Optional[cst.Arg],
              marks: Optional[List[str]] = None) -> Facts:
        """A loss of (prediction, target, ...) with the given ``reduction=`` argument: the target of a
        data loop is data, never a grad path. ``marks`` (a functional loss: torch's per-argument
        differentiability): every positional argument gradients may flow into is an input, and one that
        never takes a gradient (``nll_loss``'s target, a class-index ``cross_entropy`` target) is not;
        without them (a loss module) the first two are."""
        args = positional(call)
        if len(args) < 2 or any(a.star for a in call.args):
            return UNKNOWN_FACTS
        inputs = []
        positional_marks = [m for m, a in zip(marks, call.args) if a.keyword is None] if marks is not None else None
        for index, arg in enumerate(args if marks is not None else args[:2]):
            mark = positional_marks[index] if positional_marks is not None else ""
            if mark == torch_semantics.NEVER:
                continue
            facts = self._facts(arg.value, env, mode)
            if index > 0 and facts.loop_data:
                facts = _NUMBER
            if mark == torch_semantics.FLOATING_ONLY and facts.requires_grad is not True:
                continue
            inputs.append(facts)
        return self._combine(inputs, mode, _reduction_shape(reduction), torch_op=True)

    def _module_call(self, call: cst.Call, env: Env, mode: Optional[str]) -> Facts:
        found = module_instance(self.context, call.func)
        if found is None or found.scripted or torch_semantics.layer_returns_tuple(found.class_name):
            return UNKNOWN_FACTS
        name = found.class_name or ""
        if torch_semantics.is_loss_layer(name):
            return self._loss(call, env, mode, _constructor_keyword(self.context, call.func, "reduction"),
                              torch_semantics.layer_argument_marks(name, call))
        arguments = self._arguments(call, env, mode)
        if arguments is None:
            return UNKNOWN_FACTS
        if torch_semantics.layer_keeps_numel(name) and len(arguments) == 1:
            return self._combine(arguments, mode, _SAME, torch_op=True)
        if not found.has_parameters or self.freezes or found.local is not None and _grad_off_forward(self.context, found.local) \
                or found.remote is not None and remote_forward_may_skip_grad(self.context, found.remote):
            return UNKNOWN_FACTS
        single = None
        if name in _WIDTH_LAYERS or name.startswith(_CONV_PREFIXES):
            field, index = _WIDTH_LAYERS.get(name, ("out_channels", 1))
            width = _constructor_argument(self.context, call.func, field, index)
            if width is not None and width >= 2:
                single = False
        return self._derived(UNKNOWN_FACTS, True, mode, single)


def _target_keyword_as_positional(call: cst.Call) -> cst.Call:
    """``F.mse_loss(input=p, target=t)`` / ``crit(pred, target=t)`` as ``(p, t)``: a loss's prediction and
    target given by keyword are its first two arguments (other calls are returned as they are)."""
    target = keyword(call, "target")
    if target is None:
        return call
    args = positional(call)
    prediction = keyword(call, "input")
    if len(args) == 1 and prediction is None:
        given = [args[0], target]
    elif not args and prediction is not None:
        given = [prediction, target]
    else:
        return call
    rest = [a for a in call.args if a.keyword is not None and a is not target and a is not prediction]
    return call.with_changes(args=[a.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT) for a in given] + rest)


def _reduction_shape(reduction: Optional[cst.Arg]) -> str:
    """How a loss's ``reduction=`` argument shapes its result."""
    if reduction is None:
        return _REDUCE
    if isinstance(reduction.value, cst.SimpleString):
        text = reduction.value.evaluated_value
        if text == "none":
            return _SAME
        if text in ("mean", "sum"):
            return _REDUCE
    return _OTHER


def _flag_argument(call: cst.Call) -> Optional[cst.BaseExpression]:
    """The requires_grad argument of ``requires_grad_(...)``, if any."""
    flag = keyword(call, "requires_grad")
    if flag is not None:
        return flag.value
    args = positional(call)
    return args[0].value if args else None


def _grad_off_forward(context: "LintContext", klass: cst.ClassDef) -> bool:
    """A local module whose forward may return a value without grad (decorated, detaches, no_grad)."""
    for node in nodes_of(klass, _GRAD_OFF_MARKS):
        node_type = type(node)
        if node_type is cst.FunctionDef and node.name.value == "forward" and decorator_mode(context, node):
            return True
        if node_type is cst.Attribute and node.attr.value in ("detach", "data", "numpy", "item"):
            return True
        if node_type is cst.With and with_mode(context, node) is not None:
            return True
    return False


_GRAD_OFF_MARKS = (cst.FunctionDef, cst.Attribute, cst.With)

# layers whose ``weight`` and ``bias`` are Parameters, with the position of their ``bias`` argument (Conv*: 7)
_LAYER_BIAS_INDEX = {"torch.nn.Linear": 2, "torch.nn.Bilinear": 3}
_LAYER_PARAMETERS = frozenset({"weight", "bias"})
# functions that turn a layer's weight into a computed tensor (weight_norm, parametrizations, pruning)
_REPARAMETRIZERS = ("weight_norm", "spectral_norm", "parametriz", "prune", "_unstructured", "_structured")


def _constructor(context: "LintContext", callee: cst.BaseExpression) -> Optional[cst.Call]:
    """The constructor call a layer is built by: inline, or the one assignment of its name."""
    if isinstance(callee, cst.Call):
        return callee
    if isinstance(callee, cst.Name):
        value = single_assigned_value(context, callee)
        return value if isinstance(value, cst.Call) else None
    if isinstance(callee, cst.Attribute):
        value = attribute_value(context, callee)  # self.head = nn.Linear(3, 4)
        return value if isinstance(value, cst.Call) else None
    return None


def _constructor_keyword(context: "LintContext", callee: cst.BaseExpression, field: str) -> Optional[cst.Arg]:
    """A keyword given to the layer's constructor (None also when the constructor is not known)."""
    constructor = _constructor(context, callee)
    return keyword(constructor, field) if constructor is not None else None


def _constructor_argument(context: "LintContext", callee: cst.BaseExpression, field: str, index: int) -> Optional[int]:
    """An int literal argument of the call that built a layer."""
    constructor = _constructor(context, callee)
    if constructor is None:
        return None
    given = keyword(constructor, field)
    if given is not None:
        return _int_literal(given.value)
    args = positional(constructor)
    return _int_literal(args[index].value) if len(args) > index else None


# ------------------------------------------------------------------------------------------------
# following the statements of a scope

_NESTED = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_DECLARATIONS = (cst.Global, cst.Nonlocal)
_WALRUS = (cst.NamedExpr,)
_NESTED_TYPES = frozenset(_NESTED)
_COMPREHENSIONS = frozenset({cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp})


class _Snapshot(Record):
    __slots__ = ("env", "mode")

    def __init__(self, env: Env, mode: Optional[str]) -> None:
        self.env = env
        self.mode = mode


class _Loop:
    """Environments that leave a loop body early."""

    def __init__(self) -> None:
        self.continues: List[Env] = []
        self.breaks: List[Env] = []


class _ScopeAnalysis:
    """Facts before every statement of one function body (or the module body)."""

    _MAX_ROUNDS = 4

    def __init__(self, context: "LintContext", owner: cst.CSTNode, freezes: bool) -> None:
        self.context = context
        self.owner = owner
        self.freezes = freezes
        scope = context.names.scope_of(owner)
        scope_bindings = scope.bindings if scope is not None else {}
        shared: set = set()
        if scope is not None:
            shared = set(scope.globals_) | set(scope.nonlocals)
        for node in nodes_of(owner, _DECLARATIONS):
            shared.update(item.name.value for item in node.names)
        self.every_run: Dict[int, _Snapshot] = {}
        self.first_run: Dict[int, _Snapshot] = {}
        self.evaluator = _Evaluator(context, scope_bindings, shared, freezes)
        body = owner.body if isinstance(owner, cst.FunctionDef) else owner
        mode = decorator_mode(context, owner) if isinstance(owner, cst.FunctionDef) else None
        statements = list(body.body) if isinstance(body, (cst.IndentedBlock, cst.Module)) else [body]
        start: Env = {}
        if isinstance(owner, cst.FunctionDef):
            start = _annotated_tensors(context, owner)
            start.update(_call_site_facts(context, owner))
        self.falls_off_end = True  # whether the body may finish without a return (and give None)
        try:
            self._first_pass = False
            end, _, _ = self._block(statements, dict(start), mode, record=True, loop=None)
            self.falls_off_end = end is not None
            self._first_pass = True
            self._block(statements, dict(start), mode, record=True, loop=None)
        except RecursionError:
            self.every_run.clear()
            self.first_run.clear()

    def tracks(self, name: cst.Name) -> bool:
        """Whether a read of ``name`` sees this scope's own variable (not a global, closure or
        comprehension variable)."""
        return self.evaluator.tracks(name)

    # -------------------------------------------------------------- statements
    def _record(self, statement: cst.CSTNode, env: Env, mode: Optional[str], record: bool) -> None:
        if not record:
            return
        table = self.first_run if self._first_pass else self.every_run
        table[id(statement)] = _Snapshot(env, mode)

    def _block(self, statements: Sequence[cst.CSTNode], env: Optional[Env], mode: Optional[str], record: bool,
               loop: Optional[_Loop]) -> Tuple[Optional[Env], Optional[str], bool]:
        """Follow statements; returns (env after them or None if they never finish, mode, record)."""
        for statement in statements:
            if env is None:
                return None, mode, record
            if type(statement) is cst.SimpleStatementLine:
                for small in statement.body:
                    if env is None:
                        break
                    self._record(small, env, mode, record)
                    env, mode, record = self._small(small, env, mode, record, loop)
            else:
                self._record(statement, env, mode, record)
                env, mode, record = self._compound(statement, env, mode, record, loop)
        return env, mode, record

    def _suite(self, suite: cst.BaseSuite, env: Optional[Env], mode: Optional[str], record: bool,
               loop: Optional[_Loop]) -> Tuple[Optional[Env], Optional[str], bool]:
        if isinstance(suite, cst.IndentedBlock):
            return self._block(suite.body, env, mode, record, loop)
        if env is not None:
            for small in suite.body:  # type: ignore[union-attr]
                self._record(small, env, mode, record)
                env, mode, record = self._small(small, env, mode, record, loop)
                if env is None:
                    break
        return env, mode, record

    def _small(self, node: cst.CSTNode, env: Env, mode: Optional[str], record: bool,
               loop: Optional[_Loop]) -> Tuple[Optional[Env], Optional[str], bool]:
        evaluate = self.evaluator.facts
        node_type = type(node)  # exact types: isinstance on LibCST's ABCs is slow
        if node_type is cst.Return or node_type is cst.Raise:
            return None, mode, record
        if node_type is cst.Continue or node_type is cst.Break:
            if loop is not None:
                (loop.continues if node_type is cst.Continue else loop.breaks).append(env)
            return None, mode, record
        env = dict(env)
        walrus = self._walrus_values(node, env, mode) if nodes_of(node, _WALRUS) else None
        if node_type is cst.Assign:
            value = evaluate(node.value, env, mode)
            for target in node.targets:
                self._assign(target.target, node.value, value, env, mode)
        elif node_type is cst.Expr:
            mode = self._expression_statement(node.value, env, mode)
        elif node_type is cst.AnnAssign:
            if node.value is not None:
                self._assign(node.target, node.value, evaluate(node.value, env, mode), env, mode)
        elif node_type is cst.AugAssign:
            self._augmented(node, env, mode)
        else:
            for name in bound_names(node):
                env.pop(name, None)
        if walrus:
            for name, facts in walrus.items():
                self._bind(name, facts, env)
        return env, mode, record

    def _assign(self, target: cst.BaseExpression, value_node: cst.BaseExpression, value: Facts, env: Env,
                mode: Optional[str]) -> None:
        if isinstance(target, cst.Name):
            self._bind(target.value, value, env)
        elif isinstance(target, (cst.Tuple, cst.List)):
            values = None
            if isinstance(value_node, (cst.Tuple, cst.List)) and len(value_node.elements) == len(target.elements):
                values = [e.value for e in value_node.elements]
            for index, element in enumerate(target.elements):
                inner = element.value
                if values is not None and not isinstance(element, cst.StarredElement):
                    self._assign(inner, values[index], self.evaluator.facts(values[index], env, mode), env, mode)
                else:
                    for name in target_names(inner):
                        env.pop(name, None)
        elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            owner = target.value.value
            current = env.get(owner)
            if current is None:
                return
            if target.attr.value == "requires_grad":
                flag = bool_literal(value_node)
                if current.leaf is True or flag is None:
                    self._bind(owner, current.replace(requires_grad=flag, why_no_grad=None), env)
        elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            self._in_place(target.value.value, [value], env, mode)
        elif isinstance(target, cst.StarredElement):
            for name in target_names(target):
                env.pop(name, None)

    def _bind(self, name: str, facts: Facts, env: Env) -> None:
        if facts == UNKNOWN_FACTS:
            env.pop(name, None)
        else:
            env[name] = facts

    def _in_place(self, name: str, inputs: List[Facts], env: Env, mode: Optional[str]) -> None:
        """``name`` changed in place by an op on ``inputs``: it is the same tensor, possibly now in a graph."""
        current = env.get(name)
        if current is None or not current.is_tensor:
            if current is not None:
                env.pop(name, None)
            return
        if current.leaf is True and current.requires_grad is True:
            return  # raises outside no_grad; under no_grad the leaf stays a leaf
        combined = self.evaluator._combine([current, *inputs], mode, _SAME)
        if combined.requires_grad is True:
            self._bind(name, combined.replace(single=current.single, retains_grad=current.retains_grad), env)
        elif combined.requires_grad is None:
            self._bind(name, Facts(kind=TENSOR, single=current.single), env)
        else:
            why = combined.why_no_grad if current.why_no_grad is not None else None
            self._bind(name, current.replace(why_no_grad=why), env)

    def _augmented(self, node: cst.AugAssign, env: Env, mode: Optional[str]) -> None:
        target = node.target
        value = self.evaluator.facts(node.value, env, mode)
        if isinstance(target, cst.Name):
            current = env.get(target.value, UNKNOWN_FACTS) if self.tracks(target) else UNKNOWN_FACTS
            if current.is_tensor and isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign,
                                                                cst.MultiplyAssign, cst.DivideAssign)):
                self._in_place(target.value, [value], env, mode)
                return
            self._bind(target.value, self.evaluator._combine([current, value], mode, _SAME)
                       if isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign, cst.MultiplyAssign,
                                                     cst.DivideAssign, cst.PowerAssign)) else UNKNOWN_FACTS, env)
        elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            self._in_place(target.value.value, [value], env, mode)

    def _expression_statement(self, value: cst.BaseExpression, env: Env, mode: Optional[str]) -> Optional[str]:
        """Effects of a call statement on its receiver; returns the grad mode after it."""
        if not isinstance(value, cst.Call):
            return mode
        func = value.func
        if isinstance(func, (cst.Name, cst.Attribute)) and self.context.qualified_name(func) == SET_GRAD_ENABLED:
            args = positional(value)
            flag = bool_literal(args[0].value) if args else None
            return UNKNOWN if flag is None else (ENABLED if flag else NO_GRAD_MODE)
        args = positional(value)
        if args and type(args[0].value) is cst.Name and isinstance(func, (cst.Name, cst.Attribute)) and \
                (func.value if type(func) is cst.Name else func.attr.value).endswith("_") and \
                torch_semantics.is_in_place_function(self.context.qualified_name(func), values_only=True):
            # torch.relu_(x): x changed in place
            target = args[0].value.value
            current = env.get(target)
            if current is not None and current.is_tensor:
                arguments = self.evaluator._arguments(value, env, mode)
                if arguments is None:
                    env.pop(target, None)
                else:
                    self._in_place(target, arguments[1:], env, mode)
            return mode
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
            return mode
        name = func.value.value
        current = env.get(name)
        if current is None or not current.is_tensor:
            return mode
        method = func.attr.value
        if method == "requires_grad_":
            self._bind(name, self.evaluator._method(value, method, current, env, mode), env)
        elif method == "retain_grad":
            self._bind(name, current.replace(retains_grad=True), env)
        elif method == "detach_":
            self._bind(name, self.evaluator._detached(current), env)
        elif torch_semantics.is_in_place_method(method, values_only=True):
            arguments = self.evaluator._arguments(value, env, mode)
            if arguments is None:
                env.pop(name, None)
            else:
                self._in_place(name, arguments, env, mode)
        return mode

    def _walrus_values(self, root: cst.CSTNode, env: Env, mode: Optional[str]) -> Dict[str, Facts]:
        """What the ``name := value`` expressions of ``root`` (a statement or a header) bind, evaluated
        before it: the value's facts when the walrus certainly runs and its name is read nowhere else in
        ``root``; otherwise unknown (and the name is dropped from ``env`` now, so that reads in ``root``
        do not see its old value)."""
        found: Dict[str, Facts] = {}
        reads: Dict[str, int] = {}
        walruses: List[Tuple[cst.NamedExpr, bool]] = []
        stack: List[Tuple[cst.CSTNode, bool]] = [(root, False)]
        while stack:
            node, maybe = stack.pop()
            node_type = type(node)
            if node_type in _NESTED_TYPES:
                continue
            if node_type is cst.Name:
                reads[node.value] = reads.get(node.value, 0) + 1
                continue
            if node_type is cst.NamedExpr:
                walruses.append((node, maybe))
            if node_type is cst.BooleanOperation:
                stack.append((node.left, maybe))
                stack.append((node.right, True))  # short-circuit: may not run
                continue
            if node_type is cst.IfExp:
                stack.append((node.test, maybe))
                stack.extend((branch, True) for branch in (node.body, node.orelse))
                continue
            if node_type in _COMPREHENSIONS:
                maybe = True  # runs once per item, maybe never
            stack.extend((child, maybe) for child in children(node))
        before = dict(env)
        for node, maybe in walruses:
            if type(node.target) is not cst.Name:
                continue
            name = node.target.value
            if maybe or reads.get(name, 0) > 1 or name in found:
                found[name] = UNKNOWN_FACTS
                env.pop(name, None)
            else:
                found[name] = self.evaluator.facts(node.value, before, mode)
        return found

    def _forget_walrus_targets(self, root: cst.CSTNode, env: Env) -> None:
        for inner in nodes_of(root, _WALRUS):
            if type(inner.target) is cst.Name:
                env.pop(inner.target.value, None)

    # -------------------------------------------------------------- compound statements
    def _compound(self, node: cst.CSTNode, env: Env, mode: Optional[str], record: bool,
                  loop: Optional[_Loop]) -> Tuple[Optional[Env], Optional[str], bool]:
        in_loop = loop is not None
        node_type = type(node)  # exact types: isinstance on LibCST's ABCs is slow
        if node_type is cst.If:
            branch_record = record and not (self._first_pass and in_loop)
            if nodes_of(node.test, _WALRUS) or (node.orelse is not None and nodes_of(node.orelse, _WALRUS)):
                env = dict(env)
                for name, facts in self._walrus_values(node.test, env, mode).items():
                    self._bind(name, facts, env)  # the first test always runs
                elif_test = node.orelse
                while isinstance(elif_test, cst.If):
                    self._forget_walrus_targets(elif_test.test, env)  # an elif test may not run
                    elif_test = elif_test.orelse
            ends = []
            modes = []
            current: Optional[cst.CSTNode] = node
            while isinstance(current, cst.If):
                if current is not node:
                    self._record(current, env, mode, branch_record)
                end, end_mode, _ = self._suite(current.body, dict(env), mode, branch_record, loop)
                ends.append(end)
                modes.append(end_mode)
                current = current.orelse
            if isinstance(current, cst.Else):
                end, end_mode, _ = self._suite(current.body, dict(env), mode, branch_record, loop)
                ends.append(end)
                modes.append(end_mode)
            else:
                ends.append(env)
                modes.append(mode)
            return _join_envs(ends), _join_modes(modes), record and not self._ended_early(loop)
        if node_type is cst.With:
            inner_mode = with_mode(self.context, node) or mode
            inner_env = dict(env)
            for item in node.items:
                self._forget_walrus_targets(item, inner_env)
            for item in node.items:
                if item.asname is not None:
                    for name in target_names(item.asname.name):
                        inner_env.pop(name, None)
            end, end_mode, end_record = self._suite(node.body, inner_env, inner_mode, record, loop)
            return end, (mode if end_mode == inner_mode else _join_modes([mode, end_mode])), end_record
        if node_type is cst.For or node_type is cst.While:
            return self._loop(node, env, mode, record)
        if node_type is cst.Try or node_type.__name__ == "TryStar":
            return self._try(node, env, mode, record, loop)
        # match, nested def/class, anything else: forget what it may bind
        env = dict(env)
        for name in bound_names(node):
            env.pop(name, None)
        if node_type is cst.Match:
            branch_record = record and not (self._first_pass and in_loop)
            ends = [env]
            for case in node.cases:
                ends.append(self._suite(case.body, dict(env), mode, branch_record, loop)[0])
            env = _join_envs(ends) or {}
            for name in bound_names(node):
                env.pop(name, None)
        return env, mode, record

    def _ended_early(self, loop: Optional[_Loop]) -> bool:
        return loop is not None and bool(loop.continues or loop.breaks)

    def _loop(self, node, env: Env, mode: Optional[str], record: bool) -> Tuple[Optional[Env], Optional[str], bool]:
        bound = bound_names(node)
        loop_items: Env = {}
        if isinstance(node, cst.For):
            item_facts = _LOOP_DATA if _is_data_iterable(node.iter) else UNKNOWN_FACTS
            if _is_range(self.context, node.iter) and isinstance(node.target, cst.Name):
                item_facts = _NUMBER
            for parameter in self._parameter_loop_items(node):
                loop_items[parameter] = _PARAMETER_ITEM
            for name in target_names(node.target):
                if item_facts != UNKNOWN_FACTS:
                    loop_items[name] = item_facts

        # a walrus in the header rebinds at every test (while) or once before the loop (for)
        header = node.iter if isinstance(node, cst.For) else node.test
        header_walrus = bool(nodes_of(header, _WALRUS))
        if header_walrus:
            env = dict(env)
            self._forget_walrus_targets(header, env)

        def enter(start: Env) -> Env:
            entered = dict(start)
            if header_walrus:
                self._forget_walrus_targets(header, entered)
            if isinstance(node, cst.For):
                for name in target_names(node.target):
                    entered.pop(name, None)
                entered.update(loop_items)
            return entered

        # the environment at the loop head, whatever the iteration: a fixpoint
        head = dict(env)
        for _ in range(self._MAX_ROUNDS):
            probe = _Loop()
            end, _, _ = self._suite(node.body, enter(head), mode, False, probe)
            joined = _join_envs([head, end, *probe.continues]) or {}
            if joined == head:
                break
            head = joined
        else:
            head = {k: v for k, v in env.items() if k not in bound}
        exits = _Loop()
        if self._first_pass:
            # the first iteration starts from the values before the loop
            self._suite(node.body, enter(env), mode, record, _Loop())
            end, _, _ = self._suite(node.body, enter(head), mode, False, exits)
        else:
            end, _, _ = self._suite(node.body, enter(head), mode, record, exits)
        after = _join_envs([head, end, *exits.continues]) or {}
        if node.orelse is not None:
            after = self._suite(node.orelse.body, after, mode, record and not self._first_pass, None)[0] or {}
        after = _join_envs([after, *exits.breaks]) or {}
        if header_walrus:
            self._forget_walrus_targets(header, after)
        return after, mode, record

    def _parameter_loop_items(self, node: cst.For) -> List[str]:
        """The loop variables of ``for p in m.parameters()`` / ``for n, p in m.named_parameters()`` (or a
        ``zip``/``enumerate`` of them: ``loops.parameter_loop_items``) over modules ``m`` (certainly ones:
        see ``module_instance``), which are each time a parameter: a leaf that requires grad, unless the
        file may freeze parameters."""
        if self.freezes:
            return []
        names = []
        for name, (receiver, method) in parameter_loop_items(node).items():
            if method not in PARAMETER_ITERATORS:
                continue
            found = module_instance(self.context, receiver)
            if found is not None and not found.scripted:
                names.append(name)
        return names

    def _try(self, node, env: Env, mode: Optional[str], record: bool,
             loop: Optional[_Loop]) -> Tuple[Optional[Env], Optional[str], bool]:
        end, end_mode, body_record = self._suite(node.body, dict(env), mode, record, loop)
        if node.orelse is not None:
            end, end_mode, _ = self._suite(node.orelse.body, end, end_mode, body_record, loop)
        # a handler may start anywhere in the body: what the body binds is unknown there
        unsettled = dict(env)
        for name in bound_names(node.body):
            unsettled.pop(name, None)
        handler_record = record and not (self._first_pass and loop is not None)
        ends = [end]
        for handler in node.handlers:
            start = dict(unsettled)
            if handler.name is not None:
                for name in target_names(handler.name.name):
                    start.pop(name, None)
            ends.append(self._suite(handler.body, start, mode, handler_record, loop)[0])
        after = _join_envs(ends)
        after_mode = end_mode if end_mode == mode else _join_modes([mode, end_mode])
        if node.finalbody is not None:
            start = after if after is not None else unsettled
            final, _, _ = self._suite(node.finalbody.body, start, after_mode, handler_record, loop)
            after = final if after is not None else None
        return after, after_mode, record


_TENSOR_ANNOTATIONS = frozenset({"torch.Tensor", "torch.FloatTensor", "torch.LongTensor"})


def _annotated_tensors(context: "LintContext", function: cst.FunctionDef) -> Env:
    """Parameters annotated ``x: torch.Tensor`` (without a None default): tensors, of unknown grad state."""
    found: Env = {}
    params = function.params
    for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
        annotation = param.annotation.annotation if param.annotation is not None else None
        if type(annotation) not in (cst.Name, cst.Attribute) or param.default is not None:
            continue
        if context.qualified_name(annotation) in _TENSOR_ANNOTATIONS:
            found[param.name.value] = _TENSOR_OF_UNKNOWN_GRAD
    return found


_TENSOR_OF_UNKNOWN_GRAD = Facts(kind=TENSOR)


def _call_site_facts(context: "LintContext", function: cst.FunctionDef) -> Env:
    """The tensor facts every call site of the same file gives a parameter (see ``call_sites`` for when
    call sites speak for a parameter): the join of the arguments' facts, each evaluated where it is passed."""
    state = _file_state(context)
    # a cycle of calls back here sees nothing
    return dict(state.memo.computed("parameters", id(function), state.parameter_facts,
                                    lambda: _call_site_facts_of(context, state, function), {}))


def _call_site_facts_of(context: "LintContext", state: "_FileState", function: cst.FunctionDef) -> Env:
    index = current_index()
    env: Env = {}
    if index is not None and index.number(function) is not None:
        params = function.params
        for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
            arguments = parameter_arguments(context, param)
            if not arguments:
                continue
            joined: Optional[Facts] = None
            for argument in arguments:
                facts = _facts_where_written(context, state, index, argument)
                if facts is None or not (facts.is_tensor or facts.loop_data):
                    joined = None
                    break
                joined = facts if joined is None else join_facts(joined, facts)
            if joined is not None and joined.is_tensor:
                env[param.name.value] = joined.replace(loop_data=False)
            elif joined is not None and joined.loop_data:
                env[param.name.value] = _LOOP_DATA  # every call passes a batch of a data loop
    return env


def _plain_method(context: "LintContext", attribute: cst.Attribute) -> Optional[cst.FunctionDef]:
    """``modules.bound_method`` when a call gives what its ``return``s give (``grad_mode.plain_function``)."""
    method = bound_method(context, attribute)
    return method if method is not None and plain_function(context, method) else None


def _returned_facts(context: "LintContext", function: cst.FunctionDef) -> Facts:
    """What a call of a function of this file returns: the join of its ``return`` values, each evaluated
    where it stands (its parameters are what every call site passes, see ``_call_site_facts``); unknown
    when the body may end without a return, a return has no value, or the function calls itself."""
    state = _file_state(context)
    # a recursive call sees nothing
    return state.memo.computed("returns", id(function), state.return_facts,
                               lambda: _returned_facts_of(state, function), UNKNOWN_FACTS)


def _returned_facts_of(state: "_FileState", function: cst.FunctionDef) -> Facts:
    result = UNKNOWN_FACTS
    analysis = state.scope(function)
    returns = own_nodes_of(function.body, _RETURNS)
    if returns and not analysis.falls_off_end and all(r.value is not None for r in returns):
        joined: Optional[Facts] = None
        for statement in returns:
            snapshot = analysis.every_run.get(id(statement))
            if snapshot is None:
                continue  # never reached
            facts = analysis.evaluator.facts(statement.value, snapshot.env, snapshot.mode)
            joined = facts if joined is None else join_facts(joined, facts)
        if joined is not None:
            result = joined.replace(loop_data=False) if joined.loop_data else joined
    return result


_RETURNS = (cst.Return,)


def _facts_where_written(context: "LintContext", state: "_FileState", index, node: cst.BaseExpression) -> Optional[Facts]:
    """The facts of ``node`` evaluated where it stands in the file (every run of its statement)."""
    statement = None
    owner = None
    for ancestor in index.ancestors(node):
        ancestor_type = type(ancestor)
        if statement is None and is_statement(ancestor):
            statement = ancestor
        if ancestor_type is cst.FunctionDef or ancestor_type is cst.Module:
            owner = ancestor
            break
        if ancestor_type is cst.ClassDef or ancestor_type is cst.Lambda:
            return None
    if owner is None or statement is None or statement is owner:
        return None
    analysis = state.scope(owner)
    snapshot = analysis.every_run.get(id(statement))
    if snapshot is None:
        return None
    return analysis.evaluator.facts(node, snapshot.env, snapshot.mode)


def _join_modes(modes: Sequence[Optional[str]]) -> Optional[str]:
    first = modes[0] if modes else None
    return first if all(m == first for m in modes) else UNKNOWN


def _is_range(context: "LintContext", iterable: cst.BaseExpression) -> bool:
    return isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) and \
        context.qualified_name(iterable.func) == "builtins.range"


# methods whose items are a module's state (or a container's values), not batches of data
_NOT_DATA_ITERABLES = MODULE_ITERATOR_METHODS | {"values", "items", "param_groups", "state_dict"}


def _is_data_iterable(iterable: cst.BaseExpression) -> bool:
    """A loop over something that yields batches (a loader, ``enumerate(loader)``, ``tqdm(loader)``),
    not over parameters or a literal collection of tensors."""
    if isinstance(iterable, (cst.List, cst.Tuple, cst.Set, cst.Dict, cst.ListComp, cst.GeneratorExp)):
        return False
    for node in iter_tree(iterable):
        if isinstance(node, cst.Attribute) and node.attr.value in _NOT_DATA_ITERABLES:
            return False
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in ("zip", "range", "reversed"):
            return False
    return True


# ------------------------------------------------------------------------------------------------
# queries

_ANALYSES = "grad_state.file_state"  # key of this analysis in the file's LintContext.facts


def _called_without_grad(context: "LintContext") -> set:
    """Names of the functions and methods this file calls inside a no_grad/inference_mode region."""
    index = current_index()
    if index is None or index.number(context.module) is None:
        return _called_without_grad_walk(context)
    order, ends = index.order, index.ends
    # the regions a with statement or a function sets, outermost first: (start, end, off), where off is
    # whether calls there run without grad, or None for a function's header (decorators, defaults), which
    # does not count
    regions: List[Tuple[int, int, Optional[bool]]] = []
    open_regions: List[Tuple[int, Optional[bool]]] = []  # (end, off) of the regions around the current node
    any_off = False
    for number in index.numbers_of(_REGION_SETTERS):
        while open_regions and open_regions[-1][0] <= number:
            open_regions.pop()
        off = open_regions[-1][1] if open_regions else False
        if off is None:
            continue
        node = order[number]
        if type(node) is cst.With:
            inner = with_mode(context, node)
            body_off = inner in GRAD_OFF if inner is not None else off
        else:
            regions.append((number, ends[number], None))
            open_regions.append((ends[number], None))
            body_off = decorator_mode(context, node) in GRAD_OFF
        body = index.number(node.body)
        regions.append((body, ends[body], body_off))
        open_regions.append((ends[body], body_off))
        any_off = any_off or body_off
    names: set = set()
    if not any_off:
        return names
    first = min(start for start, _, off in regions if off)
    last = max(end for _, end, off in regions if off)
    open_regions = []
    upcoming = 0
    for number in index.numbers_of(_CALLS, first, last):
        while upcoming < len(regions) and regions[upcoming][0] <= number:
            start, end, off = regions[upcoming]
            upcoming += 1
            while open_regions and open_regions[-1][0] <= start:
                open_regions.pop()
            open_regions.append((end, off))
        while open_regions and open_regions[-1][0] <= number:
            open_regions.pop()
        if open_regions and open_regions[-1][1]:
            func = order[number].func
            if type(func) is cst.Name:
                names.add(func.value)
            elif type(func) is cst.Attribute:
                names.add(func.attr.value)
    return names


_REGION_SETTERS = (cst.With, cst.FunctionDef)
_CALLS = (cst.Call,)


def _called_without_grad_walk(context: "LintContext") -> set:
    """``_called_without_grad`` of a module that is not the tree being linted."""
    names: set = set()
    stack: List[Tuple[cst.CSTNode, bool]] = [(context.module, False)]
    while stack:
        node, off = stack.pop()
        node_type = type(node)  # exact types: a whole-file scan, and isinstance on LibCST's ABCs is slow
        if node_type is cst.Call and off:
            func = node.func
            if isinstance(func, cst.Name):
                names.add(func.value)
            elif isinstance(func, cst.Attribute):
                names.add(func.attr.value)
        if node_type is cst.With:
            inner = with_mode(context, node)
            for item in node.items:
                stack.append((item, off))
            stack.append((node.body, inner in GRAD_OFF if inner is not None else off))
            continue
        if node_type is cst.FunctionDef:
            mode = decorator_mode(context, node)
            stack.append((node.body, mode in GRAD_OFF))
            continue
        stack.extend((child, off) for child in children(node))
    return names


class _FileState:
    def __init__(self, context: "LintContext") -> None:
        self.context = context
        self.scopes: Dict[int, Optional[_ScopeAnalysis]] = {}
        self.grad_leaf_scopes: Dict[int, bool] = {}  # scope owner -> grad_leaf_possible there
        self._grad_leaf_words: Optional[frozenset] = None
        self._freezes: Optional[bool] = None
        self._reparametrizes: Optional[bool] = None
        self._called_without_grad: Optional[set] = None
        self.parameter_facts: Dict[int, Env] = {}  # id(function) -> what its call sites give its parameters
        self.return_facts: Dict[int, Facts] = {}  # id(function) -> what every call of it returns
        self.memo = Memo()  # which of the facts above are being computed; values that leant on one

    @property
    def called_without_grad(self) -> set:
        if self._called_without_grad is None:
            self._called_without_grad = _called_without_grad(self.context)
        return self._called_without_grad

    @property
    def reparametrizes(self) -> bool:
        """Whether the file may replace a layer's weight by a computed tensor (``weight_norm(fc)``,
        ``parametrize.register_parametrization``, ``prune.l1_unstructured``), or delete or assign it."""
        if self._reparametrizes is None:
            self._reparametrizes = _reparametrizes(self.context)
        return self._reparametrizes

    @property
    def freezes(self) -> bool:
        if self._freezes is None:
            self._freezes = _freezes_something(self.context)
        return self._freezes

    @property
    def grad_leaf_words(self) -> frozenset:
        """The names one of which a scope must hold to make a grad leaf."""
        if self._grad_leaf_words is None:
            self._grad_leaf_words = _grad_leaf_words(self.context)
        return self._grad_leaf_words

    def scope(self, owner: cst.CSTNode) -> _ScopeAnalysis:
        found = self.scopes.get(id(owner))
        if found is not None:
            return found
        key = id(owner)
        depth = self.memo.depth("scope", key)
        if depth is not None:
            # asked again while it is being built (a call site in it of a function it calls, whose
            # parameters' facts are wanted): a second analysis, which sees the facts in progress as
            # unknown; it answers only for the computation under way, never for good
            return self.memo.computed("scope again", key, {},
                                      lambda: _ScopeAnalysis(self.context, owner, self.freezes), _NO_SCOPE,
                                      depends_on=depth)
        return self.memo.computed("scope", key, self.scopes, lambda: _ScopeAnalysis(self.context, owner, self.freezes),
                                  None)


class _NoScope:
    """The analysis of a scope asked for a third time while it is being built: it knows nothing."""

    every_run: Dict[int, _Snapshot] = {}
    first_run: Dict[int, _Snapshot] = {}
    falls_off_end = True


_NO_SCOPE = _NoScope()


def _reparametrizes(context: "LintContext") -> bool:
    for node in nodes_of(context.module, _REPARAMETRIZE_MARKS):
        if type(node) is cst.Name:
            if any(word in node.value for word in _REPARAMETRIZERS):
                return True
        elif type(node) in (cst.AssignTarget, cst.Del):
            target = node.target
            if type(target) is cst.Attribute and target.attr.value in _LAYER_PARAMETERS:
                return True
    return False


_REPARAMETRIZE_MARKS = (cst.Name, cst.AssignTarget, cst.Del)


def _file_state(context: "LintContext") -> _FileState:
    state = context.facts.get(_ANALYSES)
    if state is None:
        state = context.facts[_ANALYSES] = _FileState(context)
    return state


def _locate(context: "LintContext", statement: Optional[cst.CSTNode]) -> Optional[Tuple[cst.CSTNode, cst.CSTNode]]:
    """(scope owner, statement) for a query at the walk's current position."""
    chain = context.ancestors
    found = statement
    for index in range(len(chain) - 1, -1, -1):
        node = chain[index]
        node_type = type(node)
        if found is None and is_statement(node):
            found = node
        if node_type is cst.FunctionDef or node_type is cst.Module:
            if found is None or (node_type is cst.FunctionDef and found is node):
                return None
            return node, found
        if node_type is cst.ClassDef or node_type is cst.Lambda:
            return None
    if found is not None:
        return context.module, found
    return None


def _snapshot(context: "LintContext", statement: Optional[cst.CSTNode], every_run: bool) -> Optional[Tuple[_ScopeAnalysis, _Snapshot]]:
    located = _locate(context, statement)
    if located is None:
        return None
    owner, found = located
    state = _file_state(context)
    analysis = state.scope(owner)
    snapshot = None if every_run else analysis.first_run.get(id(found))
    if snapshot is None:
        snapshot = analysis.every_run.get(id(found))
    if snapshot is None:
        return None
    if snapshot.mode is None and isinstance(owner, cst.FunctionDef) and owner.name.value in state.called_without_grad:
        # the caller's mode is no_grad at some call site of this file
        snapshot = _Snapshot(snapshot.env, UNKNOWN)
    return analysis, snapshot


# Only these make a value a leaf that requires grad (see _Evaluator): a factory or Variable given
# ``requires_grad=``, ``nn.Parameter(...)``, ``.requires_grad_()``, ``x.requires_grad = ...`` and a loop
# over a module's ``parameters()``/``named_parameters()``.
_GRAD_LEAF_WORDS = frozenset({"requires_grad", "requires_grad_", "Parameter", "parameters", "named_parameters",
                              "weight", "bias"})
_NAMES = (cst.Name,)
_value_of = attrgetter("value")
_IMPORT_ALIASES = (cst.ImportAlias,)


def _grad_leaf_words(context: "LintContext") -> frozenset:
    """The names that can spell one of the makers of a grad leaf in this file: the words above, and the
    local names of an imported ``...Parameter`` (a Name resolves to torch.nn.Parameter only through an
    import whose last component is ``Parameter``; an attribute chain ends with it)."""
    words = set(_GRAD_LEAF_WORDS)
    for alias in nodes_of(context.module, _IMPORT_ALIASES):
        name = alias.name
        last = name.attr.value if type(name) is cst.Attribute else name.value
        if last == "Parameter" and alias.asname is not None and type(alias.asname.name) is cst.Name:
            words.add(alias.asname.name.value)
    return frozenset(words)


def grad_leaf_possible(context: "LintContext", statement: Optional[cst.CSTNode] = None) -> bool:
    """False when no expression of the scope of ``statement`` (default: the walk's current statement) can
    have facts saying "a leaf that requires grad" (``facts_at(...).leaf is True and requires_grad is
    True``): its code names none of the things that make one. A cheap test to run before ``facts_at``."""
    located = _locate(context, statement)
    if located is None:
        return False  # facts_at knows nothing there
    owner = located[0]
    index = current_index()
    start = index.number(owner) if index is not None else None
    if start is None or index.order[0] is not context.module:
        return True
    state = _file_state(context)
    found = state.grad_leaf_scopes.get(id(owner))
    if found is None:
        found = _names_grad_leaf_word(state, index, owner)
        if not found and type(owner) is cst.FunctionDef:
            # a grad leaf passed in by every call site
            found = any(f.leaf is True and f.requires_grad is True for f in _call_site_facts(context, owner).values())
            if not found:
                found = _may_reach_grad_leaf(context, state, index, owner)
        state.grad_leaf_scopes[id(owner)] = found
    return found


def _names_grad_leaf_word(state: "_FileState", index, node: cst.CSTNode) -> bool:
    """Whether the code of ``node`` names one of the words that make a grad leaf."""
    start = index.number(node)
    if start is None:
        return True
    names = index.numbers_of(_NAMES, start, index.ends[start])
    values = map(_value_of, map(index.order.__getitem__, names))
    return any(map(state.grad_leaf_words.__contains__, values))  # C-level loops, up to the first word


def _may_reach_grad_leaf(context: "LintContext", state: "_FileState", index, function: cst.FunctionDef) -> bool:
    """Whether a function may see a grad leaf its own code does not make: ``self.w`` of a method whose class
    makes one, or the return value of a function of this file that makes one."""
    klass = next((a for a in index.ancestors(function) if type(a) in (cst.ClassDef, cst.FunctionDef)), None)
    if type(klass) is cst.ClassDef and _names_grad_leaf_word(state, index, klass):
        return True
    for call in own_nodes_of(function.body, _CALL_TYPES):
        func = call.func
        callee = local_function(context, func, plain=True) if type(func) is cst.Name else \
            _plain_method(context, func) if type(func) is cst.Attribute else None
        if callee is not None and callee is not function and _names_grad_leaf_word(state, index, callee):
            return True
    return False


_CALL_TYPES = (cst.Call,)


def facts_at(context: "LintContext", expression: cst.BaseExpression, statement: Optional[cst.CSTNode] = None,
             every_run: bool = False) -> Facts:
    """The facts of ``expression`` just before ``statement`` runs (default: the statement enclosing the
    walk's current node). By default the sharper facts of a loop's first iteration are used where the
    statement certainly runs in it; ``every_run=True`` asks for facts that hold on every run."""
    found = _snapshot(context, statement, every_run)
    if found is None:
        return UNKNOWN_FACTS
    analysis, snapshot = found
    return analysis.evaluator.facts(expression, snapshot.env, snapshot.mode)


def grad_mode_before(context: "LintContext", statement: Optional[cst.CSTNode] = None) -> Optional[str]:
    """The grad mode just before ``statement`` (default: the one enclosing the walk's current node),
    following ``with`` blocks, decorators and ``torch.set_grad_enabled(...)`` statements of its scope:
    a ``grad_mode`` constant, or None for the caller's mode (grad on in scripts). ``UNKNOWN`` when the
    statement is not analysed."""
    found = _snapshot(context, statement, every_run=True)
    if found is None:
        return UNKNOWN
    return found[1].mode


def grad_certainly_on(context: "LintContext", statement: Optional[cst.CSTNode] = None) -> bool:
    """Whether operations at this statement record a graph (no enclosing no_grad/inference_mode, no
    ``set_grad_enabled(False)`` before it, no grad-mode context of unknown mode)."""
    return grad_mode_before(context, statement) in (None, ENABLED)


__all__ = [
    "CONSTANT", "DETACHED", "NO_GRAD", "TENSOR", "NUMBER", "Facts", "UNKNOWN_FACTS", "facts_at",
    "grad_mode_before", "grad_certainly_on", "grad_leaf_possible",
    "join_facts",
]
