"""Call-order facts of training code, built once per file and shared by the GL4xx/GL5xx rules.

Every function (and the module body) is a *root*. Its body becomes a tree of blocks whose entries are,
in source order: training **events** (backward, optimizer step, zero_grad, clipping, unscale_, eval,
train, other calls), **compounds** (loops, branches, nested definitions), **jumps** (return, break,
continue, raise) and **inline** expansions of calls to small helper functions of the same file
(``train_one_epoch(model, loader, opt)``, ``self.validate()``), with the helper's parameters replaced
by the caller's argument text so ``opt.step()`` in the helper reads as ``optimizer.step()``.

``with`` bodies and ``try`` bodies run straight through and are flattened into their block. From this
tree the rules ask: which events certainly run before / after a given one in the same iteration
(``before``/``after``), and which events a loop body contains anywhere (``events_in``).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Set, Tuple, Union

import libcst as cst

from autogradlint.analysis.call_sites import bool_literal
from autogradlint.analysis.grad_mode import GRAD_OFF, UNKNOWN, decorator_mode, with_mode
from autogradlint.analysis.modules import is_static_or_classmethod, plain_instance_class
from autogradlint.analysis.names import works_with_torch
from autogradlint.analysis.optimizers import (
    OptimizerValue,
    holds_plain_project_object,
    is_optimizer_class,
    is_optimizer_name,
    is_torch_optimizer_name,
    optimizer_value,
)
from autogradlint.analysis.torch_api import SELF_RETURNING_METHODS
from autogradlint.analysis.values import origins
from autogradlint.records import FrozenRecord, Record
from autogradlint.walk import current_index, iter_tree, nodes_of, own_nodes_of

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

# event kinds
BACKWARD = "backward"
STEP = "step"  # `<x>.step()`: an optimizer step when `is_optimizer_step` says so
SCALER_STEP = "scaler_step"  # `scaler.step(optimizer)`
ZERO_GRAD = "zero_grad"  # `<x>.zero_grad(...)`
CLEAR = "clear"  # other gradient clearing: `p.grad = None`, `p.grad.zero_()`, `del p.grad`, `zero_grads(m)`
CLIP = "clip"  # torch.nn.utils.clip_grad_norm_/clip_grad_value_
UNSCALE = "unscale"  # `scaler.unscale_(optimizer)`
EVAL = "eval"  # `m.eval()`, `m.train(False)`
TRAIN = "train"  # `m.train()`, `m.train(True)`, `m.train(flag)`
CALL = "call"  # any other call of a name or attribute chain (``model(x)``)

CLIP_FUNCTIONS = frozenset(
    {
        "torch.nn.utils.clip_grad_norm_",
        "torch.nn.utils.clip_grad_value_",
        "torch.nn.utils.clip_grad_norm",
        "torch.nn.utils.clip_grad.clip_grad_norm_",
        "torch.nn.utils.clip_grad.clip_grad_value_",
        "torch.nn.utils.clip_grad.clip_grad_norm",
    }
)
GRAD_SCALERS = frozenset(
    {
        "torch.GradScaler",
        "torch.amp.GradScaler",
        "torch.amp.grad_scaler.GradScaler",
        "torch.cuda.amp.GradScaler",
        "torch.cuda.amp.grad_scaler.GradScaler",
        "torch.cpu.amp.GradScaler",
        "torch.cpu.amp.grad_scaler.GradScaler",
        "torch.distributed.fsdp.sharded_grad_scaler.ShardedGradScaler",
    }
)
# `.step()` receivers that are schedulers, profilers, progress bars, EMA helpers...: never an optimizer
_NOT_OPTIMIZER = re.compile(r"sched|warmup|lr|prof|timer|ema|swa|progress|bar|env|writer|logger|meter|tracker|"
                            r"counter|scaler|clock|monitor|stepper|callback", re.I)
_OPTIMIZER_NAME = re.compile(r"(^|_)(opt|optim|optimizer|optimiser)s?(_|\d|$)|optimizer|optimiser", re.I)
# helpers are expanded this deep, and at most this many times per file
_MAX_DEPTH = 3
_MAX_EXPANSIONS = 3000


# The entry classes are Records compared and hashed by identity (as the dataclasses with ``eq=False`` they
# were): a pre-commit call imports this module, and a dataclass costs half a millisecond to create.
class _IdentityRecord(Record):
    __slots__ = ()
    __eq__ = object.__eq__
    __hash__ = object.__hash__


class Event(_IdentityRecord):
    """One training-relevant call (or gradient-clearing statement) in source order."""

    __slots__ = ("kind", "node", "receiver", "argument", "scaler", "grad_off")

    def __init__(self, kind: str, node: cst.CSTNode, receiver: Optional[str], argument: Optional[str] = None,
                 scaler: Optional[str] = None, grad_off: Optional[bool] = False) -> None:
        self.kind = kind
        self.node = node  # the call or statement in this file (inside the helper for inlined events)
        self.receiver = receiver  # source text of the receiver (callee for CALL), helper parameters substituted
        self.argument = argument  # the optimizer of `scaler.step(opt)` / `scaler.unscale_(opt)`
        self.scaler = scaler  # BACKWARD through `scaler.scale(loss)`: the scaler's text
        self.grad_off = grad_off  # runs under no_grad/inference_mode (None: cannot tell)


class Block(_IdentityRecord):
    """A statement list. ``kind``: root (a function or module body), loop (a loop body), branch,
    inline (a helper's body expanded at its call) or definition (a nested def, run later)."""

    __slots__ = ("kind", "entries")

    def __init__(self, kind: str, entries: Optional[List["Entry"]] = None) -> None:
        self.kind = kind
        self.entries = [] if entries is None else entries


class Compound(_IdentityRecord):
    """A loop, a conditional (if/match/try handlers) or a nested function definition."""

    __slots__ = ("kind", "node", "blocks")

    def __init__(self, kind: str, node: cst.CSTNode, blocks: List[Block]) -> None:
        self.kind = kind  # loop, branch, definition
        self.node = node
        self.blocks = blocks


class Inline(_IdentityRecord):
    """A call of a same-file helper, with the helper's body expanded in place."""

    __slots__ = ("call", "function", "block")

    def __init__(self, call: cst.Call, function: cst.FunctionDef, block: Block) -> None:
        self.call = call
        self.function = function
        self.block = block


class Jump(_IdentityRecord):
    __slots__ = ("node",)

    def __init__(self, node: cst.CSTNode) -> None:
        self.node = node  # Return, Break, Continue or Raise


Entry = Union[Event, Compound, Inline, Jump]
Frame = Tuple[Block, int]  # a block and the index of the entry on the path


class _Scope(Record):
    """What a body is built with: parameter substitution, grad mode, enclosing class, helper stack."""

    __slots__ = ("subst", "grad_off", "klass", "stack", "owner")

    def __init__(self, subst: Dict[str, Optional[str]], grad_off: Optional[bool], klass: Optional[cst.ClassDef],
                 stack: Tuple[cst.FunctionDef, ...], owner: cst.CSTNode) -> None:
        self.subst = subst
        self.grad_off = grad_off
        self.klass = klass
        self.stack = stack
        self.owner = owner  # the root (function or module) being built


class OptimizerInfo(FrozenRecord):
    """An optimizer bound in this file: the receivers whose ``.parameters()`` it was built from."""

    __slots__ = ("parameter_sources",)

    def __init__(self, parameter_sources: Tuple[str, ...]) -> None:
        self._assign(parameter_sources)


class TrainingFacts:
    """The call-order facts of one file. Build with ``training_facts(context)``."""

    def __init__(self, context: "LintContext") -> None:
        self.context = context
        self.module = context.module
        self.works_with_torch = works_with_torch(context)
        self.optimizers: Dict[str, OptimizerInfo] = {}
        # names bound to an optimizer of torch.optim itself (its zero_grad's default is torch's)
        self.torch_optimizers: Set[str] = set()
        self.schedulers: Set[str] = set()
        self.scalers: Set[str] = set()
        self.disabled_scalers: Set[str] = set()
        # functions called (by name) somewhere under no_grad/inference_mode
        self.called_without_grad: Set[str] = set()
        self.roots: Dict[int, Block] = {}  # id(FunctionDef or Module) -> its body tree
        self.root_nodes: Dict[int, cst.CSTNode] = {}
        self.loops: Dict[int, Compound] = {}  # id(For/While) -> its compound, in its own root
        # id(helper) -> (root, call) for every call of a same-file function written in a root's own code
        self.call_sites: Dict[int, List[Tuple[cst.CSTNode, cst.Call]]] = {}
        # id(class) -> method name -> the class's own defs of that name (a class may have hundreds)
        self._methods: Dict[int, Dict[str, List[cst.FunctionDef]]] = {}
        self._class_method_names: Optional[frozenset] = None  # every method name of this file's classes
        self._expansions = 0
        self._optimizer_values: Dict[int, Optional[OptimizerValue]] = {}  # id(call) -> what its receiver holds
        self._functions: List[Tuple[cst.FunctionDef, Optional[cst.ClassDef], Optional[bool]]] = []
        self._collect_bindings()
        self._build_roots()

    # ------------------------------------------------------------------ bindings

    def _collect_bindings(self) -> None:
        """Optimizers, schedulers and GradScalers assigned anywhere in the file, and every function
        with the class it is a method of."""
        stack: List[cst.CSTNode] = [self.module]
        while stack:
            node = stack.pop()
            for child in _children_statements(node):
                if type(child) is cst.FunctionDef:
                    klass = node if type(node) is cst.ClassDef else None
                    self._functions.append((child, klass, _off(decorator_mode(self.context, child))))
                stack.append(child)
            if type(node) in _SIMPLE_LINES:
                for small in node.body:
                    if (type(small) is cst.Assign or type(small) is cst.AnnAssign) and small.value is not None:
                        self._note_assignment(small)

    def _note_assignment(self, statement: Union[cst.Assign, cst.AnnAssign]) -> None:
        value = statement.value
        targets = [t.target for t in statement.targets] if type(statement) is cst.Assign else [statement.target]
        call = value
        while type(call) is cst.Call and type(call.func) is cst.Attribute and call.func.attr.value in ("to", "cuda"):
            call = call.func.value  # `GradScaler().to(device)` binds the scaler too
        if type(call) is not cst.Call:
            return
        func = call.func
        name = self.context.qualified_name(func) if type(func) in _NAME_OR_ATTRIBUTE else None
        texts = [t for t in (_plain_text(target) for target in targets) if t is not None]
        if name in GRAD_SCALERS:
            self.scalers.update(texts)
            if any(a.keyword is not None and a.keyword.value == "enabled" and bool_literal(a.value) is False
                   for a in call.args):
                self.disabled_scalers.update(texts)
        elif name is not None and _is_scheduler_name(name):
            self.schedulers.update(texts)
        elif name is not None and is_optimizer_name(name):
            info = OptimizerInfo(self._parameter_sources(call))
            for text in texts:
                self.optimizers[text] = info
            if is_torch_optimizer_name(name):
                self.torch_optimizers.update(texts)
        elif type(func) is cst.Attribute and func.attr.value == "optimizers" and _plain_text(func.value) == "self":
            # Lightning manual optimization: `opt = self.optimizers()`, `opt_g, opt_d = self.optimizers()`
            for target in targets:
                for text in _target_texts(target):
                    self.optimizers[text] = OptimizerInfo(())

    def _parameter_sources(self, call: cst.Call) -> Tuple[str, ...]:
        """The receivers of ``X.parameters()`` / ``X.named_parameters()`` among an optimizer's arguments."""
        sources = []
        for node in nodes_of(call, (cst.Call,)):
            if (type(node.func) is cst.Attribute
                    and node.func.attr.value in ("parameters", "named_parameters")):
                text = _plain_text(node.func.value)
                if text is not None:
                    sources.append(text)
                    if type(node.func.value) is cst.Name:
                        sources.extend(self._stored_as(node.func.value))
        return tuple(sources)

    def _stored_as(self, name: cst.Name) -> List[str]:
        """``self.model`` for ``model`` in ``def __init__(self, model): self.model = model; self.opt =
        SGD(model.parameters())``: the attributes the function stores the same value in."""
        binding = self.context.names.binding_of(name)
        if binding is None or binding.kind not in ("param", "assign"):
            return []
        index = current_index()
        up = index.ancestors(binding.node) if index is not None else []
        function = next((node for node in up if type(node) is cst.FunctionDef), None)
        if function is None or self.class_of(function) is None:
            return []
        params = [*function.params.posonly_params, *function.params.params]
        self_name = params[0].name.value if params else None
        found = []
        for statement in nodes_of(function.body, (cst.Assign,)):
            value = statement.value
            if type(value) is cst.Name and value.value == name.value and self.context.names.binding_of(value) is binding:
                for target in statement.targets:
                    target = target.target
                    if type(target) is cst.Attribute and type(target.value) is cst.Name and target.value.value == self_name:
                        found.append(f"{self_name}.{target.attr.value}")
        return found

    # ------------------------------------------------------------------ trees

    def _build_roots(self) -> None:
        self.roots[id(self.module)] = self._root_block(self.module.body, _Scope({}, False, None, (), self.module), self.module)
        for function, klass, grad_off in self._functions:
            scope = _Scope({}, grad_off, klass, (function,), function)
            self.roots[id(function)] = self._root_block(_body_statements(function.body), scope, function)

    def _root_block(self, statements, scope: _Scope, owner: cst.CSTNode) -> Block:
        block = Block("root")
        self._fill(block, statements, scope, own=True)
        self.root_nodes[id(owner)] = owner
        return block

    def _fill(self, block: Block, statements, scope: _Scope, own: bool) -> None:
        """Append the entries of ``statements`` to ``block``. ``own``: the root's own code (its loops
        are indexed), not a helper expanded into it."""
        for statement in statements:
            statement_type = type(statement)
            if statement_type in _SIMPLE_LINES:
                for small in statement.body:
                    self._small_statement(block, small, scope)
            elif statement_type is cst.With:
                mode = with_mode(self.context, statement)
                inner = scope if mode is None else _Scope(scope.subst, _off(mode), scope.klass, scope.stack, scope.owner)
                self._fill(block, _body_statements(statement.body), inner, own)
            elif statement_type is cst.For or statement_type is cst.While:
                body = Block("loop")
                self._fill(body, _body_statements(statement.body), scope, own)
                blocks = [body]
                if statement.orelse is not None:
                    blocks.append(self._branch(_body_statements(statement.orelse.body), scope, own))
                compound = Compound("loop", statement, blocks)
                if own:
                    self.loops[id(statement)] = compound
                block.entries.append(compound)
            elif statement_type is cst.If:
                blocks = [self._branch(_body_statements(statement.body), scope, own)]
                if statement.orelse is not None:
                    orelse = statement.orelse
                    rest = [orelse] if type(orelse) is cst.If else _body_statements(orelse.body)
                    blocks.append(self._branch(rest, scope, own))
                block.entries.append(Compound("branch", statement, blocks))
            elif statement_type is cst.Try or statement_type is cst.TryStar:
                self._fill(block, _body_statements(statement.body), scope, own)
                others = [h.body for h in statement.handlers]
                if statement.orelse is not None:
                    others.append(statement.orelse.body)
                if statement.finalbody is not None:
                    others.append(statement.finalbody.body)
                block.entries.append(Compound("branch", statement, [self._branch(_body_statements(b), scope, own) for b in others]))
            elif statement_type is cst.Match:
                block.entries.append(Compound("branch", statement, [self._branch(_body_statements(c.body), scope, own) for c in statement.cases]))
            elif statement_type is cst.FunctionDef:
                inner = Block("definition")
                if len(scope.stack) <= _MAX_DEPTH:
                    self._fill(inner, _body_statements(statement.body), scope, own=False)
                block.entries.append(Compound("definition", statement, [inner]))

    def _branch(self, statements, scope: _Scope, own: bool) -> Block:
        branch = Block("branch")
        self._fill(branch, statements, scope, own)
        return branch

    def _small_statement(self, block: Block, small: cst.BaseSmallStatement, scope: _Scope) -> None:
        for call in _calls_in_order(small):
            self._call(block, call, scope)
        small_type = type(small)
        if small_type in _ASSIGNMENTS:
            targets = [t.target for t in small.targets] if small_type is cst.Assign else [small.target]
            if any(_is_grad_attribute(t) for t in targets):
                block.entries.append(Event(CLEAR, small, None, grad_off=scope.grad_off))
        elif small_type is cst.Del and any(_is_grad_attribute(t) for t in iter_tree(small.target)):
            block.entries.append(Event(CLEAR, small, None, grad_off=scope.grad_off))
        if small_type in _JUMPS:
            block.entries.append(Jump(small))

    def _call(self, block: Block, call: cst.Call, scope: _Scope) -> None:
        helper = self._helper_of(call, scope)
        if helper is not None:
            if len(scope.stack) <= 1:
                self.call_sites.setdefault(id(helper), []).append((scope.owner, call))
            if scope.grad_off and type(call.func) in _NAME_OR_ATTRIBUTE:
                self.called_without_grad.add(helper.name.value)
            if len(scope.stack) <= _MAX_DEPTH and helper not in scope.stack and self._expansions < _MAX_EXPANSIONS:
                self._expansions += 1
                mode = decorator_mode(self.context, helper)
                inner_scope = _Scope(self._substitution(helper, call, scope), scope.grad_off if mode is None else _off(mode),
                                     self._method_class(helper, call, scope), scope.stack + (helper,), scope.owner)
                body = Block("inline")
                self._fill(body, _body_statements(helper.body), inner_scope, own=False)
                block.entries.append(Inline(call, helper, body))
                return
        elif len(scope.stack) <= 1 and self.works_with_torch and self._expansions < _MAX_EXPANSIONS:
            inline = self._remote_inline(call, scope)
            if inline is not None:
                block.entries.append(inline)
                return
        event = self._event_of(call, scope)
        if event is not None:
            block.entries.append(event)

    def _remote_inline(self, call: cst.Call, scope: _Scope) -> Optional[Inline]:
        """A call of a training helper of another project file (see ``analysis.remote_helpers``), expanded: its
        events, in order, carry this call as their node (findings land on it) and the caller's argument texts."""
        func = call.func
        if type(func) not in _NAME_OR_ATTRIBUTE:
            return None
        from autogradlint.analysis.remote_helpers import remote_helper

        found = remote_helper(self.context, self.context.qualified_name(func))
        if found is None:
            return None
        function, root, module, globals_ = found
        self._expansions += 1
        subst = self._substitution(function, call, scope)
        for name in globals_:
            if name not in subst:
                subst[name] = f"{module}.{name}"  # the helper module's global, not this file's name
        return Inline(call, function, Block("inline", self._relabeled(root.entries, call, subst, scope.grad_off)))

    def _relabeled(self, entries: List[Entry], call: cst.Call, subst: Dict[str, Optional[str]],
                   grad_off: Optional[bool]) -> List[Entry]:
        """Another file's entries as this call runs them: texts with the helper's parameters replaced, the
        grad mode of the call site around them, and the ``step()`` calls this file knows are not an
        optimizer's (a scheduler, a scaler, a name like ``lr_sched``) left out, as ``_event_of`` would."""
        out: List[Entry] = []
        for entry in entries:
            entry_type = type(entry)
            if entry_type is Event:
                receiver = _substituted(entry.receiver, subst)
                if entry.kind == STEP and (receiver is None or receiver in self.schedulers or self.is_scaler(receiver)
                                           or (_NOT_OPTIMIZER.search(_last_identifier(receiver))
                                               and receiver not in self.optimizers)):
                    continue
                off = True if grad_off or entry.grad_off else (None if grad_off is None or entry.grad_off is None else False)
                out.append(Event(entry.kind, call, receiver, _substituted(entry.argument, subst),
                                 _substituted(entry.scaler, subst), off))
            elif entry_type is Compound:
                out.append(Compound(entry.kind, call, [Block(b.kind, self._relabeled(b.entries, call, subst, grad_off))
                                                       for b in entry.blocks]))
            elif entry_type is Inline:
                out.append(Inline(call, entry.function,
                                  Block(entry.block.kind, self._relabeled(entry.block.entries, call, subst, grad_off))))
            else:
                out.append(entry)
        return out

    def _event_of(self, call: cst.Call, scope: _Scope) -> Optional[Event]:
        func = call.func
        off = scope.grad_off
        func_type = type(func)
        if func_type in _NAME_OR_ATTRIBUTE:
            name = self.context.qualified_name(func)
            if name in CLIP_FUNCTIONS and not _measures_only(self.context, call):
                return Event(CLIP, call, None, grad_off=off)
            if name == "torch.autograd.backward":
                return Event(BACKWARD, call, None, grad_off=off)
        if func_type is not cst.Attribute:
            text = _text(func, scope.subst)
            if text is not None and _clears_by_name(text):
                return Event(CLEAR, call, text, grad_off=off)
            return Event(CALL, call, text, grad_off=off) if text is not None else None
        method = func.attr.value
        target = func.value
        if method in ("eval", "train"):
            # ``model.to(device).eval()``: nn.Module's to/cuda/cpu/float/... return the module itself
            while (type(target) is cst.Call and type(target.func) is cst.Attribute
                   and target.func.attr.value in SELF_RETURNING_METHODS):
                target = target.func.value
        receiver = _text(target, scope.subst)
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if method in ("backward", "manual_backward"):
            scaler = None
            inner = func.value
            if (type(inner) is cst.Call and type(inner.func) is cst.Attribute
                    and inner.func.attr.value == "scale"):
                candidate = _text(inner.func.value, scope.subst)
                if self.is_scaler(candidate) or (candidate is not None and holds_grad_scaler(self.context, inner.func.value)):
                    scaler = candidate
            return Event(BACKWARD, call, receiver, scaler=scaler, grad_off=off)
        if method in ("step", "eval", "train") and self._plain_object(func.value, optimizer=method == "step"):
            # a home-made optimizer's step, a scikit-learn-style model's eval: not torch's
            text = _text(func, scope.subst)
            return Event(CALL, call, text, grad_off=off) if text is not None else None
        if method == "step":
            if self.is_scaler(receiver) or (receiver is not None and holds_grad_scaler(self.context, func.value)):
                argument = _text(positional[0].value, scope.subst) if positional else None
                return Event(SCALER_STEP, call, receiver, argument=argument, grad_off=off)
            if receiver is None or receiver in self.schedulers or len(positional) > 1:
                return None
            if (_NOT_OPTIMIZER.search(_last_identifier(receiver)) and receiver not in self.optimizers
                    and optimizer_value(self.context, func.value) is None):
                return None
            return Event(STEP, call, receiver, grad_off=off)
        if method == "zero_grad":
            return Event(ZERO_GRAD, call, receiver, grad_off=off)
        if method == "unscale_":
            argument = _text(positional[0].value, scope.subst) if positional else None
            return Event(UNSCALE, call, receiver, argument=argument, grad_off=off)
        if method == "eval" and not call.args:
            return Event(EVAL, call, receiver, grad_off=off)
        if method == "train":
            mode = bool_literal(call.args[0].value) if len(call.args) == 1 else (True if not call.args else None)
            return Event(EVAL if mode is False else TRAIN, call, receiver, grad_off=off)
        if receiver is not None and method in ("zero_", "fill_", "mul_", "detach_") and re.search(r"\.grad(\.data)?$", receiver):
            return Event(CLEAR, call, receiver, grad_off=off)
        text = _text(func, scope.subst)
        if text is not None and _clears_by_name(method):
            return Event(CLEAR, call, text, grad_off=off)
        return Event(CALL, call, text, grad_off=off) if text is not None else None

    def _helper_of(self, call: cst.Call, scope: _Scope) -> Optional[cst.FunctionDef]:
        """The same-file function a call certainly runs: ``helper(...)`` or ``self.method(...)``."""
        func = call.func
        if type(func) is cst.Name:
            binding = self.context.names.binding_of(func)
            if binding is not None and binding.kind == "def" and type(binding.node) is cst.FunctionDef:
                return binding.node
            return None
        klass = scope.klass if _is_self_call(call) else None
        if klass is None and type(func) is cst.Attribute and len(scope.stack) <= 1 \
                and func.attr.value in self._method_names():
            # ``trainer.train_step(x)``: a method of the class of this file the receiver is an instance of
            # (what the receiver holds is asked only when some class of this file has a method of that name)
            klass = plain_instance_class(self.context, func.value)
        if klass is not None:
            methods = self._methods.get(id(klass))
            if methods is None:
                methods = self._methods[id(klass)] = {}
                for statement in _body_statements(klass.body):
                    if type(statement) is cst.FunctionDef:
                        methods.setdefault(statement.name.value, []).append(statement)
            found = methods.get(func.attr.value, ())  # type: ignore[union-attr]
            if len(found) == 1 and not is_static_or_classmethod(found[0]):
                return found[0]
        return None

    def _method_names(self) -> frozenset:
        if self._class_method_names is None:
            self._class_method_names = frozenset(
                statement.name.value
                for klass in nodes_of(self.context.module, _CLASSES)
                for statement in _body_statements(klass.body) if type(statement) is cst.FunctionDef)
        return self._class_method_names

    def _method_class(self, helper: cst.FunctionDef, call: cst.Call, scope: _Scope) -> Optional[cst.ClassDef]:
        """The class whose method ``call`` runs (``self.m()`` or ``obj.m()``), None for a plain function."""
        if type(call.func) is not cst.Attribute:
            return None
        if _is_self_call(call) and scope.klass is not None:
            return scope.klass
        return self.class_of(helper)

    def _substitution(self, helper: cst.FunctionDef, call: cst.Call, scope: _Scope) -> Dict[str, Optional[str]]:
        """Helper parameter -> the caller's argument text (None when unknown or defaulted)."""
        params = list(helper.params.posonly_params) + list(helper.params.params)
        subst: Dict[str, Optional[str]] = {p.name.value: None for p in params}
        subst.update({p.name.value: None for p in helper.params.kwonly_params})
        for star in (helper.params.star_arg, helper.params.star_kwarg):
            if isinstance(star, cst.Param):
                subst[star.name.value] = None
        if _is_self_call(call) and params:
            subst[params[0].name.value] = "self"
            params = params[1:]
        elif type(call.func) is cst.Attribute and params and self.class_of(helper) is not None:
            subst[params[0].name.value] = _text(call.func.value, scope.subst)  # ``obj.method()``: self is obj
            params = params[1:]
        for index, arg in enumerate(call.args):
            if arg.star:
                break
            if arg.keyword is not None:
                if arg.keyword.value in subst:
                    subst[arg.keyword.value] = _text(arg.value, scope.subst)
            elif index < len(params):
                subst[params[index].name.value] = _text(arg.value, scope.subst)
        return subst

    # ------------------------------------------------------------------ queries

    def is_scaler(self, text: Optional[str]) -> bool:
        """A GradScaler: bound to one in this file, or named like one (``scaler``, ``self.grad_scaler``)."""
        return text is not None and (text in self.scalers or "scaler" in _last_identifier(text).lower())

    def _plain_object(self, receiver: cst.BaseExpression, optimizer: bool) -> bool:
        """``receiver`` holds an instance of a plain class of this file (not an nn.Module: see
        ``plain_instance_class``) that, for ``optimizer``, also certainly subclasses no optimizer."""
        klass = plain_instance_class(self.context, receiver)
        if klass is None:
            # a plain class of another file of the project (neither a module nor an optimizer)
            return holds_plain_project_object(self.context, receiver)
        return is_optimizer_class(self.context, klass) is False if optimizer else True

    def is_plain_object(self, receiver: cst.BaseExpression) -> bool:
        """``receiver`` holds an instance of a class of this file that is neither an nn.Module nor an
        optimizer (a home-made optimizer, a config, a scikit-learn-style model): its ``zero_grad``/``step``/
        ``eval`` are its own."""
        return self._plain_object(receiver, optimizer=True)

    def is_torch_optimizer(self, receiver: cst.BaseExpression) -> bool:
        """``receiver`` holds an optimizer of torch.optim itself (its ``zero_grad`` and ``step`` behave as torch
        documents): its value is one (``optimizer_value``), or its text is bound to one in this file."""
        text = _plain_text(receiver)
        if text is not None and text in self.torch_optimizers:
            return True
        value = optimizer_value(self.context, receiver)
        return value is not None and value.torch

    def holds_optimizer(self, expression: cst.BaseExpression) -> bool:
        """``expression`` certainly holds an optimizer: its text is bound to one in this file, or its value is one
        (``optimizer_value``). Unlike ``is_optimizer``, a name that only reads like one is not enough."""
        text = _plain_text(expression)
        return (text is not None and text in self.optimizers) or optimizer_value(self.context, expression) is not None

    def optimizer_of(self, event: Event) -> Optional[OptimizerValue]:
        """The optimizer the receiver of an event's call certainly holds, followed through values (see
        ``optimizer_value``); None when that is not certain."""
        node = event.node
        if type(node) is not cst.Call or type(node.func) is not cst.Attribute:
            return None
        key = id(node)
        if key not in self._optimizer_values:
            self._optimizer_values[key] = optimizer_value(self.context, node.func.value)
        return self._optimizer_values[key]

    def is_optimizer_event(self, event: Event) -> bool:
        """The event's receiver is an optimizer: bound to one in this file or named like one, else by its value."""
        return self.is_optimizer(event.receiver) or self.optimizer_of(event) is not None

    def is_optimizer(self, text: Optional[str]) -> bool:
        """Bound to a torch.optim (or known) optimizer in this file, or named like one (``opt``, ``optim_g``)."""
        if text is None or text in self.schedulers or self.is_scaler(text):
            return False
        if text in self.optimizers:
            return True
        last = _last_identifier(text)
        return bool(_OPTIMIZER_NAME.search(last)) and not _NOT_OPTIMIZER.search(last)

    def is_optimizer_step(self, event: Event, before: List[Event]) -> bool:
        """An optimizer update: ``scaler.step(opt)``, ``<optimizer>.step()``, or the ``.step()`` of
        anything right after a ``backward()``."""
        if event.kind == SCALER_STEP:
            return True
        if event.kind != STEP:
            return False
        return self.is_optimizer_event(event) or any(e.kind == BACKWARD for e in before)

    def class_of(self, function: cst.FunctionDef) -> Optional[cst.ClassDef]:
        """The class a function is a method of (None for plain functions)."""
        for candidate, klass, _ in self._functions:
            if candidate is function:
                return klass
        return None

    def stepped_optimizer(self, event: Event) -> Optional[str]:
        """The optimizer a step event updates."""
        return event.argument if event.kind == SCALER_STEP else event.receiver

    def trains_parameters_of(self, model: str) -> Optional[bool]:
        """Whether an optimizer of this file is built from ``model``'s parameters; None when no
        optimizer's parameter source is known."""
        sources = [s for info in self.optimizers.values() for s in info.parameter_sources]
        if not sources:
            return None
        return any(_related(model, source) for source in sources)

    def clears_gradients_of(self, zero_grad_receiver: str, optimizer: str) -> bool:
        """``X.zero_grad()`` clears what ``optimizer`` steps: X is that optimizer or the model it was built from."""
        if zero_grad_receiver == optimizer:
            return True
        info = self.optimizers.get(optimizer)
        return info is not None and any(
            source == zero_grad_receiver or source.startswith(zero_grad_receiver + ".") for source in info.parameter_sources
        )

    def occurrences(self, root: Block) -> Iterator[Tuple[Event, Tuple[Frame, ...]]]:
        """Every event a root runs (through branches, loops and helpers, not nested definitions),
        in source order, with its path of frames from the root."""
        return _occurrences(root, ())

    def events(self, kinds, skip=frozenset()) -> Iterator[Tuple[Event, Tuple[Frame, ...]]]:
        """Every event of ``kinds`` that any root runs (a helper's event once per caller), with its frames.
        Events whose node's id is in ``skip`` are passed over; the caller may grow that set while iterating
        (a rule's set of reported calls, so that a helper's call is reported once)."""
        for root in self.roots.values():
            for event, frames in self.occurrences(root):
                if event.kind in kinds and id(event.node) not in skip:
                    yield event, frames

    def before(self, frames: Tuple[Frame, ...]) -> List[Event]:
        """The events that certainly run before the event at ``frames`` in the same loop iteration
        (or function call), in order: earlier statements of its block and of the enclosing blocks,
        up to the innermost loop body or the root; branches and loops passed over are not counted."""
        out: List[Event] = []
        for block, index in reversed(frames):
            out = _straight(block.entries[:index])[0] + out
            if block.kind in ("loop", "root"):
                break
        return out

    def after(self, frames: Tuple[Frame, ...]) -> List[Event]:
        """The events that certainly run after the event at ``frames`` in the same iteration, in order,
        stopping at a ``continue``/``break``/``raise`` (a ``return`` ends only its helper)."""
        out: List[Event] = []
        position = len(frames) - 1
        while position >= 0:
            block, index = frames[position]
            events, jump = _straight(block.entries[index + 1:])
            out.extend(events)
            if block.kind in ("loop", "root"):
                break
            if jump is not None:
                if not isinstance(jump.node, cst.Return):
                    break
                while position >= 0 and frames[position][0].kind != "inline":
                    position -= 1  # the return leaves the helper
                if position < 0:
                    break
            position -= 1
        return out

    def events_in(self, block: Block, definitions: bool = False, loops: bool = True) -> Iterator[Event]:
        """Every event anywhere in ``block`` in source order (helpers expanded; nested definitions
        and loops when asked)."""
        for entry in block.entries:
            if isinstance(entry, Event):
                yield entry
            elif isinstance(entry, Inline):
                yield from self.events_in(entry.block, definitions, loops)
            elif isinstance(entry, Compound) and (definitions or entry.kind != "definition") and (loops or entry.kind != "loop"):
                for inner in entry.blocks:
                    yield from self.events_in(inner, definitions, loops)

    def loops_in(self, block: Block) -> Iterator[Compound]:
        """Every loop anywhere in ``block``, through helpers, not into nested definitions."""
        work = [block]
        while work:
            current = work.pop()
            for entry in current.entries:
                if isinstance(entry, Inline):
                    work.append(entry.block)
                elif isinstance(entry, Compound) and entry.kind != "definition":
                    if entry.kind == "loop":
                        yield entry
                    work.extend(entry.blocks)

    def own_loops(self, root: Block) -> Iterator[Compound]:
        """The loops written in a root's own code (not those of helpers expanded into it)."""
        work = [root]
        while work:
            current = work.pop()
            for entry in current.entries:
                if isinstance(entry, Compound) and entry.kind != "definition":
                    if entry.kind == "loop":
                        yield entry
                    work.extend(entry.blocks)

    def trains(self, block: Block, loops: bool = True) -> bool:
        """The block calls ``backward()`` or an optimizer's step anywhere (or, without ``loops``,
        outside the loops it contains)."""
        return any(e.kind in (BACKWARD, SCALER_STEP) or (e.kind == STEP and self.is_optimizer_event(e))
                   for e in self.events_in(block, loops=loops))


def holds_grad_scaler(context: "LintContext", expression: cst.BaseExpression) -> bool:
    """``expression`` certainly holds an enabled GradScaler: every origin of its value (``values.origins``) is a
    GradScaler constructor that is not switched off (no ``enabled=`` other than ``True``, no positional
    argument past the first that could be ``enabled``)."""
    found = origins(context, expression)
    return bool(found) and all(_builds_enabled_scaler(context, origin) for origin in found)


def _builds_enabled_scaler(context: "LintContext", origin: cst.BaseExpression) -> bool:
    if type(origin) is not cst.Call or type(origin.func) not in _NAME_OR_ATTRIBUTE:
        return False
    if context.qualified_name(origin.func) not in GRAD_SCALERS:
        return False
    positional = 0
    for arg in origin.args:
        if arg.star:
            return False
        if arg.keyword is None:
            positional += 1
        elif arg.keyword.value == "enabled" and bool_literal(arg.value) is not True:
            return False
    return positional <= 1


def training_facts(context: "LintContext") -> TrainingFacts:
    """The call-order facts of the file being linted (built on first use, then shared by all rules)."""
    facts = context.facts.get(_CACHE)
    if facts is None:
        facts = TrainingFacts(context)
        context.facts[_CACHE] = facts
    return facts


_CACHE = "training.facts"  # key of this analysis in the file's LintContext.facts


# ---------------------------------------------------------------------- helpers


def _occurrences(block: Block, frames: Tuple[Frame, ...]) -> Iterator[Tuple[Event, Tuple[Frame, ...]]]:
    for index, entry in enumerate(block.entries):
        here = frames + ((block, index),)
        if isinstance(entry, Event):
            yield entry, here
        elif isinstance(entry, Inline):
            yield from _occurrences(entry.block, here)
        elif isinstance(entry, Compound) and entry.kind != "definition":
            for inner in entry.blocks:
                yield from _occurrences(inner, here)


def _straight(entries: List[Entry]) -> Tuple[List[Event], Optional[Jump]]:
    """The events of entries that run straight through (helpers included, branches and loops not),
    and the jump that ends them, if any."""
    out: List[Event] = []
    for entry in entries:
        if isinstance(entry, Event):
            out.append(entry)
        elif isinstance(entry, Inline):
            events, jump = _straight(entry.block.entries)
            out.extend(events)
            if jump is not None and not isinstance(jump.node, cst.Return):
                return out, jump
        elif isinstance(entry, Jump):
            return out, entry
    return out, None


_INFINITIES = frozenset({"math.inf", "numpy.inf", "torch.inf"})


def _measures_only(context: "LintContext", call: cst.Call) -> bool:
    """``clip_grad_norm_(params, float("inf"))``: an infinite max_norm clips nothing; the call only measures the
    gradient norm (for logging), wherever it stands."""
    limit = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "max_norm"), None)
    if limit is None:
        args = [a for a in call.args if a.keyword is None and not a.star]
        limit = args[1].value if len(args) > 1 else None
    if limit is None:
        return False
    if (type(limit) is cst.Call and type(limit.func) is cst.Name and limit.func.value == "float"
            and len(limit.args) == 1 and type(limit.args[0].value) is cst.SimpleString):
        return limit.args[0].value.value.strip("'\"").lower() in ("inf", "+inf", "infinity")
    return type(limit) in _NAME_OR_ATTRIBUTE and context.qualified_name(limit) in _INFINITIES


_SIMPLE_LINES = frozenset({cst.SimpleStatementLine, cst.SimpleStatementSuite})
_CLASSES = (cst.ClassDef,)
_NAME_OR_ATTRIBUTE = frozenset({cst.Name, cst.Attribute})
_ASSIGNMENTS = frozenset({cst.Assign, cst.AugAssign, cst.AnnAssign})
_JUMPS = frozenset({cst.Return, cst.Break, cst.Continue, cst.Raise})


def _off(mode: Optional[str]) -> Optional[bool]:
    if mode is None:
        return False
    if mode == UNKNOWN:
        return None
    return mode in GRAD_OFF


def _children_statements(node: cst.CSTNode) -> List[cst.CSTNode]:
    """Statements directly or through compound bodies under ``node`` (not into nested functions/classes)."""
    out: List[cst.CSTNode] = []
    node_type = type(node)
    if node_type is cst.Module:
        return list(node.body)
    if node_type is cst.FunctionDef or node_type is cst.ClassDef:
        return _body_statements(node.body)
    if node_type in _SIMPLE_LINES:
        return []
    for attr in ("body", "orelse", "finalbody"):
        part = getattr(node, attr, None)
        part_type = type(part)
        if part_type is cst.IndentedBlock or part_type is cst.SimpleStatementSuite:
            out.extend(_body_statements(part))
        elif part_type is cst.If:
            out.append(part)
        elif part_type is cst.Else or part_type is cst.Finally:
            out.extend(_body_statements(part.body))
    for handler in getattr(node, "handlers", ()):
        out.extend(_body_statements(handler.body))
    for case in getattr(node, "cases", ()):
        out.extend(_body_statements(case.body))
    return out


def _body_statements(body) -> List[cst.CSTNode]:
    body_type = type(body)
    if body_type is cst.SimpleStatementSuite:
        return [body]
    if body_type is cst.IndentedBlock:
        return list(body.body)
    return list(body) if isinstance(body, (list, tuple)) else []


def _calls_in_order(small: cst.CSTNode) -> List[cst.Call]:
    """Calls of a statement in source order, not entering lambdas (they run later)."""
    return own_nodes_of(small, (cst.Call,), stop=(cst.Lambda,))


def _text(expression: cst.BaseExpression, subst: Dict[str, Optional[str]]) -> Optional[str]:
    """Source text of a name/attribute/subscript chain, with helper parameters replaced."""
    expression_type = type(expression)
    if expression_type is cst.Name:
        return subst[expression.value] if expression.value in subst else expression.value
    if expression_type is cst.Attribute:
        base = _text(expression.value, subst)
        return None if base is None else f"{base}.{expression.attr.value}"
    if expression_type is cst.Subscript:
        base = _text(expression.value, subst)
        if base is None:
            return None
        return base + "[" + ", ".join(cst.Module([]).code_for_node(s) for s in expression.slice) + "]"
    if expression_type is cst.Call and not expression.args:
        base = _text(expression.func, subst)
        return None if base is None else base + "()"
    return None


def _substituted(text: Optional[str], subst: Dict[str, Optional[str]]) -> Optional[str]:
    """Another file's event text with the helper's parameters replaced, as ``_text`` replaces them."""
    if text is None:
        return None
    head = re.match(r"[A-Za-z_]\w*", text)
    if head is None or head.group(0) not in subst:
        return text
    value = subst[head.group(0)]
    return None if value is None else value + text[head.end():]


def _plain_text(expression: cst.BaseExpression) -> Optional[str]:
    return _text(expression, {})


def _target_texts(target: cst.BaseExpression) -> List[str]:
    if isinstance(target, (cst.Tuple, cst.List)):
        return [t for e in target.elements for t in _target_texts(e.value)]
    text = _plain_text(target)
    return [text] if text is not None else []


def _last_identifier(text: str) -> str:
    """``self.opts[0]`` -> ``opts``; ``self.optimizers()`` -> ``optimizers``."""
    return re.sub(r"\[[^\]]*\]|\(\)", "", text).rsplit(".", 1)[-1]


def _is_grad_attribute(target: cst.CSTNode) -> bool:
    return type(target) is cst.Attribute and target.attr.value == "grad"


def _is_self_call(call: cst.Call) -> bool:
    func = call.func
    return type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value == "self"


def _clears_by_name(name: str) -> bool:
    """An unknown function whose name says it clears gradients (``zero_grads``, ``clear_grad``...)."""
    lowered = _last_identifier(name).lower()
    return "zero_grad" in lowered or ("grad" in lowered and any(w in lowered for w in ("zero", "clear", "reset", "none")))


def _is_scheduler_name(name: str) -> bool:
    return ".lr_scheduler." in name or name.startswith("transformers.get_") or "scheduler" in name.rsplit(".", 1)[-1].lower()


def _related(model: str, source: str) -> bool:
    """``model`` and an optimizer's parameter source name the same module or one holds the other."""
    return model == source or source.startswith(model + ".") or model.startswith(source + ".")
