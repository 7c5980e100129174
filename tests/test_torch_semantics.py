"""torch's semantics as data (autogradlint/analysis/torch_semantics.json): the checked-in table is what
scripts/gen_torch_semantics.py makes of the installed torch, its entries agree with what torch does, and
the rules act on it through the CLI."""
import importlib.util
import json
import textwrap

import pytest

from autogradlint.analysis import torch_semantics

from conftest import ROOT

GENERATOR = ROOT / "scripts" / "gen_torch_semantics.py"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_torch_semantics", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry(section, name, arity=None):
    found = torch_semantics.table()[section][name]
    return found if isinstance(found, str) else found[str(arity)]


# ------------------------------------------------------------------------------ the table itself


def test_table_is_compact_json_shipped_with_the_package():
    text = torch_semantics.TABLE_FILE.read_text(encoding="utf-8")
    table = json.loads(text)
    assert table["torch_version"] == "2.13.0"
    assert len(text) < 64_000
    for section in ("torch", "Tensor", "torch.nn.functional", "numpy"):
        assert len(table[section]) > 50, section
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "analysis/*.json" in pyproject or "torch_semantics.json" in pyproject


@pytest.mark.torch
def test_regenerated_table_equals_the_checked_in_one():
    generator = _generator()
    assert generator.dumps(generator.build_table()) == torch_semantics.TABLE_FILE.read_text(encoding="utf-8"), (
        "torch_semantics.json is stale: run scripts/gen_torch_semantics.py")


@pytest.mark.torch
def test_entries_agree_with_torch():
    import torch
    import torch.nn.functional as F

    x = torch.randn(3, 4, requires_grad=True)
    # argmax of a tensor that requires grad does not require grad: an index
    assert not torch.argmax(x).requires_grad and not x.argmax(1).requires_grad
    assert "n" in _entry("torch", "argmax") and "I" in _entry("torch", "argmax")
    assert "n" in _entry("Tensor", "argsort") and "I" in _entry("Tensor", "argsort")
    # comparisons give bool masks that need no grad
    assert not (x > 0).requires_grad and "B" in _entry("torch", "gt") and "n" in _entry("torch", "gt")
    # sigmoid passes gradients and keeps the shape
    assert torch.sigmoid(x).requires_grad and torch.sigmoid(x).shape == x.shape
    assert "g" in _entry("torch", "sigmoid") and "s" in _entry("torch", "sigmoid")
    # a torch function of tensors that need no grad needs none
    with torch.no_grad():
        logits = x * 2
    loss = F.cross_entropy(logits, torch.tensor([0, 1, 2]))
    assert not loss.requires_grad and loss.dim() == 0
    assert "g" in _entry("torch.nn.functional", "cross_entropy") and "r" in _entry("torch.nn.functional", "cross_entropy")
    # sum() with no dim is 0-dim; with a dim it is not
    assert x.sum().dim() == 0 and x.sum(1).dim() == 1
    assert "r" in _entry("Tensor", "sum", 0) and "r" not in _entry("Tensor", "sum", 1)
    # add_ is in place: on a leaf that requires grad it raises
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    assert _entry("Tensor", "add_") == "i" and torch_semantics.is_in_place_method("add_")
    assert not torch_semantics.is_in_place_method("add")
    # .item() is a Python number; .detach() needs no grad
    assert isinstance(x.sum().item(), float) and "N" in _entry("Tensor", "item")
    assert not x.detach().requires_grad and "n" in _entry("Tensor", "detach")
    # topk gives (values, indices): a tuple with indices
    values, indices = torch.topk(x, 2)
    assert values.requires_grad and indices.dtype == torch.int64 and "T" in _entry("torch", "topk")


@pytest.mark.torch
def test_numpy_index_functions_agree_with_numpy():
    import numpy as np

    a = np.random.default_rng(0).random((3, 4))
    assert np.argsort(a).dtype.kind == "i" and _entry("numpy", "argsort") == "I"
    assert np.tanh(a).dtype.kind == "f" and _entry("numpy", "tanh") == "f"


def test_calls_are_answered_for_the_arity_they_use():
    import libcst as cst

    def call(text):
        return cst.parse_expression(text)

    assert "r" in torch_semantics.method_flags("sum", call("x.sum()"))
    assert "r" not in torch_semantics.method_flags("sum", call("x.sum(1)"))
    assert "r" not in torch_semantics.method_flags("sum", call("x.sum(dim=1)"))
    assert "r" in torch_semantics.function_flags("torch.argmax", call("torch.argmax(x)"))
    assert "r" not in torch_semantics.function_flags("torch.argmax", call("torch.argmax(x, 1)"))
    # torch.where(c) gives indices, torch.where(c, a, b) values: an arity torch was not probed with is unknown
    assert torch_semantics.function_flags("torch.where", call("torch.where(c, a, b)")) is None
    assert torch_semantics.function_flags("numpy.where", call("np.where(c, a, b)")) is None
    assert torch_semantics.function_flags("torch.no_such_function", call("torch.no_such_function(x)")) is None
    # a factory given requires_grad=True makes a tensor that requires grad: "never needs grad" does not hold
    assert "n" in torch_semantics.function_flags("torch.scalar_tensor", call("torch.scalar_tensor(1.0)"))
    assert "n" not in torch_semantics.function_flags("torch.scalar_tensor", call("torch.scalar_tensor(1.0, requires_grad=True)"))
    assert "n" not in torch_semantics.method_flags("new_zeros", call("x.new_zeros(3, requires_grad=flag)"))


# ------------------------------------------------------------------------------ through the CLI


def _write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_functional_loss_of_no_grad_logits_is_flagged(cli, tmp_path):
    path = _write(tmp_path, "train.py", """\
        import torch
        import torch.nn.functional as F

        clf = torch.nn.Linear(4, 3)
        x = torch.randn(2, 4)
        y = torch.tensor([0, 1])
        with torch.no_grad():
            logits = clf(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        """)
    result = cli("check", "--no-cache", "--select", "ALL", "--output-format", "concise", str(path))
    assert result.code == 1
    assert f"{path}:10:1: GL204" in result.out


def test_functional_loss_of_logits_with_grad_is_clean(cli, tmp_path):
    path = _write(tmp_path, "train.py", """\
        import torch
        import torch.nn.functional as F

        clf = torch.nn.Linear(4, 3)
        x = torch.randn(2, 4)
        y = torch.tensor([0, 1])
        with torch.no_grad():
            feats = clf(x)
        logits = clf(x)
        loss = F.cross_entropy(logits, y) + F.mse_loss(torch.sigmoid(feats), torch.zeros(2, 3))
        loss.backward()
        """)
    result = cli("check", "--no-cache", "--select", "ALL", "--output-format", "concise", str(path))
    assert "GL204" not in result.out and "GL301" not in result.out, result.out


def test_backward_of_an_index_computation_is_flagged(cli, tmp_path):
    # argmax of a grad tensor needs no grad (RuntimeError in torch): the table says so
    path = _write(tmp_path, "probe.py", """\
        import torch

        w = torch.randn(4, requires_grad=True)
        score = (w * 2).argmax().float()
        score.backward()
        """)
    result = cli("check", "--no-cache", "--select", "GL301", "--output-format", "concise", str(path))
    assert result.code == 1 and f"{path}:5:1: GL301" in result.out, result.out


def test_in_place_methods_come_from_torch(cli, tmp_path):
    # copy_ and uniform_ are torch's in-place methods; a project method ending in '_' is not known to be
    path = _write(tmp_path, "sgd.py", """\
        import torch

        w = torch.randn(3, requires_grad=True)
        w.uniform_(-1, 1)
        v = torch.randn(3, requires_grad=True)
        v.my_update_(1)
        """)
    result = cli("check", "--no-cache", "--select", "GL307", "--output-format", "concise", str(path))
    assert f"{path}:4:1: GL307" in result.out and ":6:" not in result.out, result.out


def test_comparisons_and_no_grad_features_through_torch_functions(cli, tmp_path):
    path = _write(tmp_path, "train.py", """\
        import torch
        import torch.nn.functional as F

        net = torch.nn.Linear(4, 3)
        x = torch.randn(2, 4)
        out = net(x)
        hits = (out > 0).float().mean()
        hits.backward()
        with torch.no_grad():
            feats = net(x)
        distill = F.mse_loss(torch.tanh(feats), torch.zeros(2, 3))
        distill.backward()
        with torch.no_grad():
            logits = net(x)
        loss = logits.log_softmax(-1).mean()
        loss.backward()
        """)
    result = cli("check", "--no-cache", "--select", "ALL", "--output-format", "concise", str(path))
    found = [line.split(" ")[0:2] for line in result.out.splitlines() if line.startswith(str(path))]
    assert found == [[f"{path}:8:1:", "GL301"], [f"{path}:12:1:", "GL204"], [f"{path}:16:1:", "GL204"]], result.out


def test_masks_and_metrics_stay_silent(cli, tmp_path):
    path = _write(tmp_path, "train.py", """\
        import torch
        import torch.nn.functional as F

        net = torch.nn.Linear(4, 3)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        correct = 0
        for x, y in loader:
            opt.zero_grad()
            out = net(x)
            mask = out > 0
            loss = (out * mask).sum() + F.cross_entropy(out, y)
            loss.backward()
            opt.step()
            correct += (out.argmax(1) == y).sum().item()
        with torch.no_grad():
            feats = net(x)
        student = net(x)
        kd = F.mse_loss(student, feats)
        kd.backward()
        """)
    result = cli("check", "--no-cache", "--select", "ALL", "--output-format", "concise", str(path))
    assert result.code == 0, result.out
