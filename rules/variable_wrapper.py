import libcst as cst

from autogradlint.analysis.torch_api import VARIABLE
from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

# expressions that never need parentheses to stand where a call stood
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.BaseNumber, cst.BaseString, cst.List, cst.Dict,
          cst.Set, cst.ListComp, cst.DictComp, cst.SetComp)
# places where any expression that was a call's argument may stand without parentheses
_OPEN_PLACES = (cst.Assign, cst.AnnAssign, cst.Return, cst.Expr)


class VariableWrapper(Rule):
    """
    ## What it does
    Flags calls of the deprecated `torch.autograd.Variable(...)` wrapper, however it is imported.
    Another library's `Variable` (Chainer, TensorFlow, a home-made autograd class) and uses of the
    name that are not calls (`isinstance(x, Variable)`) are not flagged.

    ## Why is this bad?
    Since torch 0.4 tensors carry autograd state themselves and `Variable(x)` just returns a plain
    `Tensor`. It is not even a harmless no-op: the result is a detached alias of `x`, so wrapping a
    tensor that carries a graph silently cuts the gradient path (`Variable(y).requires_grad` is False
    for a `y` computed from a grad leaf).

    ## Example
    ```python
    from torch.autograd import Variable
    inputs = Variable(batch.cuda())
    weights = Variable(torch.randn(3), requires_grad=True)
    ```

    ## Use instead
    ```python
    inputs = batch.cuda()
    weights = torch.randn(3, requires_grad=True)
    ```

    ## Fix safety
    Unsafe: `Variable(x)` becomes `x`. The catalog lists this fix as safe, but torch 2.13 shows that
    `Variable(x)` returns a detached alias when `x` requires grad: removing it lets gradients flow where
    they did not (the fix of this rule's evidence turns `requires_grad` from False to True), so it needs
    `--unsafe-fixes`. Calls with `requires_grad=`/`volatile=` or more than one argument are not fixed.
    """

    code = "GL702"
    name = "variable-wrapper"
    severity = "hint"
    message = ("torch.autograd.Variable is deprecated: it returns a plain Tensor detached from the argument's graph. "
               "Use the tensor itself (with requires_grad=True or .requires_grad_() to track gradients)")
    triggers = ("Variable",)
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("import chainer\nx = chainer.Variable(data)\n", "Chainer's Variable"),
        Valid("import tensorflow as tf\nw = tf.Variable(tf.zeros([3]))\n", "TensorFlow's Variable"),
        Valid("class Variable:\n    def __init__(self, value):\n        self.value = value\nx = Variable(3.0)\n",
              "a home-made autograd Variable"),
        Valid("from micrograd.engine import Value as Variable\nx = Variable(2.0)\n"),
        Valid("import torch\nfrom torch.autograd import Variable\nassert isinstance(torch.ones(1), Variable)\n",
              "a type check, not a call"),
        Valid("import torch\nx = torch.ones(3, requires_grad=True)\n"),
        Valid("from chainer import Variable\nimport torch\nv = Variable(x)\n", "Variable is Chainer's here"),
    )
    invalid = (
        Invalid("import torch\nfrom torch.autograd import Variable\nx = Variable(torch.ones(3))\n", 3, 5,
                fixed="import torch\nfrom torch.autograd import Variable\nx = torch.ones(3)\n"),
        Invalid("import torch\nx = torch.autograd.Variable(torch.ones(3), requires_grad=True)\n", 2, 5),
        Invalid("import torch\nfrom torch.autograd import Variable as V\ndef step(batch):\n    for x, y in batch:\n"
                "        out = model(V(x.cuda()))\n", 5, 21, fixed="import torch\nfrom torch.autograd import Variable as V\n"
                "def step(batch):\n    for x, y in batch:\n        out = model(x.cuda())\n"),
        Invalid("from torch.autograd.variable import Variable\nclass Trainer:\n    def run(self, x):\n"
                "        return Variable(x)\n", 4, 16,
                fixed="from torch.autograd.variable import Variable\nclass Trainer:\n    def run(self, x):\n"
                "        return x\n"),
        Invalid("from torch import autograd\nh = autograd.Variable(h0.data)\n", 2, 5,
                fixed="from torch import autograd\nh = h0.data\n"),
    )
    evidence = Evidence(
        bad="import torch\nfrom torch.autograd import Variable\nw = torch.ones(2, requires_grad=True)\n"
            "y = Variable(w * 2)\nprint(y.requires_grad)\n",
        bad_shows=Outcome(stdout="False"),
        good="import torch\nw = torch.ones(2, requires_grad=True)\ny = w * 2\nprint(y.requires_grad)\n",
        good_shows=Outcome(stdout="True"),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, (cst.Name, cst.Attribute)) and self.context.qualified_name(node.func) == VARIABLE:
            self.report(node, fix=self._unwrap_fix(node))

    def _unwrap_fix(self, call: cst.Call):
        """``Variable(x)`` -> ``x``, parenthesized where the bare expression would bind differently."""
        if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
            return None
        value = call.args[0].value
        parent = self.context.parent
        fits = isinstance(value, _ATOMS) or value.lpar or (
            isinstance(parent, _OPEN_PLACES) and not isinstance(value, (cst.NamedExpr, cst.GeneratorExp, cst.Yield))
            or isinstance(parent, cst.Arg) and not parent.star)
        if not fits:
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return Replacement(call, value.with_changes(lpar=[*call.lpar, *value.lpar], rpar=[*value.rpar, *call.rpar]))
