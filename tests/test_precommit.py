"""The pre-commit hook, really run by pre-commit against this repository."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


def _pre_commit(cwd, home, *args):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=900
    )


def test_hook_reports_staged_files_and_passes_clean_ones(tmp_path, pre_commit_home):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "user-repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text("import torch\nwith torch.no_grad:\n    pass\n")
    (repo / "ok.py").write_text("import torch\nwith torch.no_grad():\n    pass\n")
    _git(repo, "add", ".")

    bad = _pre_commit(repo, pre_commit_home, "try-repo", str(ROOT), "autogradlint", "--files", "train.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "train.py:2:6: GL201" in bad.stdout

    good = _pre_commit(repo, pre_commit_home, "try-repo", str(ROOT), "autogradlint", "--files", "ok.py")
    assert good.returncode == 0, good.stdout + good.stderr
