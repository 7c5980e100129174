import libcst as cst

from autogradlint.analysis.grad_mode import NO_GRAD_MODE, ScopeFlow, backward_target, local_function, mode_of_expression, scope_flow
from autogradlint.analysis.torch_api import SET_GRAD_ENABLED
from autogradlint.analysis.training import training_facts
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class GlobalGradModeLeak(Rule):
    """
    ## What it does
    Flags `torch.set_grad_enabled(False)` as a statement, never restored in the same function (or module),
    when that function or module also trains after it: calls `.backward()` or an optimizer's `.step()`,
    directly or through a function of the same file that does.

    ## Why is this bad?
    As a statement, `set_grad_enabled(False)` switches grad off for the whole thread until something
    switches it back on. The training code that runs later records no graph: its `backward()` raises
    `RuntimeError: element 0 of tensors does not require grad`, or nothing trains.

    Inference and benchmark scripts that switch grad off on purpose (no training after it), a switch
    restored in the same scope (`torch.set_grad_enabled(True)` / `set_grad_enabled(previous)`), and a switch
    under a condition (`if args.eval_only:`) are not flagged.

    ## Example
    ```python
    torch.set_grad_enabled(False)
    val_loss = evaluate(model, val_loader)
    for x, y in train_loader:
        loss = criterion(model(x), y)
        loss.backward()
    ```

    ## Use instead
    ```python
    with torch.set_grad_enabled(False):
        val_loss = evaluate(model, val_loader)
    for x, y in train_loader:
        loss = criterion(model(x), y)
        loss.backward()
    ```

    ## Fix safety
    No fix: the end of the region that should run without grad is the author's call.
    """

    code = "GL208"
    name = "global-grad-mode-leak"
    severity = "warning"
    message = ("'set_grad_enabled(False)' turns grad off for everything after it, including the training below "
               "(its backward raises or trains nothing). Use 'with torch.set_grad_enabled(False):' or restore it")
    triggers = ("set_grad_enabled",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\ntorch.set_grad_enabled(False)\nmodel.eval()\nfor x in loader:\n    print(model(x).argmax(1))\n",
              "an inference script"),
        Valid("import torch\ndef validate(model, loader):\n    torch.set_grad_enabled(False)\n    out = [model(x) for x in loader]\n"
              "    torch.set_grad_enabled(True)\n    return out\ndef train(model, x, opt):\n    model(x).sum().backward()\n"
              "    opt.step()\n", "restored in the same scope"),
        Valid("import torch\ndef run(model, x, opt, evaluate_only):\n    if evaluate_only:\n        torch.set_grad_enabled(False)\n"
              "        return model(x)\n    model(x).sum().backward()\n", "a conditional switch"),
        Valid("import torch\nwith torch.set_grad_enabled(False):\n    val = model(x)\nloss = model(x).sum()\nloss.backward()\n",
              "a with block, not a statement"),
        Valid("import torch\ntorch.set_grad_enabled(False)\nwith torch.enable_grad():\n    loss = model(x).sum()\n"
              "    loss.backward()\n", "training re-enables grad"),
        Valid("import torch\ndef train(model, x):\n    model(x).sum().backward()\ntrain(model, x)\n"
              "torch.set_grad_enabled(False)\nprint(model(x))\n", "training ran before the switch"),
        Valid("import torch\nprev = torch.is_grad_enabled()\ntorch.set_grad_enabled(False)\nbench(model)\n"
              "torch.set_grad_enabled(prev)\nmodel(x).sum().backward()\n", "restored to the previous mode"),
        Valid("import mxnet\nmxnet.set_grad_enabled(False)\nloss.backward()\n", "not torch"),
    )
    invalid = (
        Invalid("import torch\ntorch.set_grad_enabled(False)\nval = evaluate(model, val_loader)\nfor x, y in loader:\n"
                "    loss = criterion(model(x), y)\n    loss.backward()\n", 2, 1),
        Invalid("import torch\ndef fit(model, loader, optimizer, epochs):\n    for epoch in range(epochs):\n"
                "        for x, y in loader:\n            optimizer.zero_grad()\n            loss = model(x, y)\n"
                "            loss.backward()\n            optimizer.step()\n        torch.set_grad_enabled(False)\n"
                "        validate(model)\n", 9, 9),
        Invalid("from torch import autograd\ndef train_one(model, x, y):\n    loss = (model(x) - y).pow(2).mean()\n"
                "    loss.backward()\nif __name__ == '__main__':\n    autograd.set_grad_enabled(mode=False)\n"
                "    warmup(model)\n    train_one(model, x, y)\n", 6, 5),
        Invalid("import torch as th\nclass Trainer:\n    def run(self):\n        th.set_grad_enabled(False)\n"
                "        self.model.eval()\n        self.model.train()\n        out = self.model(self.x)\n"
                "        out.mean().backward()\n", 4, 9),
    )
    evidence = Evidence(
        bad="import torch\nmodel = torch.nn.Linear(3, 1)\ntorch.set_grad_enabled(False)\nprint(model(torch.ones(1, 3)).item() != 0)\n"
            "loss = model(torch.ones(2, 3)).sum()\nloss.backward()\n",
        bad_shows=Outcome(raises="RuntimeError", message="does not require grad and does not have a grad_fn"),
        good="import torch\nmodel = torch.nn.Linear(3, 1)\nwith torch.set_grad_enabled(False):\n"
             "    print(model(torch.ones(1, 3)).item() != 0)\nloss = model(torch.ones(2, 3)).sum()\nloss.backward()\n"
             "print(model.weight.grad is not None)\n",
        good_shows=Outcome(stdout="True\nTrue"),
    )

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if not _is_set_grad_enabled(self.context, call) or mode_of_expression(self.context, call) != NO_GRAD_MODE:
            return
        flow = scope_flow(self.context)
        if flow is None or not flow.contains(node) or self._conditional(flow, node):
            return
        if any(_is_set_grad_enabled(self.context, other) and mode_of_expression(self.context, other) != NO_GRAD_MODE
               for other in flow.calls):
            return  # restored (or switched by a variable) in the same scope
        start = flow.order(node)
        loops = [n for n in flow.chain(node) if isinstance(n, (cst.For, cst.While))]
        for other in flow.calls:
            after = flow.order(other) > start or any(flow.is_inside(other, loop) for loop in loops)
            if after and flow.mode_at(other) is None and self._trains(flow, other):
                self.report(node)
                return

    def _conditional(self, flow: ScopeFlow, node: cst.CSTNode) -> bool:
        """Whether ``node`` sits in a branch (other than the ``__main__`` guard) or an exception handler."""
        for ancestor in flow.chain(node):
            if isinstance(ancestor, cst.If) and not _is_main_guard(ancestor):
                return True
            if isinstance(ancestor, (cst.ExceptHandler, cst.Match)):
                return True
        return False

    def _trains(self, flow: ScopeFlow, call: cst.Call, depth: int = 0) -> bool:
        """Whether ``call`` is a backward, an optimizer step, or a call of a local function that trains."""
        if backward_target(self.context, call) is not None:
            return True
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "step":
            return training_facts(self.context).holds_optimizer(func.value)
        function = local_function(self.context, func, flow)
        if function is None or depth > 2 or function.decorators:
            return False
        inner = scope_flow(self.context, function)
        return any(inner.mode_at(c) is None and self._trains(inner, c, depth + 1) for c in inner.calls)


def _is_set_grad_enabled(context, call: cst.BaseExpression) -> bool:
    return (isinstance(call, cst.Call) and isinstance(call.func, (cst.Name, cst.Attribute))
            and context.qualified_name(call.func) == SET_GRAD_ENABLED)


def _is_main_guard(node: cst.If) -> bool:
    test = node.test
    return (isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name) and test.left.value == "__name__"
            and len(test.comparisons) == 1 and isinstance(test.comparisons[0].operator, cst.Equal))
