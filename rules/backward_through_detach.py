import libcst as cst

from autogradlint.analysis.grad_state import DETACHED, facts_at
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class BackwardThroughDetach(Rule):
    """
    ## What it does
    Flags `.backward()` on a tensor whose only path to anything that requires grad went through
    `.detach()`, `.detach_()` or `.data` (e.g. `loss = criterion(output.detach(), target)`).

    ## Why is this bad?
    Detaching cuts the graph: the loss no longer depends on the model's parameters.
    `backward()` raises `RuntimeError: element 0 of tensors does not require grad and does not have a
    grad_fn`, and if some other grad input is added later, the detached part silently gets no gradient.
    The target of a loss taken from a data loop (`for x, y in loader`) is treated as data.

    ## Example
    ```python
    output = model(x)
    loss = criterion(output.detach(), y)
    loss.backward()
    ```

    ## Use instead
    ```python
    output = model(x)
    loss = criterion(output, y)
    loss.backward()
    ```

    ## Fix safety
    No fix: whether the detach is wrong or the backward is, only the author knows.
    """

    code = "GL302"
    name = "backward-through-detach"
    severity = "error"
    message = ("'.backward()' on a value computed only from detached tensors ('.detach()'/'.data') raises RuntimeError: "
               "the graph was cut; use the tensor itself, not its detached copy")
    triggers = ("detach", ".data")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nlin = torch.nn.Linear(2, 1)\nout = lin(torch.ones(2))\nloss = (out - out.detach()).sum()\nloss.backward()\n",
              "one path still carries grad"),
        Valid("import torch\nlin = torch.nn.Linear(2, 1)\ncrit = torch.nn.MSELoss()\nfor x, y in loader:\n    loss = crit(lin(x), y.detach())\n    loss.backward()\n",
              "the target is detached, the prediction is not"),
        Valid("import torch\nx = torch.ones(2)\nx = x.detach().requires_grad_()\n(x * 2).sum().backward()\n",
              "detached and made a new grad leaf: the usual input-gradient idiom"),
        Valid("def step(out, crit, y):\n    loss = crit(out.detach(), y)\n    loss.backward()\n", "unknown loss function and target"),
        Valid("import torch\nlin = torch.nn.Linear(2, 1)\nout = lin(torch.ones(2)).detach()\nout.requires_grad = True\nout.sum().backward()\n"),
        Valid("import torch\nlin = torch.nn.Linear(2, 1)\ncrit = torch.nn.MSELoss()\nout = lin(torch.ones(2))\nloss = crit(out.detach(), target)\nloss.backward()\n",
              "a target of unknown origin may carry grad"),
    )
    invalid = (
        Invalid("import torch\nlin = torch.nn.Linear(2, 1)\ncrit = torch.nn.MSELoss()\nfor x, y in loader:\n    out = lin(x)\n"
                "    loss = crit(out.detach(), y)\n    loss.backward()\n", 7, 5),
        Invalid("import torch\nimport torch.nn.functional as F\nw = torch.randn(3, requires_grad=True)\nloss = F.mse_loss(w.data * 2, torch.zeros(3))\nloss.backward()\n", 5, 1),
        Invalid("import torch as th\nclass Net(th.nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = th.nn.Linear(2, 2)\n"
                "def train(loader):\n    net = Net()\n    crit = th.nn.CrossEntropyLoss()\n    for i, (xb, yb) in enumerate(loader):\n"
                "        logits = net(xb.cuda())\n        loss = crit(logits.detach(), yb.cuda())\n        loss.backward()\n", 12, 9),
        Invalid("import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 3\ny.detach_()\ny.sum().backward()\n", 5, 1),
        Invalid("import torch\nlin = torch.nn.Linear(2, 1)\nfeatures = lin(torch.ones(2)).detach()\nloss = (features ** 2).mean()\nloss.backward()\n", 5, 1),
    )
    evidence = Evidence(
        bad="import torch\nlin = torch.nn.Linear(2, 1)\ncrit = torch.nn.MSELoss()\nout = lin(torch.ones(2))\n"
            "loss = crit(out.detach(), torch.zeros(1))\nloss.backward()\n",
        bad_shows=Outcome(raises="RuntimeError", message="does not require grad and does not have a grad_fn"),
        good="import torch\nlin = torch.nn.Linear(2, 1)\ncrit = torch.nn.MSELoss()\nout = lin(torch.ones(2))\n"
             "loss = crit(out, torch.zeros(1))\nloss.backward()\nprint(lin.weight.grad is not None)\n",
        good_shows=Outcome(stdout="True"),
    )

    def visit_Call(self, node):
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "backward"):
            return
        facts = facts_at(self.context, func.value)
        if facts.is_tensor and facts.requires_grad is False and facts.why_no_grad == DETACHED:
            self.report(node)
