"""Never crash, never lie: odd files, generated code, mutations, bad configuration, determinism, internal errors."""
import gc
import json
import os
import random
import sys
import textwrap
import warnings

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings

from autogradlint.engine import lint_source
from autogradlint.rule import all_rules

from conftest import ROOT, lint

RULES = list(all_rules().values())
ENGINE_CODES = ("GL000", "GL001")


def codes(found):
    return [d.code for d in found]


def no_internal_error(found):
    assert not [d for d in found if d.code == "GL000"], found


# ------------------------------------------------------------------------------------------ odd files
@pytest.mark.parametrize(
    "data,expected",
    [
        (b"", []),
        (b"\xef\xbb\xbfmodel.eval\n", [("GL105", 1, 1)]),
        ("# -*- coding: latin-1 -*-\nx = '\xe9'; model.eval\n".encode("latin-1"), [("GL105", 2, 10)]),
        (b"import torch\r\nx = 1\r\nmodel.eval\r\n", [("GL105", 3, 1)]),
        (b"import torch\rx = 1\rmodel.eval\r", [("GL105", 3, 1)]),
        (b"import torch\n\x0cwith torch.no_grad:\n    pass\n", [("GL201", 2, 7)]),
        (b"import torch\nx = 1 \x0c+ 2\n\x0c\nmodel.eval\n", [("GL105", 4, 1)]),
        (b"import torch\nif x:\n\twith torch.no_grad:\n\t\tpass\n", [("GL201", 3, 7)]),
        (b"import torch\ntype X[T] = list[T]\ndef f[T: int](x: T) -> T:\n    model.eval\n", [("GL105", 4, 5)]),
        (b"import torch\nx = f\"{'a' + f'{y!r:>{10}}'}\"\nmodel.eval\n", [("GL105", 3, 1)]),
        (b"import torch\nmatch x:\n    case [1, *r] if r: model.eval\n    case _: pass\n", [("GL105", 3, 24)]),
    ],
    ids=["empty", "bom", "latin1", "crlf", "lone-cr", "form-feed-indent", "form-feed", "tabs", "pep695", "pep701", "match"],
)
def test_odd_but_valid_files(data, expected):
    assert [(d.code, d.line, d.column) for d in lint_source(data, "x.py", RULES)] == expected


@pytest.mark.parametrize(
    "data",
    [
        b"import torch\rwith torch.no_grad:\r    pass\r",  # lone CR: LibCST gives the file back without its last CR
        b"import torch\n\x0cwith torch.no_grad:\n    pass\n",  # a form feed in indentation is dropped by LibCST
    ],
)
def test_no_fix_is_offered_when_libcst_does_not_round_trip(data):
    found = lint_source(data, "x.py", RULES)
    assert codes(found) == ["GL201"] and found[0].fix is None


@pytest.mark.parametrize(
    "data,line",
    [
        (b"model.eval\nx = '\xff'\n", 1),  # invalid UTF-8
        (b"model.eval\n\x00\n", 2),  # NUL byte: at its line, as CPython reports it
        (b"import torch\nprint 'hello'\nmodel.eval\n", 2),  # Python 2
        (b"import torch\nexec 'x'\nraise E, 'v'\n", 2),
        (b"import torch\nx = 0777L\nmodel.eval\n", 2),
        (b"import torch\nif a <> b: model.eval\n", 2),
        (b"# -*- coding: no-such-codec -*-\nmodel.eval\n", 1),
    ],
    ids=["invalid-utf8", "nul", "print", "exec-raise", "octal-long", "diamond", "unknown-codec"],
)
def test_broken_files_give_exactly_one_syntax_error(data, line):
    found = lint_source(data, "x.py", RULES)
    assert [(d.code, d.line) for d in found] == [("GL001", line)]


@pytest.mark.parametrize(
    "body",
    [
        "x = " + "(" * 5000 + "1" + ")" * 5000,
        "x = " + "-" * 20000 + "1",
        "x = " + "+".join(["1"] * 50000),
        "x = a" + ".b" * 20000,
        "x = f" + "()" * 20000,
        "x = " + "not " * 5000 + "1",
        "x = " + " and ".join(["a"] * 20000),
        "x = " + "**".join(["a"] * 20000),
        "x = " + "lambda: " * 3000 + "1",
        "if a: pass\n" + "elif a: pass\n" * 5000,
        # the same chains over many short lines, inside brackets or joined by backslashes, behind strings
        "x = (\n" + " +\n".join(["1"] * 50000) + ")",
        "x = [\n" + " and\n".join(["a"] * 20000) + "]",
        "x = " + " \\\n- ".join(["-"] * 20000) + "1",
        "s = '((('  # )))\nx = (\n" + "".join(f"a{i} **\n" for i in range(20000)) + "a)",
    ],
    ids=["parens", "unary", "binop", "attribute", "call", "not", "and", "power", "lambda", "elif",
         "binop-lines", "and-lines", "unary-backslashes", "power-after-strings"],
)
def test_pathological_nesting_ends_in_one_clear_diagnostic(body):
    """LibCST's native parser overflows its stack (a crash) or takes minutes on these: they never reach it."""
    found = lint_source(("model.eval\n" + body + "\n").encode(), "x.py", RULES)
    assert codes(found) == ["GL001"]
    assert any(why in found[0].message for why in ("nested too deeply", "nested parentheses", "'and'/'or' operands"))


def test_ordinary_files_skip_the_screening_parse_and_long_statements_do_not():
    """Python's own parse screens only files with a statement long enough to trouble LibCST."""
    from autogradlint.screening import needs_screen as _needs_screen

    ordinary = b"import torch\n" + b"def f(x):\n    return (x +\n        1)  # ((\n" * 200 + b"s = ')]}'\n"
    # PEP 701 f-strings: on 3.12+ the byte scan cannot tell where an f-string ends, so every long file is screened
    assert _needs_screen(ordinary) is (sys.version_info >= (3, 12))
    assert _needs_screen(b"x = (\n" + b" +\n".join([b"1"] * 3000) + b")\n")
    assert _needs_screen(ordinary + b"x = (1,\n")  # an unclosed bracket: unsure
    assert _needs_screen(ordinary + b"x = 1)\n")
    assert _needs_screen(b"if a: pass\n" + b"elif a: pass\n" * 1000)


def test_deep_but_valid_nesting_is_analysed():
    """Deeper than Python's recursion limit lets LibCST's metadata go by default, but a tree CPython builds."""
    source = "import torch\nfrom torch.autograd import Variable\nx = " + "-" * 1500 + "Variable(t)\n"
    assert [(d.code, d.line) for d in lint(source)] == [("GL702", 3)]


def test_valid_python_libcst_rejects_is_not_called_a_syntax_error():
    found = lint_source(b"model.eval\nx = (" + b"'a' " * 20000 + b")\n", "x.py", RULES)
    assert codes(found) == ["GL001"] and "although Python can" in found[0].message


def test_very_long_lines_and_a_10_mb_file(tmp_path):
    line = "x = [" + "1, " * 5000 + "]\n"
    body = "import torch\nmodel.eval\n" + ("def f():\n    " + line) * 2
    assert [(d.code, d.line) for d in lint(body)] == [("GL105", 2)]
    # 10 MB of generated code, linted through the prefilter's fast path and through the parser's
    big = "x = 1\n" * (10 * 1024 * 1024 // 6)
    assert lint(big) == []
    assert lint(big + "# the prefilter lets it through: model\n") == []


def test_memory_is_released_after_each_file():
    """No syntax tree is kept once a file is done (per-file analysis caches used to keep every tree)."""
    source = (ROOT / "examples" / "train_bugs.py").read_bytes()
    lint_source(source, "x.py", RULES)
    gc.collect()
    before = sum(1 for o in gc.get_objects() if isinstance(o, cst.CSTNode))
    for _ in range(5):
        lint_source(source, "x.py", RULES)
    gc.collect()
    assert sum(1 for o in gc.get_objects() if isinstance(o, cst.CSTNode)) <= before


# ------------------------------------------------------------------------------------------ generated code
def _check_never_lies(data: bytes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = lint_source(data, "gen.py", RULES)
        no_internal_error(found)
        if b"\x00" in data:
            # CPython refuses any NUL byte, in a string or comment too, where LibCST takes it: one GL001
            assert codes(found) in ([], ["GL001"]), found
            return
        try:
            cst.parse_module(data)
        except Exception:
            # unparsable: exactly one syntax error (or nothing, when no rule's trigger word is in the file)
            assert codes(found) in ([], ["GL001"]), found
        else:
            assert "GL001" not in codes(found), found


def _mutations(source: str, rng: random.Random):
    lines = source.splitlines(keepends=True)
    tokens = source.split(" ")
    yield source[: rng.randrange(len(source) + 1)]  # truncated
    if len(tokens) > 1:
        i = rng.randrange(len(tokens))
        yield " ".join(tokens[:i] + tokens[i + 1:])  # a deleted token
    if len(lines) > 1:
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        swapped = list(lines)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        yield "".join(swapped)  # swapped lines
        yield "".join(lines[: i] + lines[i + 1:])  # a deleted line
    i = rng.randrange(len(source) + 1)
    yield source[:i] + rng.choice(["(", ")", ":", "\n", "    ", "'", '"""', "\\", "\x00", "\r"]) + source[i:]


def _examples():
    for rule in RULES:
        for example in list(rule.valid) + list(rule.invalid):
            yield rule.code, example.source


@pytest.mark.parametrize("code,source", list(_examples()))
def test_mutated_rule_examples_never_crash(code, source):
    rng = random.Random(f"{code}:{source}")
    for _ in range(3):
        for mutant in _mutations(source, rng):
            _check_never_lies(mutant.encode("utf-8", errors="surrogatepass"))


import hypothesmith  # noqa: E402 - a test dependency: a missing one must fail, not skip


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar())
def test_generated_python_never_crashes(source):
    # prefixed so that every rule is active: the prefilter would otherwise skip most generated code
    _check_never_lies(("import torch\nmodel.eval\n" + source).encode("utf-8", errors="surrogatepass"))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_node())
def test_generated_syntax_trees_never_crash(source):
    _check_never_lies(("import torch\nmodel.eval\n" + source).encode("utf-8", errors="surrogatepass"))


# ------------------------------------------------------------------------------------------ through the CLI
def test_unreadable_files_broken_symlinks_and_odd_paths(cli, tmp_path):
    (tmp_path / "good.py").write_text("model.eval\n")
    (tmp_path / "x.py").mkdir()  # a directory named like a file
    (tmp_path / "x.py" / "inner.py").write_text("model.train\n")
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    locked = tmp_path / "locked.py"
    locked.write_text("model.eval\n")
    locked.chmod(0)
    result = cli("check", "--output-format", "concise", "--no-cache", ".", cwd=tmp_path)
    assert "Traceback" not in result.err
    assert "good.py:1:1: GL105" in result.out and "x.py/inner.py:1:1: GL105" in result.out
    if os.geteuid() != 0:
        assert "locked.py: cannot read" in result.err and result.code == 2
    named = cli("check", "--no-cache", "dangling.py", cwd=tmp_path)
    assert named.code == 2 and "dangling.py: cannot read" in named.err and "Traceback" not in named.err
    missing = cli("check", "nope.py", cwd=tmp_path)
    assert missing.code == 2 and missing.err.strip() == "autogradlint: error: nope.py: no such file or directory"


def test_stdin_that_is_not_text(cli, tmp_path):
    result = cli("check", "--output-format", "json", "-", cwd=tmp_path, stdin=b"model.eval\n\xff\xfe\x00\x80\n")
    assert result.code == 1 and [d["code"] for d in json.loads(result.out)] == ["GL001"]
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "toml,needle",
    [
        ("[tool.autogradlint\nselect = 1\n", "invalid TOML"),
        ("[tool.autogradlint]\nselect = \"GL101\"\n", "select must be a list of strings"),
        ("[tool.autogradlint]\nignore = [1]\n", "ignore must be a list of strings"),
        ("[tool.autogradlint]\nfix = \"yes\"\n", "fix must be true or false"),
        ("[tool.autogradlint]\noutput-format = \"xml\"\n", "output-format must be one of"),
        ("[tool.autogradlint]\nselect = [\"GL999\"]\n", "select: unknown rule code or name 'GL999'"),
        ("[tool.autogradlint]\nextend-select = [\"nope\"]\n", "extend-select: unknown rule code or name 'nope'"),
        ("[tool.autogradlint.per-file-ignores]\n\"t/*\" = [\"GL998\"]\n", "per-file-ignores.\"t/*\": unknown rule code"),
        ("[tool.autogradlint]\nper-file-ignores = 3\n", "per-file-ignores must be a table"),
    ],
)
def test_bad_configuration_is_one_line_naming_file_and_key(cli, tmp_path, toml, needle):
    (tmp_path / "pyproject.toml").write_text(toml)
    (tmp_path / "a.py").write_text("model.eval\n")
    result = cli("check", "a.py", cwd=tmp_path)
    assert result.code == 2 and "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "pyproject.toml" in lines[0] and needle in lines[0], lines


def test_unknown_config_key_and_noqa_code_are_warnings(cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.autogradlint]\nselekt = [\"GL1\"]\n")
    (tmp_path / "a.py").write_text("import torch\nmodel.eval  # noqa: GL999, E501\nx = 1  # noqa: GL105, F401\n")
    result = cli("check", "--output-format", "concise", "--no-cache", "a.py", cwd=tmp_path)
    assert result.code == 1 and "a.py:2:1: GL105" in result.out
    assert "unknown key 'selekt'" in result.err
    assert "autogradlint: warning: a.py:2: unknown rule code 'GL999' in a noqa comment" in result.err
    assert "E501" not in result.err and "F401" not in result.err and "GL105" not in result.err


def test_output_is_byte_identical_for_jobs_and_cold_warm_or_corrupt_cache(cli, tmp_path):
    # examples that fire in a default run: of rules on by default, for the newest torch
    examples = [e.source for rule in RULES if rule.default for e in rule.invalid if e.torch_version is None][:30]
    for i, source in enumerate(examples):
        (tmp_path / f"m{i:02d}.py").write_text(source)
    (tmp_path / "broken.py").write_text("import torch\nmodel.eval(\n")
    (tmp_path / "crlf.py").write_bytes(b"import torch\r\nmodel.eval\r\n")
    args = ("check", "--output-format", "json", ".")
    runs = [cli(*args, "--jobs", "1", "--no-cache", cwd=tmp_path), cli(*args, "--jobs", "2", "--no-cache", cwd=tmp_path),
            cli(*args, "--jobs", "2", cwd=tmp_path), cli(*args, "--jobs", "1", cwd=tmp_path)]
    cache_file = next((tmp_path / ".autogradlint_cache").glob("results-*.json"))
    data = json.loads(cache_file.read_text())
    for number, entry in enumerate(data["entries"].values()):  # damage entries in several ways
        entry["diagnostics"] = [{"line": "x"}] if number % 3 == 0 else ("nonsense" if number % 3 == 1 else entry["diagnostics"])
        if number % 3 == 2:
            entry["key"] = 17
    cache_file.write_text(json.dumps(data))
    runs.append(cli(*args, "--jobs", "2", cwd=tmp_path))
    cache_file.write_bytes(b"\x00\xff garbage")
    runs.append(cli(*args, "--jobs", "2", cwd=tmp_path))
    assert len({r.out for r in runs}) == 1 and {r.code for r in runs} == {1}
    assert len(json.loads(runs[0].out)) >= 30
    (tmp_path / "m00.py").write_text("import torch\n")  # changed between runs: linted again
    after = cli(*args, "--jobs", "2", cwd=tmp_path)
    assert not [d for d in json.loads(after.out) if d["path"] == "m00.py"]


RAISING_WRAPPER = textwrap.dedent(
    """\
    import sys, time
    from autogradlint import rule as registry
    from autogradlint.cli import main

    class Raises(registry.Rule):
        '''## What it does\\nRaises, to test the engine.'''
        code, name, message, triggers = "GL990", "raises", "boom", ("model",)

        def visit_Name(self, node):
            if node.value == "boom":
                raise ZeroDivisionError("on purpose")

    class Stalls(registry.Rule):
        '''## What it does\\nNever ends, to test the time limit.'''
        code, name, message, triggers = "GL991", "stalls", "stall", ("model",)

        def visit_Name(self, node):
            if node.value == "stall":
                while True:
                    time.sleep(0.05)

    registry.all_rules()
    registry._REGISTRY.update({"GL990": Raises, "GL991": Stalls})
    registry.rule_index().update({"GL990": registry.RuleInfo.of(Raises), "GL991": registry.RuleInfo.of(Stalls)})
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.fixture
def wrapper(tmp_path):
    script = tmp_path / "wrapper.py"
    script.write_text(RAISING_WRAPPER)

    def run(*args):
        import subprocess

        completed = subprocess.run([sys.executable, str(script), *args], cwd=tmp_path, capture_output=True, timeout=300)
        return completed.returncode, completed.stdout.decode(), completed.stderr.decode()

    return run


def test_a_rule_that_raises_is_reported_with_exit_2_and_other_findings_still_print(wrapper, tmp_path):
    (tmp_path / "a.py").write_text("import torch\nboom\nmodel.eval\n")
    (tmp_path / "b.py").write_text("import torch\nmodel.train\n")
    code, out, err = wrapper("check", "--output-format", "concise", "--no-cache", "a.py", "b.py")
    assert code == 2 and "Traceback" not in err
    assert "a.py:1:1: GL000 error internal error in rule GL990 (raises): ZeroDivisionError" in out
    assert "a.py:3:1: GL105" in out and "b.py:2:1: GL105" in out


def test_a_file_over_the_time_limit_is_reported_and_the_run_goes_on(wrapper, tmp_path):
    (tmp_path / "a.py").write_text("import torch\nstall\nmodel.eval\n")
    (tmp_path / "b.py").write_text("import torch\nmodel.train\n")
    code, out, err = wrapper("check", "--output-format", "concise", "--file-timeout", "1", "a.py", "b.py")
    assert code == 2 and "Traceback" not in err
    assert "a.py:1:1: GL000 error internal error: linting a.py took longer than the 1 s limit (--file-timeout)" in out
    assert "b.py:2:1: GL105" in out
    assert not list((tmp_path / ".autogradlint_cache").glob("results-*.json")) or "a.py" not in next(
        (tmp_path / ".autogradlint_cache").glob("results-*.json")).read_text()
