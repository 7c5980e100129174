"""The torch version a project is linted for: --torch-version, torch-version in the configuration, the project's
own torch pin (pyproject.toml, requirements*.txt), else the newest; and the rules whose findings depend on it."""
import json

import pytest

from autogradlint.pins import lowest_admitted, requirement_pin, _poetry_lowest

BARE = "import torch\n\n\n@torch.no_grad\ndef predict(model, x):\n    return model(x)\n"
ZERO_GRAD = ("import torch\nmodel = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
             "opt.zero_grad()\nopt.zero_grad(set_to_none=False)\n")


def project(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def findings(result):
    return [(d["code"], d["line"]) for d in json.loads(result.out)]


def test_bare_decorator_is_fine_for_the_newest_torch(cli, tmp_path):
    project(tmp_path, {"m.py": BARE})
    result = cli("check", "--no-cache", "m.py", cwd=tmp_path)
    assert result.code == 0, result.out + result.err


def test_torch_version_flag_makes_the_bare_decorator_an_error(cli, tmp_path):
    project(tmp_path, {"m.py": BARE})
    result = cli("check", "--no-cache", "--torch-version", "2.0", "--output-format", "concise", "m.py", cwd=tmp_path)
    assert result.code == 1
    assert "m.py:4:2: GL201" in result.out
    assert "'@torch.no_grad' without '()' raises TypeError before torch 2.1 (linting for torch 2.0)" in result.out
    assert cli("check", "--no-cache", "--torch-version", "2.1", "m.py", cwd=tmp_path).code == 0


def test_pyproject_pin_sets_the_version(cli, tmp_path):
    project(tmp_path, {"m.py": BARE, "pyproject.toml": '[project]\nname = "p"\ndependencies = ["numpy>=1.20", "torch>=1.13,<2.2"]\n'})
    result = cli("check", "--no-cache", "--output-format", "json", "m.py", cwd=tmp_path)
    assert result.code == 1 and findings(result) == [("GL201", 4)]
    shown = cli("check", "--show-settings", cwd=tmp_path)
    assert "torch version: 1.13 (from the project's pin: pyproject.toml project.dependencies 'torch>=1.13,<2.2')" in shown.out


def test_pin_is_found_from_a_subdirectory_and_in_optional_dependencies(cli, tmp_path):
    project(tmp_path, {"pyproject.toml": '[project]\nname = "p"\n[project.optional-dependencies]\ntrain = ["torch==2.0.1"]\n'})
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text(BARE)
    result = cli("check", "--no-cache", "--output-format", "json", "m.py", cwd=tmp_path / "src")
    assert result.code == 1 and findings(result) == [("GL201", 4)]


def test_requirements_pin_sets_the_version(cli, tmp_path):
    project(tmp_path, {"m.py": BARE, "requirements.txt": "# training\n--extra-index-url https://download.pytorch.org/whl/cu118\n"
                                                        "numpy\ntorch==2.0.1+cu118 ; platform_system == 'Linux'\n"})
    result = cli("check", "--no-cache", "--output-format", "json", "m.py", cwd=tmp_path)
    assert result.code == 1 and findings(result) == [("GL201", 4)]
    (tmp_path / "requirements.txt").write_text("torch~=2.1\n")
    assert cli("check", "--no-cache", "m.py", cwd=tmp_path).code == 0


def test_lowest_of_several_pins_wins(cli, tmp_path):
    project(tmp_path, {"m.py": BARE, "requirements.txt": "torch>=2.3\n", "requirements-legacy.txt": "torch>=1.12\n"})
    shown = cli("check", "--show-settings", cwd=tmp_path)
    assert "torch version: 1.12 (from the project's pin: requirements-legacy.txt 'torch>=1.12')" in shown.out


def test_poetry_pin(cli, tmp_path):
    project(tmp_path, {"m.py": BARE, "pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.9"\ntorch = {version = "^1.13", source = "pt"}\n'})
    assert cli("check", "--no-cache", "m.py", cwd=tmp_path).code == 1


def test_command_line_wins_over_config_and_pin(cli, tmp_path):
    project(tmp_path, {"m.py": BARE, "requirements.txt": "torch>=1.13\n",
                       "pyproject.toml": '[tool.autogradlint]\ntorch-version = "2.0"\n'})
    shown = cli("check", "--show-settings", cwd=tmp_path)
    assert "torch version: 2.0 (from torch-version in" in shown.out
    assert cli("check", "--no-cache", "m.py", cwd=tmp_path).code == 1
    result = cli("check", "--no-cache", "--torch-version", "2.1", "m.py", cwd=tmp_path)
    assert result.code == 0, result.out
    (tmp_path / "pyproject.toml").write_text('[tool.autogradlint]\ntorch-version = "2.4"\n')
    assert cli("check", "--no-cache", "m.py", cwd=tmp_path).code == 0, "the configuration wins over the pin"


@pytest.mark.parametrize("value", ['"2.x"', '"latest"', "2.1", '"0.4"'])
def test_bad_configured_version_is_a_config_error(cli, tmp_path, value):
    project(tmp_path, {"m.py": BARE, "pyproject.toml": f"[tool.autogradlint]\ntorch-version = {value}\n"})
    result = cli("check", "--no-cache", "m.py", cwd=tmp_path)
    assert result.code == 2
    assert "[tool.autogradlint] torch-version must be" in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_bad_command_line_version_is_a_usage_error(cli, tmp_path):
    project(tmp_path, {"m.py": BARE})
    result = cli("check", "--torch-version", "two", "m.py", cwd=tmp_path)
    assert result.code == 2
    assert "argument --torch-version: must be a torch release like \"2.1\", not 'two'" in result.err


def test_cached_results_are_not_reused_for_another_torch_version(cli, tmp_path):
    project(tmp_path, {"m.py": BARE})
    assert cli("check", "m.py", cwd=tmp_path).code == 0
    assert (tmp_path / ".autogradlint_cache").is_dir()
    assert cli("check", "--torch-version", "2.0", "m.py", cwd=tmp_path).code == 1
    assert cli("check", "m.py", cwd=tmp_path).code == 0


def test_zero_grad_before_torch_2_and_its_fix(cli, tmp_path):
    project(tmp_path, {"train.py": ZERO_GRAD})
    newest = cli("check", "--no-cache", "--output-format", "json", "train.py", cwd=tmp_path)
    assert findings(newest) == [("GL505", 5)]
    old = cli("check", "--no-cache", "--output-format", "json", "--torch-version", "1.13", "train.py", cwd=tmp_path)
    assert findings(old) == [("GL505", 4), ("GL505", 5)]
    assert all("set_to_none=True" in d["message"] for d in json.loads(old.out))
    fixed = cli("check", "--no-cache", "--fix", "--unsafe-fixes", "--torch-version", "1.13", "train.py", cwd=tmp_path)
    assert fixed.code == 0, fixed.out + fixed.err
    assert (tmp_path / "train.py").read_text() == ZERO_GRAD.replace("opt.zero_grad()", "opt.zero_grad(set_to_none=True)").replace(
        "set_to_none=False", "set_to_none=True")
    assert cli("check", "--no-cache", "--torch-version", "1.6", "train.py", cwd=tmp_path).code == 0


def test_checkpoint_before_use_reentrant_existed(cli, tmp_path):
    project(tmp_path, {"m.py": "from torch.utils.checkpoint import checkpoint\ny = checkpoint(block, x)\n"})
    assert cli("check", "--no-cache", "m.py", cwd=tmp_path).code == 1
    assert cli("check", "--no-cache", "--torch-version", "1.10", "m.py", cwd=tmp_path).code == 0


def test_eval_without_no_grad_suggests_no_grad_before_inference_mode(cli, tmp_path):
    project(tmp_path, {"m.py": "import torch\ndef evaluate(model, loader):\n    model.eval()\n    for x in loader:\n        model(x)\n"})
    new = cli("check", "--no-cache", "--output-format", "concise", "m.py", cwd=tmp_path)
    old = cli("check", "--no-cache", "--output-format", "concise", "--torch-version", "1.8", "m.py", cwd=tmp_path)
    assert "inference_mode" in new.out
    assert "GL401" in old.out and "inference_mode" not in old.out and "with torch.no_grad():" in old.out


@pytest.mark.parametrize("specifier,expected", [
    (">=1.13,<2.2", (1, 13)), ("==2.0.1", (2, 0)), ("~=2.1", (2, 1)), ("==2.1.*", (2, 1)), (">2.0", (2, 0)),
    ("<2.0", (1, 13)), ("<2.2", (2, 1)), ("<=2.1.2", (2, 1)), ("<2.1.1", (2, 1)), ("!=2.0.0", None), ("", None),
    (">=2.0.0a0", (2, 0)), ("===2.3.1", (2, 3)),
])
def test_lowest_admitted(specifier, expected):
    assert lowest_admitted(specifier) == expected


@pytest.mark.parametrize("requirement,expected", [
    ("torch>=1.13", (1, 13)), ("Torch (>=2.0)", (2, 0)), ("torch[opt-einsum]==2.2.0", (2, 2)),
    ("torch @ https://example.com/torch-2.0.whl", None), ("torchvision>=0.15", None), ("torch", None),
    ("torch>=2.1; python_version >= '3.8'", (2, 1)), ("pytorch-lightning>=2.0", None),
])
def test_requirement_pin(requirement, expected):
    assert requirement_pin(requirement) == expected


@pytest.mark.parametrize("constraint,expected", [
    ("^1.13", (1, 13)), ("~2.1", (2, 1)), ("2.0.1", (2, 0)), ("*", None), (">=1.12,<2.0", (1, 12)),
    (">=1.12 <2.0", (1, 12)), (">= 1.12, < 2.0", (1, 12)), ("^1.13 || ^2.0", (1, 13)),
])
def test_poetry_constraint(constraint, expected):
    assert _poetry_lowest(constraint) == expected


def test_deprecated_amp_api_only_where_torch_deprecates_it(cli, tmp_path):
    source = "import torch\nscaler = torch.cuda.amp.GradScaler(enabled=True)\n"
    project(tmp_path, {"train.py": source, "requirements.txt": "torch>=2.2,<3\n"})
    assert cli("check", "--no-cache", "train.py", cwd=tmp_path).code == 0, "2.2: no deprecation, no torch.amp.GradScaler"
    assert cli("check", "--no-cache", "--fix", "train.py", cwd=tmp_path).code == 0
    assert (tmp_path / "train.py").read_text() == source
    (tmp_path / "requirements.txt").write_text("torch>=2.4\n")
    result = cli("check", "--no-cache", "--output-format", "json", "train.py", cwd=tmp_path)
    assert findings(result) == [("GL706", 2)]
    assert "torch.cuda.amp.GradScaler' is deprecated since torch 2.4" in json.loads(result.out)[0]["message"]
    assert cli("check", "--no-cache", "--fix", "train.py", cwd=tmp_path).code == 0
    assert (tmp_path / "train.py").read_text() == 'import torch\nscaler = torch.amp.GradScaler("cuda", enabled=True)\n'


def test_a_fifo_named_like_a_pin_file_is_passed_over(cli, tmp_path):
    import os

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    project(tmp_path, {"m.py": BARE})
    os.mkfifo(tmp_path / "requirements.txt")
    os.mkfifo(tmp_path / "pyproject.toml")
    shown = cli("check", "--show-settings", cwd=tmp_path)
    assert shown.code == 0 and "torch version: 2.13 (from the newest torch autogradlint knows)" in shown.out
