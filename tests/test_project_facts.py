"""Facts that reach across scopes and files, through the real CLI: what a function's parameter holds
(from its call sites), what a plain class's attributes hold, what a loop over ``parameters()`` gives, and
what the project's other files define (``from models import Net``, relative imports, ``src/`` layouts),
with the cache reusing a result only while the summaries of the files it imports are unchanged."""
import json
import textwrap
from pathlib import Path

import pytest


def write(root: Path, files: dict) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def findings(result):
    """(path, line, code) of every finding in concise output."""
    found = []
    for line in result.out.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[3].strip().startswith("GL"):
            found.append((parts[0].replace("\\", "/"), int(parts[1]), parts[3].split()[0]))
    return found


def check(cli, root, *paths, cache=False):
    args = ["check", "--output-format", "concise", *paths]
    if not cache:
        args.insert(1, "--no-cache")
    result = cli(*args, cwd=root)
    assert result.code in (0, 1), result.err
    assert "internal error" not in result.out, result.out
    return findings(result)


# the model class the file sources below share
NET_CLASS = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.features(x))
"""

NET = """
import torch.nn as nn

""" + NET_CLASS + """

def build_model():
    model = Net()
    return model
"""

PREDICT = """
import torch
{imports}


def predict(model, x):
    return torch.softmax(model(x), -1).numpy()


print(predict({model}, torch.randn(2, 4)))
"""


# ------------------------------------------------------------------------------- across scopes

GAN = """
import torch
import torch.nn as nn


def gan_step(G, D, real, opt_g, opt_d):
    z = torch.randn(real.shape[0], 16)
    fake = G(z)
    d_loss = D(real).mean() - D(fake).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = -D(fake).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()


G = nn.Linear(16, 8)
D = nn.Linear(8, 1)
opt_g = torch.optim.Adam(G.parameters())
opt_d = torch.optim.Adam(D.parameters())
for real in [torch.randn(4, 8)]:
    gan_step(G, D, real, opt_g, opt_d)
"""


def test_gan_step_with_modules_as_arguments_reuses_a_freed_graph(cli, tmp_path):
    write(tmp_path, {"gan.py": GAN})
    assert check(cli, tmp_path, "gan.py") == [("gan.py", 14, "GL304")]


def test_gan_step_with_a_detached_fake_is_silent(cli, tmp_path):
    write(tmp_path, {"gan.py": GAN.replace("D(fake).mean()\n    opt_d", "D(fake.detach()).mean()\n    opt_d")})
    assert check(cli, tmp_path, "gan.py") == []


def test_numpy_of_the_output_of_a_module_parameter(cli, tmp_path):
    write(tmp_path, {"p.py": PREDICT.format(imports="import torch.nn as nn", model="nn.Linear(4, 3)")})
    assert check(cli, tmp_path, "p.py") == [("p.py", 6, "GL306")]


@pytest.mark.parametrize("extra", [
    "print(predict(lambda v: v, torch.randn(2, 4)))\n",  # call sites disagree
    "callbacks = [predict]\n",  # the function escapes as a value
    "__all__ = ['predict']\n",  # exported: callers we cannot see
    "print(predict(*[nn.Linear(4, 3), torch.randn(2, 4)]))\n",  # unpacked arguments
])
def test_parameter_facts_need_every_call_site_to_agree(cli, tmp_path, extra):
    source = PREDICT.format(imports="import torch.nn as nn", model="nn.Linear(4, 3)") + extra
    write(tmp_path, {"p.py": source})
    assert check(cli, tmp_path, "p.py") == []


def test_public_function_of_a_package_module_is_not_judged_by_its_own_file(cli, tmp_path):
    source = PREDICT.format(imports="import torch.nn as nn", model="nn.Linear(4, 3)")
    write(tmp_path, {"pkg/__init__.py": "", "pkg/p.py": source,
                     "pkg/q.py": source.replace("predict", "_predict")})
    assert check(cli, tmp_path, "pkg") == [("pkg/q.py", 6, "GL306")]


EVALUATE = """
import torch
import torch.nn as nn

""" + NET_CLASS + """

def evaluate(model, x):
    model.eval()
    {body}


evaluate(Net(), torch.randn(1, 4))
"""


def test_eval_then_a_submodule_call_without_no_grad(cli, tmp_path):
    write(tmp_path, {"e.py": EVALUATE.format(body="return model.features(x)")})
    assert check(cli, tmp_path, "e.py") == [("e.py", 16, "GL401")]


@pytest.mark.parametrize("body", [
    "return model.describe(x)",  # a method, not a submodule: it may compute nothing
    "with torch.no_grad():\n        return model.features(x)",
])
def test_eval_then_other_calls_stay_silent(cli, tmp_path, body):
    write(tmp_path, {"e.py": EVALUATE.format(body=body)})
    assert check(cli, tmp_path, "e.py") == []


SGD = """
import torch
import torch.nn as nn


def sgd_step(model, lr):
    {body}


net = nn.Linear(4, 3)
net(torch.randn(2, 4)).sum().backward()
sgd_step(net, 0.1)
"""


def test_manual_sgd_over_the_parameters_of_an_argument(cli, tmp_path):
    write(tmp_path, {"s.py": SGD.format(body="for p in model.parameters():\n        p.add_(p.grad, alpha=-lr)")})
    assert check(cli, tmp_path, "s.py") == [("s.py", 7, "GL307")]


@pytest.mark.parametrize("body", [
    "with torch.no_grad():\n        for p in model.parameters():\n            p.add_(p.grad, alpha=-lr)",
    "for p in model.parameters():\n        p.grad = None",
    "for name, p in model.named_parameters():\n        p.requires_grad_(False)\n        p.mul_(0.5)",
])
def test_parameter_updates_done_right_stay_silent(cli, tmp_path, body):
    write(tmp_path, {"s.py": SGD.format(body=body)})
    assert check(cli, tmp_path, "s.py") == []


TRAINER = """
import torch
import torch.nn as nn


class Trainer:
    def __init__(self, model):
        self.model = model
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def train_step(self, x, y):
        loss = ((self.model(x) - y) ** 2).mean()
        {clear}loss.backward()
        self.opt.step()
        return loss.detach().numpy()

    def predict(self, x):
        return self.model(x).numpy()


trainer = Trainer(nn.Linear(4, 1))
for _ in range(3):
    trainer.train_step(torch.randn(2, 4), torch.randn(2, 1))
"""


def test_a_plain_trainer_class_holding_model_and_optimizer(cli, tmp_path):
    write(tmp_path, {"t.py": TRAINER.format(clear="")})
    assert check(cli, tmp_path, "t.py") == [("t.py", 17, "GL306"), ("t.py", 21, "GL501")]


def test_a_trainer_that_clears_gradients_is_silent_about_zero_grad(cli, tmp_path):
    write(tmp_path, {"t.py": TRAINER.format(clear="self.opt.zero_grad()\n        ")})
    assert check(cli, tmp_path, "t.py") == [("t.py", 18, "GL306")]


def test_a_trainer_subclassed_in_the_file_is_unknown(cli, tmp_path):
    source = TRAINER.format(clear="") + "\n\nclass Other(Trainer):\n    pass\n"
    write(tmp_path, {"t.py": source})
    assert check(cli, tmp_path, "t.py") == []


# ------------------------------------------------------------------------------- across files


def test_model_class_from_a_sibling_module(cli, tmp_path):
    write(tmp_path, {"models.py": NET, "train.py": PREDICT.format(imports="from models import Net", model="Net()")})
    assert check(cli, tmp_path, "train.py") == [("train.py", 6, "GL306")]


def test_model_from_a_factory_of_another_file(cli, tmp_path):
    write(tmp_path, {"models.py": NET,
                     "train.py": PREDICT.format(imports="from models import build_model", model="build_model()")})
    assert check(cli, tmp_path, "train.py") == [("train.py", 6, "GL306")]


def test_model_from_a_factory_that_moves_it_to_a_device(cli, tmp_path):
    # ``.xpu()`` returns the module itself, like ``.cuda()``: the summary of models.py knows what build returns
    models = NET.replace("    model = Net()\n", "    model = Net().xpu()\n")
    write(tmp_path, {"models.py": models,
                     "train.py": PREDICT.format(imports="from models import build_model", model="build_model()")})
    assert check(cli, tmp_path, "train.py") == [("train.py", 6, "GL306")]


def test_package_with_relative_imports_and_a_module_alias(cli, tmp_path):
    write(tmp_path, {
        "pkg/__init__.py": "from .models import Net\n",
        "pkg/models.py": NET,
        "pkg/_relative.py": PREDICT.format(imports="from .models import Net", model="Net()").replace("predict", "_predict"),
        "pkg/_reexport.py": PREDICT.format(imports="from pkg import Net", model="Net()").replace("predict", "_predict"),
        "pkg/_alias.py": PREDICT.format(imports="import pkg.models as m", model="m.Net()").replace("predict", "_predict"),
    })
    assert sorted(check(cli, tmp_path, "pkg")) == [
        ("pkg/_alias.py", 6, "GL306"), ("pkg/_reexport.py", 6, "GL306"), ("pkg/_relative.py", 6, "GL306")]


def test_src_layout_resolves_from_a_script_at_the_root(cli, tmp_path):
    write(tmp_path, {
        "pyproject.toml": "[project]\nname = 'proj'\n",
        "src/proj/__init__.py": "",
        "src/proj/models.py": NET,
        "scripts/train.py": PREDICT.format(imports="from proj.models import Net", model="Net()"),
    })
    assert check(cli, tmp_path, "scripts/train.py") == [("scripts/train.py", 6, "GL306")]


def test_a_subclass_of_a_project_module_class_is_a_module(cli, tmp_path):
    write(tmp_path, {
        "base.py": NET,
        "models.py": "from base import Net\n\n\nclass Bigger(Net):\n    pass\n",
        "train.py": PREDICT.format(imports="from models import Bigger", model="Bigger()"),
    })
    assert check(cli, tmp_path, "train.py") == [("train.py", 6, "GL306")]


@pytest.mark.parametrize("files", [
    # a same-named class from a third-party package, while the project has its own Net
    {"models.py": NET, "train.py": PREDICT.format(imports="from thirdparty.models import Net", model="Net()")},
    # the project's Net is not a module
    {"models.py": "class Net:\n    def __call__(self, x):\n        return x\n",
     "train.py": PREDICT.format(imports="from models import Net", model="Net()")},
    # the imported name is rebound
    {"models.py": NET, "train.py": PREDICT.format(imports="from models import Net\nNet = lambda: (lambda v: v)",
                                                    model="Net()")},
    # forward detaches: the outputs need no grad
    {"models.py": NET.replace("self.head(self.features(x))", "self.head(self.features(x)).detach()"),
     "train.py": PREDICT.format(imports="from models import Net", model="Net()")},
    # a base class we cannot read
    {"models.py": NET.replace("class Net(nn.Module)", "class Net(Base)").replace("import torch.nn as nn",
                                                                                  "import torch.nn as nn\nfrom lib import Base"),
     "train.py": PREDICT.format(imports="from models import Net", model="Net()")},
])
def test_look_alikes_across_files_stay_silent(cli, tmp_path, files):
    write(tmp_path, files)
    assert check(cli, tmp_path, "train.py") == []


def test_editing_an_imported_file_changes_the_cached_result(cli, tmp_path):
    write(tmp_path, {"models.py": NET, "train.py": PREDICT.format(imports="from models import Net", model="Net()")})
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 6, "GL306")]
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 6, "GL306")]
    models = tmp_path / "models.py"
    models.write_text(models.read_text().replace("self.head(self.features(x))", "self.head(self.features(x)).detach()"))
    assert check(cli, tmp_path, "train.py", cache=True) == []
    write(tmp_path, {"models.py": NET})
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 6, "GL306")]
    # a new project module where an import pointed at nothing
    write(tmp_path, {"train.py": PREDICT.format(imports="from layers import Net", model="Net()")})
    assert check(cli, tmp_path, "train.py", cache=True) == []
    write(tmp_path, {"layers.py": NET})
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 6, "GL306")]


def test_linting_one_file_summarises_only_the_files_it_imports(cli, tmp_path):
    write(tmp_path, {
        "models.py": NET,
        "train.py": PREDICT.format(imports="from models import Net", model="Net()"),
        "unrelated.py": "import torch\n\ndef f(:\n",  # never read: not imported
        "other.py": NET,
    })
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 6, "GL306")]
    cache = tmp_path / ".autogradlint_cache"
    summaries = json.loads(next(cache.glob("summaries-*.json")).read_text())
    assert sorted(summary["module"] for summary in summaries.values()) == ["models"]


def test_a_damaged_summary_file_is_ignored(cli, tmp_path):
    write(tmp_path, {"models.py": NET, "train.py": PREDICT.format(imports="from models import Net", model="Net()")})
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 6, "GL306")]
    summaries = next((tmp_path / ".autogradlint_cache").glob("summaries-*.json"))
    summaries.write_text(json.dumps({key: {"module": 3} for key in json.loads(summaries.read_text())}))
    write(tmp_path, {"models.py": NET + "\n# edited\n"})
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 6, "GL306")]
    summaries.write_text("{not json")
    write(tmp_path, {"train.py": PREDICT.format(imports="from models import Net", model="Net()") + "\n"})
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 6, "GL306")]


def test_the_summaries_file_is_the_cache_s_own_and_clean_removes_it(cli, tmp_path):
    write(tmp_path, {"models.py": NET, "train.py": PREDICT.format(imports="from models import Net", model="Net()")})
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 6, "GL306")]
    cache = tmp_path / ".autogradlint_cache"
    assert list(cache.glob("summaries-*.json"))
    # a second run still writes into the folder (it holds only files the cache wrote)
    write(tmp_path, {"train.py": PREDICT.format(imports="from models import Net", model="Net()") + "\n"})
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 6, "GL306")]
    assert cli("clean", cwd=tmp_path).code == 0
    assert not cache.exists() or not any(cache.iterdir())


TENSORS = """
import torch


def show(t):
    return t.numpy()


def update(w, lr):
    w.sub_(lr)


w = torch.randn(3, requires_grad=True)
{calls}
"""


def test_tensors_passed_by_every_call_site_keep_their_grad_state(cli, tmp_path):
    write(tmp_path, {"t.py": TENSORS.format(calls="print(show(w * 2))\nupdate(w, 0.1)")})
    assert check(cli, tmp_path, "t.py") == [("t.py", 5, "GL306"), ("t.py", 9, "GL307")]


@pytest.mark.parametrize("calls", [
    "print(show(w.detach() * 2))\nwith torch.no_grad():\n    update(w, 0.1)",
    "print(show(w * 2))\nprint(show(torch.zeros(2)))",  # the call sites disagree: unknown
    "print(show(w * 2))\nprint(list(map(show, [w])))",  # show escapes
])
def test_tensor_arguments_done_right_or_unknown_stay_silent(cli, tmp_path, calls):
    write(tmp_path, {"t.py": TENSORS.format(calls=calls)})  # update() never called: its w is unknown
    assert check(cli, tmp_path, "t.py") == []


# ------------------------------------------------------------------------------- callers in other files

ENGINE = """
import torch


def evaluate(model, x):
    return torch.softmax(model(x), -1).numpy()
"""

CALLER = """
import torch
from engine import evaluate
from models import Net

model = Net()
print(evaluate(model, torch.randn(2, 4)))
"""


@pytest.mark.parametrize("caller", [
    CALLER,
    # a module import, and a model built inside a function
    "import torch\nimport engine\nfrom models import Net\n\n\ndef main():\n    net = Net().eval()\n"
    "    engine.evaluate(net, torch.randn(2, 4))\n",
    # a factory of the project, passed by keyword
    "import torch\nfrom engine import evaluate as ev\nfrom models import build_model\n\n"
    "ev(x=torch.randn(2, 4), model=build_model())\n",
])
def test_a_function_knows_its_parameters_from_the_callers_in_other_files(cli, tmp_path, caller):
    write(tmp_path, {"models.py": NET, "engine.py": ENGINE, "train.py": caller})
    assert check(cli, tmp_path, ".") == [("engine.py", 5, "GL306")]
    # the pre-commit call: the file alone
    assert check(cli, tmp_path, "engine.py") == [("engine.py", 5, "GL306")]


def test_a_private_function_of_a_package_module_called_from_a_sibling_is_unknown(cli, tmp_path):
    # its own file's calls no longer speak for it, and the sibling's calls are not summarised
    engine = ENGINE.replace("evaluate", "_evaluate") + "\n\n_evaluate(lambda v: v, 1)\n"
    files = {"pkg/__init__.py": "", "pkg/models.py": NET,
             "pkg/engine.py": engine.replace("lambda v: v", "Net()").replace("import torch", "import torch\nfrom .models import Net"),
             "pkg/train.py": CALLER.replace("from engine import evaluate", "from .engine import _evaluate")
             .replace("from models", "from .models").replace("evaluate(model", "_evaluate(model")}
    write(tmp_path, files)
    assert check(cli, tmp_path, "pkg/engine.py") == []
    (tmp_path / "pkg" / "train.py").unlink()  # only its own file calls it: known again
    assert check(cli, tmp_path, "pkg/engine.py") == [("pkg/engine.py", 6, "GL306")]


@pytest.mark.parametrize("files", [
    # the callers disagree (another file passes a function)
    {"other.py": "from engine import evaluate\n\nevaluate(lambda v: v, 1)\n"},
    # the function escapes as a value in another file
    {"other.py": "from engine import evaluate\n\ncallbacks = [evaluate]\n"},
    # called with unpacked arguments
    {"other.py": "from engine import evaluate\n\nevaluate(*[1, 2])\n"},
    # imported and never called: re-exported, its callers are out of sight
    {"api.py": "from engine import evaluate\n"},
    # the module itself is passed around
    {"other.py": "import engine\n\nrun = getattr(engine, 'evaluate')\n"},
    # a star import: every name of the module may be called anywhere
    {"other.py": "from engine import *\n"},
    # a notebook that mentions it
    {"explore.ipynb": '{"cells": [{"cell_type": "code", "source": ["from engine import evaluate"], "metadata": {}, '
                      '"outputs": [], "execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'},
    # a caller that does not parse
    {"broken.py": "from engine import evaluate\nevaluate(\n"},
    # exported through __all__ in its own file
    {"engine.py": ENGINE + "\n__all__ = ['evaluate']\n"},
    # a caller passes its own parameter: unknown
    {"train.py": "from engine import evaluate\n\n\ndef main(model, x):\n    evaluate(model, x)\n"},
    # the name is rebound in the caller
    {"train.py": CALLER + "\nevaluate = print\nevaluate(1)\n"},
])
def test_callers_in_other_files_that_disagree_or_escape_stay_silent(cli, tmp_path, files):
    write(tmp_path, {"models.py": NET, "engine.py": ENGINE, "train.py": CALLER, **files})
    assert check(cli, tmp_path, "engine.py") == []


@pytest.mark.parametrize("caller", [
    # the same name from an unrelated project module, and from a third-party package
    "import torch\nfrom metrics import evaluate\nfrom models import Net\n\nevaluate(Net(), torch.randn(2, 4))\n",
    "import torch\nfrom thirdparty.engine import evaluate\nfrom models import Net\n\nevaluate(Net(), torch.randn(2, 4))\n",
    # a local function of the same name
    "import torch\nfrom models import Net\n\n\ndef evaluate(m, x):\n    return m(x)\n\n\nevaluate(Net(), torch.randn(2, 4))\n",
])
def test_calls_of_a_same_named_function_elsewhere_are_not_callers(cli, tmp_path, caller):
    write(tmp_path, {"models.py": NET, "engine.py": ENGINE, "metrics.py": "def evaluate(m, x):\n    return m\n",
                     "train.py": caller})
    assert check(cli, tmp_path, "engine.py") == []


def test_a_public_function_of_a_package_module_stays_unknown_whatever_its_callers(cli, tmp_path):
    write(tmp_path, {"pkg/__init__.py": "", "pkg/models.py": NET, "pkg/engine.py": ENGINE,
                     "pkg/train.py": CALLER.replace("from engine", "from .engine").replace("from models", "from .models")})
    assert check(cli, tmp_path, "pkg") == []


def test_a_cached_result_notices_a_changed_added_or_removed_caller(cli, tmp_path):
    write(tmp_path, {"models.py": NET, "engine.py": ENGINE, "train.py": CALLER})
    assert check(cli, tmp_path, "engine.py", cache=True) == [("engine.py", 5, "GL306")]
    assert check(cli, tmp_path, "engine.py", cache=True) == [("engine.py", 5, "GL306")]
    # a caller changed: it passes something else
    write(tmp_path, {"train.py": CALLER.replace("model = Net()", "model = lambda v: v")})
    assert check(cli, tmp_path, "engine.py", cache=True) == []
    write(tmp_path, {"train.py": CALLER})
    assert check(cli, tmp_path, "engine.py", cache=True) == [("engine.py", 5, "GL306")]
    # a caller added that disagrees, then removed
    write(tmp_path, {"scripts/other.py": "from engine import evaluate\n\nevaluate(print, 1)\n"})
    assert check(cli, tmp_path, "engine.py", cache=True) == []
    (tmp_path / "scripts" / "other.py").unlink()
    assert check(cli, tmp_path, "engine.py", cache=True) == [("engine.py", 5, "GL306")]
    # the only caller removed: nothing is known
    (tmp_path / "train.py").unlink()
    assert check(cli, tmp_path, "engine.py", cache=True) == []


# ------------------------------------------------------------------------------- plain classes of other files

TRAINER_FILE = """
import torch
from models import Net


class Trainer:
    def __init__(self, lr=0.1):
        self.model = Net()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)


class Wrapper:
    def __init__(self, model, *, scale=1.0):
        self.model = model
        self.scale = scale
"""

USES_TRAINER = """
import torch
from trainer import Trainer, Wrapper
from models import Net

t = Trainer()
print(t.model(torch.randn(2, 4)).numpy())
w = Wrapper(Net())
print(w.model(torch.randn(2, 4)).numpy())


class Mine(Trainer):
    def predict(self, x):
        return self.model(x).numpy()
"""


def test_plain_classes_of_another_file_say_what_their_attributes_hold(cli, tmp_path):
    write(tmp_path, {"models.py": NET, "trainer.py": TRAINER_FILE, "train.py": USES_TRAINER})
    assert check(cli, tmp_path, "train.py") == [("train.py", 6, "GL306"), ("train.py", 8, "GL306"),
                                                ("train.py", 13, "GL306")]


def test_eval_of_a_model_held_by_a_trainer_of_another_file(cli, tmp_path):
    write(tmp_path, {"models.py": NET, "trainer.py": TRAINER_FILE,
                     "train.py": "import torch\nfrom trainer import Trainer\n\nt = Trainer()\nt.model.eval()\n"
                                 "out = t.model.features(torch.randn(2, 4))\n"})
    assert check(cli, tmp_path, "train.py") == [("train.py", 5, "GL401")]


@pytest.mark.parametrize("trainer, user", [
    # a decorated class (a dataclass may make its own __init__)
    (TRAINER_FILE.replace("class Trainer:", "@decorate\nclass Trainer:").replace("import torch", "import torch\nfrom lib import decorate"),
     USES_TRAINER.split("w = ")[0]),
    # attributes set dynamically
    (TRAINER_FILE.replace("self.opt =", "setattr(self, 'model', None)\n        self.opt ="), USES_TRAINER.split("w = ")[0]),
    # the attribute is reassigned with something else in another method
    (TRAINER_FILE.replace("class Wrapper:", "    def reset(self):\n        self.model = lambda v: v\n\n\nclass Wrapper:"),
     USES_TRAINER.split("w = ")[0]),
    # a base class we cannot read: it may be a module, or set the attributes itself
    (TRAINER_FILE.replace("class Trainer:", "class Trainer(Base):").replace("import torch", "import torch\nfrom lib import Base"),
     USES_TRAINER.split("w = ")[0]),
    # the constructor gets something else, or unpacked arguments
    (TRAINER_FILE, "import torch\nfrom trainer import Wrapper\n\nw = Wrapper(lambda v: v)\nprint(w.model(torch.randn(2, 4)).numpy())\n"),
    (TRAINER_FILE, "import torch\nfrom trainer import Wrapper\nfrom models import Net\n\nw = Wrapper(*[Net()])\n"
                   "print(w.model(torch.randn(2, 4)).numpy())\n"),
    # the name is rebound, or the attribute set in this file
    (TRAINER_FILE, "import torch\nfrom trainer import Trainer\n\nt = Trainer()\nt = object()\nprint(t.model(torch.randn(2, 4)).numpy())\n"),
    (TRAINER_FILE, "import torch\nfrom trainer import Trainer\n\nt = Trainer()\nt.model = lambda v: v\nprint(t.model(torch.randn(2, 4)).numpy())\n"),
    # a same-named class of a third-party package
    (TRAINER_FILE, "import torch\nfrom lib.trainer import Trainer\n\nt = Trainer()\nprint(t.model(torch.randn(2, 4)).numpy())\n"),
    # a subclass that sets the attribute itself
    (TRAINER_FILE, "from trainer import Trainer\n\n\nclass Mine(Trainer):\n    def __init__(self, m):\n        self.model = m\n\n"
                   "    def predict(self, x):\n        return self.model(x).numpy()\n"),
])
def test_plain_class_look_alikes_across_files_stay_silent(cli, tmp_path, trainer, user):
    write(tmp_path, {"models.py": NET, "trainer.py": trainer, "train.py": user})
    assert check(cli, tmp_path, "train.py") == []


# ------------------------------------------------------------------------------- training helpers of other files

TRAIN_ENGINE = """
import torch


def train_step(model, x, y, optimizer):
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


def forward_backward(model, x, y):
    ((model(x) - y) ** 2).mean().backward()


def clear(optimizer):
    optimizer.zero_grad()


def train_one_epoch(model, loader, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        optimizer.step()


def evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(model(x).sum().item() for x, _ in loader)
"""

TRAIN_LOOP = """
import torch
from engine import {names}
from models import Net

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(opt, 1)
loader = [(torch.randn(2, 4), torch.randn(2, 2))]
for epoch in range(3):
    {body}
"""


@pytest.mark.parametrize("names, body, expected", [
    # the helper steps after backward, nobody clears: GL501 on the caller's loop
    ("train_step", "for x, y in loader:\n        train_step(model, x, y, opt)", [("train.py", 10, "GL501")]),
    # the helper's backward, then a zero_grad in the caller before the step: GL502 on the zero_grad
    ("forward_backward", "for x, y in loader:\n        forward_backward(model, x, y)\n        opt.zero_grad()\n"
                         "        opt.step()", [("train.py", 12, "GL502")]),
    # evaluate() puts the model in eval mode and the loop never puts it back: GL402
    ("train_step, evaluate", "for x, y in loader:\n        opt.zero_grad()\n        train_step(model, x, y, opt)\n"
                             "    evaluate(model, loader)", [("train.py", 9, "GL402")]),
])
def test_training_helpers_of_another_file_are_expanded_in_the_caller_s_loop(cli, tmp_path, names, body, expected):
    write(tmp_path, {"models.py": NET, "engine.py": TRAIN_ENGINE,
                     "train.py": TRAIN_LOOP.format(names=names, body=body)})
    assert check(cli, tmp_path, "train.py") == expected  # the pre-commit call: the caller alone
    assert [f for f in check(cli, tmp_path, ".") if f[0] == "train.py"] == expected


@pytest.mark.parametrize("engine, names, body", [
    # the helpers clear the gradients, or put the model back in training mode
    (TRAIN_ENGINE, "train_step, clear", "for x, y in loader:\n        clear(opt)\n        train_step(model, x, y, opt)"),
    (TRAIN_ENGINE, "train_one_epoch, evaluate", "train_one_epoch(model, loader, opt)\n    evaluate(model, loader)"),
    # the helper's step is the scheduler's (the caller passes its scheduler)
    (TRAIN_ENGINE.replace("optimizer.step()\n    return", "sched.step()\n    return").replace("y, optimizer)", "y, sched)"),
     "train_step", "for x, y in loader:\n        train_step(model, x, y, scheduler)"),
    # a decorated helper, a helper defined twice, a helper file that does not parse: not expanded
    (TRAIN_ENGINE.replace("def train_step", "@wrap\ndef train_step").replace("import torch", "import torch\nfrom lib import wrap"),
     "train_step", "for x, y in loader:\n        train_step(model, x, y, opt)"),
    (TRAIN_ENGINE + "\n\ndef train_step(*args):\n    pass\n", "train_step", "for x, y in loader:\n        train_step(model, x, y, opt)"),
    (TRAIN_ENGINE + "\ndef broken(:\n", "train_step", "for x, y in loader:\n        train_step(model, x, y, opt)"),
    # the helper puts its own module's global in eval mode, not the caller's model of the same name
    (TRAIN_ENGINE + "\n\nmodel = None\n\n\ndef validate():\n    model.eval()\n", "validate",
     "for x, y in loader:\n        opt.zero_grad()\n        ((model(x) - y) ** 2).mean().backward()\n        opt.step()\n"
     "    validate()"),
])
def test_training_helper_look_alikes_across_files_stay_silent(cli, tmp_path, engine, names, body):
    write(tmp_path, {"models.py": NET, "engine.py": engine, "train.py": TRAIN_LOOP.format(names=names, body=body)})
    assert check(cli, tmp_path, "train.py") == []


def test_a_same_named_helper_of_a_third_party_package_is_not_expanded(cli, tmp_path):
    caller = TRAIN_LOOP.format(names="train_step", body="for x, y in loader:\n        train_step(model, x, y, opt)")
    write(tmp_path, {"models.py": NET, "engine.py": TRAIN_ENGINE,
                     "train.py": caller.replace("from engine import", "from lib.engine import")})
    assert check(cli, tmp_path, "train.py") == []


def test_a_cached_caller_notices_an_edited_helper(cli, tmp_path):
    body = "for x, y in loader:\n        train_step(model, x, y, opt)"
    write(tmp_path, {"models.py": NET, "engine.py": TRAIN_ENGINE, "train.py": TRAIN_LOOP.format(names="train_step", body=body)})
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 10, "GL501")]
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 10, "GL501")]
    write(tmp_path, {"engine.py": TRAIN_ENGINE.replace("    loss.backward()\n    optimizer.step()",
                                                       "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()")})
    assert check(cli, tmp_path, "train.py", cache=True) == []
    write(tmp_path, {"engine.py": TRAIN_ENGINE})
    assert check(cli, tmp_path, "train.py", cache=True) == [("train.py", 10, "GL501")]


# ------------------------------------------------------------------------ optimizers followed through values

FIT = """
import torch


class Stepper:
    def step(self):
        pass


def fit(model, loader, stepper):
    for x, y in loader:
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        stepper.step()


net = torch.nn.Linear(2, 1)
{calls}
"""


def test_an_optimizer_argument_is_an_optimizer_whatever_its_name(cli, tmp_path):
    # 'stepper' reads like a scheduler or progress helper; every call site passes a torch optimizer
    write(tmp_path, {"fit.py": FIT.format(calls="fit(net, [], torch.optim.SGD(net.parameters(), lr=0.1))")})
    assert check(cli, tmp_path, "fit.py") == [("fit.py", 10, "GL501")]


@pytest.mark.parametrize("calls", [
    "fit(net, [], Stepper())",  # a home-made stepper
    "fit(net, [], Stepper())\nfit(net, [], torch.optim.SGD(net.parameters(), lr=0.1))",  # call sites disagree
    "fit(net, [], torch.optim.lr_scheduler.StepLR(torch.optim.SGD(net.parameters(), lr=0.1), 1))",  # a scheduler
])
def test_a_stepper_that_is_not_certainly_an_optimizer_stays_silent(cli, tmp_path, calls):
    write(tmp_path, {"fit.py": FIT.format(calls=calls)})
    assert check(cli, tmp_path, "fit.py") == []


OPTIMIZER_HOLDERS = """
import torch


class HomeMade:
    def zero_grad(self):
        pass


class Trainer:
    def __init__(self, model, optimizer):
        self.model = model
        self.optimizer = optimizer

    def clear(self):
        self.optimizer.zero_grad()


def make_optimizer(model, flag):
    if flag:
        return torch.optim.SGD(model.parameters(), lr=0.1)
    return {other}


net = torch.nn.Linear(2, 1)
Trainer(net, {optimizer}).clear()
opt = make_optimizer(net, True)
opt.zero_grad()
"""


def test_torch_optimizers_held_by_attributes_and_returned_by_factories(cli, tmp_path):
    # before torch 2.0 a torch optimizer's zero_grad() zero-fills: GL505 needs to know the optimizer is torch's
    write(tmp_path, {"t.py": OPTIMIZER_HOLDERS.format(optimizer="torch.optim.Adam(net.parameters())",
                                            other="torch.optim.Adam(model.parameters())")})
    assert check(cli, tmp_path, "--torch-version", "1.13", "t.py") == [("t.py", 15, "GL505"), ("t.py", 27, "GL505")]


def test_home_made_optimizers_behind_attributes_and_factories_stay_silent(cli, tmp_path):
    write(tmp_path, {"t.py": OPTIMIZER_HOLDERS.format(optimizer="HomeMade()", other="HomeMade()")})
    assert check(cli, tmp_path, "--torch-version", "1.13", "t.py") == []


# ------------------------------------------------------------------------ GradScalers followed through values

AMP_STEP = """
import torch


def step(model, loss, opt, grad_amp):
    grad_amp.scale(loss).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    grad_amp.step(opt)
    grad_amp.update()


net = torch.nn.Linear(2, 1)
step(net, net(torch.ones(1, 2)).sum(), torch.optim.SGD(net.parameters(), lr=0.1), {scaler})
"""


def test_a_grad_scaler_argument_is_a_scaler_whatever_its_name(cli, tmp_path):
    write(tmp_path, {"amp.py": AMP_STEP.format(scaler='torch.amp.GradScaler("cuda")')})
    assert check(cli, tmp_path, "amp.py") == [("amp.py", 6, "GL504")]


@pytest.mark.parametrize("scaler", [
    'torch.amp.GradScaler("cuda", enabled=False)',  # switched off: nothing is scaled
    'torch.amp.GradScaler("cuda", enabled=use_amp)',  # switched by a flag: unknown
    "object()",  # not a scaler
])
def test_a_scaler_argument_not_certainly_enabled_stays_silent(cli, tmp_path, scaler):
    write(tmp_path, {"amp.py": AMP_STEP.format(scaler=scaler)})
    assert check(cli, tmp_path, "amp.py") == []


# a home-made optimizer in its own file (it clears the gradients in step), beside a subclass of torch's Adam
HOME_MADE_OPTIMIZER = {
    "myopt.py": """
        import torch


        class Lookahead:
            def __init__(self, params, lr=0.1):
                self.params = list(params)
                self.lr = lr

            def step(self):
                with torch.no_grad():
                    for p in self.params:
                        if p.grad is not None:
                            p -= self.lr * p.grad
                            p.grad = None

            def zero_grad(self, set_to_none=False):
                for p in self.params:
                    p.grad = None


        class MyAdam(torch.optim.Adam):
            pass


        class Unknown(SomeBase):
            def step(self):
                pass
        """,
    "train.py": """
        import torch
        from myopt import Lookahead, MyAdam, Unknown

        model = torch.nn.Linear(2, 1)
        optimizer = Lookahead(model.parameters())
        for step in range(3):
            loss = model(torch.ones(2)).sum()
            loss.backward()
            optimizer.step()
        optimizer.zero_grad(set_to_none=False)

        opt2 = MyAdam(model.parameters())
        for step in range(3):
            loss = model(torch.ones(2)).sum()
            loss.backward()
            opt2.step()

        opt3 = Unknown()
        for step in range(3):
            loss = model(torch.ones(2)).sum()
            loss.backward()
            opt3.step()
        """,
}


@pytest.mark.parametrize("paths", [(".",), ("train.py",)], ids=["project", "one-file"])
def test_a_home_made_optimizer_from_another_file_is_its_own_business(cli, tmp_path, paths):
    """The home-made optimizer's step/zero_grad are its own (no GL501, no GL505); a subclass of torch's Adam,
    and a class whose base the project cannot read, are judged as optimizers, as before."""
    write(tmp_path, HOME_MADE_OPTIMIZER)
    found = check(cli, tmp_path, "--select", "GL501,GL505", *paths)
    assert found == [("train.py", 13, "GL501"), ("train.py", 19, "GL501")]
