"""The engine and the name resolver, through what rules report."""
import libcst as cst
import pytest

from gradlint.engine import lint_source
from gradlint.rule import Rule, all_rules, find_rule

from conftest import lint

GL201 = find_rule("GL201")


def gl201(source):
    return [(d.line, d.column) for d in lint(source, [GL201])]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\nwith torch.no_grad:\n    pass\n",
        "import torch as th\nwith th.no_grad:\n    pass\n",
        "from torch import no_grad\nwith no_grad:\n    pass\n",
        "from torch import no_grad as ng\nwith ng:\n    pass\n",
        "from torch import autograd\nwith autograd.no_grad:\n    pass\n",
        "import torch.autograd as ag\nwith ag.no_grad:\n    pass\n",
        "import torch\nwith torch.autograd.grad_mode.no_grad:\n    pass\n",
        "from torch.autograd.grad_mode import no_grad\nwith no_grad:\n    pass\n",
        "import torch.nn\nwith torch.no_grad:\n    pass\n",
        "import torch\ndef f():\n    with torch.no_grad:\n        pass\n",
        "def f():\n    import torch\n    with torch.no_grad:\n        pass\n",
        "import torch\nclass A:\n    def f(self):\n        with torch.no_grad:\n            pass\n",
        "import torch\nimport torch\nwith torch.no_grad:\n    pass\n",
        "try:\n    from torch import no_grad\nexcept ImportError:\n    from torch import no_grad\nwith no_grad:\n    pass\n",
    ],
)
def test_every_import_spelling_resolves(source):
    assert len(gl201(source)) == 1


@pytest.mark.parametrize(
    "source",
    [
        "def no_grad():\n    pass\nwith no_grad:\n    pass\n",
        "import torch\ndef f(torch):\n    with torch.no_grad:\n        pass\n",
        "import torch\ndef f():\n    torch = make()\n    with torch.no_grad:\n        pass\n",
        "import chainer\nwith chainer.no_grad:\n    pass\n",
        "from mylib import no_grad\nwith no_grad:\n    pass\n",
        "with no_grad:\n    pass\n",
        "if x:\n    from torch import no_grad\nelse:\n    no_grad = None\nwith no_grad:\n    pass\n",
        "try:\n    import torch\nexcept ImportError:\n    torch = None\nwith torch.no_grad:\n    pass\n",
        "from torch import *\nwith no_grad:\n    pass\n",
        "from . import torch\nwith torch.no_grad:\n    pass\n",
        "import torch\nclass A:\n    torch = None\n    with torch.no_grad:\n        pass\n",
    ],
)
def test_uncertain_or_foreign_names_do_not_resolve(source):
    assert gl201(source) == []


def test_comprehension_variable_does_not_leak():
    source = "import torch\nys = [torch for torch in range(3)]\nwith torch.no_grad:\n    pass\n"
    # the comprehension's `torch` is its own; the module's import still resolves
    assert gl201(source) == [(3, 6)]


def test_class_scope_is_not_seen_from_methods():
    source = "import torch\nclass A:\n    torch = None\n    def f(self):\n        with torch.no_grad:\n            pass\n"
    assert gl201(source) == [(5, 14)]


def test_global_declaration_binds_the_module_name():
    source = "import torch\ndef setup():\n    global torch\n    torch = None\nwith torch.no_grad:\n    pass\n"
    assert gl201(source) == []


def test_call_is_not_the_class():
    assert gl201("import torch\nwith torch.no_grad():\n    pass\n") == []


class Exploding(Rule):
    """## What it does\nRaises on every call, to test the engine."""

    code = "GL990"
    name = "exploding"
    message = "boom"
    triggers = ("model",)

    def visit_Expr(self, node):
        raise ValueError("kaboom")


def test_a_rule_that_raises_gives_an_internal_error_and_others_still_report():
    rules = [Exploding, find_rule("GL105")]
    found = lint_source(b"model.eval\n", "x.py", rules)
    assert [d.code for d in found] == ["GL000", "GL105"]
    assert "GL990" in found[0].message and "ValueError" in found[0].message
    assert found[0].name == "internal-error"


def test_syntax_error_has_a_position():
    found = lint("import torch\nx = (\nwith torch.no_grad:\n")
    assert len(found) == 1 and found[0].code == "GL001" and found[0].line >= 2


def test_undecodable_file_is_one_diagnostic():
    found = lint_source(b"# -*- coding: latin-1 -*-\nmodel.eval\n\xe9 = 1\n", "x.py", list(all_rules().values()))
    assert [d.code for d in found] in (["GL105"], ["GL001"])
    found = lint_source(b"model.eval\nx = '\xff\xfe'\n", "x.py", list(all_rules().values()))
    assert [d.code for d in found] == ["GL001"]


def test_latin1_file_is_linted_with_character_columns():
    source = "# -*- coding: latin-1 -*-\ns = 'é'; model.eval\n".encode("latin-1")
    found = lint_source(source, "x.py", list(all_rules().values()))
    assert [(d.code, d.line, d.column) for d in found] == [("GL105", 2, 10)]


def test_bom_and_crlf():
    found = lint_source(b"\xef\xbb\xbfimport torch\r\nmodel.eval\r\n", "x.py", list(all_rules().values()))
    assert [(d.code, d.line, d.column) for d in found] == [("GL105", 2, 1)]


def test_deep_nesting_does_not_crash():
    source = "model.eval\nx = " + "(" * 3000 + "1" + ")" * 3000 + "\n"
    found = lint(source)
    assert all(d.code in ("GL001", "GL000", "GL105") for d in found)
    assert found
