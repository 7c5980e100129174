"""Fixes: each fixable rule's expected output, idempotence, and that the fixed code is clean."""
import difflib
import json
import os
import stat

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autogradlint.fixing import fix_source
from autogradlint.rule import all_rules

from conftest import example_rules, example_version, lint

RULES = list(all_rules().values())
FIXABLE = [r for r in RULES if r.fix_applicability]
EXAMPLES = [
    pytest.param(rule, ex, id=f"{rule.code}-invalid-{i}")
    for rule in RULES
    for i, ex in enumerate(rule.invalid)
    if ex.fixed is not None
]


def fix(source, rules, unsafe=True, torch_version=None):
    result = fix_source(source.encode("utf-8"), "example.py", rules, unsafe=unsafe, torch_version=torch_version)
    assert result.error is None, result.error
    return source if result.new_source is None else result.new_source.decode("utf-8")


@pytest.mark.parametrize("rule,example", EXAMPLES)
def test_fix_gives_the_expected_source_is_idempotent_and_clean(rule, example):
    version = example_version(example)
    fixed = fix(example.source, example_rules(rule), torch_version=version)
    assert fixed == example.fixed
    assert fix(fixed, example_rules(rule), torch_version=version) == fixed
    assert [d for d in lint(fixed, example_rules(rule), torch_version=version) if d.code == rule.code and (d.line, d.column) == (example.line, example.column)] == []


@pytest.mark.parametrize("rule", FIXABLE, ids=lambda r: r.code)
def test_fixable_rule_has_fixed_examples_and_fix_safety_docs(rule):
    assert any(ex.fixed is not None for ex in rule.invalid)
    assert rule.fix_applicability in ("safe", "unsafe")
    assert "## Fix safety" in rule.documentation()


@pytest.mark.parametrize("rule", [r for r in RULES if not r.fix_applicability], ids=lambda r: r.code)
def test_rule_without_a_fix_offers_none(rule):
    for example in rule.invalid:
        assert all(d.fix is None for d in lint(example.source, [rule]))
        assert example.fixed is None


def test_unsafe_fixes_need_the_flag():
    unsafe_rules = [r for r in FIXABLE if r.fix_applicability == "unsafe"]
    for rule in unsafe_rules:
        for example in rule.invalid:
            if example.fixed is not None:
                assert fix(example.source, [rule], unsafe=False) == example.source


def test_fix_edits_are_in_the_json_shape():
    found = lint("import torch\nmodel.eval  # keep\n")
    assert found[0].to_json()["fix"] == {
        "applicability": "safe",
        "edits": [{"line": 2, "column": 11, "end_line": 2, "end_column": 11, "content": "()"}],
    }


SNIPPETS = [ex.source for r in FIXABLE for ex in r.invalid if ex.fixed is not None]
FILLER = st.sampled_from(
    [
        "# a comment with é and noqa-free text",
        "x = 'model.eval'  # a string is not code",
        "",
        "def helper(a, b=2):\n    return a + b",
        "s = '''\nmodel.train\n'''",
        "values = [1, 2,\n          3]",
        "class Plain:\n    pass",
        "if True:\n    y = 1\nelse:\n    y = 2",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(SNIPPETS), FILLER), min_size=1, max_size=8), st.booleans())
def test_fix_never_breaks_the_file_nor_touches_unreported_lines(parts, crlf):
    source = "\n".join(parts) + "\n"
    if crlf:
        source = source.replace("\n", "\r\n")
    data = source.encode("utf-8")
    result = fix_source(data, "mixed.py", FIXABLE, unsafe=True)
    assert result.error is None
    if result.new_source is None:
        return
    cst.parse_module(result.new_source)  # still Python
    before = data.decode("utf-8").splitlines(keepends=True)
    after = result.new_source.decode("utf-8").splitlines(keepends=True)
    # a fix may edit another line than the one it reports (GL304 adds retain_graph to the first backward):
    # what it may touch is the reported lines and the lines its own edits declare
    allowed = set()
    for d in lint(data, FIXABLE):
        allowed.update(range(d.line, d.end_line + 1))
        for edit in d.fix.edits if d.fix else ():
            allowed.update(range(edit.line, edit.end_line + 1))
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, first, last, _, _ in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            assert set(range(first + 1, last + 1)) <= allowed, (tag, before[first:last])
        elif tag == "insert":  # a new line (`with torch.no_grad():`) goes next to a reported one
            assert {first, first + 1} & allowed, (tag, first)
    assert (b"\r\n" in result.new_source) == crlf


# ---------------------------------------------------------------- the command line

BAD = "import torch\nmodel.eval\nwith torch.no_grad:\n    pass\ntorch.no_grad()\n"


def test_diff_prints_and_writes_nothing(cli, tmp_path):
    path = tmp_path / "a.py"
    path.write_text(BAD)
    result = cli("check", "--diff", "a.py", cwd=tmp_path)
    assert result.code == 1
    assert "-model.eval\n-with torch.no_grad:\n+model.eval()\n+with torch.no_grad():\n" in result.out
    assert path.read_text() == BAD
    clean = tmp_path / "c.py"
    clean.write_text("import torch\nmodel.eval()\n")
    assert cli("check", "--diff", "c.py", cwd=tmp_path).code == 0


def test_fix_writes_and_exit_code_counts_what_remains(cli, tmp_path):
    path = tmp_path / "a.py"
    path.write_text(BAD)
    result = cli("check", "--fix", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert result.code == 1  # GL202 has no fix
    assert path.read_text() == "import torch\nmodel.eval()\nwith torch.no_grad():\n    pass\ntorch.no_grad()\n"
    assert "Found 3 errors (2 fixed, 1 remaining)." in result.out
    path.write_text("import torch\nmodel.eval\n")
    assert cli("check", "--fix", "a.py", cwd=tmp_path).code == 0


def test_show_fixes(cli, tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    result = cli("check", "--fix", "--show-fixes", "a.py", cwd=tmp_path)
    assert "Fixed 2 errors:" in result.out and "1 \u00d7 GL105 (method-not-called)" in result.out


def test_fixable_marker_and_hint(cli, tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    result = cli("check", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert "a.py:2:1: GL105 error [*] '.eval' is never called" in result.out
    assert "[*] 2 fixable with the `--fix` option." in result.out


def test_fix_from_config(cli, tmp_path):
    (tmp_path / "a.py").write_text("import torch\nmodel.eval\n")
    (tmp_path / "pyproject.toml").write_text("[tool.autogradlint]\nfix = true\n")
    assert cli("check", "a.py", cwd=tmp_path).code == 0
    assert (tmp_path / "a.py").read_text() == "import torch\nmodel.eval()\n"
    (tmp_path / "a.py").write_text("import torch\nmodel.eval\n")
    assert cli("check", "--no-fix", "a.py", cwd=tmp_path).code == 1


@pytest.mark.parametrize(
    "raw,expected",
    [
        (b"import torch\r\nmodel.eval\r\nx = 1\r\n", b"import torch\r\nmodel.eval()\r\nx = 1\r\n"),
        (b"\xef\xbb\xbfimport torch\nmodel.eval\n", b"\xef\xbb\xbfimport torch\nmodel.eval()\n"),
        (b"# -*- coding: latin-1 -*-\ns = '\xe9'\nmodel.eval\n", b"# -*- coding: latin-1 -*-\ns = '\xe9'\nmodel.eval()\n"),
        (b"import torch\nmodel.eval", b"import torch\nmodel.eval()"),
    ],
    ids=["crlf", "bom", "latin-1", "no-final-newline"],
)
def test_fix_keeps_encoding_line_endings_and_bytes(cli, tmp_path, raw, expected):
    path = tmp_path / "a.py"
    path.write_bytes(raw)
    os.chmod(path, 0o754)
    diff = cli("check", "--diff", "a.py", cwd=tmp_path)
    assert diff.code == 1 and "+model.eval()" in diff.out
    assert path.read_bytes() == raw
    assert cli("check", "--fix", "a.py", cwd=tmp_path).code == 0
    assert path.read_bytes() == expected
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o754
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]  # no temporary file left


def test_file_without_fixes_is_not_rewritten(cli, tmp_path):
    path = tmp_path / "a.py"
    path.write_text("import torch\ntorch.no_grad()\n")
    os.utime(path, (1_000_000, 1_000_000))
    assert cli("check", "--fix", "a.py", cwd=tmp_path).code == 1
    assert os.stat(path).st_mtime == 1_000_000


def test_stdin_fix_prints_the_fixed_buffer(cli, tmp_path):
    result = cli("check", "--fix", "--stdin-filename", "a.py", "-", cwd=tmp_path, stdin=BAD)
    assert result.out == "import torch\nmodel.eval()\nwith torch.no_grad():\n    pass\ntorch.no_grad()\n"
    assert "GL202" in result.err and result.code == 1


def test_json_output_carries_fixes(cli, tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    data = json.loads(cli("check", "--output-format", "json", "a.py", cwd=tmp_path).out)
    by_code = {d["code"]: d["fix"] for d in data}
    assert by_code["GL202"] is None
    assert by_code["GL201"]["applicability"] == "safe"
    assert by_code["GL201"]["edits"] == [{"line": 3, "column": 19, "end_line": 3, "end_column": 19, "content": "()"}]


# ---------------------------------------------------------------- fixes that go wrong

from autogradlint.edits import Replacement  # noqa: E402
from autogradlint.rule import Rule  # noqa: E402


class BreaksTheFile(Rule):
    """## What it does\nA test rule whose fix produces code that does not parse."""

    code = "GL991"
    name = "breaks-the-file"
    message = "broken fix"
    triggers = ("model",)
    fix_applicability = "safe"

    def visit_Expr(self, node):
        # `class` passes LibCST's identifier check but is a keyword: `model.class` does not parse
        self.report(node, fix=Replacement(node.value.attr, cst.Name("class")))


class NeverConverges(Rule):
    """## What it does\nA test rule whose fix always leaves something to fix."""

    code = "GL992"
    name = "never-converges"
    message = "again"
    triggers = ("model",)
    fix_applicability = "safe"

    def visit_Name(self, node):
        if node.value.startswith("model"):
            self.report(node, fix=Replacement(node, cst.Name(node.value + "_")))


def test_a_fix_that_breaks_the_file_leaves_it_untouched_and_names_the_rule():
    source = b"import torch\nmodel.eval\n"
    result = fix_source(source, "x.py", [BreaksTheFile], unsafe=False)
    assert result.new_source is None
    assert "GL991" in result.error and "invalid code" in result.error
    assert [d.code for d in result.remaining] == ["GL991"]


def test_a_fix_that_does_not_converge_leaves_the_file_untouched():
    result = fix_source(b"model = 1\n", "x.py", [NeverConverges], unsafe=False)
    assert result.new_source is None
    assert "GL992" in result.error and "did not converge" in result.error


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_fix_with_generated_surrounding_code(data):
    """Findings mixed with arbitrary valid Python from hypothesmith: the fixed file still parses and
    fixing is idempotent."""
    import hypothesmith

    generated = data.draw(hypothesmith.from_grammar().filter(lambda s: s.strip() and "\\r" not in s and "\\x0c" not in s))
    snippet = data.draw(st.sampled_from(SNIPPETS))
    source = snippet + "\n" + generated + ("" if generated.endswith("\n") else "\n")
    try:
        cst.parse_module(source)
    except Exception:
        return  # hypothesmith's grammar admits a few programs LibCST rejects
    result = fix_source(source.encode("utf-8"), "gen.py", FIXABLE, unsafe=True)
    if result.new_source is not None:
        cst.parse_module(result.new_source)
        again = fix_source(result.new_source, "gen.py", FIXABLE, unsafe=True)
        assert again.new_source is None


def test_each_version_of_a_fixed_file_is_parsed_once(monkeypatch):
    # lint the file (one parse), apply the fix and check that the result parses (one parse), lint the result
    # with that tree: two versions, two parses
    parse = cst.parse_module
    calls = []

    def counted(source, *args, **kwargs):
        calls.append(source)
        return parse(source, *args, **kwargs)

    monkeypatch.setattr(cst, "parse_module", counted)
    source = b"import torch\nw = torch.zeros(3)\nw.require_grad = True\n"
    result = fix_source(source, "x.py", list(all_rules().values()), unsafe=True)
    assert result.new_source == b"import torch\nw = torch.zeros(3)\nw.requires_grad = True\n"
    assert calls == [source, result.new_source]
