import libcst as cst

from autogradlint.analysis.grad_mode import GRAD_OFF, UNKNOWN, GradOffValue, backward_target, scope_flow
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class LossFromNoGradBlock(Rule):
    """
    ## What it does
    Flags a `.backward()` (or `torch.autograd.backward/grad`) on a value computed inside an earlier
    `with torch.no_grad()` / `torch.inference_mode()` block, directly or through arithmetic and
    reductions (`loss = out.mean() * 2`), or returned by a function (or `self` method) of the same file that is
    decorated with them or computes every value it returns in such a block.

    ## Why is this bad?
    A tensor computed with grad off has no `grad_fn`, and leaving the block does not give it one:
    `RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn`.
    The forward pass that the loss needs must run with grad on.

    A loss that also has a grad-carrying part (`loss = teacher_term + model_loss`) is not flagged:
    backward then works, with the no-grad part acting as a constant.

    ## Example
    ```python
    with torch.no_grad():
        outputs = model(inputs)
        loss = criterion(outputs, targets)
    loss.backward()
    ```

    ## Use instead
    ```python
    outputs = model(inputs)
    loss = criterion(outputs, targets)
    loss.backward()
    ```

    ## Fix safety
    No fix: which statements belong outside the block is the author's call.
    """

    code = "GL204"
    name = "loss-from-no-grad-block"
    severity = "error"
    message = ("'{loss}' was computed under '{mode}', so it has no grad_fn: this backward raises "
               "RuntimeError. Compute it outside the '{mode}' block")
    triggers = ("no_grad", "inference_mode", "set_grad_enabled")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nwith torch.no_grad():\n    target = teacher(x)\nloss = criterion(model(x), target)\n"
              "loss.backward()\n", "only the target comes from the block"),
        Valid("import torch\nwith torch.no_grad():\n    loss = model(x).sum()\nloss = model(x).sum()\nloss.backward()\n",
              "rebound with grad on before the backward"),
        Valid("import torch\nwith torch.no_grad():\n    base = ref(x).mean()\nloss = model(x).mean() - base\n"
              "loss.backward()\n", "the other term carries grad"),
        Valid("import torch\nif cond:\n    with torch.no_grad():\n        loss = model(x).sum()\nelse:\n"
              "    loss = model(x).sum()\nloss.backward()\n", "branches: not certain"),
        Valid("import torch\nwith torch.no_grad():\n    loss = model(x).sum()\nwith torch.enable_grad():\n"
              "    loss = model(x).sum()\nloss.backward()\n", "recomputed with grad on"),
        Valid("from paddle import no_grad\nwith no_grad():\n    loss = model(x)\nloss.backward()\n", "not torch"),
        Valid("import torch\nwith torch.no_grad():\n    loss = model(x).sum()\nfor batch in loader:\n"
              "    loss.backward()\n    loss = model(batch).sum()\n", "rebound in the loop before the next backward"),
        Valid("import torch\n@torch.no_grad()\ndef evaluate(m, x):\n    with torch.enable_grad():\n        return m(x).sum()\n"
              "loss = evaluate(model, x)\nloss.backward()\n", "the decorated function switches grad back on"),
    )
    invalid = (
        Invalid("import torch\nwith torch.no_grad():\n    outputs = model(inputs)\n    loss = criterion(outputs, targets)\n"
                "loss.backward()\n", 5, 1),
        Invalid("import torch as th\ndef train(model, loader, opt):\n    for x, y in loader:\n        with th.no_grad():\n"
                "            out = model(x)\n        loss = ((out - y) ** 2).mean()\n        opt.zero_grad()\n"
                "        loss.backward()\n        opt.step()\n", 8, 9),
        Invalid("from torch import inference_mode\nclass Trainer:\n    def step(self, batch):\n"
                "        with inference_mode():\n            logits = self.model(batch)\n"
                "        loss = logits.float().mean() * 0.5\n        loss.backward()\n", 7, 9),
        Invalid("import torch\nwith torch.no_grad():\n    l1 = model(a).sum()\n    l2 = model(b).sum()\n"
                "total = torch.stack([l1, l2]).mean()\ntorch.autograd.backward(total)\n", 6, 1),
        Invalid("import torch\n@torch.no_grad()\ndef compute_loss(model, batch):\n    return model(batch).mean()\n"
                "def train(model, batch):\n    loss = compute_loss(model, batch)\n    loss.backward()\n", 7, 5),
        Invalid("import torch\nwith torch.no_grad(), open('log.txt') as log:\n    out, aux = model(x)\n"
                "(out.sum() + 2 * aux.sum()).backward()\n", 4, 1),
    )
    evidence = Evidence(
        bad="import torch\nmodel = torch.nn.Linear(3, 1)\nx = torch.ones(4, 3)\nwith torch.no_grad():\n"
            "    out = model(x)\nloss = out.mean()\nloss.backward()\n",
        bad_shows=Outcome(raises="RuntimeError", message="does not require grad and does not have a grad_fn"),
        good="import torch\nmodel = torch.nn.Linear(3, 1)\nx = torch.ones(4, 3)\nout = model(x)\nloss = out.mean()\n"
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
        mode = flow.mode_at(node)
        if mode in GRAD_OFF or mode == UNKNOWN:
            return  # under grad off this is GL203's case; an unknown mode proves nothing
        value = flow.grad_off_value(target)
        if not isinstance(value, GradOffValue):
            return
        if flow.contains(value.region) and flow.is_inside(node, value.region):
            return
        loss = self.context.module.code_for_node(target)
        self.report(node, self.message.format(loss=loss, mode=value.mode))

