import libcst as cst

from autogradlint.analysis.torch_api import GRAD_MODE_CONTEXTS
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class GradContextStatement(Rule):
    """
    ## What it does
    Flags `torch.no_grad()`, `torch.enable_grad()` or `torch.inference_mode()` called as a statement
    of its own, outside `with` and not as a decorator.

    ## Why is this bad?
    Creating the context object does not enter it: the statement has no effect and later operations
    still build an autograd graph. `torch.set_grad_enabled(False)` as a statement is different (it does
    switch gradients off globally) and is not flagged.

    ## Example
    ```python
    torch.no_grad()
    predictions = model(batch)
    ```

    ## Use instead
    ```python
    with torch.no_grad():
        predictions = model(batch)
    ```

    ## Fix safety
    No fix: which statements belong in the `with` block cannot be known.
    """

    code = "GL202"
    name = "grad-context-statement"
    severity = "error"
    message = "'{name}()' as a statement has no effect: gradients are still recorded. Use 'with {name}():'"
    triggers = ("no_grad", "enable_grad", "inference_mode")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\ntorch.set_grad_enabled(False)\n", "a real global switch"),
        Valid("import torch\nwith torch.no_grad():\n    pass\n"),
        Valid("import torch\nctx = torch.no_grad()\nctx.__enter__()\n"),
        Valid("import torch\ntorch.no_grad().__enter__()\n", "entered by hand"),
        Valid("import mygrad\nmygrad.no_grad()\n", "another library"),
        Valid("import torch\nf = torch.no_grad()(f)\n"),
    )
    invalid = (
        Invalid("import torch\ntorch.no_grad()\ny = model(x)\n", 2, 1),
        Invalid("import torch as th\ndef evaluate(m, x):\n    th.inference_mode()\n    return m(x)\n", 3, 5),
        Invalid("from torch import enable_grad\nfor x in xs:\n    enable_grad()\n", 3, 5),
        Invalid("from torch.autograd import grad_mode\ngrad_mode.no_grad()  # inference\n", 2, 1),
        Invalid("import torch\nclass E:\n    def run(self):\n        torch.inference_mode(mode=True)\n", 4, 9),
    )
    evidence = Evidence(
        bad="import torch\nx = torch.ones(2, requires_grad=True)\ntorch.no_grad()\ny = x * 2\nprint(y.requires_grad)\n",
        bad_shows=Outcome(stdout="True"),
        good="import torch\nx = torch.ones(2, requires_grad=True)\nwith torch.no_grad():\n    y = x * 2\nprint(y.requires_grad)\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Expr(self, node):
        call = node.value
        if not isinstance(call, cst.Call) or not isinstance(call.func, (cst.Name, cst.Attribute)):
            return
        name = self.context.qualified_name(call.func)
        if name in GRAD_MODE_CONTEXTS:
            self.report(node, self.message.format(name=self.context.module.code_for_node(call.func)))
