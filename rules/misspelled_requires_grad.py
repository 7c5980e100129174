import libcst as cst

from autogradlint.analysis.modules import is_self_of_non_module
from autogradlint.analysis.non_tensors import attributes_declared_by_plain_classes, is_option_of_parsed_arguments
from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

_TARGET = "requiresgrad"
# spellings too far from requires_grad for the edit distance below
_KNOWN_MISSPELLINGS = frozenset(
    {"requires_gradient", "require_gradient", "requires_gradients", "require_gradients", "requiresgradient"}
)


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def is_misspelled_requires_grad(attr: str) -> bool:
    """A near miss of ``requires_grad`` (``require_grad``, ``requiresGrad``, ``requires_grads`` ...)."""
    if attr in ("requires_grad", "requires_grad_") or attr.startswith("_"):
        return False
    if attr.lower() in _KNOWN_MISSPELLINGS:
        return True
    normalized = attr.lower().replace("_", "")
    return ("grad" in normalized or "gard" in normalized) and _distance(normalized, _TARGET) <= 2


class MisspelledRequiresGrad(Rule):
    """
    ## What it does
    Flags an assignment to a misspelling of `requires_grad`, such as `p.require_grad = False`,
    `p.requires_grads = False` or `p.requiresGrad = False`.

    ## Why is this bad?
    Tensors accept any new attribute, so the assignment silently creates an unrelated attribute.
    `p.requires_grad` stays `True`: nothing is frozen, and the "frozen" layers keep training.

    ## Example
    ```python
    for p in model.backbone.parameters():
        p.require_grad = False
    ```

    ## Use instead
    ```python
    for p in model.backbone.parameters():
        p.requires_grad = False
    ```

    An attribute that a class of the same file declares itself (`self.require_grad = ...` in a
    class that is not an `nn.Module`, or a class-level `require_grad: bool`) is not flagged.

    ## Fix safety
    Safe: the fix renames the attribute to `requires_grad`, which is what the code meant.
    """

    code = "GL101"
    name = "misspelled-requires-grad"
    severity = "error"
    message = "'{attr}' is not a tensor attribute; nothing is frozen. Did you mean 'requires_grad'?"
    triggers = ("grad", "gard")
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch\np = torch.nn.Parameter(torch.ones(2))\np.requires_grad = False\n"),
        Valid("class Config:\n    def __init__(self):\n        self.require_grad = True\n", "own attribute of a plain class"),
        Valid("from dataclasses import dataclass\n@dataclass\nclass Opts:\n    require_grad: bool = False\nopts = Opts()\nopts.require_grad = True\n",
              "attribute declared by a class of this file"),
        Valid("x = {}\nx['require_grad'] = False\n", "a dict key, not an attribute"),
        Valid("import torch\np = torch.ones(2)\np.requires_grad_(False)\n"),
        Valid("class T:\n    def __init__(self):\n        self._requires_grad = False\n", "private attribute"),
        Valid("import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--require-grad', action='store_true')\n"
              "args = parser.parse_args()\nargs.require_grad = True\n", "an option of parsed arguments"),
        Valid("import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--require-grad', type=int)\n"
              "def setup(args):\n    args.require_grad = 1\nsetup(parser.parse_args())\n", "a declared option, on a parameter"),
    )
    invalid = (
        Invalid("import torch\nmodel = torch.nn.Linear(2, 2)\nfor p in model.parameters():\n    p.require_grad = False\n",
                4, 5, fixed="import torch\nmodel = torch.nn.Linear(2, 2)\nfor p in model.parameters():\n    p.requires_grad = False\n"),
        Invalid("def freeze(layer):\n    layer.weight.requires_grads = False\n", 2, 5,
                fixed="def freeze(layer):\n    layer.weight.requires_grad = False\n"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def freeze(self):\n        for p in self.parameters():\n            p.requiresGrad = False\n",
                5, 13, fixed="import torch.nn as nn\nclass Net(nn.Module):\n    def freeze(self):\n        for p in self.parameters():\n            p.requires_grad = False\n"),
        Invalid("params[0].required_grad = False\n", 1, 1, fixed="params[0].requires_grad = False\n"),
        Invalid("import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--lr')\nargs = parser.parse_args()\n"
                "def freeze(p):\n    p.require_grad = False\n", 6, 5,
                fixed="import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--lr')\nargs = parser.parse_args()\n"
                "def freeze(p):\n    p.requires_grad = False\n"),
        Invalid("for name, p in model.named_parameters():\n    if 'bn' in name:\n        p.requires_gradient = False\n", 3, 9,
                fixed="for name, p in model.named_parameters():\n    if 'bn' in name:\n        p.requires_grad = False\n"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.require_grads = False\n",
                5, 9, fixed="import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.requires_grad = False\n"),
    )
    evidence = Evidence(
        bad="import torch\nlayer = torch.nn.Linear(2, 2)\nfor p in layer.parameters():\n    p.require_grad = False\nprint(all(p.requires_grad for p in layer.parameters()))\n",
        bad_shows=Outcome(stdout="True"),
        good="import torch\nlayer = torch.nn.Linear(2, 2)\nfor p in layer.parameters():\n    p.requires_grad = False\nprint(all(p.requires_grad for p in layer.parameters()))\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Assign(self, node):
        for target in node.targets:
            self._check_target(target.target, node)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self._check_target(node.target, node)

    def _check_target(self, target, statement):
        target_type = type(target)
        if target_type is cst.Tuple or target_type is cst.List:
            for element in target.elements:
                self._check_target(element.value, statement)
            return
        if target_type is not cst.Attribute:
            return
        attr = target.attr.value
        if not is_misspelled_requires_grad(attr):
            return
        if is_self_of_non_module(self.context, target.value):
            return
        if attr in attributes_declared_by_plain_classes(self.context):
            return
        if is_option_of_parsed_arguments(self.context, target.value, attr):
            return
        value = getattr(statement, "value", None)
        message = self.message.format(attr=attr)
        if not (isinstance(value, cst.Name) and value.value == "False"):
            message = message.replace("nothing is frozen", "requires_grad is unchanged")
        self.report(target, message, fix=Replacement(target.attr, cst.Name("requires_grad")))
