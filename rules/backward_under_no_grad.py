import libcst as cst

from autogradlint.analysis.grad_mode import GRAD_OFF, GradOffValue, backward_target, scope_flow
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class BackwardUnderNoGrad(Rule):
    """
    ## What it does
    Flags `.backward()`, `torch.autograd.backward(...)` and `torch.autograd.grad(...)` inside a
    `with torch.no_grad()` / `torch.inference_mode()` block (or a function decorated with them) when the
    loss is computed in that same block.

    ## Why is this bad?
    Nothing computed under `no_grad` or `inference_mode` records a graph, so the loss has no `grad_fn`:
    `RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn`.
    A loss computed before the block may be backward-ed inside it (that works), and so may one computed
    under a nested `with torch.enable_grad():`; neither is flagged.

    ## Example
    ```python
    with torch.no_grad():
        loss = criterion(model(inputs), targets)
        loss.backward()
    ```

    ## Use instead
    ```python
    loss = criterion(model(inputs), targets)
    loss.backward()
    ```

    ## Fix safety
    No fix: which statements belong outside the block is the author's call.
    """

    code = "GL203"
    name = "backward-under-no-grad"
    severity = "error"
    message = ("'{loss}' is computed under '{mode}', so it has no grad_fn: this backward raises RuntimeError. "
               "Compute the loss outside the '{mode}' block")
    triggers = ("no_grad", "inference_mode", "set_grad_enabled")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nloss = model(x).sum()\nwith torch.no_grad():\n    loss.backward()\n",
              "the graph was built before the block: backward works"),
        Valid("import torch\nwith torch.no_grad():\n    ema.update(model)\n    with torch.enable_grad():\n"
              "        loss = model(x).sum()\n        loss.backward()\n", "enable_grad inside no_grad"),
        Valid("import torch\n@torch.no_grad()\ndef step(self, closure):\n    with torch.enable_grad():\n"
              "        loss = closure()\n    loss.backward()\n", "computed under enable_grad"),
        Valid("import torch\ndef closure():\n    with torch.enable_grad():\n        return model(x).sum()\n"
              "with torch.no_grad():\n    loss = closure()\n    loss.backward()\n", "the callee switches grad back on"),
        Valid("import torch\ndef apply(loss):\n    with torch.no_grad():\n        loss.backward()\n",
              "the loss comes from the caller"),
        Valid("from chainer import no_grad\nwith no_grad():\n    loss = model(x)\n    loss.backward()\n",
              "not torch's no_grad"),
        Valid("import torch\nwith torch.no_grad():\n    loss = model(x).sum()\ndef later():\n    loss.backward()\n",
              "another function: the loss is not this block's"),
        Valid("import torch\nwith torch.set_grad_enabled(training):\n    loss = model(x).sum()\n    loss.backward()\n",
              "grad mode depends on a variable"),
    )
    invalid = (
        Invalid("import torch\nwith torch.no_grad():\n    loss = criterion(model(x), y)\n    loss.backward()\n", 4, 5),
        Invalid("import torch as th\nfor x, y in loader:\n    with th.inference_mode():\n        out = model(x)\n"
                "        loss = (out - y).pow(2).mean()\n        loss.backward()\n        opt.step()\n", 6, 9),
        Invalid("from torch import no_grad\n@no_grad()\ndef train_step(model, x, y, opt):\n"
                "    loss = model(x).sub(y).abs().mean()\n    loss.backward()\n    opt.step()\n", 5, 5),
        Invalid("import torch\nclass Trainer:\n    def fit(self, batch):\n        with torch.no_grad():\n"
                "            self.model(batch).sum().backward()\n", 5, 13),
        Invalid("import torch\nwith torch.no_grad():\n    pred = net(x)\n    loss = ((pred - y) ** 2).mean()\n"
                "    grads = torch.autograd.grad(loss, net.parameters())\n", 5, 13),
        Invalid("import torch\n@torch.inference_mode\ndef update(model, batch):\n    out = model(batch)\n"
                "    total = out.mean() + 0.1 * out.std()\n    total.backward()\n", 6, 5),
        Invalid("import torch\nwith torch.set_grad_enabled(False):\n    loss = model(x).sum()\n    loss.backward()\n", 4, 5),
    )
    evidence = Evidence(
        bad="import torch\nmodel = torch.nn.Linear(3, 1)\nx = torch.ones(4, 3)\nwith torch.no_grad():\n"
            "    loss = model(x).sum()\n    loss.backward()\n",
        bad_shows=Outcome(raises="RuntimeError", message="does not require grad and does not have a grad_fn"),
        good="import torch\nmodel = torch.nn.Linear(3, 1)\nx = torch.ones(4, 3)\nloss = model(x).sum()\n"
             "loss.backward()\nprint(model.weight.grad is not None)\n",
        good_shows=Outcome(stdout="True"),
    )

    def visit_Call(self, node: cst.Call) -> None:
        target = backward_target(self.context, node)
        if target is None:
            return
        flow = scope_flow(self.context)
        if flow is None or not flow.contains(node):
            return
        mode, region = flow.mode_at(node), flow.region_at(node)
        if mode not in GRAD_OFF:
            return
        value = flow.grad_off_value(target)
        if isinstance(value, GradOffValue) and flow.is_inside(value.node, region):
            loss = self.context.module.code_for_node(target)
            self.report(node, self.message.format(loss=loss, mode=mode))
