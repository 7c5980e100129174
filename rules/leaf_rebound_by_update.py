import libcst as cst

from autogradlint.analysis.grad_state import facts_at, grad_certainly_on
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import nodes_of

_ATTRIBUTES = (cst.Attribute,)


def _reads_own_grad(name: str, expression: cst.BaseExpression) -> bool:
    """Whether ``expression`` reads ``<name>.grad``."""
    for node in nodes_of(expression, _ATTRIBUTES):
        if node.attr.value == "grad" and type(node.value) is cst.Name and node.value.value == name:
            return True
    return False


class LeafReboundByUpdate(Rule):
    """
    ## What it does
    Flags `w = w - lr * w.grad` (rebinding a leaf tensor that requires grad to an update computed
    from its own gradient) outside `torch.no_grad()`, also as a tuple update
    (`w, b = w - lr * w.grad, b - lr * b.grad`).

    ## Why is this bad?
    The update is recorded in the graph, so the new `w` is not a leaf: the next `backward()` leaves
    `w.grad` at None (with a UserWarning), and the next update fails with
    `TypeError: unsupported operand type(s) for *: 'float' and 'NoneType'`, or an optimizer holding the
    old tensor never sees the new one.

    ## Example
    ```python
    for _ in range(steps):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        w = w - lr * w.grad
    ```

    ## Use instead
    ```python
    for _ in range(steps):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
        w.grad = None
    ```

    ## Fix safety
    No fix: the update has to become an in-place change under `no_grad` (and the gradient cleared).
    """

    code = "GL308"
    name = "leaf-rebound-by-update"
    severity = "warning"
    message = ("rebinding a grad leaf to an update of itself makes it a non-leaf: the next backward leaves its "
               "'.grad' None; update in place under 'with torch.no_grad():'")
    triggers = (".grad",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\nfor _ in range(5):\n    (w * 2).sum().backward()\n"
              "    with torch.no_grad():\n        w = w - 0.1 * w.grad\n    w.requires_grad_()\n", "under no_grad the result is a new leaf"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\n(w * 2).sum().backward()\nw = (w - 0.1 * w.grad).detach().requires_grad_()\n",
              "re-made into a leaf"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\nloss = (w * 2).sum()\ng, = torch.autograd.grad(loss, w, create_graph=True)\nw = w - 0.1 * g\n",
              "a functional (MAML-style) update that is meant to stay in the graph"),
        Valid("def step(w, lr):\n    w = w - lr * w.grad\n    return w\n", "unknown tensor"),
        Valid("import torch\nw = torch.zeros(3)\nw = w - w.grad\n", "not a grad leaf"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True)\nw = w * 2\n", "no gradient update"),
    )
    invalid = (
        Invalid("import torch\nw = torch.randn(3, requires_grad=True)\nfor _ in range(5):\n    loss = (w * 2).sum()\n    loss.backward()\n"
                "    w = w - 0.1 * w.grad\n", 6, 5),
        Invalid("import torch as th\ndef fit(x, y, lr=0.1):\n    w = th.zeros(3, requires_grad=True)\n    for epoch in range(100):\n"
                "        loss = ((x @ w - y) ** 2).mean()\n        loss.backward()\n        w = w - lr * w.grad\n    return w\n", 7, 9),
        Invalid("import torch\nfrom torch.nn import Parameter\nb = Parameter(torch.zeros(2))\nb.sum().backward()\nb = b.sub(0.5 * b.grad)\n", 5, 1),
        Invalid("import torch\nclass Fit:\n    def run(self):\n        w = torch.ones(2).requires_grad_()\n        while True:\n            (w ** 2).sum().backward()\n"
                "            w = w - 0.1 * w.grad\n", 7, 13),
    )
    evidence = Evidence(
        bad="import torch\nw = torch.ones(3, requires_grad=True)\n(w * 2).sum().backward()\nw = w - 0.1 * w.grad\n"
            "(w * 2).sum().backward()\nprint(w.is_leaf, w.grad)\n",
        bad_shows=Outcome(stdout="False None", clean=True),
        good="import torch\nw = torch.ones(3, requires_grad=True)\n(w * 2).sum().backward()\nwith torch.no_grad():\n"
             "    w -= 0.1 * w.grad\nw.grad = None\n(w * 2).sum().backward()\nprint(w.is_leaf, w.grad.tolist())\n",
        good_shows=Outcome(stdout="True [2.0, 2.0, 2.0]"),
    )

    def visit_Assign(self, node):
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        if type(target) is cst.Name:
            pairs = [(target, node.value)]
        elif type(target) in (cst.Tuple, cst.List) and type(node.value) in (cst.Tuple, cst.List) \
                and len(target.elements) == len(node.value.elements):
            # ``w, b = w - lr * w.grad, b - lr * b.grad``
            pairs = [(t.value, v.value) for t, v in zip(target.elements, node.value.elements)
                     if type(t.value) is cst.Name and type(t) is not cst.StarredElement and type(v) is not cst.StarredElement]
        else:
            return
        for name, value in pairs:
            if self._rebinds_leaf(node, name, value):
                self.report(node)
                return

    def _rebinds_leaf(self, node, target, value):
        if not _reads_own_grad(target.value, value):
            return False
        before = facts_at(self.context, target, node)
        if not (before.is_tensor and before.leaf is True and before.requires_grad is True):
            return False
        after = facts_at(self.context, value, node)
        return after.leaf is False and grad_certainly_on(self.context, node)
