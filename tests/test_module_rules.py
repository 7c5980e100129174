"""Module knowledge (autogradlint.analysis.modules) and the rules built on it: GL102, GL109, GL110, GL602, GL701,
on whole model files and training scripts."""
import libcst as cst
import pytest

from autogradlint.analysis import modules
from autogradlint.context import LintContext
from autogradlint.rules.module_requires_grad_attribute import ModuleRequiresGradAttribute
from autogradlint.rules.modules_in_plain_container import ModulesInPlainContainer
from autogradlint.rules.parameters_not_called import ParametersNotCalled
from autogradlint.rules.requires_grad_on_generator import RequiresGradOnGenerator
from autogradlint.rules.script_module_requires_grad import ScriptModuleRequiresGrad
from autogradlint.walk import iter_tree

from conftest import lint

FAMILY = [ModuleRequiresGradAttribute, ParametersNotCalled, RequiresGradOnGenerator, ModulesInPlainContainer,
          ScriptModuleRequiresGrad]


def found(source, rules=FAMILY):
    return [(d.code, d.line, d.column) for d in lint(source, rules)]


def probe(source):
    """The context and every expression statement's value (the probes) of ``source``, in order."""
    module = cst.parse_module(source)
    context = LintContext("probe.py", module)
    probes = [n.value for n in iter_tree(module) if isinstance(n, cst.Expr)]
    return context, probes


# ------------------------------------------------------------------------------------------------
# the analysis


MODEL_FILE = """
import copy
import torch
import torch.nn as nn
from torch.nn import Linear
import torchvision
import timm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.act = nn.GELU()
        self.scale = 0.5
    def forward(self, x):
        self.fc
        self.scale
        return self.act(self.fc(x))

def make_block(d):
    return Block(d)

model = Block(4)
model = model.to("cpu")
model
make_block(2)
torchvision.models.resnet18(weights=None)
timm.create_model("resnet18").eval()
AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
AutoTokenizer.from_pretrained("bert-base-uncased")
copy.deepcopy(model)
Linear(2, 2)
nn.functional.relu
torch.jit.trace(model, torch.ones(1, 4))
"""


def test_module_instances_in_a_model_file():
    context, probes = probe(MODEL_FILE)
    verdicts = [modules.is_module_instance(context, p) for p in probes]
    # super().__init__(), self.fc, self.scale, model, make_block(2), resnet18, timm, transformers model, tokenizer,
    # deepcopy, Linear, nn.functional.relu, a traced module
    assert verdicts == [False, True, False, True, True, True, True, True, False, True, True, False, True]


def test_names_rebound_to_something_else_are_not_modules():
    context, probes = probe(
        "import torch.nn as nn\n"
        "if cond:\n    a = nn.Linear(2, 2)\nelse:\n    a = None\na\n"
        "b = nn.Linear(2, 2)\nfor b in range(3):\n    pass\nb\n"
        "def f(c):\n    c\n"
        "def g(d: nn.Module = None):\n    d\n"
        "def h(e: nn.Module):\n    e\n"
    )
    assert [modules.is_module_instance(context, p) for p in probes] == [False, False, False, False, True]


def test_loop_variables_and_container_items():
    context, probes = probe(
        "import torch.nn as nn\nnet = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\n"
        "for m in net.modules():\n    m\n"
        "for name, c in net.named_children():\n    c\n    name\n"
        "for layer in net:\n    layer\n"
        "net[0]\n"
        "heads = nn.ModuleDict({'a': nn.Linear(2, 2)})\n"
        "for key in heads:\n    key\n"
        "for head in heads.values():\n    head\n"
    )
    assert [modules.is_module_instance(context, p) for p in probes] == [True, True, False, True, True, False, True]


def test_script_modules():
    context, probes = probe(
        "import torch\nfrom torch import jit\n"
        "a = torch.jit.script(torch.nn.Linear(2, 2))\na\n"
        "b = jit.load('m.pt').eval()\nb\n"
        "c = torch.jit.trace(torch.nn.Linear(2, 2), torch.ones(1, 2))\nc\n"
        "def f(x):\n    return x\n"
        "d = torch.jit.script(f)\nd\n"
        "def g(model):\n    e = torch.jit.script(model)\n    e\n"
    )
    assert [modules.is_script_module(context, p) for p in probes] == [True, True, False, False, True]
    # a script of an unknown argument may be a function: not certainly a module
    assert [modules.is_module_instance(context, p) for p in probes] == [True, True, True, False, False]


def test_module_attributes_and_parameters():
    source = """
import torch
import torch.nn as nn

class Free(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.1)
        self.bn = nn.BatchNorm2d(8, affine=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.size = 3

class Net(nn.Module):
    def __init__(self, use_bn):
        super().__init__()
        self.stem = self._make_stem()
        self.free = Free()
        self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
        self.alpha = nn.Parameter(torch.zeros(1))
        self.register_buffer("mean", torch.zeros(3))
        self.norm = nn.BatchNorm1d(4) if use_bn else nn.Identity()
        self.maybe = nn.Linear(4, 4) if use_bn else None
        self.cache = []

    def _make_stem(self):
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
"""
    module = cst.parse_module(source)
    context = LintContext("m.py", module)
    classes = {c.name.value: c for c in iter_tree(module) if isinstance(c, cst.ClassDef)}
    free = modules.module_attributes(context, classes["Free"])
    assert {k: (a.kind, a.has_parameters) for k, a in free.items()} == {
        "act": ("module", False), "drop": ("module", False), "bn": ("module", False), "pool": ("module", False),
        "size": ("other", None)}
    assert modules.class_has_parameters(context, classes["Free"]) is False
    net = modules.module_attributes(context, classes["Net"])
    assert {k: (a.kind, a.class_name, a.has_parameters) for k, a in net.items()} == {
        "stem": ("module", "torch.nn.Sequential", True),
        "free": ("module", "Free", False),
        "blocks": ("module", "torch.nn.ModuleList", True),
        "alpha": ("parameter", None, True),
        "mean": ("other", None, None),
        "norm": ("module", None, None),
        "maybe": ("other", None, None),
        "cache": ("other", None, None),
    }
    assert modules.class_has_parameters(context, classes["Net"]) is True


@pytest.mark.parametrize("layer,expected", [
    ("nn.Linear(2, 2, bias=False)", True), ("nn.Conv2d(3, 8, 3)", True), ("nn.LSTM(4, 4)", True),
    ("nn.Embedding(10, 4)", True), ("nn.LayerNorm(4)", True), ("nn.LayerNorm(4, elementwise_affine=False)", False),
    ("nn.InstanceNorm2d(4)", False), ("nn.InstanceNorm2d(4, affine=True)", True), ("nn.GroupNorm(2, 4)", True),
    ("nn.BatchNorm2d(4, 1e-5, 0.1, False)", False), ("nn.BatchNorm2d(4, affine=flag)", None),
    ("nn.ReLU(inplace=True)", False), ("nn.MaxPool2d(2)", False), ("nn.Flatten()", False), ("nn.Softmax(-1)", False),
    ("nn.CrossEntropyLoss()", False), ("nn.Sequential(nn.ReLU(), nn.Dropout())", False),
    ("nn.Sequential(nn.ReLU(), nn.Linear(2, 2))", True), ("nn.Sequential(*layers)", None), ("nn.ModuleList()", None),
    ("nn.PReLU()", True), ("nn.MultiheadAttention(8, 2)", True), ("nn.Upsample(scale_factor=2)", False),
])
def test_layer_parameters(layer, expected):
    context, probes = probe(f"import torch.nn as nn\n{layer}\n")
    assert modules.module_instance(context, probes[0]).has_parameters is expected


# ------------------------------------------------------------------------------------------------
# the rules on realistic files

FINE_TUNING_SCRIPT = """
import torch
import torch.nn as nn
import torchvision

class Classifier(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.backbone = torchvision.models.resnet50(weights="DEFAULT")
        self.backbone.fc = nn.Identity()
        self.heads = [nn.Linear(2048, num_classes) for _ in range(3)]
        self.dropout = nn.Dropout(0.2)

    def freeze_backbone(self):
        self.backbone.requires_grad = False

    def forward(self, x):
        features = self.dropout(self.backbone(x))
        return torch.stack([head(features) for head in self.heads]).mean(0)


def main(loader, epochs=3):
    model = Classifier(10)
    model.freeze_backbone()
    optimizer = torch.optim.AdamW(model.parameters, lr=1e-4)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        for images, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
    scripted = torch.jit.script(model)
    scripted.requires_grad_(False)
    scripted.save("model.pt")
"""


def test_fine_tuning_script():
    assert found(FINE_TUNING_SCRIPT) == [
        ("GL602", 11, 22),  # heads in a plain list comprehension
        ("GL102", 15, 9),  # self.backbone.requires_grad = False
        ("GL109", 25, 35),  # model.parameters without ()
        ("GL701", 34, 5),  # requires_grad_ on a ScriptModule
    ]


CORRECT_MODEL_FILE = """
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, dims, requires_grad=True):
        super().__init__()
        self.requires_grad = requires_grad
        layers = []
        for a, b in zip(dims, dims[1:]):
            layers.append(nn.Linear(a, b))
            layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        self.skips = [self.net[0], self.net[2]]
        self.anchors = [torch.zeros(2), torch.ones(2)]
        self.blocks = nn.ModuleList()
        for _ in range(2):
            self.blocks.append(nn.Linear(dims[-1], dims[-1]))
        if not requires_grad:
            for p in self.parameters():
                p.requires_grad = False

    def forward(self, x):
        if not self.requires_grad:
            x = x.detach()
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return x, features


class Toy:
    def __init__(self, w):
        self.parameters = [w]
        self.requires_grad = True

    def step(self, lr):
        for p in self.parameters:
            p.data -= lr * p.grad


def freeze(model):
    model.requires_grad = False
    for p in model.parameters():
        p.requires_grad = False


encoder = Encoder([4, 8, 8])
encoder.requires_grad_(False)
traced = torch.jit.trace(encoder, torch.ones(1, 4))
traced.requires_grad_(True)
params = list(encoder.parameters())
params[0].requires_grad = True
"""


def test_correct_model_file_is_clean():
    assert found(CORRECT_MODEL_FILE) == []


def test_freezing_loop_over_submodules():
    source = (
        "import torch.nn as nn\n"
        "class UNet(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.down = nn.ModuleList([nn.Conv2d(3, 8, 3), nn.Conv2d(8, 16, 3)])\n"
        "        self.up = nn.ModuleList([nn.ConvTranspose2d(16, 8, 2)])\n"
        "    def freeze_encoder(self):\n"
        "        for layer in self.down:\n"
        "            layer.requires_grad = False\n"
        "        for name, child in self.named_children():\n"
        "            if name == 'up':\n"
        "                child.parameters().requires_grad = True\n"
        "        self.down[0].requires_grad = False\n"
    )
    assert found(source) == [("GL102", 9, 13), ("GL110", 12, 17), ("GL102", 13, 9)]


def test_lightning_module():
    source = (
        "import lightning as L\n"
        "import torch\n"
        "from torch import nn\n"
        "class LitModel(L.LightningModule):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.towers = {'a': nn.Linear(4, 2), 'b': nn.Linear(4, 2)}\n"
        "        self.loss = nn.MSELoss()\n"
        "    def configure_optimizers(self):\n"
        "        return torch.optim.Adam(self.parameters, lr=1e-3)\n"
    )
    assert found(source) == [("GL602", 7, 23), ("GL109", 10, 33)]


def test_chainer_and_toy_frameworks_are_silent():
    source = (
        "import chainer\n"
        "import chainer.links as L\n"
        "class MLP(chainer.Chain):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.layers = [L.Linear(2, 2)]\n"
        "        self.requires_grad = False\n"
        "model = MLP()\n"
        "for p in model.parameters:\n"
        "    p.requires_grad = False\n"
        "model.params().requires_grad = False\n"
    )
    assert found(source) == []


def test_modules_registered_later_are_not_flagged():
    source = (
        "import torch.nn as nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, n):\n"
        "        super().__init__()\n"
        "        self.experts = [nn.Linear(4, 4) for _ in range(n)]\n"
        "        self.experts = nn.ModuleList(self.experts)\n"
        "        convs = [nn.Conv2d(3, 3, 1) for _ in range(n)]\n"
        "        for i, conv in enumerate(convs):\n"
        "            setattr(self, f'conv{i}', conv)\n"
    )
    assert found(source, [ModulesInPlainContainer]) == []


def test_local_list_handed_to_sequential_is_not_flagged():
    source = (
        "import torch.nn as nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        layers = [nn.Linear(2, 2)]\n"
        "        layers.append(nn.ReLU())\n"
        "        self.layers = layers\n"
        "        self.model = nn.Sequential(*layers)\n"
    )
    assert found(source, [ModulesInPlainContainer]) == []


def test_dict_filled_by_item_assignment():
    source = (
        "import torch.nn as nn\n"
        "class MultiTask(nn.Module):\n"
        "    def __init__(self, tasks):\n"
        "        super().__init__()\n"
        "        self.heads = {}\n"
        "        for task in tasks:\n"
        "            self.heads[task] = nn.Linear(8, 2)\n"
    )
    assert found(source) == [("GL602", 5, 22)]


def test_parameters_not_called_in_various_consumers():
    source = (
        "import torch\n"
        "model = torch.nn.Linear(2, 2)\n"
        "n = len(model.parameters)\n"
        "everything = [*model.buffers]\n"
        "pairs = dict(model.named_parameters)\n"
        "if model.weight in model.parameters:\n"
        "    pass\n"
        "trainable = filter(lambda p: p.requires_grad, model.parameters)\n"
        "getter = model.parameters\n"
        "print(model.modules.__doc__)\n"
    )
    assert found(source, [ParametersNotCalled]) == [
        ("GL109", 3, 9), ("GL109", 4, 16), ("GL109", 5, 14), ("GL109", 6, 20), ("GL109", 8, 47)]


def test_cycles_in_names_factories_and_attributes_stay_silent():
    source = (
        "import torch.nn as nn\n"
        "a = b\n"
        "b = a\n"
        "a.requires_grad = False\n"
        "def build():\n"
        "    return build()\n"
        "build().requires_grad = False\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.x = self.y\n"
        "        self.y = self.x\n"
        "    def freeze(self):\n"
        "        self.x.requires_grad = False\n"
    )
    assert found(source) == []


def test_rebinding_through_wrappers_keeps_the_module():
    source = (
        "import torch\n"
        "import torch.nn as nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(2, 2)\n"
        "model = Net()\n"
        "model = nn.DataParallel(model)\n"
        "model = model.cuda()\n"
        "model.module.fc.requires_grad = False\n"
        "model.requires_grad = False\n"
    )
    assert found(source) == [("GL102", 11, 1)]
