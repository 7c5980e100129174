import libcst as cst

from autogradlint.analysis.grad_state import facts_at, grad_certainly_on
from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class NumpyOfGradTensor(Rule):
    """
    ## What it does
    Flags `.numpy()` on a tensor that certainly requires grad (the output of a module with parameters,
    arithmetic on a `requires_grad=True` leaf, a parameter) with no `.detach()` before it, outside
    `no_grad`/`inference_mode`.

    ## Why is this bad?
    torch refuses to hand the storage of a graph tensor to numpy:
    `RuntimeError: Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.`
    Tensors computed under `torch.no_grad()` or detached first do not require grad and are not flagged.

    ## Example
    ```python
    predictions = model(batch)
    plt.plot(predictions.numpy())
    ```

    ## Use instead
    ```python
    predictions = model(batch)
    plt.plot(predictions.detach().numpy())
    ```

    ## Fix safety
    Safe: the fix inserts `.detach()` before `.numpy()`, which is what torch's message asks for; the
    array holds the same values.
    """

    code = "GL306"
    name = "numpy-of-grad-tensor"
    severity = "error"
    message = "'.numpy()' of a tensor that requires grad raises RuntimeError; call '.detach()' first: '.detach().numpy()'"
    triggers = ("numpy",)
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch\nlin = torch.nn.Linear(3, 2)\nout = lin(torch.ones(3))\nprint(out.detach().numpy())\n"),
        Valid("import torch\nlin = torch.nn.Linear(3, 2)\nwith torch.no_grad():\n    out = lin(torch.ones(3))\nprint(out.numpy())\n",
              "computed under no_grad: no grad"),
        Valid("import torch\nlin = torch.nn.Linear(3, 2)\nwith torch.no_grad():\n    print(lin(torch.ones(3)).numpy())\n"),
        Valid("import torch\n@torch.no_grad()\ndef predict(x):\n    lin = torch.nn.Linear(3, 2)\n    return lin(x).numpy()\n"),
        Valid("import torch\nx = torch.ones(3)\nprint((x * 2).numpy())\n", "a constant tensor"),
        Valid("def f(model, x):\n    return model(x).numpy()\n", "unknown model: it may be frozen or return arrays"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\ny = (w * 2).detach()\nprint(y.numpy())\n"),
        Valid("import torch\nlin = torch.nn.Linear(3, 2)\nfor p in lin.parameters():\n    p.requires_grad = False\nprint(lin(torch.ones(3)).numpy())\n",
              "the file freezes parameters: module outputs are not certain to need grad"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\nw = w.detach()\nprint(w.numpy())\n"),
        Valid("import tensorflow as tf\nlin = tf.keras.layers.Dense(2)\nprint(lin(x).numpy())\n", "another library"),
        Valid("import torch\nlin = torch.nn.Linear(3, 2)\ntorch.set_grad_enabled(False)\nprint(lin(torch.ones(3)).numpy())\n"),
        Valid("import torch\nlin = torch.nn.Linear(3, 2)\nfor i in range(3):\n    if i:\n        print(out.numpy())\n    out = lin(torch.ones(3)).detach()\n",
              "a later iteration sees the detached value"),
    )
    invalid = (
        Invalid("import torch\nlin = torch.nn.Linear(3, 2)\nout = lin(torch.ones(3))\nprint(out.numpy())\n", 4, 7,
                fixed="import torch\nlin = torch.nn.Linear(3, 2)\nout = lin(torch.ones(3))\nprint(out.detach().numpy())\n"),
        Invalid("import torch as th\nw = th.randn(3, requires_grad=True)\nloss = (w ** 2).sum()\narr = loss.numpy()\n", 4, 7,
                fixed="import torch as th\nw = th.randn(3, requires_grad=True)\nloss = (w ** 2).sum()\narr = loss.detach().numpy()\n"),
        Invalid("from torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 1)\n"
                "    def forward(self, x):\n        return self.fc(x)\nmodel = Net()\nfor xb in loader:\n    preds = model(xb).cpu().numpy()\n", 10, 13,
                fixed="from torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 1)\n"
                "    def forward(self, x):\n        return self.fc(x)\nmodel = Net()\nfor xb in loader:\n    preds = model(xb).cpu().detach().numpy()\n"),
        Invalid("import torch\ndef plot_weights():\n    w = torch.nn.Parameter(torch.zeros(5))\n    return w.numpy()\n", 4, 12,
                fixed="import torch\ndef plot_weights():\n    w = torch.nn.Parameter(torch.zeros(5))\n    return w.detach().numpy()\n"),
        Invalid("import torch\nimport torch.nn.functional as F\nw = torch.ones(3, requires_grad=True)\nwith torch.no_grad():\n    pass\nprint(F.relu(w).numpy())\n", 6, 7,
                fixed="import torch\nimport torch.nn.functional as F\nw = torch.ones(3, requires_grad=True)\nwith torch.no_grad():\n    pass\nprint(F.relu(w).detach().numpy())\n"),
    )
    evidence = Evidence(
        bad="import torch\nlin = torch.nn.Linear(3, 2)\nout = lin(torch.ones(3))\nprint(out.numpy().shape)\n",
        bad_shows=Outcome(raises="RuntimeError", message="Can't call numpy() on Tensor that requires grad"),
        good="import torch\nlin = torch.nn.Linear(3, 2)\nout = lin(torch.ones(3))\nprint(out.detach().numpy().shape)\n",
        good_shows=Outcome(stdout="(2,)"),
    )

    def visit_Call(self, node):
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "numpy") or node.args:
            return
        facts = facts_at(self.context, func.value)
        if facts.is_tensor and facts.requires_grad is True and grad_certainly_on(self.context):
            detached = cst.Call(func=cst.Attribute(value=func.value, attr=cst.Name("detach")))
            self.report(node, fix=Replacement(func.value, detached))
