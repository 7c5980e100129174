"""Recall of the GL3xx family (backward and the graph) on hand-written cases, as a new user would write them.

For every GL3xx rule: bad variants in spellings the rule's own examples do not have (import aliases, keyword
arguments, attribute-chain receivers, tuple unpacking, walrus, ``with`` with several items, a plain Trainer
class, ``enumerate(loader)``, ``while`` loops, notebook-style top-level code, losses from ``F.*``,
``nn.*Loss()`` modules and arithmetic), and valid look-alikes that must stay silent.

- ``test_gl3_cases_through_the_cli``: all cases are written to one folder and linted by ONE
  ``check --select ALL --output-format json`` run of the real CLI; a bad case must get its code, a
  look-alike must not.
- ``test_bad_cases_fail_in_torch``: every bad case (with its ``probe`` appended) runs in real torch 2.13,
  all in one ``evidence_runner`` process, and shows what RULES.md says.

Bad cases a linter cannot be sure of are kept in ``UNREACHED`` (they are real bugs, checked in torch, and
the reason the linter stays silent is written next to them).
"""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import run_autogradlint

RUNNER = Path(__file__).with_name("evidence_runner.py")

NOT_GRAD = ("raises", "RuntimeError", "does not require grad and does not have a grad_fn")
NON_LEAF_GRAD = ("warns", "is not a leaf Tensor is being accessed")
SECOND_BACKWARD = ("raises", "RuntimeError", "Trying to backward through the graph a second time")
NOT_SCALAR = ("raises", "RuntimeError", "grad can be implicitly created only for scalar outputs")
NUMPY_OF_GRAD = ("raises", "RuntimeError", "Can't call numpy() on Tensor that requires grad")
LEAF_IN_PLACE = ("raises", "RuntimeError", "a leaf Variable that requires grad")
REENTRANT = ("warns", "use_reentrant")


class Case:
    """One hand-written file: ``bad`` (the rule must fire, torch must show ``shows``) or a look-alike."""

    def __init__(self, code, name, source, shows=None, probe="", reason=None):
        self.code = code
        self.name = name
        self.source = textwrap.dedent(source).lstrip("\n")
        self.shows = shows
        self.probe = textwrap.dedent(probe).lstrip("\n")
        self.reason = reason  # for UNREACHED: why a linter cannot be sure

    @property
    def bad(self):
        return self.shows is not None

    @property
    def file_name(self):
        return f"{self.code.lower()}_{'bad' if self.bad else 'ok'}_{self.name}.py"


def bad(code, name, source, shows, probe=""):
    return Case(code, name, source, shows, probe)


def ok(code, name, source):
    return Case(code, name, source)


CASES = [
    # ------------------------------------------------------------------ GL301 backward-on-constant
    bad("GL301", "alias_float_of_output", """
        import torch as th
        net = th.nn.Linear(3, 1)
        x = th.randn(4, 3)
        value = float(net(x).mean())
        loss = th.tensor(value)
        loss.backward()
        """, NOT_GRAD),
    bad("GL301", "loss_module_of_constants", """
        import torch
        from torch import nn
        criterion = nn.CrossEntropyLoss()
        logits = torch.zeros(4, 3)
        labels = torch.zeros(4, dtype=torch.long)
        loss = criterion(logits, labels)
        loss.backward()
        """, NOT_GRAD),
    bad("GL301", "functional_loss_keywords", """
        import torch
        from torch.nn import functional as F
        pred = torch.ones(5)
        loss = F.mse_loss(input=pred, target=torch.zeros(5))
        loss.backward()
        """, NOT_GRAD),
    bad("GL301", "tuple_unpacking", """
        import torch
        model = torch.nn.Linear(2, 1)
        out = model(torch.ones(2))
        loss, acc = torch.tensor(out.item()), 0.5
        loss.backward()
        """, NOT_GRAD),
    bad("GL301", "walrus", """
        import torch
        if (loss := torch.zeros(1) + 2.0).item() > 0:
            loss.backward()
        """, NOT_GRAD),
    bad("GL301", "augmented_total_in_while", """
        import torch
        step = 0
        while step < 3:
            total = torch.zeros(())
            total += 0.5 * step
            total.backward()
            step += 1
        """, NOT_GRAD),
    bad("GL301", "trainer_method_list_of_items", """
        import torch
        class Trainer:
            def __init__(self, model):
                self.model = model
            def epoch(self, batches):
                losses = []
                for x in batches:
                    losses.append(self.model(x).sum().item())
                loss = torch.tensor(losses).mean()
                loss.backward()
        Trainer(torch.nn.Linear(3, 1)).epoch([torch.randn(2, 3)])
        """, NOT_GRAD),
    bad("GL301", "enumerate_loader_stack", """
        import torch
        model = torch.nn.Linear(3, 1)
        loader = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(2)]
        for i, (x, y) in enumerate(loader):
            err = (model(x) - y).abs().mean().item()
            loss = torch.as_tensor([err, err]).sum()
            loss.backward()
        """, NOT_GRAD),
    bad("GL301", "from_numpy_chain", """
        import numpy as np
        import torch
        arr = np.ones(3, dtype=np.float32)
        loss = (torch.from_numpy(arr) * 2).sum()
        loss.backward()
        """, NOT_GRAD),
    bad("GL301", "returned_by_same_file_function", """
        import torch
        def make_loss():
            return torch.tensor(0.25)
        loss = make_loss()
        loss.backward()
        """, NOT_GRAD),
    ok("GL301", "factory_with_requires_grad", """
        import torch as th
        loss = th.tensor(1.0, requires_grad=True) * 3
        loss.backward()
        """),
    ok("GL301", "accumulated_from_model", """
        import torch
        from torch.nn import functional as F
        model = torch.nn.Linear(3, 1)
        total = torch.zeros(())
        for i, (x, y) in enumerate(loader):
            total = total + F.mse_loss(model(x), y)
        total.backward()
        """),
    ok("GL301", "made_grad_leaf_by_attribute", """
        import torch
        x = torch.zeros(3)
        x.requires_grad = True
        (x * 2).sum().backward()
        """),
    ok("GL301", "as_tensor_of_output", """
        import torch
        model = torch.nn.Linear(2, 1)
        loss = torch.as_tensor(model(torch.ones(2))).sum()
        loss.backward()
        """),
    ok("GL301", "function_returning_model_loss", """
        import torch
        model = torch.nn.Linear(2, 1)
        def make_loss():
            return model(torch.ones(2)).sum()
        loss = make_loss()
        loss.backward()
        """),
    ok("GL301", "branch_may_rebind", """
        import torch
        loss = torch.tensor(0.0)
        if use_model:
            loss = model(x).sum()
        loss.backward()
        """),
    ok("GL301", "walrus_rebinds_in_if_test", """
        import torch
        loss = torch.zeros(1)
        if (loss := model(x)) is not None:
            loss.backward()
        """),
    ok("GL301", "walrus_rebinds_in_while_test", """
        import torch
        loss = torch.zeros(1)
        while (loss := next_loss()) is not None:
            loss.backward()
        """),
    ok("GL301", "walrus_after_short_circuit", """
        import torch
        loss = model(x).sum()
        for _ in range(3):
            if ready() or (loss := torch.zeros(1)) is None:
                pass
            loss.backward()
        """),
    ok("GL301", "function_returns_disagree", """
        import torch
        model = torch.nn.Linear(2, 1)
        def make_loss(warmup):
            if warmup:
                return torch.tensor(0.0)
            return model(torch.ones(2)).sum()
        make_loss(False).backward()
        """),
    ok("GL301", "function_may_fall_off", """
        import torch
        def make_loss(x):
            if x is None:
                return torch.tensor(0.0)
            x.compute()
        make_loss(batch).backward()
        """),
    ok("GL301", "decorated_function", """
        import functools
        import torch
        @functools.lru_cache()
        def make_loss():
            return torch.tensor(0.25)
        make_loss().backward()
        """),
    ok("GL301", "function_rebound", """
        import torch
        def make_loss():
            return torch.tensor(0.25)
        make_loss = instrument(make_loss)
        make_loss().backward()
        """),
    ok("GL301", "other_library", """
        import mindspore
        loss = mindspore.Tensor([1.0]).sum()
        loss.backward()
        """),

    # ------------------------------------------------------------------ GL302 backward-through-detach
    bad("GL302", "functional_loss_enumerate", """
        import torch
        from torch.nn import functional as F
        model = torch.nn.Linear(3, 2)
        loader = [(torch.randn(4, 3), torch.tensor([0, 1, 0, 1])) for _ in range(2)]
        for i, (x, y) in enumerate(loader):
            logits = model(x).detach()
            loss = F.cross_entropy(logits, y)
            loss.backward()
        """, NOT_GRAD),
    bad("GL302", "loss_module_inline_data", """
        import torch as th
        from torch import nn
        net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
        x = th.randn(5, 3)
        loss = nn.MSELoss()(net(x).data, th.zeros(5, 1))
        loss.backward()
        """, NOT_GRAD),
    bad("GL302", "arithmetic_through_names", """
        import torch
        w = torch.randn(3, requires_grad=True)
        h = torch.tanh(w * 2)
        frozen = h.detach()
        scaled = frozen * 0.5 + 1.0
        loss = scaled.pow(2).mean()
        loss.backward()
        """, NOT_GRAD),
    bad("GL302", "detach_in_place", """
        import torch
        lin = torch.nn.Linear(2, 2)
        out = lin(torch.ones(3, 2))
        out.detach_()
        loss = (out ** 2).sum()
        loss.backward()
        """, NOT_GRAD),
    bad("GL302", "tuple_unpacking", """
        import torch
        lin = torch.nn.Linear(2, 1)
        pred, target = lin(torch.ones(3, 2)).detach(), torch.zeros(3, 1)
        loss = ((pred - target) ** 2).mean()
        loss.backward()
        """, NOT_GRAD),
    bad("GL302", "while_loop_top_level", """
        import torch
        import torch.nn.functional as F
        enc = torch.nn.Linear(4, 4)
        step = 0
        while step < 2:
            feats = enc(torch.randn(2, 4)).detach()
            loss = F.l1_loss(feats, torch.zeros(2, 4))
            loss.backward()
            step += 1
        """, NOT_GRAD),
    bad("GL302", "torch_function_of_detached", """
        import torch
        w = torch.nn.Parameter(torch.randn(4))
        loss = torch.sigmoid(w.detach()).sum()
        loss.backward()
        """, NOT_GRAD),
    bad("GL302", "walrus_detach", """
        import torch
        model = torch.nn.Linear(3, 1)
        if (out := model(torch.randn(2, 3)).detach()) is not None:
            loss = out.mean()
            loss.backward()
        """, NOT_GRAD),
    bad("GL302", "trainer_self_model", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.model = nn.Linear(3, 1)
                self.crit = nn.MSELoss()
            def epoch(self, loader):
                for x, y in loader:
                    out = self.model(x)
                    loss = self.crit(out.detach(), y)
                    loss.backward()
        Trainer().epoch([(torch.randn(2, 3), torch.randn(2, 1))])
        """, NOT_GRAD),
    bad("GL302", "helper_function_detaches", """
        import torch
        from torch.nn import functional as F
        def head_loss(out, target):
            return F.mse_loss(out.detach(), target)
        model = torch.nn.Linear(3, 1)
        for step in range(2):
            loss = head_loss(model(torch.randn(2, 3)), torch.zeros(2, 1))
            loss.backward()
        """, NOT_GRAD),
    ok("GL302", "gan_discriminator_step", """
        import torch
        from torch import nn
        G = nn.Linear(2, 4)
        D = nn.Linear(4, 1)
        crit = nn.BCEWithLogitsLoss()
        fake = G(torch.randn(3, 2))
        d_loss = crit(D(fake.detach()), torch.zeros(3, 1))
        d_loss.backward()
        """),
    ok("GL302", "input_detached_model_trains", """
        import torch
        model = torch.nn.Linear(3, 1)
        x = torch.randn(2, 3)
        loss = model(x.detach()).sum()
        loss.backward()
        """),
    ok("GL302", "detach_then_new_leaf", """
        import torch as th
        lin = th.nn.Linear(2, 2)
        emb = lin(th.ones(2)).detach().requires_grad_(True)
        (emb ** 2).sum().backward()
        """),
    ok("GL302", "detached_plus_grad_term", """
        import torch
        from torch.nn import functional as F
        model = torch.nn.Linear(3, 1)
        out = model(torch.randn(2, 3))
        loss = F.mse_loss(out.detach(), torch.zeros(2, 1)) + out.pow(2).mean()
        loss.backward()
        """),
    ok("GL302", "target_detached", """
        import torch
        student = torch.nn.Linear(3, 1)
        teacher = torch.nn.Linear(3, 1)
        x = torch.randn(2, 3)
        loss = torch.nn.functional.mse_loss(student(x), teacher(x).detach())
        loss.backward()
        """),
    ok("GL302", "unknown_loss_function", """
        import torch
        def step(model, x, y, loss_fn):
            loss = loss_fn(model(x).detach(), y)
            loss.backward()
        """),

    # ------------------------------------------------------------------ GL303 grad-of-non-leaf
    bad("GL303", "sequential_output", """
        import torch
        from torch import nn
        net = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
        hidden = net(torch.randn(2, 3))
        hidden.sum().backward()
        print(hidden.grad)
        """, NON_LEAF_GRAD),
    bad("GL303", "double_cast_keyword_dtype", """
        import torch
        w = torch.randn(3, requires_grad=True).to(dtype=torch.float64)
        (w * 2).sum().backward()
        g = w.grad
        """, NON_LEAF_GRAD),
    bad("GL303", "functional_softmax", """
        import torch
        import torch.nn.functional as F
        logits = torch.randn(2, 5, requires_grad=True)
        probs = F.softmax(logits, dim=-1)
        probs.max().backward()
        print(probs.grad is None)
        """, NON_LEAF_GRAD),
    bad("GL303", "tuple_unpacking", """
        import torch
        w = torch.ones(3, requires_grad=True)
        a, b = w * 2, w * 3
        (a + b).sum().backward()
        print(a.grad)
        """, NON_LEAF_GRAD),
    bad("GL303", "in_function_with_alias", """
        import torch as th
        def saliency():
            image = th.zeros(1, 3, requires_grad=True)
            normed = (image - 0.5) / 0.25
            normed.sum().backward()
            return normed.grad
        saliency()
        """, NON_LEAF_GRAD),
    bad("GL303", "while_loop_exp", """
        import torch
        w = torch.nn.Parameter(torch.ones(2))
        step = 0
        while step < 2:
            z = torch.exp(w)
            z.sum().backward()
            print(z.grad)
            step += 1
        """, NON_LEAF_GRAD),
    bad("GL303", "embedding_output", """
        import torch
        emb = torch.nn.Embedding(10, 4)
        vectors = emb(torch.tensor([1, 2]))
        vectors.pow(2).sum().backward()
        print(vectors.grad)
        """, NON_LEAF_GRAD),
    bad("GL303", "augmented_then_read", """
        import torch
        w = torch.ones(3, requires_grad=True)
        y = w * 1.0
        y += 2
        y.sum().backward()
        print(y.grad)
        """, NON_LEAF_GRAD),
    ok("GL303", "leaf_grad", """
        import torch as th
        w = th.ones(3, requires_grad=True)
        (w * 2).sum().backward()
        print(w.grad)
        """),
    ok("GL303", "retained", """
        import torch
        from torch import nn
        net = nn.Linear(3, 3)
        hidden = net(torch.randn(2, 3))
        hidden.retain_grad()
        hidden.sum().backward()
        print(hidden.grad)
        """),
    ok("GL303", "requires_grad_leaf", """
        import torch
        x = torch.randn(3).requires_grad_()
        (x ** 2).sum().backward()
        print(x.grad)
        """),
    ok("GL303", "parameter_grads", """
        import torch
        model = torch.nn.Linear(3, 1)
        model(torch.randn(2, 3)).sum().backward()
        for name, p in model.named_parameters():
            print(name, p.grad)
        print(model.weight.grad)
        """),
    ok("GL303", "computed_under_no_grad", """
        import torch
        w = torch.ones(3, requires_grad=True)
        with torch.no_grad():
            y = w * 2
        print(y.grad)
        """),
    ok("GL303", "same_dtype_cast", """
        import torch
        w = torch.randn(3, requires_grad=True).float()
        (w * 2).sum().backward()
        print(w.grad)
        """),

    # ------------------------------------------------------------------ GL304 double-backward
    bad("GL304", "alias_same_loss_twice", """
        import torch as th
        net = th.nn.Linear(3, 1)
        loss = net(th.randn(4, 3)).pow(2).mean()
        loss.backward()
        loss.backward()
        """, SECOND_BACKWARD),
    bad("GL304", "gan_module_level", """
        import torch
        from torch import nn
        G = nn.Linear(2, 4)
        D = nn.Linear(4, 1)
        crit = nn.BCEWithLogitsLoss()
        fake = G(torch.randn(3, 2))
        d_loss = crit(D(fake), torch.zeros(3, 1))
        d_loss.backward()
        g_loss = crit(D(fake), torch.ones(3, 1))
        g_loss.backward()
        """, SECOND_BACKWARD),
    bad("GL304", "loss_before_while", """
        import torch
        from torch.nn import functional as F
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(4, 3), torch.randn(4, 1)
        loss = F.mse_loss(model(x), y)
        step = 0
        while step < 3:
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        """, SECOND_BACKWARD),
    bad("GL304", "autograd_grad_then_backward", """
        import torch
        model = torch.nn.Linear(3, 1)
        loss = model(torch.randn(2, 3)).pow(2).sum()
        grads = torch.autograd.grad(outputs=loss, inputs=list(model.parameters()))
        loss.backward()
        """, SECOND_BACKWARD),
    bad("GL304", "trainer_shared_output", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.model = nn.Linear(3, 2)
            def step(self, x):
                out = self.model(x)
                main = out.pow(2).mean()
                aux = out.abs().mean()
                main.backward()
                aux.backward()
        Trainer().step(torch.randn(4, 3))
        """, SECOND_BACKWARD),
    bad("GL304", "with_several_items", """
        import torch
        import contextlib
        lin = torch.nn.Linear(3, 1)
        with torch.enable_grad(), contextlib.suppress(KeyError):
            loss = (lin(torch.randn(2, 3)) ** 2).sum()
            loss.backward()
            loss.backward()
        """, SECOND_BACKWARD),
    bad("GL304", "total_then_part", """
        import torch
        import torch.nn.functional as F
        enc = torch.nn.Linear(4, 4)
        feats = enc(torch.randn(2, 4))
        rec = F.l1_loss(feats, torch.zeros(2, 4))
        reg = feats.pow(2).mean()
        total = rec + 0.1 * reg
        total.backward()
        rec.backward()
        """, SECOND_BACKWARD),
    bad("GL304", "enumerate_loop_loss_outside", """
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        crit = nn.MSELoss()
        loss = crit(model(torch.randn(4, 3)), torch.randn(4, 1))
        for i, batch in enumerate(range(3)):
            loss.backward()
        """, SECOND_BACKWARD),
    bad("GL304", "scaled_loss_function_args", """
        import torch
        def train_step(model, x):
            out = model(x)
            loss = out.pow(2).mean()
            loss.backward()
            (loss * 2).backward()
        train_step(torch.nn.Linear(3, 1), torch.randn(2, 3))
        """, SECOND_BACKWARD),
    ok("GL304", "retain_graph_keyword_first", """
        import torch as th
        net = th.nn.Linear(3, 1)
        out = net(th.randn(4, 3))
        a = out.pow(2).mean()
        b = out.abs().mean()
        a.backward(retain_graph=True)
        b.backward()
        """),
    ok("GL304", "gan_detached_fake", """
        import torch
        from torch import nn
        G = nn.Linear(2, 4)
        D = nn.Linear(4, 1)
        crit = nn.BCEWithLogitsLoss()
        fake = G(torch.randn(3, 2))
        d_loss = crit(D(fake.detach()), torch.zeros(3, 1))
        d_loss.backward()
        g_loss = crit(D(fake), torch.ones(3, 1))
        g_loss.backward()
        """),
    ok("GL304", "recomputed_in_loop", """
        import torch
        model = torch.nn.Linear(3, 1)
        step = 0
        while step < 3:
            loss = model(torch.randn(2, 3)).pow(2).mean()
            loss.backward()
            step += 1
        """),
    ok("GL304", "summed_once", """
        import torch
        import torch.nn.functional as F
        enc = torch.nn.Linear(4, 4)
        feats = enc(torch.randn(2, 4))
        total = F.l1_loss(feats, torch.zeros(2, 4)) + feats.pow(2).mean()
        total.backward()
        """),
    ok("GL304", "branches", """
        import torch
        model = torch.nn.Linear(3, 1)
        loss = model(torch.randn(2, 3)).sum()
        if flag:
            loss.backward()
        else:
            loss.backward()
        """),
    ok("GL304", "autograd_grad_retain", """
        import torch
        model = torch.nn.Linear(3, 1)
        loss = model(torch.randn(2, 3)).pow(2).sum()
        grads = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)
        loss.backward()
        """),

    # ------------------------------------------------------------------ GL305 backward-on-non-scalar
    bad("GL305", "linear_output_alias", """
        import torch as th
        from torch import nn
        layer = nn.Linear(in_features=3, out_features=2)
        out = layer(th.randn(3))
        out.backward()
        """, NOT_SCALAR),
    bad("GL305", "functional_relu_of_layer", """
        import torch
        from torch.nn import functional as F
        lin = torch.nn.Linear(4, 8)
        F.relu(lin(torch.randn(4))).backward()
        """, NOT_SCALAR),
    bad("GL305", "loss_module_reduction_none", """
        import torch
        from torch import nn
        crit = nn.MSELoss(reduction="none")
        w = torch.randn(4, requires_grad=True)
        loss = crit(w, torch.zeros(4))
        loss.backward()
        """, NOT_SCALAR),
    bad("GL305", "exp_of_leaf_in_function", """
        import torch
        def run():
            x = torch.ones(4, requires_grad=True)
            y = torch.exp(x)
            y.backward()
        run()
        """, NOT_SCALAR),
    bad("GL305", "parameter_times_data", """
        import torch
        w = torch.nn.Parameter(torch.randn(5))
        x = torch.randn(5)
        (x * w).backward()
        """, NOT_SCALAR),
    bad("GL305", "walrus", """
        import torch
        w = torch.randn(2, 2, requires_grad=True)
        if (z := w * 3) is not None:
            z.backward()
        """, NOT_SCALAR),
    bad("GL305", "conv_in_while", """
        import torch
        from torch import nn
        conv = nn.Conv2d(3, 4, kernel_size=3)
        step = 0
        while step < 1:
            feats = conv(torch.randn(1, 3, 8, 8))
            feats.backward()
            step += 1
        """, NOT_SCALAR),
    bad("GL305", "augmented_assignment", """
        import torch
        w = torch.randn(3, requires_grad=True)
        y = w * 2
        y += 1
        y.backward()
        """, NOT_SCALAR),
    ok("GL305", "reduced", """
        import torch as th
        layer = th.nn.Linear(3, 2)
        layer(th.randn(3)).sum().backward()
        """),
    ok("GL305", "gradient_keyword", """
        import torch
        w = torch.randn(3, requires_grad=True)
        (w * 2).backward(gradient=torch.ones(3))
        """),
    ok("GL305", "loss_module_default_reduction", """
        import torch
        from torch import nn
        crit = nn.MSELoss()
        w = torch.randn(4, requires_grad=True)
        crit(w, torch.zeros(4)).backward()
        """),
    ok("GL305", "one_output_feature", """
        import torch
        from torch import nn
        head = nn.Linear(3, 1)
        head(torch.randn(3)).backward()
        """),
    ok("GL305", "custom_module", """
        import torch
        from torch import nn
        class Energy(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 3)
            def forward(self, x):
                return self.fc(x).pow(2).sum()
        Energy()(torch.randn(3)).backward()
        """),
    ok("GL305", "functional_loss_default", """
        import torch
        import torch.nn.functional as F
        w = torch.randn(4, requires_grad=True)
        F.smooth_l1_loss(w, torch.zeros(4)).backward()
        """),

    # ------------------------------------------------------------------ GL306 numpy-of-grad-tensor
    bad("GL306", "sequential_output", """
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        preds = model(torch.randn(2, 3))
        arr = preds.numpy()
        """, NUMPY_OF_GRAD),
    bad("GL306", "softmax_of_output", """
        import torch
        model = torch.nn.Linear(3, 4)
        probs = torch.softmax(model(torch.randn(2, 3)), -1).numpy()
        """, NUMPY_OF_GRAD),
    bad("GL306", "functional_alias", """
        import torch as th
        from torch.nn import functional as F
        w = th.randn(3, requires_grad=True)
        print(F.sigmoid(w).cpu().numpy())
        """, NUMPY_OF_GRAD),
    bad("GL306", "loss_module_output", """
        import torch
        from torch import nn
        lin = nn.Linear(3, 1)
        crit = nn.L1Loss()
        loss = crit(lin(torch.randn(2, 3)), torch.zeros(2, 1))
        history = [loss.numpy()]
        """, NUMPY_OF_GRAD),
    bad("GL306", "eval_without_no_grad", """
        import torch
        model = torch.nn.Linear(3, 2)
        model.eval()
        scores = model(torch.randn(5, 3)).numpy()
        """, NUMPY_OF_GRAD),
    bad("GL306", "enumerate_loader", """
        import torch
        model = torch.nn.Linear(3, 1)
        loader = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(2)]
        for i, (x, y) in enumerate(loader):
            pred = model(x)
            err = (pred - y).abs().numpy()
        """, NUMPY_OF_GRAD),
    bad("GL306", "parameter_in_method", """
        import torch
        class Plotter:
            def show(self):
                bias = torch.nn.Parameter(torch.zeros(3))
                return bias.numpy()
        Plotter().show()
        """, NUMPY_OF_GRAD),
    bad("GL306", "tuple_unpacking", """
        import torch
        lin = torch.nn.Linear(3, 2)
        out, target = lin(torch.randn(3)), torch.zeros(2)
        print(out.numpy(), target.numpy())
        """, NUMPY_OF_GRAD),
    bad("GL306", "argument_from_call_site", """
        import torch
        def to_array(t):
            return t.numpy()
        lin = torch.nn.Linear(3, 2)
        to_array(lin(torch.randn(3)))
        """, NUMPY_OF_GRAD),
    bad("GL306", "returned_by_helper", """
        import torch
        from torch import nn
        net = nn.Linear(3, 2)
        def predict(x):
            return torch.softmax(net(x), dim=-1)
        probs = predict(torch.randn(4, 3))
        print(probs.numpy())
        """, NUMPY_OF_GRAD),
    ok("GL306", "helper_called_under_no_grad", """
        import torch
        from torch import nn
        net = nn.Linear(3, 2)
        def predict(x):
            return torch.softmax(net(x), dim=-1)
        with torch.no_grad():
            probs = predict(torch.randn(4, 3))
            print(probs.numpy())
        """),
    ok("GL306", "helper_detaches", """
        import torch
        from torch import nn
        net = nn.Linear(3, 2)
        def predict(x):
            return net(x).detach()
        print(predict(torch.randn(4, 3)).numpy())
        """),
    ok("GL306", "detached_first", """
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        arr = model(torch.randn(2, 3)).detach().cpu().numpy()
        """),
    ok("GL306", "inference_mode", """
        import torch as th
        model = th.nn.Linear(3, 4)
        with th.inference_mode():
            arr = model(th.randn(2, 3)).numpy()
        """),
    ok("GL306", "decorated_no_grad", """
        import torch
        model = torch.nn.Linear(3, 4)
        @torch.no_grad()
        def predict(x):
            return model(x).numpy()
        """),
    ok("GL306", "argmax_indices", """
        import torch
        model = torch.nn.Linear(3, 4)
        labels = model(torch.randn(2, 3)).argmax(dim=1).numpy()
        """),
    ok("GL306", "frozen_model", """
        import torch
        model = torch.nn.Linear(3, 4)
        model.requires_grad_(False)
        arr = model(torch.randn(2, 3)).numpy()
        """),
    ok("GL306", "other_library", """
        import jax.numpy as jnp
        out = jnp.ones(3) * 2
        arr = out.numpy()
        """),

    # ------------------------------------------------------------------ GL307 in-place-on-grad-leaf
    bad("GL307", "parameter_loop_sub", """
        import torch
        model = torch.nn.Linear(3, 1)
        model(torch.randn(2, 3)).sum().backward()
        for p in model.parameters():
            p -= 0.1 * p.grad
        """, LEAF_IN_PLACE),
    bad("GL307", "named_parameters_add_keyword", """
        import torch
        from torch import nn
        net = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
        net(torch.randn(2, 3)).sum().backward()
        for name, param in net.named_parameters():
            param.add_(param.grad, alpha=-0.01)
        """, LEAF_IN_PLACE),
    bad("GL307", "subscript_augmented", """
        import torch as th
        w = th.zeros(4, requires_grad=True)
        w[0] += 1.0
        """, LEAF_IN_PLACE),
    bad("GL307", "enable_grad_with_several_items", """
        import torch
        import contextlib
        w = torch.ones(3, requires_grad=True)
        with torch.enable_grad(), contextlib.suppress(KeyError):
            w.mul_(2)
        """, LEAF_IN_PLACE),
    bad("GL307", "clamp_in_while", """
        import torch
        w = torch.nn.Parameter(torch.randn(3))
        step = 0
        while step < 2:
            (w ** 2).sum().backward()
            w.clamp_(-1.0, 1.0)
            step += 1
        """, LEAF_IN_PLACE),
    bad("GL307", "from_torch_import_parameter_copy", """
        import torch
        from torch.nn import Parameter
        scale = Parameter(torch.ones(2))
        scale.copy_(torch.tensor([0.5, 0.5]))
        """, LEAF_IN_PLACE),
    bad("GL307", "requires_grad_method_then_fill", """
        import torch
        def reset():
            b = torch.empty(3).requires_grad_()
            b.fill_(0.0)
            return b
        reset()
        """, LEAF_IN_PLACE),
    bad("GL307", "sgd_over_argument_parameters", """
        import torch
        def sgd_step(model, lr):
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
        net = torch.nn.Linear(3, 1)
        net(torch.randn(2, 3)).sum().backward()
        sgd_step(net, 0.1)
        """, LEAF_IN_PLACE),
    bad("GL307", "divide_augmented_tuple_leaves", """
        import torch
        w, b = torch.ones(3, requires_grad=True), torch.zeros(1, requires_grad=True)
        b /= 2
        """, LEAF_IN_PLACE),
    bad("GL307", "ema_zip_outside_no_grad", """
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        ema = nn.Linear(3, 1)
        for ema_p, p in zip(ema.parameters(), model.parameters()):
            ema_p.mul_(0.99).add_(p.detach(), alpha=0.01)
        """, LEAF_IN_PLACE),
    ok("GL307", "ema_zip_under_no_grad", """
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        ema = nn.Linear(3, 1)
        with torch.no_grad():
            for ema_p, p in zip(ema.parameters(), model.parameters()):
                ema_p.mul_(0.99).add_(p, alpha=0.01)
        """),
    ok("GL307", "zip_with_plain_list", """
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        grads = [torch.zeros(1, 3), torch.zeros(1)]
        for g, p in zip(grads, model.parameters()):
            g.add_(1.0)
        """),
    ok("GL307", "under_no_grad", """
        import torch
        model = torch.nn.Linear(3, 1)
        model(torch.randn(2, 3)).sum().backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        """),
    ok("GL307", "on_grad_and_data", """
        import torch as th
        w = th.zeros(4, requires_grad=True)
        w.grad = th.ones(4)
        w.grad.mul_(0.5)
        w.data.clamp_(-1, 1)
        """),
    ok("GL307", "non_leaf", """
        import torch
        w = torch.ones(3, requires_grad=True)
        y = w * 2
        y.mul_(3)
        y[0] = 0.0
        """),
    ok("GL307", "init_function", """
        import torch
        from torch import nn
        w = nn.Parameter(torch.empty(3, 3))
        nn.init.kaiming_uniform_(w)
        """),
    ok("GL307", "decorated_no_grad", """
        import torch
        @torch.no_grad()
        def update(model, lr):
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
        """),
    ok("GL307", "plain_tensor", """
        import torch
        buf = torch.zeros(3)
        buf.add_(1.0)
        buf[0] += 2
        """),

    # ------------------------------------------------------------------ GL308 leaf-rebound-by-update
    bad("GL308", "while_loop", """
        import torch
        w = torch.randn(3, requires_grad=True)
        step = 0
        while step < 1:
            (w * 2).sum().backward()
            w = w - 0.1 * w.grad
            step += 1
        print(w.is_leaf)
        """, ("stdout", "False")),
    bad("GL308", "torch_sub_alpha", """
        import torch as th
        w = th.ones(2, requires_grad=True)
        (w ** 2).sum().backward()
        w = th.sub(w, w.grad, alpha=0.1)
        print(w.is_leaf)
        """, ("stdout", "False")),
    bad("GL308", "grad_times_lr", """
        import torch
        from torch import nn
        b = nn.Parameter(torch.zeros(2))
        b.sum().backward()
        b = b - b.grad * 0.5
        print(b.is_leaf)
        """, ("stdout", "False")),
    bad("GL308", "enumerate_loader", """
        import torch
        w = torch.zeros(3, 1, requires_grad=True)
        loader = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(1)]
        for i, (x, y) in enumerate(loader):
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            w = w - 0.01 * w.grad
        print(w.is_leaf)
        """, ("stdout", "False")),
    bad("GL308", "tuple_update", """
        import torch
        w = torch.ones(3, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        (w.sum() + b).sum().backward()
        w, b = w - 0.1 * w.grad, b - 0.1 * b.grad
        print(w.is_leaf, b.is_leaf)
        """, ("stdout", "False False")),
    bad("GL308", "method_of_plain_class", """
        import torch
        class Fitter:
            def fit(self, x, y, lr=0.1):
                w = torch.zeros(3, requires_grad=True)
                for epoch in range(2):
                    loss = ((x @ w - y) ** 2).mean()
                    loss.backward()
                    w = w - lr * w.grad
                return w
        print(Fitter().fit(torch.randn(4, 3), torch.randn(4)).is_leaf)
        """, ("raises", "TypeError", "unsupported operand")),
    bad("GL308", "clamped_update", """
        import torch
        w = torch.rand(3, requires_grad=True)
        (w * 3).sum().backward()
        w = torch.clamp(w - 0.1 * w.grad, 0.0, 1.0)
        print(w.is_leaf)
        """, ("stdout", "False")),
    bad("GL308", "divided_update_keyword", """
        import torch
        w = torch.ones(2).requires_grad_(True)
        (w * w).sum().backward()
        w = w.add(w.grad, alpha=-0.5)
        print(w.is_leaf)
        """, ("stdout", "False")),
    ok("GL308", "tuple_re_leafed", """
        import torch
        w = torch.ones(3, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        (w.sum() + b).sum().backward()
        w, b = (w - 0.1 * w.grad).detach(), b
        """),
    ok("GL308", "under_no_grad", """
        import torch as th
        w = th.randn(3, requires_grad=True)
        (w * 2).sum().backward()
        with th.no_grad():
            w = w - 0.1 * w.grad
        w.requires_grad_()
        """),
    ok("GL308", "re_leafed", """
        import torch
        w = torch.randn(3, requires_grad=True)
        (w * 2).sum().backward()
        w = (w - 0.1 * w.grad).detach().requires_grad_(True)
        """),
    ok("GL308", "maml_inner_step", """
        import torch
        w = torch.randn(3, requires_grad=True)
        loss = (w ** 2).sum()
        (g,) = torch.autograd.grad(loss, w, create_graph=True)
        fast = w - 0.1 * g
        """),
    ok("GL308", "in_place_under_no_grad", """
        import torch
        w = torch.randn(3, requires_grad=True)
        (w * 2).sum().backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
        """),
    ok("GL308", "plain_tensor", """
        import torch
        w = torch.zeros(3)
        w = w - 0.1 * torch.ones(3)
        """),
    ok("GL308", "unknown_argument", """
        def update(w, lr):
            w = w - lr * w.grad
            return w
        """),

    # ------------------------------------------------------------------ GL309 data-attribute
    bad("GL309", "parameters_of_attribute_chain", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.net = nn.Sequential(nn.Linear(3, 3))
            def clip(self):
                for p in self.net.parameters():
                    p.data.clamp_(-0.01, 0.01)
        Trainer().clip()
        """, ("clean",)),
    bad("GL309", "init_loop_over_modules", """
        import torch
        from torch import nn
        net = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))
        for m in net.modules():
            if isinstance(m, nn.Linear):
                m.bias.data.zero_()
        """, ("clean",)),
    bad("GL309", "output_max", """
        import torch as th
        model = th.nn.Linear(3, 4)
        outputs = model(th.randn(2, 3))
        _, predicted = outputs.data.max(1)
        """, ("clean",)),
    bad("GL309", "write_leaf", """
        import torch
        w = torch.randn(3, requires_grad=True)
        (w * 2).sum().backward()
        w.data = w.data - 0.1 * w.grad
        """, ("clean",)),
    bad("GL309", "named_parameters_copy", """
        import torch
        src = torch.nn.Linear(2, 2)
        dst = torch.nn.Linear(2, 2)
        for (name, p), q in zip(dst.named_parameters(), src.parameters()):
            p.data.copy_(q.data)
        """, ("clean",)),
    bad("GL309", "loss_data_in_loop", """
        import torch
        from torch.nn import functional as F
        model = torch.nn.Linear(3, 1)
        running = 0.0
        for i, (x, y) in enumerate([(torch.randn(2, 3), torch.randn(2, 1))]):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            running += loss.data.item()
        """, ("clean",)),
    bad("GL309", "parameter_attribute_method", """
        import torch
        from torch import nn
        class Gate(nn.Module):
            def __init__(self):
                super().__init__()
                self.alpha = nn.Parameter(torch.zeros(1))
            def reset(self):
                self.alpha.data.fill_(0.5)
        Gate().reset()
        """, ("clean",)),
    bad("GL309", "softmax_data", """
        import torch
        import torch.nn.functional as F
        logits = torch.randn(2, 3, requires_grad=True)
        probs = F.softmax(logits, dim=1).data
        """, ("clean",)),
    ok("GL309", "call_result_not_tensor", """
        import torch
        import numpy as np
        import requests
        payload = requests.get("https://example.com").data
        raw = np.asarray([1, 2]).data
        """),
    ok("GL309", "custom_optimizer", """
        import torch
        from torch.optim import Optimizer
        class Sign(Optimizer):
            def step(self, closure=None):
                for group in self.param_groups:
                    for p in group["params"]:
                        p.data.add_(p.grad.sign(), alpha=-group["lr"])
        """),
    ok("GL309", "dataset_attribute", """
        import torch
        from torch.utils.data import Dataset
        class Pairs(Dataset):
            def __init__(self, data):
                self.data = data
            def __getitem__(self, i):
                return self.data[i]
        """),
    ok("GL309", "numpy_buffer", """
        import torch
        import numpy as np
        arr = np.arange(4)
        view = arr.data
        """),
    ok("GL309", "dtype_swap", """
        import torch
        model = torch.nn.Linear(2, 2)
        for p in model.parameters():
            p.data = p.data.half()
        """),
    ok("GL309", "argparse_namespace", """
        import argparse
        import torch
        parser = argparse.ArgumentParser()
        parser.add_argument("--data")
        args = parser.parse_args()
        root = args.data
        """),
    ok("GL309", "response_data", """
        import torch
        import requests
        response = requests.get("https://example.com")
        payload = response.data
        """),

    # ------------------------------------------------------------------ GL310 graph-kept-across-iterations
    bad("GL310", "functional_enumerate", """
        import torch
        from torch.nn import functional as F
        model = torch.nn.Linear(3, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loader = [(torch.randn(4, 3), torch.tensor([0, 1, 1, 0])) for _ in range(3)]
        total_loss = 0.0
        for i, (x, y) in enumerate(loader):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            total_loss += loss
        print(total_loss / len(loader))
        """, ("stdout", "True"), probe="print(total_loss.grad_fn is not None)"),
    bad("GL310", "list_in_while", """
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        crit = nn.MSELoss()
        losses = []
        step = 0
        while step < 3:
            loss = crit(model(torch.randn(2, 3)), torch.zeros(2, 1))
            loss.backward()
            losses.append(loss)
            step += 1
        print(sum(l.item() for l in losses))
        """, ("stdout", "True"), probe="print(all(l.grad_fn is not None for l in losses))"),
    bad("GL310", "metric_accumulation_no_backward", """
        import torch
        import torch.nn.functional as F
        model = torch.nn.Linear(3, 1)
        val_loss = 0
        for x, y in [(torch.randn(2, 3), torch.randn(2, 1)) for _ in range(3)]:
            val_loss += F.l1_loss(model(x), y)
        print(f"val {val_loss}")
        """, ("stdout", "True"), probe="print(val_loss.grad_fn is not None)"),
    bad("GL310", "weighted_by_batch_size", """
        import torch as th
        model = th.nn.Linear(3, 1)
        running = 0.0
        for x in [th.randn(4, 3), th.randn(2, 3)]:
            loss = model(x).pow(2).mean()
            loss.backward()
            running += loss * x.size(0)
        print(running)
        """, ("stdout", "True"), probe="print(running.grad_fn is not None)"),
    bad("GL310", "trainer_method", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.model = nn.Linear(3, 1)
                self.crit = nn.MSELoss()
            def epoch(self, loader):
                epoch_loss = 0.0
                for x, y in loader:
                    loss = self.crit(self.model(x), y)
                    loss.backward()
                    epoch_loss = epoch_loss + loss
                print(epoch_loss)
                return epoch_loss
        total = Trainer().epoch([(torch.randn(2, 3), torch.randn(2, 1))] * 2)
        """, ("stdout", "True"), probe="print(total.grad_fn is not None)"),
    bad("GL310", "nested_epochs", """
        import torch
        model = torch.nn.Linear(3, 1)
        history = []
        for epoch in range(2):
            for batch in [torch.randn(2, 3)] * 2:
                out = model(batch)
                loss = out.abs().mean()
                loss.backward()
                history.append(loss)
        print(len(history))
        """, ("stdout", "True"), probe="print(history[0].grad_fn is not None)"),
    bad("GL310", "sum_of_two_losses", """
        import torch
        from torch import nn
        enc = nn.Linear(3, 3)
        total = 0
        for x in [torch.randn(2, 3)] * 3:
            feats = enc(x)
            rec = feats.pow(2).mean()
            reg = feats.abs().mean()
            loss = rec + 0.1 * reg
            loss.backward()
            total += loss
        print(total)
        """, ("stdout", "True"), probe="print(total.grad_fn is not None)"),
    ok("GL310", "metric_total_returned", """
        import torch
        import torch.nn.functional as F
        model = torch.nn.Linear(3, 1)
        def evaluate(batches):
            val_loss = 0
            for x, y in batches:
                val_loss += F.l1_loss(model(x), y)
            return val_loss
        """),
    ok("GL310", "metric_of_frozen_model", """
        import torch
        import torch.nn.functional as F
        model = torch.nn.Linear(3, 1)
        model.requires_grad_(False)
        val_loss = 0
        for x, y in batches:
            val_loss += F.l1_loss(model(x), y)
        print(val_loss)
        """),
    bad("GL310", "dict_of_lists", """
        import torch
        model = torch.nn.Linear(3, 1)
        log = {"loss": []}
        for x in [torch.randn(2, 3)] * 2:
            loss = model(x).pow(2).mean()
            loss.backward()
            log["loss"].append(loss)
        print(len(log["loss"]))
        """, ("stdout", "True"), probe='print(log["loss"][0].grad_fn is not None)'),
    bad("GL310", "dict_entry_sum", """
        import torch
        model = torch.nn.Linear(3, 1)
        stats = {"loss": 0.0, "n": 0}
        for x in [torch.randn(2, 3)] * 2:
            loss = model(x).abs().mean()
            loss.backward()
            stats["loss"] += loss
            stats["n"] += 1
        print(stats)
        """, ("stdout", "True"), probe='print(stats["loss"].grad_fn is not None)'),
    ok("GL310", "dict_entry_items", """
        import torch
        model = torch.nn.Linear(3, 1)
        log = {"loss": []}
        for x in batches:
            loss = model(x).pow(2).mean()
            loss.backward()
            log["loss"].append(loss.item())
        """),
    ok("GL310", "dict_entry_backwarded_later", """
        import torch
        model = torch.nn.Linear(3, 1)
        log = {"loss": []}
        for x in batches:
            log["loss"].append(model(x).pow(2).mean())
        torch.stack(log["loss"]).mean().backward()
        """),
    ok("GL310", "item", """
        import torch
        from torch.nn import functional as F
        model = torch.nn.Linear(3, 1)
        total = 0.0
        for i, (x, y) in enumerate(loader):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            total += loss.item()
        """),
    ok("GL310", "detach_in_list", """
        import torch
        model = torch.nn.Linear(3, 1)
        history = []
        for x in batches:
            loss = model(x).pow(2).mean()
            loss.backward()
            history.append(loss.detach().cpu())
        """),
    ok("GL310", "accumulated_then_backward", """
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        crit = nn.MSELoss()
        total = 0
        step = 0
        while step < 4:
            total = total + crit(model(xs[step]), ys[step])
            step += 1
        total.backward()
        """),
    ok("GL310", "under_inference_mode", """
        import torch
        model = torch.nn.Linear(3, 1)
        val = 0.0
        with torch.inference_mode():
            for x, y in loader:
                val += torch.nn.functional.l1_loss(model(x), y)
        """),
    ok("GL310", "float_conversion", """
        import torch
        model = torch.nn.Linear(3, 1)
        total = 0.0
        for x in batches:
            loss = model(x).sum()
            loss.backward()
            total += float(loss)
        """),
    ok("GL310", "stacked_and_backwarded", """
        import torch
        model = torch.nn.Linear(3, 1)
        parts = []
        for x in batches:
            parts.append(model(x).pow(2).mean())
        torch.stack(parts).sum().backward()
        """),

    # ------------------------------------------------------------------ GL311 retain-graph-in-loop
    bad("GL311", "while_loop", """
        import torch
        model = torch.nn.Linear(3, 1)
        step = 0
        while step < 2:
            loss = model(torch.randn(4, 3)).pow(2).mean()
            loss.backward(retain_graph=True)
            step += 1
        """, ("stdout", "kept"), probe="loss.backward()\nprint('kept')"),
    bad("GL311", "autograd_grad_keywords", """
        import torch
        from torch import nn
        net = nn.Linear(3, 1)
        params = list(net.parameters())
        for x in [torch.randn(2, 3)] * 2:
            out = net(x).sum()
            grads = torch.autograd.grad(outputs=out, inputs=params, retain_graph=True)
        """, ("stdout", "kept"), probe="out.backward()\nprint('kept')"),
    bad("GL311", "trainer_enumerate", """
        import torch
        import torch.nn.functional as F
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(3, 1)
            def fit(self, loader):
                for i, (x, y) in enumerate(loader):
                    loss = F.mse_loss(self.model(x), y)
                    loss.backward(retain_graph=True)
                return loss
        last = Trainer().fit([(torch.randn(2, 3), torch.randn(2, 1))] * 2)
        """, ("stdout", "kept"), probe="last.backward()\nprint('kept')"),
    bad("GL311", "with_several_items", """
        import torch
        import contextlib
        lin = torch.nn.Linear(3, 1)
        for x in [torch.randn(2, 3)] * 2:
            with torch.enable_grad(), contextlib.suppress(KeyError):
                loss = lin(x).pow(2).sum()
            loss.backward(retain_graph=True)
        """, ("stdout", "kept"), probe="loss.backward()\nprint('kept')"),
    bad("GL311", "alias_nested_epochs", """
        import torch as th
        model = th.nn.Linear(3, 1)
        crit = th.nn.MSELoss()
        loader = [(th.randn(2, 3), th.randn(2, 1))]
        for epoch in range(2):
            for x, y in loader:
                loss = crit(model(x), y)
                loss.backward(retain_graph=True)
        """, ("stdout", "kept"), probe="loss.backward()\nprint('kept')"),
    bad("GL311", "sum_of_losses", """
        import torch
        from torch.nn import functional as F
        enc = torch.nn.Linear(3, 3)
        for x in [torch.randn(2, 3)] * 2:
            feats = enc(x)
            loss = F.l1_loss(feats, torch.zeros(2, 3)) + feats.pow(2).mean()
            loss.backward(retain_graph=True)
        """, ("stdout", "kept"), probe="loss.backward()\nprint('kept')"),
    bad("GL311", "scaled_loss", """
        import torch
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu")
        for x in [torch.randn(2, 3)] * 2:
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            scaler.scale(loss).backward(retain_graph=True)
            scaler.step(opt)
            scaler.update()
        """, ("stdout", "kept"), probe="loss.backward()\nprint('kept')"),
    bad("GL311", "autograd_backward_keyword", """
        import torch
        model = torch.nn.Linear(3, 1)
        step = 0
        while True:
            loss = model(torch.randn(2, 3)).sum()
            torch.autograd.backward(tensors=loss, retain_graph=True)
            step += 1
            if step == 2:
                break
        """, ("stdout", "kept"), probe="loss.backward()\nprint('kept')"),
    ok("GL311", "second_backward_in_loop", """
        import torch
        model = torch.nn.Linear(3, 1)
        for x in batches:
            out = model(x)
            a = out.pow(2).mean()
            b = out.abs().mean()
            a.backward(retain_graph=True)
            b.backward()
        """),
    ok("GL311", "hidden_state_carried", """
        import torch
        rnn = torch.nn.RNNCell(3, 3)
        h = torch.zeros(1, 3)
        for x in seq:
            h = rnn(x, h)
            loss = h.pow(2).sum()
            loss.backward(retain_graph=True)
        """),
    ok("GL311", "shared_features", """
        import torch
        feats = encoder(images)
        for head in heads:
            loss = head(feats).mean()
            loss.backward(retain_graph=True)
        """),
    ok("GL311", "create_graph", """
        import torch
        for x in batches:
            loss = model(x).sum()
            loss.backward(create_graph=True, retain_graph=True)
        """),
    ok("GL311", "backward_after_loop", """
        import torch
        model = torch.nn.Linear(3, 1)
        kept = []
        for x in batches:
            loss = model(x).sum()
            loss.backward(retain_graph=True)
            kept.append(loss)
        sum(kept).backward()
        """),
    ok("GL311", "retain_false", """
        import torch
        for x in batches:
            loss = model(x).sum()
            loss.backward(retain_graph=False)
        """),

    # ------------------------------------------------------------------ GL312 checkpoint-reentrant-default
    bad("GL312", "aliased_function", """
        import torch
        from torch.utils.checkpoint import checkpoint as ckpt
        block = torch.nn.Linear(3, 3)
        y = ckpt(block, torch.randn(2, 3))
        """, REENTRANT),
    bad("GL312", "module_alias", """
        import torch
        import torch.utils.checkpoint as cp
        block = torch.nn.Linear(3, 3)
        y = cp.checkpoint(block, torch.randn(2, 3, requires_grad=True))
        """, REENTRANT),
    bad("GL312", "sequential_in_forward", """
        import torch
        from torch import nn
        class Deep(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 3))
            def forward(self, x):
                return torch.utils.checkpoint.checkpoint_sequential(self.layers, 2, x)
        Deep()(torch.randn(2, 3, requires_grad=True))
        """, REENTRANT),
    bad("GL312", "from_utils_import_module", """
        import torch
        from torch.utils import checkpoint
        layer = torch.nn.Linear(3, 3)
        out = checkpoint.checkpoint(layer, torch.randn(2, 3))
        """, REENTRANT),
    bad("GL312", "other_keyword_only", """
        import torch
        from torch.utils.checkpoint import checkpoint
        layer = torch.nn.Linear(3, 3)
        out = checkpoint(layer, torch.randn(2, 3), preserve_rng_state=False)
        """, REENTRANT),
    bad("GL312", "lambda_in_loop", """
        import torch
        import torch.utils.checkpoint
        blocks = torch.nn.ModuleList([torch.nn.Linear(3, 3) for _ in range(2)])
        h = torch.randn(2, 3, requires_grad=True)
        for blk in blocks:
            h = torch.utils.checkpoint.checkpoint(lambda t: blk(t).relu(), h)
        """, REENTRANT),
    bad("GL312", "method_of_trainer", """
        import torch
        from torch.utils.checkpoint import checkpoint
        class Runner:
            def __init__(self):
                self.block = torch.nn.Linear(3, 3)
            def run(self, x):
                return checkpoint(self.block, x)
        Runner().run(torch.randn(2, 3))
        """, REENTRANT),
    bad("GL312", "sequential_keyword_input", """
        import torch
        from torch.utils.checkpoint import checkpoint_sequential
        seq = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3))
        out = checkpoint_sequential(functions=seq, segments=2, input=torch.randn(2, 3))
        """, REENTRANT),
    ok("GL312", "explicit_false", """
        import torch
        from torch.utils.checkpoint import checkpoint as ckpt
        block = torch.nn.Linear(3, 3)
        y = ckpt(block, torch.randn(2, 3), use_reentrant=False)
        """),
    ok("GL312", "explicit_true", """
        import torch.utils.checkpoint as cp
        y = cp.checkpoint(block, x, use_reentrant=True)
        """),
    ok("GL312", "kwargs_passed", """
        from torch.utils.checkpoint import checkpoint
        def run(block, x, **kw):
            return checkpoint(block, x, **kw)
        """),
    ok("GL312", "other_library", """
        import deepspeed
        y = deepspeed.checkpointing.checkpoint(block, x)
        """),
    ok("GL312", "state_dict_named_checkpoint", """
        import torch
        checkpoint = torch.load("model.pt")
        model.load_state_dict(checkpoint["model"])
        torch.save(checkpoint, "copy.pt")
        """),
    ok("GL312", "local_function", """
        import torch
        def checkpoint(model, path):
            torch.save(model.state_dict(), path)
        checkpoint(model, "m.pt")
        """),

    # ------------------------------------------------------------------ GL313 numpy-in-forward
    bad("GL313", "exp_via_from_numpy", """
        import numpy as np
        import torch
        from torch import nn
        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
            def forward(self, x):
                h = self.fc(x)
                return torch.from_numpy(np.exp(h.detach().cpu().numpy()))
        Head()(torch.randn(2, 4)).sum().backward()
        """, NOT_GRAD),
    bad("GL313", "from_numpy_import_function", """
        import torch
        from numpy import tanh
        class Act(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(4, 4)
            def forward(self, x):
                y = tanh(self.fc(x).detach().numpy())
                return torch.tensor(y)
        Act()(torch.randn(2, 4)).sum().backward()
        """, NOT_GRAD),
    bad("GL313", "numpy_without_detach", """
        import torch
        import torch.nn as nn
        import numpy as np
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 2)
            def forward(self, x):
                out = self.body(x)
                return torch.as_tensor(np.square(out.numpy()))
        Net()(torch.randn(2, 4))
        """, NUMPY_OF_GRAD),
    bad("GL313", "reassigned_steps", """
        import numpy as np
        import torch
        class Model(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = torch.nn.Linear(3, 3)
            def forward(self, x):
                x = self.lin(x)
                x = x.detach().numpy()
                x = np.maximum(x, 0)
                return torch.from_numpy(x)
        Model()(torch.randn(2, 3)).sum().backward()
        """, NOT_GRAD),
    bad("GL313", "tuple_output", """
        import numpy as np
        import torch
        class TwoHeads(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(3, 2)
            def forward(self, x):
                logits = self.fc(x)
                probs = torch.from_numpy(np.exp(logits.detach().numpy()))
                return logits.argmax(1), probs
        TwoHeads()(torch.randn(2, 3))[1].sum().backward()
        """, NOT_GRAD),
    bad("GL313", "local_base_class", """
        import numpy as np
        import torch
        from torch import nn
        class Base(nn.Module):
            pass
        class Scaler(Base):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.ones(3))
            def forward(self, x):
                z = x * self.w
                return torch.tensor(np.clip(z.detach().numpy(), 0, 1))
        Scaler()(torch.randn(2, 3)).sum().backward()
        """, NOT_GRAD),
    bad("GL313", "inline_normalize", """
        import numpy as np
        import torch
        from torch import nn
        class Embed(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(4, 8)
            def forward(self, x):
                arr = self.proj(x).detach().numpy()
                return torch.from_numpy(arr / np.linalg.norm(arr, axis=1, keepdims=True))
        Embed()(torch.randn(2, 4)).sum().backward()
        """, NOT_GRAD),
    bad("GL313", "augmented_sum", """
        import numpy as np
        import torch
        class Mix(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = torch.nn.Linear(3, 3)
            def forward(self, x):
                h = self.a(x)
                out = torch.zeros(2, 3)
                out += torch.from_numpy(np.sin(h.detach().numpy()))
                return out
        Mix()(torch.randn(2, 3)).sum().backward()
        """, NOT_GRAD),
    ok("GL313", "argsort_indices", """
        import numpy as np
        import torch
        class TopK(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(4, 4)
            def forward(self, x):
                h = self.fc(x)
                order = np.argsort(h.detach().cpu().numpy(), axis=1)
                return torch.gather(h, 1, torch.from_numpy(order))
        """),
    ok("GL313", "input_preprocessing", """
        import numpy as np
        import torch
        class Pre(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(4, 4)
            def forward(self, x):
                x = torch.from_numpy(np.log1p(x.numpy()))
                return self.fc(x)
        """),
    ok("GL313", "statistics_only", """
        import numpy as np
        import torch
        class Logged(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(4, 4)
            def forward(self, x):
                h = self.fc(x)
                self.last_norm = float(np.linalg.norm(h.detach().numpy()))
                return h
        """),
    ok("GL313", "no_grad_forward", """
        import numpy as np
        import torch
        class Frozen(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(4, 4)
            @torch.inference_mode()
            def forward(self, x):
                return torch.from_numpy(np.tanh(self.fc(x).numpy()))
        """),
    ok("GL313", "shape_arithmetic", """
        import numpy as np
        import torch
        class Flat(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(12, 2)
            def forward(self, x):
                h = x.reshape(x.shape[0], int(np.prod(x.shape[1:])))
                return self.fc(h)
        """),
    ok("GL313", "not_a_module", """
        import numpy as np
        class Numpy:
            def forward(self, x):
                h = self.fc(x)
                return np.tanh(h)
        """),

    # ------------------------------------------------------------------ split over functions and classes
    bad("GL301", "trainer_loss_module_of_constants", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.loss_fn = nn.MSELoss()
            def sanity(self):
                loss = self.loss_fn(torch.zeros(3), torch.ones(3))
                loss.backward()
        Trainer().sanity()
        """, NOT_GRAD),
    bad("GL301", "argument_from_call_site", """
        import torch
        def apply(loss):
            loss.backward()
        apply(torch.tensor(1.5))
        """, NOT_GRAD),
    bad("GL302", "model_argument_enumerate", """
        import torch
        import torch.nn.functional as F
        def train(model, loader):
            for i, (x, y) in enumerate(loader):
                logits = model(x).detach()
                loss = F.cross_entropy(logits, y)
                loss.backward()
        train(torch.nn.Linear(3, 2), [(torch.randn(4, 3), torch.tensor([0, 1, 1, 0]))])
        """, NOT_GRAD),
    bad("GL302", "autocast_with_several_items", """
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        crit = nn.MSELoss()
        loader = [(torch.randn(2, 3), torch.randn(2, 1))]
        for x, y in loader:
            with torch.autocast("cpu", enabled=False), torch.enable_grad():
                out = model(x)
            loss = crit(out.detach(), y)
            loss.backward()
        """, NOT_GRAD),
    bad("GL303", "trainer_encoder_output", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.encoder = nn.Linear(3, 3)
            def probe(self, x):
                h = self.encoder(x)
                h.sum().backward()
                return h.grad
        Trainer().probe(torch.randn(2, 3))
        """, NON_LEAF_GRAD),
    bad("GL303", "argument_from_call_site", """
        import torch
        def report(t):
            print(t.grad)
        w = torch.ones(3, requires_grad=True)
        y = w * 2
        y.sum().backward()
        report(y)
        """, NON_LEAF_GRAD),
    bad("GL303", "subscript_of_output", """
        import torch
        lin = torch.nn.Linear(3, 4)
        first = lin(torch.randn(2, 3))[0]
        first.sum().backward()
        print(first.grad)
        """, NON_LEAF_GRAD),
    bad("GL304", "gan_function_arguments", """
        import torch
        from torch import nn
        def gan_step(G, D, z, crit):
            fake = G(z)
            d_loss = crit(D(fake), torch.zeros(3, 1))
            d_loss.backward()
            g_loss = crit(D(fake), torch.ones(3, 1))
            g_loss.backward()
        gan_step(nn.Linear(2, 4), nn.Linear(4, 1), torch.randn(3, 2), nn.BCEWithLogitsLoss())
        """, SECOND_BACKWARD),
    bad("GL304", "trainer_gan_attributes", """
        import torch
        from torch import nn
        class GanTrainer:
            def __init__(self):
                self.G = nn.Linear(2, 4)
                self.D = nn.Linear(4, 1)
            def step(self, z):
                fake = self.G(z)
                d_loss = self.D(fake).mean()
                d_loss.backward()
                g_loss = -self.D(fake).mean()
                g_loss.backward()
        GanTrainer().step(torch.randn(3, 2))
        """, SECOND_BACKWARD),
    bad("GL305", "trainer_head_attribute", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.head = nn.Linear(3, 4)
            def step(self, x):
                self.head(x).backward()
        Trainer().step(torch.randn(3))
        """, NOT_SCALAR),
    bad("GL306", "trainer_predictions", """
        import torch
        from torch import nn
        class Evaluator:
            def __init__(self):
                self.model = nn.Linear(3, 2)
            def predict(self, x):
                preds = self.model(x)
                return preds.numpy()
        Evaluator().predict(torch.randn(2, 3))
        """, NUMPY_OF_GRAD),
    bad("GL306", "model_argument_call_site", """
        import torch
        def predict(model, x):
            return model(x).numpy()
        predict(torch.nn.Linear(3, 2), torch.randn(2, 3))
        """, NUMPY_OF_GRAD),
    bad("GL307", "trainer_manual_sgd", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.model = nn.Linear(3, 1)
            def step(self, x, lr=0.1):
                self.model(x).sum().backward()
                for p in self.model.parameters():
                    p -= lr * p.grad
        Trainer().step(torch.randn(2, 3))
        """, LEAF_IN_PLACE),
    bad("GL307", "layer_weight_in_place", """
        import torch
        from torch import nn
        fc = nn.Linear(3, 3)
        fc.bias.zero_()
        """, LEAF_IN_PLACE),
    bad("GL307", "init_in_module_without_no_grad", """
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 3)
                self.fc.weight.normal_(0.0, 0.01)
        Net()
        """, LEAF_IN_PLACE),
    bad("GL310", "train_step_function", """
        import torch
        import torch.nn.functional as F
        def train_step(model, x, y):
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss
        model = torch.nn.Linear(3, 1)
        losses = []
        for x, y in [(torch.randn(2, 3), torch.randn(2, 1))] * 2:
            losses.append(train_step(model, x, y))
        print(len(losses))
        """, ("stdout", "True"), probe="print(losses[0].grad_fn is not None)"),
    bad("GL311", "loader_argument", """
        import torch
        def fit(model, loader):
            for x, y in loader:
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward(retain_graph=True)
            return loss
        last = fit(torch.nn.Linear(3, 1), [(torch.randn(2, 3), torch.randn(2, 1))] * 2)
        """, ("stdout", "kept"), probe="last.backward()\nprint('kept')"),
    bad("GL312", "function_alias_by_assignment", """
        import torch
        import torch.utils.checkpoint
        ckpt = torch.utils.checkpoint.checkpoint
        layer = torch.nn.Linear(3, 3)
        out = ckpt(layer, torch.randn(2, 3))
        """, REENTRANT),
    ok("GL307", "layer_weight_under_no_grad", """
        import torch
        from torch import nn
        fc = nn.Linear(3, 3)
        with torch.no_grad():
            fc.bias.zero_()
            fc.weight.normal_(0.0, 0.01)
        """),
    ok("GL307", "layer_weight_data", """
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 3)
                self.fc.weight.data.normal_(0.0, 0.01)
                nn.init.zeros_(self.fc.bias)
        """),
    ok("GL307", "embedding_from_pretrained_frozen", """
        import torch
        from torch import nn
        emb = nn.Embedding.from_pretrained(torch.randn(10, 4))
        emb.weight.mul_(2.0)
        """),
    ok("GL307", "weight_normed_layer", """
        import torch
        from torch import nn
        from torch.nn.utils import weight_norm
        fc = weight_norm(nn.Linear(3, 3))
        fc.weight_g.data.fill_(1.0)
        """),
    ok("GL307", "frozen_layer", """
        import torch
        from torch import nn
        fc = nn.Linear(3, 3)
        fc.requires_grad_(False)
        fc.weight.add_(1.0)
        """),
    ok("GL307", "bias_disabled", """
        import torch
        from torch import nn
        fc = nn.Linear(3, 3, bias=False)
        if fc.bias is not None:
            fc.bias.zero_()
        """),
    bad("GL302", "criterion_alias_of_functional", """
        import torch
        import torch.nn.functional as F
        criterion = F.mse_loss
        model = torch.nn.Linear(3, 1)
        out = model(torch.randn(2, 3))
        loss = criterion(out.detach(), torch.zeros(2, 1))
        loss.backward()
        """, NOT_GRAD),
    ok("GL312", "alias_of_other_library", """
        import deepspeed
        checkpoint = deepspeed.checkpointing.checkpoint
        y = checkpoint(block, x)
        """),
    ok("GL312", "partial_with_keyword", """
        import functools
        from torch.utils.checkpoint import checkpoint
        ckpt = functools.partial(checkpoint, use_reentrant=False)
        out = ckpt(layer, x)
        """),
    bad("GL306", "trainer_predict_method", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.model = nn.Sequential(nn.Linear(3, 2), nn.Softmax(dim=-1))
            def predict(self, x):
                return self.model(x)
            def report(self, x):
                print(self.predict(x).numpy())
        Trainer().report(torch.randn(2, 3))
        """, NUMPY_OF_GRAD),
    bad("GL310", "trainer_step_method", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.model = nn.Linear(3, 1)
            def compute_loss(self, x):
                return self.model(x).pow(2).mean()
            def evaluate(self, batches):
                total = 0.0
                for x in batches:
                    total += self.compute_loss(x)
                print(total)
        Trainer().evaluate([torch.randn(2, 3)] * 2)
        """, ("stdout", "True"), probe="t = Trainer()\ntotal = 0.0\nfor x in [torch.randn(2, 3)] * 2:\n    total += t.compute_loss(x)\nprint(total.grad_fn is not None)"),
    ok("GL306", "method_under_no_grad", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self):
                self.model = nn.Linear(3, 2)
            @torch.no_grad()
            def predict(self, x):
                return self.model(x)
            def report(self, x):
                print(self.predict(x).numpy())
        """),
    ok("GL306", "method_overridden_in_subclass", """
        import torch
        from torch import nn
        class Base:
            def __init__(self):
                self.model = nn.Linear(3, 2)
            def predict(self, x):
                return self.model(x)
            def report(self, x):
                print(self.predict(x).numpy())
        class Frozen(Base):
            def predict(self, x):
                return self.model(x).detach()
        """),
    ok("GL306", "method_replaced_on_instance", """
        import torch
        from torch import nn
        class Trainer:
            def __init__(self, fast):
                self.model = nn.Linear(3, 2)
                if fast:
                    self.predict = self.cached_predict
            def predict(self, x):
                return self.model(x)
            def report(self, x):
                print(self.predict(x).numpy())
        """),
    bad("GL304", "gan_script_tuple_unpacked_modules", """
        import torch
        from torch import nn
        import torch.nn.functional as F


        class Generator(nn.Module):
            def __init__(self, z_dim=8):
                super().__init__()
                self.net = nn.Sequential(nn.Linear(z_dim, 16), nn.ReLU(), nn.Linear(16, 4))

            def forward(self, z):
                return self.net(z)


        class Discriminator(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

            def forward(self, x):
                return self.net(x)


        def train(G, D, loader, opt_g, opt_d, epochs=1):
            for epoch in range(epochs):
                for real in loader:
                    z = torch.randn(real.size(0), 8)
                    fake = G(z)
                    d_loss = F.binary_cross_entropy_with_logits(D(real), torch.ones(real.size(0), 1)) + \
                        F.binary_cross_entropy_with_logits(D(fake), torch.zeros(real.size(0), 1))
                    opt_d.zero_grad()
                    d_loss.backward()
                    opt_d.step()
                    g_loss = F.binary_cross_entropy_with_logits(D(fake), torch.ones(real.size(0), 1))
                    opt_g.zero_grad()
                    g_loss.backward()
                    opt_g.step()


        def main():
            G, D = Generator(), Discriminator()
            opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
            opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
            loader = [torch.randn(4, 4) for _ in range(2)]
            train(G, D, loader, opt_g, opt_d)


        main()
        """, SECOND_BACKWARD),
    bad("GL310", "classifier_script_train_step_returns", """
        import numpy as np
        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        class Classifier(nn.Module):
            def __init__(self, d_in=4, n_classes=3):
                super().__init__()
                self.features = nn.Sequential(nn.Linear(d_in, 16), nn.ReLU())
                self.head = nn.Linear(16, n_classes)

            def forward(self, x):
                return self.head(self.features(x))


        def build_model():
            return Classifier()


        class Trainer:
            def __init__(self, model, lr=0.1):
                self.model = model
                self.opt = torch.optim.SGD(model.parameters(), lr=lr)
                self.history = []

            def train_step(self, x, y):
                self.opt.zero_grad()
                logits = self.model(x)
                loss = F.cross_entropy(logits, y)
                loss.backward()
                self.opt.step()
                return loss

            def fit(self, loader, epochs=2):
                epoch_loss = 0.0
                for epoch in range(epochs):
                    for i, (x, y) in enumerate(loader):
                        loss = self.train_step(x, y)
                        epoch_loss += loss
                return float(epoch_loss)

            def evaluate(self, loader):
                self.model.eval()
                preds = []
                for x, _ in loader:
                    probs = torch.softmax(self.model(x), dim=-1)
                    preds.append(probs.numpy())
                return np.concatenate(preds)

            def saliency(self, x):
                x = x.clone().requires_grad_(True)
                scaled = x * 2
                score = self.model(scaled).max()
                score.backward()
                return scaled.grad


        def main():
            model = build_model()
            trainer = Trainer(model)
            loader = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(3)]
            trainer.fit(loader)


        main()
        """, ("stdout", "True"), probe="t = Trainer(build_model())\ntotal = 0.0\nfor x, y in [(torch.randn(8, 4), torch.randint(0, 3, (8,)))] * 2:\n    total += t.train_step(x, y)\nprint(total.grad_fn is not None)"),
    bad("GL303", "saliency_of_unknown_images", """
        import torch
        def saliency(model, images):
            images = images.clone().requires_grad_(True)
            scaled = images * 2.0
            model(scaled).max().backward()
            return scaled.grad
        saliency(torch.nn.Linear(4, 2), torch.randn(1, 4))
        """, NON_LEAF_GRAD),
    ok("GL303", "saliency_reads_the_leaf", """
        import torch
        def saliency(model, images):
            images = images.clone().requires_grad_(True)
            model(images * 2.0).max().backward()
            return images.grad
        """),
    ok("GL304", "gan_unpacked_detached", """
        import torch
        from torch import nn
        def train(G, D, z, crit):
            fake = G(z)
            d_loss = crit(D(fake.detach()), torch.zeros(3, 1))
            d_loss.backward()
            g_loss = crit(D(fake), torch.ones(3, 1))
            g_loss.backward()
        G, D = nn.Linear(2, 4), nn.Linear(4, 1)
        train(G, D, torch.randn(3, 2), nn.BCEWithLogitsLoss())
        """),
    bad("GL307", "regression_script_sgd_helper", """
        import torch


        def make_data(n=16):
            x = torch.randn(n, 3)
            y = x @ torch.tensor([[1.0], [2.0], [3.0]]) + 0.5
            return x, y


        def predict(x, w, b):
            return x @ w + b


        def mse(pred, target):
            return ((pred - target) ** 2).mean()


        def sgd_step(param, lr):
            param -= lr * param.grad


        def fit(epochs=3, lr=0.1):
            x, y = make_data()
            w = torch.zeros(3, 1, requires_grad=True)
            b = torch.zeros(1, requires_grad=True)
            for epoch in range(epochs):
                loss = mse(predict(x, w, b), y)
                loss.backward()
                sgd_step(w, lr)
                sgd_step(b, lr)
            return w, b


        fit()
        """, LEAF_IN_PLACE),
    bad("GL308", "regression_class_while_loop", """
        import torch


        class LinearRegression:
            def __init__(self, d):
                self.d = d

            def loss(self, w, x, y):
                return ((x @ w - y) ** 2).mean()

            def fit(self, x, y, steps=3, lr=0.1):
                w = torch.zeros(self.d, requires_grad=True)
                step = 0
                while step < steps:
                    loss = self.loss(w, x, y)
                    loss.backward()
                    w = w - lr * w.grad
                    step += 1
                return w


        LinearRegression(3).fit(torch.randn(4, 3), torch.randn(4))
        """, ("raises", "TypeError", "unsupported operand")),
    bad("GL302", "script_loss_helper_gets_detached_logits", """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Linear(4, 8)
                self.cls = nn.Linear(8, 3)

            def forward(self, x):
                return self.cls(torch.relu(self.backbone(x)))


        def compute_loss(logits, labels):
            return F.cross_entropy(logits, labels)


        def train_epoch(model, loader, optimizer):
            model.train()
            for step, (images, labels) in enumerate(loader):
                logits = model(images)
                loss = compute_loss(logits.detach(), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()


        model = Model()
        loader = [(torch.randn(4, 4), torch.randint(0, 3, (4,)))]
        train_epoch(model, loader, torch.optim.SGD(model.parameters(), lr=0.1))
        """, NOT_GRAD),
    bad("GL301", "script_loss_rebuilt_from_items", """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Linear(4, 8)
                self.cls = nn.Linear(8, 3)

            def forward(self, x):
                return self.cls(torch.relu(self.backbone(x)))


        def compute_loss(logits, labels):
            return F.cross_entropy(logits, labels)


        def constant_loss(model, loader):
            losses = [F.cross_entropy(model(x), y).item() for x, y in loader]
            total = torch.tensor(sum(losses) / len(losses))
            total.backward()


        constant_loss(Model(), [(torch.randn(4, 4), torch.randint(0, 3, (4,)))])
        """, NOT_GRAD),
    bad("GL313", "script_numpy_softmax_head", """
        import numpy as np
        import torch
        from torch import nn
        from torch.utils import checkpoint as cp


        class Block(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.fc = nn.Linear(d, d)

            def forward(self, x):
                return torch.relu(self.fc(x))


        class Encoder(nn.Module):
            def __init__(self, d=8, depth=2, use_checkpoint=True):
                super().__init__()
                self.blocks = nn.ModuleList([Block(d) for _ in range(depth)])
                self.use_checkpoint = use_checkpoint
                self.norm = nn.LayerNorm(d)

            def _run(self, blk, x):
                if self.use_checkpoint and self.training:
                    return cp.checkpoint(blk, x)
                return blk(x)

            def forward(self, x):
                for blk in self.blocks:
                    x = self._run(blk, x)
                return self.norm(x)


        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(8, 2)

            def forward(self, h):
                logits = self.proj(h)
                probs = np.exp(logits.detach().numpy())
                probs = probs / probs.sum(axis=1, keepdims=True)
                return torch.from_numpy(probs)


        enc, head = Encoder(), Head()
        out = head(enc(torch.randn(4, 8)))
        out.sum().backward()
        """, NOT_GRAD),
    ok("GL302", "loss_helper_target_may_carry_grad", """
        import torch
        import torch.nn.functional as F
        def distill(student_out, teacher_out):
            return F.mse_loss(student_out, teacher_out)
        student = torch.nn.Linear(4, 2)
        teacher = torch.nn.Linear(4, 2)
        for x, y in loader:
            loss = distill(teacher(x).detach(), y)
            loss.backward()
        other = distill(teacher(x).detach(), student(x))
        other.backward()
        """),
    bad("GL307", "softmax_regression_attributes", """
        import torch


        class SoftmaxRegression:
            def __init__(self, d, k):
                self.W = torch.randn(d, k, requires_grad=True)
                self.b = torch.zeros(k, requires_grad=True)

            def forward(self, x):
                return x @ self.W + self.b

            def step(self, x, y, lr=0.1):
                loss = torch.nn.functional.cross_entropy(self.forward(x), y)
                loss.backward()
                self.W -= lr * self.W.grad
                self.b -= lr * self.b.grad


        SoftmaxRegression(3, 2).step(torch.randn(4, 3), torch.tensor([0, 1, 1, 0]))
        """, LEAF_IN_PLACE),
    bad("GL307", "module_parameter_clamped_in_method", """
        import torch
        from torch import nn
        class Gate(nn.Module):
            def __init__(self):
                super().__init__()
                self.alpha = nn.Parameter(torch.full((1,), 0.5))
            def forward(self, x):
                return x * self.alpha
            def project(self):
                self.alpha.clamp_(0.0, 1.0)
        Gate().project()
        """, LEAF_IN_PLACE),
    bad("GL306", "attribute_weight_to_numpy", """
        import torch
        class Model:
            def __init__(self):
                self.W = torch.randn(3, 2, requires_grad=True)
            def export(self):
                return self.W.numpy()
        Model().export()
        """, NUMPY_OF_GRAD),
    ok("GL307", "attributes_updated_under_no_grad", """
        import torch
        class SoftmaxRegression:
            def __init__(self, d, k):
                self.W = torch.randn(d, k, requires_grad=True)
            def step(self, x, y, lr=0.1):
                torch.nn.functional.cross_entropy(x @ self.W, y).backward()
                with torch.no_grad():
                    self.W -= lr * self.W.grad
                    self.W.grad = None
        """),
    ok("GL307", "attribute_assigned_twice", """
        import torch
        class Fit:
            def __init__(self, d):
                self.W = torch.randn(d, requires_grad=True)
            def reset(self):
                self.W = torch.zeros(3)
            def step(self):
                self.W -= 0.1
        """),
    ok("GL307", "method_called_under_no_grad", """
        import torch
        from torch import nn
        class Gate(nn.Module):
            def __init__(self):
                super().__init__()
                self.alpha = nn.Parameter(torch.full((1,), 0.5))
            def project(self):
                self.alpha.clamp_(0.0, 1.0)
        gate = Gate()
        with torch.no_grad():
            gate.project()
        """),
    ok("GL307", "attribute_of_subclassed_class", """
        import torch
        class Base:
            def __init__(self):
                self.W = torch.randn(3, requires_grad=True)
            def step(self):
                self.W -= 0.1
        class Child(Base):
            def __init__(self):
                self.W = torch.zeros(3)
        """),
    bad("GL301", "notebook_total_of_items", """
        import torch
        import torch.nn.functional as F
        model = torch.nn.Linear(3, 1)
        loss = torch.zeros(1, device="cpu")
        for x, y in [(torch.randn(2, 3), torch.randn(2, 1))]:
            loss += F.mse_loss(model(x), y).item()
        loss.backward()
        """, NOT_GRAD),
    bad("GL302", "enumerate_detach_cpu", """
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        criterion = nn.SmoothL1Loss()
        loader = [(torch.randn(2, 3), torch.randn(2, 1))]
        for batch_idx, (data, target) in enumerate(loader):
            output = model(data)
            loss = criterion(output.detach().cpu(), target.cpu())
            loss.backward()
        """, NOT_GRAD),
    bad("GL303", "submodule_of_instance", """
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.Embedding(10, 4)
                self.out = nn.Linear(4, 1)
            def forward(self, t):
                return self.out(self.embedding(t))
        model = Net()
        tokens = torch.tensor([1, 2, 3])
        emb = model.embedding(tokens)
        model.out(emb).sum().backward()
        print(emb.grad)
        """, NON_LEAF_GRAD),
    bad("GL305", "squared_error_unreduced", """
        import torch
        net = torch.nn.Linear(3, 2)
        x, target = torch.randn(4, 3), torch.randn(4, 2)
        pred = net(x)
        loss = (pred - target) ** 2
        loss.backward()
        """, NOT_SCALAR),
    bad("GL306", "notebook_plot_values", """
        import torch
        model = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        xs = torch.linspace(-1, 1, 50).unsqueeze(1)
        print(xs.numpy(), model(xs).cpu().numpy())
        """, NUMPY_OF_GRAD),
    bad("GL311", "trainer_loader_attribute", """
        import torch
        class Trainer:
            def __init__(self, model, train_loader):
                self.model = model
                self.train_loader = train_loader
                self.opt = torch.optim.Adam(model.parameters())
            def train(self):
                for x, y in self.train_loader:
                    self.opt.zero_grad()
                    loss = torch.nn.functional.mse_loss(self.model(x), y)
                    loss.backward(retain_graph=True)
                    self.opt.step()
        Trainer(torch.nn.Linear(3, 1), [(torch.randn(2, 3), torch.randn(2, 1))]).train()
        """, ("stdout", "kept"), probe="t = Trainer(torch.nn.Linear(3, 1), [(torch.randn(2, 3), torch.randn(2, 1))])\nt.train()\nfor x, y in t.train_loader:\n    loss = torch.nn.functional.mse_loss(t.model(x), y)\n    loss.backward(retain_graph=True)\nloss.backward()\nprint('kept')"),
    bad("GL313", "tolist_round_trip", """
        import numpy as np
        import torch
        from torch import nn
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 3)
            def forward(self, x):
                out = self.fc(x)
                out = torch.tensor(np.array(out.tolist()) ** 2)
                return out
        Model()(torch.randn(2, 3)).sum().backward()
        """, NOT_GRAD),
    ok("GL313", "tolist_for_indices", """
        import numpy as np
        import torch
        class Pick(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(4, 4)
            def forward(self, x):
                h = self.fc(x)
                order = np.argsort(h[0].tolist())
                return h[:, torch.as_tensor(order)]
        """),
]

# Real bugs (checked in torch below) that the linter leaves silent on purpose: it cannot be sure.
UNREACHED = [
    Case("GL310", "trainer_history_attribute", """
        import torch
        class Trainer:
            def __init__(self):
                self.model = torch.nn.Linear(3, 1)
                self.history = []
            def fit(self, batches):
                for x in batches:
                    loss = self.model(x).pow(2).mean()
                    loss.backward()
                    self.history.append(loss)
        trainer = Trainer()
        trainer.fit([torch.randn(2, 3)] * 2)
        """, ("stdout", "True"), probe="print(trainer.history[0].grad_fn is not None)",
         reason="an attribute accumulator ('self.history.append(loss)') outlives the method: another method may "
                "backward, detach or clear it, and the rule follows totals held by the names of one function"),
    Case("GL311", "retain_graph_in_helper", """
        import torch
        def backward_step(loss):
            loss.backward(retain_graph=True)
        model = torch.nn.Linear(3, 1)
        for x in [torch.randn(2, 3)] * 2:
            loss = model(x).sum()
            backward_step(loss)
        """, ("stdout", "kept"), probe="loss.backward()\nprint('kept')",
         reason="the backward is not inside a loop of its own function; that every caller loops and that no "
                "other backward reuses the graph is a whole-program question"),
    Case("GL304", "second_backward_in_helper", """
        import torch
        def step(loss):
            loss.backward()
        model = torch.nn.Linear(3, 1)
        loss = model(torch.randn(2, 3)).pow(2).sum()
        step(loss)
        step(loss)
        """, SECOND_BACKWARD,
         reason="both backwards run inside a helper: the rule follows backward calls of one straight-line block, "
                "not what the functions it calls do with their arguments"),
    Case("GL307", "sgd_over_list_argument", """
        import torch
        def sgd(params, lr):
            for p in params:
                p -= lr * p.grad
        w = torch.zeros(3, requires_grad=True)
        (w * 2).sum().backward()
        sgd([w], 0.1)
        """, LEAF_IN_PLACE,
         reason="the parameters arrive in a list: the analysis keeps facts of names, not of the items of a "
                "container passed in"),
    Case("GL313", "sequential_attribute_chain", """
        import numpy as np
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Sequential(nn.Linear(3, 3))
            def forward(self, x):
                h = self.enc[0](x)
                return torch.from_numpy(np.tanh(h.detach().numpy()))
        Net()(torch.randn(2, 3)).sum().backward()
        """, NOT_GRAD,
         reason="an item of a container ('self.enc[0](x)'): the analysis does not know which layer it is, nor that "
                "it has parameters (an Identity or activation there would carry no trainable state)"),
]


def _by_file(cases):
    return {case.file_name: case for case in cases}


def _findings(tmp_path, cases):
    folder = tmp_path / "cases"
    folder.mkdir()
    for case in cases:
        (folder / case.file_name).write_text(case.source, encoding="utf-8")
    completed = run_autogradlint("check", "--select", "ALL", "--no-cache", "--output-format", "json", str(folder),
                                 cwd=str(tmp_path))
    assert completed.returncode in (0, 1), completed.stderr
    found = {}
    for finding in json.loads(completed.stdout):
        found.setdefault(Path(finding["path"]).name, set()).add(finding["code"])
    return found


def test_case_names_are_unique():
    assert len(_by_file(CASES + UNREACHED)) == len(CASES + UNREACHED)


def test_gl3_cases_through_the_cli(tmp_path):
    found = _findings(tmp_path, CASES)
    missed = [c.file_name for c in CASES if c.bad and c.code not in found.get(c.file_name, set())]
    false_alarms = [c.file_name for c in CASES if not c.bad and c.code in found.get(c.file_name, set())]
    assert not missed, missed
    assert not false_alarms, false_alarms


def _check_outcome(result, shows):
    kind = shows[0]
    if kind == "raises":
        return result["raised"] == shows[1] and shows[2] in (result["message"] or "")
    if kind == "warns":
        return result["raised"] is None and any(shows[1] in w for w in result["warnings"])
    if kind == "stdout":
        return result["raised"] is None and result["stdout"].strip().splitlines()[-1:] == [shows[1]]
    if kind == "clean":
        return result["raised"] is None
    raise AssertionError(kind)


def run_in_torch(cases):
    items = [{"id": c.file_name, "source": c.source + ("\n" + c.probe if c.probe else "")} for c in cases]
    completed = subprocess.run([sys.executable, str(RUNNER)], input=json.dumps(items), capture_output=True,
                               text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return {item["id"]: item for item in json.loads(completed.stdout)}


@pytest.mark.torch
def test_bad_cases_fail_in_torch():
    bad_cases = [c for c in CASES + UNREACHED if c.bad]
    results = run_in_torch(bad_cases)
    wrong = [(c.file_name, results[c.file_name]) for c in bad_cases if not _check_outcome(results[c.file_name], c.shows)]
    assert not wrong, wrong
