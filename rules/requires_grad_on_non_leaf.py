import libcst as cst

from autogradlint.analysis.grad_state import facts_at
from autogradlint.analysis.tensors import bool_literal, keyword, positional
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class RequiresGradOnNonLeaf(Rule):
    """
    ## What it does
    Flags `x.requires_grad = ...` and `x.requires_grad_(False)` on a tensor that is certainly computed
    from a tensor that requires grad (the output of a module with parameters, arithmetic on a
    `requires_grad=True` leaf). `requires_grad_(True)` of such a tensor is a no-op and is not flagged.

    ## Why is this bad?
    Only leaves carry their own flag: `RuntimeError: you can only change requires_grad flags of leaf
    variables.` To use a computed value without its graph, detach it.

    ## Example
    ```python
    features = backbone(images)
    features.requires_grad = False
    ```

    ## Use instead
    ```python
    features = backbone(images).detach()
    ```

    ## Fix safety
    No fix: `.detach()` changes which gradients flow; it is suggested, not applied.
    """

    code = "GL108"
    name = "requires-grad-on-non-leaf"
    severity = "error"
    message = ("changing requires_grad of a computed (non-leaf) tensor raises RuntimeError; "
               "use '.detach()' to get a tensor without its graph")
    triggers = ("requires_grad",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nx = torch.ones(3)\nx.requires_grad = True\n", "a leaf"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\ny = (w * 2).detach()\ny.requires_grad = True\n", "detached: a leaf"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 2\ny.requires_grad_(True)\n", "a no-op on a non-leaf"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 2\ny.requires_grad_()\n"),
        Valid("import torch\nlin = torch.nn.Linear(3, 2)\nwith torch.no_grad():\n    out = lin(torch.ones(3))\nout.requires_grad = True\n",
              "computed under no_grad: a leaf"),
        Valid("def f(model, x):\n    out = model(x)\n    out.requires_grad = False\n", "unknown model"),
        Valid("import torch\nlin = torch.nn.Linear(3, 2)\nfor p in lin.parameters():\n    p.requires_grad = False\n", "parameters are leaves"),
        Valid("import torch\nx = torch.ones(3).cuda()\nx.requires_grad = True\n", "a moved constant is a leaf"),
    )
    invalid = (
        Invalid("import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 2\ny.requires_grad = False\n", 4, 1),
        Invalid("import torch as th\nw = th.randn(2, 2, requires_grad=True)\nz = th.matmul(w, w)\nz.requires_grad_(False)\n", 4, 1),
        Invalid("import torch\ndef f(x):\n    w = torch.nn.Parameter(torch.ones(3))\n    for i in range(3):\n        h = (w * x).relu()\n        h.requires_grad = True\n", 6, 9),
        Invalid("from torch import nn, ones\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n"
                "m = M()\nemb = m(ones(2))\nemb.requires_grad_(requires_grad=False)\n", 8, 1),
    )
    evidence = Evidence(
        bad="import torch\nw = torch.ones(3, requires_grad=True)\ny = w * 2\ny.requires_grad = False\n",
        bad_shows=Outcome(raises="RuntimeError", message="you can only change requires_grad flags of leaf variables"),
        good="import torch\nw = torch.ones(3, requires_grad=True)\ny = (w * 2).detach()\nprint(y.requires_grad)\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Assign(self, node):
        for target in node.targets:
            attribute = target.target
            if isinstance(attribute, cst.Attribute) and attribute.attr.value == "requires_grad":
                facts = facts_at(self.context, attribute.value, node)
                if facts.is_tensor and facts.leaf is False:
                    self.report(node)
                    return

    def visit_Call(self, node):
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_"):
            return
        flag = keyword(node, "requires_grad")
        args = positional(node)
        value = flag.value if flag is not None else (args[0].value if args else None)
        if value is None or bool_literal(value) is not False:
            return
        facts = facts_at(self.context, func.value)
        if facts.is_tensor and facts.leaf is False:
            self.report(node)
