import libcst as cst

from autogradlint.analysis.grad_state import facts_at
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class GradOfNonLeaf(Rule):
    """
    ## What it does
    Flags reading `.grad` of a tensor that is certainly not a leaf (the result of an operation on a
    tensor that requires grad, or a grad leaf moved with `.cuda()`/`.double()`...) when
    `.retain_grad()` was not called on it.

    ## Why is this bad?
    autograd only fills `.grad` of leaf tensors. For an intermediate result it stays None, with
    `UserWarning: The .grad attribute of a Tensor that is not a leaf Tensor is being accessed`; code
    that reads it gets None, or fails on it later.

    ## Example
    ```python
    hidden = w * x
    hidden.sum().backward()
    print(hidden.grad)
    ```

    ## Use instead
    ```python
    hidden = w * x
    hidden.retain_grad()
    hidden.sum().backward()
    print(hidden.grad)
    ```

    ## Fix safety
    No fix: whether to keep the intermediate gradient (`retain_grad()`) or read the leaf's is the
    author's choice.
    """

    code = "GL303"
    name = "grad-of-non-leaf"
    severity = "warning"
    message = ("'.grad' of a non-leaf tensor is always None (autograd only fills leaves); "
               "call '.retain_grad()' on it before backward, or read the leaf's '.grad'")
    triggers = (".grad",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 2\ny.retain_grad()\ny.sum().backward()\nprint(y.grad)\n",
              "retain_grad() called"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\n(w * 2).sum().backward()\nprint(w.grad)\n", "a leaf"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 2\ny.grad = None\n", "writing, not reading"),
        Valid("def f(y):\n    return y.grad\n", "unknown tensor"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\nwith torch.no_grad():\n    y = w * 2\nprint(y.grad)\n",
              "computed under no_grad: a leaf"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 2\nif debug:\n    y.retain_grad()\ny.sum().backward()\nprint(y.grad)\n",
              "retain_grad() on one branch: not certain"),
        Valid("import torch\nx = torch.ones(3, requires_grad=True).to(device)\nprint(x.grad)\n", "an unknown device: may be the same leaf"),
        Valid("import torch\nx = torch.ones(3, requires_grad=True).cpu()\nprint(x.grad)\n", "the same leaf"),
    )
    invalid = (
        Invalid("import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 2\ny.sum().backward()\nprint(y.grad)\n", 5, 7),
        Invalid("import torch as th\nlin = th.nn.Linear(3, 2)\nhidden = lin(th.ones(3))\nhidden.sum().backward()\nassert hidden.grad is not None\n", 5, 8),
        Invalid("import torch\nx = torch.randn(2, 2, requires_grad=True).cuda()\nloss = (x ** 2).sum()\nloss.backward()\ng = x.grad\n", 5, 5,
                "the .cuda() copy is not the leaf (GL107)"),
        Invalid("import torch\ndef saliency(model, image):\n    image = torch.zeros(1, 3, requires_grad=True)\n    scaled = image * 255\n"
                "    model(scaled).sum().backward()\n    return scaled.grad.abs()\n", 6, 12),
        Invalid("from torch import tensor\nw = tensor([1.0, 2.0], requires_grad=True)\nfor _ in range(2):\n    z = w.exp()\n    z.sum().backward()\n    print(z.grad)\n", 6, 11),
    )
    evidence = Evidence(
        bad="import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 2\ny.sum().backward()\nprint(y.grad)\n",
        bad_shows=Outcome(stdout="None", warns="is not a leaf Tensor is being accessed"),
        good="import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 2\ny.retain_grad()\ny.sum().backward()\nprint(y.grad.tolist())\n",
        good_shows=Outcome(stdout="[1.0, 1.0, 1.0]"),
    )

    def visit_Attribute(self, node):
        if node.attr.value != "grad":
            return
        parent = self.context.parent
        if isinstance(parent, (cst.AssignTarget, cst.Del)) or (isinstance(parent, cst.AugAssign) and parent.target is node):
            return
        facts = facts_at(self.context, node.value)
        if facts.is_tensor and facts.leaf is False and facts.retains_grad is False:
            self.report(node)
