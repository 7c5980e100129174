"""The release: one version, the published name only, and a wheel that works on its own in a fresh venv."""
import os
import re
import subprocess
import sys
import tarfile
import zipfile

import pytest

import autogradlint
from conftest import ROOT

# the old name, spelled so that this file does not match it
OLD_NAME = re.compile(r"(^|[^o])" + "grad" + "lint", re.I | re.M)


def test_version_is_printed_and_defined_once(cli):
    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"autogradlint {autogradlint.__version__}"
    from importlib.metadata import version

    assert version("autogradlint") == autogradlint.__version__
    # the version is written in autogradlint/__init__.py only; pyproject.toml reads it from there
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and not re.search(r"^version\s*=\s*\"", pyproject, re.M)


def test_python_dash_m_runs_the_cli(cli):
    result = cli("rule", "GL101")
    assert result.code == 0 and "requires_grad" in result.out


def test_nothing_is_named_by_the_old_name():
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    offenders = []
    for name in listed.stdout.splitlines():
        if OLD_NAME.search(name):
            offenders.append(name)
        elif name.endswith((".py", ".toml", ".md", ".yaml", ".yml", ".cfg", ".txt")):
            path = ROOT / name
            if path.is_file() and OLD_NAME.search(path.read_text(encoding="utf-8", errors="replace")):
                offenders.append(name)
    assert offenders == []


def _build(outdir, *args):
    completed = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(outdir), *args, str(ROOT)],
        capture_output=True, text=True, timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``python -m build``: the sdist, then the wheel built from that sdist."""
    outdir = tmp_path_factory.mktemp("dist")
    _build(outdir)
    (sdist,) = outdir.glob("autogradlint-*.tar.gz")
    (wheel,) = outdir.glob("autogradlint-*.whl")
    return sdist, wheel


def _wheel_contents(wheel):
    with zipfile.ZipFile(wheel) as archive:
        return {
            info.filename: archive.read(info.filename)
            for info in archive.infolist()
            if not info.filename.endswith(".dist-info/RECORD")
        }


@pytest.mark.slow
def test_wheel_ships_every_rule_and_data_file_and_metadata(built):
    sdist, wheel = built
    contents = _wheel_contents(wheel)
    names = set(contents)
    rule_modules = sorted(p.name for p in (ROOT / "rules").glob("*.py"))
    for module in rule_modules:
        assert f"autogradlint/rules/{module}" in names
    assert "autogradlint/rule_index.json" in names
    # torch's semantics as data ship with the analysis; the script that generates them (it imports torch) does not
    assert "autogradlint/analysis/torch_semantics.json" in names
    assert not any("gen_torch_semantics" in n for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    (metadata,) = [contents[n].decode() for n in names if n.endswith(".dist-info/METADATA")]
    assert f"Version: {autogradlint.__version__}" in metadata
    assert "Classifier: Topic :: Software Development :: Quality Assurance" in metadata
    assert "Classifier: License :: OSI Approved :: MIT License" in metadata
    assert "Classifier: Programming Language :: Python :: 3.9" in metadata
    assert "Keywords:" in metadata and "pytorch" in metadata
    assert "Description-Content-Type: text/markdown" in metadata
    assert "Requires-Python: >=3.9" in metadata
    with tarfile.open(sdist) as archive:
        sdist_names = archive.getnames()
    assert any(n.endswith("/LICENSE") for n in sdist_names)
    assert any(n.endswith("/rules/misspelled_requires_grad.py") for n in sdist_names)


@pytest.mark.slow
def test_sdist_builds_the_same_wheel_as_the_checkout(built, tmp_path):
    _, from_sdist = built
    _build(tmp_path, "--wheel")
    (from_checkout,) = tmp_path.glob("autogradlint-*.whl")
    assert _wheel_contents(from_checkout) == _wheel_contents(from_sdist)


@pytest.mark.slow
def test_wheel_alone_in_a_fresh_venv_lints_the_example(built, tmp_path):
    _, wheel = built
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    install = subprocess.run(
        [str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    (work / "train_bugs.py").write_bytes((ROOT / "examples" / "train_bugs.py").read_bytes())

    def run(*args):
        return subprocess.run([str(bindir / "autogradlint"), *args], cwd=work, capture_output=True, text=True,
                              env=env, timeout=300)

    where = subprocess.run([str(bindir / "python"), "-c", "import autogradlint, sys; print(autogradlint.__file__)"],
                           cwd=work, capture_output=True, text=True, env=env, timeout=120)
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout
    version = run("--version")
    assert version.stdout.strip() == f"autogradlint {autogradlint.__version__}"
    checked = run("check", "--no-cache", "--output-format", "concise", "train_bugs.py")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "Traceback" not in checked.stderr
    codes = set(re.findall(r": (GL\d{3}) ", checked.stdout))
    assert {"GL101", "GL201"} <= codes, checked.stdout
    listed = run("rules")
    assert listed.returncode == 0 and all(f"GL{n}" in listed.stdout for n in ("101", "201", "602"))
