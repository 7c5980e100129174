import libcst as cst

from autogradlint.analysis.grad_state import CONSTANT, facts_at
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class BackwardOnConstant(Rule):
    """
    ## What it does
    Flags `.backward()` on a tensor that certainly needs no grad because it is built only from tensor
    factories without `requires_grad=True`, literals, `.item()`/`.tolist()` results or numpy arrays
    (`torch.tensor(loss.item())`, `torch.zeros(1) + 3`).

    ## Why is this bad?
    Nothing in the value is connected to a parameter, so there is no graph to differentiate:
    `RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn`.
    A common cause is rebuilding a loss from Python numbers (`torch.tensor(total)`), which cuts it off
    from the model.

    ## Example
    ```python
    loss = torch.tensor(criterion(model(x), y).item())
    loss.backward()
    ```

    ## Use instead
    ```python
    loss = criterion(model(x), y)
    loss.backward()
    ```

    ## Fix safety
    No fix: the tensor that should carry the graph has to be chosen by hand.
    """

    code = "GL301"
    name = "backward-on-constant"
    severity = "error"
    message = ("'.backward()' on a tensor built only from constants raises RuntimeError (it does not require grad); "
               "compute the loss from the model's output, not from numbers or new tensors")
    triggers = ("backward",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\n(w * 2).sum().backward()\n"),
        Valid("import torch\nx = torch.zeros(1)\nx.requires_grad_()\n(x * 2).sum().backward()\n", "made a grad leaf first"),
        Valid("import torch\nx = torch.zeros(1)\nx.requires_grad = True\nx.backward()\n"),
        Valid("import torch\nloss = torch.tensor(0.0)\nfor xb, yb in loader:\n    loss = loss + crit(model(xb), yb)\nloss.backward()\n",
              "accumulated from model outputs in a loop"),
        Valid("def f(loss):\n    loss.backward()\n", "unknown tensor"),
        Valid("import tinygrad\nloss = tinygrad.Tensor([1.0]).sum()\nloss.backward()\n", "another library"),
        Valid("import torch\nx = torch.ones(2)\nif use_grad:\n    x = x.requires_grad_()\nx.sum().backward()\n",
              "a branch may make it a grad leaf"),
        Valid("import torch\nlin = torch.nn.Linear(2, 1)\nloss = torch.zeros(1)\nloss += lin(torch.ones(2)).sum()\nloss.backward()\n",
              "an in-place add of a grad tensor"),
        Valid("import torch\nx = torch.zeros(1)\nx = x + some_tensor()\nx.backward()\n", "unknown operand"),
    )
    invalid = (
        Invalid("import torch\nloss = torch.tensor(3.0)\nloss.backward()\n", 3, 1),
        Invalid("import torch as th\ndef step(model, x, y):\n    value = ((model(x) - y) ** 2).mean().item()\n"
                "    loss = th.tensor(value)\n    loss.backward()\n", 5, 5),
        Invalid("from torch import zeros\nfor i in range(3):\n    total = zeros(1) + i * 2.0\n    total.sum().backward()\n", 4, 5),
        Invalid("import torch\nimport numpy as np\nloss = torch.from_numpy(np.array([1.0])).mean()\nloss.backward()\n", 4, 1),
        Invalid("import torch\nclass Trainer:\n    def run(self):\n        loss = torch.zeros(()) + 1.0\n        loss.backward(retain_graph=True)\n", 5, 9),
        Invalid("import torch\nloss = torch.tensor(0.0)\nfor xb in loader:\n    loss.backward()\n    loss = loss + model(xb).sum()\n", 4, 5,
                "the first iteration already raises"),
    )
    evidence = Evidence(
        bad="import torch\nlin = torch.nn.Linear(2, 1)\nloss = torch.tensor(lin(torch.ones(2)).sum().item())\nloss.backward()\n",
        bad_shows=Outcome(raises="RuntimeError", message="does not require grad and does not have a grad_fn"),
        good="import torch\nlin = torch.nn.Linear(2, 1)\nloss = lin(torch.ones(2)).sum()\nloss.backward()\nprint(lin.weight.grad is not None)\n",
        good_shows=Outcome(stdout="True"),
    )

    def visit_Call(self, node):
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "backward"):
            return
        facts = facts_at(self.context, func.value)
        if facts.is_tensor and facts.requires_grad is False and facts.why_no_grad == CONSTANT:
            self.report(node)
