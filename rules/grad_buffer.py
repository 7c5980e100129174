from typing import Optional

import libcst as cst

from autogradlint.analysis.modules import is_certainly_not_module
from autogradlint.analysis.tensors import keyword, positional, tensor_facts
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


def _buffer_argument(call: cst.Call) -> Optional[cst.BaseExpression]:
    tensor = keyword(call, "tensor")
    if tensor is not None:
        return tensor.value
    args = positional(call)
    return args[1].value if len(args) >= 2 else None


class GradBuffer(Rule):
    """
    ## What it does
    Flags `register_buffer(name, t)` where `t` certainly requires gradients: a factory with
    `requires_grad=True`, a tensor after `.requires_grad_()`, or an `nn.Parameter`. A `register_buffer` method of
    a class that is certainly not a module (a home-made registry of the project) is not flagged.

    ## Why is this bad?
    Buffers are state, not parameters: `parameters()` does not list them, so an optimizer built from
    `model.parameters()` never updates the tensor, however many gradients it receives. If it was meant to
    be learned, it must be a parameter; if not, `requires_grad=True` only wastes a gradient.

    ## Example
    ```python
    self.register_buffer("scale", torch.ones(1, requires_grad=True))
    ```

    ## Use instead
    ```python
    self.register_parameter("scale", nn.Parameter(torch.ones(1)))
    ```

    ## Fix safety
    No fix: whether the tensor should be learned (a parameter) or fixed (a buffer without
    `requires_grad`) is the author's decision.
    """

    code = "GL603"
    name = "grad-buffer"
    severity = "error"
    message = ("this buffer requires grad, but buffers are not parameters: parameters() does not list it and no "
               "optimizer updates it. Use register_parameter(name, nn.Parameter(...)), or drop requires_grad")
    triggers = ("register_buffer",)
    needs = frozenset({"names"})
    fix_applicability = None

    valid = (
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.register_buffer('pe', torch.zeros(10, 4))\n"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.register_buffer('pe', torch.zeros(10, requires_grad=True).detach())\n", "detached"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self, pe):\n        super().__init__()\n"
              "        self.register_buffer('pe', pe)\n", "unknown tensor"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.register_buffer('step', torch.tensor(0), persistent=False)\n"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.register_parameter('scale', nn.Parameter(torch.ones(1)))\n"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.register_buffer('w', nn.Parameter(torch.ones(1), requires_grad=False))\n", "frozen Parameter"),
        Valid("import torch\nclass Registry:\n    def __init__(self):\n        self.items = {}\n"
              "    def register_buffer(self, name, value):\n        self.items[name] = value\n"
              "    def add_scale(self):\n        self.register_buffer('scale', torch.ones(1, requires_grad=True))\n"
              "reg = Registry()\nreg.register_buffer('x', torch.ones(1, requires_grad=True))\n", "a home-made registry"),
    )
    invalid = (
        Invalid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.register_buffer('scale', torch.ones(1, requires_grad=True))\n", 6, 9),
        Invalid("import torch as th\nimport torch.nn as nn\nclass M(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"
                "        table = th.randn(n, 4).requires_grad_()\n        self.register_buffer(name='table', tensor=table)\n", 7, 9),
        Invalid("import torch\nfrom torch.nn import Module, Parameter\nclass M(Module):\n    def build(self):\n"
                "        for i in range(3):\n            self.register_buffer(f'w{i}', Parameter(torch.zeros(2)))\n", 6, 13),
        Invalid("import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.register_buffer('temp', torch.tensor([1.0], requires_grad=True))\n", 3, 1),
    )
    evidence = Evidence(
        bad="import torch\nfrom torch import nn\nclass Scale(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.register_buffer('scale', torch.ones(1, requires_grad=True))\nprint(len(list(Scale().parameters())))\n",
        bad_shows=Outcome(stdout="0"),
        good="import torch\nfrom torch import nn\nclass Scale(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.register_parameter('scale', nn.Parameter(torch.ones(1)))\nprint(len(list(Scale().parameters())))\n",
        good_shows=Outcome(stdout="1"),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if not (isinstance(node.func, cst.Attribute) and node.func.attr.value == "register_buffer"):
            return
        tensor = _buffer_argument(node)
        if tensor is None or is_certainly_not_module(self.context, node.func.value):
            return
        facts = tensor_facts(self.context, tensor)
        if facts is not None and facts.requires_grad is True:
            self.report(node)
