"""Gradient-state rules (GL108, GL301-GL303, GL305-GL308) on whole, realistic programs."""
from conftest import lint
from autogradlint.rule import all_rules

CODES = ("GL108", "GL301", "GL302", "GL303", "GL305", "GL306", "GL307", "GL308")
RULES = [all_rules()[code] for code in CODES]


def findings(source):
    return [(d.code, d.line, d.column) for d in lint(source, RULES)]


MANUAL_SGD = '''\
import torch

torch.manual_seed(0)
x = torch.randn(64, 3)
y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3

w = torch.zeros(3, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.1

for epoch in range(100):
    pred = x @ w + b
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    w -= lr * w.grad
    b = b - lr * b.grad
    w.grad.zero_()
    print(epoch, loss.item())
    print(pred.numpy())
'''


def test_manual_sgd_script_mistakes():
    assert findings(MANUAL_SGD) == [
        ("GL307", 15, 5),  # in-place update of a grad leaf
        ("GL308", 16, 5),  # b rebound to a non-leaf
        ("GL306", 19, 11),  # numpy of a grad tensor
    ]


MANUAL_SGD_FIXED = '''\
import torch

x = torch.randn(64, 3)
y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
w = torch.zeros(3, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for epoch in range(100):
    pred = x @ w + b
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        b -= 0.1 * b.grad
    w.grad = None
    b.grad.zero_()
    print(pred.detach().numpy(), w.grad, b.grad)
'''


def test_manual_sgd_done_right_is_silent():
    assert findings(MANUAL_SGD_FIXED) == []


CLASSIFIER = '''\
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader


class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.fc = nn.Linear(8 * 26 * 26, classes)

    def forward(self, x):
        x = F.relu(self.conv(x))
        return self.fc(x.flatten(1))


def train(dataset, epochs=2):
    model = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loader = DataLoader(dataset, batch_size=32, shuffle=True)
    for epoch in range(epochs):
        model.train()
        for images, labels in loader:
            optimizer.zero_grad()
            logits = model(images)
            loss = criterion(logits.detach(), labels)
            loss.backward()
            optimizer.step()
        scores = model(images)
        np.save("scores.npy", scores.numpy())
    return model


def evaluate(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in loader:
            logits = model(images)
            correct += (logits.argmax(1) == labels).sum().item()
            probabilities = logits.softmax(1).numpy()
    return correct, probabilities
'''


def test_classifier_script():
    assert findings(CLASSIFIER) == [
        ("GL302", 30, 13),  # the loss only sees detached logits
        ("GL306", 33, 31),  # numpy of the model's output
    ]


FEATURES_AND_SALIENCY = '''\
import torch
from torch import nn

encoder = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
head = nn.Linear(8, 2)


def saliency(x):
    x = x.clone().detach().requires_grad_(True)
    scores = head(encoder(x))
    scores[:, 0].sum().backward()
    return x.grad.abs()


def probe_hidden(x):
    hidden = encoder(x)
    hidden.retain_grad()
    head(hidden).sum().backward()
    return hidden.grad


def broken_probe(x):
    hidden = encoder(x)
    head(hidden).sum().backward()
    return hidden.grad


def freeze_features(x):
    features = encoder(x)
    features.requires_grad = False
    return head(features)


def whole_output_backward(x):
    out = head(encoder(x))
    out.backward()
'''


def test_features_and_saliency():
    assert findings(FEATURES_AND_SALIENCY) == [
        ("GL303", 25, 12),
        ("GL108", 30, 5),
        ("GL305", 36, 5),
    ]


LOSS_FROM_NUMBERS = '''\
import torch


def train_step(model, optimizer, batch):
    inputs, targets = batch
    outputs = model(inputs)
    total = 0.0
    for output, target in zip(outputs, targets):
        total += float(((output - target) ** 2).sum())
    loss = torch.tensor(total / len(outputs))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def regularized(model, x):
    penalty = torch.tensor(0.0, requires_grad=True)
    loss = model(x).sum() + penalty
    loss.backward()
'''


def test_loss_rebuilt_from_numbers():
    assert findings(LOSS_FROM_NUMBERS) == [("GL301", 12, 5)]


LOOK_ALIKES = '''\
import torch
import torch.nn as nn

net = nn.Linear(4, 4)
for p in net.parameters():
    p.requires_grad = False
print(net(torch.ones(4)).numpy())


def meta_step(w, x):
    loss = (w * x).sum()
    (g,) = torch.autograd.grad(loss, w, create_graph=True)
    w = w - 0.1 * g
    return w


def accumulate(model, loader):
    loss = torch.zeros(1)
    for x, y in loader:
        loss = loss + ((model(x) - y) ** 2).mean()
    loss.backward()


def step(model, x):
    y = model(x)
    if y.requires_grad:
        y.backward(torch.ones_like(y))
    return y.detach().cpu().numpy()


def branchy(flag):
    t = torch.ones(3)
    if flag:
        t.requires_grad_()
    t.sum().backward()
'''


def test_look_alikes_are_silent():
    assert findings(LOOK_ALIKES) == []


OTHER_LIBRARIES = '''\
import chainer
from tinygrad import Tensor

x = Tensor.ones(3, requires_grad=True)
y = (x * 2).detach()
y.sum().backward()
x -= x.grad
v = chainer.Variable(x.numpy())
v.data -= 1
print(v.data.numpy())
'''


def test_other_libraries_are_silent():
    assert findings(OTHER_LIBRARIES) == []


HELPER_CALLED_UNDER_NO_GRAD = '''\
import torch

net = torch.nn.Linear(4, 2)


def predict(x):
    return net(x).numpy()


def report(batch):
    with torch.no_grad():
        return predict(batch)
'''


def test_helper_called_under_no_grad_is_silent():
    assert findings(HELPER_CALLED_UNDER_NO_GRAD) == []
