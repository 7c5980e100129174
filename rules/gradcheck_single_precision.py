from typing import List, Optional

import libcst as cst

from autogradlint.analysis.tensors import (
    DATA_FACTORIES,
    FLOAT_FACTORIES,
    LIKE_FACTORIES,
    SINGLE_PRECISION,
    bool_literal,
    conversion_dtype,
    factory_call,
    keyword,
    positional,
    single_assigned_value,
    tensor_facts,
)
from autogradlint.edits import Replacement
from autogradlint.fix_builders import reference_to, with_keyword
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

GRADCHECKS = frozenset({"torch.autograd.gradcheck", "torch.autograd.gradgradcheck"})
# factories that take dtype=
_DTYPE_FACTORIES = FLOAT_FACTORIES | LIKE_FACTORIES | DATA_FACTORIES


def _input_expressions(context, call: cst.Call) -> List[cst.BaseExpression]:
    """The tensors given as gradcheck's ``inputs``: a tuple/list (or a name bound once to one), or one tensor."""
    inputs = keyword(call, "inputs")
    args = positional(call)
    value: Optional[cst.BaseExpression] = inputs.value if inputs is not None else (args[1].value if len(args) >= 2 else None)
    if value is None:
        return []
    if isinstance(value, cst.Name):
        bound = single_assigned_value(context, value)
        if isinstance(bound, (cst.Tuple, cst.List, cst.ListComp)) or _built_sequence(context, bound) is not None:
            value = bound
    built = _built_sequence(context, value)
    if built is not None:
        value = built  # tuple(<generator>)
    if isinstance(value, (cst.ListComp, cst.GeneratorExp)):
        return [value.elt]  # every item is built by the same expression
    if isinstance(value, (cst.Tuple, cst.List)):
        return [e.value for e in value.elements if not isinstance(e, cst.StarredElement)]
    return [value]


def _built_sequence(context, value) -> Optional[cst.BaseExpression]:
    """The generator or comprehension of ``tuple(<...>)`` / ``list(<...>)``."""
    if (isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and len(value.args) == 1
            and isinstance(value.args[0].value, (cst.GeneratorExp, cst.ListComp))
            and context.qualified_name(value.func) in ("builtins.tuple", "builtins.list")):
        return value.args[0].value
    return None


def _grad_input_dtype(context, expression: cst.BaseExpression) -> Optional[str]:
    """The dtype of an input that certainly requires grad: a factory-built tensor, or any tensor cast and
    then marked (``x.float().requires_grad_()``); None when either is not certain."""
    facts = tensor_facts(context, expression)
    if facts is not None:
        return facts.dtype if facts.requires_grad is True else None
    if isinstance(expression, cst.Name):
        bound = single_assigned_value(context, expression)
        expression = bound if bound is not None else expression
    if not (isinstance(expression, cst.Call) and isinstance(expression.func, cst.Attribute)
            and expression.func.attr.value == "requires_grad_"):
        return None
    args = positional(expression)
    if args and bool_literal(args[0].value) is not True:
        return None
    cast = expression.func.value
    return conversion_dtype(context, cast) if isinstance(cast, cst.Call) else None


def _factory_of(context, expression: cst.BaseExpression) -> Optional[cst.Call]:
    """The factory call that builds an input (``torch.randn(3, requires_grad=True)``, also through a name
    bound once and ``.requires_grad_()``), when it takes ``dtype=``."""
    if isinstance(expression, cst.Name):
        expression = single_assigned_value(context, expression)
    while (isinstance(expression, cst.Call) and isinstance(expression.func, cst.Attribute)
           and expression.func.attr.value == "requires_grad_"):
        expression = expression.func.value
    factory = factory_call(context, expression) if isinstance(expression, cst.Call) else None
    return expression if factory is not None and factory.name in _DTYPE_FACTORIES else None


class GradcheckSinglePrecision(Rule):
    """
    ## What it does
    Flags `torch.autograd.gradcheck` / `gradgradcheck` given an input that certainly requires grad and is
    certainly single precision: built by a factory with the default dtype (`torch.randn(3,
    requires_grad=True)`), with `dtype=torch.float32`/`float16`/`bfloat16`/`complex64`, or through
    `.float()`; also inputs built by a comprehension (`tuple(torch.randn(2, requires_grad=True) for _ in
    range(n))`). Files that change the default dtype (`torch.set_default_dtype`) are not flagged.

    ## Why is this bad?
    gradcheck compares analytical gradients with finite differences (`eps=1e-6`); in float32 the
    rounding error dwarfs the tolerance. torch warns "Input #0 requires gradient and is not a double
    precision floating point or complex" and the check fails with spurious "Jacobian mismatch" errors
    (or passes only because the tolerances were loosened until nothing is checked).

    ## Example
    ```python
    x = torch.randn(3, requires_grad=True)
    assert torch.autograd.gradcheck(torch.sin, (x,))
    ```

    ## Use instead
    ```python
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(torch.sin, (x,))
    ```

    ## Fix safety
    Unsafe: the fix sets `dtype=torch.float64` on the factory of every single-precision input (named
    through the file's imports); the function under test must accept double inputs (a module's parameters
    must be converted with `.double()` too), and other uses of those tensors become double as well. Inputs
    cast with `.float()`/`.half()` or not built by a factory are not fixed.
    """

    code = "GL705"
    name = "gradcheck-single-precision"
    severity = "warning"
    message = ("gradcheck input is {dtype}: finite differences in single precision give spurious 'Jacobian mismatch' "
               "failures (torch warns). Build the inputs with dtype=torch.float64")
    triggers = ("gradcheck",)
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("import torch\nx = torch.randn(3, dtype=torch.float64, requires_grad=True)\ntorch.autograd.gradcheck(torch.sin, (x,))\n"),
        Valid("import torch\nx = torch.randn(3, requires_grad=True).double()\n", "no gradcheck"),
        Valid("import torch\nfrom torch.autograd import gradcheck\ngradcheck(torch.sin, (torch.randn(3).double().requires_grad_(),))\n"),
        Valid("import torch\ntorch.set_default_dtype(torch.float64)\nx = torch.randn(3, requires_grad=True)\n"
              "torch.autograd.gradcheck(torch.sin, (x,))\n", "the default dtype is float64 here"),
        Valid("import torch\nx = torch.randn(3, requires_grad=True)\ny = torch.randn(3)\n"
              "torch.autograd.gradcheck(lambda a, b: a * b, (x.double(), y))\n",
              "the grad input is double; a float32 input without grad is not checked"),
        Valid("import torch\ntorch.autograd.gradcheck(f, inputs)\n", "inputs unknown"),
        Valid("import torch\ndef gradcheck(f, xs):\n    return True\ngradcheck(torch.sin, (torch.randn(3, requires_grad=True),))\n",
              "a local gradcheck"),
        Valid("import jax\nfrom jax.test_util import check_grads\ncheck_grads(f, (x,), order=2)\n"),
    )
    invalid = (
        Invalid("import torch\nx = torch.randn(3, requires_grad=True)\nassert torch.autograd.gradcheck(torch.sin, (x,))\n", 3, 8,
                fixed="import torch\nx = torch.randn(3, requires_grad=True, dtype=torch.float64)\n"
                "assert torch.autograd.gradcheck(torch.sin, (x,))\n"),
        Invalid("import torch\nfrom torch.autograd import gradgradcheck\ndef test_second_order():\n"
                "    x = torch.rand(2, 2, dtype=torch.float32, requires_grad=True)\n    assert gradgradcheck(torch.tanh, [x])\n", 5, 12,
                fixed="import torch\nfrom torch.autograd import gradgradcheck\ndef test_second_order():\n"
                "    x = torch.rand(2, 2, dtype=torch.float64, requires_grad=True)\n    assert gradgradcheck(torch.tanh, [x])\n"),
        Invalid("import torch as th\nfrom torch.autograd.gradcheck import gradcheck\nclass TestOp:\n    def test_op(self):\n"
                "        inputs = (th.ones(4, requires_grad=True), th.ones(4, dtype=th.float64))\n"
                "        self.assertTrue(gradcheck(my_op, inputs, eps=1e-6, atol=1e-4))\n", 6, 25,
                fixed="import torch as th\nfrom torch.autograd.gradcheck import gradcheck\nclass TestOp:\n    def test_op(self):\n"
                "        inputs = (th.ones(4, requires_grad=True, dtype=th.float64), th.ones(4, dtype=th.float64))\n"
                "        self.assertTrue(gradcheck(my_op, inputs, eps=1e-6, atol=1e-4))\n"),
        Invalid("import torch\nfor shape in [(2,), (3, 3)]:\n    t = data.float().requires_grad_()\n"
                "    torch.autograd.gradcheck(fn, inputs=t)\n", 4, 5),
        Invalid("import torch\ntorch.autograd.gradcheck(torch.exp, (torch.zeros(5).half().requires_grad_(),), raise_exception=False)\n", 2, 1),
    )
    evidence = Evidence(
        bad="import torch\nx = torch.randn(3, requires_grad=True)\nprint(torch.autograd.gradcheck(torch.sin, (x,)))\n",
        bad_shows=Outcome(raises="GradcheckError", message="Jacobian mismatch",
                          warns="is not a double precision floating point or complex"),
        good="import torch\nx = torch.randn(3, dtype=torch.float64, requires_grad=True)\n"
             "print(torch.autograd.gradcheck(torch.sin, (x,)))\n",
        good_shows=Outcome(stdout="True"),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, (cst.Name, cst.Attribute)) or self.context.qualified_name(node.func) not in GRADCHECKS:
            return
        single = [e for e in _input_expressions(self.context, node) if _grad_input_dtype(self.context, e) in SINGLE_PRECISION]
        if single:
            dtype = _grad_input_dtype(self.context, single[0])
            self.report(node, self.message.format(dtype=dtype), fix=self._double_fix(single))

    def _double_fix(self, inputs: List[cst.BaseExpression]):
        """``dtype=torch.float64`` on the factory of every single-precision input; None unless all have one."""
        factories = {}
        for expression in inputs:
            factory = _factory_of(self.context, expression)
            if factory is None:
                return None
            factories[id(factory)] = factory
        reference = reference_to(self.context, "torch.float64")
        if reference is None:
            return None
        float64, new_import = reference
        fixes = [Replacement(f, with_keyword(f, "dtype", float64)) for f in factories.values()]
        return fixes + ([new_import] if new_import is not None else [])
