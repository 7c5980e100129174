import libcst as cst

from autogradlint.analysis.modules import class_reads_own_attribute, module_instance
from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class ModuleRequiresGradAttribute(Rule):
    """
    ## What it does
    Flags `<module>.requires_grad = X` where the receiver is certainly an `nn.Module`: `self` in a
    method of a module class, a submodule attribute such as `self.encoder`, a name bound to `nn.Linear(...)`,
    `MyNet()`, a torchvision/timm/transformers model, a loop variable over `model.children()`, or a
    ScriptModule.

    ## Why is this bad?
    `requires_grad` is a tensor attribute, not a module one. On a module the assignment just creates a
    plain Python attribute: every parameter keeps `requires_grad=True`, so the "frozen" module still
    trains and its gradients still take memory.

    A class that uses `requires_grad` as its own setting (it reads `self.requires_grad` somewhere) is
    not flagged, nor is a class that is not an `nn.Module`.

    ## Example
    ```python
    backbone = torchvision.models.resnet50(weights="DEFAULT")
    backbone.requires_grad = False
    ```

    ## Use instead
    ```python
    backbone = torchvision.models.resnet50(weights="DEFAULT")
    backbone.requires_grad_(False)
    ```

    ## Fix safety
    Safe: the fix turns the assignment into `Module.requires_grad_(X)`, which sets the flag on every
    parameter, as the code meant. It is offered only when the receiver is certainly an eager module: not on
    a ScriptModule, whose `requires_grad_` raises (loop over its parameters instead), nor in a chained
    assignment (`a = m.requires_grad = False`).
    """

    code = "GL102"
    name = "module-requires-grad-attribute"
    severity = "error"
    message = ("'requires_grad' on a module is a plain attribute: its parameters keep requires_grad=True and "
               "still train. Use '{receiver}.requires_grad_({value})'")
    script_message = ("'requires_grad' on a ScriptModule is a plain attribute: its parameters keep "
                      "requires_grad=True. Use 'for p in {receiver}.parameters(): p.requires_grad_({value})'")
    triggers = ("requires_grad",)
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("class Config:\n    def __init__(self, requires_grad):\n        self.requires_grad = requires_grad\n",
              "a plain class with its own requires_grad attribute"),
        Valid("import torch\np = torch.nn.Parameter(torch.ones(2))\np.requires_grad = False\n", "a tensor"),
        Valid("import torch.nn as nn\nmodel = nn.Linear(2, 2)\nfor p in model.parameters():\n    p.requires_grad = False\n"),
        Valid("import torch.nn as nn\nmodel = nn.Linear(2, 2)\nmodel.requires_grad_(False)\n"),
        Valid("import torch.nn as nn\nclass Encoder(nn.Module):\n    def __init__(self, requires_grad=True):\n"
              "        super().__init__()\n        self.requires_grad = requires_grad\n        self.fc = nn.Linear(2, 2)\n"
              "    def forward(self, x):\n        if not self.requires_grad:\n            x = x.detach()\n        return self.fc(x)\n",
              "a module class that reads its own requires_grad setting"),
        Valid("def freeze(model):\n    model.requires_grad = False\n", "unknown receiver"),
        Valid("import torch.nn as nn\nif big:\n    net = nn.Linear(2, 2)\nelse:\n    net = make()\nnet.requires_grad = False\n",
              "a name that may hold something else"),
        Valid("import chainer\nlink = chainer.links.Linear(2, 2)\nlink.requires_grad = False\n", "not torch"),
        Valid("import torch.nn as nn\nclass Head:\n    def __init__(self):\n        self.fc = nn.Linear(2, 2)\n"
              "    def freeze(self):\n        self.requires_grad = False\n", "self of a class that is not a module"),
    )
    invalid = (
        Invalid("import torch.nn as nn\nmodel = nn.Linear(2, 2)\nmodel.requires_grad = False\n", 3, 1,
                fixed="import torch.nn as nn\nmodel = nn.Linear(2, 2)\nmodel.requires_grad_(False)\n"),
        Invalid("from torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.encoder = nn.Sequential(nn.Linear(4, 4), nn.ReLU())\n        self.head = nn.Linear(4, 2)\n"
                "    def freeze_encoder(self):\n        self.encoder.requires_grad = False\n", 8, 9,
                fixed="from torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.encoder = nn.Sequential(nn.Linear(4, 4), nn.ReLU())\n        self.head = nn.Linear(4, 2)\n"
                "    def freeze_encoder(self):\n        self.encoder.requires_grad_(False)\n"),
        Invalid("import torch\nclass Net(torch.nn.Module):\n    def freeze(self):\n        self.requires_grad = False\n", 4, 9,
                fixed="import torch\nclass Net(torch.nn.Module):\n    def freeze(self):\n        self.requires_grad_(False)\n"),
        Invalid("import torchvision\nbackbone = torchvision.models.resnet18(weights=None)\nbackbone = backbone.to('cpu')\n"
                "backbone.requires_grad = False\n", 4, 1,
                fixed="import torchvision\nbackbone = torchvision.models.resnet18(weights=None)\nbackbone = backbone.to('cpu')\n"
                "backbone.requires_grad_(False)\n"),
        Invalid("import torch.nn as nn\nmodel = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))\n"
                "for layer in model.children():\n    layer.requires_grad = False\n", 4, 5,
                fixed="import torch.nn as nn\nmodel = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))\n"
                "for layer in model.children():\n    layer.requires_grad_(False)\n"),
        Invalid("import torch.nn as nn\ndef freeze(net: nn.Module, flag):\n    net.requires_grad = flag\n", 3, 5,
                fixed="import torch.nn as nn\ndef freeze(net: nn.Module, flag):\n    net.requires_grad_(flag)\n"),
        Invalid("from transformers import AutoModel\nbert = AutoModel.from_pretrained('bert-base-uncased')\n"
                "bert.embeddings.requires_grad = False\nbert.requires_grad = False\n", 4, 1,
                fixed="from transformers import AutoModel\nbert = AutoModel.from_pretrained('bert-base-uncased')\n"
                "bert.embeddings.requires_grad = False\nbert.requires_grad_(False)\n"),
        Invalid("import torch\nsm = torch.jit.load('model.pt')\nsm.requires_grad = False\n", 3, 1),
    )
    evidence = Evidence(
        bad="import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.requires_grad = False\n"
            "print(all(p.requires_grad for p in model.parameters()))\n",
        bad_shows=Outcome(stdout="True"),
        good="import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.requires_grad_(False)\n"
             "print(all(p.requires_grad for p in model.parameters()))\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Assign(self, node):
        for target in node.targets:
            self._check(target.target, node.value, node if len(node.targets) == 1 else None)

    def _check(self, target, value, statement):
        if not (isinstance(target, cst.Attribute) and target.attr.value == "requires_grad"):
            return
        module = module_instance(self.context, target.value)
        if module is None:
            return
        # a module class may keep its own `requires_grad` setting and read it back
        if module.local is not None and class_reads_own_attribute(self.context, module.local, "requires_grad"):
            return
        code = self.context.module.code_for_node
        receiver = code(target.value)
        shown = code(value) if "\n" not in code(value) else "..."
        template = self.script_message if module.scripted else self.message
        fix = None
        if statement is not None and not module.scripted:
            # `m.requires_grad = X` -> `m.requires_grad_(X)`, keeping the statement's own `;`
            call = cst.Call(func=target.with_changes(attr=cst.Name("requires_grad_")), args=[cst.Arg(value=value)])
            fix = Replacement(statement, cst.Expr(value=call, semicolon=statement.semicolon))
        self.report(target, template.format(receiver=receiver, value=shown), fix=fix)
