"""GL003 unused-noqa through the real CLI: opt-in, judges only rules that ran, and its fix removes unused codes."""
import json

SOURCE = (
    "import torch\n"
    "model = torch.nn.Linear(2, 1)\n"
    "model.eval  # noqa: GL105\n"                           # used: stays
    "model.train()  # noqa: GL105, E501\n"                  # GL105 unused; E501 is flake8's
    "model.zero_grad()  # noqa: GL101 GL105  # legacy\n"    # both unused; the other comment text stays
    "# noqa: GL201\n"                                      # alone on its line, unused: the line goes
    "x = torch.ones(2)  # noqa: GL309\n"                    # GL309 did not run (off by default)
    "y = torch.ones(2)  # noqa\n"                           # bare: may be for another tool
)
FIXED = (
    "import torch\n"
    "model = torch.nn.Linear(2, 1)\n"
    "model.eval  # noqa: GL105\n"
    "model.train()  # noqa: E501\n"
    "model.zero_grad()  # legacy\n"
    "x = torch.ones(2)  # noqa: GL309\n"
    "y = torch.ones(2)  # noqa\n"
)


def found(result):
    return [(d["code"], d["line"], d["column"]) for d in json.loads(result.out)]


def test_off_by_default(cli, tmp_path):
    (tmp_path / "m.py").write_text(SOURCE)
    result = cli("check", "--no-cache", "--output-format", "json", "m.py", cwd=tmp_path)
    assert result.code == 0 and found(result) == []


def test_reports_unused_codes_of_rules_that_ran(cli, tmp_path):
    (tmp_path / "m.py").write_text(SOURCE)
    result = cli("check", "--no-cache", "--output-format", "json", "--extend-select", "GL003", "m.py", cwd=tmp_path)
    assert result.code == 1
    assert found(result) == [("GL003", 4, 24), ("GL003", 5, 28), ("GL003", 6, 9)]
    messages = [d["message"] for d in json.loads(result.out)]
    assert messages[0].startswith("unused noqa code GL105 (method-not-called): nothing on this line is reported by it")
    assert messages[1].startswith("unused noqa codes GL101 (misspelled-requires-grad), GL105 (method-not-called)")
    assert all(d["fix"]["applicability"] == "safe" for d in json.loads(result.out))


def test_a_code_of_a_rule_that_did_not_run_is_not_unused(cli, tmp_path):
    (tmp_path / "m.py").write_text(SOURCE)
    everything = cli("check", "--no-cache", "--output-format", "json", "--select", "ALL", "m.py", cwd=tmp_path)
    assert ("GL003", 7, 28) in found(everything), "GL309 ran and found nothing on line 7"
    narrow = cli("check", "--no-cache", "--output-format", "json", "--select", "GL003,GL101", "m.py", cwd=tmp_path)
    assert found(narrow) == [("GL003", 5, 28)], "only GL101 ran besides GL003"
    assert "GL101 (misspelled-requires-grad)" in json.loads(narrow.out)[0]["message"]
    assert "GL105" not in json.loads(narrow.out)[0]["message"]


def test_per_file_ignores_switch_the_rule_off_for_the_file(cli, tmp_path):
    (tmp_path / "m.py").write_text(SOURCE)
    (tmp_path / "pyproject.toml").write_text('[tool.autogradlint]\nextend-select = ["GL003"]\n'
                                             '[tool.autogradlint.per-file-ignores]\n"m.py" = ["GL1", "GL2"]\n')
    assert found(cli("check", "--no-cache", "--output-format", "json", "m.py", cwd=tmp_path)) == []


def test_fix_removes_unused_codes_and_keeps_everything_else(cli, tmp_path):
    (tmp_path / "m.py").write_text(SOURCE)
    result = cli("check", "--no-cache", "--extend-select", "GL003", "--fix", "m.py", cwd=tmp_path)
    assert result.code == 0, result.out + result.err
    assert (tmp_path / "m.py").read_text() == FIXED
    again = cli("check", "--no-cache", "--extend-select", "GL003", "m.py", cwd=tmp_path)
    assert again.code == 0


def test_diff_and_crlf_line_ends(cli, tmp_path):
    source = SOURCE.replace("\n", "\r\n").encode()
    (tmp_path / "m.py").write_bytes(source)
    diff = cli("check", "--no-cache", "--extend-select", "GL003", "--diff", "m.py", cwd=tmp_path)
    assert diff.code == 1 and "-model.train()  # noqa: GL105, E501" in diff.out
    assert (tmp_path / "m.py").read_bytes() == source
    assert cli("check", "--no-cache", "--extend-select", "GL003", "--fix", "m.py", cwd=tmp_path).code == 0
    assert (tmp_path / "m.py").read_bytes() == FIXED.replace("\n", "\r\n").encode()


def test_gl002_can_itself_be_suppressed(cli, tmp_path):
    (tmp_path / "m.py").write_text("import torch\nmodel.train()  # noqa: GL105, GL003\n")
    assert cli("check", "--no-cache", "--extend-select", "GL003", "m.py", cwd=tmp_path).code == 0


def test_stdin_fix(cli, tmp_path):
    result = cli("check", "--extend-select", "GL003", "--fix", "--stdin-filename", "m.py", "-", cwd=tmp_path,
                 stdin="import torch\nmodel.train()  # noqa: GL105\n")
    assert result.code == 0 and result.out == "import torch\nmodel.train()\n"
