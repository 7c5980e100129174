import libcst as cst

from autogradlint.analysis.tensors import PARAMETER, makes_new_tensor, module_attribute_target, tensor_facts
from autogradlint.fix_builders import conversion_inside
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class ParameterLostByMove(Rule):
    """
    ## What it does
    Flags, in a method of an `nn.Module` class, `self.x = nn.Parameter(...).<conversion>` where the
    conversion certainly makes a new tensor: `.cuda()`, `.to(<cuda device or other dtype>)`, `.double()`,
    `.half()`, `.bfloat16()`, `.type(<other type>)`.

    `.cpu()` and `.float()` of a CPU float32 tensor return the same Parameter and are not flagged, nor is
    `.to(device)` with a device that is not known.

    ## Why is this bad?
    The conversion returns a plain `Tensor` copy, not a `Parameter`. The attribute is then an ordinary
    tensor: `parameters()` does not contain it, the optimizer never updates it and `state_dict()` omits it.

    ## Example
    ```python
    self.weight = nn.Parameter(torch.randn(4, 4)).cuda()
    ```

    ## Use instead
    ```python
    self.weight = nn.Parameter(torch.randn(4, 4).cuda())
    ```

    ## Fix safety
    Unsafe: moving the conversion inside `nn.Parameter(...)` registers the tensor, which changes
    `parameters()`, what the optimizer updates and the checkpoint's keys (loading an older checkpoint with
    `strict=True` then fails on the missing key).
    """

    code = "GL604"
    name = "parameter-lost-by-move"
    severity = "error"
    message = ("'.{method}()' returns a plain tensor copy, so 'self.{attr}' is not a Parameter: parameters() and "
               "state_dict() miss it and the optimizer never updates it. Convert inside: nn.Parameter(t.{method}(...))")
    triggers = ("Parameter",)
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.w = nn.Parameter(torch.randn(4).cuda())\n"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.w = nn.Parameter(torch.randn(4)).float()\n", "float of float32 is the same Parameter"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.w = nn.Parameter(torch.randn(4)).cpu()\n", "cpu of a CPU tensor is the same Parameter"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self, device):\n        super().__init__()\n"
              "        self.w = nn.Parameter(torch.randn(4)).to(device)\n", "device unknown"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self, w):\n        super().__init__()\n"
              "        self.w = nn.Parameter(w).cuda()\n", "w may already be on the GPU"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.w = nn.Parameter(torch.randn(4, dtype=torch.float64)).double()\n", "already float64"),
        Valid("import torch\nfrom torch import nn\nclass Holder:\n    def __init__(self):\n"
              "        self.w = nn.Parameter(torch.randn(4)).double()\n", "not a module class"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.w = nn.Parameter(torch.randn(4, device='cuda')).cuda()\n", "already on the GPU"),
    )
    invalid = (
        Invalid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.weight = nn.Parameter(torch.randn(4, 4)).cuda()\n", 6, 9,
                fixed="import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.weight = nn.Parameter(torch.randn(4, 4).cuda())\n"),
        Invalid("import torch as th\nimport torch.nn as nn\nclass M(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"
                "        self.scale = nn.Parameter(th.ones(n)).to(th.float16)\n", 6, 9,
                fixed="import torch as th\nimport torch.nn as nn\nclass M(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"
                "        self.scale = nn.Parameter(th.ones(n).to(th.float16))\n"),
        Invalid("import torch\nfrom torch.nn import Module, Parameter\nclass M(Module):\n    def reset(self):\n"
                "        for _ in range(1):\n            self.bias = Parameter(torch.zeros(3)).double()\n", 6, 13,
                fixed="import torch\nfrom torch.nn import Module, Parameter\nclass M(Module):\n    def reset(self):\n"
                "        for _ in range(1):\n            self.bias = Parameter(torch.zeros(3).double())\n"),
        Invalid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.emb = nn.Parameter(torch.Tensor(10, 4)).to('cuda:0')\n", 6, 9,
                fixed="import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.emb = nn.Parameter(torch.Tensor(10, 4).to('cuda:0'))\n"),
        Invalid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.w: nn.Parameter = nn.Parameter(torch.rand(2), requires_grad=False).half()\n", 6, 9,
                fixed="import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.w: nn.Parameter = nn.Parameter(torch.rand(2).half(), requires_grad=False)\n"),
    )
    evidence = Evidence(
        bad="import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.w = nn.Parameter(torch.ones(2)).double()\nprint(len(list(M().parameters())))\n",
        bad_shows=Outcome(stdout="0"),
        good="import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.w = nn.Parameter(torch.ones(2).double())\nprint(len(list(M().parameters())))\n",
        good_shows=Outcome(stdout="1"),
    )

    def visit_Assign(self, node: cst.Assign) -> None:
        self._check(node, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._check(node, node.value)

    def _check(self, node: cst.CSTNode, value: cst.BaseExpression) -> None:
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)):
            return
        source = tensor_facts(self.context, value.func.value, follow_names=False)
        if source is None or source.origin != PARAMETER or source.is_leaf is not True:
            return
        attr = module_attribute_target(self.context, node)
        if attr and makes_new_tensor(self.context, value, source):
            self.report(node, self.message.format(method=value.func.attr.value, attr=attr), fix=conversion_inside(value))

