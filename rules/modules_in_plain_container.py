from autogradlint.analysis.containers import MODULES, plain_container
from autogradlint.fix_builders import wrapped_in_container
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class ModulesInPlainContainer(Rule):
    """
    ## What it does
    Flags, in a module class, submodules kept in a plain Python container: `self.layers = [nn.Linear(...), ...]`,
    a list comprehension of modules (or `list(...)`/`tuple(...)` of a generator of them, `[m] * n`), a tuple
    or dict of modules (also `dict(a=...)`), a `[]` that the class then `append`s new modules to, or a local
    list of new modules assigned to `self.X`.

    ## Why is this bad?
    `nn.Module` registers only modules assigned directly as attributes or held by `nn.ModuleList`/
    `nn.ModuleDict`/`nn.Sequential`. Modules in a plain list are invisible: their parameters are not in
    `model.parameters()` (the optimizer never trains them), not in `state_dict()` (never saved), and not
    moved by `model.to(device)`.

    Lists of tensors or other objects, lists of modules that are registered another way (also assigned
    as attributes, passed to `nn.Sequential(*layers)`, registered with `add_module`/`setattr`), and lists
    built outside a module class are not flagged.

    ## Example
    ```python
    class MLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])]
    ```

    ## Use instead
    ```python
    class MLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])
    ```

    ## Fix safety
    Safe: `nn.ModuleList`/`nn.ModuleDict` (named through the file's imports) keep the list/dict interface
    (indexing, iteration, `append`, `extend`, item assignment) and register the modules. Offered only when
    every item is a module, both in the container and in everything the class (or, for a local list, the
    function) adds to it later; for a dict, when every key is a plain string that nn.ModuleDict accepts (no
    dot, not one of its attribute names); and when the class calls no list/dict method the torch container
    lacks (`sort`, `index`, `copy`, `get` ...). A tuple becomes a `ModuleList` of a list.
    """

    code = "GL602"
    name = "modules-in-plain-container"
    severity = "error"
    message = ("modules in a plain {kind} are not registered: their parameters are never trained, saved or moved "
               "by .to(). Use '{container}(...)'")
    triggers = ("torch", "lightning", "transformers")
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])\n", "a ModuleList"),
        Valid("import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.heads = nn.ModuleDict({'a': nn.Linear(2, 2)})\n        self.body = nn.Sequential(*[nn.ReLU()])\n"),
        Valid("import torch\nimport torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.anchors = [torch.zeros(2), torch.ones(2)]\n        self.names = ['a', 'b']\n",
              "lists of tensors and strings"),
        Valid("import torch.nn as nn\nlayers = [nn.Linear(2, 2), nn.ReLU()]\nmodel = nn.Sequential(*layers)\n",
              "a list outside a module class"),
        Valid("import torch.nn as nn\nclass Trainer:\n    def __init__(self):\n        self.models = [nn.Linear(2, 2)]\n",
              "not a module class"),
        Valid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.conv1 = nn.Conv2d(3, 8, 3)\n        self.conv2 = nn.Conv2d(8, 8, 3)\n"
              "        self.convs = [self.conv1, self.conv2]\n", "references to registered submodules"),
        Valid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.blocks = [nn.Linear(2, 2) for _ in range(3)]\n        self.net = nn.Sequential(*self.blocks)\n",
              "registered through nn.Sequential"),
        Valid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.heads = [nn.Linear(2, 2) for _ in range(3)]\n        for i, head in enumerate(self.heads):\n"
              "            self.add_module(f'head{i}', head)\n", "registered with add_module"),
        Valid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.outputs = []\n        self.handles = []\n    def forward(self, x):\n        self.outputs.append(x)\n"
              "        return x\n", "a list of activations"),
    )
    invalid = (
        Invalid("import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]\n", 5, 23,
                fixed="import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])\n"),
        Invalid("from torch import nn\nclass Block(nn.Module):\n    pass\nclass Net(Block):\n    def __init__(self, n):\n"
                "        super().__init__()\n        self.blocks = [Block() for _ in range(n)]\n", 7, 23,
                fixed="from torch import nn\nclass Block(nn.Module):\n    pass\nclass Net(Block):\n    def __init__(self, n):\n"
                "        super().__init__()\n        self.blocks = nn.ModuleList([Block() for _ in range(n)])\n"),
        Invalid("import torch.nn as nn\nclass Heads(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.heads = {'cls': nn.Linear(8, 10), 'box': nn.Linear(8, 4)}\n", 5, 22,
                fixed="import torch.nn as nn\nclass Heads(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.heads = nn.ModuleDict({'cls': nn.Linear(8, 10), 'box': nn.Linear(8, 4)})\n"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, depth):\n        super().__init__()\n"
                "        self.layers = []\n        for _ in range(depth):\n            self.layers.append(nn.Linear(4, 4))\n"
                "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n        return x\n", 5, 23,
                fixed="import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, depth):\n        super().__init__()\n"
                "        self.layers = nn.ModuleList()\n        for _ in range(depth):\n            self.layers.append(nn.Linear(4, 4))\n"
                "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n        return x\n"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, sizes):\n        super().__init__()\n"
                "        layers = []\n        for a, b in zip(sizes, sizes[1:]):\n            layers.append(nn.Linear(a, b))\n"
                "            layers.append(nn.ReLU())\n        self.layers = layers\n", 9, 23,
                fixed="import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, sizes):\n        super().__init__()\n"
                "        layers = []\n        for a, b in zip(sizes, sizes[1:]):\n            layers.append(nn.Linear(a, b))\n"
                "            layers.append(nn.ReLU())\n        self.layers = nn.ModuleList(layers)\n"),
        Invalid("import pytorch_lightning as pl\nimport torch\nclass Model(pl.LightningModule):\n    def __init__(self):\n"
                "        super().__init__()\n        self.towers = (torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))\n", 6, 24,
                fixed="import pytorch_lightning as pl\nimport torch\nclass Model(pl.LightningModule):\n    def __init__(self):\n"
                "        super().__init__()\n        self.towers = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)])\n"),
    )
    evidence = Evidence(
        bad="import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]\nprint(len(list(MLP().parameters())))\n",
        bad_shows=Outcome(stdout="0"),
        good="import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])\nprint(len(list(MLP().parameters())))\n",
        good_shows=Outcome(stdout="4"),
    )

    def visit_Assign(self, node):
        found = plain_container(self.context, node, MODULES)
        if found is None:
            return
        container = found.torch_container[len("torch."):]  # as the message names it: nn.X
        self.report(found.value, self.message.format(kind=found.container_kind, container=container),
                    fix=wrapped_in_container(self.context, found.value, found.torch_container) if found.fixable else None)
