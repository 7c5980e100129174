"""The engine and the name resolver, through what rules report."""
import libcst as cst
import sys

import pytest

from autogradlint.engine import lint_source
from autogradlint.rule import Rule, all_rules, find_rule

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


# ------------------------------------------------------------------------------ Python's screening parse
def test_wide_statements_skip_the_screening_parse():
    """A long statement made of many comma-separated items (a table of configurations) is wide, not deep:
    LibCST is handed it without Python's parse first."""
    from autogradlint.screening import needs_screen as _needs_screen

    if sys.version_info >= (3, 12):
        pytest.skip("PEP 701 f-strings: on 3.12+ every long file gets Python's screening parse")
    table = "cfgs = generate({\n" + "".join(f"    'model{i}.tag': _cfg(url='u', hf_hub_id='h', mean=(0.5, 0.5, 0.5), "
                                            f"num_classes={i}, crop=(1 + 2) * 3),\n" for i in range(300)) + "})\n"
    assert not _needs_screen(table.encode())
    assert not _needs_screen(("x = [" + ", ".join(["1"] * 5000) + "]\n").encode())  # one long physical line
    assert not _needs_screen(("x = 1, " + ", ".join(["f(a)"] * 3000) + "\n").encode())  # a top-level tuple


@pytest.mark.parametrize(
    "body",
    [
        "x = " + " + ".join(["1"] * 3000),  # a chain, no bracket
        "x = (1)" + " + (\n1)" * 5000,  # a chain of short bracketed terms over short lines
        "x = [" + "(1 + " * 150 + "1" + " + 1 + 1 + 1)" * 150 + "]",  # short pieces, deep down the brackets
        "x = [a, " + ".b" * 3000 + "]",  # deep after a comma
        "x = f(a, b=" + "'s' " * 3000 + ")",  # adjacent strings nest too
    ],
    ids=["chain", "bracketed-terms-over-lines", "deep-path", "after-comma", "strings"],
)
def test_deep_statements_get_the_screening_parse(body):
    from autogradlint.screening import needs_screen as _needs_screen

    assert _needs_screen(("import torch\n" + body + "\nmodel.eval\n").encode())


def test_a_chain_of_bracketed_terms_over_short_lines_is_refused_before_libcst():
    """Each line and each bracket is short, but the statement is one 5000-term chain: CPython refuses it, and
    LibCST would take minutes on it."""
    found = lint(("model.eval\nx = (1)" + " + (\n1)" * 5000 + "\n"))
    assert [d.code for d in found] == ["GL001"] and "nested too deeply" in found[0].message


# ------------------------------------------------------------------------------ the walk and positions
_NESTED = (
    "import torch\n"
    "@dec\n"
    "def f(x, y=lambda z: z + 1):\n"
    "    with torch.no_grad():\n"
    "        x = g(x.a, [h(i) for i in x])\n"
    "    if x:\n"
    "        y = g(x.a)  # the same line twice\n"
    "    elif y:\n"
    "        y = g(x.a)  # the same line twice\n"
    "    else:\n"
    "        class C:\n"
    "            def m(self):\n"
    "                return g(x.a)\n"
    "    return g(x.a)\n"
    "def k():\n"
    "    return g(x.a)\n"
    "def k():\n"
    "    return g(x.a)\n"
    "x = [a.b for a in g(c.d)]; y = g(x.a)\n"
)


def _full_walk(index, on_visit, on_leave, ancestors):
    """Through every node: the reference the walk's skipping must agree with."""
    open_ends = []
    for number, node in enumerate(index.order):
        while open_ends and open_ends[-1] <= number:
            open_ends.pop()
            left = ancestors.pop()
            for handler in on_leave.get(type(left), ()):
                handler(left)
        for handler in on_visit.get(type(node), ()):
            handler(node)
        ancestors.append(node)
        open_ends.append(index.ends[number])
    while open_ends:
        open_ends.pop()
        left = ancestors.pop()
        for handler in on_leave.get(type(left), ()):
            handler(left)


@pytest.mark.parametrize(
    "visit,leave",
    [
        ((cst.Call, cst.Attribute), ()),
        ((cst.Call,), (cst.FunctionDef, cst.Module)),
        ((cst.Module, cst.With, cst.Name), (cst.Call, cst.ClassDef, cst.If)),
        ((), (cst.Name,)),
        ((cst.Lambda, cst.ListComp), (cst.Attribute, cst.Else)),
    ],
)
def test_the_walk_calls_handlers_in_the_order_and_with_the_ancestors_of_a_walk_through_every_node(visit, leave):
    from autogradlint.walk import TreeIndex, walk

    index = TreeIndex(cst.parse_module(_NESTED))
    calls = {}
    for walker in (walk, _full_walk):
        log, ancestors = [], []

        def handler(kind):
            return lambda node: log.append((kind, node, list(ancestors)))

        walker(index, {t: [handler("visit")] for t in visit}, {t: [handler("leave"), handler("leave again")] for t in leave},
               ancestors)
        assert ancestors == []
        calls[walker] = log
    assert calls[walk] == calls[_full_walk] and calls[walk]


def test_positions_from_the_innermost_statement_are_those_of_the_whole_module():
    """Findings deep in nested, repeated and elif statements get the positions LibCST's whole-module code
    generation gives them."""
    from libcst.metadata import MetadataWrapper, PositionProvider

    from autogradlint.placement import _positions, _statement_positions
    from autogradlint.walk import TreeIndex

    for text in (_NESTED, _NESTED.replace("\n", "\r\n"), "# header\n\n" + _NESTED + "\n# footer\n"):
        module = cst.parse_module(text)
        index = TreeIndex(module)
        expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        for node in index.order[1:]:
            top = ([node] + index.ancestors(node))[-2]
            twice = isinstance(top, cst.FunctionDef) and top.name.value == "k"  # found by Python's parse instead
            assert (_statement_positions(module, text, index, [node], ()) is None) == twice
            assert _positions(module, text, index, [node], None)[node] == expected[node], (type(node), node)
        many = index.order[1::3]
        found = _positions(module, text, index, many, None)
        assert all(found[node] == expected[node] for node in many)


def test_positions_fall_back_when_the_text_is_not_what_libcst_gives_back():
    from autogradlint.placement import _statement_positions
    from autogradlint.walk import TreeIndex

    for text in ("x = 1\n\x0cif x:\n    y = g(x)\n", "x = 1\rif x:\r    y = g(x)\r", "def k():\n    pass\ndef k():\n    pass\n"):
        module = cst.parse_module(text)
        index = TreeIndex(module)
        assert _statement_positions(module, text, index, [index.order[-1]], ()) is None
    found = lint("import torch\nx = 1\n\x0cwith torch.no_grad:\n    pass\nwith torch.no_grad:\n    pass\n")
    assert [(d.code, d.line, d.column) for d in found] == [("GL201", 3, 7), ("GL201", 5, 6)]
