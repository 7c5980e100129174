from typing import Dict, List, Optional

import libcst as cst

from autogradlint.analysis.grad_mode import backward_target
from autogradlint.analysis.loops import (
    NON_SAVING_METHODS,
    StraightLineFlow,
    Value,
    block_body,
    carries_module_graph,
    enclosing_loop,
    innermost_block,
    iterates_at_most_once,
    keeps_graph,
    loop_exits_early,
    own_calls,
)
from autogradlint.analysis.names import bound_names, target_names, works_with_torch
from autogradlint.edits import Replacement
from autogradlint.fix_builders import with_keyword
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class DoubleBackward(Rule):
    """
    ## What it does
    Flags a second backward pass (`.backward()`, `torch.autograd.backward`, `torch.autograd.grad`) through
    a graph that an earlier backward in the same straight-line block already freed: the same loss twice,
    or two losses sharing a computed intermediate (`out = model(x)`), with no `retain_graph=True` on the
    first and no recomputation between. Also flags `loss.backward()` inside a loop when `loss` was computed
    once before the loop: the second iteration goes through the freed graph.

    ## Why is this bad?
    Backward frees the tensors the graph saved for it. The second pass raises
    `RuntimeError: Trying to backward through the graph a second time`.

    ## Example
    ```python
    output = model(x)
    loss_a = crit_a(output, y)
    loss_b = crit_b(output, y)
    loss_a.backward()
    loss_b.backward()
    ```

    ## Use instead
    ```python
    loss_a.backward(retain_graph=True)
    loss_b.backward()
    # or, cheaper: (loss_a + loss_b).backward()
    ```

    ## Fix safety
    Unsafe: the fix adds `retain_graph=True` to the first backward (or turns its `retain_graph=False` into
    `True`), which keeps the graph's memory alive until the second; recomputing the loss or summing the
    losses is often what was meant. For a loss computed once before a loop, the loop's backward gets
    `retain_graph=True`: it then runs through the same graph on every iteration, where computing the loss
    inside the loop is usually what was meant.
    """

    code = "GL304"
    name = "double-backward"
    severity = "error"
    message = ("backward through a graph that an earlier backward in this block already freed: this raises "
               "RuntimeError. Pass 'retain_graph=True' to the first backward, or sum the losses and backward once")
    loop_message = ("'{name}' is computed once before the loop, so the first iteration's backward frees its graph "
                    "and the second raises RuntimeError. Compute it inside the loop")
    triggers = ("backward", "autograd")
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("import torch\nout = model(x)\nloss1 = crit(out, y)\nloss2 = aux(out)\n"
              "loss1.backward(retain_graph=True)\nloss2.backward()\n", "the first backward keeps the graph"),
        Valid("import torch\nloss = crit(model(x), y)\nloss.backward()\nloss = crit(model(x2), y2)\nloss.backward()\n",
              "recomputed between the two"),
        Valid("import torch\nfor x, y in loader:\n    loss = crit(model(x), y)\n    loss.backward()\n    opt.step()\n",
              "one backward per iteration on a fresh loss"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\nl1 = (w * 2).sum()\nl1.backward()\n"
              "l2 = (w * 3).sum()\nl2.backward()\n", "two graphs that only share a leaf"),
        Valid("import torch\nfake = G(z)\nd_loss = crit(D(fake.detach()), zeros)\nd_loss.backward()\n"
              "g_loss = crit(D(fake), ones)\ng_loss.backward()\n", "the first loss was cut from the generator's graph"),
        Valid("import torch\nloss = crit(model(x), y)\nif use_a:\n    loss.backward()\nelse:\n    loss.backward()\n",
              "two branches: only one runs"),
        Valid("import torch\ngrads = torch.autograd.grad(loss, params, create_graph=True)\npenalty = sum(g.pow(2).sum() for g in grads)\n"
              "(loss + penalty).backward()\n", "create_graph keeps the graph"),
        Valid("import torch\nloss = crit(model(x), y)\nloss.backward(retain_graph=keep)\nloss.backward()\n",
              "retain_graph decided at run time"),
        Valid("import torch\nloss = crit(model(x), y)\nfor i in range(n):\n    loss.backward(retain_graph=True)\n",
              "repeated backward with the graph kept"),
        Valid("import torch\nloss = crit(model(x), y)\nfor _ in range(steps):\n    loss.backward()\n    break\n",
              "leaves the loop after the first backward"),
        Valid("x = tinygrad_tensor()\nloss = (x * x).sum()\nloss.backward()\nloss.backward()\n", "not a torch file"),
        Valid("import torch\nl = w.sum()\nl.backward()\nl.backward()\n", "a graph that saved nothing"),
        Valid("import torch\ninp = torch.ones(1) * 2\nfor _ in range(6):\n    ddp(inp).sum().backward()\n    local(inp).sum().backward()\n",
              "each backward runs on a graph built in the loop from a plain input"),
        Valid("import torch\nfrom accelerate import Accelerator\naccelerator = Accelerator()\nfor x, y in loader:\n"
              "    loss = crit(model(x), y)\n    accelerator.backward(loss)\n",
              "Accelerate's backward takes a fresh loss each iteration: the accelerator is no tensor"),
        Valid("import torch\nclass Trainer:\n    def fit(self):\n        for x in self.loader:\n"
              "            loss = self.model(x).sum()\n            self.accelerator.backward(loss)\n",
              "the accelerator kept on the trainer"),
        Valid("import torch\nimport deepspeed\nmodel_engine, optimizer, _, _ = deepspeed.initialize(model=net)\n"
              "for batch in loader:\n    loss = model_engine(batch).mean()\n    model_engine.backward(loss)\n    model_engine.step()\n",
              "a DeepSpeed engine's backward"),
        Valid("import torch\nclass Runner:\n    def backward(self, loss):\n        loss.backward()\nrunner = Runner()\n"
              "for x in data:\n    out = net(x).sum()\n    runner.backward(out)\n", "an object of a class of this file"),
    )
    invalid = (
        Invalid("import torch\nloss = crit(model(x), y)\nloss.backward()\nloss.backward()\n", 4, 1,
                fixed="import torch\nloss = crit(model(x), y)\nloss.backward(retain_graph=True)\nloss.backward()\n"),
        Invalid("import torch\ndef step(model, x, y):\n    out = model(x)\n    loss_a = out.pow(2).mean()\n"
                "    loss_b = (out - y).abs().mean()\n    total = loss_a + loss_b\n    total.backward()\n    loss_a.backward()\n", 8, 5,
                fixed="import torch\ndef step(model, x, y):\n    out = model(x)\n    loss_a = out.pow(2).mean()\n"
                "    loss_b = (out - y).abs().mean()\n    total = loss_a + loss_b\n    total.backward(retain_graph=True)\n    loss_a.backward()\n"),
        Invalid("import torch as th\nclass Trainer:\n    def run(self, x):\n        for _ in range(3):\n"
                "            with th.autocast('cpu'):\n                loss = self.model(x).sum()\n"
                "            grads = th.autograd.grad(loss, self.params)\n            loss.backward()\n", 8, 13,
                fixed="import torch as th\nclass Trainer:\n    def run(self, x):\n        for _ in range(3):\n"
                "            with th.autocast('cpu'):\n                loss = self.model(x).sum()\n"
                "            grads = th.autograd.grad(loss, self.params, retain_graph=True)\n            loss.backward()\n"),
        Invalid("import torch\nloss = criterion(model(inputs), targets)\nfor epoch in range(100):\n    optimizer.zero_grad()\n"
                "    loss.backward()\n    optimizer.step()\n", 5, 5,
                fixed="import torch\nloss = criterion(model(inputs), targets)\nfor epoch in range(100):\n    optimizer.zero_grad()\n"
                "    loss.backward(retain_graph=True)\n    optimizer.step()\n"),
        Invalid("import torch\nscaler = torch.cuda.amp.GradScaler()\nloss = crit(net(x), y)\nscaler.scale(loss).backward()\n"
                "scaler.step(opt)\nscaler.scale(loss).backward()\n", 6, 1,
                fixed="import torch\nscaler = torch.cuda.amp.GradScaler()\nloss = crit(net(x), y)\nscaler.scale(loss).backward(retain_graph=True)\n"
                "scaler.step(opt)\nscaler.scale(loss).backward()\n"),
    )
    evidence = Evidence(
        bad=("import torch\nmodel = torch.nn.Linear(3, 1)\nout = model(torch.randn(4, 3))\n"
             "loss_a = out.pow(2).mean()\nloss_b = out.abs().mean()\nloss_a.backward()\nloss_b.backward()\n"
             "print(model.weight.grad is not None)\n"),
        bad_shows=Outcome(raises="RuntimeError", message="Trying to backward through the graph a second time"),
        good=("import torch\nmodel = torch.nn.Linear(3, 1)\nout = model(torch.randn(4, 3))\n"
              "loss_a = out.pow(2).mean()\nloss_b = out.abs().mean()\nloss_a.backward(retain_graph=True)\nloss_b.backward()\n"
              "print(model.weight.grad is not None)\n"),
        good_shows=Outcome(stdout="True"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self._flows: Dict[int, StraightLineFlow] = {}
        self._uses_torch: Optional[bool] = None

    def _flow(self, owner: cst.CSTNode) -> StraightLineFlow:
        flow = self._flows.get(id(owner))
        if flow is None:
            flow = self._flows[id(owner)] = StraightLineFlow(self.context, block_body(owner))
        return flow

    def visit_Call(self, node: cst.Call) -> None:
        target = backward_target(self.context, node)
        if target is None:
            return
        if self._uses_torch is None:
            self._uses_torch = works_with_torch(self.context)
        if not self._uses_torch:
            return
        located = innermost_block(self.context.ancestors, node)
        if located is None:
            return
        owner, statement = located
        if isinstance(statement, cst.BaseCompoundStatement):
            return
        flow = self._flow(owner)
        index = flow.index_of(statement)
        if index is None:
            return
        first = self._graph_freed_earlier(flow, index, target)
        if first is not None:
            self.report(node, fix=_retaining(first))
            return
        name = self._loss_from_before_loop(node, owner, target)
        if name is not None:
            self.report(node, self.loop_message.format(name=name), fix=_retaining(node))

    def _graph_freed_earlier(self, flow: StraightLineFlow, index: int,
                             target: cst.BaseExpression) -> Optional[cst.Call]:
        """The earlier backward call that freed the graph this backward goes through, if any."""
        env = flow.env_before[index]
        reads, _ = flow.value_of(target, env)
        direct = _direct_values(target, env)
        for earlier in range(index - 1, -1, -1):
            statement = flow.statements[earlier]
            if isinstance(statement, cst.BaseCompoundStatement):
                continue  # a backward in a branch or loop may not run
            for call in own_calls(statement):
                first_target = backward_target(self.context, call)
                if first_target is None or keeps_graph(self.context, call) is not False:
                    continue
                first_env = flow.env_before[earlier]
                first_reads, _ = flow.value_of(first_target, first_env)
                receivers = direct | _direct_values(first_target, first_env)
                for shared in reads & first_reads:
                    if shared.saves and (shared in receivers or carries_module_graph(self.context, shared)):
                        return call
        return None

    def _loss_from_before_loop(self, node: cst.Call, owner: cst.CSTNode, target: cst.BaseExpression) -> Optional[str]:
        """The loss name when this backward runs on every iteration of ``owner`` (a loop) on a graph built
        once before the loop."""
        ancestors = self.context.ancestors
        if enclosing_loop(ancestors) is not owner or keeps_graph(self.context, node) is not False:
            return None
        if loop_exits_early(owner) or iterates_at_most_once(owner):
            return None
        names = _loss_names(target)
        rebound = bound_names(owner.body)
        if isinstance(owner, cst.For):
            rebound.update(target_names(owner.target))
        if not names or any(name.value in rebound for name in names):
            return None
        position = next(i for i in range(len(ancestors)) if ancestors[i] is owner)
        located = innermost_block(ancestors[:position], owner)
        if located is None:
            return None
        outer_owner, loop_statement = located
        flow = self._flow(outer_owner)
        index = flow.index_of(loop_statement)
        if index is None:
            return None
        env = flow.env_before[index]
        values = [env.get(name.value) for name in names]
        if any(value is None or value.expression is None for value in values):
            return None
        if not any(value.saves for value in values):
            return None
        return names[0].value


def _retaining(call: cst.Call) -> Replacement:
    """The backward call made to keep its graph: ``retain_graph=True`` added, or replacing ``retain_graph=False``."""
    return Replacement(call, with_keyword(call, "retain_graph", cst.Name("True")))


def _direct_values(target: cst.BaseExpression, env: Dict[str, Value]) -> set:
    """The values a backward runs on as they are: ``loss`` in ``loss.backward()``, ``loss.mean().backward()``
    or ``(loss_a + loss_b).backward()``; not ``x`` in ``model(x).sum().backward()``, which builds a new graph."""
    return {env[name.value] for name in _loss_names(target) if name.value in env}


def _loss_names(target: cst.BaseExpression) -> List[cst.Name]:
    """Names whose graphs a backward target reuses unchanged (through views, reductions and sums)."""
    while (isinstance(target, cst.Call) and isinstance(target.func, cst.Attribute)
           and target.func.attr.value in NON_SAVING_METHODS):
        target = target.func.value
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, cst.BinaryOperation) and isinstance(target.operator, (cst.Add, cst.Subtract)):
        return _loss_names(target.left) + _loss_names(target.right)
    return []
