import libcst as cst

from autogradlint.analysis.tensors import (
    PARAMETER,
    bool_literal,
    factory_call,
    is_integral,
    keyword,
    literal_dtype,
    positional,
    tensor_facts,
)
from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

# as_tensor has no requires_grad parameter at all (TypeError, not this rule's error)
_NO_REQUIRES_GRAD_PARAMETER = frozenset({"torch.as_tensor"})
# factories whose dtype follows literals, and which of their positional arguments decide it (None: all)
_LITERAL_DATA = {"torch.tensor": slice(0, 1), "torch.full": slice(1, 2), "torch.arange": slice(None)}


class _FloatLiterals(cst.CSTTransformer):
    """Turns every decimal integer literal into a float one (``3`` -> ``3.0``); ``changed`` is False when
    there was none or one is not decimal (``0x10``)."""

    def __init__(self):
        super().__init__()
        self.changed = False
        self.failed = False

    def leave_Integer(self, original_node, updated_node):
        if not original_node.value.replace("_", "").isdigit():
            self.failed = True
            return updated_node
        self.changed = True
        return cst.Float(value=original_node.value + ".0", lpar=original_node.lpar, rpar=original_node.rpar)


def _float_literal_fix(context, call):
    """The factory ``call`` with the integer literals that make its dtype integral written as floats; None
    when the dtype does not come from literals alone (``dtype=``, ``randint``, a bool, a variable)."""
    factory = factory_call(context, call)
    if factory is None or factory.name not in _LITERAL_DATA or keyword(call, "dtype") is not None:
        return None
    args = positional(call)
    data = args[_LITERAL_DATA[factory.name]]
    if not data or any(literal_dtype(arg.value) != "int64" for arg in data):
        return None
    transformer = _FloatLiterals()
    new_data = [arg.with_changes(value=arg.value.visit(transformer)) for arg in data]
    if transformer.failed or not transformer.changed:
        return None
    replaced = dict(zip(map(id, data), new_data))
    return Replacement(call, call.with_changes(args=[replaced.get(id(arg), arg) for arg in call.args]))


class IntegerTensorRequiresGrad(Rule):
    """
    ## What it does
    Flags a tensor that is certainly of an integer or bool dtype being made to require gradients:
    `requires_grad=True` on `torch.tensor(3)` / int-only lists, `torch.arange(<ints>)`,
    `torch.full(shape, <int>)`, `torch.randint(...)`, `torch.randperm(...)` or any factory given
    `dtype=torch.long` / `torch.int*` / `torch.uint*` / `torch.bool`; `nn.Parameter` around such a tensor;
    and `.requires_grad_()` or `.requires_grad = True` on one.

    `torch.zeros_like(x)`, `ones_like`, `empty_like`, `full_like` and `randint_like` take their dtype from `x`
    (float for a float `x`): they are flagged with an integral `dtype=` or when `x` is certainly an integer
    tensor (`torch.zeros_like(torch.arange(5), requires_grad=True)`).

    ## Why is this bad?
    Only floating point and complex tensors can carry gradients. The line raises
    `RuntimeError: Only Tensors of floating point and complex dtype can require gradients`.

    ## Example
    ```python
    scale = torch.tensor(3, requires_grad=True)
    ```

    ## Use instead
    ```python
    scale = torch.tensor(3.0, requires_grad=True)
    ```

    ## Fix safety
    Unsafe: making the literals float (`3` -> `3.0`, `[1, 2]` -> `[1.0, 2.0]`) changes the tensor's dtype,
    which later integer uses (indexing, counting) may rely on. Only a dtype that comes from integer literals
    is fixed: the data of `torch.tensor`, the fill value of `torch.full`, the arguments of `torch.arange`, in
    the expression that is flagged. Integral `dtype=`, `torch.randint`/`randperm`, bool data and tensors built
    on another line are not fixed.
    """

    code = "GL106"
    name = "integer-tensor-requires-grad"
    severity = "error"
    message = ("this tensor's dtype is {dtype}, which cannot require gradients: RuntimeError 'Only Tensors of "
               "floating point and complex dtype can require gradients'. Make it floating point")
    triggers = ("requires_grad", "Parameter")
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("import torch\nx = torch.tensor(3.0, requires_grad=True)\n"),
        Valid("import torch\nx = torch.arange(0, 1, 0.1, requires_grad=True)\n", "a float step makes it float"),
        Valid("import torch\nx = torch.randint_like(torch.zeros(3), 10, requires_grad=True)\n",
              "randint_like of a float tensor is float"),
        Valid("import torch\nx = torch.randint(0, 10, (3,), dtype=torch.float32, requires_grad=True)\n"),
        Valid("import torch\nx = torch.tensor([1, 2.5], requires_grad=True)\n", "one float makes the list float"),
        Valid("import torch\nx = torch.tensor(data, requires_grad=True)\n", "dtype unknown"),
        Valid("import torch\nidx = torch.arange(5, requires_grad=False)\n"),
        Valid("import torch\nimport torch.nn as nn\nsteps = nn.Parameter(torch.tensor(0), requires_grad=False)\n",
              "a frozen integer counter is a valid Parameter"),
        Valid("import torch\nx = torch.arange(5).float().requires_grad_()\n", "cast to float first"),
        Valid("import torch\nx = torch.range(0, 4, requires_grad=True)\n", "torch.range is always float"),
        Valid("import torch\nx = torch.arange(5)\nx = x.float()\nx.requires_grad = True\n", "rebound to a float"),
        Valid("import paddle\nx = paddle.to_tensor(3, stop_gradient=False)\n", "another library"),
        Valid("import numpy as np\nx = np.arange(5)\nx.requires_grad = True\n", "not a torch tensor"),
        Valid("import torch\nx = torch.full((2,), 1, dtype=torch.float16, requires_grad=True)\n"),
    )
    invalid = (
        Invalid("import torch\nscale = torch.tensor(3, requires_grad=True)\n", 2, 9,
                fixed="import torch\nscale = torch.tensor(3.0, requires_grad=True)\n"),
        Invalid("import torch as th\ndef make():\n    return th.arange(10, requires_grad=True)\n", 3, 12,
                fixed="import torch as th\ndef make():\n    return th.arange(10.0, requires_grad=True)\n"),
        Invalid("import torch\nx = torch.zeros(4, dtype=torch.long, requires_grad=True)\n", 2, 5),
        Invalid("from torch import randint\nfor _ in range(3):\n    noise = randint(0, 5, (2,), requires_grad=True)\n", 3, 13),
        Invalid("import torch\nmask = torch.ones(3, dtype=torch.bool, requires_grad=True)\n", 2, 8),
        Invalid("import torch\nw = torch.full((2, 2), 7, requires_grad=True)\n", 2, 5,
                fixed="import torch\nw = torch.full((2, 2), 7.0, requires_grad=True)\n"),
        Invalid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.offsets = nn.Parameter(torch.tensor([1, 2, 3]))\n", 6, 24,
                fixed="import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.offsets = nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))\n"),
        Invalid("import torch\nx = torch.tensor([[1, 2], [3, 4]]).requires_grad_()\n", 2, 5,
                fixed="import torch\nx = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).requires_grad_()\n"),
        Invalid("import torch\nidx = torch.randperm(8)\nidx.requires_grad = True\n", 3, 1),
        Invalid("import torch\ndef f():\n    t = torch.tensor([0, 1])\n    t.requires_grad_(True)\n    return t\n", 4, 5),
        Invalid("import torch\nx = torch.randint_like(y, 10, dtype=torch.int32, requires_grad=True)\n", 2, 5),
    )
    evidence = Evidence(
        bad="import torch\nx = torch.tensor([1, 2, 3], requires_grad=True)\nprint(x.requires_grad)\n",
        bad_shows=Outcome(raises="RuntimeError",
                          message="Only Tensors of floating point and complex dtype can require gradients"),
        good="import torch\nx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\nprint(x.requires_grad)\n",
        good_shows=Outcome(stdout="True"),
    )

    def visit_Call(self, node: cst.Call) -> None:
        factory = factory_call(self.context, node)
        if factory is not None:
            if factory.requires_grad is not True or factory.name in _NO_REQUIRES_GRAD_PARAMETER:
                return
            dtype = factory.dtype
            built = node
            if factory.name == PARAMETER:
                args = positional(node)
                inner = tensor_facts(self.context, args[0].value) if args else None
                dtype = inner.dtype if inner is not None else None
                built = args[0].value if args else None
            if is_integral(dtype):
                fix = _float_literal_fix(self.context, built) if isinstance(built, cst.Call) else None
                self.report(node, self.message.format(dtype=dtype), fix=fix)
            return
        func = node.func
        if type(func) is cst.Attribute and func.attr.value == "requires_grad_":
            args = positional(node)
            flag = keyword(node, "requires_grad")
            value = flag.value if flag is not None else (args[0].value if args else None)
            if value is None or bool_literal(value) is True:
                self._check_receiver(func.value, node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if bool_literal(node.value) is not True:
            return
        for target in node.targets:
            attribute = target.target
            if type(attribute) is cst.Attribute and attribute.attr.value == "requires_grad":
                self._check_receiver(attribute.value, node)

    def _check_receiver(self, receiver: cst.BaseExpression, where: cst.CSTNode) -> None:
        facts = tensor_facts(self.context, receiver)
        if facts is not None and is_integral(facts.dtype):
            # a factory read through a name may have integer uses elsewhere: fixed only where it is built
            fix = _float_literal_fix(self.context, receiver) if isinstance(receiver, cst.Call) else None
            self.report(where, self.message.format(dtype=facts.dtype), fix=fix)
