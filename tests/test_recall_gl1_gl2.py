"""Recall of the GL1xx (requires_grad and freezing) and GL2xx (grad-mode contexts) rules on hand-written cases,
written the way a new user writes them: import aliases, attribute-chain receivers, subscripts, tuple unpacking,
walrus, augmented assignment, several ``with`` items, ``async def``, methods of a plain Trainer class, loops,
decorators with and without parentheses, helpers called from the loop.

Every rule has at least 8 bad programs and 5 valid look-alikes. A bad program runs in torch 2.13 and shows the
pitfall (one evidence_runner process for all of them, ``@pytest.mark.torch``); ``# BAD`` marks the line its
finding must be on. A look-alike must not get the rule's code. All cases are linted by ONE run of the real CLI
(``check --output-format json``) over one folder. A bad case with ``miss=`` is one the linter cannot be sure of
from this file alone; it is expected to stay silent (strict xfail: a change that finds it must move it out).
"""
import json
import subprocess
import sys
import textwrap
from collections import namedtuple
from pathlib import Path

import pytest

from conftest import run_autogradlint

BadCase = namedtuple("BadCase", "code source line raises prints warns miss")
GoodCase = namedtuple("GoodCase", "code source why")

MARK = "# BAD"
RUNNER = Path(__file__).with_name("evidence_runner.py")


def Bad(code, source, raises=None, prints=None, warns=None, miss=None):
    """A program with the pitfall of ``code`` on the line marked ``# BAD``. In torch it raises ``raises``
    (type, part of the message) or prints ``prints`` (its stdout, stripped) and warns ``warns``. ``miss`` says
    why the linter cannot be sure of it."""
    source = textwrap.dedent(source)
    lines = [number for number, text in enumerate(source.splitlines(), 1) if text.rstrip().endswith(MARK)]
    assert len(lines) == 1, source
    return BadCase(code, source, lines[0], raises, prints, warns, miss)


def Good(code, source, why):
    """A look-alike on which ``code`` must stay silent."""
    return GoodCase(code, textwrap.dedent(source), why)


# ==================================================================================================== GL1xx

# factories say "Only Tensors of floating point and complex dtype", requires_grad_ "only Tensors of floating point
# dtype"
NOT_FLOAT = ("RuntimeError", "Tensors of floating point")
NON_LEAF = ("RuntimeError", "you can only change requires_grad flags of leaf variables")
# torch 2.13's optimizers refuse a non-leaf outright
NOT_OPTIMIZABLE = ("ValueError", "can't optimize a non-leaf Tensor")

GL1_CASES = [
    # ---------------------------------------------------------------- GL101 misspelled-requires-grad
    Bad("GL101", """\
        import torch as th
        net = th.nn.Sequential(th.nn.Linear(2, 2), th.nn.ReLU(), th.nn.Linear(2, 1))
        for name, p in net.named_parameters():
            if name.startswith("0."):
                p.requires_grads = False  # BAD
        print(net[0].weight.requires_grad)
        """, prints="True"),
    Bad("GL101", """\
        from torch import nn
        enc, head = nn.Linear(2, 2), nn.Linear(2, 1)
        enc.weight.require_grad, enc.bias.require_grad = False, False  # BAD
        print(enc.weight.requires_grad and enc.bias.requires_grad)
        """, prints="True"),
    Bad("GL101", """\
        import torch.nn as nn
        model = nn.Linear(3, 3)
        list(model.parameters())[0].requiresGrad = False  # BAD
        print(model.weight.requires_grad)
        """, prints="True"),
    Bad("GL101", """\
        import torch
        class Trainer:
            def __init__(self):
                self.net = torch.nn.Sequential(torch.nn.Linear(2, 2))
            def freeze(self):
                for p in self.net[0].parameters():
                    p.required_grad = False  # BAD
        t = Trainer()
        t.freeze()
        print(t.net[0].weight.requires_grad)
        """, prints="True"),
    Bad("GL101", """\
        import torch
        w = torch.nn.Parameter(torch.ones(2))
        w.require_grad: bool = False  # BAD
        print(w.requires_grad)
        """, prints="True"),
    Bad("GL101", """\
        import torch
        layer = torch.nn.Linear(2, 2)
        params = list(layer.parameters())
        i = 0
        while i < len(params):
            params[i].requires_gradient = False  # BAD
            i += 1
        print(layer.weight.requires_grad)
        """, prints="True"),
    Bad("GL101", """\
        import asyncio
        import torch
        model = torch.nn.Linear(2, 2)
        async def freeze(m):
            for p in m.parameters():
                p.require_grads = False  # BAD
        asyncio.run(freeze(model))
        print(model.bias.requires_grad)
        """, prints="True"),
    Bad("GL101", """\
        import torch
        from types import SimpleNamespace
        cfg = SimpleNamespace(model=torch.nn.Linear(2, 2))
        cfg.model.bias.require_grad = False  # BAD
        print(cfg.model.bias.requires_grad)
        """, prints="True"),
    Bad("GL101", """\
        import torch
        def freeze_layer(layer):
            layer.weight.require_grad = False  # BAD
        model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
        for i, block in enumerate(model):
            if i == 0:
                freeze_layer(block)
        print(model[0].weight.requires_grad)
        """, prints="True"),
    Bad("GL101", """\
        import torch
        a = torch.ones(2, requires_grad=True)
        b = torch.zeros(2, requires_grad=True)
        a.requires_grads = b.requires_grads = False  # BAD
        print(a.requires_grad, b.requires_grad)
        """, prints="True True"),
    Good("GL101", """\
        class Options:
            def __init__(self):
                self.require_grad = True
        opts = Options()
        opts.require_grad = False
        """, "own attribute of a plain class, set from outside"),
    Good("GL101", """\
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--requires-grads", action="store_true")
        args = parser.parse_args([])
        args.requires_grads = True
        """, "an argparse option"),
    Good("GL101", """\
        import torch
        flags = {}
        flags["require_grad"] = False
        p = torch.nn.Parameter(torch.ones(2))
        p.requires_grad = False
        """, "a dict key and the right spelling"),
    Good("GL101", """\
        import torch
        model = torch.nn.Linear(2, 2)
        require_grad = False
        for p in model.parameters():
            p.requires_grad = require_grad
        """, "a variable with that name"),
    Good("GL101", """\
        import torch
        model = torch.nn.Linear(2, 2)
        frozen = [p.require_grad for p in []]
        print(getattr(model.weight, "require_grad", None))
        """, "reads, not assignments"),
    Good("GL101", """\
        from dataclasses import dataclass
        @dataclass
        class TrainConfig:
            lr: float = 0.1
            require_grad: bool = True
        def make(cfg: TrainConfig):
            cfg.require_grad = False
            return cfg
        """, "a dataclass field"),

    # ---------------------------------------------------------------- GL102 module-requires-grad-attribute
    Bad("GL102", """\
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        model.requires_grad = False  # BAD
        print(model[0].weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        from torch.nn import Linear
        head = Linear(4, 2)
        head.requires_grad = False  # BAD
        print(head.weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Linear(2, 2)
                self.head = nn.Linear(2, 1)
        class Trainer:
            def __init__(self):
                self.model = Net()
            def freeze_encoder(self):
                self.model.encoder.requires_grad = False  # BAD
        t = Trainer()
        t.freeze_encoder()
        print(t.model.encoder.weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        import torch.nn as nn
        def build():
            return nn.Sequential(nn.Linear(2, 2), nn.Tanh())
        backbone = build()
        backbone.requires_grad = False  # BAD
        print(backbone[0].weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.requires_grad = False  # BAD
        print(model[1].weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
        model[0].requires_grad = False  # BAD
        print(model[0].weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        from torch import nn
        encoder, decoder = nn.Linear(2, 2), nn.Linear(2, 2)
        encoder.requires_grad = False  # BAD
        print(encoder.weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
            def freeze_bottom(self, n):
                for layer in self.layers[:n]:
                    layer.requires_grad = False  # BAD
        net = Net()
        net.freeze_bottom(2)
        print(net.layers[0].weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        import torch
        model = torch.nn.Linear(2, 2).eval()
        model.requires_grad = False  # BAD
        print(model.weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        for name, child in model.named_children():
            child.requires_grad = False  # BAD
        print(model[1].weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        import torch
        import torch.nn as nn
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
        def freeze(model):
            model.requires_grad = False  # BAD
        net = Model()
        freeze(net)
        print(net.fc.weight.requires_grad)
        """, prints="True"),
    Bad("GL102", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Linear(2, 2)
        def freeze(module):
            module.requires_grad = False  # BAD
        class Trainer:
            def __init__(self, model):
                self.model = model
            def setup(self):
                freeze(self.model.encoder)
        t = Trainer(Net())
        t.setup()
        print(t.model.encoder.weight.requires_grad)
        """, prints="True"),
    Good("GL102", """\
        import torch.nn as nn
        class Gate(nn.Module):
            def __init__(self, requires_grad=True):
                super().__init__()
                self.fc = nn.Linear(2, 2)
                self.requires_grad = requires_grad
            def forward(self, x):
                return self.fc(x) if self.requires_grad else self.fc(x).detach()
        g = Gate()
        g.requires_grad = False
        """, "a module class that reads its own setting"),
    Good("GL102", """\
        import torch.nn as nn
        model = nn.Linear(2, 2)
        model.weight.requires_grad = False
        model.bias.requires_grad = False
        """, "parameters are tensors"),
    Good("GL102", """\
        class Trainer:
            def __init__(self, model):
                self.model = model
                self.requires_grad = True
        t = Trainer(None)
        t.requires_grad = False
        """, "a plain class"),
    Good("GL102", """\
        import types
        import torch.nn as nn
        def freeze(model):
            model.requires_grad = False
        freeze(nn.Linear(2, 2))
        freeze(types.SimpleNamespace())
        """, "call sites disagree"),
    Good("GL102", """\
        import torch.nn as nn
        model = nn.Linear(2, 2)
        for p in model.parameters():
            p.requires_grad = False
        model.requires_grad_(False)
        """, "the right spellings"),
    Good("GL102", """\
        import torch.nn as nn
        model = nn.Linear(2, 2)
        model = model.weight
        model.requires_grad = False
        """, "rebound to a parameter"),
    Good("GL102", """\
        import torch
        import torch.nn as nn
        enc, scale = nn.Linear(2, 2), nn.Parameter(torch.ones(1))
        scale.requires_grad = False
        heads = [nn.Linear(2, 2), nn.Linear(2, 2)]
        for p in heads[0].parameters():
            p.requires_grad = False
        """, "the unpacked parameter is a tensor"),

    # ---------------------------------------------------------------- GL103 requires-grad-method-overwritten
    Bad("GL103", """\
        import torch as th
        model = th.nn.Linear(2, 2)
        for _, p in model.named_parameters():
            p.requires_grad_ = False  # BAD
        print(model.weight.requires_grad)
        """, prints="True"),
    Bad("GL103", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Sequential(torch.nn.Linear(2, 2))
            def freeze(self):
                self.model[0].weight.requires_grad_ = False  # BAD
        t = Trainer()
        t.freeze()
        print(t.model[0].weight.requires_grad)
        """, prints="True"),
    Bad("GL103", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        b = torch.ones(2, requires_grad=True)
        w.requires_grad_, b.requires_grad_ = False, False  # BAD
        print(w.requires_grad, b.requires_grad)
        """, prints="True True"),
    Bad("GL103", """\
        import torch
        w = torch.nn.Parameter(torch.ones(3))
        w.requires_grad_: bool = False  # BAD
        print(w.requires_grad)
        """, prints="True"),
    Bad("GL103", """\
        import torch.nn as nn
        model = nn.Linear(2, 2)
        model.requires_grad_ = False  # BAD
        print(model.weight.requires_grad)
        """, prints="True"),
    Bad("GL103", """\
        import torch
        params = [torch.nn.Parameter(torch.ones(2)) for _ in range(3)]
        k = 0
        while k < 2:
            params[k].requires_grad_ = False  # BAD
            k += 1
        print(params[0].requires_grad)
        """, prints="True"),
    Bad("GL103", """\
        import asyncio
        import torch
        model = torch.nn.Linear(2, 2)
        async def freeze():
            model.bias.requires_grad_ = False  # BAD
        asyncio.run(freeze())
        print(model.bias.requires_grad)
        """, prints="True"),
    Bad("GL103", """\
        import torch
        def freeze_all(m):
            for p in m.parameters():
                p.requires_grad_ = False  # BAD
        net = torch.nn.Linear(2, 2)
        for epoch in range(2):
            if epoch == 0:
                freeze_all(net)
        print(net.weight.requires_grad)
        """, prints="True"),
    Good("GL103", """\
        import torch
        p = torch.nn.Parameter(torch.ones(2))
        p.requires_grad_(False)
        method = p.requires_grad_
        method(True)
        """, "calls and reads"),
    Good("GL103", """\
        class Switch:
            def __init__(self):
                self.requires_grad_ = True
            def off(self):
                self.requires_grad_ = False
        """, "own attribute of a plain class"),
    Good("GL103", """\
        import torch
        p = torch.nn.Parameter(torch.ones(2))
        p.requires_grad = False
        """, "the attribute, not the method"),
    Good("GL103", """\
        settings = {}
        settings["requires_grad_"] = False
        requires_grad_ = False
        """, "a key and a variable"),
    Good("GL103", """\
        import torch
        p = torch.nn.Parameter(torch.ones(2))
        p.requires_grad_(requires_grad=False)
        print(p.requires_grad_)
        """, "keyword call and a read"),

    # ---------------------------------------------------------------- GL104 requires-grad-comparison-statement
    Bad("GL104", """\
        import torch as th
        net = th.nn.Linear(2, 2)
        for name, p in net.named_parameters():
            if "bias" in name:
                p.requires_grad is False  # BAD
        print(net.bias.requires_grad)
        """, prints="True"),
    Bad("GL104", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Sequential(torch.nn.Linear(2, 2))
            def freeze(self):
                self.model[0].weight.requires_grad == False  # BAD
        t = Trainer()
        t.freeze()
        print(t.model[0].weight.requires_grad)
        """, prints="True"),
    Bad("GL104", """\
        import torch
        params = [torch.nn.Parameter(torch.ones(2)) for _ in range(2)]
        params[0].requires_grad == False  # BAD
        print(params[0].requires_grad)
        """, prints="True"),
    Bad("GL104", """\
        import torch
        layer = torch.nn.Linear(2, 2)
        (layer.weight.requires_grad == False)  # BAD
        print(layer.weight.requires_grad)
        """, prints="True"),
    Bad("GL104", """\
        import torch
        layer = torch.nn.Linear(2, 2)
        ps = list(layer.parameters())
        while ps:
            ps.pop().requires_grad == False  # BAD
        print(layer.weight.requires_grad)
        """, prints="True"),
    Bad("GL104", """\
        import asyncio
        import torch
        layer = torch.nn.Linear(2, 2)
        async def freeze():
            for p in layer.parameters():
                p.requires_grad == 0  # BAD
        asyncio.run(freeze())
        print(layer.weight.requires_grad)
        """, prints="True"),
    Bad("GL104", """\
        import torch
        def freeze(module):
            for p in module.parameters():
                p.requires_grad == False  # BAD
        model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
        for i, block in enumerate(model):
            freeze(block)
        print(model[0].weight.requires_grad)
        """, prints="True"),
    Bad("GL104", """\
        import torch
        x = torch.zeros(2)
        x.requires_grad == True; y = x * 2  # BAD
        print(x.requires_grad)
        """, prints="False"),
    Good("GL104", """\
        import torch
        p = torch.nn.Parameter(torch.ones(2))
        assert p.requires_grad == True
        if p.requires_grad is False:
            pass
        ok = p.requires_grad == True
        """, "checks and values"),
    Good("GL104", """\
        import torch
        p = torch.nn.Parameter(torch.ones(2))
        print(p.requires_grad == False)
        frozen = [q for q in [p] if q.requires_grad == False]
        """, "used values"),
    Good("GL104", """\
        import torch
        p = torch.nn.Parameter(torch.ones(2))
        p.grad == None
        p.requires_grad = False
        """, "not requires_grad; an assignment"),
    Good("GL104", """\
        import torch
        p = torch.nn.Parameter(torch.ones(2))
        while p.requires_grad == True:
            p.requires_grad = False
        """, "a loop condition"),
    Good("GL104", """\
        import torch
        def is_frozen(p):
            return p.requires_grad == False
        x = "p.requires_grad == False"
        """, "a return value and a string"),

    # ---------------------------------------------------------------- GL105 method-not-called
    Bad("GL105", """\
        import torch as th
        net = th.nn.Dropout(0.5)
        net.eval  # BAD
        print(net.training)
        """, prints="True"),
    Bad("GL105", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Dropout(0.5)
            def validate(self):
                self.model.eval  # BAD
                return self.model.training
        print(Trainer().validate())
        """, prints="True"),
    Bad("GL105", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        loss = (w * 3).sum()
        loss.backward  # BAD
        print(w.grad)
        """, prints="None"),
    Bad("GL105", """\
        import torch
        from torch import nn, optim
        model = nn.Linear(2, 1)
        opt = optim.SGD(model.parameters(), lr=0.1)
        before = model.weight.clone()
        model(torch.ones(1, 2)).sum().backward()
        opt.step  # BAD
        print(torch.equal(before, model.weight))
        """, prints="True"),
    Bad("GL105", """\
        import torch
        model = torch.nn.Linear(2, 1)
        i = 0
        while i < 2:
            model.zero_grad  # BAD
            model(torch.ones(1, 2)).sum().backward()
            i += 1
        print(model.bias.grad.item())
        """, prints="2.0"),
    Bad("GL105", """\
        import torch
        models = [torch.nn.Dropout(0.1), torch.nn.Dropout(0.2)]
        models[0].eval  # BAD
        print(models[0].training)
        """, prints="True"),
    Bad("GL105", """\
        import asyncio
        import torch
        w = torch.ones(2, requires_grad=True)
        y = w * 2
        async def cut():
            y.detach_  # BAD
        asyncio.run(cut())
        print(y.requires_grad)
        """, prints="True"),
    Bad("GL105", """\
        import torch
        from types import SimpleNamespace
        cfg = SimpleNamespace(model=torch.nn.Dropout(0.5))
        cfg.model.eval()
        def back_to_training(c):
            c.model.train  # BAD
        for epoch in range(2):
            back_to_training(cfg)
        print(cfg.model.training)
        """, prints="False"),
    Bad("GL105", """\
        import torch
        x = torch.zeros(2)
        with torch.no_grad():
            x.requires_grad_  # BAD
        print(x.requires_grad)
        """, prints="False"),
    Good("GL105", """\
        import torch
        model = torch.nn.Linear(2, 2)
        hooks = [model.train, model.eval]
        callback = model.eval
        callback()
        """, "methods kept to call later"),
    Good("GL105", """\
        import torch
        model = torch.nn.Linear(2, 2)
        try:
            model.eval
        except AttributeError:
            pass
        """, "probing"),
    Good("GL105", """\
        import torch
        model = torch.nn.Linear(2, 2)
        model.training
        model.eval()
        """, "an attribute, and a call"),
    Good("GL105", """\
        import torch
        model = torch.nn.Linear(2, 2)
        print(model.eval)
        assert callable(model.zero_grad)
        """, "used values"),
    Good("GL105", """\
        import torch
        model = torch.nn.Linear(2, 2)
        run = lambda: model.eval()
        if model.train:
            run()
        """, "a lambda and a test"),

    # ---------------------------------------------------------------- GL106 integer-tensor-requires-grad
    Bad("GL106", """\
        import torch as th
        grid = th.tensor([[1, 2], [3, 4]], requires_grad=True)  # BAD
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch
        x = torch.ones(3, dtype=torch.int64, requires_grad=True)  # BAD
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        from torch import tensor, long
        idx = tensor([0, 1], dtype=long, requires_grad=True)  # BAD
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch
        mask = torch.zeros(2, 2, dtype=torch.uint8).requires_grad_()  # BAD
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch
        steps = torch.arange(0, 10, 2, requires_grad=True)  # BAD
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch
        idx = torch.arange(5)
        w = torch.zeros_like(idx, requires_grad=True)  # BAD
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch
        labels = torch.tensor([0, 1, 1])
        labels.requires_grad = True  # BAD
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch.nn as nn
        import torch
        class Offsets(nn.Module):
            def __init__(self):
                super().__init__()
                self.offsets = nn.Parameter(torch.arange(4))  # BAD
        Offsets()
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch
        flag = torch.tensor(True, requires_grad=True)  # BAD
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch
        x = torch.randn(3).long().requires_grad_()  # BAD
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch
        x = torch.randn(3).to(torch.int64)
        x.requires_grad_(True)  # BAD
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch
        class Trainer:
            def make_counts(self):
                return torch.empty(3, dtype=torch.int32, requires_grad=True)  # BAD
        Trainer().make_counts()
        """, raises=NOT_FLOAT),
    Bad("GL106", """\
        import torch
        perm = torch.randperm(5, requires_grad=True)  # BAD
        """, raises=NOT_FLOAT),
    Good("GL106", """\
        import torch
        x = torch.tensor([[1.0, 2], [3, 4]], requires_grad=True)
        y = torch.arange(5.0, requires_grad=True)
        z = torch.full((2,), 1.5, requires_grad=True)
        """, "float literals"),
    Good("GL106", """\
        import torch
        x = torch.tensor(3, dtype=torch.float32, requires_grad=True)
        c = torch.ones(3, dtype=torch.complex64, requires_grad=True)
        """, "float and complex dtypes"),
    Good("GL106", """\
        import torch
        idx = torch.arange(5)
        idx = idx.double()
        idx.requires_grad_()
        w = torch.randn(3).long().float().requires_grad_()
        """, "cast to float first"),
    Good("GL106", """\
        import torch
        import torch.nn as nn
        step = nn.Parameter(torch.tensor(0), requires_grad=False)
        x = torch.randint(0, 5, (3,)).requires_grad_(False)
        """, "integers that do not require grad"),
    Good("GL106", """\
        import torch
        def make(data):
            return torch.tensor(data, requires_grad=True)
        w = torch.zeros_like(torch.randn(3), requires_grad=True)
        """, "dtype unknown or float"),
    Good("GL106", """\
        import torch
        idx = torch.arange(5)
        w = torch.zeros_like(idx, dtype=torch.float32, requires_grad=True)
        v = torch.ones_like(idx.float(), requires_grad=True)
        """, "a like-factory given a float dtype or a float input"),
    Good("GL106", """\
        import torch
        x = torch.arange(5)
        y = torch.ones(2, dtype=torch.float64)
        y.requires_grad = True
        x.requires_grad = False
        """, "a float tensor, and False on an int one"),

    # ---------------------------------------------------------------- GL107 leaf-lost-by-move
    Bad("GL107", """\
        import torch as th
        w = th.zeros(3, requires_grad=True).double()  # BAD
        opt = th.optim.SGD([w], lr=0.1)
        (w * th.ones(3, dtype=th.float64)).sum().backward()
        opt.step()
        print(w.sum().item())
        """, raises=NOT_OPTIMIZABLE),
    Bad("GL107", """\
        import torch
        from torch import nn
        scale = nn.Parameter(torch.ones(2)).to(torch.float64)  # BAD
        (scale * 2).sum().backward()
        print(scale.grad)
        """, prints="None", warns="is not a leaf Tensor"),
    Bad("GL107", """\
        import torch
        w = torch.randn(3, requires_grad=True).to(dtype=torch.float64)  # BAD
        for step in range(2):
            loss = (w ** 2).sum()
            loss.backward()
            if w.grad is not None:
                print("ok")
        print(w.grad)
        """, prints="None", warns="is not a leaf Tensor"),
    Bad("GL107", """\
        import torch
        from torch.optim import Adam
        bias = torch.ones(1).requires_grad_().half()  # BAD
        opt = Adam(params=[{"params": [bias], "lr": 0.1}])
        bias.float().sum().backward()
        print(bias.grad)
        """, raises=NOT_OPTIMIZABLE),
    Bad("GL107", """\
        import torch
        w = torch.ones(2, requires_grad=True).type(torch.float64)  # BAD
        (w * 3).sum().backward()
        print(w.grad)
        """, prints="None", warns="is not a leaf Tensor"),
    Bad("GL107", """\
        import torch
        class Fit:
            def run(self, x):
                w = torch.zeros(2, requires_grad=True).bfloat16()  # BAD
                for i, xi in enumerate(x):
                    (w.float() * xi).sum().backward()
                return w.grad
        print(Fit().run(torch.ones(2, 2)))
        """, prints="None", warns="is not a leaf Tensor"),
    Bad("GL107", """\
        import torch
        w = torch.randn(3, requires_grad=True).double()  # BAD
        b = torch.zeros(1, requires_grad=True)
        params = [w, b]
        opt = torch.optim.SGD(params, lr=0.1)
        (w.sum() + b.sum()).backward()
        print(w.grad)
        """, raises=NOT_OPTIMIZABLE),
    Bad("GL107", """\
        import torch
        w, b = torch.randn(3, requires_grad=True).double(), torch.zeros(1, requires_grad=True)  # BAD
        opt = torch.optim.SGD([w, b], lr=0.1)
        (w.sum() + b.sum()).backward()
        print(w.grad)
        """, raises=NOT_OPTIMIZABLE),
    Bad("GL107", """\
        import torch
        class Trainer:
            def __init__(self):
                self.w = torch.zeros(3, requires_grad=True).double()  # BAD
                self.opt = torch.optim.SGD([self.w], lr=0.1)
            def step(self):
                self.opt.zero_grad()
                (self.w + 1).pow(2).sum().backward()
                self.opt.step()
                return self.w.sum().item()
        print(Trainer().step())
        """, raises=NOT_OPTIMIZABLE,
        miss="an attribute of a plain class: the rule follows names bound in one scope, not self.w across "
             "methods (torch raises at the optimizer's construction anyway)"),
    Good("GL107", """\
        import torch
        w = torch.randn(3, requires_grad=True).float()
        b = torch.randn(3, requires_grad=True).cpu()
        opt = torch.optim.SGD([w, b], lr=0.1)
        print(w.grad, b.grad)
        """, "same tensor: still leaves"),
    Good("GL107", """\
        import torch
        w = torch.randn(3).double().requires_grad_()
        v = torch.randn(3, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([w, v], lr=0.1)
        """, "moved before requires_grad, or built in place"),
    Good("GL107", """\
        import torch
        x = torch.randn(3, requires_grad=True).double()
        model = torch.nn.Linear(3, 1).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model(x).sum().backward()
        """, "the moved tensor is only an input"),
    Good("GL107", """\
        import torch
        w = torch.randn(3, requires_grad=True).double()
        w.retain_grad()
        (w * 2).sum().backward()
        print(w.grad)
        """, "retain_grad keeps its .grad"),
    Good("GL107", """\
        import torch
        x, w = torch.randn(3, requires_grad=True).double(), torch.randn(3, requires_grad=True, dtype=torch.float64)
        opt = torch.optim.SGD([w], lr=0.1)
        (x * w).sum().backward()
        print(w.grad)
        """, "the unpacked moved tensor is only an input"),
    Good("GL107", """\
        import torch
        w = torch.randn(3, requires_grad=True).double()
        w = w.detach().requires_grad_()
        opt = torch.optim.SGD([w], lr=0.1)
        """, "rebound to a leaf"),
    Good("GL107", """\
        import torch
        def fit(device):
            w = torch.randn(3, requires_grad=True).to(device)
            opt = torch.optim.SGD([w], lr=0.1)
            return opt
        """, "device unknown"),

    # ---------------------------------------------------------------- GL108 requires-grad-on-non-leaf
    Bad("GL108", """\
        import torch
        from torch.nn import Linear
        model = Linear(3, 2)
        out = model(torch.ones(1, 3))
        out.requires_grad = False  # BAD
        """, raises=NON_LEAF),
    Bad("GL108", """\
        import torch
        import torch.nn.functional as F
        lin = torch.nn.Linear(3, 3)
        h = F.relu(lin(torch.ones(3)))
        h.requires_grad_(False)  # BAD
        """, raises=NON_LEAF),
    Bad("GL108", """\
        import torch
        lstm = torch.nn.LSTM(2, 4)
        out, (h, c) = lstm(torch.ones(3, 1, 2))
        out.requires_grad = False  # BAD
        """, raises=NON_LEAF,
        miss='the outputs unpacked from an LSTM: which tuple outputs of a layer depend on its weights belongs in the torch.nn layer table (h19t), not in a second hand-written layer list'),
    Bad("GL108", """\
        import torch
        w = torch.randn(2, 2, requires_grad=True)
        y = w @ torch.ones(2)
        y += 1
        y.requires_grad_(requires_grad=False)  # BAD
        """, raises=NON_LEAF),
    Bad("GL108", """\
        import torch
        w = torch.ones(3, requires_grad=True)
        z = w * 2
        z[0].requires_grad = False  # BAD
        """, raises=NON_LEAF),
    Bad("GL108", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 2)
            def step(self, x):
                logits = self.model(x)
                logits.requires_grad = False  # BAD
                return logits
        Trainer().step(torch.ones(1, 2))
        """, raises=NON_LEAF),
    Bad("GL108", """\
        import torch
        lin = torch.nn.Linear(2, 2)
        def encode(x):
            return lin(x)
        feats = encode(torch.ones(2))
        feats.requires_grad = False  # BAD
        """, raises=NON_LEAF,
        miss="the file sets requires_grad on a local value, which counts as the file freezing parameters "
             "(grad_state._freezes_something is per file): module outputs are then of unknown grad state"),
    Bad("GL108", """\
        import torch
        w = torch.ones(3, requires_grad=True)
        if (y := w * 2) is not None:
            y.requires_grad = False  # BAD
        """, raises=NON_LEAF),
    Bad("GL108", """\
        import torch
        model = torch.nn.Linear(2, 1)
        loader = [(torch.ones(1, 2), torch.zeros(1, 1))]
        for i, (x, y) in enumerate(loader):
            out = model(x)
            out.requires_grad_(False)  # BAD
        """, raises=NON_LEAF),
    Bad("GL108", """\
        import torch
        w = torch.randn(3, requires_grad=True)
        torch.sigmoid(w).requires_grad = False  # BAD
        """, raises=NON_LEAF),
    Good("GL108", """\
        import torch
        model = torch.nn.Linear(3, 2)
        with torch.no_grad():
            out = model(torch.ones(1, 3))
        out.requires_grad = True
        """, "computed under no_grad: a leaf"),
    Good("GL108", """\
        import torch
        model = torch.nn.Linear(3, 2)
        out = model(torch.ones(1, 3)).detach()
        out.requires_grad = True
        feats = model(torch.ones(1, 3)).clone().detach()
        feats.requires_grad_(True)
        """, "detached: leaves"),
    Good("GL108", """\
        import torch
        model = torch.nn.Linear(3, 2)
        for p in model.parameters():
            p.requires_grad = False
        model.weight.requires_grad_(False)
        """, "parameters are leaves"),
    Good("GL108", """\
        import torch
        w = torch.randn(3, requires_grad=True)
        y = w * 2
        y.requires_grad_()
        y.requires_grad_(True)
        """, "requires_grad_(True) on a non-leaf is a no-op"),
    Good("GL108", """\
        import torch
        w = torch.randn(3, requires_grad=True)
        idx = (w * 2).argmax()
        idx.requires_grad = False
        d = w.data * 2
        d.requires_grad = True
        """, "an index and a .data computation are leaves"),
    Good("GL108", """\
        import torch
        w = torch.ones(3, requires_grad=True)
        y = w * 2
        if (y := torch.ones(3)) is not None:
            y.requires_grad = True
        """, "the walrus rebinds y to a leaf"),
    Good("GL108", """\
        import torch
        import torch.nn.functional as F
        lin = torch.nn.Linear(3, 3)
        lin.requires_grad_(False)
        h = F.relu(lin(torch.ones(3)))
        h.requires_grad_(False)
        """, "the layer is frozen: its output is a leaf"),
    Good("GL108", """\
        import torch
        lstm = torch.nn.LSTM(2, 4)
        with torch.no_grad():
            out, (h, c) = lstm(torch.ones(3, 1, 2))
        out.requires_grad = True
        h.requires_grad_(False)
        """, "unpacked outputs computed under no_grad are leaves"),
    Good("GL108", """\
        import torch
        def f(model, x):
            out = model(x)
            out.requires_grad = False
            return out
        """, "unknown model"),

    # ---------------------------------------------------------------- GL109 parameters-not-called
    Bad("GL109", """\
        import torch as th
        model = th.nn.Linear(2, 2)
        opt = th.optim.AdamW(model.parameters, lr=1e-3)  # BAD
        """, raises=("TypeError", "not iterable")),
    Bad("GL109", """\
        import torch
        from torch.optim import SGD
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 2)
                self.opt = SGD(self.model.parameters, lr=0.1)  # BAD
        Trainer()
        """, raises=("TypeError", "not iterable")),
    Bad("GL109", """\
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(2, 2))
        for name, p in model.named_parameters:  # BAD
            print(name)
        """, raises=("TypeError", "not iterable")),
    Bad("GL109", """\
        from torch import nn
        model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        layers = list(model.children)  # BAD
        """, raises=("TypeError", "not iterable")),
    Bad("GL109", """\
        import torch
        from torch import nn
        model = nn.Linear(2, 2)
        nn.utils.clip_grad_norm_(model.parameters, 1.0)  # BAD
        """, raises=("TypeError", "")),
    Bad("GL109", """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            def count(self):
                return len([m for m in self.modules if isinstance(m, nn.Linear)])  # BAD
        Net().count()
        """, raises=("TypeError", "not iterable")),
    Bad("GL109", """\
        import torch
        model = torch.nn.Linear(2, 2)
        trainable = [p for p in model.parameters if p.requires_grad]  # BAD
        """, raises=("TypeError", "not iterable")),
    Bad("GL109", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Linear(2, 2)
        net = Net()
        optimizer = torch.optim.SGD(params=net.encoder.parameters, lr=0.1)  # BAD
        """, raises=("TypeError", "not iterable")),
    Bad("GL109", """\
        import torch
        model = torch.nn.Linear(2, 2)
        ema = torch.nn.Linear(2, 2)
        for e, p in zip(ema.parameters(), model.parameters):  # BAD
            e.data.copy_(p.data)
        """, raises=("TypeError", "not iterable")),
    Bad("GL109", """\
        import torch
        model = torch.nn.Linear(2, 2)
        vec = torch.nn.utils.parameters_to_vector(model.parameters)  # BAD
        """, raises=("TypeError", "")),
    Bad("GL109", """\
        import torch
        def build(d):
            return torch.nn.Linear(d, d)
        model = build(2)
        params = [*model.parameters]  # BAD
        """, raises=("TypeError", "must be an iterable, not method")),
    Good("GL109", """\
        class Toy:
            def __init__(self, w):
                self.parameters = [w]
            def step(self):
                for p in self.parameters:
                    print(p)
        Toy(1).step()
        """, "a plain list attribute"),
    Good("GL109", """\
        def run(net):
            for p in net.parameters:
                print(p)
        """, "unknown receiver"),
    Good("GL109", """\
        import torch.nn as nn
        model = nn.Linear(2, 2)
        get = model.parameters
        n = sum(p.numel() for p in get())
        print(callable(model.parameters), model.parameters.__name__)
        """, "the bound method used as a method"),
    Good("GL109", """\
        import functools
        import torch.nn as nn
        model = nn.Linear(2, 2)
        later = functools.partial(model.parameters, recurse=False)
        hooks = dict(params=model.parameters)
        """, "stored, not iterated"),
    Good("GL109", """\
        import torch.nn as nn
        class Ensemble(nn.Module):
            def __init__(self):
                super().__init__()
                self.children = [nn.Linear(2, 2)]
            def forward(self, x):
                return [c(x) for c in self.children]
        """, "the class shadows the method"),

    # ---------------------------------------------------------------- GL110 requires-grad-on-generator
    Bad("GL110", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Sequential(torch.nn.Linear(2, 2))
            def freeze(self):
                self.model[0].parameters().requires_grad = False  # BAD
        Trainer().freeze()
        """, raises=("AttributeError", "'generator' object has no attribute 'requires_grad'")),
    Bad("GL110", """\
        import torch.nn as nn
        model = nn.Linear(2, 2)
        model.named_parameters().requires_grad = False  # BAD
        """, raises=("AttributeError", "'generator' object has no attribute 'requires_grad'")),
    Bad("GL110", """\
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(2, 2))
        model.children().requires_grad_(False)  # BAD
        """, raises=("AttributeError", "'generator' object has no attribute 'requires_grad_'")),
    Bad("GL110", """\
        import torch.nn as nn
        model = nn.BatchNorm1d(2)
        model.buffers().requires_grad = False  # BAD
        """, raises=("AttributeError", "'generator' object has no attribute 'requires_grad'")),
    Bad("GL110", """\
        import torch
        from types import SimpleNamespace
        cfg = SimpleNamespace(model=torch.nn.Linear(2, 2))
        cfg.model.parameters().requires_grad_()  # BAD
        """, raises=("AttributeError", "'generator' object has no attribute 'requires_grad_'")),
    Bad("GL110", """\
        import torch
        model = torch.nn.Linear(2, 2)
        params = model.parameters()
        for epoch in range(2):
            if epoch == 1:
                params.requires_grad = False  # BAD
        """, raises=("AttributeError", "'generator' object has no attribute 'requires_grad'")),
    Bad("GL110", """\
        import torch
        model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
        model.get_submodule("0").parameters().requires_grad = False  # BAD
        """, raises=("AttributeError", "'generator' object has no attribute 'requires_grad'")),
    Bad("GL110", """\
        import torch
        enc, dec = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
        enc.parameters().requires_grad, dec.parameters().requires_grad = False, True  # BAD
        """, raises=("AttributeError", "'generator' object has no attribute 'requires_grad'")),
    Bad("GL110", """\
        import torch
        def trainable(m):
            return m.parameters()
        model = torch.nn.Linear(2, 2)
        trainable(model).requires_grad = False  # BAD
        """, raises=("AttributeError", "'generator' object has no attribute 'requires_grad'")),
    Good("GL110", """\
        import torch
        class Props:
            def __setstate__(self, state):
                (self.dtype, self.requires_grad) = state
        Props().__setstate__((torch.float32, False))
        """, "a tuple target unpacked from one value (torch's own __setstate__): no internal error, no finding"),
    Good("GL110", """\
        import torch
        model = torch.nn.Linear(2, 2)
        next(model.parameters()).requires_grad = False
        list(model.parameters())[1].requires_grad = False
        """, "one parameter taken from the generator"),
    Good("GL110", """\
        import torch
        model = torch.nn.Linear(2, 2)
        for p in model.parameters():
            p.requires_grad = False
        model.requires_grad_(False)
        """, "the right spellings"),
    Good("GL110", """\
        import torch
        model = torch.nn.Linear(2, 2)
        params = model.parameters()
        params = list(params)
        params[0].requires_grad = False
        """, "rebound to a list"),
    Good("GL110", """\
        import torch
        model = torch.nn.Linear(2, 2)
        flags = [p.requires_grad for p in model.parameters()]
        gen = model.parameters()
        first = next(gen)
        first.requires_grad = False
        """, "reads and a taken item"),
    Good("GL110", """\
        import torch
        def weights(m, only_weight):
            if only_weight:
                return m.weight
            return m.parameters()
        def first(m):
            return list(m.parameters())[0]
        model = torch.nn.Linear(2, 2)
        first(model).requires_grad = False
        weights(model, True).requires_grad = False
        """, "functions that return a parameter, or not always a generator"),
    Good("GL110", """\
        import torch
        model = torch.nn.Linear(2, 2)
        w, b = model.parameters()
        w.requires_grad, b.requires_grad = False, True
        """, "parameters unpacked from the generator"),
]


# ==================================================================================================== GL2xx

NOT_A_CONTEXT = ("TypeError", "does not support the context manager protocol")
NO_GRAD_FN = ("RuntimeError", "does not require grad and does not have a grad_fn")
INFERENCE_SAVED = ("RuntimeError", "Inference tensors cannot be saved for backward")

GL2_CASES = [
    # ---------------------------------------------------------------- GL201 grad-context-not-called
    Bad("GL201", """\
        import torch as th
        model = th.nn.Linear(2, 2)
        with th.no_grad:  # BAD
            out = model(th.ones(2))
        """, raises=NOT_A_CONTEXT),
    Bad("GL201", """\
        import torch
        from torch import nn, enable_grad
        model = nn.Linear(2, 2)
        with torch.no_grad():
            with enable_grad:  # BAD
                out = model(torch.ones(2))
        """, raises=NOT_A_CONTEXT),
    Bad("GL201", """\
        import torch
        model = torch.nn.Linear(2, 2)
        with torch.no_grad, torch.autocast("cpu"):  # BAD
            out = model(torch.ones(2))
        """, raises=NOT_A_CONTEXT),
    Bad("GL201", """\
        import torch.autograd as ag
        import torch
        with ag.inference_mode:  # BAD
            x = torch.ones(2)
        """, raises=NOT_A_CONTEXT),
    Bad("GL201", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 2)
            def validate(self, batches):
                i = 0
                while i < len(batches):
                    with torch.inference_mode:  # BAD
                        self.model(batches[i])
                    i += 1
        Trainer().validate([torch.ones(2)])
        """, raises=NOT_A_CONTEXT),
    Bad("GL201", """\
        import asyncio
        import torch
        model = torch.nn.Linear(2, 2)
        async def predict(x):
            with torch.no_grad as ctx:  # BAD
                return model(x)
        asyncio.run(predict(torch.ones(2)))
        """, raises=NOT_A_CONTEXT),
    Bad("GL201", """\
        from torch.autograd.grad_mode import no_grad
        import torch
        def evaluate(model, x):
            with no_grad:  # BAD
                return model(x)
        for epoch in range(1):
            evaluate(torch.nn.Linear(2, 2), torch.ones(2))
        """, raises=NOT_A_CONTEXT),
    Bad("GL201", """\
        import torch
        with open(__file__ if "__file__" in globals() else "/dev/null") as fh, (torch.enable_grad):  # BAD
            pass
        """, raises=NOT_A_CONTEXT),
    Bad("GL201", """\
        import torch
        no_grad_ctx = torch.no_grad
        with no_grad_ctx:  # BAD
            pass
        """, raises=NOT_A_CONTEXT),
    Good("GL201", """\
        import torch
        with torch.no_grad() as ctx, torch.autocast("cpu"):
            pass
        ctx2 = torch.no_grad()
        with ctx2:
            pass
        """, "instances"),
    Good("GL201", """\
        import torch
        @torch.no_grad
        def predict(m, x):
            return m(x)
        class Runner:
            @torch.inference_mode
            def run(self, x):
                return x
        """, "bare decorators work since torch 2.1"),
    Good("GL201", """\
        import contextlib
        import torch
        def make(train):
            return contextlib.nullcontext() if train else torch.no_grad()
        with make(False):
            pass
        """, "a function returning an instance"),
    Good("GL201", """\
        class Guard:
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return False
        no_grad = Guard()
        with no_grad:
            pass
        """, "a local context-manager instance named no_grad"),
    Good("GL201", """\
        import torch
        ctx_type = torch.no_grad
        with ctx_type():
            pass
        """, "the class named, then called"),
    Good("GL201", """\
        import contextlib
        import torch
        ctx = torch.no_grad
        ctx = ctx()
        with ctx:
            pass
        maker = torch.no_grad if True else contextlib.nullcontext
        with maker():
            pass
        """, "an alias rebound to an instance; a conditional alias, called"),
    Good("GL201", """\
        import paddle
        with paddle.no_grad:
            pass
        """, "another library"),

    # ---------------------------------------------------------------- GL202 grad-context-statement
    Bad("GL202", """\
        import torch as th
        w = th.ones(2, requires_grad=True)
        th.no_grad()  # BAD
        y = w * 2
        print(y.requires_grad)
        """, prints="True"),
    Bad("GL202", """\
        from torch import nn, no_grad
        import torch
        model = nn.Linear(2, 2)
        no_grad()  # BAD
        print(model(torch.ones(2)).requires_grad)
        """, prints="True"),
    Bad("GL202", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 2)
            def evaluate(self, x):
                torch.inference_mode(True)  # BAD
                return self.model(x)
        print(Trainer().evaluate(torch.ones(2)).requires_grad)
        """, prints="True"),
    Bad("GL202", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        outs = []
        i = 0
        while i < 2:
            torch.autograd.no_grad()  # BAD
            outs.append(w * i)
            i += 1
        print(outs[-1].requires_grad)
        """, prints="True"),
    Bad("GL202", """\
        import asyncio
        import torch
        w = torch.ones(2, requires_grad=True)
        async def infer():
            torch.no_grad()  # BAD
            return w * 2
        print(asyncio.run(infer()).requires_grad)
        """, prints="True"),
    Bad("GL202", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        torch.no_grad(); y = w * 3  # BAD
        print(y.requires_grad)
        """, prints="True"),
    Bad("GL202", """\
        import torch
        model = torch.nn.Linear(2, 2)
        def predict(x):
            torch.inference_mode(mode=True)  # BAD
            return model(x)
        for i, x in enumerate([torch.ones(2)]):
            print(predict(x).requires_grad)
        """, prints="True"),
    Bad("GL202", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        training = False
        if not training:
            torch.no_grad()  # BAD
        print((w * 2).requires_grad)
        """, prints="True"),
    Good("GL202", """\
        import torch
        torch.set_grad_enabled(False)
        torch.no_grad().__enter__()
        """, "real switches"),
    Good("GL202", """\
        import contextlib
        import torch
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.no_grad())
        """, "entered by an ExitStack"),
    Good("GL202", """\
        import torch
        def context(train):
            return torch.enable_grad() if train else torch.no_grad()
        guard = torch.no_grad()
        """, "returned and kept"),
    Good("GL202", """\
        import torch
        def f(x):
            return x
        f = torch.no_grad()(f)
        """, "used as a decorator"),
    Good("GL202", """\
        import mygrad
        mygrad.no_grad()
        """, "another library"),

    # ---------------------------------------------------------------- GL203 backward-under-no-grad
    Bad("GL203", """\
        import torch
        from torch import no_grad as ng
        model = torch.nn.Linear(2, 1)
        with ng():
            loss = model(torch.ones(2)).sum()
            loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL203", """\
        import torch
        import torch.nn.functional as F
        model = torch.nn.Linear(2, 1)
        with torch.no_grad(), torch.autocast("cpu", enabled=False):
            loss = F.mse_loss(model(torch.ones(2)), torch.zeros(1))
            loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL203", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
                self.crit = torch.nn.MSELoss()
            def step(self, x, y):
                with torch.inference_mode():
                    loss = self.crit(self.model(x), y)
                    loss.backward()  # BAD
        Trainer().step(torch.ones(2), torch.zeros(1))
        """, raises=NO_GRAD_FN),
    Bad("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        loader = [(torch.ones(2), torch.zeros(1))]
        for i, (x, y) in enumerate(loader):
            with torch.no_grad():
                out = model(x)
                loss = ((out - y) ** 2).mean()
                loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL203", """\
        import asyncio
        import torch
        model = torch.nn.Linear(2, 1)
        async def step(x):
            with torch.no_grad():
                loss = model(x).mean()
                loss.backward()  # BAD
        asyncio.run(step(torch.ones(2)))
        """, raises=NO_GRAD_FN),
    Bad("GL203", """\
        import torch
        @torch.no_grad
        def train_step(model, x):
            loss = model(x).pow(2).mean()
            loss.backward()  # BAD
        train_step(torch.nn.Linear(2, 1), torch.ones(2))
        """, raises=NO_GRAD_FN),
    Bad("GL203", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        with torch.inference_mode():
            loss = (w * 3).sum()
            grads = torch.autograd.grad(loss, [w])  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            loss = model(torch.ones(2)).sum()
            loss += 0.1 * model.weight.norm()
            loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.set_grad_enabled(False):
            if (loss := model(torch.ones(2)).sum()) is not None:
                loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        def compute(m, x):
            return m(x).sum()
        with torch.no_grad():
            loss = compute(model, torch.ones(2))
            loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        steps = 0
        with torch.no_grad():
            while steps < 2:
                out = model(torch.ones(2))
                torch.autograd.backward(out.sum())  # BAD
                steps += 1
        """, raises=NO_GRAD_FN),
    Good("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        loss = model(torch.ones(2)).sum()
        with torch.no_grad():
            loss.backward()
        """, "the graph was built before the block"),
    Good("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        loss = model(torch.ones(2)).sum()
        with torch.no_grad():
            loss += 1.0
            loss.backward()
        """, "the loss was built before the block; the in-place update keeps its graph"),
    Good("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            ref = model(torch.ones(2))
            with torch.enable_grad():
                loss = model(torch.ones(2)).sum()
                loss.backward()
        """, "recomputed under enable_grad"),
    Good("GL203", """\
        import asyncio
        import torch
        model = torch.nn.Linear(2, 1)
        @torch.no_grad()
        async def step(x):
            loss = model(x).sum()
            loss.backward()
        asyncio.run(step(torch.ones(2)))
        """, "a decorated coroutine's body runs with grad on"),
    Good("GL203", """\
        import torch
        def apply(loss):
            with torch.no_grad():
                loss.backward()
        """, "the loss comes from the caller"),
    Good("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            def closure():
                loss = model(torch.ones(2)).sum()
                loss.backward()
                return loss
        closure()
        """, "a function defined in the block runs later, outside it"),
    Good("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        def train(mode):
            with torch.set_grad_enabled(mode):
                loss = model(torch.ones(2)).sum()
                if mode:
                    loss.backward()
        """, "grad mode from a variable"),
    Good("GL203", """\
        import torch
        model = torch.nn.Linear(2, 1)
        def closure():
            with torch.enable_grad():
                return model(torch.ones(2)).sum()
        with torch.no_grad():
            loss = closure()
            loss.backward()
        """, "the callee switches grad back on"),

    # ---------------------------------------------------------------- GL204 loss-from-no-grad-block
    Bad("GL204", """\
        import torch as th
        model = th.nn.Linear(2, 1)
        with th.no_grad():
            out = model(th.ones(2))
        loss = (out - 1).pow(2).mean()
        loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import torch
        import torch.nn.functional as F
        clf = torch.nn.Linear(4, 3)
        x, y = torch.ones(2, 4), torch.tensor([0, 2])
        with torch.no_grad():
            logits = clf(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
                self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
            def step(self, x):
                with torch.no_grad():
                    pred = self.model(x)
                loss = pred.abs().mean()
                self.opt.zero_grad()
                loss.backward()  # BAD
                self.opt.step()
        Trainer().step(torch.ones(2))
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        loader = [(torch.ones(2), torch.zeros(1))]
        for i, (x, y) in enumerate(loader):
            with torch.inference_mode():
                out = model(x)
            loss = torch.nn.functional.l1_loss(out, y)
            loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import torch
        rnn = torch.nn.GRU(2, 3)
        with torch.no_grad():
            seq, h = rnn(torch.ones(4, 1, 2))
        seq.sum().backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        crit = torch.nn.MSELoss()
        with torch.no_grad():
            out = model(torch.ones(2))
        loss = crit(out, torch.zeros(1))
        loss *= 2
        loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        @torch.no_grad
        def compute_loss(m, x):
            return m(x).mean()
        loss = compute_loss(model, torch.ones(2))
        loss.backward()  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.inference_mode():
            score = model(torch.ones(2)).sum()
        grads = torch.autograd.grad(score, list(model.parameters()))  # BAD
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import asyncio
        import torch
        model = torch.nn.Linear(2, 1)
        async def step(x):
            with torch.no_grad():
                out = model(x)
            probs = torch.softmax(out, -1)
            (-probs.log()).mean().backward()  # BAD
        asyncio.run(step(torch.ones(2)))
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        n = 0
        while n < 1:
            with torch.no_grad():
                out = model(torch.ones(2))
            total = out.sum() * 0.5
            total.backward()  # BAD
            n += 1
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
            @torch.no_grad()
            def compute_loss(self, x):
                return self.model(x).mean()
            def step(self, x):
                loss = self.compute_loss(x)
                loss.backward()  # BAD
        Trainer(torch.nn.Linear(2, 1)).step(torch.ones(2))
        """, raises=NO_GRAD_FN),
    Bad("GL204", """\
        import torch
        def evaluate(model, x):
            with torch.no_grad():
                out = model(x)
            return out
        def train(model, x):
            out = evaluate(model, x)
            loss = out.mean()
            loss.backward()  # BAD
        train(torch.nn.Linear(2, 1), torch.ones(2))
        """, raises=NO_GRAD_FN),
    Good("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        def features(x):
            with torch.no_grad():
                stats = model(x).mean()
            out = model(x)
            return out
        def maybe_frozen(x, frozen):
            if frozen:
                with torch.no_grad():
                    return model(x)
            return model(x)
        features(torch.ones(2)).sum().backward()
        maybe_frozen(torch.ones(2), False).sum().backward()
        """, "helpers that return a value computed with grad on (on some path)"),
    Good("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        def leaf(x):
            with torch.no_grad():
                out = model(x)
            return out.requires_grad_()
        class Trainer:
            @torch.no_grad()
            def compute(self, x):
                with torch.enable_grad():
                    return model(x).mean()
            def step(self, x):
                loss = self.compute(x)
                loss.backward()
        leaf(torch.ones(2)).sum().backward()
        Trainer().step(torch.ones(2))
        """, "a helper that returns a grad leaf; a decorated method that switches grad back on"),
    Good("GL204", """\
        import torch
        class Base:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
            @torch.no_grad()
            def compute(self, x):
                return self.model(x).mean()
            def step(self, x):
                loss = self.compute(x)
                loss.backward()
        class Train(Base):
            def compute(self, x):
                return self.model(x).mean()
        Train().step(torch.ones(2))
        """, "self.compute may be a subclass's override that keeps grad on"),
    Good("GL204", """\
        import torch
        teacher = torch.nn.Linear(2, 1)
        student = torch.nn.Linear(2, 1)
        x = torch.ones(2)
        with torch.no_grad():
            target = teacher(x)
        loss = ((student(x) - target) ** 2).mean()
        loss.backward()
        """, "only the target comes from the block"),
    Good("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            feats = model(torch.ones(2))
        feats.requires_grad_()
        loss = (feats * 2).sum()
        loss.backward()
        """, "made a leaf that requires grad"),
    Good("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            base = model(torch.ones(2)).sum()
        base += model(torch.zeros(2)).sum()
        base *= 2
        base.backward()
        """, "an augmented assignment adds a grad-carrying term"),
    Good("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            emb = model(torch.ones(2))
        emb.requires_grad = True
        (emb ** 2).sum().backward()
        """, "made a grad leaf by assignment"),
    Good("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            out = model(torch.ones(2))
        loss = (out * model.weight).sum()
        loss.backward()
        """, "a grad-carrying factor"),
    Good("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            out = model(torch.ones(2))
        out = model(torch.ones(2))
        out.sum().backward()
        """, "recomputed"),
    Good("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        def step(train):
            if train:
                out = model(torch.ones(2))
            else:
                with torch.no_grad():
                    out = model(torch.ones(2))
            if train:
                out.sum().backward()
        """, "branches: not certain"),
    Good("GL204", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            x = model(torch.ones(2)).detach()
        x = x.requires_grad_(True)
        (x ** 2).sum().backward()
        """, "a detached input made to require grad"),

    # ---------------------------------------------------------------- GL205 no-grad-decorated-forward
    Bad("GL205", """\
        import torch
        from torch import nn, no_grad
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
            @no_grad()  # BAD
            def forward(self, x):
                return self.body(x)
        Net()(torch.ones(2)).sum().backward()
        """, raises=NO_GRAD_FN),
    Bad("GL205", """\
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
            @torch.inference_mode()  # BAD
            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x
        Net()(torch.ones(2)).sum().backward()
        """, raises=NO_GRAD_FN),
    Bad("GL205", """\
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        class Linear(nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = nn.Parameter(torch.ones(2, 2))
            @torch.no_grad()  # BAD
            def forward(self, x):
                return F.linear(x, self.weight)
        Linear()(torch.ones(2)).sum().backward()
        """, raises=NO_GRAD_FN),
    Bad("GL205", """\
        import torch
        from torch import nn
        class Base(nn.Module):
            pass
        class Net(Base):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 1)
            @torch.no_grad  # BAD
            def forward(self, x):
                return self.fc(x)
        Net()(torch.ones(2)).sum().backward()
        """, raises=NO_GRAD_FN),
    Bad("GL205", """\
        import torch
        from torch import nn
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            def forward(self, x):
                return self.fc(x)
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = Block()
            @torch.no_grad()  # BAD
            def forward(self, x):
                return self.block(x).relu()
        Net()(torch.ones(2)).sum().backward()
        """, raises=NO_GRAD_FN),
    Bad("GL205", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
                self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
            @torch.no_grad  # BAD
            def train_step(self, x):
                loss = self.model(x).mean()
                loss.backward()
                self.opt.step()
        Trainer().train_step(torch.ones(2))
        """, raises=NO_GRAD_FN),
    Bad("GL205", """\
        import torch
        from torch import nn
        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_parameter("gain", nn.Parameter(torch.ones(2)))
            @torch.inference_mode(mode=True)  # BAD
            def forward(self, x):
                return x * self.gain
        Scale()(torch.ones(2)).sum().backward()
        """, raises=NO_GRAD_FN),
    Bad("GL205", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
            @torch.no_grad()  # BAD
            def forward(self, x):
                return self.heads["a"](x)
        Net()(torch.ones(2)).sum().backward()
        """, raises=NO_GRAD_FN),
    Bad("GL205", """\
        import torch
        model = torch.nn.Linear(2, 1)
        @torch.no_grad()  # BAD
        def fit_batch(x, y):
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
        for i, (x, y) in enumerate([(torch.ones(2), torch.zeros(1))]):
            fit_batch(x, y)
        """, raises=NO_GRAD_FN),
    Bad("GL205", """\
        import torch
        from torch import nn
        def make_layer():
            return nn.Linear(2, 2)
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = make_layer()
            @torch.no_grad()  # BAD
            def forward(self, x):
                return self.fc(x)
        Net()(torch.ones(2)).sum().backward()
        """, raises=NO_GRAD_FN),
    Good("GL205", """\
        import torch
        from torch import nn
        class PositionalEncoding(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.register_buffer("pe", torch.zeros(1, d))
                self.scale = 2.0
            @torch.no_grad()
            def forward(self, x):
                return x * self.scale + self.pe
        """, "parameter-free forward"),
    Good("GL205", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            def forward(self, x):
                return self.fc(x)
            @torch.no_grad()
            def generate(self, x):
                return self.fc(x).argmax(-1)
        """, "an inference method"),
    Good("GL205", """\
        import torch
        @torch.no_grad()
        def ema_update(ema, model, decay=0.99):
            for e, p in zip(ema.parameters(), model.parameters()):
                e.mul_(decay).add_(p, alpha=1 - decay)
        @torch.no_grad
        def apply(optimizer):
            optimizer.step()
        """, "updates without a loss"),
    Good("GL205", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            @torch.inference_mode(False)
            def forward(self, x):
                return self.fc(x)
        """, "inference_mode(False) leaves grad on"),
    Good("GL205", """\
        import asyncio
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            def forward(self, x):
                return self.fc(x)
        net = Net()
        @torch.inference_mode()
        async def train_step(x):
            loss = net(x).sum()
            loss.backward()
        asyncio.run(train_step(torch.ones(2)))
        """, "a decorated coroutine's body runs with grad on"),
    Good("GL205", """\
        import torch
        class Wrapper:
            def __init__(self, model):
                self.model = model
            @torch.no_grad()
            def forward(self, x):
                return self.model(x)
        """, "not an nn.Module"),
    Good("GL205", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            @torch.no_grad()
            def forward(self, x):
                with torch.enable_grad():
                    return self.fc(x)
        """, "grad switched back on inside"),

    # ---------------------------------------------------------------- GL206 no-grad-blocks-upstream
    Bad("GL206", """\
        import torch as th
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin0 = nn.Linear(2, 2)
                self.lin1 = nn.Linear(2, 2)
                self.lin2 = nn.Linear(2, 1)
            def forward(self, x):
                h = self.lin0(x)
                with th.no_grad():
                    h = self.lin1(h)  # BAD
                return self.lin2(h)
        net = Net()
        net(th.ones(2)).sum().backward()
        print(net.lin0.weight.grad)
        """, prints="None"),
    Bad("GL206", """\
        import torch
        from torch import nn, no_grad
        import torch.nn.functional as F
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(2, 2)
                self.fc2 = nn.Linear(2, 2)
                self.out = nn.Linear(2, 1)
            def forward(self, x):
                h = F.relu(self.fc1(x))
                with no_grad():
                    h = self.fc2(h)  # BAD
                return self.out(h)
        net = Net()
        net(torch.ones(2)).sum().backward()
        print(net.fc1.weight.grad)
        """, prints="None"),
    Bad("GL206", """\
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(2, 2)
                self.proj = nn.Linear(2, 2)
                self.head = nn.Linear(2, 1)
            def forward(self, x):
                seq, _ = self.rnn(x)
                with torch.no_grad():
                    z = self.proj(seq)  # BAD
                return self.head(z)
        net = Net()
        net(torch.ones(3, 1, 2)).sum().backward()
        print(net.rnn.weight_ih_l0.grad)
        """, prints="None"),
    Bad("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(2, 2)
                self.frozen = nn.Linear(2, 1)
            def forward(self, x):
                h = self.enc(x)
                with torch.no_grad():
                    return self.frozen(h)  # BAD
        net = Net()
        out = net(torch.ones(2))
        print(net.enc.weight.grad, out.requires_grad)
        """, prints="None False"),
    Bad("GL206", """\
        import torch
        from torch import nn
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
            def forward(self, x):
                return self.fc(x)
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = Block()
                self.mid = Block()
                self.head = nn.Linear(2, 1)
            def forward(self, x):
                h = self.stem(x)
                h = h.relu()
                with torch.no_grad():
                    h = self.mid(h)  # BAD
                return self.head(h)
        net = Net()
        net(torch.ones(2)).sum().backward()
        print(net.stem.fc.weight.grad)
        """, prints="None"),
    Bad("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
                self.emb = nn.Linear(2, 2)
                self.head = nn.Linear(2, 1)
            def forward(self, x):
                h = self.emb(x)
                with torch.no_grad(), torch.autocast("cpu", enabled=False):
                    h = self.blocks(h)  # BAD
                return self.head(h)
        net = Net()
        net(torch.ones(2)).sum().backward()
        print(net.emb.weight.grad)
        """, prints="None"),
    Bad("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Linear(2, 2)
                self.body = nn.Linear(2, 2)
                self.head = nn.Linear(2, 1)
            def forward(self, x):
                h = self.embed(x)
                h += 1
                with torch.no_grad():
                    feats = self.body(h)  # BAD
                logits = self.head(feats)
                return logits
        net = Net()
        net(torch.ones(2)).sum().backward()
        print(net.embed.weight.grad)
        """, prints="None"),
    Bad("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(2, 2)
                self.b = nn.Linear(2, 2)
                self.c = nn.Linear(2, 1)
            def forward(self, x):
                h = self.a(x)
                with torch.no_grad():
                    h = self.b(h).tanh()  # BAD
                return self.c(h)
        net = Net()
        net(torch.ones(2)).sum().backward()
        print(net.a.weight.grad)
        """, prints="None"),
    Good("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Linear(2, 2)
                self.target = nn.Linear(2, 2)
                self.online = nn.Linear(2, 2)
            def forward(self, x):
                f = self.backbone(x)
                with torch.no_grad():
                    t = self.target(f)
                return self.online(f), t
        """, "stop-gradient target branch"),
    Good("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.frozen = nn.Linear(2, 2)
                self.head = nn.Linear(2, 1)
            def forward(self, x):
                with torch.no_grad():
                    h = self.frozen(x)
                return self.head(h)
        """, "frozen first layer"),
    Good("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(2, 2)
                self.act = nn.ReLU()
            def forward(self, x):
                h = self.enc(x)
                with torch.no_grad():
                    mask = self.act(h) > 0
                return h * mask
        """, "parameter-free layer; h used again"),
    Good("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(2, 2)
                self.probe = nn.Linear(2, 1)
            def forward(self, x):
                h = self.enc(x)
                with torch.no_grad():
                    self.last_probe = self.probe(h)
                return h
        """, "monitoring only"),
    Good("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(2, 2)
                self.dec = nn.Linear(2, 2)
            def forward(self, x):
                h = self.enc(x)
                with torch.no_grad():
                    r = self.dec(h)
                return h + r
        """, "the earlier output goes on too (residual)"),
    Good("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(2, 2)
                self.proj = nn.Linear(2, 2)
            def forward(self, x):
                seq, last = self.rnn(x)
                with torch.no_grad():
                    z = self.proj(seq)
                return z + last
        """, "another output of the same call goes on"),
    Good("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(2, 2)
                self.dec = nn.Linear(2, 2)
            def forward(self, x):
                h = self.enc(x)
                h += 1
                with torch.no_grad():
                    r = self.dec(h)
                return h * r
        """, "the updated output goes on too"),
    Good("GL206", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(2, 2)
                self.dec = nn.Linear(2, 2)
            def encode(self, x):
                h = self.enc(x)
                with torch.no_grad():
                    h = self.dec(h)
                return h
        """, "not forward"),

    # ---------------------------------------------------------------- GL207 inference-tensor-in-autograd
    Bad("GL207", """\
        import torch as th
        w = th.ones(2, 2, requires_grad=True)
        with th.inference_mode():
            x = th.randn(3, 2)
        loss = (x @ w).sum()  # BAD
        loss.backward()
        """, raises=INFERENCE_SAVED),
    Bad("GL207", """\
        import torch
        w = torch.ones(2, 2, requires_grad=True)
        with torch.inference_mode():
            feats = torch.randn(3, 2)
        out = torch.mm(feats, w)  # BAD
        out.sum().backward()
        """, raises=INFERENCE_SAVED),
    Bad("GL207", """\
        import torch
        class Trainer:
            def __init__(self):
                self.backbone = torch.nn.Linear(4, 4)
                self.head = torch.nn.Linear(4, 1)
            def step(self, x):
                with torch.inference_mode():
                    feats = self.backbone(x)
                loss = self.head(feats).mean()  # BAD
                loss.backward()
        Trainer().step(torch.ones(2, 4))
        """, raises=INFERENCE_SAVED),
    Bad("GL207", """\
        import torch
        import torch.nn.functional as F
        w = torch.ones(2, 2, requires_grad=True)
        with torch.inference_mode():
            x = torch.ones(1, 2)
        F.linear(x, w).sum().backward()  # BAD
        """, raises=INFERENCE_SAVED),
    Bad("GL207", """\
        import torch
        from torch import nn
        lstm = nn.LSTM(2, 2)
        head = nn.Linear(2, 1)
        with torch.inference_mode():
            seq, _ = lstm(torch.ones(3, 1, 2))
        loss = head(seq).sum()  # BAD
        loss.backward()
        """, raises=INFERENCE_SAVED),
    Bad("GL207", """\
        import torch
        head = torch.nn.Linear(2, 1)
        loader = [torch.ones(1, 2)]
        for i, batch in enumerate(loader):
            with torch.inference_mode():
                z = batch * 2
            out = head(z.view(1, 2)).sum()  # BAD
            out.backward()
        """, raises=INFERENCE_SAVED,
        miss="'batch' is an item of an unknown iterable: 'batch * 2' may be a number, not an inference "
             "tensor"),
    Bad("GL207", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        with torch.inference_mode():
            base = torch.randn(2)
        scaled = base[0] * w  # BAD
        scaled.sum().backward()
        """, raises=INFERENCE_SAVED),
    Bad("GL207", """\
        import torch
        backbone = torch.nn.Linear(2, 2)
        head = torch.nn.Linear(2, 1)
        @torch.inference_mode()
        def embed(x):
            return backbone(x)
        feats = embed(torch.ones(2))
        head(feats).sum().backward()  # BAD
        """, raises=INFERENCE_SAVED),
    Bad("GL207", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        with torch.inference_mode():
            x = torch.randn(2)
        y = x
        torch.mul(y, w).sum().backward()  # BAD
        """, raises=INFERENCE_SAVED),
    Good("GL207", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        with torch.inference_mode():
            x = torch.ones(2)
        loss = (w + x).sum() - x.sum()
        loss.backward()
        """, "addition and subtraction save nothing"),
    Good("GL207", """\
        import torch
        head = torch.nn.Linear(2, 1)
        with torch.no_grad():
            feats = torch.randn(2)
        head(feats).sum().backward()
        """, "no_grad tensors are normal"),
    Good("GL207", """\
        import torch
        head = torch.nn.Linear(2, 1)
        with torch.inference_mode():
            feats = torch.randn(2)
        feats = feats.clone()
        head(feats).sum().backward()
        """, "cloned outside"),
    Good("GL207", """\
        import torch
        head = torch.nn.Linear(2, 1)
        with torch.inference_mode():
            feats = torch.randn(2)
            preds = head(feats)
        print(preds.argmax())
        """, "inference only"),
    Good("GL207", """\
        import torch
        head = torch.nn.Linear(2, 1)
        with torch.inference_mode():
            feats = torch.randn(2)
        stats = (feats * 2).mean()
        loss = head(torch.ones(2)).sum() * 3
        loss.backward()
        """, "multiplied by constants only; backward on something else"),
    Good("GL207", """\
        import torch
        head = torch.nn.Linear(2, 1)
        @torch.inference_mode()
        def check(x):
            assert torch.isfinite(x).all()
            return x
        @torch.no_grad()
        def embed(x):
            return x * 2
        feats = check(torch.ones(2))
        extra = embed(torch.ones(2))
        (head(feats) * head(extra)).sum().backward()
        """, "an inference-mode function that returns its input; a no_grad function"),
    Good("GL207", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        with torch.inference_mode():
            x = torch.randn(2)
        y = x
        y = torch.randn(2)
        torch.mul(y, w).sum().backward()
        """, "the copy is rebound before the use"),

    # ---------------------------------------------------------------- GL208 global-grad-mode-leak
    Bad("GL208", """\
        import torch as th
        model = th.nn.Linear(2, 1)
        th.set_grad_enabled(False)  # BAD
        print(model(th.ones(2)))
        for x in [th.ones(2)]:
            model(x).sum().backward()
        """, raises=NO_GRAD_FN),
    Bad("GL208", """\
        import torch
        from torch import set_grad_enabled
        model = torch.nn.Linear(2, 1)
        set_grad_enabled(False)  # BAD
        loss = model(torch.ones(2)).sum()
        loss.backward()
        """, raises=NO_GRAD_FN),
    Bad("GL208", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
                self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
            def fit(self, x):
                torch.set_grad_enabled(mode=False)  # BAD
                self.model.eval()
                self.model.train()
                loss = self.model(x).sum()
                loss.backward()
                self.opt.step()
        Trainer().fit(torch.ones(2))
        """, raises=NO_GRAD_FN),
    Bad("GL208", """\
        import torch
        model = torch.nn.Linear(2, 1)
        def train_epoch(m):
            loss = m(torch.ones(2)).sum()
            loss.backward()
        torch.set_grad_enabled(False)  # BAD
        print(model(torch.ones(2)))
        train_epoch(model)
        """, raises=NO_GRAD_FN),
    Bad("GL208", """\
        import torch
        model = torch.nn.Linear(2, 1)
        epoch = 0
        while epoch < 2:
            loss = model(torch.ones(2)).sum()
            loss.backward()
            torch.autograd.set_grad_enabled(False)  # BAD
            print(model(torch.ones(2)))
            epoch += 1
        """, raises=NO_GRAD_FN),
    Bad("GL208", """\
        import asyncio
        import torch
        model = torch.nn.Linear(2, 1)
        async def run():
            torch.set_grad_enabled(False)  # BAD
            model(torch.ones(2)).sum().backward()
        asyncio.run(run())
        """, raises=NO_GRAD_FN),
    Bad("GL208", """\
        import torch
        import torch.nn.functional as F
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loader = [(torch.ones(2), torch.zeros(1))]
        torch.set_grad_enabled(False)  # BAD
        for i, (x, y) in enumerate(loader):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
        """, raises=NO_GRAD_FN),
    Bad("GL208", """\
        import torch
        from torch.autograd import grad_mode
        model = torch.nn.Linear(2, 1)
        grad_mode.set_grad_enabled(False)  # BAD
        out = model(torch.ones(2))
        torch.autograd.backward(out.sum())
        """, raises=NO_GRAD_FN),
    Bad("GL208", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
                self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
            def fit(self, x):
                loss = self.model(x).sum()
                loss.backward()
                self.opt.step()
        trainer = Trainer()
        torch.set_grad_enabled(False)  # BAD
        print(trainer.model(torch.ones(2)))
        trainer.fit(torch.ones(2))
        """, raises=NO_GRAD_FN),
    Good("GL208", """\
        import torch
        class Base:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
            def fit(self, x):
                self.model(x).sum().backward()
            def evaluate(self, x):
                return self.model(x)
        class Predictor(Base):
            def fit(self, x):
                return None
        runner = Predictor()
        base = Base()
        torch.set_grad_enabled(False)
        runner.fit(torch.ones(2))
        base.evaluate(torch.ones(2))
        """, "methods that do not train (an override, an evaluation)"),
    Good("GL208", """\
        import torch
        model = torch.nn.Linear(2, 1)
        torch.set_grad_enabled(False)
        for x in [torch.ones(2)]:
            print(model(x).argmax())
        """, "an inference script"),
    Good("GL208", """\
        import torch
        model = torch.nn.Linear(2, 1)
        torch.set_grad_enabled(False)
        print(model(torch.ones(2)))
        torch.set_grad_enabled(True)
        model(torch.ones(2)).sum().backward()
        """, "restored"),
    Good("GL208", """\
        import torch
        model = torch.nn.Linear(2, 1)
        def run(eval_only):
            if eval_only:
                torch.set_grad_enabled(False)
            model(torch.ones(2)).sum().backward()
        """, "conditional"),
    Good("GL208", """\
        import torch
        model = torch.nn.Linear(2, 1)
        torch.set_grad_enabled(False)
        with torch.enable_grad():
            model(torch.ones(2)).sum().backward()
        """, "training re-enables grad"),
    Good("GL208", """\
        import torch
        model = torch.nn.Linear(2, 1)
        model(torch.ones(2)).sum().backward()
        torch.set_grad_enabled(False)
        print(model(torch.ones(2)))
        """, "training ran before"),
    Good("GL208", """\
        import torch
        model = torch.nn.Linear(2, 1)
        prev = torch.is_grad_enabled()
        torch.set_grad_enabled(False)
        print(model(torch.ones(2)))
        torch.set_grad_enabled(prev)
        model(torch.ones(2)).sum().backward()
        """, "restored to the previous mode"),

    # ---------------------------------------------------------------- GL209 redundant-grad-context
    Bad("GL209", """\
        import torch as th
        @th.no_grad
        def evaluate(model, x):
            print(th.is_grad_enabled())
            with th.no_grad():  # BAD
                return model(x)
        evaluate(th.nn.Linear(2, 1), th.ones(2))
        """, prints="False"),
    Bad("GL209", """\
        import torch
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            i = 0
            while i < 1:
                print(torch.is_grad_enabled())
                with torch.no_grad():  # BAD
                    model(torch.ones(2))
                i += 1
        """, prints="False"),
    Bad("GL209", """\
        import torch
        class Runner:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
            @torch.inference_mode()
            def predict(self, x):
                print(torch.is_inference_mode_enabled())
                with torch.inference_mode():  # BAD
                    return self.model(x)
        Runner().predict(torch.ones(2))
        """, prints="True"),
    Bad("GL209", """\
        import torch
        from torch import no_grad
        class Runner:
            @no_grad()
            def run(self, x):
                print(torch.is_grad_enabled())
                for i, item in enumerate(x):
                    with no_grad():  # BAD
                        item * 2
        Runner().run([torch.ones(2)])
        """, prints="False"),
    Bad("GL209", """\
        import asyncio
        import torch
        async def serve(x):
            with torch.no_grad():
                print(torch.is_grad_enabled())
                with torch.no_grad():  # BAD
                    return x * 2
        asyncio.run(serve(torch.ones(2)))
        """, prints="False"),
    Bad("GL209", """\
        import torch
        with torch.no_grad():
            print(torch.is_grad_enabled())
            with torch.autograd.no_grad():  # BAD
                y = torch.ones(2) * 2
        """, prints="False"),
    Bad("GL209", """\
        import torch
        class Evaluator:
            @staticmethod
            @torch.no_grad()
            def score(model, x):
                print(torch.is_grad_enabled())
                with torch.no_grad():  # BAD
                    return model(x)
        Evaluator.score(torch.nn.Linear(2, 1), torch.ones(2))
        """, prints="False"),
    Bad("GL209", """\
        import torch
        @torch.inference_mode(mode=True)
        def predict(x):
            print(torch.is_inference_mode_enabled())
            with torch.inference_mode():  # BAD
                return x * 2
        predict(torch.ones(2))
        """, prints="True"),
    Bad("GL209", """\
        import torch
        with torch.no_grad():
            if True:
                print(torch.is_grad_enabled())
                with torch.no_grad():  # BAD
                    y = torch.ones(2)
        """, prints="False"),
    Good("GL209", """\
        import torch
        with torch.no_grad():
            with torch.enable_grad():
                with torch.no_grad():
                    y = torch.ones(2)
        """, "enable_grad in between"),
    Good("GL209", """\
        import torch
        with torch.inference_mode():
            with torch.no_grad():
                y = torch.ones(2)
        """, "a different mode"),
    Good("GL209", """\
        import torch
        @torch.no_grad()
        def outer():
            def inner():
                with torch.no_grad():
                    return torch.ones(2)
            return inner
        """, "a nested function runs when called"),
    Good("GL209", """\
        import torch
        def evaluate(train):
            with torch.set_grad_enabled(train):
                with torch.no_grad():
                    return torch.ones(2)
        """, "outer mode unknown"),
    Good("GL209", """\
        import torch
        @torch.no_grad()
        def outer():
            fn = lambda: torch.ones(2)
            class Inner:
                def run(self):
                    with torch.no_grad():
                        return fn()
            return Inner
        """, "a method of a class defined inside"),
    Good("GL209", """\
        import asyncio
        import torch
        @torch.no_grad()
        async def serve(x):
            with torch.no_grad():
                return x * 2
        asyncio.run(serve(torch.ones(2)))
        """, "a decorated coroutine's body runs in the caller's mode (grad on): the block is not redundant"),
    Good("GL209", """\
        import torch
        with torch.inference_mode(False):
            with torch.inference_mode():
                y = torch.ones(2)
        """, "inference_mode(False) outside"),
]


def _named(cases):
    """Case id (``GL101-bad-03``) -> case, in the order written."""
    named, counts = {}, {}
    for case in cases:
        kind = "bad" if isinstance(case, BadCase) else "good"
        counts[(case.code, kind)] = counts.get((case.code, kind), 0) + 1
        named[f"{case.code}-{kind}-{counts[(case.code, kind)]:02d}"] = case
    return named


CASES = _named(GL1_CASES + GL2_CASES)
BAD = {name: case for name, case in CASES.items() if isinstance(case, BadCase)}
GOOD = {name: case for name, case in CASES.items() if isinstance(case, GoodCase)}
RULES = sorted({case.code for case in CASES.values()})


def _bad_params():
    for name, case in BAD.items():
        marks = [pytest.mark.xfail(reason=case.miss, strict=True)] if case.miss else []
        yield pytest.param(name, id=name, marks=marks)


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    """(line, code) of every finding, by case id: one CLI run over a folder holding every case."""
    folder = tmp_path_factory.mktemp("recall")
    for name, case in CASES.items():
        (folder / f"{name.replace('-', '_')}.py").write_text(case.source, encoding="utf-8")
    completed = run_autogradlint("check", "--no-cache", "--select", "GL1,GL2", "--output-format", "json", str(folder))
    assert completed.returncode in (0, 1), completed.stderr.decode()
    found = {name: [] for name in CASES}
    for finding in json.loads(completed.stdout):
        found[Path(finding["path"]).stem.replace("_", "-")].append((finding["line"], finding["code"]))
    return found


def test_every_rule_has_its_share_of_cases():
    for code in RULES:
        assert sum(case.code == code for case in BAD.values()) >= 8, code
        assert sum(case.code == code for case in GOOD.values()) >= 5, code


@pytest.mark.parametrize("name", list(_bad_params()))
def test_pitfall_is_found(name, findings):
    case = BAD[name]
    assert (case.line, case.code) in findings[name], (findings[name], case.source)


@pytest.mark.parametrize("name", list(GOOD))
def test_look_alike_stays_silent(name, findings):
    case = GOOD[name]
    assert [f for f in findings[name] if f[1] == case.code] == [], (case.why, case.source)


@pytest.fixture(scope="module")
def torch_runs():
    """What each bad program does in real torch: one evidence_runner process for all of them."""
    items = [{"id": name, "source": case.source} for name, case in BAD.items()]
    completed = subprocess.run([sys.executable, str(RUNNER)], input=json.dumps(items), capture_output=True,
                               text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return {item["id"]: item for item in json.loads(completed.stdout)}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(BAD))
def test_pitfall_is_real_in_torch(name, torch_runs):
    case, run = BAD[name], torch_runs[name]
    if case.raises is not None:
        assert run["raised"] == case.raises[0] and case.raises[1] in run["message"], run
    else:
        assert run["raised"] is None and run["stdout"].strip() == case.prints, run
    if case.warns is not None:
        assert any(case.warns in warning for warning in run["warnings"]), run
