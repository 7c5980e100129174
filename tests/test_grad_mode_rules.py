"""Grad-mode region rules (GL203-GL209) on whole scripts and model files: exact findings, no others."""
import pytest

from autogradlint.rule import all_rules

from conftest import lint

GRAD_MODE_CODES = ("GL203", "GL204", "GL205", "GL206", "GL207", "GL208", "GL209")
RULES = [rule for code, rule in all_rules().items() if code in GRAD_MODE_CODES]


def grad_mode_findings(source):
    return [(d.code, d.line, d.column) for d in lint(source, RULES)]


TRAIN_SCRIPT = '''\
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader


class MLP(nn.Module):
    def __init__(self, d_in, d_hidden, n_classes):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_hidden))
        self.head = nn.Linear(d_hidden, n_classes)

    def forward(self, x):
        return self.head(self.body(x))


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    total = 0.0
    for x, y in loader:
        with torch.no_grad():
            total += F.cross_entropy(model(x), y).item()
    return total / len(loader)


def train_epoch(model, loader, optimizer, criterion):
    model.train()
    for step, (x, y) in enumerate(loader):
        with torch.no_grad():
            logits = model(x)
        loss = criterion(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    model = MLP(16, 32, 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    loader = DataLoader(make_dataset(), batch_size=8)
    torch.set_grad_enabled(False)
    print("baseline", evaluate(model, loader))
    for epoch in range(args.epochs):
        train_epoch(model, loader, optimizer, criterion)
        print(epoch, evaluate(model, loader))


if __name__ == "__main__":
    main()
'''

MODEL_FILE = '''\
import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=512):
        super().__init__()
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len).unsqueeze(1).float()
        div = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div)
        self.register_buffer("pe", pe)

    @torch.no_grad()
    def forward(self, x):
        return x + self.pe[: x.size(1)]


class HungarianMatcher(nn.Module):
    def __init__(self, cost_class=1.0):
        super().__init__()
        self.cost_class = cost_class

    @torch.no_grad()
    def forward(self, logits, targets):
        cost = -logits.softmax(-1)[:, targets] * self.cost_class
        return cost.argmin(-1)


class Encoder(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.embed = nn.Linear(d, d)
        self.pos = PositionalEncoding(d)
        self.block = nn.TransformerEncoderLayer(d, 4, batch_first=True)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        h = self.pos(self.embed(x))
        with torch.no_grad():
            h = self.block(h)
        return self.proj(h)


class Projector(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.scale = nn.Parameter(torch.ones(d))

    @torch.inference_mode()
    def forward(self, x):
        return self.fc(x) * self.scale


class Student(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.backbone = nn.Linear(d, d)
        self.teacher_head = nn.Linear(d, d)
        self.student_head = nn.Linear(d, d)

    def forward(self, x):
        f = self.backbone(x)
        with torch.no_grad():
            t = self.teacher_head(f)
        s = self.student_head(f)
        return s, t
'''

DISTILL_SCRIPT = '''\
import torch
import torch.nn.functional as F
from torch import nn

teacher = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
student = nn.Linear(32, 10)
optimizer = torch.optim.SGD(student.parameters(), lr=0.1)

for images, labels in loader:
    with torch.inference_mode():
        soft_targets = teacher(images).softmax(-1)
    logits = student(images)
    loss = F.kl_div(logits.log_softmax(-1), soft_targets, reduction="batchmean") + F.cross_entropy(logits, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

with torch.inference_mode():
    preds = student(test_images).argmax(-1)
    accuracy = (preds == test_labels).float().mean()
print(accuracy.item())
'''

CLEAN_SCRIPT = '''\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
ema = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
optimizer = torch.optim.Adam(model.parameters())
criterion = nn.MSELoss()


@torch.no_grad()
def update_ema(decay=0.99):
    for e, p in zip(ema.parameters(), model.parameters()):
        e.mul_(decay).add_(p, alpha=1 - decay)


@torch.no_grad()
def step(closure):
    with torch.enable_grad():
        loss = closure()
    optimizer.step()
    return loss


for epoch in range(10):
    model.train()
    for x, y in loader:
        with torch.no_grad():
            target = ema(x)
        pred = model(x)
        loss = criterion(pred, y) + 0.1 * criterion(pred, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        update_ema()
    model.eval()
    with torch.no_grad():
        val = sum(criterion(model(x), y).item() for x, y in val_loader)
    print(epoch, val)

torch.set_grad_enabled(False)
model.eval()
print(model(torch.randn(4, 8)))
'''


def test_training_script_with_an_eval_loss_a_redundant_block_and_a_leaked_switch():
    assert grad_mode_findings(TRAIN_SCRIPT) == [("GL209", 24, 9), ("GL204", 36, 9), ("GL208", 48, 5)]


def test_model_file_flags_only_trainable_no_grad_forwards_and_cut_graphs():
    # the positional encoding, the matcher and the teacher branch are legitimate
    assert grad_mode_findings(MODEL_FILE) == [("GL206", 44, 17), ("GL205", 54, 5)]


def test_distillation_with_an_inference_mode_teacher():
    assert grad_mode_findings(DISTILL_SCRIPT) == [("GL207", 13, 45)]


def test_correct_script_with_ema_closure_step_and_final_inference_is_clean():
    assert grad_mode_findings(CLEAN_SCRIPT) == []


@pytest.mark.parametrize("source", [TRAIN_SCRIPT, MODEL_FILE, DISTILL_SCRIPT, CLEAN_SCRIPT])
def test_batched_walk_with_every_rule_agrees(source):
    everything = [(d.code, d.line, d.column) for d in lint(source) if d.code in GRAD_MODE_CODES]
    assert everything == grad_mode_findings(source)


def test_backward_in_decorated_train_step_is_reported_by_both_region_rules():
    source = (
        "import torch\n"
        "@torch.no_grad()\n"
        "def train_step(model, x, y, optimizer):\n"
        "    loss = torch.nn.functional.mse_loss(model(x), y)\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
    )
    assert grad_mode_findings(source) == [("GL205", 2, 1), ("GL203", 5, 5)]


def test_loss_passed_through_a_helper_parameter():
    source = (
        "import torch\n"
        "from torch import nn\n"
        "def step(model, loader, loss_fn):\n"
        "    total = 0\n"
        "    for xb, yb in loader:\n"
        "        with torch.no_grad():\n"
        "            out = model(xb)\n"
        "        loss = loss_fn(out, yb)\n"
        "        loss.backward()\n"
        "step(net, loader, nn.MSELoss())\n"
        "step(net, loader, loss_fn=torch.nn.functional.l1_loss)\n"
    )
    assert grad_mode_findings(source) == [("GL204", 9, 9)]


def test_unknown_loss_callable_stays_silent():
    source = (
        "import torch\n"
        "def step(model, x, y, loss_fn):\n"
        "    with torch.no_grad():\n"
        "        out = model(x)\n"
        "    loss = loss_fn(out, y)\n"
        "    loss.backward()\n"
    )
    assert grad_mode_findings(source) == []


def test_scaled_backward_starts_from_the_loss_the_scaler_scales():
    # scaler.scale(loss).backward() runs loss's backward: a loss from a no_grad block raises here too
    source = (
        "import torch\n"
        "model = torch.nn.Linear(2, 1)\n"
        "scaler = torch.amp.GradScaler()\n"
        "with torch.no_grad():\n"
        "    loss = model(torch.randn(4, 2)).sum()\n"
        "scaler.scale(loss).backward()\n"
    )
    assert grad_mode_findings(source) == [("GL204", 6, 1)]
    inside = source.replace("\nscaler.scale", "\n    scaler.scale")
    assert [(d.code, d.message.split(" ")[0]) for d in lint(inside, RULES)] == [("GL203", "'loss'")]


def test_backward_function_of_an_imported_library_is_not_a_tensor_backward():
    source = (
        "import torch\n"
        "import mylib\n"
        "with torch.no_grad():\n"
        "    mylib.backward(torch.ones(1))\n"
    )
    assert grad_mode_findings(source) == []


def test_loss_class_imported_from_its_defining_module_is_a_loss():
    source = (
        "import torch\n"
        "from torch.nn.modules.loss import MSELoss\n"
        "def step(model, loader, loss_fn):\n"
        "    for xb, yb in loader:\n"
        "        with torch.no_grad():\n"
        "            out = model(xb)\n"
        "        loss = loss_fn(out, yb)\n"
        "        loss.backward()\n"
        "step(net, loader, MSELoss())\n"
    )
    assert grad_mode_findings(source) == [("GL204", 8, 9)]


def test_loss_helper_that_escapes_is_unknown():
    # step is also handed to code we cannot see (a callbacks list): its loss_fn may be anything there
    source = (
        "import torch\n"
        "from torch import nn\n"
        "def step(model, loader, loss_fn):\n"
        "    for xb, yb in loader:\n"
        "        with torch.no_grad():\n"
        "            out = model(xb)\n"
        "        loss = loss_fn(out, yb)\n"
        "        loss.backward()\n"
        "step(net, loader, nn.MSELoss())\n"
        "callbacks = [step]\n"
    )
    assert grad_mode_findings(source) == []


@pytest.mark.parametrize("optimizer, expected", [
    ("torch.optim.SGD(net.parameters(), lr=0.1)", [("GL208", 6, 1)]),
    ("object()", []),  # not an optimizer: its step is not training
])
def test_a_leaked_switch_before_an_optimizer_passed_as_an_argument(optimizer, expected):
    source = (
        "import torch\n"
        "def fit(model, loader, updater):\n"
        "    for x in loader:\n"
        "        updater.step()\n"
        "net = torch.nn.Linear(2, 1)\n"
        "torch.set_grad_enabled(False)\n"
        f"fit(net, [], {optimizer})\n"
    )
    assert grad_mode_findings(source) == expected


_DETACHED_FORWARD = '''import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(4, 4)
        self.frozen_block = nn.Linear(4, 4)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        h = self.encoder(x)
        with torch.no_grad():
            h = self.frozen_block(h){cut}
        return self.head(h)
'''


def test_detach_in_place_ends_a_graph_like_detach(cli, tmp_path):
    # one fact (torch_api.GRAPH_CUTTING_METHODS): `.detach_()` cuts what flows into the return exactly as
    # `.detach()` does, so GL206 treats both the same; the grad-mode copy of the list lacked `detach_`
    for name, cut in (("plain.py", ""), ("detach.py", ".detach()"), ("detach_.py", ".detach_()")):
        (tmp_path / name).write_text(_DETACHED_FORWARD.replace("{cut}", cut))
    result = cli("check", "--select", "GL206", "plain.py", "detach.py", "detach_.py", cwd=tmp_path)
    assert result.code == 1, result.err
    assert "plain.py:15:17: GL206" in result.out
    assert "detach.py:" not in result.out and "detach_.py:" not in result.out
