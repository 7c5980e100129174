"""[tool.autogradlint] in pyproject.toml, merged with the command line; discovery and excludes."""
import json
import textwrap

import pytest

BAD = "import torch\np.require_grad = False\nmodel.eval\nwith torch.no_grad:\n    pass\n"


def codes(result):
    return [d["code"] for d in json.loads(result.out)]


def write_config(root, body):
    (root / "pyproject.toml").write_text("[tool.autogradlint]\n" + textwrap.dedent(body))


def test_select_and_ignore_from_config(cli, tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    write_config(tmp_path, 'select = ["GL1"]\nignore = ["method-not-called"]\n')
    assert codes(cli("check", "--output-format", "json", "bad.py", cwd=tmp_path)) == ["GL101"]


def test_cli_select_overrides_config_select(cli, tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    write_config(tmp_path, 'select = ["GL1"]\n')
    result = cli("check", "--output-format", "json", "--select", "GL201", "bad.py", cwd=tmp_path)
    assert codes(result) == ["GL201"]


def test_extend_select_from_config(cli, tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    write_config(tmp_path, 'select = ["GL101"]\nextend-select = ["GL2"]\n')
    assert codes(cli("check", "--output-format", "json", "bad.py", cwd=tmp_path)) == ["GL101", "GL201"]


def test_config_found_from_a_subdirectory(cli, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.py").write_text(BAD)
    write_config(tmp_path, 'ignore = ["GL105", "GL201"]\n')
    assert codes(cli("check", "--output-format", "json", "bad.py", cwd=tmp_path / "src")) == ["GL101"]


def test_output_format_from_config(cli, tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    write_config(tmp_path, 'output-format = "concise"\n')
    result = cli("check", "bad.py", cwd=tmp_path)
    assert result.out.splitlines()[0].startswith("bad.py:2:1: GL101 ")


def test_per_file_ignores(cli, tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(BAD)
    (tmp_path / "train.py").write_text(BAD)
    write_config(tmp_path, '[tool.autogradlint.per-file-ignores]\n"tests/*" = ["GL1"]\n"train.py" = ["grad-context-not-called"]\n')
    data = json.loads(cli("check", "--output-format", "json", ".", cwd=tmp_path).out)
    assert [(d["path"], d["code"]) for d in data] == [
        ("tests/test_x.py", "GL201"),
        ("train.py", "GL101"),
        ("train.py", "GL105"),
    ]


def test_exclude_and_extend_exclude(cli, tmp_path):
    for name in ("generated", "vendor", "src"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "m.py").write_text(BAD)
    write_config(tmp_path, 'extend-exclude = ["generated/", "vendor"]\n')
    data = json.loads(cli("check", "--output-format", "json", ".", cwd=tmp_path).out)
    assert {d["path"] for d in data} == {"src/m.py"}


def test_default_excludes_and_gitignore(cli, tmp_path):
    for name in (".venv", "build", "__pycache__", "ignored_dir", "src"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "m.py").write_text(BAD)
    (tmp_path / "src" / "scratch.py").write_text(BAD)
    (tmp_path / ".gitignore").write_text("ignored_dir/\nscratch.py\n")
    (tmp_path / ".git").mkdir()  # .gitignore counts inside a git repository, as for git itself
    data = json.loads(cli("check", "--output-format", "json", ".", cwd=tmp_path).out)
    assert {d["path"] for d in data} == {"src/m.py"}


def test_no_respect_gitignore(cli, tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "m.py").write_text(BAD)
    (tmp_path / ".gitignore").write_text("gen/\n")
    assert cli("check", "--output-format", "json", ".", cwd=tmp_path).code == 0
    assert cli("check", "--output-format", "json", "--no-respect-gitignore", ".", cwd=tmp_path).code == 1
    write_config(tmp_path, "respect-gitignore = false\n")
    assert cli("check", "--output-format", "json", ".", cwd=tmp_path).code == 1


def test_gitignore_outside_a_repository_is_not_used(cli, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text(BAD)
    (tmp_path / ".gitignore").write_text("src/\n")
    data = json.loads(cli("check", "--output-format", "json", ".", cwd=tmp_path).out)
    assert {d["path"] for d in data} == {"src/m.py"}


def test_explicit_file_is_checked_even_if_excluded_unless_forced(cli, tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "m.py").write_text(BAD)
    assert cli("check", "--output-format", "json", "build/m.py", cwd=tmp_path).code == 1
    assert cli("check", "--output-format", "json", "--force-exclude", "build/m.py", cwd=tmp_path).code == 0


@pytest.mark.parametrize(
    "body,expected",
    [
        ('select = ["GL999"]\n', "[tool.autogradlint] select: unknown rule code or name 'GL999'"),
        ('ignore = "GL101"\n', "[tool.autogradlint] ignore must be a list of strings, not a string"),
        ("select = [1]\n", "[tool.autogradlint] select must be a list of strings"),
        ('output-format = "xml"\n', "[tool.autogradlint] output-format must be one of full, concise, grouped, json, sarif, github, gitlab, junit, pylint, not 'xml'"),
        ('[tool.autogradlint.per-file-ignores]\n"a.py" = ["nope"]\n', "unknown rule code or name 'nope'"),
        ("select = [\n", "invalid TOML"),
    ],
)
def test_bad_config_is_a_one_line_error(cli, tmp_path, body, expected):
    (tmp_path / "bad.py").write_text(BAD)
    write_config(tmp_path, body)
    result = cli("check", "bad.py", cwd=tmp_path)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autogradlint: error: ") and expected in lines[0]
    assert "pyproject.toml" in lines[0]


def test_unknown_key_is_a_warning_naming_it(cli, tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    write_config(tmp_path, 'selekt = ["GL1"]\n')
    result = cli("check", "--output-format", "concise", "bad.py", cwd=tmp_path)
    assert result.code == 1
    assert "autogradlint: warning:" in result.err and "unknown key 'selekt'" in result.err


def test_explicit_config_flag(cli, tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "other.toml").write_text('[tool.autogradlint]\nselect = ["GL105"]\n')
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "pyproject.toml").write_text('[tool.autogradlint]\nselect = ["GL105"]\n')
    result = cli("check", "--output-format", "json", "--config", "cfg/pyproject.toml", "bad.py", cwd=tmp_path)
    assert codes(result) == ["GL105"]
    assert cli("check", "--config", "nope.toml", "bad.py", cwd=tmp_path).code == 2


def test_paths_are_shown_as_given_in_normal_form(cli, tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("import torch\nmodel.eval\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "b.py").write_text("import torch\nmodel.eval\n")
    result = cli("check", "--output-format", "concise", "./pkg//a.py", cwd=tmp_path)
    assert result.out.startswith("pkg/a.py:2:1: GL105")
    inside = cli("check", "--output-format", "concise", "../other/b.py", ".", cwd=tmp_path / "pkg")
    assert "../other/b.py:2:1: GL105" in inside.out and "\na.py:2:1: GL105" in "\n" + inside.out


def test_directory_walk_follows_file_links_but_not_directory_links(cli, tmp_path):
    bad = "import torch\nmodel.eval\n"
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.py").write_text(bad)
    (tmp_path / "linked_dir").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "linked.py").symlink_to(tmp_path / "real" / "x.py")
    (tmp_path / "broken.py").symlink_to(tmp_path / "missing.py")
    (tmp_path / "notes.txt").write_text(bad)
    result = cli("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert sorted(line.split(":")[0] for line in result.out.splitlines() if "GL105" in line) == ["linked.py", "real/x.py"]
    assert result.code == 1 and result.err == ""
