from typing import Dict, Optional

import libcst as cst

from autogradlint.analysis.grad_mode import GRAD_OFF, ScopeFlow, flows_into, scope_flow, with_mode
from autogradlint.analysis.modules import ModuleAttribute, enclosing_method_class, is_module_class, module_attributes
from autogradlint.analysis.names import target_names
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import iter_tree

class NoGradBlocksUpstream(Rule):
    """
    ## What it does
    Inside `forward` of an `nn.Module` class, flags a trainable submodule called under `no_grad` (or
    `inference_mode`) on a value computed by an earlier trainable submodule, when the block's result is
    what the forward goes on with (the earlier value is not used again).

    ## Why is this bad?
    `no_grad` does not freeze one layer: it cuts the graph. Every layer before the block loses its
    gradients too (`lin0.weight.grad` stays None), not only the one meant to be frozen.

    A stop-gradient branch (a teacher or target head whose input also feeds a trainable branch) keeps the
    earlier layers trained and is not flagged, and neither is an upstream layer the class's own `__init__`
    freezes (`self.X.eval()`, `self.X.requires_grad_(False)`): it loses nothing.

    ## Example
    ```python
    def forward(self, x):
        h = self.encoder(x)
        with torch.no_grad():
            h = self.frozen_block(h)
        return self.head(h)
    ```

    ## Use instead
    ```python
    # in __init__: self.frozen_block.requires_grad_(False)
    def forward(self, x):
        h = self.encoder(x)
        h = self.frozen_block(h)
        return self.head(h)
    ```

    ## Fix safety
    No fix: freezing belongs in `__init__` (`requires_grad_(False)`), a structural change.
    """

    code = "GL206"
    name = "no-grad-blocks-upstream"
    severity = "warning"
    message = ("'self.{layer}' runs under '{mode}' on the output of 'self.{upstream}': the graph is cut here, so "
               "'self.{upstream}' (and every earlier layer) gets no gradients. Freeze it with "
               "'self.{layer}.requires_grad_(False)' instead")
    triggers = ("no_grad", "inference_mode")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.lin0 = nn.Linear(2, 2)\n        self.lin1 = nn.Linear(2, 1)\n        self.lin0.requires_grad_(False)\n"
              "    def forward(self, x):\n        h = self.lin0(x)\n        with torch.no_grad():\n            h = self.lin1(h)\n"
              "        return h * 2\n", "the upstream layer is frozen by __init__: it loses nothing"),
        Valid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.backbone = nn.Linear(4, 4)\n        self.teacher = nn.Linear(4, 4)\n        self.student = nn.Linear(4, 4)\n"
              "    def forward(self, x):\n        f = self.backbone(x)\n        with torch.no_grad():\n            t = self.teacher(f)\n"
              "        s = self.student(f)\n        return s, t\n", "stop-gradient teacher branch"),
        Valid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.frozen = nn.Linear(4, 4)\n        self.head = nn.Linear(4, 2)\n    def forward(self, x):\n"
              "        with torch.no_grad():\n            h = self.frozen(x)\n        return self.head(h)\n",
              "frozen first layer: nothing upstream"),
        Valid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.enc = nn.Linear(4, 4)\n        self.norm = nn.Softmax(-1)\n    def forward(self, x):\n"
              "        h = self.enc(x)\n        with torch.no_grad():\n            w = self.norm(h)\n        return h * w\n",
              "parameter-free layer, and h is used again"),
        Valid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.enc = nn.Linear(4, 4)\n        self.dec = nn.Linear(4, 4)\n    def forward(self, x):\n"
              "        h = self.enc(x)\n        with torch.no_grad():\n            self.stats = self.dec(h)\n        return h\n",
              "monitoring only"),
        Valid("import torch\nclass Net:\n    def forward(self, x):\n        h = self.enc(x)\n        with torch.no_grad():\n"
              "            h = self.dec(h)\n        return h\n", "not an nn.Module"),
        Valid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.enc = nn.Linear(4, 4)\n        self.dec = nn.Linear(4, 4)\n    def encode(self, x):\n"
              "        h = self.enc(x)\n        with torch.no_grad():\n            h = self.dec(h)\n        return h\n",
              "not forward"),
    )
    invalid = (
        Invalid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.lin0 = nn.Linear(2, 2)\n        self.lin1 = nn.Linear(2, 1)\n    def forward(self, x):\n"
                "        h = self.lin0(x)\n        with torch.no_grad():\n            h = self.lin1(h)\n        return h * 2\n", 11, 17),
        Invalid("import torch as th\nimport torch.nn as nn\nclass Model(nn.Module):\n    def __init__(self):\n"
                "        super().__init__()\n        self.encoder = nn.Conv2d(3, 8, 3)\n        self.frozen_block = nn.Conv2d(8, 8, 3)\n"
                "        self.head = nn.Linear(8, 10)\n    def forward(self, x):\n        feats = self.encoder(x).relu()\n"
                "        with th.inference_mode():\n            feats = self.frozen_block(feats)\n"
                "        return self.head(feats.mean((2, 3)))\n", 12, 21),
        Invalid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.embed = nn.Embedding(100, 16)\n        self.rnn = nn.LSTM(16, 16)\n        self.out = nn.Linear(16, 2)\n"
                "    def forward(self, tokens):\n        e = self.embed(tokens)\n        with torch.no_grad():\n"
                "            seq, _ = self.rnn(e)\n        logits = self.out(seq)\n        return logits\n", 12, 22),
    )
    evidence = Evidence(
        bad="import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.lin0 = nn.Linear(2, 2)\n        self.lin1 = nn.Linear(2, 2)\n        self.lin2 = nn.Linear(2, 1)\n"
            "    def forward(self, x):\n        h = self.lin0(x)\n        with torch.no_grad():\n            h = self.lin1(h)\n"
            "        return self.lin2(h)\nnet = Net()\nnet(torch.ones(3, 2)).sum().backward()\nprint(net.lin0.weight.grad)\n",
        bad_shows=Outcome(stdout="None"),
        good="import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.lin0 = nn.Linear(2, 2)\n        self.lin1 = nn.Linear(2, 2).requires_grad_(False)\n"
             "        self.lin2 = nn.Linear(2, 1)\n    def forward(self, x):\n        h = self.lin0(x)\n        h = self.lin1(h)\n"
             "        return self.lin2(h)\nnet = Net()\nnet(torch.ones(3, 2)).sum().backward()\n"
             "print(net.lin0.weight.grad is not None, net.lin1.weight.grad)\n",
        good_shows=Outcome(stdout="True None"),
    )

    def visit_With(self, node: cst.With) -> None:
        mode = with_mode(self.context, node)
        if mode not in GRAD_OFF:
            return
        flow = scope_flow(self.context)
        if flow is None or not isinstance(flow.root, cst.FunctionDef) or flow.root.name.value != "forward":
            return
        klass = enclosing_method_class(self.context.ancestors[: self.context.ancestors.index(flow.root) + 1])
        if klass is None or is_module_class(self.context, klass) is not True:
            return
        attributes = module_attributes(self.context, klass)
        returns = [r.value for r in iter_tree(flow.root.body) if isinstance(r, cst.Return) and r.value is not None]
        for call in iter_tree(node.body):
            if not isinstance(call, cst.Call) or not flow.contains(call) or flow.region_at(call) is not node:
                continue
            layer = _trainable_attribute(call.func, attributes)
            if layer is None or not call.args or call.args[0].keyword is not None:
                continue
            upstream = self._upstream_layer(flow, call.args[0].value, attributes, node)
            if upstream is not None and flows_into(flow, call, returns):
                self.report(call, self.message.format(layer=layer, upstream=upstream, mode=mode))

    def _upstream_layer(self, flow: ScopeFlow, value: cst.BaseExpression, attributes: Dict[str, ModuleAttribute],
                        block: cst.With) -> Optional[str]:
        """The trainable submodule that computed ``value`` before ``block``, when nothing after the block
        uses its output again (so the block is the only way on)."""
        if not isinstance(value, cst.Name):
            return None
        assignment = flow.reaching_binding(value)
        if isinstance(assignment, cst.AugAssign):
            produced, names = assignment, [value.value]  # `h += b`: computed from the earlier h and b
        else:
            produced = flow.unpacked_value(value)
            names = target_names(assignment.targets[0].target) if isinstance(assignment, cst.Assign) else []
        if assignment is None or produced is None or flow.is_inside(assignment, block):
            return None
        layer = _upstream_trainable(flow, produced, attributes, 0)
        if layer is None:
            return None
        for name in names:
            if any(not flow.is_inside(read, block) for read in flow.reads_of(assignment, name)):
                return None  # the earlier output is used again: the block is a side branch
        return layer


def _upstream_trainable(flow: ScopeFlow, value: cst.BaseExpression, attributes: Dict[str, ModuleAttribute],
                        depth: int) -> Optional[str]:
    """A trainable submodule whose output ``value`` is computed from (through calls and earlier names)."""
    for node in iter_tree(value):
        if isinstance(node, cst.Call):
            layer = _trainable_attribute(node.func, attributes, upstream=True)
            if layer is not None:
                return layer
        elif isinstance(node, cst.Name) and depth < 3:
            earlier = flow.assigned_value(node)
            if earlier is not None:
                layer = _upstream_trainable(flow, earlier, attributes, depth + 1)
                if layer is not None:
                    return layer
    return None


def _trainable_attribute(func: cst.BaseExpression, attributes: Dict[str, ModuleAttribute],
                         upstream: bool = False) -> Optional[str]:
    """``X`` when ``func`` is ``self.X`` and ``X`` is a submodule that holds parameters (for an upstream layer:
    parameters the class does not freeze itself, since a frozen layer loses nothing when gradients stop)."""
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
        attribute = attributes.get(func.attr.value)
        if attribute is not None and (attribute.trainable if upstream
                                      else attribute.kind == "module" and attribute.has_parameters):
            return attribute.name
    return None
