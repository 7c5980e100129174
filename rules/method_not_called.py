import libcst as cst

from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

METHODS = frozenset({"eval", "train", "zero_grad", "backward", "step", "detach_", "requires_grad_"})

_PROBED_EXCEPTIONS = frozenset({"AttributeError", "Exception", "BaseException"})


def _probes_attribute(try_node):
    """`try: obj.attr` / `except AttributeError:` is the idiom for testing that an attribute exists."""
    for handler in try_node.handlers:
        kind = handler.type
        if kind is None:
            return True
        names = [kind] if not isinstance(kind, cst.Tuple) else [e.value for e in kind.elements]
        if any(isinstance(n, cst.Name) and n.value in _PROBED_EXCEPTIONS for n in names):
            return True
    return False


class MethodNotCalled(Rule):
    """
    ## What it does
    Flags a grad- or mode-changing method written as a bare attribute and never called:
    `model.eval`, `model.train`, `optimizer.zero_grad`, `model.zero_grad`, `loss.backward`,
    `optimizer.step`, `x.detach_`, `p.requires_grad_`.

    ## Why is this bad?
    The statement only looks the method up; nothing happens. `model.eval` leaves `model.training == True`
    (dropout stays on), `loss.backward` computes no gradients, `optimizer.step` updates nothing.

    An attribute probed inside `try:` ... `except AttributeError:` (testing that it exists) is not flagged.

    ## Example
    ```python
    model.eval
    with torch.no_grad():
        predictions = model(batch)
    ```

    ## Use instead
    ```python
    model.eval()
    with torch.no_grad():
        predictions = model(batch)
    ```

    ## Fix safety
    Safe: the fix adds `()`, which is what the code meant.
    """

    code = "GL105"
    name = "method-not-called"
    severity = "error"
    message = "'.{attr}' is never called, so nothing happens. Add '()': '.{attr}()'"
    triggers = tuple(METHODS)
    fix_applicability = "safe"

    valid = (
        Valid("model.eval()\n"),
        Valid("loss.backward()\noptimizer.step()\n"),
        Valid("step = optimizer.step\n", "bound method kept for later"),
        Valid("try:\n    model.zero_grad\nexcept AttributeError:\n    pass\n", "probing for the attribute"),
        Valid("hooks = [model.train, model.eval]\n"),
        Valid("model.training\n", "not a method of the list"),
        Valid("try: opt.step\nexcept Exception: pass\n", "probing on one line"),
    )
    invalid = (
        Invalid("import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.eval\n", 3, 1,
                fixed="import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.eval()\n"),
        Invalid("for x, y in loader:\n    optimizer.zero_grad\n    loss = crit(model(x), y)\n    loss.backward()\n    optimizer.step()\n", 2, 5,
                fixed="for x, y in loader:\n    optimizer.zero_grad()\n    loss = crit(model(x), y)\n    loss.backward()\n    optimizer.step()\n"),
        Invalid("def train_step(self, batch):\n    loss = self.compute(batch)\n    loss.backward\n", 3, 5,
                fixed="def train_step(self, batch):\n    loss = self.compute(batch)\n    loss.backward()\n"),
        Invalid("class T:\n    def run(self):\n        self.opt.step\n", 3, 9, fixed="class T:\n    def run(self):\n        self.opt.step()\n"),
        Invalid("x.detach_; y = 1\n", 1, 1, fixed="x.detach_(); y = 1\n"),
        Invalid("net.train  # back to training\n", 1, 1, fixed="net.train()  # back to training\n"),
    )
    evidence = Evidence(
        bad="import torch\nmodel = torch.nn.Dropout(0.5)\nmodel.eval\nprint(model.training)\n",
        bad_shows=Outcome(stdout="True"),
        good="import torch\nmodel = torch.nn.Dropout(0.5)\nmodel.eval()\nprint(model.training)\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Expr(self, node):
        value = node.value
        if not (isinstance(value, cst.Attribute) and value.attr.value in METHODS):
            return
        # Expr -> SimpleStatementLine -> IndentedBlock -> Try, or Expr -> SimpleStatementSuite -> Try
        ancestors = self.context.ancestors
        for depth in (2, 3):
            if len(ancestors) > depth and isinstance(ancestors[-depth], cst.Try):
                try_node = ancestors[-depth]
                if ancestors[-depth + 1] is try_node.body and _probes_attribute(try_node):
                    return
        self.report(node, self.message.format(attr=value.attr.value), fix=Replacement(value, cst.Call(func=value)))
