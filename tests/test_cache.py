"""The result cache and parallel linting: same output whatever the cache state or number of jobs."""
import json

import autogradlint
from autogradlint.cache import Cache, entry_key

BAD = "import torch\nmodel.eval\n"


def _cache_file(root):
    files = list((root / ".autogradlint_cache").glob("results-*.json"))
    assert len(files) == 1
    return files[0]


def _poison(root, message):
    """Replace every cached finding's message, to see whether a run used the cache."""
    path = _cache_file(root)
    data = json.loads(path.read_text())
    for entry in data["entries"].values():
        for item in entry["diagnostics"]:
            item["message"] = message
    path.write_text(json.dumps(data))


def test_warm_run_uses_the_cache_and_an_edit_is_relinted(cli, tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    cold = cli("check", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert (tmp_path / ".autogradlint_cache" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    _poison(tmp_path, "from the cache")
    warm = cli("check", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert "from the cache" in warm.out and warm.code == cold.code == 1
    (tmp_path / "a.py").write_text(BAD + "model.train\n")
    edited = cli("check", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert "from the cache" not in edited.out and edited.out.count("GL105") == 2


def test_changed_configuration_is_relinted(cli, tmp_path):
    (tmp_path / "a.py").write_text(BAD + "p.require_grad = False\n")
    cli("check", "a.py", cwd=tmp_path)
    _poison(tmp_path, "from the cache")
    result = cli("check", "--output-format", "concise", "--select", "GL101", "a.py", cwd=tmp_path)
    assert "from the cache" not in result.out and "GL101" in result.out and "GL105" not in result.out


def test_new_autogradlint_build_does_not_reuse_results(tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    key = entry_key(b"x", ["GL101"])
    cache.put("/a.py", key, [])
    cache.save()
    assert Cache(tmp_path).get("/a.py", key) == ([], [])
    monkeypatch.setattr(autogradlint, "__version__", "999.0")
    assert Cache(tmp_path).get("/a.py", key) is None


def test_damaged_cache_is_ignored_and_rebuilt(cli, tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    first = cli("check", "--output-format", "concise", "a.py", cwd=tmp_path)
    _cache_file(tmp_path).write_text("{ not json")
    again = cli("check", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert again.out == first.out
    json.loads(_cache_file(tmp_path).read_text())  # rebuilt
    data = json.loads(_cache_file(tmp_path).read_text())
    for entry in data["entries"].values():
        entry["diagnostics"] = [{"path": "a.py", "line": "bad"}]
    _cache_file(tmp_path).write_text(json.dumps(data))
    assert cli("check", "--output-format", "concise", "a.py", cwd=tmp_path).out == first.out


def test_no_cache_and_cache_dir_and_clean(cli, tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    cli("check", "--no-cache", "a.py", cwd=tmp_path)
    assert not (tmp_path / ".autogradlint_cache").exists()
    cli("check", "--cache-dir", "elsewhere", "a.py", cwd=tmp_path)
    assert (tmp_path / "elsewhere" / "CACHEDIR.TAG").exists()
    cli("check", "a.py", cwd=tmp_path)
    assert (tmp_path / ".autogradlint_cache").exists()
    assert cli("clean", cwd=tmp_path).code == 0
    assert not (tmp_path / ".autogradlint_cache").exists()
    cli("clean", "--cache-dir", "elsewhere", cwd=tmp_path)
    assert not (tmp_path / "elsewhere").exists()


def test_output_is_identical_for_any_jobs_and_cache_state(cli, tmp_path):
    for i in range(40):
        body = BAD if i % 3 else "import torch\nwith torch.no_grad():\n    pass\n"
        (tmp_path / f"m{i:02d}.py").write_text(body + f"# file {i}\n")
    (tmp_path / "broken.py").write_text("model.eval(\n")
    args = ("check", "--output-format", "json", ".")
    one = cli(*args, "--jobs", "1", "--no-cache", cwd=tmp_path)
    many = cli(*args, "--jobs", "2", "--no-cache", cwd=tmp_path)
    cold = cli(*args, "--jobs", "2", cwd=tmp_path)
    warm = cli(*args, "--jobs", "2", cwd=tmp_path)
    assert one.out == many.out == cold.out == warm.out
    assert one.code == many.code == cold.code == warm.code == 1
    assert len(json.loads(one.out)) == 27


_LOADED = (
    "import sys\n"
    "from autogradlint.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('LOADED', sorted(m for m in sys.modules if m == 'libcst' or m.startswith('autogradlint.rules.')))\n"
)


def _loaded(tmp_path, *args):
    import subprocess
    import sys

    completed = subprocess.run([sys.executable, "-c", _LOADED, "check", "--output-format", "concise", *args],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120)
    return completed.stdout


def test_a_fully_cached_run_imports_neither_libcst_nor_any_rule(tmp_path):
    """What makes an unchanged repository re-lint almost instantly: a run whose files are all cached
    reads the stored rule index and the cache, and never imports LibCST or a rule module."""
    (tmp_path / "a.py").write_text(BAD)
    cold = _loaded(tmp_path, "a.py")
    assert "'libcst'" in cold and "a.py:2:1: GL105" in cold
    warm = _loaded(tmp_path, "a.py")
    assert "LOADED []" in warm and "a.py:2:1: GL105" in warm


def test_a_fully_cached_project_run_imports_no_libcst_either(tmp_path):
    """The same with files that import each other and call each other's functions: checking the summaries a
    cached result depends on (imports, callers) needs no LibCST."""
    (tmp_path / "models.py").write_text("import torch\nclass Net(torch.nn.Module):\n    pass\n")
    (tmp_path / "engine.py").write_text("def evaluate(model):\n    model.eval\n")
    (tmp_path / "train.py").write_text("from models import Net\nfrom engine import evaluate\nevaluate(Net())\n")
    cold = _loaded(tmp_path, ".")
    assert "'libcst'" in cold and "engine.py:2:5: GL105" in cold
    warm = _loaded(tmp_path, ".")
    assert "LOADED []" in warm and "engine.py:2:5: GL105" in warm


def test_a_run_imports_only_the_rules_its_files_trigger(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    out = _loaded(tmp_path, "--no-cache", "a.py")
    assert "autogradlint.rules.method_not_called" in out  # GL105: its trigger 'eval' is in the file
    assert "autogradlint.rules.variable_wrapper" not in out  # GL702 needs 'Variable'
    assert "autogradlint.rules.gradcheck_single_precision" not in out


def test_a_cached_file_still_warns_about_unknown_noqa_codes(cli, tmp_path):
    (tmp_path / "a.py").write_text("import torch\nmodel.eval  # noqa: GL999\n")
    cold = cli("check", "--output-format", "concise", "a.py", cwd=tmp_path)
    _poison(tmp_path, "from the cache")
    warm = cli("check", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert "from the cache" in warm.out
    for run in (cold, warm):
        assert "a.py:2: unknown rule code 'GL999' in a noqa comment" in run.err


_NO_DIGEST = (
    "import sys\n"
    "import autogradlint.rule\n"
    "def refuse():\n"
    "    raise RuntimeError('the rule sources were read')\n"
    "autogradlint.rule.rules_digest = refuse\n"
    "from autogradlint.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_a_warm_run_trusts_the_rule_index_its_cache_vouches_for(cli, tmp_path):
    """Checking the stored rule index against the rules' sources reads every rule module; a cache file
    (named after the size and time of every autogradlint source) that says the index was current spares that."""
    import subprocess
    import sys

    (tmp_path / "a.py").write_text(BAD)
    cold = cli("check", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert json.loads(_cache_file(tmp_path).read_text())["index_current"] is True

    def without_digest():
        return subprocess.run([sys.executable, "-c", _NO_DIGEST, "check", "--output-format", "concise", "a.py"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    warm = without_digest()
    assert warm.stdout == cold.out and warm.returncode == 1
    data = json.loads(_cache_file(tmp_path).read_text())
    data["index_current"] = False  # as written by a run that found the index stale
    _cache_file(tmp_path).write_text(json.dumps(data))
    unvouched = without_digest()
    assert "the rule sources were read" in unvouched.stderr
