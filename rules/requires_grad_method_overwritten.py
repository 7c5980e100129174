import libcst as cst

from autogradlint.analysis.modules import is_self_of_non_module
from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class RequiresGradMethodOverwritten(Rule):
    """
    ## What it does
    Flags an assignment to `.requires_grad_`, the in-place *method*, as in `p.requires_grad_ = False`.

    ## Why is this bad?
    The assignment shadows the method with a bool on that tensor: `p.requires_grad` stays `True`, so
    nothing is frozen, and a later `p.requires_grad_(False)` raises
    `TypeError: 'bool' object is not callable`.

    ## Example
    ```python
    for p in model.encoder.parameters():
        p.requires_grad_ = False
    ```

    ## Use instead
    ```python
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    ```

    ## Fix safety
    Safe: the fix turns the assignment into the call `p.requires_grad_(False)`, which is what the code meant.
    """

    code = "GL103"
    name = "requires-grad-method-overwritten"
    severity = "error"
    message = "'requires_grad_' is a method: assigning to it freezes nothing. Call it: '.requires_grad_({value})'"
    triggers = ("requires_grad_",)
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch\np = torch.ones(2, requires_grad=True)\np.requires_grad_(False)\n"),
        Valid("p.requires_grad = False\n"),
        Valid("class Flags:\n    def __init__(self):\n        self.requires_grad_ = True\n", "own attribute of a plain class"),
        Valid("flag = p.requires_grad_\n", "reading the method is not an assignment"),
    )
    invalid = (
        Invalid("for p in model.parameters():\n    p.requires_grad_ = False\n", 2, 5,
                fixed="for p in model.parameters():\n    p.requires_grad_(False)\n"),
        Invalid("def freeze(m):\n    m.weight.requires_grad_ = False\n    return m\n", 2, 5,
                fixed="def freeze(m):\n    m.weight.requires_grad_(False)\n    return m\n"),
        Invalid("import torch.nn as nn\nclass Head(nn.Module):\n    def freeze(self):\n        self.fc.weight.requires_grad_ = True\n", 4, 9,
                fixed="import torch.nn as nn\nclass Head(nn.Module):\n    def freeze(self):\n        self.fc.weight.requires_grad_(True)\n"),
        Invalid("params[0].requires_grad_ = False  # freeze\n", 1, 1, fixed="params[0].requires_grad_(False)  # freeze\n"),
    )
    evidence = Evidence(
        bad="import torch\np = torch.nn.Parameter(torch.ones(2))\np.requires_grad_ = False\nprint(p.requires_grad)\n",
        bad_shows=Outcome(stdout="True"),
        good="import torch\np = torch.nn.Parameter(torch.ones(2))\np.requires_grad_(False)\nprint(p.requires_grad)\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Assign(self, node):
        for target in node.targets:
            self._check(target.target, node.value, node if len(node.targets) == 1 else None)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self._check(node.target, node.value, node)

    def visit_AugAssign(self, node):
        self._check(node.target, node.value, None)

    def _check(self, target, value, statement):
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._check(element.value, value, None)
            return
        if not (isinstance(target, cst.Attribute) and target.attr.value == "requires_grad_"):
            return
        if is_self_of_non_module(self.context, target.value):
            return
        shown = self.context.module.code_for_node(value) if isinstance(value, (cst.Name, cst.Integer)) else "..."
        fix = None
        if statement is not None:
            # `p.requires_grad_ = X` -> `p.requires_grad_(X)`, keeping the statement's own `;`
            call = cst.Call(func=target, args=[cst.Arg(value=value)])
            fix = Replacement(statement, cst.Expr(value=call, semicolon=statement.semicolon))
        self.report(target, self.message.format(value=shown), fix=fix)
