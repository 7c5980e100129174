from typing import Optional

import libcst as cst

from autogradlint.analysis.grad_mode import (
    ENABLED_OR_CALLER,
    GRAD_OFF,
    GradOffValue,
    backward_target,
    has_grad_switch,
    mode_of_expression,
    scope_flow,
)
from autogradlint.analysis.modules import enclosing_method_class, is_module_class, module_attributes
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import iter_tree


class NoGradDecoratedForward(Rule):
    """
    ## What it does
    Flags `@torch.no_grad()` / `@torch.inference_mode()` (with or without parentheses) on `forward` of an
    `nn.Module` class whose forward uses its own trainable state (calls a submodule that has parameters,
    or reads an `nn.Parameter` attribute), and on any function that computes a loss and calls
    `.backward()` on it.

    ## Why is this bad?
    Every call of the decorated function runs with grad off: the forward output has no `grad_fn`, the
    module's parameters never receive gradients, and `backward()` raises
    `RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn`.

    Parameter-free forwards (matchers, positional encodings, feature front-ends) are legitimate, as are
    submodules the class's own `__init__` freezes (`self.model.eval()`, `self.model.requires_grad_(False)`, a loop
    setting its parameters' `requires_grad = False`: a metric's pretrained feature extractor), and so is
    a decorated function that only calls `optimizer.step()` (the step runs without grad anyway).

    ## Example
    ```python
    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(128, 10)

        @torch.no_grad()
        def forward(self, x):
            return self.fc(x)
    ```

    ## Use instead
    ```python
    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(128, 10)

        def forward(self, x):
            return self.fc(x)

    # and wrap inference calls instead: `with torch.no_grad(): model(x)`
    ```

    ## Fix safety
    No fix: where inference should switch grad off is the author's call.

    ## Torch versions
    Decorators with parentheses are flagged for every release. A bare `@torch.no_grad` /
    `@torch.inference_mode` is flagged only for torch 2.1 and newer: before 2.1 the bare decorator raises
    `TypeError` when the `def` runs (GL201 reports that; see `autogradlint rule GL201` for the source), so the
    function never runs without grad.
    """

    code = "GL205"
    name = "no-grad-decorated-forward"
    severity = "error"
    message = ("'{decorator}' switches grad off in every call of '{function}', which {why}: nothing upstream "
               "gets gradients and backward raises. Remove the decorator and wrap inference calls instead")
    triggers = ("no_grad", "inference_mode")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nfrom torch import nn\nclass PositionalEncoding(nn.Module):\n    def __init__(self, d):\n"
              "        super().__init__()\n        self.register_buffer('pe', torch.zeros(1, d))\n"
              "    @torch.no_grad()\n    def forward(self, x):\n        return x + self.pe\n", "parameter-free forward"),
        Valid("import torch\nfrom torch import nn\nclass Matcher(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.cost_class = 1.0\n    @torch.no_grad()\n    def forward(self, outputs, targets):\n"
              "        return torch.cdist(outputs, targets).argmin(-1)\n", "a matcher"),
        Valid("import torch\n@torch.no_grad()\ndef apply_update(optimizer, scheduler):\n    optimizer.step()\n"
              "    scheduler.step()\n", "only the optimizer step"),
        Valid("import torch\nfrom torch import nn\nclass Frontend(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.pool = nn.AvgPool1d(4)\n        self.act = nn.ReLU()\n    @torch.no_grad()\n"
              "    def forward(self, wav):\n        return self.act(self.pool(wav))\n", "feature front-end without parameters"),
        Valid("import torch\n@torch.no_grad()\ndef backward_hook(loss):\n    loss.backward()\n",
              "the loss was built by the caller with grad on"),
        Valid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.fc = nn.Linear(2, 2)\n    def forward(self, x):\n        return self.fc(x)\n"
              "    @torch.no_grad()\n    def predict(self, x):\n        return self.fc(x).argmax(-1)\n", "an inference method"),
        Valid("import torch\nclass Net:\n    def __init__(self):\n        self.fc = make_layer()\n"
              "    @torch.no_grad()\n    def forward(self, x):\n        return self.fc(x)\n", "not an nn.Module"),
        Valid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.fc = nn.Linear(2, 2)\n    @torch.enable_grad()\n    def forward(self, x):\n        return self.fc(x)\n"),
    )
    valid += (
        Valid("import torch as th\nimport torch.nn as nn\nclass Scale(nn.Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.gain = nn.Parameter(th.ones(3))\n    @th.inference_mode\n"
              "    def forward(self, x):\n        return x * self.gain\n",
              "before torch 2.1 the bare decorator raises TypeError (GL201), it never runs the forward", torch_version="2.0"),
        Valid("import torch\nfrom torch import nn\nclass FeatureExtractor(nn.Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.model = nn.Linear(4, 2)\n        self.model.eval()\n"
              "    @torch.no_grad()\n    def forward(self, x):\n        return self.model(x)\n",
              "a metric's pretrained feature extractor: its __init__ puts the submodule in eval mode (ignite's InceptionModel)"),
        Valid("import torch\nfrom torch import nn\nclass Teacher(nn.Module):\n    def __init__(self, net):\n"
              "        super().__init__()\n        self.net = nn.Linear(4, 2)\n        for p in self.net.parameters():\n"
              "            p.requires_grad = False\n    @torch.no_grad()\n    def forward(self, x):\n        return self.net(x)\n",
              "a frozen teacher: __init__ switches the submodule's gradients off"),
    )
    invalid = (
        Invalid("import torch\nfrom torch import nn\nclass Classifier(nn.Module):\n    def __init__(self):\n"
                "        super().__init__()\n        self.fc = nn.Linear(128, 10)\n    @torch.no_grad()\n"
                "    def forward(self, x):\n        return self.fc(x)\n", 7, 5),
        Invalid("import torch as th\nimport torch.nn as nn\nclass Scale(nn.Module):\n    def __init__(self):\n"
                "        super().__init__()\n        self.gain = nn.Parameter(th.ones(3))\n    @th.inference_mode\n"
                "    def forward(self, x):\n        return x * self.gain\n", 7, 5),
        Invalid("import torch\nfrom torch.nn import Module, Conv2d, ReLU\nclass Block(Module):\n    def __init__(self):\n"
                "        super().__init__()\n        self.conv = Conv2d(3, 8, 3)\n        self.act = ReLU()\n"
                "    @staticmethod\n    def helper():\n        pass\n    @torch.no_grad\n    def forward(self, x):\n"
                "        return self.act(self.conv(x))\n", 11, 5),
        Invalid("import torch\n@torch.no_grad()\ndef train_step(model, batch, optimizer):\n"
                "    loss = model(batch).mean()\n    loss.backward()\n    optimizer.step()\n", 2, 1),
        Invalid("from torch import inference_mode\nclass Trainer:\n    @inference_mode()\n    def fit_batch(self, x, y):\n"
                "        out = self.model(x)\n        loss = ((out - y) ** 2).mean()\n        loss.backward()\n", 3, 5),
    )
    invalid += (
        Invalid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n"
                "        super().__init__()\n        self.model = nn.Linear(4, 2)\n    def freeze(self):\n"
                "        self.model.eval()\n    @torch.no_grad()\n    def forward(self, x):\n        return self.model(x)\n",
                9, 5),
        Invalid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n"
                "        super().__init__()\n        self.backbone = nn.Linear(4, 4)\n        self.head = nn.Linear(4, 2)\n"
                "        self.backbone.eval()\n    @torch.no_grad()\n    def forward(self, x):\n"
                "        return self.head(self.backbone(x))\n", 9, 5),
    )
    evidence = Evidence(
        bad="import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.fc = nn.Linear(3, 1)\n    @torch.no_grad()\n    def forward(self, x):\n        return self.fc(x)\n"
            "Net()(torch.ones(2, 3)).sum().backward()\n",
        bad_shows=Outcome(raises="RuntimeError", message="does not require grad and does not have a grad_fn"),
        good="import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.fc = nn.Linear(3, 1)\n    def forward(self, x):\n        return self.fc(x)\nnet = Net()\n"
             "net(torch.ones(2, 3)).sum().backward()\nprint(net.fc.weight.grad is not None)\n",
        good_shows=Outcome(stdout="True"),
    )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        decorator = _grad_off_decorator(self.context, node)
        if decorator is None or has_grad_switch(self.context, node):
            return
        why = self._trainable_state(node) or self._backward_of_own_loss(node)
        if why is not None:
            shown = "@" + self.context.module.code_for_node(decorator.decorator)
            self.report(decorator, self.message.format(decorator=shown, function=node.name.value, why=why))

    def _trainable_state(self, function: cst.FunctionDef) -> Optional[str]:
        """Why a module's decorated ``forward`` needs grad: the trainable attribute it uses."""
        if function.name.value != "forward":
            return None
        klass = enclosing_method_class(self.context.ancestors + [function])
        if klass is None or is_module_class(self.context, klass) is not True:
            return None
        attributes = module_attributes(self.context, klass)
        for node in iter_tree(function.body):
            if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
                attribute = attributes.get(node.attr.value)
                if attribute is None:
                    continue
                if attribute.kind == "parameter":
                    return f"uses the parameter 'self.{attribute.name}'"
                if attribute.trainable:
                    return f"runs the trainable submodule 'self.{attribute.name}'"
        return None

    def _backward_of_own_loss(self, function: cst.FunctionDef) -> Optional[str]:
        """Why a decorated function needs grad: it calls backward on a loss it computes."""
        flow = scope_flow(self.context, function)
        for call in flow.calls:
            target = backward_target(self.context, call)
            if target is None or flow.region_at(call) is not function:
                continue
            value = flow.grad_off_value(target)
            if isinstance(value, GradOffValue) and flow.is_inside(value.node, function):
                return "computes a loss and calls backward on it"
        return None


def _grad_off_decorator(context, function: cst.FunctionDef) -> Optional[cst.Decorator]:
    """The decorator that puts the function's body under no_grad/inference_mode (the innermost one)."""
    for decorator in reversed(function.decorators):
        mode = mode_of_expression(context, decorator.decorator, as_decorator=True)
        if mode is not None and mode != ENABLED_OR_CALLER:
            return decorator if mode in GRAD_OFF else None
    return None
