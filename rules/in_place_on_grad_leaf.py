import libcst as cst

from autogradlint.analysis.grad_state import (
    facts_at,
    grad_certainly_on,
    grad_leaf_possible,
)
from autogradlint.analysis.torch_semantics import is_in_place_function, is_in_place_method
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class InPlaceOnGradLeaf(Rule):
    """
    ## What it does
    Flags an in-place change of a leaf tensor that requires grad (a `requires_grad=True` factory
    tensor, an `nn.Parameter`, a parameter from a loop over `model.parameters()` or a `zip` of them, a
    layer's `weight`/`bias`, or a `self.W` its class sets once to one of these) outside `torch.no_grad()`:
    `w -= lr * w.grad`, `w.add_(...)`, `w.zero_()`, `w[i] = ...`, `torch.relu_(w)`, `self.W -= ...`. This is
    the classic mistake of a hand-written SGD step.
    Which methods and functions are in place is torch's own answer (its `native_functions.yaml`).

    ## Why is this bad?
    autograd forbids it: `RuntimeError: a leaf Variable that requires grad is being used in an in-place
    operation.` (for `w[i] = ...`: "a view of a leaf Variable ..."). Updating parameters must not be
    recorded in the graph, so it belongs under `torch.no_grad()`. Changing `w.grad` or `w.data`, or
    calling `torch.nn.init` functions, is not flagged.

    ## Example
    ```python
    loss.backward()
    w -= lr * w.grad
    ```

    ## Use instead
    ```python
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
    w.grad = None
    ```

    ## Fix safety
    No fix: the update and everything that belongs with it must be moved into `with torch.no_grad():`.
    """

    code = "GL307"
    name = "in-place-on-grad-leaf"
    severity = "error"
    message = ("in-place change of a leaf tensor that requires grad raises RuntimeError outside no_grad; "
               "do the update under 'with torch.no_grad():'")
    triggers = ("requires_grad", "Parameter", ".weight", ".bias")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\nfor _ in range(5):\n    loss = (w * 2).sum()\n    loss.backward()\n"
              "    with torch.no_grad():\n        w -= 0.1 * w.grad\n    w.grad.zero_()\n", "the update under no_grad"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\nw.data -= 0.1\nw.grad.zero_()\n", "on .data and .grad"),
        Valid("import torch\nw = torch.nn.Parameter(torch.empty(3, 3))\ntorch.nn.init.xavier_uniform_(w)\n", "init functions run without grad"),
        Valid("import torch\nw = torch.zeros(3)\nw += 1\nw[0] = 5\nw.add_(1)\n", "no grad needed"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\ny = w * 2\ny += 1\ny[0] = 0\n", "not a leaf"),
        Valid("def sgd(w, lr):\n    w -= lr * w.grad\n", "unknown tensor"),
        Valid("import torch\n@torch.no_grad()\ndef init():\n    w = torch.nn.Parameter(torch.ones(3))\n    w.mul_(0.5)\n    return w\n"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\nw.requires_grad_(False)\nw.add_(1)\n", "no longer requires grad"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\nw = w.detach()\nw -= 1\n"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\ntorch.set_grad_enabled(False)\nw -= 1\n"),
    )
    invalid = (
        Invalid("import torch\nw = torch.randn(3, requires_grad=True)\nfor _ in range(5):\n    loss = (w * 2).sum()\n    loss.backward()\n"
                "    w -= 0.1 * w.grad\n", 6, 5),
        Invalid("import torch as th\nfrom torch.nn import Parameter\nbias = Parameter(th.zeros(4))\nbias.zero_()\n", 4, 1),
        Invalid("import torch\ndef train(xs):\n    w = torch.zeros(3, 1, requires_grad=True)\n    b = torch.zeros(1, requires_grad=True)\n"
                "    for x in xs:\n        loss = (x @ w + b).sum()\n        loss.backward()\n        b.sub_(0.01 * b.grad)\n", 8, 9),
        Invalid("import torch\nw = torch.ones(5, requires_grad=True)\nw[0] = 0.0\n", 3, 1),
        Invalid("import torch\nw = torch.ones(5).requires_grad_()\nwith torch.no_grad():\n    pass\nw *= 2\n", 5, 1),
        Invalid("import torch\nimport torch.nn.functional as F\nw = torch.randn(4, requires_grad=True)\nF.relu_(w)\n", 4, 1,
                "torch's in-place function"),
    )
    evidence = Evidence(
        bad="import torch\nw = torch.ones(3, requires_grad=True)\nloss = (w * 2).sum()\nloss.backward()\nw -= 0.1 * w.grad\n",
        bad_shows=Outcome(raises="RuntimeError", message="a leaf Variable that requires grad is being used in an in-place operation"),
        good="import torch\nw = torch.ones(3, requires_grad=True)\nloss = (w * 2).sum()\nloss.backward()\n"
             "with torch.no_grad():\n    w -= 0.1 * w.grad\nprint(w.tolist())\n",
        good_shows=Outcome(stdout="[0.800000011920929, 0.800000011920929, 0.800000011920929]"),
    )

    def _is_grad_leaf(self, expression, statement=None):
        if not grad_leaf_possible(self.context, statement):
            return False  # spares the scope's analysis where nothing can make a grad leaf
        facts = facts_at(self.context, expression, statement)
        return facts.is_tensor and facts.leaf is True and facts.requires_grad is True and \
            grad_certainly_on(self.context, statement)

    def visit_AugAssign(self, node):
        target_type = type(node.target)  # exact types: isinstance on LibCST's ABCs is slow
        if target_type in (cst.Name, cst.Attribute) and self._is_grad_leaf(node.target, node):
            self.report(node)
        elif target_type is cst.Subscript and self._is_grad_leaf(node.target.value, node):
            self.report(node)

    def visit_Assign(self, node):
        for target in node.targets:
            if type(target.target) is cst.Subscript and self._is_grad_leaf(target.target.value, node):
                self.report(node)
                return

    def visit_Call(self, node):
        func = node.func
        if type(func) is cst.Attribute and is_in_place_method(func.attr.value, values_only=True) and self._is_grad_leaf(func.value):
            self.report(node)
            return
        # torch.relu_(w), F.relu_(w): torch's in-place functions change their first argument
        if node.args and node.args[0].keyword is None and not node.args[0].star and type(func) in (cst.Name, cst.Attribute) \
                and (func.value if type(func) is cst.Name else func.attr.value).endswith("_") \
                and is_in_place_function(self.context.qualified_name(func), values_only=True) and self._is_grad_leaf(node.args[0].value):
            self.report(node)
