"""Tensor-factory and legacy-API rules (GL106, GL107, GL601, GL603, GL604, GL702-GL705) on whole programs."""
from conftest import lint

from autogradlint.rules.anomaly_detection_left_on import AnomalyDetectionLeftOn
from autogradlint.rules.grad_buffer import GradBuffer
from autogradlint.rules.gradcheck_single_precision import GradcheckSinglePrecision
from autogradlint.rules.integer_tensor_requires_grad import IntegerTensorRequiresGrad
from autogradlint.rules.leaf_lost_by_move import LeafLostByMove
from autogradlint.rules.parameter_lost_by_move import ParameterLostByMove
from autogradlint.rules.unregistered_tensor_parameter import UnregisteredTensorParameter
from autogradlint.rules.variable_wrapper import VariableWrapper
from autogradlint.rules.volatile_flag import VolatileFlag

FAMILY = [
    IntegerTensorRequiresGrad, LeafLostByMove, UnregisteredTensorParameter, GradBuffer, ParameterLostByMove,
    VariableWrapper, VolatileFlag, AnomalyDetectionLeftOn, GradcheckSinglePrecision,
]


def found(source, rules=FAMILY, path="example.py"):
    return [(d.code, d.line, d.column) for d in lint(source, rules, path=path)]


LEGACY_MNIST = '''\
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.autograd import Variable


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.fc = nn.Linear(320, 10)
        self.temperature = torch.ones(1, requires_grad=True)
        self.register_buffer("running", torch.zeros(10))

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        return F.log_softmax(self.fc(x.view(-1, 320)) / self.temperature, dim=1)


model = Net()
optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
torch.autograd.set_detect_anomaly(True)


def train(epoch, train_loader):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = Variable(data), Variable(target)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()


def test(test_loader):
    model.eval()
    for data, target in test_loader:
        data = Variable(data, volatile=True)
        output = model(data)
'''


def test_legacy_training_script():
    assert found(LEGACY_MNIST) == [
        ("GL601", 14, 9),
        ("GL704", 24, 1),
        ("GL702", 30, 24),
        ("GL702", 30, 40),
        ("GL702", 40, 16),
        ("GL703", 40, 31),
    ]


MODERN_MODEL = '''\
import math
import torch
from torch import nn


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=5000):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        self.register_buffer("pe", pe)
        self.steps = nn.Parameter(torch.tensor(0), requires_grad=False)


class LayerScale(nn.Module):
    def __init__(self, dim, init_values=1e-5, device=None):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim, device=device))
        self.bias = nn.Parameter(torch.zeros(dim)).float()
        self.shift = nn.Parameter(torch.zeros(dim)).to(device)
        self.register_buffer("mask", torch.ones(dim, dtype=torch.bool))

    def forward(self, x):
        noise = torch.randn(x.shape, requires_grad=True).to(x.device)
        return x * self.gamma + self.bias + noise


def fit(model, loader, device):
    w = torch.zeros(3, device=device, requires_grad=True)
    opt = torch.optim.AdamW([w, *model.parameters()], lr=1e-3)
    for x, y in loader:
        x = x.to(device).requires_grad_()
        opt.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        opt.step()
        print(w.grad, x.grad)
'''


def test_modern_model_file_is_clean():
    assert found(MODERN_MODEL) == []


MOVED_LEAVES = '''\
import torch as th
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.sep_token = nn.Parameter(th.randn(16), requires_grad=True).cuda()
        self.alpha = nn.Parameter(th.tensor(1.0, requires_grad=True).cuda())
        self.mu = 0.5 * th.ones((1, 6), requires_grad=True).cuda()


def optimize_input(model, steps):
    image = th.rand(1, 3, 32, 32, requires_grad=True).cuda()
    optimizer = th.optim.Adam([image], lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        (-model(image).mean()).backward()
        optimizer.step()
    return image


def accumulate(inputs):
    total = th.zeros(1, requires_grad=True).cuda()
    for value in inputs:
        total = total + value
    return total
'''


def test_moved_leaves_only_when_used_as_leaves():
    assert found(MOVED_LEAVES) == [("GL604", 8, 9), ("GL107", 14, 13)]


GRADCHECK_TESTS = '''\
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck


@pytest.fixture(autouse=True)
def anomaly():
    with torch.autograd.detect_anomaly():
        yield


def test_sigmoid_float():
    x = torch.randn(4, 4, requires_grad=True)
    assert gradcheck(torch.sigmoid, (x,), eps=1e-6, atol=1e-4)


def test_sigmoid_double():
    x = torch.randn(4, 4, dtype=torch.double, requires_grad=True)
    assert gradcheck(torch.sigmoid, (x,))
    assert gradgradcheck(torch.sigmoid, (x,))


def test_index():
    index = torch.randint(0, 4, (2,))
    src = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda s: s[index], (src,))
'''


def test_gradcheck_suite():
    assert found(GRADCHECK_TESTS, path="tests/test_ops.py") == [("GL705", 14, 12)]


def test_anomaly_detection_is_fine_in_test_files_only():
    source = "import torch\ntorch.autograd.set_detect_anomaly(True)\n"
    assert found(source, path="tests/test_training.py") == []
    assert found(source, path="pkg/conftest.py") == []
    assert found(source, path="train.py") == [("GL704", 2, 1)]


def test_default_dtype_changes_silence_dtype_rules():
    source = (
        "import torch\n"
        "torch.set_default_dtype(torch.float64)\n"
        "x = torch.randn(3, requires_grad=True)\n"
        "torch.autograd.gradcheck(torch.sin, (x,))\n"
        "w = torch.randn(3, requires_grad=True).double()\n"
        "print(w.grad)\n"
    )
    assert found(source) == []


def test_integer_leaves_in_a_script():
    source = (
        "import torch\n"
        "labels = torch.tensor([0, 1, 1, 0])\n"
        "weights = torch.tensor([0.5, 0.5, 1.0, 2.0], requires_grad=True)\n"
        "counts = torch.zeros(4, dtype=torch.int64)\n"
        "counts.requires_grad_()\n"
        "steps = torch.arange(0, 10, requires_grad=True)\n"
        "grid = torch.arange(0.0, 1.0, 0.1, requires_grad=True)\n"
        "labels.requires_grad = False\n"
    )
    assert found(source) == [("GL106", 5, 1), ("GL106", 6, 9)]


def test_other_libraries_are_not_torch():
    source = (
        "import chainer\n"
        "import tensorflow as tf\n"
        "from chainer import Variable\n"
        "x = Variable(data, volatile='on')\n"
        "w = tf.Variable(tf.zeros([3]))\n"
        "tf.debugging.enable_check_numerics()\n"
        "x.volatile = 'off'\n"
    )
    assert found(source) == []


def test_conversions_that_keep_the_tensor():
    source = (
        "import torch\n"
        "a = torch.randn(3, requires_grad=True).cpu()\n"
        "b = torch.randn(3, requires_grad=True).to('cpu')\n"
        "c = torch.randn(3, requires_grad=True).to(torch.float32)\n"
        "d = torch.randn(3, dtype=torch.half, requires_grad=True).half()\n"
        "e = torch.randn(3, requires_grad=True).to(device='cuda')\n"
        "opt = torch.optim.SGD([a, b, c, d, e], lr=0.1)\n"
    )
    assert found(source) == [("GL107", 6, 5)]
