"""The pre-commit hook, really run by pre-commit against this repository."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


def _git_repo(tmp_path, name="user-repo"):
    """A fresh git repository under ``tmp_path`` (the test is skipped where git is not installed)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / name
    repo.mkdir()
    _git(repo, "init", "-q")
    return repo


def _pre_commit(cwd, home, *args):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=900
    )


def test_hook_reports_staged_files_and_passes_clean_ones(tmp_path, pre_commit_home):
    repo = _git_repo(tmp_path)
    (repo / "train.py").write_text("import torch\nwith torch.no_grad:\n    pass\n")
    (repo / "ok.py").write_text("import torch\nwith torch.no_grad():\n    pass\n")
    _git(repo, "add", ".")

    bad = _pre_commit(repo, pre_commit_home, "try-repo", str(ROOT), "autogradlint", "--files", "train.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "train.py:2:6: GL201" in bad.stdout

    good = _pre_commit(repo, pre_commit_home, "try-repo", str(ROOT), "autogradlint", "--files", "ok.py")
    assert good.returncode == 0, good.stdout + good.stderr


def test_fix_hook_fixes_a_staged_file_then_passes(tmp_path, pre_commit_home):
    repo = _git_repo(tmp_path)
    (repo / "train.py").write_text("import torch\nwith torch.no_grad:\n    pass\nmodel.eval\n")
    _git(repo, "add", ".")

    first = _pre_commit(repo, pre_commit_home, "try-repo", str(ROOT), "autogradlint-fix", "--files", "train.py")
    # pre-commit fails a hook that modified files, even though nothing is left to report
    assert first.returncode == 1, first.stdout + first.stderr
    assert "files were modified by this hook" in first.stdout
    assert (repo / "train.py").read_text() == "import torch\nwith torch.no_grad():\n    pass\nmodel.eval()\n"

    _git(repo, "add", ".")
    second = _pre_commit(repo, pre_commit_home, "try-repo", str(ROOT), "autogradlint-fix", "--files", "train.py")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Passed" in second.stdout


def test_fix_hook_still_fails_on_what_it_cannot_fix(tmp_path, pre_commit_home):
    repo = _git_repo(tmp_path)
    # GL202 has no fix: the file is left as it is and the hook reports it
    source = "import torch\ntorch.no_grad()\n"
    (repo / "train.py").write_text(source)
    _git(repo, "add", ".")
    result = _pre_commit(repo, pre_commit_home, "try-repo", str(ROOT), "autogradlint-fix", "--files", "train.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "train.py:2:1: GL202" in result.stdout
    assert (repo / "train.py").read_text() == source


def test_hooks_run_on_python_files_and_notebooks():
    import yaml

    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"autogradlint", "autogradlint-fix"}
    for hook in hooks.values():
        assert hook["types_or"] == ["python", "jupyter"] and hook["language"] == "python"
    assert hooks["autogradlint"]["entry"] == "autogradlint check --force-exclude"
    assert hooks["autogradlint-fix"]["entry"] == "autogradlint check --force-exclude --fix"


def test_hook_runs_on_staged_notebooks(tmp_path, pre_commit_home):
    """types_or: [python, jupyter]: pre-commit hands the hook .ipynb files too."""
    repo = _git_repo(tmp_path, "nb-repo")
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook()
    nb.cells = [new_markdown_cell("# Train"), new_code_cell("import torch"),
                new_code_cell("%matplotlib inline\nwith torch.no_grad:\n    pass")]
    nbformat.write(nb, str(repo / "train.ipynb"))
    _git(repo, "add", ".")
    result = _pre_commit(repo, pre_commit_home, "try-repo", str(ROOT), "autogradlint", "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "train.ipynb:cell 3:2:6: GL201" in result.stdout
