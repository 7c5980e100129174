import libcst as cst

from autogradlint.analysis.grad_mode import INFERENCE, NO_GRAD_MODE, grad_mode_at, mode_of_expression
from autogradlint.analysis.torch_api import INFERENCE_MODE, NO_GRAD
from autogradlint.edits import Replacement
from autogradlint.fix_builders import unwrapped
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class RedundantGradContext(Rule):
    """
    ## What it does
    Flags a `with torch.no_grad():` / `with torch.inference_mode():` block inside a function already
    decorated with the same mode, or nested in a block of the same mode.

    ## Why is this bad?
    Nothing changes: grad is already off there, so the inner context is dead weight that suggests to the
    reader that the code around it records a graph. (Asked for by TorchFix users, torchfix#97.)
    A `no_grad` block inside `inference_mode` (or the reverse) is a different mode and is not flagged,
    nor is one inside a nested function (it runs when called, possibly elsewhere).

    ## Example
    ```python
    @torch.no_grad()
    def evaluate(model, batch):
        with torch.no_grad():
            return model(batch)
    ```

    ## Use instead
    ```python
    @torch.no_grad()
    def evaluate(model, batch):
        return model(batch)
    ```

    ## Fix safety
    Safe: the fix removes the inner `with` and dedents its body, keeping its comments; the grad mode is
    the same, so the code runs as before.
    """

    code = "GL209"
    name = "redundant-grad-context"
    severity = "hint"
    message = "grad is already off here ('{mode}' from an enclosing block or decorator): this inner '{mode}' block does nothing. Remove it"
    triggers = ("no_grad", "inference_mode")
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch\nwith torch.no_grad():\n    with torch.enable_grad():\n        y = f(x)\n"),
        Valid("import torch\nwith torch.inference_mode():\n    with torch.no_grad():\n        y = f(x)\n",
              "a different mode"),
        Valid("import torch\n@torch.no_grad()\ndef outer():\n    def inner():\n        with torch.no_grad():\n"
              "            return f(x)\n    return inner\n", "a nested function runs in its caller's mode"),
        Valid("import torch\nwith torch.no_grad():\n    with torch.enable_grad():\n        with torch.no_grad():\n"
              "            y = f(x)\n", "enable_grad in between"),
        Valid("import torch\n@torch.enable_grad()\ndef f(x):\n    with torch.no_grad():\n        return g(x)\n"),
        Valid("from mylib import no_grad\nwith no_grad():\n    with no_grad():\n        pass\n", "not torch"),
        Valid("import torch\nwith torch.set_grad_enabled(train):\n    with torch.no_grad():\n        y = f(x)\n",
              "outer mode unknown"),
    )
    invalid = (
        Invalid("import torch\n@torch.no_grad()\ndef evaluate(model, batch):\n    with torch.no_grad():\n"
                "        return model(batch)\n", 4, 5,
                fixed="import torch\n@torch.no_grad()\ndef evaluate(model, batch):\n    return model(batch)\n"),
        Invalid("import torch\nwith torch.no_grad():\n    for x in loader:\n        with torch.no_grad():\n"
                "            out = model(x)\n            total += out.sum()\n", 4, 9,
                fixed="import torch\nwith torch.no_grad():\n    for x in loader:\n        out = model(x)\n"
                      "        total += out.sum()\n"),
        Invalid("from torch import inference_mode\nclass Runner:\n    @inference_mode\n    def predict(self, x):\n"
                "        with inference_mode():\n            y = self.model(x)\n        return y\n", 5, 9,
                fixed="from torch import inference_mode\nclass Runner:\n    @inference_mode\n    def predict(self, x):\n"
                      "        y = self.model(x)\n        return y\n"),
        Invalid("import torch as th\n@th.no_grad\ndef ema_update(ema, model):\n    with th.autograd.no_grad():\n"
                "        for e, p in zip(ema.parameters(), model.parameters()):\n            e.mul_(0.99).add_(p, alpha=0.01)\n",
                4, 5,
                fixed="import torch as th\n@th.no_grad\ndef ema_update(ema, model):\n"
                      "    for e, p in zip(ema.parameters(), model.parameters()):\n        e.mul_(0.99).add_(p, alpha=0.01)\n"),
        Invalid("import torch\nwith torch.set_grad_enabled(False):\n    with torch.no_grad():\n        y = f(x)\n", 3, 5,
                fixed="import torch\nwith torch.set_grad_enabled(False):\n    y = f(x)\n"),
    )
    evidence = Evidence(
        # grad is off in both; the inner block only adds a context entry (counted by a patched __enter__)
        bad="import torch\nentries = []\nenter = torch.no_grad.__enter__\n"
            "torch.no_grad.__enter__ = lambda self: (entries.append(1), enter(self))[1]\n"
            "@torch.no_grad()\ndef f():\n    with torch.no_grad():\n        print(torch.is_grad_enabled(), end=' ')\n"
            "f()\ntorch.no_grad.__enter__ = enter\nprint(len(entries))\n",
        bad_shows=Outcome(stdout="False 2"),
        good="import torch\nentries = []\nenter = torch.no_grad.__enter__\n"
             "torch.no_grad.__enter__ = lambda self: (entries.append(1), enter(self))[1]\n"
             "@torch.no_grad()\ndef f():\n    print(torch.is_grad_enabled(), end=' ')\n"
             "f()\ntorch.no_grad.__enter__ = enter\nprint(len(entries))\n",
        good_shows=Outcome(stdout="False 1"),
    )

    def visit_With(self, node: cst.With) -> None:
        if node.asynchronous is not None or len(node.items) != 1 or node.items[0].asname is not None:
            return
        call = node.items[0].item
        if not isinstance(call, cst.Call) or not isinstance(call.func, (cst.Name, cst.Attribute)):
            return
        if self.context.qualified_name(call.func) not in (NO_GRAD, INFERENCE_MODE):
            return
        mode = mode_of_expression(self.context, call)
        if mode in (NO_GRAD_MODE, INFERENCE) and grad_mode_at(self.context) == mode:
            block = self.context.parent
            self.report(node, self.message.format(mode=mode), fix=Replacement(block, unwrapped(block, node)))
