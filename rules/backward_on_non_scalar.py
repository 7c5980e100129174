import libcst as cst

from autogradlint.analysis.grad_state import facts_at
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class BackwardOnNonScalar(Rule):
    """
    ## What it does
    Flags `.backward()` called without a `gradient` on a tensor that certainly has more than one
    element (or none): a factory tensor of a non-trivial literal shape, elementwise arithmetic on one,
    the output of `nn.Linear`/`nn.Conv*` with two or more output features. Reductions (`.sum()`,
    `.mean()`), loss modules and functions with their default reduction, and custom modules are not
    flagged.

    ## Why is this bad?
    `backward()` can only invent the initial gradient (1.0) for a one-element tensor:
    `RuntimeError: grad can be implicitly created only for scalar outputs`.

    ## Example
    ```python
    w = torch.randn(3, requires_grad=True)
    (w * 2).backward()
    ```

    ## Use instead
    ```python
    w = torch.randn(3, requires_grad=True)
    (w * 2).sum().backward()
    ```

    ## Fix safety
    No fix: reducing with `.sum()` or `.mean()`, or passing `gradient=`, give different gradients.
    """

    code = "GL305"
    name = "backward-on-non-scalar"
    severity = "warning"
    message = ("'.backward()' without 'gradient=' on a tensor with more than one element raises RuntimeError; "
               "reduce it first ('.sum()' / '.mean()') or pass 'gradient='")
    triggers = ("backward",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\n(w * 2).sum().backward()\n"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\n(w * 2).backward(torch.ones(3))\n", "gradient given"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\n(w * 2).backward(gradient=torch.ones(3))\n"),
        Valid("import torch\nw = torch.randn(1, requires_grad=True)\n(w * 2).backward()\n", "one element is fine"),
        Valid("import torch\ncrit = torch.nn.MSELoss()\nlin = torch.nn.Linear(3, 4)\nfor x, y in loader:\n    crit(lin(x), y).backward()\n",
              "a loss module reduces"),
        Valid("import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = torch.nn.Linear(3, 4)\n"
              "    def forward(self, x):\n        return self.fc(x).sum()\nnet = Net()\nnet(torch.ones(3)).backward()\n",
              "a custom module may return a scalar"),
        Valid("import torch\nlin = torch.nn.Linear(3, 1)\nlin(torch.ones(3)).backward()\n", "one output feature on one sample"),
        Valid("import torch\nw = torch.randn(3, 3, requires_grad=True)\nw.sum(dim=0).backward()\n", "not certain (shape not followed)"),
    )
    invalid = (
        Invalid("import torch\nw = torch.randn(3, requires_grad=True)\ny = w * 2\ny.backward()\n", 4, 1),
        Invalid("import torch as th\nlin = th.nn.Linear(8, 4)\nfor x in batches:\n    out = lin(x)\n    out.backward()\n", 5, 5),
        Invalid("from torch import ones, nn\nconv = nn.Conv2d(3, 16, 3)\ndef step(images):\n    conv(images).relu().backward()\n", 4, 5),
        Invalid("import torch\nx = torch.ones(2, 2, requires_grad=True)\nz = torch.sigmoid(x) + 1\nz.backward()\n", 4, 1),
        Invalid("import torch\nimport torch.nn.functional as F\nw = torch.zeros((4,), requires_grad=True)\nF.mse_loss(w, torch.ones(4), reduction='none').backward()\n", 4, 1,
                "an unreduced loss is not certain"),
    )
    evidence = Evidence(
        bad="import torch\nw = torch.randn(3, requires_grad=True)\ny = w * 2\ny.backward()\n",
        bad_shows=Outcome(raises="RuntimeError", message="grad can be implicitly created only for scalar outputs"),
        good="import torch\nw = torch.randn(3, requires_grad=True)\ny = w * 2\ny.sum().backward()\nprint(w.grad.tolist())\n",
        good_shows=Outcome(stdout="[2.0, 2.0, 2.0]"),
    )

    def visit_Call(self, node):
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "backward") or node.args:
            return
        facts = facts_at(self.context, func.value)
        if facts.is_tensor and facts.single is False and facts.requires_grad is not False:
            self.report(node)
