import libcst as cst

from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


def _is_requires_grad(expression):
    return isinstance(expression, cst.Attribute) and expression.attr.value == "requires_grad"


class RequiresGradComparisonStatement(Rule):
    """
    ## What it does
    Flags an expression statement that compares `requires_grad`, such as `p.requires_grad == False`,
    where an assignment was meant.

    ## Why is this bad?
    A comparison on its own line is computed and thrown away: `p.requires_grad` does not change,
    so nothing is frozen. `assert p.requires_grad == False` and `if p.requires_grad == False:` are
    checks, not statements, and are not flagged.

    ## Example
    ```python
    for p in model.parameters():
        p.requires_grad == False
    ```

    ## Use instead
    ```python
    for p in model.parameters():
        p.requires_grad = False
    ```

    ## Fix safety
    Safe: the fix turns `==` into `=`, which is what the code meant.
    """

    code = "GL104"
    name = "requires-grad-comparison-statement"
    severity = "error"
    message = "This comparison has no effect; 'requires_grad' is unchanged. Did you mean '=' instead of '{op}'?"
    triggers = ("requires_grad",)
    fix_applicability = "safe"

    valid = (
        Valid("assert p.requires_grad == False\n", "an assertion is a check"),
        Valid("if p.requires_grad == False:\n    pass\n"),
        Valid("frozen = p.requires_grad == False\n"),
        Valid("p.requires_grad = False\n"),
        Valid("print(p.requires_grad == False)\n"),
        Valid("p.grad == None\n", "not requires_grad"),
    )
    invalid = (
        Invalid("for p in model.parameters():\n    p.requires_grad == False\n", 2, 5,
                fixed="for p in model.parameters():\n    p.requires_grad = False\n"),
        Invalid("model.fc.weight.requires_grad == True\n", 1, 1, fixed="model.fc.weight.requires_grad = True\n"),
        Invalid("def freeze(params):\n    for p in params:\n        p.requires_grad is False\n", 3, 9,
                fixed="def freeze(params):\n    for p in params:\n        p.requires_grad = False\n"),
        Invalid("False == p.requires_grad\n", 1, 1, why="no fix: the attribute is on the right"),
        Invalid("class A:\n    def f(self):\n        self.w.requires_grad == False; self.b.requires_grad = False\n", 3, 9,
                fixed="class A:\n    def f(self):\n        self.w.requires_grad = False; self.b.requires_grad = False\n"),
    )
    evidence = Evidence(
        bad="import torch\np = torch.nn.Parameter(torch.ones(2))\np.requires_grad == False\nprint(p.requires_grad)\n",
        bad_shows=Outcome(stdout="True"),
        good="import torch\np = torch.nn.Parameter(torch.ones(2))\np.requires_grad = False\nprint(p.requires_grad)\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Expr(self, node):
        comparison = node.value
        if not isinstance(comparison, cst.Comparison) or len(comparison.comparisons) != 1:
            return
        target = comparison.comparisons[0]
        if not isinstance(target.operator, (cst.Equal, cst.Is)):
            return
        if _is_requires_grad(comparison.left) or _is_requires_grad(target.comparator):
            op = "==" if isinstance(target.operator, cst.Equal) else "is"
            fix = None
            if _is_requires_grad(comparison.left):
                assign = cst.Assign(
                    targets=[cst.AssignTarget(target=comparison.left)], value=target.comparator, semicolon=node.semicolon
                )
                fix = Replacement(node, assign)
            self.report(node, self.message.format(op=op), fix=fix)
