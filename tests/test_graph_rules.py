"""Graph-lifetime rules (GL304, GL309-GL313) on whole training scripts and model files."""
import pytest

from conftest import lint

from autogradlint.rules.checkpoint_reentrant_default import CheckpointReentrantDefault
from autogradlint.rules.data_attribute import DataAttribute
from autogradlint.rules.double_backward import DoubleBackward
from autogradlint.rules.graph_kept_across_iterations import GraphKeptAcrossIterations
from autogradlint.rules.numpy_in_forward import NumpyInForward
from autogradlint.rules.retain_graph_in_loop import RetainGraphInLoop

GRAPH_RULES = [DoubleBackward, DataAttribute, GraphKeptAcrossIterations, RetainGraphInLoop, CheckpointReentrantDefault,
               NumpyInForward]


def found(source, rules=GRAPH_RULES):
    return [(d.code, d.line, d.column) for d in lint(source, rules)]


OLD_STYLE_TRAINING = '''\
import torch
import torch.nn as nn
import torch.optim as optim

net = Net()
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

for epoch in range(2):
    running_loss = 0.0
    for i, (inputs, labels) in enumerate(trainloader):
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward(retain_graph=True)
        optimizer.step()
        running_loss += loss
        if i % 2000 == 1999:
            print('[%d, %5d] loss: %.3f' % (epoch + 1, i + 1, running_loss / 2000))
            running_loss = 0.0

correct = 0
with torch.no_grad():
    for images, labels in testloader:
        outputs = net(images)
        _, predicted = torch.max(outputs.data, 1)
        correct += (predicted == labels).sum().item()
'''


def test_old_style_training_script():
    assert found(OLD_STYLE_TRAINING) == [("GL311", 15, 9), ("GL309", 26, 34)]


def test_running_loss_reset_in_branch_is_silent_but_flagged_when_not_rebound():
    source = OLD_STYLE_TRAINING.replace("            running_loss = 0.0\n", "")
    assert ("GL310", 17, 9) in found(source)


GAN_STEP = '''\
import torch
from torch import nn

G = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
D = nn.Sequential(nn.Linear(8, 1))
bce = nn.BCEWithLogitsLoss()

def train_step(real, z, opt_g, opt_d):
    fake = G(z)
    d_loss = bce(D(real), torch.ones(len(real), 1)) + bce(D(fake), torch.zeros(len(z), 1))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = bce(D(fake), torch.ones(len(z), 1))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
'''


def test_gan_generator_graph_freed_by_discriminator_backward():
    assert found(GAN_STEP) == [("GL304", 16, 5)]


def test_gan_with_detach_is_clean():
    assert found(GAN_STEP.replace("bce(D(fake), torch.zeros", "bce(D(fake.detach()), torch.zeros")) == []


MODEL_FILE = '''\
import numpy as np
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Linear(dim, dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x + self.gamma * self.mlp(self.norm(x))


class Encoder(nn.Module):
    def __init__(self, dim, depth, grad_ckpt=True):
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim) for _ in range(depth)])
        self.head = nn.Linear(dim, 10)
        self.grad_ckpt = grad_ckpt
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                m.bias.data.zero_()

    def forward(self, x):
        for block in self.blocks:
            if self.grad_ckpt and self.training:
                x = checkpoint(block, x)
            else:
                x = block(x)
        logits = self.head(x)
        probs = np.exp(logits.detach().numpy())
        return torch.from_numpy(probs / probs.sum(-1, keepdims=True))

    def scores(self, x):
        return np.exp(self.head(x).detach().numpy())
'''


def test_model_file():
    assert found(MODEL_FILE) == [("GL309", 27, 17), ("GL312", 32, 21), ("GL313", 36, 24)]


MANUAL_SGD_AND_METRICS = '''\
import torch

w = torch.randn(3, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
history = []
for step in range(100):
    pred = x @ w + b
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        b -= 0.1 * b.grad
        w.grad.zero_()
        b.grad.zero_()
    history.append(loss.item())

def evaluate(model, loader, criterion):
    total = 0.0
    for x, y in loader:
        total += criterion(model(x), y)
    return total / len(loader)
'''


def test_manual_sgd_and_returned_total_are_clean():
    assert found(MANUAL_SGD_AND_METRICS) == []


def test_gradient_accumulation_by_summing_is_clean():
    source = '''\
import torch
accum = 0
for i, (x, y) in enumerate(loader):
    accum = accum + criterion(model(x), y) / 4
    if (i + 1) % 4 == 0:
        accum.backward()
        optimizer.step()
        optimizer.zero_grad()
        accum = 0
'''
    assert found(source) == []


def test_truncated_bptt_keeps_retain_graph_silent_and_detach_variant_fires():
    source = '''\
import torch
h = torch.zeros(1, 8)
for x, y in loader:
    out, h = rnn(x, h)
    loss = crit(out, y)
    loss.backward(retain_graph=True)
'''
    assert found(source) == []
    fresh = source.replace("h = torch.zeros(1, 8)\n", "").replace("out, h = rnn(x, h)", "out, h = rnn(x, None)")
    assert found(fresh) == [("GL311", 5, 5)]


def test_other_library_data_and_backward_are_silent():
    source = '''\
import chainer
import chainer.functions as F
loss = F.mean_squared_error(model(x), t)
loss.backward()
loss.backward()
print(loss.data)
'''
    assert found(source) == []


def test_lightning_style_manual_optimization_double_backward():
    source = '''\
import torch
import pytorch_lightning as pl


class Lit(pl.LightningModule):
    def training_step(self, batch, batch_idx):
        x, y = batch
        out = self.net(x)
        loss_cls = self.cls_loss(out, y)
        loss_reg = out.pow(2).mean()
        loss_cls.backward()
        loss_reg.backward()
        return loss_cls
'''
    assert found(source) == []  # `self.net` is not certainly a module of this class: silent
    certain = source.replace("    def training_step", "    def __init__(self):\n        super().__init__()\n"
                             "        self.net = torch.nn.Linear(4, 2)\n\n    def training_step")
    assert found(certain) == [("GL304", 16, 9)]


def test_a_file_that_imports_only_lightning_works_with_torch_for_every_rule():
    # the training-order rules (GL501) and the graph rules (GL304) share one answer to "does this file use torch"
    source = (
        "import lightning as L\n"
        "def fit(net, loader, opt):\n"
        "    for x, y in loader:\n"
        "        loss = (net(x) - y).pow(2).mean()\n"
        "        loss.backward()\n"
        "        loss.backward()\n"
        "        opt.step()\n"
    )
    assert sorted((d.code, d.line) for d in lint(source)) == [("GL304", 6), ("GL501", 3)]


@pytest.mark.parametrize("between", [
    "    sizes = [loss for loss in range(3)]\n",  # a comprehension's variable is its own
    "    def report():\n        loss = 0\n        return loss\n",  # so is a nested function's local
])
def test_names_bound_only_in_an_inner_scope_do_not_rebind_the_loss(between):
    # torch raises on the second backward: the loss is the same tensor
    source = (
        "import torch\n"
        "w = torch.ones(2, requires_grad=True)\n"
        "for step in range(3):\n"
        "    loss = (w * w).sum()\n"
        "    loss.backward()\n"
        + between +
        "    loss.backward()\n"
    )
    findings = [(d.code, d.line) for d in lint(source) if d.code == "GL304"]
    assert findings == [("GL304", 6 + between.count("\n"))]


def test_format_of_a_loss_carries_no_graph(cli, tmp_path):
    # `format(loss, "")` is a str: accumulating it keeps no graph, and the `.item()` fix would break the code.
    # loops.NON_GRAPH_BUILTINS now derives from the reporting builtins GL310 already knew `format` to be one of
    source = ('import torch\n\nmodel = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n'
              'history = []\ntext = ""\ntotal = 0\nfor step in range(10):\n    loss = model(torch.randn(4, 2)).sum()\n'
              '    opt.zero_grad()\n    loss.backward()\n    opt.step()\n    text += format(loss, "")\n'
              '    history.append(format(loss, ""))\n    total += round(loss)\n')
    (tmp_path / "train.py").write_text(source)
    result = cli("check", "--select", "GL310", "train.py", cwd=tmp_path)
    assert result.code == 1, result.err
    # only the round() total is flagged: round(tensor) is torch.round, a tensor with the graph
    assert "train.py:15:5: GL310" in result.out
    assert "train.py:13:" not in result.out and "train.py:14:" not in result.out
