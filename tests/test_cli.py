"""The command line, run as a real subprocess: exit codes, formats, stdin, selection, discovery."""
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT

BAD = textwrap.dedent(
    """\
    import torch
    model = torch.nn.Linear(2, 2)
    for p in model.parameters():
        p.require_grad = False
    model.eval
    with torch.no_grad:
        pass
    """
)
CLEAN = "import torch\nwith torch.no_grad():\n    pass\ntorch.set_grad_enabled(False)\n"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "clean.py").write_text(CLEAN)
    return tmp_path


def concise(cli, *args, cwd, stdin=None):
    return cli("check", "--output-format", "concise", *args, cwd=cwd, stdin=stdin)


def test_findings_exit_1_in_concise_format(cli, project):
    result = concise(cli, "bad.py", cwd=project)
    assert result.code == 1
    assert result.out.splitlines()[:3] == [
        "bad.py:4:5: GL101 error [*] 'require_grad' is not a tensor attribute; nothing is frozen. Did you mean 'requires_grad'?",
        "bad.py:5:1: GL105 error [*] '.eval' is never called, so nothing happens. Add '()': '.eval()'",
        "bad.py:6:6: GL201 error [*] 'torch.no_grad' is a class, not a context manager instance: this 'with' raises TypeError. Add '()': 'torch.no_grad()'",
    ]
    assert result.out.splitlines()[-2:] == ["Found 3 errors.", "[*] 3 fixable with the `--fix` option."]


def test_clean_file_exits_0(cli, project):
    result = concise(cli, "clean.py", cwd=project)
    assert (result.code, result.out) == (0, "All checks passed!\n")


def test_directory_is_walked_and_findings_sorted(cli, project):
    (project / "pkg").mkdir()
    (project / "pkg" / "a.py").write_text("model.train\n")
    (project / "pkg" / "notes.txt").write_text("model.train\n")
    result = concise(cli, cwd=project)  # default path is "."
    paths = [line.split(":")[0] for line in result.out.splitlines() if line.endswith(")") or "GL" in line[:40]]
    assert paths == ["bad.py", "bad.py", "bad.py", "pkg/a.py"]


def test_full_format_shows_the_source_line(cli, project):
    result = cli("check", "bad.py", cwd=project)
    assert result.code == 1
    assert "4 |     p.require_grad = False" in result.out
    assert "  |     ^^^^^^^^^^^^^^ GL101" in result.out


def test_json_output_parses_and_has_the_documented_shape(cli, project):
    result = cli("check", "--output-format", "json", "bad.py", cwd=project)
    assert result.code == 1
    data = json.loads(result.out)
    assert [(d["code"], d["line"], d["column"]) for d in data] == [("GL101", 4, 5), ("GL105", 5, 1), ("GL201", 6, 6)]
    assert set(data[0]) == {"path", "line", "column", "end_line", "end_column", "code", "name", "severity", "message", "fix"}
    assert data[0]["end_column"] == 19 and data[0]["name"] == "misspelled-requires-grad"
    assert data[0]["severity"] == "error"


def test_json_output_for_clean_file_is_an_empty_list(cli, project):
    result = cli("check", "--output-format", "json", "clean.py", cwd=project)
    assert (result.code, json.loads(result.out)) == (0, [])


@pytest.mark.parametrize(
    "flags,codes",
    [
        (["--select", "GL101"], ["GL101"]),
        (["--select", "misspelled-requires-grad,GL2"], ["GL101", "GL201"]),
        (["--select", "GL1", "--ignore", "GL105"], ["GL101"]),
        (["--ignore", "GL1"], ["GL201"]),
        (["--ignore", "GL1", "--extend-select", "GL105"], ["GL105", "GL201"]),
        (["--select", "GL2", "--extend-select", "method-not-called"], ["GL105", "GL201"]),
        (["--select", "ALL", "--ignore", "GL201", "--ignore", "GL105"], ["GL101"]),
    ],
)
def test_rule_selection(cli, project, flags, codes):
    result = cli("check", "--output-format", "json", *flags, "bad.py", cwd=project)
    assert [d["code"] for d in json.loads(result.out)] == codes


@pytest.mark.parametrize("flag", ["--select", "--ignore", "--extend-select"])
def test_unknown_rule_code_is_a_one_line_error(cli, project, flag):
    result = cli("check", flag, "GL999", "bad.py", cwd=project)
    assert result.code == 2
    assert result.err.strip().splitlines() == [f"autogradlint: error: {flag}: unknown rule code or name 'GL999' (see 'autogradlint rules')"]
    assert "Traceback" not in result.err


def test_missing_path_is_an_error(cli, project):
    result = cli("check", "missing.py", cwd=project)
    assert result.code == 2
    assert result.err.strip() == "autogradlint: error: missing.py: no such file or directory"


def test_no_files_to_check_is_clean(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = concise(cli, "empty", cwd=tmp_path)
    assert result.code == 0


def test_exit_zero(cli, project):
    result = concise(cli, "--exit-zero", "bad.py", cwd=project)
    assert result.code == 0 and "GL101" in result.out


def test_statistics(cli, project):
    (project / "more.py").write_text("model.eval\nopt.step\n")
    result = cli("check", "--statistics", "bad.py", "more.py", cwd=project)
    assert result.code == 1
    assert result.out.splitlines()[:3] == [
        "    3\tGL105\tmethod-not-called",
        "    1\tGL101\tmisspelled-requires-grad",
        "    1\tGL201\tgrad-context-not-called",
    ]
    result = cli("check", "--statistics", "--output-format", "json", "bad.py", "more.py", cwd=project)
    assert json.loads(result.out)[0] == {"code": "GL105", "name": "method-not-called", "count": 3}


def test_stdin_with_filename(cli, project):
    result = concise(cli, "--stdin-filename", "src/train.py", "-", cwd=project, stdin=BAD)
    assert result.code == 1
    assert result.out.splitlines()[0].startswith("src/train.py:4:5: GL101 error [*] ")


def test_stdin_clean(cli, project):
    result = cli("check", "--output-format", "json", "--stdin-filename", "x.py", "-", cwd=project, stdin=CLEAN)
    assert (result.code, json.loads(result.out)) == (0, [])


def test_stdin_that_is_not_text(cli, project):
    result = concise(cli, "--stdin-filename", "x.py", "-", cwd=project, stdin=b"\xff\xfe\x00model.eval\x00")
    assert result.code == 1
    assert "GL001" in result.out and "Traceback" not in result.err


def test_syntax_error_is_one_diagnostic_and_the_run_goes_on(cli, project):
    (project / "broken.py").write_text("import torch\ndef f(:\n    model.eval()\n")
    result = concise(cli, "broken.py", "bad.py", cwd=project)
    assert result.code == 1
    broken = [line for line in result.out.splitlines() if line.startswith("broken.py")]
    assert len(broken) == 1 and broken[0].startswith("broken.py:2:") and "GL001 error SyntaxError" in broken[0]
    assert any(line.startswith("bad.py:4:5: GL101") for line in result.out.splitlines())
    assert "Traceback" not in result.err


def test_file_without_trigger_words_is_not_parsed(cli, project):
    """The prefilter: a file that cannot have a finding is done without parsing, even if broken."""
    (project / "other.py").write_text("def f(:\n    pass\n")
    assert concise(cli, "other.py", cwd=project).code == 0


def test_rule_command_prints_docs_by_code_and_name(cli):
    by_code = cli("rule", "GL101")
    by_name = cli("rule", "misspelled-requires-grad")
    assert by_code.code == 0 and by_code.out == by_name.out
    assert by_code.out.startswith("# misspelled-requires-grad (GL101)")
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety"):
        assert section in by_code.out


def test_rule_command_unknown(cli):
    result = cli("rule", "GL999")
    assert result.code == 2 and "unknown rule 'GL999'" in result.err


def test_rules_table_and_json(cli):
    from autogradlint.rule import all_rules

    table = cli("rules")
    assert table.code == 0
    rows = table.out.split("\n\n")[0].splitlines()  # the table, then why some rules are off by default
    assert [line.split()[0] for line in rows] == list(all_rules())
    data = json.loads(cli("rules", "--json").out)
    assert [d["code"] for d in data] == list(all_rules())
    assert {"code", "name", "severity", "fix", "summary"} <= set(data[0])


def test_no_subcommand_is_a_usage_error(cli):
    assert cli().code == 2


def test_console_script_is_installed(project):
    exe = shutil.which("autogradlint", path=str(Path(sys.executable).parent))
    assert exe is not None
    completed = subprocess.run([exe, "check", "--output-format", "concise", "bad.py"], cwd=project, capture_output=True, text=True)
    assert completed.returncode == 1 and "GL101" in completed.stdout


def test_example_in_readme_has_its_known_findings(cli):
    result = concise(cli, "examples/train_bugs.py", cwd=ROOT)
    assert result.code == 1
    found = [" ".join(line.split(" ")[:2]) for line in result.out.splitlines() if line.startswith("examples/")]
    assert "examples/train_bugs.py:21:9: GL101" in found
    assert "examples/train_bugs.py:37:5: GL105" in found
    assert "examples/train_bugs.py:39:10: GL201" in found
