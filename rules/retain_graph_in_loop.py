from typing import Dict, List, Optional, Set

import libcst as cst

from autogradlint.analysis.grad_mode import backward_target
from autogradlint.analysis.grad_state import facts_at
from autogradlint.analysis.loops import (
    StraightLineFlow,
    block_body,
    data_names,
    enclosing_function,
    enclosing_loop,
    enclosing_scope,
    innermost_block,
    is_non_tensor_name,
    own_calls,
)
from autogradlint.analysis.names import bound_names, target_names, works_with_torch
from autogradlint.edits import Replacement
from autogradlint.fix_builders import without_argument
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import iter_tree


def _retain_graph_true(call: cst.Call) -> Optional[cst.Arg]:
    """The ``retain_graph=True`` argument of a call without ``create_graph`` (which keeps the graph anyway)."""
    found = None
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is not None and arg.keyword.value == "create_graph":
            return None
        if arg.keyword is not None and arg.keyword.value == "retain_graph":
            if isinstance(arg.value, cst.Name) and arg.value.value == "True":
                found = arg
    return found


class RetainGraphInLoop(Rule):
    """
    ## What it does
    Flags `loss.backward(retain_graph=True)` (or `torch.autograd.backward/grad(..., retain_graph=True)`)
    inside a loop when the loss is rebuilt from fresh inputs on every iteration and no second backward
    goes through that graph (none later in the loop, none after it).

    ## Why is this bad?
    `retain_graph=True` keeps every tensor the graph saved for backward alive until the loss name is
    rebound on the next iteration: one extra graph's activations at every step's memory peak, for nothing.
    It is often added to silence "Trying to backward through the graph a second time"; when a value carried
    across iterations (an RNN hidden state) causes that error, this rule stays silent: `.detach()` it instead.

    ## Example
    ```python
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward(retain_graph=True)
        optimizer.step()
    ```

    ## Use instead
    ```python
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Fix safety
    Unsafe: the fix drops the argument; code that reads the graph after backward (hooks, `grad_fn`
    saved tensors) would then fail.
    """

    code = "GL311"
    name = "retain-graph-in-loop"
    severity = "hint"
    message = ("'retain_graph=True' keeps this iteration's graph in memory until the loss is rebound, and no second "
               "backward uses it. Drop the argument")
    triggers = ("retain_graph",)
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("import torch\nfor x, y in loader:\n    out = model(x)\n    loss1 = crit(out, y)\n    loss2 = aux(out)\n"
              "    loss1.backward(retain_graph=True)\n    loss2.backward()\n", "a second backward through the same graph"),
        Valid("import torch\nhidden = model.init_hidden()\nfor x, y in loader:\n    out, hidden = model(x, hidden)\n"
              "    loss = crit(out, y)\n    loss.backward(retain_graph=True)\n    opt.step()\n",
              "the hidden state carries the graph across iterations"),
        Valid("import torch\nfeats = encoder(images)\nfor head, target in zip(heads, targets):\n"
              "    loss = crit(head(feats), target)\n    loss.backward(retain_graph=True)\n",
              "every iteration backwards through the shared encoder graph"),
        Valid("import torch\nloss = crit(model(x), y)\nfor i in range(n):\n    loss.backward(retain_graph=True)\n",
              "the same graph every iteration"),
        Valid("import torch\nfor x, y in loader:\n    loss = crit(model(x), y)\n    loss.backward(retain_graph=True, create_graph=True)\n",
              "create_graph keeps the graph anyway"),
        Valid("import torch\nfor x, y in loader:\n    loss = crit(model(x), y)\n    loss.backward()\n", "no retain_graph"),
        Valid("import torch\nloss = crit(model(x), y)\nloss.backward(retain_graph=True)\n", "not in a loop"),
        Valid("import torch\nlosses = []\nfor x, y in loader:\n    loss = crit(model(x), y)\n    loss.backward(retain_graph=True)\n"
              "    losses.append(loss)\ntorch.stack(losses).sum().backward()\n", "backward again after the loop"),
        Valid("for x, y in loader:\n    loss = crit(model(x), y)\n    loss.backward(retain_graph=True)\n", "not a torch file"),
        Valid("import torch\ndef grads_of(fn, inputs):\n    outs = fn(*inputs)\n    for out in outs:\n"
              "        out.sum().backward(retain_graph=True)\n", "the outputs share one graph"),
    )
    invalid = (
        Invalid("import torch\nfor x, y in loader:\n    optimizer.zero_grad()\n    loss = criterion(model(x), y)\n"
                "    loss.backward(retain_graph=True)\n    optimizer.step()\n", 5, 5,
                fixed="import torch\nfor x, y in loader:\n    optimizer.zero_grad()\n    loss = criterion(model(x), y)\n"
                "    loss.backward()\n    optimizer.step()\n"),
        Invalid("import torch\nclass Trainer:\n    def fit(self, loader):\n        for epoch in range(10):\n"
                "            for batch in loader:\n                out = self.model(batch['x'])\n"
                "                loss = self.loss_fn(out, batch['y'])\n                loss.backward(retain_graph=True)\n", 8, 17,
                fixed="import torch\nclass Trainer:\n    def fit(self, loader):\n        for epoch in range(10):\n"
                "            for batch in loader:\n                out = self.model(batch['x'])\n"
                "                loss = self.loss_fn(out, batch['y'])\n                loss.backward()\n"),
        Invalid("import torch as th\nstep = 0\nwhile step < 100:\n    x, y = next(it)\n    l = th.nn.functional.mse_loss(net(x), y)\n"
                "    th.autograd.backward(l, retain_graph=True)\n    step += 1\n", 6, 5,
                fixed="import torch as th\nstep = 0\nwhile step < 100:\n    x, y = next(it)\n    l = th.nn.functional.mse_loss(net(x), y)\n"
                "    th.autograd.backward(l)\n    step += 1\n"),
        Invalid("import torch\ndef train(model, loader, opt, scaler):\n    for x, y in loader:\n        with torch.autocast('cuda'):\n"
                "            loss = model(x, y)\n        scaler.scale(loss).backward(retain_graph = True)\n        scaler.step(opt)\n", 6, 9,
                fixed="import torch\ndef train(model, loader, opt, scaler):\n    for x, y in loader:\n        with torch.autocast('cuda'):\n"
                "            loss = model(x, y)\n        scaler.scale(loss).backward()\n        scaler.step(opt)\n"),
    )
    evidence = Evidence(
        bad=("import torch\nmodel = torch.nn.Linear(3, 1)\nfor step in range(2):\n"
             "    out = model(torch.randn(8, 3))\n    loss = out.pow(2).mean()\n    loss.backward(retain_graph=True)\n"
             "print(tuple(loss.grad_fn.next_functions[0][0]._saved_self.shape))  # the graph's buffers are still held\n"),
        bad_shows=Outcome(stdout="(8, 1)"),
        good=("import torch\nmodel = torch.nn.Linear(3, 1)\nfor step in range(2):\n"
              "    out = model(torch.randn(8, 3))\n    loss = out.pow(2).mean()\n    loss.backward()\n"
              "print(tuple(loss.grad_fn.next_functions[0][0]._saved_self.shape))\n"),
        good_shows=Outcome(raises="RuntimeError", message="after they have already been freed"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self._flows: Dict[int, StraightLineFlow] = {}
        self._uses_torch: Optional[bool] = None

    def visit_Call(self, node: cst.Call) -> None:
        argument = _retain_graph_true(node)
        if argument is None:
            return
        target = backward_target(self.context, node)
        loop = enclosing_loop(self.context.ancestors)
        if target is None or loop is None:
            return
        if self._uses_torch is None:
            self._uses_torch = works_with_torch(self.context)
        if not self._uses_torch or self._backward_again(node, loop):
            return
        if self._rebuilt_every_iteration(node, loop, target):
            self.report(node, fix=Replacement(node, without_argument(node, argument)))

    def _backward_again(self, node: cst.Call, loop: cst.CSTNode) -> bool:
        """Whether another backward may go through this graph: one in the same loop, or after the loop."""
        in_loop = {id(n) for n in iter_tree(loop)}
        seen_loop = False
        for candidate in own_calls(enclosing_scope(self.context.ancestors)):
            inside = id(candidate) in in_loop
            seen_loop = seen_loop or inside
            if candidate is node or backward_target(self.context, candidate) is None:
                continue
            if inside or seen_loop:
                return True
        return False

    def _iterates_outside_data(self, loop: cst.CSTNode) -> bool:
        """Whether the loop iterates over something this function did not compute (a loader passed in,
        ``self.loader``, a module-level loader) or over a ``DataLoader`` it built: data, not outputs."""
        function = enclosing_function(self.context.ancestors)
        if function is None:
            return True
        scope = self.context.names.scope_of(function)
        for name in data_names(loop.iter):
            for binding in (scope.bindings.get(name.value, []) if scope is not None else []):
                if binding.kind == "param":
                    continue
                value = getattr(binding.node, "value", None)
                if not (isinstance(value, cst.Call) and isinstance(value.func, (cst.Name, cst.Attribute))
                        and (self.context.qualified_name(value.func) or "").endswith("DataLoader")):
                    return False
        return True

    def _rebuilt_every_iteration(self, node: cst.Call, loop: cst.CSTNode, target: cst.BaseExpression) -> bool:
        """Whether every graph-carrying input of the loss is computed afresh in this iteration: read names
        are bound earlier in the same iteration, are the loop's targets, or hold no graph (leaves, data)."""
        located = innermost_block(self.context.ancestors, node)
        if located is None:
            return False
        owner, statement = located
        flow = self._flows.get(id(owner))
        if flow is None:
            flow = self._flows[id(owner)] = StraightLineFlow(self.context, block_body(owner))
        index = flow.index_of(statement)
        if index is None:
            return False
        env = flow.env_before[index]
        reads, _ = flow.value_of(target, env)
        loop_targets: Set[str] = set(target_names(loop.target)) if isinstance(loop, cst.For) else set()
        carried = bound_names(loop.body)
        # names each expression reads from before this block (not bound in it yet when it ran)
        outer: List[cst.Name] = [n for n in data_names(target) if n.value not in env]
        for value in reads:
            if value.expression is not None and value.statement is not None:
                bound_then = flow.env_before[flow.index_of(value.statement)]
                outer.extend(n for n in data_names(value.expression) if n.value not in bound_then)
        for name in outer:
            if name.value in loop_targets:
                # an item of a data loader is fresh data; an item of a list of outputs shares their graph
                if not (facts_at(self.context, name).loop_data and self._iterates_outside_data(loop)):
                    return False
                continue
            if name.value in carried or name.value in ("self", "cls"):
                return False  # read before this iteration rebinds it, or an attribute that may hold a graph
            if is_non_tensor_name(self.context, name):
                continue
            facts = facts_at(self.context, name)
            if not (facts.requires_grad is False or facts.leaf is True or facts.loop_data):
                return False
        return True
