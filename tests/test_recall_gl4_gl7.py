"""Recall of the GL4xx-GL7xx rules on hand-written cases, written the way a new user writes them: import
aliases, keyword arguments, receivers that are attribute chains (``self.model``, ``trainer.opt``), optimizers
built by a helper, ``for epoch ...: for i, (x, y) in enumerate(loader):``, ``while`` loops, plain Trainer
classes, notebook-style top-level code. Each bad case marks the line the finding must point at with ``# !``;
each look-alike must leave its rule silent.

All cases are written into one folder and checked by ONE ``check --select ALL --output-format json`` run of
the real CLI. The bad cases that can run on CPU are run in real torch (one evidence_runner process) and must
show the run-time symptom RULES.md names for the rule; the rest say why they cannot run here.
"""
import json
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

Bad = namedtuple("Bad", "rule name source shows")  # shows: what torch prints/raises/warns, or a str saying why not run
Ok = namedtuple("Ok", "rule name source")

LOADER = "loader = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(2)]\n"
NOT_CPU = "needs CUDA: on a CPU machine the scaler disables itself"

# ---------------------------------------------------------------------------------------------- GL401
GL401 = [
    Bad("GL401", "moved_then_eval_chain", """\
        import torch
        def evaluate(model, loader, device):
            model.to(device).eval()  # !
            for x in loader:
                out = model(x.to(device))
            return out
        print(evaluate(torch.nn.Linear(2, 1), [torch.ones(1, 2)], "cpu").grad_fn is not None)
        """, {"stdout": "True"}),
    Bad("GL401", "evaluator_private_forward", """\
        import torch
        class Evaluator:
            def __init__(self, model):
                self.model = model
                self.last = None
            def _forward(self, x):
                self.last = self.model(x)
                return self.last
            def evaluate(self, loader):
                self.model.train(False)  # !
                scores = []
                for x, y in loader:
                    scores.append((self._forward(x).argmax(1) == y).float().mean().item())
                return scores
        ev = Evaluator(torch.nn.Linear(3, 2))
        ev.evaluate([(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))])
        print(ev.last.grad_fn is not None)
        """, {"stdout": "True"}),
    Bad("GL401", "eval_then_helper_runs", """\
        import torch
        def predict_all(model, loader):
            preds = []
            for x in loader:
                preds.append(model(x))
            return preds
        def test(model, loader):
            model.eval()  # !
            return predict_all(model, loader)
        print(test(torch.nn.Linear(2, 1), [torch.ones(1, 2)])[0].grad_fn is not None)
        """, {"stdout": "True"}),
    Bad("GL401", "notebook_alias", """\
        import torch as th
        from torch import nn
        net = nn.Linear(4, 2)
        net.eval()  # !
        batches = [th.randn(3, 4) for _ in range(2)]
        for xb in batches:
            out = net(xb)
        print(out.grad_fn is not None)
        """, {"stdout": "True"}),
    Bad("GL401", "trainer_validate", """\
        import torch
        import torch.nn as nn
        class Trainer:
            def __init__(self, model, val_loader):
                self.model = model
                self.val_loader = val_loader
                self.last = None
            def validate(self):
                self.model.eval()  # !
                total = 0.0
                for x, y in self.val_loader:
                    pred = self.model(x)
                    total += ((pred - y) ** 2).mean().item()
                    self.last = pred
                return total
        t = Trainer(nn.Linear(2, 1), [(torch.randn(4, 2), torch.randn(4, 1))])
        t.validate()
        print(t.last.requires_grad)
        """, {"stdout": "True"}),
    Bad("GL401", "train_mode_keyword_while", """\
        import torch
        def predict(model, xs):
            model.train(mode=False)  # !
            outs = []
            while xs:
                outs.append(model(xs.pop()))
            return outs
        outs = predict(torch.nn.Linear(2, 2), [torch.ones(1, 2)])
        print(outs[0].requires_grad)
        """, {"stdout": "True"}),
    Bad("GL401", "enumerate_loader", """\
        import torch
        import torch.nn as nn
        def evaluate(model, loader):
            model.eval()  # !
            correct = 0
            for i, (x, y) in enumerate(loader):
                logits = model(x)
                correct += (logits.argmax(1) == y).sum().item()
            return correct, logits
        loader = [(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))]
        _, logits = evaluate(nn.Linear(3, 2), loader)
        print(logits.requires_grad)
        """, {"stdout": "True"}),
    Bad("GL401", "module_class_script", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)
                self.drop = nn.Dropout(0.2)
            def forward(self, x):
                return self.drop(self.fc(x))
        model = Net()
        model.eval()  # !
        logits = model(torch.randn(2, 4))
        probs = logits.softmax(-1)
        print(probs.grad_fn is not None)
        """, {"stdout": "True"}),
    Bad("GL401", "autocast_is_not_no_grad", """\
        import torch
        def test_epoch(net, loader):
            net.eval()  # !
            for x, _ in loader:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    out = net(x)
            return out
        """ + "loader = [(torch.randn(4, 2), torch.randn(4, 1))]\n"
        "print(test_epoch(torch.nn.Linear(2, 1), loader).requires_grad)\n", {"stdout": "True"}),
    Bad("GL401", "forward_method_call", """\
        from torch import nn
        import torch
        encoder = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        def infer(batch):
            encoder.eval()  # !
            return encoder.forward(batch)
        print(infer(torch.ones(1, 4)).requires_grad)
        """, {"stdout": "True"}),
]
GL401_OK = [
    Ok("GL401", "called_under_no_grad_by_method", """\
        import torch
        class Trainer:
            def evaluate(self, loader):
                self.model.eval()
                for x in loader:
                    self.model(x)
            def fit(self, loader):
                with torch.no_grad():
                    self.evaluate(loader)
        """),
    Ok("GL401", "bare_inference_mode_decorator", """\
        import torch
        @torch.inference_mode
        def evaluate(model, loader):
            model.eval()
            for x in loader:
                model(x)
        """),
    Ok("GL401", "with_two_items", """\
        import torch
        def evaluate(model, loader):
            model.eval()
            with torch.autocast("cuda"), torch.no_grad():
                for x in loader:
                    model(x)
        """),
    Ok("GL401", "grad_switched_off_globally", """\
        import torch
        torch.set_grad_enabled(False)
        model.eval()
        for x in loader:
            print(model(x))
        """),
    Ok("GL401", "inference_mode_keyword", """\
        import torch
        def predict(model, xs):
            model.eval()
            with torch.inference_mode(mode=True):
                return [model(x) for x in xs]
        """),
    Ok("GL401", "helper_runs_under_no_grad", """\
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))
            def _run(self, loader):
                with torch.no_grad():
                    return [self.model(x) for x in loader]
            def validate(self, loader):
                self.model.eval()
                return self._run(loader)
        """),
    Ok("GL401", "ema_under_no_grad", """\
        import torch
        def validate(ema, loader):
            ema.eval()
            with torch.no_grad():
                for x, y in loader:
                    ema(x)
        """),
    Ok("GL401", "home_made_evaluator", """\
        import torch
        class Evaluator:
            def eval(self):
                self.ready = True
            def __call__(self, x):
                return x
        evaluator = Evaluator()
        evaluator.eval()
        for x in [1, 2]:
            print(evaluator(x))
        """),
    Ok("GL401", "set_grad_enabled_false_block", """\
        import torch
        def evaluate(model, loader):
            model.eval()
            with torch.set_grad_enabled(False):
                for x in loader:
                    model(x)
        """),
    Ok("GL401", "called_from_decorated", """\
        import torch
        def evaluate(model, loader):
            model.eval()
            for x in loader:
                model(x)
        @torch.no_grad()
        def main(model, loader):
            evaluate(model, loader)
        """),
    Ok("GL401", "adversarial_attack", """\
        import torch
        def fgsm(model, x, y, eps):
            model.eval()
            x = x.clone().requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return x + eps * x.grad.sign()
        """),
    Ok("GL401", "export_by_trace", """\
        import torch
        def export(model, example):
            model.eval()
            traced = torch.jit.trace(model, example)
            traced.save("model.pt")
        """),
    Ok("GL401", "frozen_batchnorm_in_training", """\
        import torch
        from torch import nn
        def train_epoch(model, loader, opt):
            model.train()
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
            for x, y in loader:
                opt.zero_grad()
                nn.functional.mse_loss(model(x), y).backward()
                opt.step()
        """),
]

# ---------------------------------------------------------------------------------------------- GL402
GL402 = [
    Bad("GL402", "trainer_optimizer_from_init_argument", """\
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
                self.opt = torch.optim.SGD(model.parameters(), lr=0.1)
                self.modes = []
            def run(self, loader, val, epochs):
                for epoch in range(epochs):  # !
                    for x in loader:
                        self.modes.append(self.model.training)
                        self.opt.zero_grad()
                        self.model(x).sum().backward()
                        self.opt.step()
                    self.model.eval()
                    with torch.no_grad():
                        self.model(val)
        t = Trainer(torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Dropout(0.1)))
        t.run([torch.ones(3, 2)], torch.ones(1, 2), 2)
        print(t.modes)
        """, {"stdout": "[True, False]"}),
    Bad("GL402", "fit_with_helpers", """\
        import torch
        modes = []
        def train_epoch(model, loader, optimizer):
            for x, y in loader:
                modes.append(model.training)
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                optimizer.step()
        def validate(model, loader):
            model.eval()
            with torch.no_grad():
                return sum(torch.nn.functional.mse_loss(model(x), y).item() for x, y in loader)
        def fit(model, train_loader, val_loader, epochs):
            optimizer = torch.optim.Adam(model.parameters())
            for epoch in range(epochs):  # !
                train_epoch(model, train_loader, optimizer)
                validate(model, val_loader)
        model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Dropout(0.1))
        """ + LOADER + """\
        fit(model, loader[:1], loader, 2)
        print(modes)
        """, {"stdout": "[True, False]"}),
    Bad("GL402", "trainer_fit", """\
        import torch
        import torch.nn.functional as F
        class Trainer:
            def __init__(self, model, opt):
                self.model = model
                self.opt = opt
                self.modes = []
            def train_step(self, x, y):
                self.modes.append(self.model.training)
                self.opt.zero_grad()
                loss = F.mse_loss(self.model(x), y)
                loss.backward()
                self.opt.step()
            def validate(self, loader):
                self.model.eval()
                with torch.no_grad():
                    for x, y in loader:
                        self.model(x)
            def fit(self, loader, epochs):
                self.model.train()
                for epoch in range(epochs):  # !
                    for x, y in loader:
                        self.train_step(x, y)
                    self.validate(loader)
        model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Dropout(0.1))
        t = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1))
        t.fit([(torch.randn(4, 2), torch.randn(4, 1))], 2)
        print(t.modes)
        """, {"stdout": "[True, False]"}),
    Bad("GL402", "notebook_enumerate", """\
        import torch
        from torch import nn, optim
        model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Linear(4, 1))
        optimizer = optim.AdamW(model.parameters(), lr=1e-3)
        """ + LOADER + """\
        modes = []
        model.train()
        for epoch in range(2):  # !
            for i, (x, y) in enumerate(loader):
                modes.append(model.training)
                optimizer.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.inference_mode():
                val = sum(nn.functional.mse_loss(model(x), y).item() for x, y in loader)
        print(modes)
        """, {"stdout": "[True, True, False, False]"}),
    Bad("GL402", "while_train_false_keyword", """\
        import torch
        model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Dropout(0.1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        modes = []
        epoch = 0
        while epoch < 2:  # !
            modes.append(model.training)
            opt.zero_grad()
            model(torch.ones(3, 2)).sum().backward()
            opt.step()
            model.train(mode=False)
            epoch += 1
        print(modes)
        """, {"stdout": "[True, False]"}),
    Bad("GL402", "arguments_and_scheduler", """\
        import torch
        from torch.optim.lr_scheduler import StepLR
        def evaluate(model, data):
            model.eval()
            with torch.no_grad():
                return model(data).mean().item()
        def train(model, loader, optimizer, epochs, modes):
            scheduler = StepLR(optimizer, step_size=1)
            for epoch in range(epochs):  # !
                for x, y in loader:
                    modes.append(model.training)
                    optimizer.zero_grad()
                    torch.nn.functional.mse_loss(model(x), y).backward()
                    optimizer.step()
                scheduler.step()
                evaluate(model, x)
        model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Dropout(0.1))
        modes = []
        """ + LOADER + """\
        train(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), 2, modes)
        print(modes)
        """, {"stdout": "[True, True, False, False]"}),
    Bad("GL402", "optimizer_from_helper", """\
        import torch
        def make_optimizer(m):
            return torch.optim.SGD(m.parameters(), lr=0.1)
        model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Dropout(0.1))
        opt = make_optimizer(model)
        modes = []
        for epoch in range(2):  # !
            modes.append(model.training)
            opt.zero_grad()
            model(torch.ones(3, 2)).sum().backward()
            opt.step()
            model.eval()
        print(modes)
        """, {"stdout": "[True, False]"}),
    Bad("GL402", "periodic_eval", """\
        import torch
        import torch.nn as nn
        net = nn.Sequential(nn.Linear(2, 1), nn.Dropout(0.1))
        opt = torch.optim.Adam(net.parameters())
        modes = []
        for step in range(4):  # !
            modes.append(net.training)
            opt.zero_grad()
            net(torch.ones(3, 2)).mean().backward()
            opt.step()
            if step % 2 == 1:
                net.eval()
                with torch.no_grad():
                    net(torch.ones(1, 2))
        print(modes)
        """, {"stdout": "[True, True, False, False]"}),
]
GL402_OK = [
    Ok("GL402", "train_chain_at_top", """\
        import torch
        for epoch in range(3):
            model.to(device).train()
            for x in loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            model.eval()
        """),
    Ok("GL402", "trainer_teacher_eval", """\
        import torch
        class Distiller:
            def __init__(self, student, teacher):
                self.student = student
                self.teacher = teacher
                self.opt = torch.optim.SGD(student.parameters(), lr=0.1)
            def run(self, loader):
                for epoch in range(10):
                    for x in loader:
                        self.teacher.eval()
                        with torch.no_grad():
                            t = self.teacher(x)
                        self.opt.zero_grad()
                        ((self.student(x) - t) ** 2).mean().backward()
                        self.opt.step()
        """),
    Ok("GL402", "frozen_backbone_eval", """\
        import torch
        opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
        for epoch in range(3):
            model.backbone.eval()
            for x in loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
        """),
    Ok("GL402", "train_through_helper", """\
        import torch
        def set_train(model):
            model.train()
        for epoch in range(3):
            set_train(model)
            for x in loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            model.eval()
        """),
    Ok("GL402", "trainer_restores_in_step", """\
        import torch
        class Trainer:
            def train_step(self, x):
                self.model.train()
                self.opt.zero_grad()
                self.model(x).sum().backward()
                self.opt.step()
            def fit(self, loader):
                for epoch in range(3):
                    for x in loader:
                        self.train_step(x)
                    self.model.eval()
        """),
    Ok("GL402", "ema_model_eval", """\
        import torch
        import copy
        model = torch.nn.Linear(2, 1)
        ema = copy.deepcopy(model)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
            ema.eval()
            with torch.no_grad():
                ema(x)
        """),
    Ok("GL402", "validate_restores_in_finally", """\
        import torch
        def validate(model, data):
            model.eval()
            try:
                with torch.no_grad():
                    return model(data)
            finally:
                model.train()
        for epoch in range(3):
            for x in loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            validate(model, x)
        """),
    Ok("GL402", "eval_after_the_loop", """\
        import torch
        for epoch in range(3):
            for x in loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
        model.eval()
        """),
    Ok("GL402", "train_true_at_top", """\
        import torch
        for epoch in range(3):
            model.train(True)
            for x in loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            model.eval()
        """),
]

# ---------------------------------------------------------------------------------------------- GL404
GL404 = [
    Bad("GL404", "builder_and_decorated_predict", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU())
            def forward(self, x):
                return self.body(x)
        def build_model():
            return Net()
        @torch.no_grad()
        def predict(model, x):
            return model(x)  # !
        def main():
            model = build_model()
            predict(model, torch.randn(8, 4))
            return model
        print(main().body[1].num_batches_tracked.item())
        """, {"stdout": "1"}),
    Bad("GL404", "decorated_alias", """\
        import torch as th
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.drop = nn.Dropout(p=0.5)
            def forward(self, x):
                return self.drop(self.fc(x))
        @th.inference_mode()
        def predict(model, x):
            return model(x)  # !
        net = Net()
        th.manual_seed(0)
        print(th.equal(predict(net, th.ones(1, 4)), predict(net, th.ones(1, 4))))
        """, {"stdout": "False"}),
    Bad("GL404", "trainer_attribute", """\
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
            def validate(self, loader):
                outs = []
                with torch.no_grad():
                    for x in loader:
                        outs.append(self.model(x))  # !
                return outs
        t = Trainer()
        before = t.model[1].running_mean.clone()
        t.validate([torch.randn(8, 4)])
        print(torch.equal(before, t.model[1].running_mean))
        """, {"stdout": "False"}),
    Bad("GL404", "notebook_after_training", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 1)
                self.drop = nn.Dropout(0.3)
            def forward(self, x):
                return self.fc(self.drop(x))
        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        """ + LOADER + """\
        model.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        with torch.no_grad():
            preds = model(torch.ones(64, 2))  # !
        print(model.training, len(set(preds.flatten().tolist())) > 1)
        """, {"stdout": "True True"}),
    Bad("GL404", "from_import_layers", """\
        import torch
        from torch.nn import Dropout, Linear, Sequential
        model = Sequential(Linear(2, 8), Dropout(0.5))
        x = torch.ones(1, 2)
        with torch.no_grad():
            a = model(x)  # !
            b = model(x)
        print(torch.equal(a, b))
        """, {"stdout": "False"}),
    Bad("GL404", "modulelist_with_batchnorm", """\
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.BatchNorm1d(4)])
            def forward(self, x):
                for block in self.blocks:
                    x = block(x)
                return x
        def test(loader):
            net = Net()
            with torch.no_grad():
                for x in loader:
                    out = net(x)  # !
            return net
        net = test([torch.randn(8, 4)])
        print(net.training, net.blocks[1].num_batches_tracked.item())
        """, {"stdout": "True 1"}),
    Bad("GL404", "model_from_helper", """\
        import torch
        from torch import nn
        def build():
            return nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
        model = build()
        x = torch.ones(1, 4)
        with torch.no_grad():
            a = model(x)  # !
            b = model(x)
        print(torch.equal(a, b))
        """, {"stdout": "False"}),
]
GL404_OK = [
    Ok("GL404", "global_teacher_eval", """\
        import torch
        from torch import nn
        teacher = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        teacher.eval()
        def train(student, loader, opt):
            for x in loader:
                with torch.no_grad():
                    t = teacher(x)
                opt.zero_grad()
                ((student(x) - t) ** 2).mean().backward()
                opt.step()
        """),
    Ok("GL404", "trainer_eval_before_helper", """\
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))
            def _run(self, loader):
                with torch.no_grad():
                    return [self.model(x) for x in loader]
            def validate(self, loader):
                self.model.eval()
                return self._run(loader)
        """),
    Ok("GL404", "builder_may_return_plain", """\
        import torch
        from torch import nn
        def build(regularize):
            if regularize:
                return nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
            return nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        model = build(False)
        with torch.no_grad():
            model(torch.ones(1, 4))
        """),
    Ok("GL404", "train_false_first", """\
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        model.train(False)
        with torch.no_grad():
            model(x)
        """),
    Ok("GL404", "no_dropout_parameterlist", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.ws = nn.ParameterList([nn.Parameter(torch.ones(4)) for _ in range(2)])
                self.fc = nn.Linear(4, 4)
            def forward(self, x):
                return self.fc(x * self.ws[0])
        net = Net()
        with torch.no_grad():
            net(torch.ones(1, 4))
        """),
    Ok("GL404", "mc_dropout_on_purpose", """\
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        model.eval()
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.train()
        with torch.no_grad():
            samples = [model(x) for _ in range(10)]
        """),
    Ok("GL404", "teacher_eval_before_loop", """\
        import torch
        from torch import nn
        teacher = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        student = nn.Linear(2, 2)
        opt = torch.optim.SGD(student.parameters(), lr=0.1)
        teacher.eval()
        for x in loader:
            with torch.no_grad():
                t = teacher(x)
            opt.zero_grad()
            ((student(x) - t) ** 2).mean().backward()
            opt.step()
        """),
    Ok("GL404", "caller_switches_to_eval", """\
        import torch
        from torch import nn
        @torch.no_grad()
        def predict(model, x):
            return model(x)
        net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        net.eval()
        predict(net, x)
        """),
]

# ---------------------------------------------------------------------------------------------- GL501
GL501 = [
    Bad("GL501", "trainer_step_method_sums_loss", """\
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
                self.optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
            def step(self, batch):
                x, y = batch
                loss = torch.nn.functional.mse_loss(self.model(x), y)
                loss.backward()
                self.optimizer.step()
                return loss.item()
            def train_epoch(self, loader):
                total = 0.0
                for batch in loader:  # !
                    total += self.step(batch)
                return total
        model = torch.nn.Linear(1, 1, bias=False)
        Trainer(model).train_epoch([(torch.ones(1, 1), torch.zeros(1, 1))] * 2)
        print(model.weight.grad.item() / (2 * model.weight.item()))
        """, {"stdout": "2.0"}),
    Bad("GL501", "trainer_train_step", """\
        import torch
        class Trainer:
            def __init__(self, model, optimizer):
                self.model = model
                self.optimizer = optimizer
            def train_step(self, x, y):
                loss = torch.nn.functional.mse_loss(self.model(x), y)
                loss.backward()
                self.optimizer.step()
            def fit(self, loader):
                for x, y in loader:  # !
                    self.train_step(x, y)
        model = torch.nn.Linear(1, 1, bias=False)
        t = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.0))
        t.fit([(torch.ones(1, 1), torch.zeros(1, 1))] * 2)
        print(model.weight.grad.item() / (2 * model.weight.item()))
        """, {"stdout": "2.0"}),
    Bad("GL501", "adamw_enumerate_scheduler", """\
        import torch
        from torch.optim import AdamW
        from torch.optim.lr_scheduler import CosineAnnealingLR
        model = torch.nn.Linear(1, 1, bias=False)
        optimizer = AdamW(model.parameters(), lr=0.0)
        scheduler = CosineAnnealingLR(optimizer, T_max=10)
        loader = [(torch.ones(1, 1), torch.zeros(1, 1))]
        for epoch in range(2):
            for i, (x, y) in enumerate(loader):  # !
                loss = (model(x) - y).pow(2).mean()
                loss.backward()
                optimizer.step()
                scheduler.step()
        print(model.weight.grad.item() / (2 * model.weight.item()))
        """, {"stdout": "2.0"}),
    Bad("GL501", "while_with_scaler", """\
        import torch
        model = torch.nn.Linear(1, 1, bias=False)
        opt = torch.optim.SGD(model.parameters(), lr=0.0)
        scaler = torch.amp.GradScaler("cpu")
        step = 0
        while step < 2:  # !
            with torch.autocast("cpu"):
                loss = model(torch.ones(1, 1)).sum()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            step += 1
        print(model.weight.grad.item() != 1.0)
        """, {"stdout": "True"}),
    Bad("GL501", "optimizer_from_helper", """\
        import torch
        import torch.nn as nn
        def make_optimizer(model, lr):
            return torch.optim.SGD(model.parameters(), lr=lr)
        model = nn.Linear(1, 1, bias=False)
        opt = make_optimizer(model, 0.0)
        for _ in range(2):  # !
            model(torch.ones(1, 1)).sum().backward()
            opt.step()
        print(model.weight.grad.item())
        """, {"stdout": "2.0"}),
    Bad("GL501", "step_in_helper_function", """\
        import torch
        def train_step(model, optimizer, x, y):
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            return loss.item()
        model = torch.nn.Linear(1, 1, bias=False)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        for epoch in range(2):  # !
            train_step(model, optimizer, torch.ones(1, 1), torch.zeros(1, 1))
        print(model.weight.grad.item() / (2 * model.weight.item()))
        """, {"stdout": "2.0"}),
    Bad("GL501", "cleared_once_before_loop", """\
        import torch as th
        net = th.nn.Linear(1, 1, bias=False)
        opt = th.optim.SGD(net.parameters(), lr=0.0)
        opt.zero_grad()
        for step in range(2):  # !
            net(th.ones(1, 1)).sum().backward()
            opt.step()
        print(net.weight.grad.item())
        """, {"stdout": "2.0"}),
]
GL501_OK = [
    Ok("GL501", "conditional_zero_grad_accumulation", """\
        import torch
        for i, (x, y) in enumerate(loader):
            if i % 4 == 0:
                optimizer.zero_grad()
            (model(x).sum() / 4).backward()
            if (i + 1) % 4 == 0:
                optimizer.step()
        """),
    Ok("GL501", "grad_zero_loop", """\
        import torch
        for x in loader:
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.zero_()
            model(x).sum().backward()
            optimizer.step()
        """),
    Ok("GL501", "accelerate_accumulate", """\
        import torch
        for x in loader:
            with accelerator.accumulate(model):
                accelerator.backward(model(x).sum())
                optimizer.step()
                optimizer.zero_grad()
        """),
    Ok("GL501", "ema_and_swa_steps", """\
        import torch
        for x in loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
            ema.step()
            swa_scheduler.step()
        """),
    Ok("GL501", "trainer_accumulation", """\
        import torch
        class Trainer:
            def fit(self, loader, accum=4):
                for i, (x, y) in enumerate(loader):
                    loss = self.model(x).sum() / accum
                    loss.backward()
                    if (i + 1) % accum == 0:
                        self.optimizer.step()
                        self.optimizer.zero_grad()
        """),
    Ok("GL501", "home_made_optimizer_clears_in_step", """\
        import torch
        class PlainSGD:
            def __init__(self, params, lr):
                self.params = list(params)
                self.lr = lr
            def step(self):
                with torch.no_grad():
                    for p in self.params:
                        p.sub_(self.lr * p.grad)
                        p.grad = None
        opt = PlainSGD(model.parameters(), 0.1)
        for x in loader:
            model(x).sum().backward()
            opt.step()
        """),
    Ok("GL501", "model_zero_grad_on_attribute", """\
        import torch
        class Trainer:
            def fit(self, loader):
                for x in loader:
                    self.model.zero_grad(set_to_none=True)
                    self.model(x).sum().backward()
                    self.optimizer.step()
        """),
    Ok("GL501", "cleared_in_method", """\
        import torch
        class Trainer:
            def reset(self):
                self.opt.zero_grad()
            def fit(self, loader):
                for x in loader:
                    self.reset()
                    self.model(x).sum().backward()
                    self.opt.step()
        """),
    Ok("GL501", "closure_method", """\
        import torch
        class Fitter:
            def closure(self):
                self.opt.zero_grad()
                loss = self.model(self.x).sum()
                loss.backward()
                return loss
            def fit(self):
                for _ in range(10):
                    self.opt.step(self.closure)
        """),
]

# ---------------------------------------------------------------------------------------------- GL502
GL502 = [
    Bad("GL502", "trainer_model_zero_grad_init_argument", """\
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
                self.opt = torch.optim.SGD(model.parameters(), lr=0.1)
            def train_step(self, x):
                self.model(x).sum().backward()
                self.model.zero_grad()  # !
                self.opt.step()
        t = Trainer(torch.nn.Linear(2, 1))
        before = t.model.weight.detach().clone()
        t.train_step(torch.ones(3, 2))
        print(torch.equal(before, t.model.weight))
        """, {"stdout": "True"}),
    Bad("GL502", "reset_method_between", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
                self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
            def reset_grads(self):
                self.optimizer.zero_grad()  # !
            def train_step(self, x):
                loss = self.model(x).sum()
                loss.backward()
                self.reset_grads()
                self.optimizer.step()
        t = Trainer()
        before = t.model.weight.detach().clone()
        t.train_step(torch.ones(3, 2))
        print(torch.equal(before, t.model.weight))
        """, {"stdout": "True"}),
    Bad("GL502", "trainer_method", """\
        import torch
        class Trainer:
            def __init__(self, model, optimizer):
                self.model = model
                self.optimizer = optimizer
            def train_step(self, x, y):
                loss = torch.nn.functional.mse_loss(self.model(x), y)
                loss.backward()
                self.optimizer.zero_grad()  # !
                self.optimizer.step()
        model = torch.nn.Linear(2, 1)
        t = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1))
        before = model.weight.detach().clone()
        t.train_step(torch.ones(3, 2), torch.zeros(3, 1))
        print(torch.equal(before, model.weight))
        """, {"stdout": "True"}),
    Bad("GL502", "model_zero_grad_adamw", """\
        import torch
        from torch.optim import AdamW
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
                self.optimizer = AdamW(self.model.parameters(), lr=0.1)
            def train_step(self, x):
                self.model(x).sum().backward()
                self.model.zero_grad()  # !
                self.optimizer.step()
        t = Trainer()
        before = t.model.weight.detach().clone()
        t.train_step(torch.ones(3, 2))
        print(torch.equal(before, t.model.weight))
        """, {"stdout": "True"}),
    Bad("GL502", "scaler_while", """\
        import torch
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu")
        before = model.weight.detach().clone()
        n = 0
        while n < 2:
            scaler.scale(model(torch.ones(3, 2)).sum()).backward()
            opt.zero_grad(set_to_none=True)  # !
            scaler.step(opt)
            scaler.update()
            n += 1
        print(torch.equal(before, model.weight))
        """, {"raises": "AssertionError", "message": "No inf checks were recorded"}),
    Bad("GL502", "trainer_opt_attribute_chain", """\
        import torch
        class Box:
            pass
        trainer = Box()
        trainer.model = torch.nn.Linear(2, 1)
        trainer.opt = torch.optim.SGD(trainer.model.parameters(), lr=0.1)
        before = trainer.model.weight.detach().clone()
        for epoch in range(2):
            loss = trainer.model(torch.ones(3, 2)).sum()
            loss.backward()
            trainer.opt.zero_grad()  # !
            trainer.opt.step()
        print(torch.equal(before, trainer.model.weight))
        """, {"stdout": "True"}),
    Bad("GL502", "notebook_no_loop", """\
        import torch
        from torch import nn, optim
        model = nn.Linear(2, 1)
        opt = optim.Adam(model.parameters(), lr=0.1)
        before = model.weight.detach().clone()
        loss = model(torch.ones(3, 2)).sum()
        loss.backward()
        opt.zero_grad()  # !
        opt.step()
        print(torch.equal(before, model.weight))
        """, {"stdout": "True"}),
    Bad("GL502", "enumerate_with_clip", """\
        import torch
        import torch.nn as nn
        model = nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        """ + LOADER + """\
        before = model.weight.detach().clone()
        for epoch in range(2):
            for i, (x, y) in enumerate(loader):
                nn.functional.mse_loss(model(x), y).backward()
                optimizer.zero_grad()  # !
                nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
                optimizer.step()
        print(torch.equal(before, model.weight))
        """, {"stdout": "True"}),
]
GL502_OK = [
    Ok("GL502", "trainer_other_model_zero_grad", """\
        import torch
        class Trainer:
            def __init__(self, student, teacher):
                self.student = student
                self.teacher = teacher
                self.opt = torch.optim.SGD(student.parameters(), lr=0.1)
            def train_step(self, x):
                ((self.student(x) - self.teacher(x)) ** 2).mean().backward()
                self.teacher.zero_grad()
                self.opt.step()
        """),
    Ok("GL502", "gan_other_optimizer", """\
        import torch
        class GAN:
            def step(self, real, z):
                self.opt_d.zero_grad()
                d_loss = self.D(real).mean() - self.D(self.G(z).detach()).mean()
                d_loss.backward()
                self.opt_g.zero_grad()
                self.opt_d.step()
        """),
    Ok("GL502", "right_order_in_method", """\
        import torch
        class Trainer:
            def train_step(self, x):
                self.optimizer.zero_grad()
                self.model(x).sum().backward()
                self.optimizer.step()
        """),
    Ok("GL502", "skip_bad_batch_return", """\
        import torch
        def train_step(model, opt, x):
            loss = model(x).sum()
            loss.backward()
            if not torch.isfinite(loss):
                opt.zero_grad()
                return None
            opt.step()
            return loss
        """),
    Ok("GL502", "teacher_zero_grad", """\
        import torch
        student = torch.nn.Linear(2, 2)
        teacher = torch.nn.Linear(2, 2)
        opt = torch.optim.SGD(student.parameters(), lr=0.1)
        for x in loader:
            loss = (student(x) - teacher(x)).pow(2).mean()
            loss.backward()
            teacher.zero_grad()
            opt.step()
        """),
    Ok("GL502", "end_of_iteration_with_scaler", """\
        import torch
        scaler = torch.amp.GradScaler("cuda")
        for x in loader:
            scaler.scale(model(x).sum()).backward()
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
        """),
]

# ---------------------------------------------------------------------------------------------- GL503
GL503 = [
    Bad("GL503", "clip_method_after_step", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1, bias=False)
                self.optimizer = torch.optim.SGD(self.model.parameters(), lr=1.0)
            def clip_gradients(self):
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 0.01)  # !
            def train_step(self, x):
                self.optimizer.zero_grad()
                self.model(x).sum().backward()
                self.optimizer.step()
                self.clip_gradients()
        t = Trainer()
        before = t.model.weight.detach().clone()
        t.train_step(torch.ones(1, 2))
        print(round((before - t.model.weight).norm().item(), 3))
        """, {"stdout": "1.414"}),
    Bad("GL503", "trainer_after_step", """\
        import torch
        class Trainer:
            def __init__(self, model, optimizer):
                self.model = model
                self.optimizer = optimizer
            def train_step(self, x):
                self.optimizer.zero_grad()
                self.model(x).sum().backward()
                self.optimizer.step()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 0.01)  # !
        model = torch.nn.Linear(2, 1, bias=False)
        t = Trainer(model, torch.optim.SGD(model.parameters(), lr=1.0))
        before = model.weight.detach().clone()
        t.train_step(torch.ones(1, 2))
        print(round((before - model.weight).norm().item(), 3))
        """, {"stdout": "1.414"}),
    Bad("GL503", "alias_before_backward", """\
        import torch
        from torch.nn.utils import clip_grad_norm_ as clip
        model = torch.nn.Linear(2, 1, bias=False)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        before = model.weight.detach().clone()
        for x in [torch.ones(1, 2)]:
            opt.zero_grad()
            clip(model.parameters(), max_norm=0.01)  # !
            model(x).sum().backward()
            opt.step()
        print(round((before - model.weight).norm().item(), 3))
        """, {"stdout": "1.414"}),
    Bad("GL503", "keywords_after_step_scheduler", """\
        import torch
        model = torch.nn.Linear(2, 1, bias=False)
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
        before = model.weight.detach().clone()
        for epoch in range(1):
            for i, (x, y) in enumerate([(torch.ones(1, 2), None)]):
                optimizer.zero_grad()
                model(x).sum().backward()
                optimizer.step()
                scheduler.step()
                torch.nn.utils.clip_grad_norm_(parameters=model.parameters(), max_norm=0.01)  # !
        print(round((before - model.weight).norm().item(), 3))
        """, {"stdout": "1.414"}),
    Bad("GL503", "helper_train_step", """\
        import torch
        def train_step(model, opt, x):
            model(x).sum().backward()
            opt.step()
            torch.nn.utils.clip_grad_value_(model.parameters(), clip_value=0.001)  # !
            opt.zero_grad()
        model = torch.nn.Linear(2, 1, bias=False)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        before = model.weight.detach().clone()
        for x in [torch.ones(1, 2)]:
            train_step(model, opt, x)
        print(round((before - model.weight).abs().max().item(), 3))
        """, {"stdout": "1.0"}),
    Bad("GL503", "notebook_value_after_step", """\
        import torch
        from torch import nn
        model = nn.Linear(2, 1, bias=False)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        before = model.weight.detach().clone()
        opt.zero_grad()
        model(torch.ones(1, 2)).sum().backward()
        opt.step()
        nn.utils.clip_grad_value_(model.parameters(), 0.001)  # !
        print(round((before - model.weight).abs().max().item(), 3))
        """, {"stdout": "1.0"}),
    Bad("GL503", "after_scaler_step", """\
        import torch
        model = torch.nn.Linear(2, 1, bias=False)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        scaler = torch.amp.GradScaler("cpu")
        before = model.weight.detach().clone()
        for x in [torch.ones(1, 2)]:
            opt.zero_grad()
            scaler.scale(model(x).sum()).backward()
            scaler.step(opt)
            scaler.update()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.01)  # !
        print(round((before - model.weight).norm().item(), 3))
        """, {"stdout": "1.414"}),
]
GL503_OK = [
    Ok("GL503", "norm_logging_after_step", """\
        import torch
        for x in loader:
            optimizer.zero_grad()
            model(x).sum().backward()
            optimizer.step()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
            print(grad_norm)
        """),
    Ok("GL503", "trainer_right_order", """\
        import torch
        class Trainer:
            def train_step(self, x):
                self.optimizer.zero_grad()
                self.model(x).sum().backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm=1.0)
                self.optimizer.step()
        """),
    Ok("GL503", "accumulation_clip", """\
        import torch
        from torch.nn.utils import clip_grad_norm_
        for i, (x, y) in enumerate(loader):
            (model(x).sum() / 4).backward()
            if (i + 1) % 4 == 0:
                clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
        """),
    Ok("GL503", "clip_in_method_between", """\
        import torch
        class Trainer:
            def clip(self):
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            def train_step(self, x):
                self.optimizer.zero_grad()
                self.model(x).sum().backward()
                self.clip()
                self.optimizer.step()
        """),
    Ok("GL503", "home_made_clip", """\
        import torch
        def clip_grad_norm_(params, max_norm):
            return max_norm
        for x in loader:
            opt.zero_grad()
            clip_grad_norm_(model.parameters(), 1.0)
            model(x).sum().backward()
            opt.step()
        """),
    Ok("GL503", "scaler_unscale_then_clip", """\
        import torch
        for x in loader:
            opt.zero_grad()
            scaler.scale(model(x).sum()).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
        """),
]

# ---------------------------------------------------------------------------------------------- GL504
GL504 = [
    Bad("GL504", "backward_and_update_methods", """\
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
                self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
                self.scaler = torch.amp.GradScaler("cpu")
            def backward(self, loss):
                self.scaler.scale(loss).backward()
            def update(self):
                self.optimizer.step()  # !
                self.scaler.update()
            def train_step(self, x):
                self.optimizer.zero_grad()
                self.backward(self.model(x).sum())
                self.update()
        Trainer(torch.nn.Linear(2, 1)).train_step(torch.ones(1, 2))
        """, {"raises": "AssertionError", "message": "No inf checks were recorded"}),
    Bad("GL504", "trainer_scaler_clip", """\
        import torch
        class Trainer:
            def __init__(self, model, optimizer):
                self.model = model
                self.optimizer = optimizer
                self.scaler = torch.amp.GradScaler("cpu")
            def train_step(self, x):
                self.optimizer.zero_grad()
                loss = self.model(x).sum()
                self.scaler.scale(loss).backward()
                norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)  # !
                self.scaler.step(self.optimizer)
                self.scaler.update()
                return norm
        model = torch.nn.Linear(2, 1, bias=False)
        t = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1))
        print(t.train_step(torch.ones(1, 2)).item() > 1000)
        """, {"stdout": "True"}),
    Bad("GL504", "direct_step_alias", """\
        import torch
        from torch.amp import GradScaler as Scaler
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = Scaler("cpu")
        for x in [torch.ones(1, 2)]:
            opt.zero_grad()
            scaler.scale(model(x).sum()).backward()
            opt.step()  # !
            scaler.update()
        """, {"raises": "AssertionError", "message": "No inf checks were recorded"}),
    Bad("GL504", "cuda_amp_scaler", """\
        import torch
        model = torch.nn.Linear(2, 1)
        optimizer = torch.optim.Adam(model.parameters())
        scaler = torch.cuda.amp.GradScaler()
        for x in loader:
            optimizer.zero_grad()
            scaler.scale(model(x).sum()).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # !
            scaler.step(optimizer)
            scaler.update()
        """, NOT_CPU),
    Bad("GL504", "enumerate_clip_value_keywords", """\
        import torch
        from torch import nn, optim
        model = nn.Linear(2, 1, bias=False)
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu")
        """ + LOADER + """\
        for epoch in range(1):
            for i, (x, y) in enumerate(loader):
                optimizer.zero_grad()
                scaler.scale(nn.functional.mse_loss(model(x), y)).backward()
                nn.utils.clip_grad_value_(parameters=model.parameters(), clip_value=1.0)  # !
                scaler.step(optimizer)
                scaler.update()
                print(model.weight.grad.abs().max().item() < 1e-3)
                break
        """, {"stdout": "True"}),
    Bad("GL504", "direct_step_while_notebook", """\
        import torch as th
        net = th.nn.Linear(2, 1)
        opt = th.optim.Adam(net.parameters())
        scaler = th.amp.GradScaler("cpu")
        it = 0
        while it < 1:
            scaler.scale(net(th.ones(1, 2)).mean()).backward()
            opt.step()  # !
            scaler.update()
            it += 1
        """, {"raises": "AssertionError", "message": "No inf checks were recorded"}),
    Bad("GL504", "scaled_backward_in_helper", """\
        import torch
        def backward(scaler, loss):
            scaler.scale(loss).backward()
        model = torch.nn.Linear(2, 1, bias=False)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu")
        for x in [torch.ones(1, 2)]:
            opt.zero_grad()
            backward(scaler, model(x).sum())
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # !
            scaler.step(opt)
            scaler.update()
        print(norm.item() > 1000)
        """, {"stdout": "True"}),
]
GL504_OK = [
    Ok("GL504", "unscale_in_method", """\
        import torch
        class Trainer:
            def unscale_and_clip(self):
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            def train_step(self, loss):
                self.scaler.scale(loss).backward()
                self.unscale_and_clip()
                self.scaler.step(self.optimizer)
                self.scaler.update()
        """),
    Ok("GL504", "amp_flag_branches", """\
        import torch
        scaler = torch.amp.GradScaler("cuda", enabled=args.amp)
        for x in loader:
            optimizer.zero_grad()
            if args.amp:
                scaler.scale(model(x).sum()).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                model(x).sum().backward()
                optimizer.step()
        """),
    Ok("GL504", "trainer_unscale_first", """\
        import torch
        class Trainer:
            def __init__(self):
                self.scaler = torch.amp.GradScaler("cuda")
            def train_step(self, loss):
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                self.scaler.step(self.optimizer)
                self.scaler.update()
        """),
    Ok("GL504", "disabled_scaler_direct_step", """\
        import torch
        scaler = torch.amp.GradScaler("cpu", enabled=False)
        for x in loader:
            opt.zero_grad()
            scaler.scale(model(x).sum()).backward()
            opt.step()
        """),
    Ok("GL504", "scaler_unused_plain_backward", """\
        import torch
        scaler = torch.amp.GradScaler("cuda")
        for x in loader:
            opt.zero_grad()
            model(x).sum().backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        """),
    Ok("GL504", "lr_scheduler_step_after", """\
        import torch
        class Trainer:
            def train_step(self, loss):
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.lr_scheduler.step()
        """),
    Ok("GL504", "unscale_in_helper", """\
        import torch
        def clip(scaler, opt, model):
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for x in loader:
            opt.zero_grad()
            scaler.scale(model(x).sum()).backward()
            clip(scaler, opt, model)
            scaler.step(opt)
            scaler.update()
        """),
]

# ---------------------------------------------------------------------------------------------- GL505
_GL505_PROBE = "model(torch.ones(1, 2)).sum().backward()\n"
GL505 = [
    Bad("GL505", "trainer_model_zero_grad", """\
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(2, 1)
            def clear(self):
                self.model.zero_grad(set_to_none=False)  # !
        t = Trainer()
        t.model(torch.ones(1, 2)).sum().backward()
        t.clear()
        print(t.model.weight.grad)
        """, {"stdout": "tensor([[0., 0.]])"}),
    Bad("GL505", "trainer_attribute", """\
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
                self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            def clear(self):
                self.optimizer.zero_grad(set_to_none=False)  # !
        model = torch.nn.Linear(2, 1)
        t = Trainer(model)
        """ + _GL505_PROBE + "t.clear()\nprint(model.weight.grad)\n", {"stdout": "tensor([[0., 0.]])"}),
    Bad("GL505", "attribute_chain_positional", """\
        import torch
        class Box:
            pass
        trainer = Box()
        model = torch.nn.Linear(2, 1)
        trainer.opt = torch.optim.Adam(model.parameters())
        """ + _GL505_PROBE + """\
        trainer.opt.zero_grad(False)  # !
        print(model.weight.grad)
        """, {"stdout": "tensor([[0., 0.]])"}),
    Bad("GL505", "adamw_import", """\
        import torch
        from torch.optim import AdamW
        model = torch.nn.Linear(2, 1)
        opt = AdamW(model.parameters(), lr=1e-3)
        """ + _GL505_PROBE + """\
        opt.zero_grad(set_to_none = False)  # !
        print(model.weight.grad)
        """, {"stdout": "tensor([[0., 0.]])"}),
    Bad("GL505", "module_zero_grad", """\
        import torch.nn as nn
        import torch
        model = nn.Linear(2, 1)
        """ + _GL505_PROBE + """\
        model.zero_grad(False)  # !
        print(model.weight.grad)
        """, {"stdout": "tensor([[0., 0.]])"}),
    Bad("GL505", "optimizer_from_helper_loop", """\
        import torch
        def build_optimizer(model):
            return torch.optim.SGD(model.parameters(), lr=0.1)
        model = torch.nn.Linear(2, 1)
        optimizer = build_optimizer(model)
        for x in [torch.ones(1, 2)]:
            model(x).sum().backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=False)  # !
        print(model.weight.grad)
        """, {"stdout": "tensor([[0., 0.]])"}),
    Bad("GL505", "argument_in_function", """\
        import torch
        def train(model, loader, optimizer):
            for x in loader:
                optimizer.zero_grad(set_to_none=False)  # !
                model(x).sum().backward()
                optimizer.step()
        model = torch.nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        train(model, [torch.ones(1, 2), torch.ones(1, 2)], optimizer)
        optimizer.zero_grad(set_to_none=False)
        print(model.weight.grad)
        """, {"stdout": "tensor([[0., 0.]])"}),
]
GL505_OK = [
    Ok("GL505", "flag_variable", """\
        import torch
        keep = False
        optimizer.zero_grad(set_to_none=keep)
        """),
    Ok("GL505", "home_made_in_trainer", """\
        import torch
        class MySGD:
            def __init__(self, params):
                self.params = list(params)
            def zero_grad(self, set_to_none=False):
                for p in self.params:
                    p.grad = None
        class Trainer:
            def __init__(self, model):
                self.optimizer = MySGD(model.parameters())
            def clear(self):
                self.optimizer.zero_grad(set_to_none=False)
        """),
    Ok("GL505", "flag_from_config", """\
        import torch
        def clear(optimizer, cfg):
            optimizer.zero_grad(set_to_none=cfg.free_grads)
        """),
    Ok("GL505", "set_to_none_true", """\
        import torch
        from torch.optim import AdamW
        opt = AdamW(model.parameters())
        opt.zero_grad(set_to_none=True)
        """),
    Ok("GL505", "default", """\
        import torch
        class Trainer:
            def step(self):
                self.optimizer.zero_grad()
        """),
    Ok("GL505", "other_keyword", """\
        import torch
        def zero_grad(model, keep=False):
            return model
        zero_grad(model, False)
        opt.zero_grad(keep_buffers=False)
        """),
]

# ---------------------------------------------------------------------------------------------- GL601
_PARAMS = "print(len(list(m.parameters())), 'weight' in dict(m.named_parameters()))\n"
GL601 = [
    Bad("GL601", "learnable_in_one_branch", """\
        import torch
        from torch import nn
        class Temperature(nn.Module):
            def __init__(self, learn):
                super().__init__()
                if learn:
                    self.weight = torch.tensor(0.1, requires_grad=True)  # !
                else:
                    self.weight = 0.1
        m = Temperature(True)
        """ + _PARAMS, {"stdout": "0 False"}),
    Bad("GL601", "flag_attribute_statement", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                weight = torch.randn(3)
                weight.requires_grad = True
                self.weight = weight  # !
        m = M()
        """ + _PARAMS, {"stdout": "0 False"}),
    Bad("GL601", "init_function", """\
        import torch
        from torch import nn
        class Attn(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.weight = nn.init.xavier_uniform_(torch.empty(d, d, requires_grad=True))  # !
        m = Attn(3)
        """ + _PARAMS, {"stdout": "0 False"}),
    Bad("GL601", "local_then_requires_grad", """\
        import torch
        from torch import nn
        class Temp(nn.Module):
            def __init__(self):
                super().__init__()
                weight = torch.ones(1)
                weight.requires_grad_(True)
                self.weight = weight  # !
        m = Temp()
        """ + _PARAMS, {"stdout": "0 False"}),
    Bad("GL601", "full_alias", """\
        import torch as th
        from torch import nn
        class Scale(nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = th.full((1,), 0.5, requires_grad=True)  # !
        m = Scale()
        """ + _PARAMS, {"stdout": "0 False"}),
    Bad("GL601", "requires_grad_true_method", """\
        import torch
        from torch.nn import Module
        class Proj(Module):
            def __init__(self, d):
                super().__init__()
                self.weight = torch.randn(d, d).requires_grad_(True)  # !
        m = Proj(3)
        """ + _PARAMS, {"stdout": "0 False"}),
    Bad("GL601", "helper_method", """\
        import torch
        import torch.nn as nn
        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self._init_weights()
            def _init_weights(self):
                self.weight = torch.zeros(4, requires_grad=True)  # !
        m = Head()
        """ + _PARAMS, {"stdout": "0 False"}),
    Bad("GL601", "in_place_init_chain", """\
        import torch
        from torch import nn
        class Emb(nn.Module):
            def __init__(self, n, d):
                super().__init__()
                self.weight = torch.empty(n, d).normal_(0, 0.02).requires_grad_()  # !
        m = Emb(4, 2)
        """ + _PARAMS, {"stdout": "0 False"}),
    Bad("GL601", "sequential_subclass", """\
        import torch
        from torch import nn
        class Head(nn.Sequential):
            def __init__(self):
                super().__init__(nn.Linear(2, 2))
                self.weight = torch.tensor(1.0, requires_grad=True)  # !
        m = Head()
        print('weight' in dict(m.named_parameters()))
        """, {"stdout": "False"}),
    Bad("GL601", "dtype_keyword_full_path", """\
        import torch
        class Gate(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = torch.ones(2, 2, requires_grad=True, dtype=torch.float32)  # !
        m = Gate()
        """ + _PARAMS, {"stdout": "0 False"}),
]
GL601_OK = [
    Ok("GL601", "state_reset_in_other_method_and_same_block", """\
        import torch
        from torch import nn
        class RNNCell(nn.Module):
            def __init__(self):
                super().__init__()
                self.h = torch.zeros(1, 8, requires_grad=True)
                self.c = torch.zeros(1, 8, requires_grad=True)
                self.c = self.c.to("cpu")
                self.m = torch.zeros(1, 8, requires_grad=True)
                self.m = None
            def reset(self):
                if self.h is not None:
                    self.h = torch.zeros(1, 8)
        """),
    Ok("GL601", "flag_switched_off_again", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self, learn):
                super().__init__()
                w = torch.randn(3, requires_grad=True)
                w.requires_grad = False
                self.w = w
                v = torch.randn(3)
                v.requires_grad = learn
                self.v = v
        """),
    Ok("GL601", "hidden_state_detached", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.h0 = torch.zeros(1, 8, requires_grad=True)
            def forward(self, x, h=None):
                h = self.h0 if h is None else h
                return x + h
            def reset(self):
                self.h0 = self.h0.detach()
        """),
    Ok("GL601", "init_inside_parameter", """\
        import torch
        from torch import nn
        class Attn(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(d, d)))
                self.noise = nn.init.normal_(torch.empty(d), std=0.1)
        """),
    Ok("GL601", "in_place_from_parameter", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.base = nn.Parameter(torch.ones(3))
                self.shifted = torch.zeros(3).add_(self.base)
        """),
    Ok("GL601", "dataset_not_module", """\
        import torch
        from torch.utils.data import Dataset
        class Toy(Dataset):
            def __init__(self):
                self.x = torch.randn(10, 2, requires_grad=True)
        """),
    Ok("GL601", "requires_grad_false", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.mask = torch.ones(3, requires_grad=False)
        """),
    Ok("GL601", "parameter_wrapping_factory", """\
        import torch as th
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(th.randn(3, requires_grad=True))
        """),
    Ok("GL601", "registered_after", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                w = torch.zeros(3, requires_grad=True)
                self.register_parameter("w", nn.Parameter(w))
        """),
    Ok("GL601", "plain_trainer", """\
        import torch
        class Trainer:
            def __init__(self):
                self.temperature = torch.ones(1, requires_grad=True)
                self.opt = torch.optim.SGD([self.temperature], lr=0.1)
        """),
]

# ---------------------------------------------------------------------------------------------- GL602
_MODS = "print(len(list(m.parameters())))\n"
GL602 = [
    Bad("GL602", "repeated_list", """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = [nn.Linear(4, 4)] * 3  # !
        m = Net()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL602", "dict_call", """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.heads = dict(cls=nn.Linear(4, 2), box=nn.Linear(4, 4))  # !
        m = Net()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL602", "local_comprehension", """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self, n):
                super().__init__()
                layers = [nn.Linear(2, 2) for _ in range(n)]
                self.layers = layers  # !
        m = Net(2)
        """ + _MODS, {"stdout": "0"}),
    Bad("GL602", "from_import_comprehension", """\
        from torch.nn import Linear, Module
        class MLP(Module):
            def __init__(self):
                super().__init__()
                self.layers = [Linear(4, 4) for _ in range(3)]  # !
        m = MLP()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL602", "dict_comprehension", """\
        import torch.nn as nn
        class Heads(nn.Module):
            def __init__(self, names):
                super().__init__()
                self.heads = {name: nn.Linear(4, 2) for name in names}  # !
        m = Heads(["a", "b"])
        """ + _MODS, {"stdout": "0"}),
    Bad("GL602", "bare_tuple", """\
        import torch
        class Twin(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.pair = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)  # !
        m = Twin()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL602", "list_of_sequentials", """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self, depth):
                super().__init__()
                self.stages = [nn.Sequential(nn.Linear(4, 4), nn.ReLU()) for _ in range(depth)]  # !
        m = Net(2)
        """ + _MODS, {"stdout": "0"}),
    Bad("GL602", "list_of_generator", """\
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.heads = list(nn.Linear(4, 2) for _ in range(3))  # !
        m = Net()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL602", "extend_in_helper_method", """\
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = []  # !
                self._build(3)
            def _build(self, n):
                for _ in range(n):
                    self.layers.append(nn.Linear(4, 4))
        m = Net()
        """ + _MODS, {"stdout": "0"}),
]
GL602_OK = [
    Ok("GL602", "repeated_references_and_settings", """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.shared = [self.fc] * 3
                self.slots = [None] * 3
                self.config = dict(act=nn.ReLU, width=4)
                self.order = list(range(3))
        """),
    Ok("GL602", "reference_list", """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self, encoder):
                super().__init__()
                self.encoder = encoder
                self._frozen = [encoder]
        """),
    Ok("GL602", "local_comprehension_registered", """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self, n):
                super().__init__()
                layers = [nn.Linear(2, 2) for _ in range(n)]
                self.layers = layers
                self.body = nn.Sequential(*layers)
        """),
    Ok("GL602", "list_of_generator_handed_on", """\
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = list(nn.Linear(2, 2) for _ in range(3))
                self.body = nn.Sequential(*self.blocks)
                self.names = list(str(i) for i in range(3))
        """),
    Ok("GL602", "modulelist_append", """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList()
                for _ in range(3):
                    self.layers.append(nn.Linear(4, 4))
        """),
    Ok("GL602", "dict_of_functions", """\
        import torch.nn as nn
        import torch.nn.functional as F
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.acts = {"relu": F.relu, "gelu": F.gelu}
                self.fc = nn.Linear(4, 4)
        """),
    Ok("GL602", "list_of_classes", """\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.kinds = [nn.Linear, nn.Conv2d]
                self.sizes = [4, 8]
        """),
    Ok("GL602", "sequential_of_list", """\
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                layers = [nn.Linear(4, 4) for _ in range(3)]
                self.body = nn.Sequential(*layers)
        """),
    Ok("GL602", "trainer_holds_models", """\
        import torch.nn as nn
        class Trainer:
            def __init__(self):
                self.models = {"g": nn.Linear(2, 2), "d": nn.Linear(2, 1)}
        """),
    Ok("GL602", "home_made_modulelist", """\
        import torch.nn as nn
        from mylib import ModuleList
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = ModuleList([nn.Linear(2, 2)])
        """),
]

# ---------------------------------------------------------------------------------------------- GL603
_BUF = "print(len(list(m.parameters())), m.{name}.requires_grad)\n"
GL603 = [
    Bad("GL603", "persistent_keyword", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("w", torch.randn(3, requires_grad=True), persistent=False)  # !
        m = M()
        """ + _BUF.format(name="w"), {"stdout": "0 True"}),
    Bad("GL603", "parameter_alias", """\
        import torch as th
        class M(th.nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("alpha", th.nn.Parameter(th.zeros(2)))  # !
        m = M()
        """ + _BUF.format(name="alpha"), {"stdout": "0 True"}),
    Bad("GL603", "requires_grad_statement", """\
        import torch
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                t = torch.ones(2)
                t.requires_grad_()
                self.register_buffer("t", t)  # !
        m = M()
        """ + _BUF.format(name="t"), {"stdout": "0 True"}),
    Bad("GL603", "tensor_literal_in_helper_method", """\
        import torch
        from torch.nn import Module
        class M(Module):
            def __init__(self):
                super().__init__()
                self._setup()
            def _setup(self):
                self.register_buffer("temp", torch.tensor(0.5, requires_grad=True))  # !
        m = M()
        """ + _BUF.format(name="temp"), {"stdout": "0 True"}),
    Bad("GL603", "attribute_receiver", """\
        import torch
        class Wrapper:
            def __init__(self):
                self.model = torch.nn.Linear(2, 2)
                self.model.register_buffer("scale", torch.ones(1, requires_grad=True))  # !
        m = Wrapper().model
        print(len(list(m.parameters())), m.scale.requires_grad)
        """, {"stdout": "2 True"}),
    Bad("GL603", "keyword_requires_grad_true", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer(name="pe", tensor=torch.zeros(4, 2).requires_grad_(True))  # !
        m = M()
        """ + _BUF.format(name="pe"), {"stdout": "0 True"}),
]
GL603_OK = [
    Ok("GL603", "flag_switched_off", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self, learn):
                super().__init__()
                t = torch.ones(2, requires_grad=True)
                t.requires_grad_(False)
                self.register_buffer("t", t)
                u = torch.zeros(2)
                if learn:
                    u.requires_grad_()
                self.register_buffer("u", u)
                v = torch.zeros(2, requires_grad=True)
                v.requires_grad = False
                self.register_buffer("v", v)
        """),
    Ok("GL603", "detached", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self, w):
                super().__init__()
                self.register_buffer("w", w.detach().clone())
        """),
    Ok("GL603", "requires_grad_false", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("mask", torch.ones(3, requires_grad=False))
        """),
    Ok("GL603", "register_parameter", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_parameter("w", nn.Parameter(torch.ones(3)))
        """),
    Ok("GL603", "home_made_registry", """\
        import torch
        class Registry:
            def __init__(self):
                self.items = {}
            def register_buffer(self, name, value):
                self.items[name] = value
        reg = Registry()
        reg.register_buffer("x", torch.ones(1, requires_grad=True))
        """),
    Ok("GL603", "frozen_parameter", """\
        import torch
        from torch.nn import Module, Parameter
        class M(Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("w", Parameter(torch.ones(2), requires_grad=False))
        """),
]

# ---------------------------------------------------------------------------------------------- GL604
GL604 = [
    Bad("GL604", "alias_half", """\
        import torch as th
        class M(th.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = th.nn.Parameter(th.zeros(2)).half()  # !
        m = M()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL604", "to_dtype_positional", """\
        import torch
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3)).to(torch.float64)  # !
        m = M()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL604", "to_dtype_keyword", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3)).to(dtype=torch.bfloat16)  # !
        m = M()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL604", "reset_parameters_method", """\
        import torch
        from torch.nn import Module, Parameter
        class M(Module):
            def __init__(self):
                super().__init__()
                self.reset_parameters()
            def reset_parameters(self):
                self.scale = Parameter(torch.ones(1)).double()  # !
        m = M()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL604", "annotated_bfloat16", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.bias: torch.Tensor = nn.Parameter(torch.zeros(4)).bfloat16()  # !
        m = M()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL604", "cuda_device_keyword", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.zeros(4)).to(device="cuda")  # !
        """, "needs CUDA: .to('cuda') raises on a CPU machine"),
]
GL604_OK = [
    Ok("GL604", "to_same_dtype", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3)).to(torch.float32)
        """),
    Ok("GL604", "to_cpu_string", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3)).to("cpu")
        """),
    Ok("GL604", "converted_inside", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3).double())
        """),
    Ok("GL604", "device_from_argument", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self, device, dtype):
                super().__init__()
                self.w = nn.Parameter(torch.randn(3)).to(device=device, dtype=dtype)
        """),
    Ok("GL604", "local_moved_then_wrapped", """\
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                w = nn.Parameter(torch.randn(3)).double()
                self.w = nn.Parameter(w)
        """),
]

# ---------------------------------------------------------------------------------------------- GL605
GL605 = [
    Bad("GL605", "dict_call", """\
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.scales = dict(a=nn.Parameter(torch.ones(1)), b=nn.Parameter(torch.ones(1)))  # !
        m = Net()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL605", "local_comprehension", """\
        import torch
        from torch import nn
        class Mix(nn.Module):
            def __init__(self, n):
                super().__init__()
                params = [nn.Parameter(torch.zeros(2)) for _ in range(n)]
                self.params = params  # !
        m = Mix(3)
        """ + _MODS, {"stdout": "0"}),
    Bad("GL605", "from_import_parameter", """\
        import torch
        from torch.nn import Module, Parameter
        class Gates(Module):
            def __init__(self, n):
                super().__init__()
                self.ws = [Parameter(torch.zeros(2)) for _ in range(n)]  # !
        m = Gates(3)
        """ + _MODS, {"stdout": "0"}),
    Bad("GL605", "dict_comprehension", """\
        import torch
        import torch.nn as nn
        class Scales(nn.Module):
            def __init__(self, keys):
                super().__init__()
                self.scales = {k: nn.Parameter(torch.ones(1)) for k in keys}  # !
        m = Scales(["a", "b"])
        """ + _MODS, {"stdout": "0"}),
    Bad("GL605", "bare_tuple_alias", """\
        import torch as th
        class Pair(th.nn.Module):
            def __init__(self):
                super().__init__()
                self.pair = th.nn.Parameter(th.ones(1)), th.nn.Parameter(th.zeros(1))  # !
        m = Pair()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL605", "append_in_helper_method", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.biases = []  # !
                self._build(3)
            def _build(self, n):
                for _ in range(n):
                    self.biases.append(nn.Parameter(torch.zeros(3)))
        m = Net()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL605", "list_of_generator", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.gates = list(nn.Parameter(torch.randn(4)) for _ in range(2))  # !
        m = Net()
        """ + _MODS, {"stdout": "0"}),
    Bad("GL605", "randn_keyword_size", """\
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.gates = [nn.Parameter(data=torch.randn(d), requires_grad=True), nn.Parameter(torch.ones(d))]  # !
        m = Net(2)
        """ + _MODS, {"stdout": "0"}),
]
GL605_OK = [
    Ok("GL605", "optimizer_groups", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.ones(2))
                self.b = nn.Parameter(torch.zeros(2))
                self.decay = [self.w]
                self.groups = {"decay": [self.w], "no_decay": [self.b]}
        """),
    Ok("GL605", "local_comprehension_registered", """\
        import torch
        from torch import nn
        class Mix(nn.Module):
            def __init__(self, n):
                super().__init__()
                ws = [nn.Parameter(torch.zeros(2)) for _ in range(n)]
                self.ws = ws
                for i, w in enumerate(ws):
                    self.register_parameter(f"w{i}", w)
        """),
    Ok("GL605", "list_of_generator_wrapped", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.gates = nn.ParameterList(list(nn.Parameter(torch.ones(2)) for _ in range(2)))
                self.shapes = tuple(p.shape for p in self.gates)
        """),
    Ok("GL605", "parameterlist_append", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.ws = nn.ParameterList()
                for _ in range(3):
                    self.ws.append(nn.Parameter(torch.zeros(2)))
        """),
    Ok("GL605", "parameterdict_comprehension", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self, keys):
                super().__init__()
                self.scales = nn.ParameterDict({k: nn.Parameter(torch.ones(1)) for k in keys})
        """),
    Ok("GL605", "register_parameter_loop", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.ws = [nn.Parameter(torch.zeros(2)) for _ in range(2)]
                for i, w in enumerate(self.ws):
                    self.register_parameter(f"w{i}", w)
        """),
    Ok("GL605", "list_of_plain_tensors", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.anchors = [torch.zeros(2, requires_grad=False) for _ in range(3)]
        """),
    Ok("GL605", "solver_not_module", """\
        import torch
        from torch import nn
        class Solver:
            def __init__(self):
                self.params = [nn.Parameter(torch.zeros(2)), nn.Parameter(torch.ones(2))]
        """),
    Ok("GL605", "parameters_of_submodules", """\
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
                self.to_decay = [self.fc.weight]
        """),
]

# ---------------------------------------------------------------------------------------------- GL701
_SCRIPT_RAISES = {"raises": "RuntimeError", "message": "requires_grad_ is not supported on ScriptModules"}
GL701 = [
    Bad("GL701", "script_imported_inline", """\
        import torch
        from torch.jit import script
        model = torch.nn.Linear(2, 2)
        frozen = script(model).requires_grad_(False)  # !
        """, _SCRIPT_RAISES),
    Bad("GL701", "trainer_attribute", """\
        import torch
        class Trainer:
            def __init__(self, encoder):
                self.encoder = torch.jit.script(encoder)
            def freeze(self):
                self.encoder.requires_grad_(False)  # !
        Trainer(torch.nn.Linear(2, 2)).freeze()
        """, _SCRIPT_RAISES),
    Bad("GL701", "load_from_buffer", """\
        import io
        import torch as th
        buf = io.BytesIO()
        th.jit.save(th.jit.script(th.nn.Linear(2, 2)), buf)
        buf.seek(0)
        enc = th.jit.load(buf, map_location="cpu")
        enc.requires_grad_(False)  # !
        """, _SCRIPT_RAISES),
    Bad("GL701", "eval_chain_keyword", """\
        import torch
        scripted = torch.jit.script(torch.nn.Linear(2, 2)).eval()
        scripted.requires_grad_(requires_grad=False)  # !
        """, _SCRIPT_RAISES),
    Bad("GL701", "to_device_chain", """\
        import torch
        def export(model):
            sm = torch.jit.script(model).to("cpu")
            sm.requires_grad_(False)  # !
            return sm
        export(torch.nn.Linear(2, 2))
        """, _SCRIPT_RAISES),
    Bad("GL701", "module_of_jit", """\
        import torch
        from torch import jit
        model = jit.script(torch.nn.Sequential(torch.nn.Linear(2, 2)))
        for epoch in range(1):
            model.requires_grad_()  # !
        """, _SCRIPT_RAISES),
]
GL701_OK = [
    Ok("GL701", "scripted_function_and_frozen_first", """\
        import torch
        @torch.jit.script
        def f(x):
            return x * 2
        model = torch.nn.Linear(2, 2)
        model.requires_grad_(False)
        scripted = torch.jit.script(model)
        """),
    Ok("GL701", "compiled_module", """\
        import torch
        model = torch.compile(torch.nn.Linear(2, 2))
        model.requires_grad_(False)
        """),
    Ok("GL701", "trace_in_trainer", """\
        import torch
        class Exporter:
            def __init__(self, model, x):
                self.traced = torch.jit.trace(model, x)
            def freeze(self):
                self.traced.requires_grad_(False)
        """),
    Ok("GL701", "freeze_then_script", """\
        import torch
        from torch.jit import script
        model = torch.nn.Linear(2, 2)
        model.requires_grad_(False)
        sm = script(model)
        """),
    Ok("GL701", "parameters_of_script", """\
        import torch
        sm = torch.jit.load("m.pt")
        for name, p in sm.named_parameters():
            p.requires_grad_(False)
        """),
    Ok("GL701", "rebound_to_eager", """\
        import torch
        sm = torch.jit.script(net)
        sm = net
        sm.requires_grad_(False)
        """),
]

# ---------------------------------------------------------------------------------------------- GL702
_DETACHED = "print(v.requires_grad, v.grad_fn)\n"
GL702 = [
    Bad("GL702", "alias_assignment", """\
        import torch
        V = torch.autograd.Variable
        w = torch.ones(2, requires_grad=True)
        v = V(w * 2)  # !
        """ + _DETACHED, {"stdout": "False None"}),
    Bad("GL702", "module_alias", """\
        import torch
        import torch.autograd as ag
        w = torch.ones(2, requires_grad=True)
        v = ag.Variable(w * 2)  # !
        """ + _DETACHED, {"stdout": "False None"}),
    Bad("GL702", "submodule_path", """\
        import torch
        w = torch.ones(2, requires_grad=True)
        v = torch.autograd.variable.Variable(w * 2)  # !
        """ + _DETACHED, {"stdout": "False None"}),
    Bad("GL702", "comprehension_in_method", """\
        import torch
        from torch.autograd import Variable
        class Trainer:
            def wrap(self, batch):
                return [Variable(t) for t in batch]  # !
        w = torch.ones(2, requires_grad=True)
        v = Trainer().wrap([w * 2])[0]
        """ + _DETACHED, {"stdout": "False None"}),
    Bad("GL702", "from_torch_autograd_alias", """\
        import torch
        from torch import autograd as A
        w = torch.ones(2, requires_grad=True)
        v = A.Variable(w + 1, requires_grad=False)  # !
        """ + _DETACHED, {"stdout": "False None"}),
    Bad("GL702", "in_loop_th", """\
        import torch as th
        from torch.autograd import Variable as V
        w = th.ones(2, requires_grad=True)
        for epoch in range(1):
            for i, x in enumerate([w * 3]):
                v = V(x)  # !
        """ + _DETACHED, {"stdout": "False None"}),
    Bad("GL702", "keyword_argument", """\
        import torch
        from torch.autograd import Variable
        h = torch.zeros(2, requires_grad=True)
        v = Variable(data=h.sum() * 2)  # !
        """ + _DETACHED, {"stdout": "False None"}),
]
GL702_OK = [
    Ok("GL702", "alias_of_other_library", """\
        import torch
        import chainer
        V = chainer.Variable
        v = V(data)
        W = torch.autograd.Variable
        W = make_variable
        w = W(data)
        """),
    Ok("GL702", "annotation", """\
        import torch
        from torch.autograd import Variable
        def f(x: Variable) -> Variable:
            return x
        """),
    Ok("GL702", "home_made_in_torch_file", """\
        import torch
        class Variable:
            def __init__(self, value, requires_grad=False):
                self.value = value
        v = Variable(3.0, requires_grad=True)
        """),
    Ok("GL702", "tensorflow_alias", """\
        import torch
        import tensorflow as tf
        v = tf.Variable(tf.zeros([2]))
        """),
    Ok("GL702", "sympy_alias", """\
        import torch
        from sympy import Symbol as Variable
        x = Variable("x")
        """),
    Ok("GL702", "isinstance_check_module_alias", """\
        import torch
        import torch.autograd as ag
        ok = isinstance(torch.ones(1), ag.Variable)
        """),
]

# ---------------------------------------------------------------------------------------------- GL703
GL703 = [
    Bad("GL703", "randn_volatile_false", """\
        import torch
        h = torch.randn(2, 3, volatile = False)  # !
        """, {"raises": "TypeError", "message": "volatile"}),
    Bad("GL703", "variable_module_alias", """\
        import torch
        import torch.autograd as ag
        w = torch.ones(2, requires_grad=True)
        v = ag.Variable(w * 2, volatile=True)  # !
        """, {"warns": "volatile was removed"}),
    Bad("GL703", "read_in_function", """\
        import torch
        def describe(inputs):
            if not inputs.volatile:  # !
                return "train"
            return "eval"
        print(describe(torch.ones(2)))
        """, {"stdout": "train", "warns": "Variable.volatile is always False"}),
    Bad("GL703", "tensor_literal", """\
        import torch as th
        x = th.tensor([1.0], volatile=True)  # !
        """, {"raises": "TypeError", "message": "volatile"}),
    Bad("GL703", "variable_flag_expression", """\
        import torch
        from torch.autograd import Variable as V
        training = False
        x = V(torch.ones(2), volatile=not training)  # !
        """, {"warns": "volatile was removed"}),
    Bad("GL703", "attribute_set_in_class", """\
        import torch
        class Decoder:
            def __init__(self):
                self.h = torch.zeros(1, 4)
                self.h.volatile = True  # !
        print(Decoder().h.volatile)
        """, {"stdout": "False", "warns": "volatile was removed and now has no effect"}),
]
GL703_OK = [
    Ok("GL703", "attribute_rebound_elsewhere", """\
        import torch
        class Slot:
            def __init__(self):
                self.buf = torch.zeros(2)
            def reset(self, make):
                self.buf = make()
            def frozen(self):
                return self.buf.volatile
        slot = Slot()
        slot.buf = load_buffer()
        """),
    Ok("GL703", "numpy_and_own_attribute", """\
        import torch
        import numpy as np
        arr = np.zeros(3)
        class Reg:
            def __init__(self):
                self.volatile = False
        r = Reg()
        r.volatile = True
        """),
    Ok("GL703", "callers_disagree", """\
        import torch
        class Reg:
            volatile = True
        def describe(x):
            return "eval" if x.volatile else "train"
        describe(torch.ones(2))
        describe(Reg())
        """),
    Ok("GL703", "other_library_call", """\
        import torch
        import mylib
        cache = mylib.Cache(volatile=True)
        """),
    Ok("GL703", "home_made_attribute_read", """\
        import torch
        class Reg:
            volatile = False
        r = Reg()
        if r.volatile:
            pass
        """),
    Ok("GL703", "kwargs_dict", """\
        import torch
        opts = dict(volatile=True)
        """),
    Ok("GL703", "chainer_variable", """\
        import torch
        from chainer import Variable
        v = Variable(x, volatile="on")
        """),
    Ok("GL703", "own_function_keyword", """\
        import torch
        class Store:
            def put(self, key, volatile=False):
                return key
        Store().put("k", volatile=True)
        """),
]

# ---------------------------------------------------------------------------------------------- GL704
_ANOMALY = "print(torch.is_anomaly_enabled())\n"
GL704 = [
    Bad("GL704", "from_torch_autograd_alias", """\
        import torch
        from torch import autograd as ag
        ag.set_detect_anomaly(True)  # !
        """ + _ANOMALY, {"stdout": "True"}),
    Bad("GL704", "in_main", """\
        import torch
        def main():
            torch.autograd.set_detect_anomaly(True)  # !
        main()
        """ + _ANOMALY, {"stdout": "True"}),
    Bad("GL704", "trainer_step_context", """\
        import torch
        class Trainer:
            def train_step(self, loss):
                with torch.autograd.detect_anomaly():  # !
                    print(torch.is_anomaly_enabled())
                    loss.backward()
        Trainer().train_step(torch.ones(1, requires_grad=True).sum())
        """, {"stdout": "True"}),
    Bad("GL704", "keywords", """\
        import torch
        torch.autograd.set_detect_anomaly(mode=True, check_nan=False)  # !
        """ + _ANOMALY, {"stdout": "True"}),
    Bad("GL704", "anomaly_mode_module", """\
        import torch
        from torch.autograd.anomaly_mode import set_detect_anomaly
        set_detect_anomaly(True)  # !
        """ + _ANOMALY, {"stdout": "True"}),
    Bad("GL704", "module_alias_in_loop", """\
        import torch
        import torch.autograd as autograd
        for epoch in range(1):
            with autograd.detect_anomaly(check_nan=True):  # !
                print(torch.is_anomaly_enabled())
        """, {"stdout": "True"}),
]
GL704_OK = [
    Ok("GL704", "environment_flag", """\
        import os
        import torch
        torch.autograd.set_detect_anomaly(os.environ.get("DEBUG") == "1")
        """),
    Ok("GL704", "flag_keyword", """\
        import torch
        torch.autograd.set_detect_anomaly(mode=cfg.debug)
        """),
    Ok("GL704", "debug_branch", """\
        import torch
        def main(args):
            if args.detect_anomaly:
                torch.autograd.set_detect_anomaly(True)
        """),
    Ok("GL704", "debug_function", """\
        import torch
        def debug_backward(loss):
            with torch.autograd.detect_anomaly():
                loss.backward()
        """),
    Ok("GL704", "switch_off", """\
        import torch
        from torch import autograd
        autograd.set_detect_anomaly(False)
        """),
    Ok("GL704", "test_method", """\
        import torch
        class TestGrad:
            def test_no_nan(self):
                with torch.autograd.detect_anomaly():
                    f().backward()
        """),
]

# ---------------------------------------------------------------------------------------------- GL705
_GRADCHECK_WARNS = {"warns": "is not a double precision floating point"}
GL705 = [
    Bad("GL705", "comprehension_inputs", """\
        import torch
        inputs = tuple(torch.randn(2, requires_grad=True) for _ in range(2))
        torch.autograd.gradcheck(torch.add, inputs, eps=1e-3, atol=1e-2, raise_exception=False)  # !
        """, _GRADCHECK_WARNS),
    Bad("GL705", "input_from_caller", """\
        import torch
        def check(fn, x):
            return torch.autograd.gradcheck(fn, (x,), eps=1e-3, atol=1e-2, raise_exception=False)  # !
        check(torch.sin, torch.randn(3, requires_grad=True))
        """, _GRADCHECK_WARNS),
    Bad("GL705", "requires_grad_statement", """\
        import torch
        x = torch.randn(3)
        x.requires_grad_()
        torch.autograd.gradcheck(torch.sin, (x,), eps=1e-3, atol=1e-2, raise_exception=False)  # !
        """, _GRADCHECK_WARNS),
    Bad("GL705", "from_import_rand", """\
        import torch
        from torch.autograd import gradcheck
        x = torch.rand(3, requires_grad=True)
        gradcheck(torch.sin, (x,), eps=1e-3, atol=1e-2, raise_exception=False)  # !
        """, _GRADCHECK_WARNS),
    Bad("GL705", "inputs_keyword", """\
        import torch
        a = torch.randn(2, requires_grad=True)
        b = torch.randn(2, requires_grad=True)
        torch.autograd.gradcheck(torch.mul, inputs=(a, b), eps=1e-3, atol=1e-2, raise_exception=False)  # !
        """, _GRADCHECK_WARNS),
    Bad("GL705", "single_tensor", """\
        import torch as th
        x = th.ones(3, requires_grad=True)
        th.autograd.gradcheck(th.exp, x, eps=1e-3, atol=1e-2, raise_exception=False)  # !
        """, _GRADCHECK_WARNS),
    Bad("GL705", "float_cast", """\
        import torch
        x = torch.randn(3, dtype=torch.float64).float().requires_grad_()
        torch.autograd.gradcheck(torch.tanh, (x,), eps=1e-3, atol=1e-2, raise_exception=False)  # !
        """, _GRADCHECK_WARNS),
    Bad("GL705", "unittest_gradgradcheck", """\
        import unittest
        import torch
        class TestOps(unittest.TestCase):
            def test_tanh(self):
                x = torch.randn(2, 2, requires_grad=True)
                self.assertIsInstance(torch.autograd.gradgradcheck(torch.tanh, [x], eps=1e-3, atol=1e-2, raise_exception=False), bool)  # !
        TestOps("test_tanh").test_tanh()
        """, _GRADCHECK_WARNS),
    Bad("GL705", "module_under_test", """\
        import torch
        from torch import nn
        layer = nn.Linear(3, 2).double()
        x = torch.randn(4, 3, requires_grad=True)
        torch.autograd.gradcheck(lambda t: layer(t.double()), (x,), eps=1e-3, atol=1e-2, raise_exception=False)  # !
        """, _GRADCHECK_WARNS),
]
GL705_OK = [
    Ok("GL705", "comprehension_of_doubles", """\
        import torch
        inputs = [torch.randn(2, dtype=torch.float64, requires_grad=True) for _ in range(3)]
        torch.autograd.gradcheck(lambda *xs: sum(xs), inputs)
        """),
    Ok("GL705", "double_input_float_closure", """\
        import torch
        x = torch.randn(3, 3, dtype=torch.double, requires_grad=True)
        w = torch.randn(3, 3)
        torch.autograd.gradcheck(lambda a: a @ w.double(), (x,))
        """),
    Ok("GL705", "one_caller_unknown", """\
        import torch
        def check(fn, x):
            return torch.autograd.gradcheck(fn, (x,))
        check(torch.sin, torch.randn(3, dtype=torch.float64, requires_grad=True))
        check(torch.cos, load_input())
        """),
    Ok("GL705", "requires_grad_in_branch", """\
        import torch
        x = torch.randn(3, dtype=torch.float64)
        y = torch.randn(3)
        if check_y:
            y.requires_grad_()
        x.requires_grad_()
        torch.autograd.gradcheck(torch.add, (x, y))
        """),
    Ok("GL705", "float64_keyword_alias", """\
        import torch as th
        from torch.autograd import gradcheck
        x = th.randn(3, dtype=th.double, requires_grad=True)
        gradcheck(th.sin, (x,))
        """),
    Ok("GL705", "double_at_call", """\
        import torch
        x = torch.randn(3, requires_grad=True)
        torch.autograd.gradcheck(torch.sin, (x.double(),))
        """),
    Ok("GL705", "no_grad_input", """\
        import torch
        x = torch.randn(3, dtype=torch.float64, requires_grad=True)
        w = torch.randn(3)
        torch.autograd.gradcheck(lambda a: a * w.double(), (x,))
        """),
    Ok("GL705", "default_dtype_float64", """\
        import torch
        def test_op():
            torch.set_default_dtype(torch.float64)
            x = torch.rand(3, requires_grad=True)
            assert torch.autograd.gradcheck(torch.sin, (x,))
        """),
    Ok("GL705", "parameters_of_test", """\
        import torch
        def check(fn, x):
            return torch.autograd.gradcheck(fn, (x,))
        """),
]

# ---------------------------------------------------------------------------------------------- GL706
_FUTURE = {"warns": "is deprecated"}
GL706 = [
    Bad("GL706", "alias_assignment", """\
        import torch
        Scaler = torch.cuda.amp.GradScaler
        scaler = Scaler(enabled=False)  # !
        """, _FUTURE),
    Bad("GL706", "from_torch_cuda_import_amp", """\
        import torch
        from torch.cuda import amp
        scaler = amp.GradScaler(enabled=False)  # !
        """, _FUTURE),
    Bad("GL706", "trainer_init", """\
        import torch
        class Trainer:
            def __init__(self, use_amp):
                self.scaler = torch.cuda.amp.GradScaler(enabled=use_amp)  # !
        Trainer(False)
        """, _FUTURE),
    Bad("GL706", "autocast_in_train_step", """\
        import torch
        class Trainer:
            def train_step(self, x):
                with torch.cuda.amp.autocast(enabled=False):  # !
                    return x * 2
        Trainer().train_step(torch.ones(1))
        """, _FUTURE),
    Bad("GL706", "autocast_import_alias", """\
        import torch
        from torch.cuda.amp import autocast as ac
        with ac(enabled=False):  # !
            y = torch.ones(1) * 2
        """, _FUTURE),
    Bad("GL706", "cpu_autocast_bfloat16", """\
        import torch
        with torch.cpu.amp.autocast(dtype=torch.bfloat16):  # !
            y = torch.ones(2, 2) @ torch.ones(2, 2)
        """, _FUTURE),
    Bad("GL706", "module_alias", """\
        import torch
        import torch.cuda.amp as amp
        def step(x):
            with amp.autocast(enabled=False):  # !
                return x + 1
        step(torch.ones(1))
        """, _FUTURE),
]
GL706_OK = [
    Ok("GL706", "alias_of_new_api", """\
        import torch
        Scaler = torch.amp.GradScaler
        scaler = Scaler("cuda")
        autocast = torch.autocast
        with autocast("cuda"):
            pass
        """),
    Ok("GL706", "new_api_trainer", """\
        import torch
        class Trainer:
            def __init__(self):
                self.scaler = torch.amp.GradScaler("cuda", enabled=True)
            def step(self, x):
                with torch.amp.autocast("cuda", dtype=torch.float16):
                    return x
        """),
    Ok("GL706", "version_guard", """\
        import torch
        if torch.__version__ >= "2.3":
            scaler = torch.amp.GradScaler("cuda")
        else:
            scaler = torch.cuda.amp.GradScaler()
        """),
    Ok("GL706", "autocast_attribute_reference", """\
        import torch
        ctx = torch.cuda.amp.autocast
        """),
    Ok("GL706", "apex_amp", """\
        import torch
        from apex import amp
        model, opt = amp.initialize(model, opt)
        """),
    Ok("GL706", "torch_autocast", """\
        import torch
        with torch.autocast(device_type="cuda", dtype=torch.float16):
            y = 1
        """),
]

BAD = GL401 + GL402 + GL404 + GL501 + GL502 + GL503 + GL504 + GL505 + GL601 + GL602 + GL603 + GL604 + GL605 \
    + GL701 + GL702 + GL703 + GL704 + GL705 + GL706
OK = GL401_OK + GL402_OK + GL404_OK + GL501_OK + GL502_OK + GL503_OK + GL504_OK + GL505_OK + GL601_OK + GL602_OK \
    + GL603_OK + GL604_OK + GL605_OK + GL701_OK + GL702_OK + GL703_OK + GL704_OK + GL705_OK + GL706_OK


def _file_name(case, kind):
    return f"{kind}_{case.rule}_{case.name}.py"


def _source(case):
    """The case's text without the indentation of its first line (shared parts such as LOADER are appended
    unindented, so textwrap.dedent would keep everything)."""
    lines = case.source.splitlines(keepends=True)
    indent = lines[0][:len(lines[0]) - len(lines[0].lstrip(" "))]
    return "".join(line[len(indent):] if line.startswith(indent) else line for line in lines)


def _marked_line(case):
    lines = [i for i, line in enumerate(_source(case).splitlines(), 1) if line.rstrip().endswith("# !")]
    assert len(lines) == 1, f"{case.rule} {case.name}: mark exactly one line with '# !'"
    return lines[0]


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    """{file name: [(code, line)]} from one CLI run over every case."""
    folder = tmp_path_factory.mktemp("recall_gl4_gl7")
    for case in BAD:
        (folder / _file_name(case, "bad")).write_text(_source(case), encoding="utf-8")
    for case in OK:
        (folder / _file_name(case, "ok")).write_text(_source(case), encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "autogradlint", "check", "--no-cache", "--select", "ALL", "--output-format", "json",
         str(folder)], capture_output=True, timeout=600)
    assert completed.returncode in (0, 1), completed.stderr.decode("utf-8", errors="replace")
    found = {}
    for item in json.loads(completed.stdout):
        found.setdefault(Path(item["path"]).name, []).append((item["code"], item["line"]))
    return found


def test_case_names_are_unique():
    names = [_file_name(c, "bad") for c in BAD] + [_file_name(c, "ok") for c in OK]
    assert len(names) == len(set(names))
    for rule in sorted({c.rule for c in BAD}):
        assert sum(c.rule == rule for c in BAD) >= 6, rule
        assert sum(c.rule == rule for c in OK) >= 5, rule


# bad cases the linter misses on purpose or for now: (rule, name) -> why
KNOWN_MISSES = {}


def _with_known_misses(cases):
    return [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[(c.rule, c.name)]))
            if (c.rule, c.name) in KNOWN_MISSES else c for c in cases]


@pytest.mark.parametrize("case", _with_known_misses(BAD), ids=lambda c: f"{c.rule}-{c.name}")
def test_bad_case_is_found(findings, case):
    got = findings.get(_file_name(case, "bad"), [])
    assert (case.rule, _marked_line(case)) in got, got


@pytest.mark.parametrize("case", OK, ids=lambda c: f"{c.rule}-{c.name}")
def test_look_alike_is_silent(findings, case):
    got = findings.get(_file_name(case, "ok"), [])
    assert [f for f in got if f[0] == case.rule] == []


@pytest.fixture(scope="module")
def torch_runs():
    """{case id: evidence_runner result} for every bad case that runs on CPU, from one torch process."""
    items = [{"id": f"{c.rule}-{c.name}", "source": _source(c)} for c in BAD if isinstance(c.shows, dict)]
    runner = Path(__file__).resolve().parent / "evidence_runner.py"
    completed = subprocess.run([sys.executable, str(runner)], input=json.dumps(items).encode("utf-8"),
                               capture_output=True, timeout=600)
    assert completed.returncode == 0, completed.stderr.decode("utf-8", errors="replace")
    return {r["id"]: r for r in json.loads(completed.stdout)}


@pytest.mark.torch
@pytest.mark.parametrize("case", BAD, ids=lambda c: f"{c.rule}-{c.name}")
def test_bad_case_misbehaves_in_torch(torch_runs, case):
    if not isinstance(case.shows, dict):
        pytest.skip(case.shows)
    result = torch_runs[f"{case.rule}-{case.name}"]
    shows = case.shows
    if "raises" in shows:
        assert result["raised"] == shows["raises"], result
        assert shows["message"] in result["message"], result
    else:
        assert result["raised"] is None, result
    if "stdout" in shows:
        assert result["stdout"].strip().endswith(shows["stdout"]), result
    if "warns" in shows:
        assert any(shows["warns"] in w for w in result["warnings"]), result
