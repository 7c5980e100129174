import re
from typing import Optional

import libcst as cst

from autogradlint.analysis.grad_mode import GRAD_OFF, decorator_mode, grad_mode_at, with_mode
from autogradlint.analysis.modules import (
    MODULE_CONTAINERS,
    MODULE_WRAPPERS,
    attribute_values,
    is_module_class,
    local_class,
    own_returns,
)
from autogradlint.analysis.torch_api import SELF_RETURNING_METHODS
from autogradlint.analysis.torch_semantics import functional_follows_mode, layer_changes_with_mode
from autogradlint.analysis.training import EVAL, TRAIN, training_facts
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import nodes_of, own_nodes_of

# torchvision classifiers built with batch norm or dropout
_TORCHVISION_MODELS = re.compile(r"torchvision\.models\.(resnet|resnext|wide_resnet|vgg|densenet|mobilenet|efficientnet|"
                                 r"inception|googlenet|alexnet|squeezenet|shufflenet|mnasnet|regnet)\w*")


class InferenceWithoutEval(Rule):
    """
    ## What it does
    Flags an inference region (`with torch.no_grad():`, `with torch.inference_mode():`, or a function
    decorated with them) that runs a model holding dropout or batch-norm layers (known from its class
    in the same file, an `nn.Sequential` of them, a torchvision classifier, or a function of the file whose
    every `return` builds one of those) when no `model.eval()` comes before it. Which `torch.nn` layers
    change with the mode is torch's answer (the generated table): dropout, batch norm, a transformer
    layer's dropout, `RReLU`; not `Dropout(0.0)` or `BatchNorm1d(n, track_running_stats=False)`, which
    behave the same in both modes.

    ## Why is this bad?
    `no_grad` only stops gradient recording; the model stays in training mode. Dropout keeps dropping
    activations and batch norm normalizes with the statistics of the current batch (and updates its
    running averages): predictions are noisy, change from call to call, and depend on the batch
    composition. An explicit `model.train()` before the region (batch-norm recalibration, MC dropout)
    and auxiliary forward passes inside a training step are not flagged.

    ## Example
    ```python
    model = Net()  # has nn.Dropout
    with torch.no_grad():
        predictions = model(batch)
    ```

    ## Use instead
    ```python
    model = Net()
    model.eval()
    with torch.no_grad():
        predictions = model(batch)
    ```

    ## Fix safety
    No fix: the model must be put back with `model.train()` if training continues afterwards.
    """

    code = "GL404"
    name = "inference-without-eval"
    severity = "hint"
    message = ("'{model}' has dropout or batch-norm layers and runs here in training mode: dropout still drops and "
               "batch norm uses batch statistics. Call '{model}.eval()' before inference")
    triggers = ("no_grad", "inference_mode")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))\nmodel.eval()\n"
              "with torch.no_grad():\n    model(x)\n"),
        Valid("import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\nwith torch.no_grad():\n"
              "    model(x)\n", "no dropout or batch norm"),
        Valid("import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.bn = nn.BatchNorm1d(4)\nnet = Net()\nnet.train()\nwith torch.no_grad():\n"
              "    for x in loader:\n        net(x)\n", "batch-norm recalibration in train mode on purpose"),
        Valid("import torch\nfrom torch import nn\nnet = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))\n"
              "opt = torch.optim.SGD(net.parameters(), lr=0.1)\nfor x in loader:\n    with torch.no_grad():\n"
              "        target = net(x).argmax(1)\n    opt.zero_grad()\n    loss(net(x), target).backward()\n    opt.step()\n",
              "an auxiliary forward inside the training step"),
        Valid("import torch\ndef evaluate(model, loader):\n    with torch.no_grad():\n        for x in loader:\n"
              "            model(x)\n", "the caller decides the mode"),
        Valid("import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).eval()\n"
              "with torch.no_grad():\n    model(x)\n"),
        Valid("import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))\n"
              "def predict(x):\n    with torch.no_grad():\n        return model(x)\nmodel.eval()\nprint(predict(x))\n",
              "a global model put in eval mode elsewhere"),
    )
    invalid = (
        Invalid("import torch\nfrom torch import nn\nmodel = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))\n"
                "with torch.no_grad():\n    out = model(x)\n", 5, 11),
        Invalid("import torch as th\nimport torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.drop = nn.Dropout(0.2)\nclass Wide(Net):\n    pass\ndef test(loader):\n    net = Wide().to('cpu')\n"
                "    with th.inference_mode():\n        for x in loader:\n            net(x)\n", 13, 13,
                "a subclass of a class with dropout"),
        Invalid("import torch\nfrom torch import nn\nclass Block(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.bn = nn.BatchNorm2d(3)\nclass Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.block = Block()\nclass Trainer:\n    def __init__(self):\n        self.model = Model()\n"
                "    @torch.no_grad()\n    def validate(self):\n        for x in self.val:\n            self.model(x)\n", 17, 13,
                "a decorated method; the batch norm sits in a nested block"),
        Invalid("import torch\nimport torchvision\nnet = torchvision.models.resnet18()\nnet = net.to('cpu')\n"
                "def main():\n    with torch.no_grad():\n        print(net(images))\n", 7, 15, "a torchvision classifier"),
    )
    evidence = Evidence(
        bad=("import torch\ntorch.manual_seed(0)\nmodel = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5))\n"
             "x = torch.ones(1, 4)\nwith torch.no_grad():\n    a = model(x)\n    b = model(x)\nprint(torch.equal(a, b))\n"),
        bad_shows=Outcome(stdout="False"),
        good=("import torch\ntorch.manual_seed(0)\nmodel = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5))\n"
              "x = torch.ones(1, 4)\nmodel.eval()\nwith torch.no_grad():\n    a = model(x)\n    b = model(x)\nprint(torch.equal(a, b))\n"),
        good_shows=Outcome(stdout="True"),
    )

    def visit_With(self, node):
        if with_mode(self.context, node) in GRAD_OFF and grad_mode_at(self.context) not in GRAD_OFF:
            self._check_region(node.body, _enclosing_function(self.context.ancestors), self.context.ancestors)

    def visit_FunctionDef(self, node):
        if decorator_mode(self.context, node) in GRAD_OFF:
            self._check_region(node.body, node, [*self.context.ancestors, node])

    def _check_region(self, body, function, ancestors) -> None:
        facts = training_facts(self.context)
        if not facts.works_with_torch:
            return
        owner = function if function is not None else self.context.module
        root = facts.roots.get(id(owner))
        if root is None:
            return
        call, model, elsewhere = self._first_mode_dependent_call(facts, body, function)
        if call is None or _switched_on_purpose(facts, root, model):
            return
        # a model bound outside this function (a global, an attribute, a caller's argument) may be
        # switched to eval anywhere before the call
        if any(_switched_on_purpose(facts, facts.roots[id(other)], text) for other, text in elsewhere):
            return
        if not _has_loop(body) and self._in_training_step(facts, root, ancestors):
            return
        self.report(call, self.message.format(model=model))

    def _in_training_step(self, facts, root, ancestors) -> bool:
        """The region sits in a loop body (or, outside loops, a function body) that also trains."""
        for node in reversed(ancestors):
            if isinstance(node, (cst.For, cst.While)):
                loop = facts.loops.get(id(node))
                return loop is not None and facts.trains(loop.blocks[0])
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                break
        return facts.trains(root, loops=False)

    def _first_mode_dependent_call(self, facts, body, function):
        """The first call in the region of a model with dropout/batch norm: (call, model text, and the
        (root, model text) pairs outside the function where its mode may be switched)."""
        module = self.context.module
        for node in own_nodes_of(body, (cst.Call,)):
            func = node.func
            if type(func) is cst.Name:
                found = self._name_model(facts, func, function)
                if found is not None:
                    return node, module.code_for_node(func), found
            elif type(func) is cst.Attribute and type(func.value) is cst.Name and func.value.value == "self" \
                    and function is not None:
                values = self._attribute_values(facts, func, function)
                if values:
                    text = module.code_for_node(func)
                    if self._all_mode_dependent(values, text):
                        return node, text, [(other, text) for other in facts.root_nodes.values()]
        return None, None, []

    def _name_model(self, facts, name: cst.Name, function, seen=()):
        """For a name bound to a model with dropout/batch norm (directly, or as a parameter every caller
        fills with such a model): the (root, model text) pairs outside ``function`` to check; None otherwise."""
        bindings = self.context.names.bindings_of(name)
        if not bindings:
            return None
        if len(bindings) == 1 and bindings[0].kind == "param" and function is not None:
            return None if function in seen else self._argument_models(facts, name.value, function, (*seen, function))
        if any(b.kind != "assign" or not isinstance(b.node, cst.Assign) for b in bindings):
            return None
        if not self._all_mode_dependent([b.node.value for b in bindings], name.value):
            return None
        scope = self.context.names.scope_of(function) if function is not None else None
        if function is None or (scope is not None and name.value in scope.bindings):
            return []
        return [(other, name.value) for other in facts.root_nodes.values()]

    def _argument_models(self, facts, parameter: str, function, seen):
        """Every call of ``function`` in this file passes, for ``parameter``, a name bound in the caller to
        a model with dropout/batch norm: the (caller, argument text) pairs; None otherwise."""
        params = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
        found = []
        for caller, call in facts.call_sites.get(id(function), []):
            argument = _argument_for(call, params, parameter)
            if not isinstance(argument, cst.Name):
                return None
            elsewhere = self._name_model(facts, argument, caller if isinstance(caller, cst.FunctionDef) else None, seen)
            if elsewhere is None:
                return None
            found.extend([(caller, argument.value), *elsewhere])
        return found or None

    def _attribute_values(self, facts, attribute: cst.Attribute, function):
        """The values the function's class assigns to ``self.<attr>`` (None entries: values not followed)."""
        klass = facts.class_of(function)
        if klass is None:
            return None
        return attribute_values(self.context, klass, attribute.attr.value)

    def _all_mode_dependent(self, values, model_text: str) -> bool:
        """Every assigned value builds a model with dropout/batch norm (or re-wraps the same model)."""
        built = False
        for value in values:
            verdict = self._builds_mode_dependent(value, model_text)
            if verdict is False or verdict is None:
                return False
            built = built or verdict == "built"
        return built

    def _builds_mode_dependent(self, value, model_text: str):
        """'built' for a constructor of a mode-dependent model, 'same' for a re-wrap of the model
        itself (``model = model.to(device)``), False or None otherwise."""
        while isinstance(value, cst.Call):
            func = value.func
            if isinstance(func, cst.Attribute) and func.attr.value == "eval":
                return False
            if isinstance(func, cst.Attribute) and func.attr.value in SELF_RETURNING_METHODS:
                value = func.value  # `Net().to(device)` is the same module
                continue
            name = self.context.qualified_name(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
            if name in MODULE_WRAPPERS and value.args:
                value = value.args[0].value
                continue
            return "built" if self._is_mode_dependent_call(value, set()) else None
        if isinstance(value, (cst.Name, cst.Attribute)) and self.context.module.code_for_node(value) == model_text:
            return "same"
        return None

    def _is_mode_dependent_call(self, call: cst.Call, seen: set) -> bool:
        """A call that certainly builds a module with dropout or batch-norm layers."""
        func = call.func
        if not isinstance(func, (cst.Name, cst.Attribute)):
            return False
        name = self.context.qualified_name(func) or ""
        if layer_changes_with_mode(name, call):
            return True
        if _TORCHVISION_MODELS.fullmatch(name):
            return True
        if name in MODULE_CONTAINERS:
            return any(n is not call and self._is_mode_dependent_call(n, seen) for n in nodes_of(call, (cst.Call,)))
        if type(func) is cst.Name:
            binding = self.context.names.binding_of(func)
            if binding is not None and binding.kind == "def" and type(binding.node) is cst.FunctionDef:
                return self._returns_mode_dependent(binding.node, seen)
        klass = local_class(self.context, func)
        return klass is not None and self._is_mode_dependent_class(klass, seen)

    def _returns_mode_dependent(self, function: cst.FunctionDef, seen: set) -> bool:
        """A builder of this file (``def build(): return nn.Sequential(..., nn.Dropout(0.5))``) whose every
        ``return`` builds a model with dropout or batch norm."""
        if id(function) in seen:
            return False
        seen.add(id(function))
        returns = own_returns(function)
        return bool(returns) and all(isinstance(value, cst.Call) and self._is_mode_dependent_call(value, set(seen))
                                     for value in returns)

    def _is_mode_dependent_class(self, klass: cst.ClassDef, seen: set) -> bool:
        if id(klass) in seen:
            return False
        seen.add(id(klass))
        if is_module_class(self.context, klass) is not True:
            return False
        for base in klass.bases:
            local = local_class(self.context, base.value)
            if local is not None and self._is_mode_dependent_class(local, seen):
                return True
        for node in nodes_of(klass.body, (cst.Call,)):
            if type(node.func) is cst.Name or type(node.func) is cst.Attribute:
                name = self.context.qualified_name(node.func) or ""
                if functional_follows_mode(name) and any(
                        a.keyword is not None and a.keyword.value == "training" for a in node.args):
                    return True  # F.dropout(x, p, training=self.training) follows the mode
            if self._is_mode_dependent_call(node, seen):
                return True
        return False


def _switched_on_purpose(facts, root, model: str) -> bool:
    """The root puts the model in eval mode, or in train mode without training it (batch-norm
    recalibration, MC dropout)."""
    modes = [e.kind for e in facts.events_in(root) if e.kind in (EVAL, TRAIN) and _related(model, e.receiver)]
    return EVAL in modes or (TRAIN in modes and not facts.trains(root))


def _argument_for(call: cst.Call, params, parameter: str):
    """The argument a call passes for ``parameter`` (None when not certain)."""
    for index, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is not None:
            if arg.keyword.value == parameter:
                return arg.value
        elif index < len(params) and params[index] == parameter:
            return arg.value
    return None


def _related(model: str, receiver: Optional[str]) -> bool:
    """A mode switch on the model, on a module holding it (``self.eval()``) or on part of it."""
    if receiver is None:
        return False
    return model == receiver or model.startswith(receiver + ".") or receiver.startswith(model + ".")


def _enclosing_function(ancestors):
    for node in reversed(ancestors):
        if isinstance(node, cst.FunctionDef):
            return node
        if isinstance(node, cst.ClassDef):
            return None
    return None


_LOOPS = (cst.For, cst.While)


def _has_loop(body) -> bool:
    return bool(own_nodes_of(body, _LOOPS))
