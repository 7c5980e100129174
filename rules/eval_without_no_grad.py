import re

import libcst as cst

from autogradlint.analysis.modules import is_module_class, is_module_instance
from autogradlint.analysis.torch_versions import INFERENCE_MODE, torch_at_least
from autogradlint.analysis.training import CALL, EVAL, training_facts
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import iter_tree

# code that computes or controls gradients on purpose: eval() is then not meant for plain inference
_GRAD_WORDS = frozenset({"no_grad", "inference_mode", "set_grad_enabled", "enable_grad", "requires_grad",
                         "requires_grad_", "autograd", "grad", "backward", "detach", "detach_"})
_INFERENCE_NAME = re.compile(r"eval|valid|test|predict|infer|score|accuracy|benchmark|sample|generate|demo", re.I)


class EvalWithoutNoGrad(Rule):
    """
    ## What it does
    Flags `model.eval()` in an inference or validation function (or script) that then runs the model
    (or one of its submodules, `model.features(x)`) with no `torch.no_grad()` / `torch.inference_mode()`
    anywhere and no `backward()`.

    ## Why is this bad?
    `eval()` only switches dropout and batch norm to inference behaviour; it does not stop autograd.
    Every output still has `requires_grad=True` and keeps the whole forward graph (all activations)
    alive: validation uses several times the memory it needs and runs slower. Functions that
    compute gradients on purpose (saliency, adversarial inputs, perceptual losses) mention
    `requires_grad`, `.grad`, `autograd` or `backward` and are not flagged, nor are functions called
    under `no_grad` elsewhere in the file, nor model calls that run under `no_grad` in a helper.

    ## Example
    ```python
    def evaluate(model, loader):
        model.eval()
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    ```

    ## Use instead
    ```python
    @torch.inference_mode()
    def evaluate(model, loader):
        model.eval()
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    ```

    ## Fix safety
    No fix: outputs that must not be inference tensors (they are later used in training) need
    `torch.no_grad()` instead of `torch.inference_mode()`, which only the author knows.

    ## Torch versions
    The finding is the same in every release. `torch.inference_mode` exists since torch 1.9 (the 1.9 release
    notes, "Inference Mode API"); for an older torch the message suggests `torch.no_grad()` only.
    """

    code = "GL401"
    name = "eval-without-no-grad"
    severity = "hint"
    message = ("'{model}.eval()' does not turn off autograd: the model's outputs below still build a graph and hold "
               "its memory. Run them under {context}")
    triggers = ("eval(", "train(false", "train(mode=false")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\ndef evaluate(model, loader):\n    model.eval()\n    with torch.no_grad():\n"
              "        for x in loader:\n            model(x)\n"),
        Valid("import torch\n@torch.inference_mode()\ndef evaluate(model, loader):\n    model.eval()\n    for x in loader:\n"
              "        model(x)\n"),
        Valid("import torch\ndef evaluate(model, loader):\n    model.eval()\n    for x in loader:\n        model(x)\n"
              "with torch.no_grad():\n    evaluate(net, val_loader)\n", "called under no_grad"),
        Valid("import torch\ndef saliency(model, x):\n    model.eval()\n    x.requires_grad_(True)\n    model(x).max().backward()\n"
              "    return x.grad\n", "gradients on purpose"),
        Valid("import torch\nclass Perceptual(torch.nn.Module):\n    def forward(self, a, b):\n        self.vgg.eval()\n"
              "        return ((self.vgg(a) - self.vgg(b)) ** 2).mean()\n", "a loss module needs the graph"),
        Valid("import torch\ndef export(model, path):\n    model.eval()\n    torch.onnx.export(model, example, path)\n",
              "the model is not run here"),
        Valid("import torch\nclass TestNet:\n    def test_eval(self):\n        model.eval()\n        for _ in range(3):\n"
              "            self.assertEqual(model(x), ref(x))\n", "a unit test comparing outputs"),
        Valid("import sklearn\nclf.eval()\nfor x in data:\n    clf(x)\n", "not a torch file"),
        Valid("import torch\nimport torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.features = nn.Linear(4, 4)\n    def describe(self, x):\n        return str(x)\n"
              "def evaluate(model, x):\n    model.eval()\n    return model.describe(x)\nevaluate(Net(), 1)\n",
              "a method of the model, not a submodule: it may compute nothing"),
        Valid("import torch\nclass KNN:\n    def eval(self):\n        return self\n    def __call__(self, x):\n        return x\n"
              "model = KNN()\nmodel.eval()\nfor x in loader:\n    print(model(x))\n", "a scikit-learn-style model of the project"),
        Valid("import torch\nclass Trainer:\n    def _run(self, loader):\n        with torch.no_grad():\n"
              "            return [self.model(x) for x in loader]\n    def validate(self, loader):\n        self.model.eval()\n"
              "        return self._run(loader)\n", "the helper runs the model under no_grad"),
    )
    invalid = (
        Invalid("import torch\ndef evaluate(model, loader):\n    model.eval()\n    correct = 0\n    for x, y in loader:\n"
                "        correct += (model(x).argmax(1) == y).sum().item()\n    return correct\n", 3, 5),
        Invalid("import torch\ndef evaluate(model, loader):\n    model.eval()\n    for x in loader:\n        model(x)\n", 3, 5,
                "torch 1.8 has no inference_mode: the message says no_grad", torch_version="1.8"),
        Invalid("import torch as th\nnet = th.nn.Linear(2, 2)\nnet.eval()\nprint(net(th.ones(1, 2)))\n", 3, 1, "a script"),
        Invalid("import torch\nclass Net(torch.nn.Module):\n    def eval(self):\n        return super().eval()\n"
                "model = Net()\nmodel.eval()\nfor x in loader:\n    print(model(x))\n", 6, 1, "a module of the project with its own eval"),
        Invalid("import torch\nclass Runner:\n    def validate(self):\n        self.model.eval()\n        for batch in self.val_loader:\n"
                "            self.model(batch)\n", 4, 9),
        Invalid("import torch\ndef test(net, data):\n    net.train(False)\n    while data:\n        net.forward(data.pop())\n", 3, 5,
                "train(False), a while loop and forward()"),
        Invalid("import torch\nimport torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.features = nn.Linear(4, 4)\ndef evaluate(model, x):\n    model.eval()\n    return model.features(x)\n"
                "evaluate(Net(), torch.ones(1, 4))\n", 8, 5,
                "a submodule of a model every call site passes"),
    )
    evidence = Evidence(
        bad=("import torch\nmodel = torch.nn.Linear(2, 1)\nmodel.eval()\nout = model(torch.ones(1, 2))\n"
             "print(type(out.grad_fn).__name__)\n"),
        bad_shows=Outcome(stdout="AddmmBackward0"),
        good=("import torch\nmodel = torch.nn.Linear(2, 1)\nmodel.eval()\nwith torch.inference_mode():\n"
              "    out = model(torch.ones(1, 2))\nprint(type(out.grad_fn).__name__)\n"),
        good_shows=Outcome(stdout="NoneType"),
    )

    def visit_Module(self, node):
        facts = training_facts(self.context)
        if not facts.works_with_torch:
            return
        # torch before 1.9 has no inference_mode
        context = _CONTEXTS[torch_at_least(self.context, INFERENCE_MODE)]
        for key, root in facts.roots.items():
            owner = facts.root_nodes[key]
            events = list(facts.occurrences(root))
            for index, (event, frames) in enumerate(events):
                if event.kind != EVAL or event.receiver is None or any(b.kind == "inline" for b, _ in frames):
                    continue
                if self._runs_after(event.receiver, events[index + 1:], owner) and self._is_plain_inference_code(facts, owner):
                    self.report(event.node, self.message.format(model=event.receiver, context=context))

    def _is_plain_inference_code(self, facts, owner) -> bool:
        if isinstance(owner, cst.FunctionDef):
            if owner.name.value in facts.called_without_grad:
                return False
            klass = facts.class_of(owner)
            if klass is not None and is_module_class(self.context, klass) is not False:
                return False  # inside a module, outputs usually feed a loss
            parts = [owner]
        else:
            parts = [s for s in owner.body if not isinstance(s, (cst.FunctionDef, cst.ClassDef))]
        return not any(_mentions_gradients(part) or _checks_outputs(part) for part in parts)

    def _runs_after(self, model, later, owner) -> bool:
        """The model is called later in the function: in a loop, or in an inference function or script."""
        named_for_inference = not isinstance(owner, cst.FunctionDef) or bool(_INFERENCE_NAME.search(owner.name.value))
        for event, frames in later:
            if event.grad_off is True:
                continue  # run under no_grad/inference_mode (in a helper's `with` block, a decorated helper)
            if event.kind == CALL and (event.receiver in (model, model + ".forward")
                                       or self._calls_submodule(model, event, frames)):
                if named_for_inference or any(b.kind == "loop" for b, _ in frames):
                    return True
        return False

    def _calls_submodule(self, model, event, frames) -> bool:
        """``model.features(x)``: a call of an attribute of the model that certainly holds a module."""
        receiver = event.receiver or ""
        if not receiver.startswith(model + ".") or "." in receiver[len(model) + 1:]:
            return False
        if any(b.kind == "inline" for b, _ in frames):
            return False  # the call's names are the helper's
        return is_module_instance(self.context, event.node.func)


_CONTEXTS = {True: "'with torch.inference_mode():' (or 'torch.no_grad()')", False: "'with torch.no_grad():'"}


def _mentions_gradients(node) -> bool:
    """Any name or attribute of the code is one of the gradient words."""
    for child in iter_tree(node):
        if isinstance(child, cst.Name) and child.value in _GRAD_WORDS:
            return True
    return False


def _checks_outputs(node) -> bool:
    """Test code: an ``assert`` or a ``self.assertEqual(...)``-style check (memory does not matter there)."""
    for child in iter_tree(node):
        if isinstance(child, cst.Assert):
            return True
        if isinstance(child, cst.Call) and isinstance(child.func, cst.Attribute) and child.func.attr.value.startswith("assert"):
            return True
    return False
