"""Rules off by default (their findings on library code are mostly deliberate) run only when selected by code,
name, prefix or ALL; `autogradlint rules` and the README say which and why."""
import json

from autogradlint.rule import all_rules

from conftest import ROOT

DATA = "import torch\nmodel = torch.nn.Linear(2, 1)\nfor p in model.parameters():\n    p.data.clamp_(-0.01, 0.01)\n"


def codes(result):
    return [d["code"] for d in json.loads(result.out)]


def test_off_by_default_rule_is_silent_by_default(cli, tmp_path):
    (tmp_path / "m.py").write_text(DATA)
    result = cli("check", "--no-cache", "--output-format", "json", "m.py", cwd=tmp_path)
    assert result.code == 0 and codes(result) == []


def test_selected_by_code_name_prefix_or_all(cli, tmp_path):
    (tmp_path / "m.py").write_text(DATA)
    for flags in (["--extend-select", "GL309"], ["--extend-select", "data-attribute"], ["--select", "GL3"],
                  ["--select", "ALL"], ["--select", "GL"]):
        result = cli("check", "--no-cache", "--output-format", "json", *flags, "m.py", cwd=tmp_path)
        assert result.code == 1 and codes(result) == ["GL309"], flags


def test_selected_from_the_configuration(cli, tmp_path):
    (tmp_path / "m.py").write_text(DATA)
    (tmp_path / "pyproject.toml").write_text('[tool.autogradlint]\nextend-select = ["GL309"]\n')
    assert codes(cli("check", "--no-cache", "--output-format", "json", "m.py", cwd=tmp_path)) == ["GL309"]
    (tmp_path / "pyproject.toml").write_text('[tool.autogradlint]\nselect = ["ALL"]\nignore = ["GL3"]\n')
    assert cli("check", "--no-cache", "m.py", cwd=tmp_path).code == 0


def test_rules_command_marks_the_default_set(cli):
    listed = json.loads(cli("rules", "--json").out)
    by_code = {item["code"]: item for item in listed}
    assert by_code["GL309"]["default"] is False and "307 of the 354" in by_code["GL309"]["off_by_default"]
    assert by_code["GL101"]["default"] is True and by_code["GL101"]["off_by_default"] is None
    table = cli("rules").out
    assert "Off by default (select by code, prefix or ALL):" in table
    gl309 = next(line for line in table.splitlines() if line.startswith("GL309"))
    assert "  off  " in gl309
    assert "  on   " in next(line for line in table.splitlines() if line.startswith("GL101"))
    assert "Off by default (select it by code, prefix or ALL)." in cli("rule", "GL309").out


def test_every_rule_off_by_default_says_why():
    for rule in all_rules().values():
        if not rule.default:
            assert rule.off_by_default and "## Default selection" in rule.documentation(), rule.code


def test_readme_marks_the_default_set():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| GL309 | data-attribute | hint | unsafe | off |" in readme
    assert "| GL101 | misspelled-requires-grad | error | safe | on |" in readme
    assert "- GL309 (data-attribute): on library code its findings are mostly deliberate" in readme
