from typing import Dict, Optional, Set, Tuple

import libcst as cst

from autogradlint.analysis.grad_mode import backward_target
from autogradlint.analysis.grad_state import grad_certainly_on
from autogradlint.analysis.loops import (
    REPORTING_BUILTINS,
    StraightLineFlow,
    block_body,
    carries_module_graph,
    data_names,
    enclosing_loop,
    enclosing_scope,
    innermost_block,
    own_calls,
    own_statements,
)
from autogradlint.analysis.names import bound_names, works_with_torch
from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import iter_tree, nodes_of
from autogradlint.analysis.grad_state import facts_at

# expressions whose value may be a tensor: not tuples, lists or dicts (``.item()`` on them breaks the code)
_TENSOR_VALUED = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.BinaryOperation, cst.UnaryOperation)
_CALLS = (cst.Call,)
_REPORTING_METHODS = frozenset({"add_scalar", "add_scalars", "log", "log_dict", "info", "debug", "warning", "write",
                                "set_postfix", "set_description", "format", "item", "tolist"})


def _accumulator_name(target: cst.BaseExpression) -> Optional[str]:
    """The name holding an accumulator: ``total``, or ``log`` of ``log["loss"]`` (a dict or list entry)."""
    if type(target) is cst.Subscript:
        target = target.value
    return target.value if type(target) is cst.Name else None


def _accumulation(statement: cst.CSTNode) -> Optional[Tuple[str, cst.BaseExpression, str, cst.BaseExpression]]:
    """(accumulator name, added expression, kind, accumulator as written) for ``t += e``, ``t = t + e`` and
    ``xs.append(e)``; ``t`` and ``xs`` may be entries of a name (``stats["loss"] += e``, ``log["loss"].append(e)``)."""
    # exact types: this runs on every assignment and expression statement, and isinstance on LibCST's
    # ABCs is slow
    statement_type = type(statement)
    if statement_type is cst.AugAssign:
        if type(statement.operator) is cst.AddAssign:
            name = _accumulator_name(statement.target)
            if name is not None:
                return name, statement.value, "sum", statement.target
    elif statement_type is cst.Assign:
        if len(statement.targets) == 1 and type(statement.targets[0].target) is cst.Name:
            name = statement.targets[0].target.value
            value = statement.value
            if type(value) is cst.BinaryOperation and type(value.operator) is cst.Add:
                if type(value.left) is cst.Name and value.left.value == name:
                    return name, value.right, "sum", value.left
    elif statement_type is cst.Expr and type(statement.value) is cst.Call:
        call = statement.value
        func = call.func
        if (type(func) is cst.Attribute and func.attr.value == "append" and _accumulator_name(func.value) is not None
                and len(call.args) == 1 and call.args[0].keyword is None and not call.args[0].star):
            return _accumulator_name(func.value), call.args[0].value, "list", func.value
    return None


def _is_reporting_call(context, call: cst.Call) -> bool:
    func = call.func
    if isinstance(func, cst.Name) and func.value in REPORTING_BUILTINS:
        return True
    if isinstance(func, cst.Attribute) and func.attr.value in _REPORTING_METHODS:
        return True
    name = context.qualified_name(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
    return bool(name) and (name.startswith("numpy.") or name.startswith("math.") or name.startswith("statistics."))


class GraphKeptAcrossIterations(Rule):
    """
    ## What it does
    Flags a loss that carries a graph (it is `.backward()`-ed in the loop, or it is a model or criterion
    output) accumulated across loop iterations into an outer total or list without `.item()`/`.detach()`:
    `total += loss`, `total = total + loss`, `losses.append(loss)`, also into an entry of a name
    (`log["loss"].append(loss)`, `stats["loss"] += loss`). A total that is itself backward-ed later
    (gradient accumulation by summing losses) is not flagged, nor is a total computed under `no_grad`.
    Without a backward in the loop, a total that leaves the function (returned, passed on) is not flagged:
    its caller may backward it.

    ## Why is this bad?
    The total is a tensor whose `grad_fn` chain reaches every iteration's loss. When no backward runs on
    each step's loss (metric accumulation), every iteration's activations stay alive too: memory grows
    with each step until the loop ends or the process runs out of memory.

    ## Example
    ```python
    total = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss
    ```

    ## Use instead
    ```python
        total += loss.item()
    ```

    ## Fix safety
    For a sum, the fix calls `.item()` on the loss (`total += loss.item()`, `total += loss.item() * n`), or
    on the whole added term when the loss is inside a call (`total += crit(out, y).item()`). It is safe when
    the loop runs `loss.backward()` without a gradient argument: the loss is then a one-element tensor and
    `.item()` gives the same number without the graph. Otherwise it is unsafe: `.item()` raises on a tensor
    of several elements. For a list, the fix appends `loss.detach()`: unsafe, since it keeps tensors but
    code that later backwards through the list breaks. A tuple, list or dict added is not fixed.
    """

    code = "GL310"
    name = "graph-kept-across-iterations"
    severity = "warning"
    message = ("'{total}' accumulates '{loss}' with its autograd graph: every iteration's graph stays in memory. "
               "Use '{fix}'")
    triggers = ("+", "append")
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch\ntotal = 0\nfor x, y in loader:\n    loss = crit(model(x), y)\n    loss.backward()\n"
              "    total += loss.item()\n", "a Python number"),
        Valid("import torch\nloss_sum = 0\nfor x, y in loader:\n    loss_sum += crit(model(x), y)\nloss_sum.backward()\n",
              "gradient accumulation by summing losses"),
        Valid("import torch\nlosses = []\nfor x, y in batches:\n    losses.append(crit(model(x), y))\n"
              "torch.stack(losses).mean().backward()\n", "the list is backward-ed"),
        Valid("import torch\ndef multi_scale_loss(preds, y, crit):\n    loss = 0\n    for pred in preds:\n"
              "        loss += crit(pred, y)\n    return loss\n", "the caller backwards the total"),
        Valid("import torch\ntotal = 0\nwith torch.no_grad():\n    for x, y in loader:\n        loss = crit(model(x), y)\n"
              "        total += loss\n", "no graph under no_grad"),
        Valid("import torch\nhistory = []\nfor x, y in loader:\n    loss = crit(model(x), y)\n    loss.backward()\n"
              "    history.append(loss.detach())\n", "detached"),
        Valid("import torch\nstep = 0\nfor x, y in loader:\n    loss = crit(model(x), y)\n    loss.backward()\n    step += 1\n",
              "a counter"),
        Valid("total = 0\nfor x, y in loader:\n    loss = net(x, y)\n    loss.backward()\n    total += loss\n", "not a torch file"),
        Valid("import torch\nout_sum = 0\nfor x in xs:\n    out_sum += x\n", "unknown values"),
    )
    invalid = (
        Invalid("import torch\ntotal = 0.0\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n"
                "    optimizer.step()\n    total += loss\nprint(total / len(loader))\n", 7, 5,
                fixed="import torch\ntotal = 0.0\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n"
                "    optimizer.step()\n    total += loss.item()\nprint(total / len(loader))\n"),
        Invalid("import torch\nfrom torch import nn\nmodel = nn.Linear(4, 1)\ncrit = nn.MSELoss()\nrunning = 0\n"
                "for x, y in loader:\n    loss = crit(model(x), y)\n    running = running + loss\nprint(f'loss {running}')\n", 8, 5,
                fixed="import torch\nfrom torch import nn\nmodel = nn.Linear(4, 1)\ncrit = nn.MSELoss()\nrunning = 0\n"
                "for x, y in loader:\n    loss = crit(model(x), y)\n    running = running + loss.item()\nprint(f'loss {running}')\n"),
        Invalid("import torch\ndef train(model, loader, opt):\n    losses = []\n    for epoch in range(3):\n        for x, y in loader:\n"
                "            opt.zero_grad()\n            loss = model(x, y)\n            loss.backward()\n            opt.step()\n"
                "            losses.append(loss)\n    return losses\n", 10, 13,
                fixed="import torch\ndef train(model, loader, opt):\n    losses = []\n    for epoch in range(3):\n        for x, y in loader:\n"
                "            opt.zero_grad()\n            loss = model(x, y)\n            loss.backward()\n            opt.step()\n"
                "            losses.append(loss.detach())\n    return losses\n"),
        Invalid("import torch\nclass Trainer:\n    def epoch(self):\n        epoch_loss = 0\n        for batch in self.loader:\n"
                "            loss = self.step(batch)\n            loss.backward()\n            epoch_loss += loss * batch.size(0)\n"
                "        return epoch_loss\n", 8, 13,
                fixed="import torch\nclass Trainer:\n    def epoch(self):\n        epoch_loss = 0\n        for batch in self.loader:\n"
                "            loss = self.step(batch)\n            loss.backward()\n            epoch_loss += loss.item() * batch.size(0)\n"
                "        return epoch_loss\n"),
    )
    evidence = Evidence(
        bad=("import torch\nmodel = torch.nn.Linear(4, 1)\ntotal = 0\nfor step in range(3):\n"
             "    loss = model(torch.randn(8, 4)).pow(2).mean()\n    total += loss\n"
             "def graphs_alive(t):\n    seen, stack, count = set(), [getattr(t, 'grad_fn', None)], 0\n"
             "    while stack:\n        f = stack.pop()\n        if f is None or f in seen:\n            continue\n"
             "        seen.add(f)\n        count += type(f).__name__.startswith('Addmm')\n"
             "        stack.extend(g for g, _ in f.next_functions)\n    return count\n"
             "print(graphs_alive(total))  # every iteration's forward graph is still alive\n"),
        bad_shows=Outcome(stdout="3"),
        good=("import torch\nmodel = torch.nn.Linear(4, 1)\ntotal = 0\nfor step in range(3):\n"
              "    loss = model(torch.randn(8, 4)).pow(2).mean()\n    total += loss.item()\n"
              "def graphs_alive(t):\n    seen, stack, count = set(), [getattr(t, 'grad_fn', None)], 0\n"
              "    while stack:\n        f = stack.pop()\n        if f is None or f in seen:\n            continue\n"
              "        seen.add(f)\n        count += type(f).__name__.startswith('Addmm')\n"
              "        stack.extend(g for g, _ in f.next_functions)\n    return count\n"
              "print(graphs_alive(total))\n"),
        good_shows=Outcome(stdout="0"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self._flows: Dict[int, StraightLineFlow] = {}
        self._uses_torch: Optional[bool] = None

    def _check(self, statement: cst.CSTNode) -> None:
        found = _accumulation(statement)
        if found is None:
            return
        total, added, kind, accumulator = found
        loop = enclosing_loop(self.context.ancestors)
        if loop is None:
            return
        if self._uses_torch is None:
            self._uses_torch = works_with_torch(self.context)
        if not self._uses_torch:
            return
        others = bound_names(loop.body) - ({total} if kind == "sum" else set())
        if total in others or (kind == "sum" and _rebinds_elsewhere(loop, statement, total)):
            return
        loss = self._grad_carrying_loss(statement, loop, added)
        if loss is None or not grad_certainly_on(self.context):
            return
        backward_in_loop = loss[1]
        scope = enclosing_scope(self.context.ancestors)
        if self._backwarded(scope, total):
            return
        if not backward_in_loop and self._leaves_scope(scope, total, statement):
            return
        name = loss[0]
        # the method goes on the loss itself when only arithmetic combines it (``loss * n``), else on the whole term
        taken = name if _only_arithmetic_above(added, name) else added
        if not isinstance(taken, _TENSOR_VALUED):
            taken = None
        method = "item" if kind == "sum" else "detach"
        code_for = self.context.module.code_for_node
        suggestion = f"{code_for(taken or name)}.{method}()"
        fix = Replacement(taken, _method_call(taken, method)) if taken is not None else None
        # '.item()' needs a one-element tensor: certain for a loss backward-ed without a gradient argument
        applicability = "safe" if kind == "sum" and isinstance(name, cst.Name) and \
            self._backwarded_as_scalar(loop, name.value) else "unsafe"
        self.report(statement, self.message.format(total=code_for(accumulator), loss=code_for(name), fix=suggestion),
                    fix=fix, applicability=applicability)

    def _backwarded_as_scalar(self, loop: cst.CSTNode, loss: str) -> bool:
        """Whether the loop calls ``loss.backward()`` without a gradient argument: the loss is then a
        one-element tensor, which ``.item()`` certainly accepts."""
        for call in own_calls(loop.body):
            func = call.func
            if (isinstance(func, cst.Attribute) and func.attr.value == "backward" and isinstance(func.value, cst.Name)
                    and func.value.value == loss and backward_target(self.context, call) is func.value
                    and all(arg.keyword is not None and arg.keyword.value != "gradient" for arg in call.args)):
                return True
        return False

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._check(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._check(node)

    def visit_Expr(self, node: cst.Expr) -> None:
        self._check(node)

    def _grad_carrying_loss(self, statement: cst.CSTNode, loop: cst.CSTNode,
                            added: cst.BaseExpression) -> Optional[Tuple[cst.BaseExpression, bool]]:
        """(the loss name in ``added``, or ``added`` itself, whether the loop backwards it) for a loss that
        certainly carries a graph: backward-ed in this loop, bound in this iteration to a module's output,
        or a value the analysis knows requires grad."""
        names = data_names(added)
        backwarded: Set[str] = set()
        for call in own_calls(loop.body):
            target = backward_target(self.context, call)
            if target is not None:
                backwarded.update(n.value for n in data_names(target))
        for name in names:
            if name.value in backwarded:
                return name, True
        located = innermost_block(self.context.ancestors, statement)
        if located is None:
            return None
        owner, here = located
        flow = self._flows.get(id(owner))
        if flow is None:
            flow = self._flows[id(owner)] = StraightLineFlow(self.context, block_body(owner))
        index = flow.index_of(here)
        if index is None:
            return None
        env = flow.env_before[index]
        for name in names:
            value = env.get(name.value)
            if value is not None and carries_module_graph(self.context, value):
                return name, False
        # a loss added as it is computed: ``val_loss += F.l1_loss(model(x), y)``
        facts = facts_at(self.context, added, statement)
        if facts.is_tensor and facts.requires_grad is True:
            return added, False
        return None

    def _backwarded(self, scope: cst.CSTNode, total: str) -> bool:
        """Whether a backward in the scope runs on the total (directly, or on a value computed from it)."""
        derived = {total}
        for statement in own_statements(scope):
            if isinstance(statement, (cst.Assign, cst.AnnAssign, cst.AugAssign)) and statement.value is not None:
                if any(n.value in derived for n in data_names(statement.value)):
                    derived.update(bound_names(statement))
        for call in own_calls(scope):
            target = backward_target(self.context, call)
            if target is not None and any(n.value in derived for n in data_names(target)):
                return True
        return False

    def _leaves_scope(self, scope: cst.CSTNode, total: str, accumulation: cst.CSTNode) -> bool:
        """Whether the total is used beyond reporting it (returned, stored, passed to a computation)."""
        for statement in own_statements(scope):
            if statement is accumulation:
                continue
            if _uses_as_tensor(self.context, statement, total):
                return True
        return False


def _method_call(expression: cst.BaseExpression, method: str) -> cst.Call:
    """``expression.method()``, parenthesizing an operation."""
    if isinstance(expression, (cst.BinaryOperation, cst.UnaryOperation)) and not expression.lpar:
        expression = expression.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.Call(func=cst.Attribute(value=expression, attr=cst.Name(method)))


def _only_arithmetic_above(expression: cst.BaseExpression, name: cst.Name) -> bool:
    """Whether ``name`` is reached from ``expression`` through arithmetic operators only (``loss * n / k``)."""
    if expression is name:
        return True
    if isinstance(expression, cst.BinaryOperation) and isinstance(
            expression.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide)):
        return _only_arithmetic_above(expression.left, name) or _only_arithmetic_above(expression.right, name)
    if isinstance(expression, cst.UnaryOperation) and isinstance(expression.operator, cst.Minus):
        return _only_arithmetic_above(expression.expression, name)
    return False


def _rebinds_elsewhere(loop: cst.CSTNode, accumulation: cst.CSTNode, total: str) -> bool:
    """Whether the loop body binds ``total`` in another statement than the accumulation itself."""
    for statement in own_statements(loop.body):
        if statement is not accumulation and not isinstance(statement, cst.BaseCompoundStatement):
            if total in bound_names(statement):
                return True
    return False


def _uses_as_tensor(context, statement: cst.CSTNode, total: str) -> bool:
    """Whether a statement reads ``total`` as a tensor other than inside a reporting call (``print``,
    logging, ``float``, numpy) or through ``.item()``."""
    if isinstance(statement, (cst.Return, cst.Expr, cst.Assign, cst.AnnAssign, cst.AugAssign)):
        root = statement.value
    elif isinstance(statement, (cst.If, cst.While)):
        root = statement.test
    else:
        return False
    if root is None:
        return False
    reported = {id(n) for call in nodes_of(root, _CALLS) if _is_reporting_call(context, call)
                for n in iter_tree(call)}
    return any(n.value == total and id(n) not in reported for n in data_names(root))
