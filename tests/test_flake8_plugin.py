"""The flake8 plugin, run by real flake8 in a subprocess: the same findings at the same line and column as
``autogradlint check --output-format concise``, and flake8's own selection and ``# noqa``."""
import re
import shutil
import subprocess
import sys

import pytest

from autogradlint.flake8_plugin import Plugin
from autogradlint.rule import all_rules

from conftest import ROOT

pytest.importorskip("flake8")

FLAKE8_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<message>.*)$")
CONCISE_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>GL\d{3}) (?:error|warning|hint) (?:\[\*\] )?(?P<message>.*)$")


def flake8(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd, capture_output=True,
                            text=True, timeout=600)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def findings(output, pattern):
    out = []
    for line in output.splitlines():
        match = pattern.match(line)
        if match:
            out.append((match["path"], int(match["line"]), int(match["col"]), match["code"], match["message"]))
    return sorted(out)


def test_flake8_sees_the_plugin(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True, timeout=120)
    assert "autogradlint" in result.stdout


def _write_examples(directory):
    """Every rule's examples, in a folder per torch release they are linted for ("newest" when any)."""
    for rule in all_rules().values():
        for kind, examples in (("invalid", rule.invalid), ("valid", rule.valid)):
            for i, example in enumerate(examples):
                folder = directory / (example.torch_version or "newest")
                folder.mkdir(exist_ok=True)
                (folder / f"{rule.code}_{kind}_{i}.py").write_text(example.source, encoding="utf-8")
    shutil.copy(ROOT / "examples" / "train_bugs.py", directory / "newest" / "train_bugs.py")


def _flake8_blanket_noqa(path, line):
    """Whether flake8's own noqa silences every code on this line: a '# noqa' whose codes flake8 cannot read
    (autogradlint also accepts rule names, '# noqa: misspelled-requires-grad', which flake8 takes as bare)."""
    from flake8.defaults import NOQA_INLINE_REGEXP

    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    match = NOQA_INLINE_REGEXP.search(text)
    return bool(match) and not match.group("codes")


def test_flake8_and_autogradlint_agree_on_every_example(tmp_path, cli):
    _write_examples(tmp_path)
    positions = set()
    for folder in sorted(tmp_path.iterdir()):
        version = [] if folder.name == "newest" else ["--torch-version", folder.name]
        flake8_version = [] if folder.name == "newest" else ["--autogradlint-torch-version", folder.name]
        ran = flake8("--select", "GL,E999", "--jobs", "2", *flake8_version, ".", cwd=folder)
        assert ran.returncode in (0, 1), ran.stderr
        by_flake8 = findings(ran.stdout, FLAKE8_LINE)
        unparsable = {path for path, _, _, code, _ in by_flake8 if code == "E999"}
        by_flake8 = [(p[2:] if p.startswith("./") else p, *rest) for p, *rest in by_flake8 if p not in unparsable]
        checked = cli("check", "--no-cache", "--select", "ALL", *version, "--output-format", "concise", ".", cwd=folder)
        assert checked.code in (0, 1), checked.err
        by_autogradlint = [f for f in findings(checked.out, CONCISE_LINE)
                           if "./" + f[0] not in unparsable and not _flake8_blanket_noqa(folder / f[0], f[1])]
        assert sorted(by_flake8) == sorted(by_autogradlint), folder.name
        positions |= {(folder.name, path, line, col, code) for path, line, col, code, _ in by_flake8}
    # every invalid example is in there, at its stated position (flake8 prints the 1-based column)
    for rule in all_rules().values():
        for i, example in enumerate(rule.invalid):
            folder = example.torch_version or "newest"
            if not _flake8_blanket_noqa(tmp_path / folder / f"{rule.code}_invalid_{i}.py", example.line):
                assert (folder, f"{rule.code}_invalid_{i}.py", example.line, example.column, rule.code) in positions
    assert any(path == "train_bugs.py" for _, path, *_ in positions)


def test_facts_from_the_projects_other_files_as_in_check(tmp_path, cli):
    # a model class imported from a sibling module: the same finding under flake8 as under 'autogradlint check'
    from test_project_facts import NET, PREDICT

    (tmp_path / "models.py").write_text(NET)
    (tmp_path / "train.py").write_text(PREDICT.format(imports="from models import Net", model="Net()"))
    by_flake8 = _codes(flake8("--select", "GL", "train.py", cwd=tmp_path))
    checked = cli("check", "--no-cache", "--output-format", "concise", "train.py", cwd=tmp_path)
    assert by_flake8 == [(line, col, code) for _, line, col, code, _ in findings(checked.out, CONCISE_LINE)]
    assert [code for *_, code in by_flake8] == ["GL306"]


def test_torch_version_is_the_projects_unless_flake8_is_told(tmp_path):
    (tmp_path / "dec.py").write_text("import torch\n@torch.no_grad\ndef f():\n    pass\n")
    assert _codes(flake8("--select", "GL", "dec.py", cwd=tmp_path)) == []  # fine in the newest torch
    assert _codes(flake8("--select", "GL", "--autogradlint-torch-version", "2.0", "dec.py", cwd=tmp_path)) == [(2, 2, "GL201")]
    # the project's own pin, as 'autogradlint check' reads it
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\ndependencies = ["torch==2.0.1"]\n')
    assert _codes(flake8("--select", "GL", "dec.py", cwd=tmp_path)) == [(2, 2, "GL201")]
    # flake8's own configuration
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / ".flake8").write_text("[flake8]\nautogradlint-torch-version = 2.0\n")
    ran = subprocess.run([sys.executable, "-m", "flake8", "--select", "GL", "dec.py"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert _codes(ran) == [(2, 2, "GL201")]
    bad = flake8("--autogradlint-torch-version", "two", "dec.py", cwd=tmp_path)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "--autogradlint-torch-version must be a torch release" in bad.stderr


@pytest.fixture
def project(tmp_path):
    (tmp_path / "train.py").write_text(
        "import torch\n"
        "model = torch.nn.Linear(2, 2)\n"
        "for p in model.parameters():\n"
        "    p.require_grad = False\n"
        "model.eval\n"
        "model.train  # noqa: GL105\n"
        "with torch.no_grad:\n"
        "    pass\n"
    )
    return tmp_path


def _codes(result):
    return [(line, col, code) for _, line, col, code, _ in findings(result.stdout, FLAKE8_LINE)]


def test_flake8_selection_and_noqa_apply_to_gl_codes(project):
    default = flake8("train.py", cwd=project)
    assert default.returncode == 1
    # on by default (flake8 adds a plugin's codes to its default selection); the noqa line is silent
    assert _codes(default) == [(4, 5, "GL101"), (5, 1, "GL105"), (7, 6, "GL201")]
    assert _codes(flake8("--extend-ignore", "GL105", "train.py", cwd=project)) == [(4, 5, "GL101"), (7, 6, "GL201")]
    assert _codes(flake8("--select", "GL2", "train.py", cwd=project)) == [(7, 6, "GL201")]
    assert _codes(flake8("--select", "E,W", "train.py", cwd=project)) == []
    assert flake8("--select", "E,W", "train.py", cwd=project).returncode == 0
    assert _codes(flake8("--per-file-ignores", "train.py:GL1", "train.py", cwd=project)) == [(7, 6, "GL201")]


def test_flake8_output_format_options_apply(project):
    result = flake8("--format", "pylint", "--select", "GL101", "train.py", cwd=project)
    assert result.stdout.strip() == "train.py:4: [GL101] 'require_grad' is not a tensor attribute; nothing is frozen. Did you mean 'requires_grad'?"


def test_columns_match_after_tabs_and_non_ascii(tmp_path, cli):
    source = "import torch\nx = 'é😀'; model.eval\nif True:\n\tmodel.train\n"
    (tmp_path / "u.py").write_text(source, encoding="utf-8")
    latin = "# -*- coding: latin-1 -*-\nx = '\xe9\xe8'; model.eval\n"
    (tmp_path / "l.py").write_bytes(latin.encode("latin-1"))
    by_flake8 = [(p[2:] if p.startswith("./") else p, *rest)
                 for p, *rest in findings(flake8("--select", "GL", ".", cwd=tmp_path).stdout, FLAKE8_LINE)]
    checked = cli("check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path)
    by_autogradlint = findings(checked.out, CONCISE_LINE)
    assert by_flake8 == by_autogradlint
    assert [(p, line, col) for p, line, col, *_ in by_flake8] == [("l.py", 2, 11), ("u.py", 2, 11), ("u.py", 4, 2)]


def test_a_coding_comment_after_a_line_of_code_declares_nothing(tmp_path, cli):
    # PEP 263: the declaration counts only on line 1, or on line 2 below a comment; flake8 decodes this file as
    # UTF-8, and the plugin must hand the engine the same UTF-8 bytes (not re-encode them as Latin-1)
    source = "import torch\n# coding: latin-1\nx = '\xe9'; model.eval\n"
    (tmp_path / "c.py").write_text(source, encoding="utf-8")
    by_flake8 = [(p[2:] if p.startswith("./") else p, *rest)
                 for p, *rest in findings(flake8("--select", "GL", ".", cwd=tmp_path).stdout, FLAKE8_LINE)]
    checked = cli("check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path)
    assert by_flake8 == findings(checked.out, CONCISE_LINE)
    assert [(p, line, code) for p, line, _, code, _ in by_flake8] == [("c.py", 3, "GL105")]


def test_a_syntax_error_is_flake8s_e999_only(tmp_path):
    (tmp_path / "broken.py").write_text("model.eval\ndef f(:\n")
    result = flake8("--select", "GL,E999", "broken.py", cwd=tmp_path)
    assert [code for *_, code in _codes(result)] == ["E999"]


def test_plugin_drops_the_engines_syntax_error_finding():
    # text LibCST cannot read: the plugin yields nothing rather than a GL001 beside flake8's E999
    lines = ["model.eval\n", "def f(:\n"]
    assert list(Plugin(None, "x.py", lines).run()) == []


def test_plugin_columns_are_zero_based_for_flake8():
    (finding,) = Plugin(None, "x.py", ["import torch\n", "with torch.no_grad:\n", "    pass\n"]).run()
    line, column, text, _ = finding
    # autogradlint's column is 6 (1-based); flake8 wants 5 and prints 6
    assert (line, column) == (2, 5) and text.startswith("GL201 ")


def _flake8_in_process(monkeypatch, capsys, off, *args):
    """Real flake8, run in this process so that which rules are off by default can be set for the test."""
    from flake8.main.cli import main

    import autogradlint.flake8_plugin as plugin

    monkeypatch.setattr(plugin, "off_by_default", lambda: list(off))
    main(["--isolated", "--jobs", "1", *args])
    return [line.split(": ")[1].split()[0] for line in capsys.readouterr().out.splitlines()]


def test_rules_off_by_default_are_in_flake8s_default_ignore(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    assert _flake8_in_process(monkeypatch, capsys, ["GL105"], "train.py") == ["GL101", "GL201"]
    assert _flake8_in_process(monkeypatch, capsys, ["GL105"], "--extend-select", "GL105", "train.py") == ["GL101", "GL105", "GL201"]
    # a prefix selects them, as in autogradlint's own --select
    assert _flake8_in_process(monkeypatch, capsys, ["GL105"], "--select", "GL1", "train.py") == ["GL101", "GL105"]
    assert _flake8_in_process(monkeypatch, capsys, [], "train.py") == ["GL101", "GL105", "GL201"]


def test_off_by_default_follows_the_rules_default_flag():
    from autogradlint.flake8_plugin import off_by_default
    from autogradlint.rule import rule_index

    assert off_by_default() == [r.code for r in rule_index().values() if not getattr(r, "default", True)]
