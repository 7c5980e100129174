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
    assert len(text) < 96_000
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


def test_values_only_leaves_out_the_autograd_state_ops():
    # the one in-place fact: requires_grad_/detach_ are in place, but change autograd state, not values
    for name in ("requires_grad_", "detach_"):
        assert torch_semantics.is_in_place_method(name) and not torch_semantics.is_in_place_method(name, values_only=True)
    assert torch_semantics.is_in_place_function("torch.detach_")
    assert not torch_semantics.is_in_place_function("torch.detach_", values_only=True)
    assert torch_semantics.is_in_place_method("add_", values_only=True)
    assert torch_semantics.is_in_place_function("torch.nn.functional.relu_", values_only=True)
    assert not torch_semantics.is_in_place_method("retain_grad") and not torch_semantics.is_in_place_method("share_memory_")


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
    # torch.where(c) gives indices, torch.where(c, a, b) values (probed with a bool condition); an arity
    # torch was not probed with is unknown
    assert "I" in torch_semantics.function_flags("torch.where", call("torch.where(c)"))
    assert torch_semantics.function_flags("torch.where", call("torch.where(c, a, b)")) == "go"
    assert torch_semantics.function_flags("torch.where", call("torch.where(c, a)")) is None
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


# ------------------------------------------------------------------------------ per-argument differentiability


def _marks(section, name):
    """{parameter: mark} of one entry of the table's per-argument section."""
    text = torch_semantics.table()["arguments"][section][name]
    out = {}
    for token in text.split():
        if token == "*":
            continue
        mark = token[-1] if token[-1] in "+-?" else ""
        for one in (token[:-1] if mark else token).split("/"):
            out[one] = mark
    return out


def test_argument_marks_of_the_table():
    assert _marks("torch", "gather") == {"input": "+", "dim": "-", "index": "-", "sparse_grad": "-"}
    assert _marks("torch", "where") == {"condition": "-", "input": "+", "other": "+"}
    assert _marks("Tensor", "masked_fill") == {"mask": "-", "value": "+"}
    assert _marks("torch", "index_select")["index"] == "-"
    assert _marks("Tensor", "scatter")["index"] == "-" and _marks("Tensor", "scatter")["src"] == "+"
    ce = _marks("torch.nn.functional", "cross_entropy")
    assert ce["input"] == "+" and ce["target"] == "?" and ce["reduction"] == "-"
    assert _marks("torch.nn.functional", "nll_loss")["target"] == "-"
    assert _marks("torch.nn.functional", "mse_loss")["target"] == "+"
    assert _marks("torch.nn.functional", "l1_loss")["target"] == "+"
    assert _marks("torch.nn.functional", "embedding")["input"] == "-"
    assert _marks("torch.nn.functional", "embedding")["weight"] == "+"
    assert _marks("torch.nn.functional", "one_hot")["input"] == "-"


def test_argument_marks_of_a_call():
    import libcst as cst

    def call(text):
        return cst.parse_expression(text)

    marks = torch_semantics.function_argument_marks
    assert marks("torch.gather", call("torch.gather(x, 1, idx)")) == ["+", "-", "-"]
    assert marks("torch.gather", call("torch.gather(x, index=idx, dim=1)")) == ["+", "-", "-"]
    assert marks("torch.nn.functional.cross_entropy", call("F.cross_entropy(a, b, reduction='sum')")) == ["+", "?", "-"]
    assert marks("torch.nn.functional.cross_entropy", call("F.cross_entropy(*args)")) is None
    assert marks("torch.no_such_function", call("torch.no_such_function(x)")) is None
    assert torch_semantics.method_argument_marks("masked_fill", call("x.masked_fill(m, 0.0)")) == ["-", "+"]
    # beyond the signature: not known
    assert marks("torch.gather", call("torch.gather(x, 1, idx, True, extra)"))[-1] == ""
    assert torch_semantics.is_functional_loss("torch.nn.functional.cross_entropy")
    assert torch_semantics.is_functional_loss("torch.nn.functional.ctc_loss")
    assert not torch_semantics.is_functional_loss("torch.nn.functional.relu")
    assert not torch_semantics.is_functional_loss("mylib.cross_entropy")


@pytest.mark.torch
def test_argument_marks_agree_with_torch():
    import torch
    import torch.nn.functional as F

    x = torch.randn(3, 4)  # needs no grad
    w = torch.randn(3, 4, requires_grad=True)
    classes = torch.tensor([0, 1, 2])
    # an index, a mask or a class-index target takes no gradient: the result of a no-grad input needs none
    assert not torch.gather(x, 1, torch.zeros(3, 1, dtype=torch.long)).requires_grad
    assert not torch.where(torch.rand(3, 4) > 0.5, x, x).requires_grad
    assert not x.masked_fill(torch.rand(3, 4) > 0.5, 0.0).requires_grad
    assert not F.cross_entropy(x, classes).requires_grad and not F.nll_loss(x, classes).requires_grad
    assert F.one_hot(classes, 3).dtype == torch.int64
    # ... and an index tensor cannot require grad at all
    with pytest.raises(RuntimeError, match="floating point"):
        classes.clone().requires_grad_(True)
    # the value of masked_fill, an elementwise target and a probabilities target do take gradients
    assert x.masked_fill(torch.rand(3, 4) > 0.5, torch.tensor(1.0, requires_grad=True)).requires_grad
    assert F.mse_loss(x, w).requires_grad and F.l1_loss(x, w).requires_grad
    assert F.cross_entropy(x, w.softmax(-1)).requires_grad  # why the target is "?", not "-"
    # nll_loss's target and cross_entropy's weight cannot take one: torch says so
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
        F.cross_entropy(x, classes, weight=torch.rand(4, requires_grad=True))
    assert F.embedding(classes, w).requires_grad


@pytest.mark.torch
def test_functional_losses_are_the_functions_with_a_reduction():
    import inspect

    import torch.nn.functional as F

    with_reduction = {name for name in dir(F) if not name.startswith("_") and inspect.isfunction(getattr(F, name))
                      and "reduction" in inspect.signature(getattr(F, name)).parameters}
    assert {"cross_entropy", "mse_loss", "nll_loss", "ctc_loss", "kl_div"} <= with_reduction
    for name in with_reduction:
        assert torch_semantics.is_functional_loss("torch.nn.functional." + name), name


# through the CLI: a loss whose only unknown input is an argument that takes no gradient

_NO_GRAD_LOGITS = """\
    import torch
    import torch.nn.functional as F

    clf = torch.nn.Linear(4, 3)


    def step(x, batch):
        with torch.no_grad():
            logits = clf(x)
        y = batch[1]
        {line}
        loss.backward()
    """


def _check(cli, tmp_path, source, name="train.py", select="ALL"):
    path = _write(tmp_path, name, source)
    result = cli("check", "--no-cache", "--select", select, "--output-format", "concise", str(path))
    return path, result


@pytest.mark.parametrize("line", [
    "loss = F.cross_entropy(logits, y)",
    "loss = F.cross_entropy(logits, y, reduction='sum', label_smoothing=0.1)",
    "loss = F.cross_entropy(logits, target=y)",
    "loss = F.nll_loss(F.log_softmax(logits, -1), y)",
    "loss = torch.gather(logits, 1, y).sum()",
    "loss = logits.masked_fill(y, 0.0).mean()",
    "loss = torch.where(y > 0, logits, 0.0).sum()",
    "loss = logits.index_select(0, y).sum()",
    "loss = logits.scatter(1, y, 0.0).sum()",
])
def test_unknown_index_or_target_is_not_a_grad_path(cli, tmp_path, line):
    path, result = _check(cli, tmp_path, _NO_GRAD_LOGITS.format(line=line))
    assert result.code == 1, result.out
    assert f"{path}:12:5: GL204" in result.out, result.out


@pytest.mark.parametrize("line", [
    # the target of mse_loss / l1_loss takes gradients: y may carry them
    "loss = F.mse_loss(logits, y)",
    "loss = F.l1_loss(logits, y)",
    # the values scattered / filled in take gradients
    "loss = logits.masked_fill(logits > 0, y).mean()",
    "loss = torch.where(logits > 0, logits, y).sum()",
    # a starred call: not mapped to parameters, so silent
    "loss = F.cross_entropy(*[logits, y])",
])
def test_unknown_differentiable_argument_stays_silent(cli, tmp_path, line):
    path, result = _check(cli, tmp_path, _NO_GRAD_LOGITS.format(line=line))
    assert "GL204" not in result.out and "GL301" not in result.out, result.out


def test_probabilities_target_that_requires_grad_stays_silent(cli, tmp_path):
    # cross_entropy's target takes gradients in its probabilities form: backward works
    path, result = _check(cli, tmp_path, """\
        import torch
        import torch.nn.functional as F

        teacher = torch.nn.Linear(4, 3)
        student = torch.nn.Linear(4, 3)
        x = torch.randn(2, 4)
        with torch.no_grad():
            logits = teacher(x)
        loss = F.cross_entropy(logits, student(x).softmax(-1))
        loss.backward()
        """)
    assert result.code == 0, result.out


@pytest.mark.parametrize("source", [
    # a home-made loss
    """\
    import torch

    def cross_entropy(a, b):
        return (a - b).pow(2).mean()

    def step(clf, x, batch):
        with torch.no_grad():
            logits = clf(x)
        loss = cross_entropy(logits, batch[1])
        loss.backward()
    """,
    # a project function named like torch's
    """\
    import torch
    from losses import cross_entropy

    def step(clf, x, batch):
        with torch.no_grad():
            logits = clf(x)
        loss = cross_entropy(logits, batch[1])
        loss.backward()
    """,
    # F is not torch.nn.functional
    """\
    import torch
    import mylosses as F

    def step(clf, x, batch):
        with torch.no_grad():
            logits = clf(x)
        loss = F.cross_entropy(logits, batch[1])
        loss.backward()
    """,
    # F shadowed by a parameter
    """\
    import torch
    import torch.nn.functional as F

    def step(clf, x, batch, F):
        with torch.no_grad():
            logits = clf(x)
        loss = F.cross_entropy(logits, batch[1])
        loss.backward()
    """,
    # a loss module instance of the project
    """\
    import torch

    class SoftCE:
        def __call__(self, logits, target):
            return -(target * logits.log_softmax(-1)).sum()

    def step(clf, x, batch):
        crit = SoftCE()
        with torch.no_grad():
            logits = clf(x)
        loss = crit(logits, batch[1])
        loss.backward()
    """,
])
def test_look_alike_losses_stay_silent(cli, tmp_path, source):
    path, result = _check(cli, tmp_path, source)
    assert result.code == 0, result.out


def test_constant_input_and_index_target_is_a_backward_on_constant(cli, tmp_path):
    # grad_state's facts: a loss of a constant and an integer target needs no grad (GL301); a detached
    # input gathered by an unknown index has only a detached grad path (GL302)
    path, result = _check(cli, tmp_path, """\
        import torch
        import torch.nn.functional as F

        net = torch.nn.Linear(4, 3)


        def step(x, y, idx):
            base = torch.zeros(2, 3)
            loss = F.nll_loss(base, y)
            loss.backward()
            out = net(x).detach()
            picked = torch.gather(out, 1, idx).sum()
            picked.backward()
        """)
    assert f"{path}:10:5: GL301" in result.out, result.out
    assert f"{path}:13:5: GL302" in result.out, result.out


# ------------------------------------------------------------------------------ torch.nn layers


def test_layer_facts_of_the_table():
    assert torch_semantics.layer_parameters("torch.nn.Linear") is True
    assert torch_semantics.layer_parameters("torch.nn.ReLU") is False
    assert torch_semantics.layer_parameters("torch.nn.CrossEntropyLoss") is False
    # not every *Loss is parameter-free (the hand-written rule "ends with Loss" said so)
    assert torch_semantics.layer_parameters("torch.nn.AdaptiveLogSoftmaxWithLoss") is True
    # a flag switches them: not known by the class alone
    assert torch_semantics.layer_parameters("torch.nn.BatchNorm2d") is None
    assert torch_semantics.layer_parameter_switch("torch.nn.BatchNorm2d") == ("affine", 3, True)
    assert torch_semantics.layer_parameter_switch("torch.nn.InstanceNorm2d") == ("affine", 3, False)
    assert torch_semantics.layer_parameter_switch("torch.nn.LayerNorm") == ("elementwise_affine", 2, True)
    # the lazy norms take no num_features: affine is their third argument (the hand-written table said
    # fourth), and LazyInstanceNorm's default is affine=True (it said False)
    assert torch_semantics.layer_parameter_switch("torch.nn.LazyBatchNorm1d") == ("affine", 2, True)
    assert torch_semantics.layer_parameter_switch("torch.nn.LazyInstanceNorm2d") == ("affine", 2, True)
    # containers hold what they are given
    for name in ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "DataParallel"):
        assert torch_semantics.layer_parameters("torch.nn." + name) is None, name
    assert torch_semantics.layer_returns_tuple("torch.nn.LSTM")
    assert torch_semantics.layer_returns_tuple("torch.nn.AdaptiveLogSoftmaxWithLoss")
    assert not torch_semantics.layer_returns_tuple("torch.nn.Linear")
    assert torch_semantics.layer_keeps_numel("torch.nn.GELU") and torch_semantics.layer_keeps_numel("torch.nn.Dropout")
    assert not torch_semantics.layer_keeps_numel("torch.nn.Linear")
    assert not torch_semantics.layer_keeps_numel("torch.nn.AdaptiveAvgPool1d")
    assert torch_semantics.layer_parameters("mylib.nn.Linear") is None


def test_layers_that_change_with_mode():
    import libcst as cst

    def changes(text):
        call = cst.parse_expression(text)
        return torch_semantics.layer_changes_with_mode("torch.nn." + call.func.attr.value, call)

    assert changes("nn.Dropout(0.5)") and changes("nn.Dropout()") and changes("nn.BatchNorm2d(8)")
    assert not changes("nn.Dropout(0.0)") and not changes("nn.Dropout(p=0)")
    assert not changes("nn.BatchNorm2d(8, track_running_stats=False)")
    assert changes("nn.TransformerEncoderLayer(16, 4)") and not changes("nn.TransformerEncoderLayer(16, 4, dropout=0.0)")
    assert changes("nn.RReLU()")
    assert not changes("nn.InstanceNorm2d(8)") and not changes("nn.Linear(2, 2)") and not changes("nn.ReLU()")
    assert torch_semantics.functional_follows_mode("torch.nn.functional.dropout")
    assert torch_semantics.functional_follows_mode("torch.nn.functional.batch_norm")
    assert not torch_semantics.functional_follows_mode("torch.nn.functional.relu")


@pytest.mark.torch
def test_layer_facts_agree_with_torch():
    import torch
    from torch import nn

    def holds(module):
        return any(True for _ in module.parameters())

    assert holds(nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4])) and not holds(nn.CrossEntropyLoss())
    assert not holds(nn.LazyBatchNorm1d(1e-5, 0.1, False)) and holds(nn.LazyBatchNorm1d())
    assert holds(nn.LazyInstanceNorm2d()) and not holds(nn.InstanceNorm2d(4))
    x = torch.randn(4, 8)
    bn = nn.BatchNorm1d(8, track_running_stats=False)
    assert torch.allclose(bn.train()(x), bn.eval()(x))
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    torch.manual_seed(0)
    trained = layer.train()(x.unsqueeze(0))
    assert not torch.allclose(trained, layer.eval()(x.unsqueeze(0)))
    rrelu = nn.RReLU()
    assert not torch.allclose(rrelu.train()(x), rrelu.eval()(x))


def test_mode_layers_from_the_table_through_the_cli(cli, tmp_path):
    # GL404 (inference without eval) knows the layers torch says change with the mode: a transformer
    # layer's dropout; a batch norm without running statistics or a zero dropout does not change
    path, result = _check(cli, tmp_path, """\
        import torch
        from torch import nn

        encoder = nn.TransformerEncoderLayer(16, 4)
        plain = nn.Sequential(nn.Linear(16, 16), nn.BatchNorm1d(16, track_running_stats=False), nn.Dropout(0.0))
        quiet = nn.TransformerEncoderLayer(16, 4, dropout=0.0)


        def evaluate(x):
            with torch.no_grad():
                a = encoder(x)
                b = plain(x)
                c = quiet(x)
            return a, b, c
        """, select="GL404")
    found = [line.split(" ")[:2] for line in result.out.splitlines() if line.startswith(str(path))]
    assert found == [[f"{path}:11:13:", "GL404"]], result.out


@pytest.mark.torch
def test_lazy_norm_without_affine_holds_no_parameters(cli, tmp_path):
    # LazyBatchNorm1d(eps, momentum, affine): affine=False leaves it without parameters, so its output
    # needs no grad and .numpy() works (the hand-written table read the 4th argument and said it had them)
    import torch

    bn = torch.nn.LazyBatchNorm1d(1e-5, 0.1, False)
    bn(torch.randn(4, 3)).numpy()
    path, result = _check(cli, tmp_path, """\
        import torch

        bn = torch.nn.LazyBatchNorm1d(1e-5, 0.1, False)
        out = bn(torch.randn(4, 3)).numpy()
        lin = torch.nn.Linear(3, 3)
        bad = lin(torch.randn(4, 3)).numpy()
        """, select="GL306")
    found = [line.split(" ")[:2] for line in result.out.splitlines() if line.startswith(str(path))]
    assert found == [[f"{path}:6:7:", "GL306"]], result.out


@pytest.mark.torch
def test_hand_written_fallback_only_covers_what_the_table_does_not():
    # grad_state's fallback list answers for calls torch's table leaves unknown; a name the table decides
    # in every namespace that has it does not belong there
    import torch
    import torch.nn.functional as F

    from autogradlint.analysis import grad_state

    namespaces = (("Tensor", torch.Tensor), ("torch", torch), ("torch.nn.functional", F),
                  ("torch.linalg", torch.linalg), ("torch.special", torch.special))
    for name in grad_state._DIFFERENTIABLE:
        undecided = []
        for section, namespace in namespaces:
            if not callable(getattr(namespace, name, None)):
                continue
            found = torch_semantics.table().get(section, {}).get(name)
            if not (isinstance(found, str) and any(flag in found for flag in "gnN")):
                undecided.append(section)
        assert undecided, f"{name}: torch's table decides it everywhere; drop it from the fallback"


def test_grad_mode_fallbacks_only_cover_what_the_table_does_not():
    from autogradlint.analysis import grad_mode

    for method in grad_mode._GRAD_PRESERVING_METHODS:
        found = torch_semantics.table()["Tensor"].get(method)
        # a string entry with "u" already says: needs grad exactly when the receiver does
        assert not (isinstance(found, str) and "u" in found), method
    for function in grad_mode._GRAD_COMBINING_FUNCTIONS:
        found = torch_semantics.table()["torch"].get(function.split(".", 1)[1])
        assert not (isinstance(found, str) and "g" in found), function


@pytest.mark.torch
def test_hand_written_factory_lists_agree_with_torch():
    # tensors.py's factory lists stay hand-written (they also say which argument is the shape, the data or
    # the fill value, which torch's table does not); what they claim of each factory's dtype is torch's
    import torch

    from autogradlint.analysis import tensors

    def call(name, *args):
        return getattr(torch, name.split(".", 1)[1])(*args)

    shaped = {"torch.linspace": (0.0, 1.0, 3), "torch.logspace": (0.0, 1.0, 3), "torch.normal": (0.0, 1.0, (2,)),
              "torch.empty_strided": ((2,), (1,)), "torch.eye": (2,)}
    for name in tensors.FLOAT_FACTORIES:
        assert call(name, *shaped.get(name, (2, 3))).dtype == torch.get_default_dtype(), name
    source = torch.zeros(2, dtype=torch.float64)
    for name in tensors.LIKE_FACTORIES:
        args = (source, 1) if name in ("torch.full_like",) else (source, 3) if name == "torch.randint_like" else (source,)
        assert call(name, *args).dtype == torch.float64, name
    assert call("torch.randint", 0, 3, (2,)).dtype == torch.int64 and call("torch.randperm", 3).dtype == torch.int64
    for name in tensors.INT_FACTORIES:
        assert name in ("torch.randint", "torch.randperm"), name
    for data in ([1, 2], [1.0, 2.0]):
        expected = torch.int64 if isinstance(data[0], int) else torch.get_default_dtype()
        assert call("torch.tensor", data).dtype == expected and call("torch.as_tensor", data).dtype == expected
    assert call("torch.full", (2,), 1).dtype == torch.int64 and call("torch.arange", 3).dtype == torch.int64
    for name, dtype in tensors.LEGACY_CONSTRUCTORS.items():
        assert str(call(name, 2).dtype) == "torch." + dtype, name


@pytest.mark.torch
def test_soft_target_forms_agree_with_torch():
    # a target whose integer form is class indices but whose floating form (probabilities, shaped like the
    # logits the function computes) takes gradients is "?", not "-"
    import torch
    import torch.nn.functional as F

    assert _marks("torch.nn.functional", "linear_cross_entropy")["target"] == "?"
    x, w = torch.rand(3, 4), torch.rand(3, 4)
    assert F.linear_cross_entropy(x, w, torch.rand(3, 3, requires_grad=True)).requires_grad
    assert not F.linear_cross_entropy(x, w, torch.tensor([0, 1, 2])).requires_grad


def test_loss_layers_with_weights_of_their_own_keep_grad(cli, tmp_path):
    # LinearCrossEntropyLoss trains its own linear weight: its loss of no-grad features still has a grad
    # path (backward works); CrossEntropyLoss of the same features has none (GL204)
    assert torch_semantics.is_loss_layer("torch.nn.CrossEntropyLoss")
    assert not torch_semantics.is_loss_layer("torch.nn.LinearCrossEntropyLoss")
    assert not torch_semantics.is_loss_layer("torch.nn.AdaptiveLogSoftmaxWithLoss")
    assert not torch_semantics.is_loss_layer("mylib.FocalLoss")
    path, result = _check(cli, tmp_path, """\
        import torch
        from torch import nn

        encoder = nn.Linear(8, 8)
        head = nn.LinearCrossEntropyLoss(8, 4)
        plain = nn.CrossEntropyLoss()


        def step(x, y):
            with torch.no_grad():
                h = encoder(x)
            loss = head(h, y)
            loss.backward()
            other = plain(h, y)
            other.backward()
        """)
    found = [line.split(" ")[:2] for line in result.out.splitlines() if line.startswith(str(path))]
    assert found == [[f"{path}:15:5:", "GL204"]], result.out


@pytest.mark.torch
def test_loss_layer_with_weights_agrees_with_torch():
    import torch
    from torch import nn

    h = torch.randn(4, 8)
    assert nn.LinearCrossEntropyLoss(8, 4)(h, torch.tensor([0, 1, 2, 3])).requires_grad
    assert not nn.CrossEntropyLoss()(h[:, :4], torch.tensor([0, 1, 2, 3])).requires_grad


def test_loss_modules_read_their_targets_from_the_table(cli, tmp_path):
    # nn.CrossEntropyLoss / nn.NLLLoss: the target of an unknown batch takes no gradient (GL204);
    # nn.MSELoss's target does, so an unknown one keeps the loss possibly differentiable (silent)
    path, result = _check(cli, tmp_path, """\
        import torch
        from torch import nn

        encoder = nn.Linear(8, 4)
        ce = nn.CrossEntropyLoss()
        mse = nn.MSELoss()


        def step(x, batch):
            with torch.no_grad():
                h = encoder(x)
            a = ce(h, batch[1])
            a.backward()
            b = nn.NLLLoss()(h.log_softmax(-1), batch[1])
            b.backward()
            c = mse(h, batch[1])
            c.backward()
        """)
    found = [line.split(" ")[:2] for line in result.out.splitlines() if line.startswith(str(path))]
    assert found == [[f"{path}:13:5:", "GL204"], [f"{path}:15:5:", "GL204"]], result.out
    assert torch_semantics.layer_argument_marks(
        "torch.nn.CrossEntropyLoss", __import__("libcst").parse_expression("ce(a, b)")) == ["+", "?"]
