"""Never lose a user's data, never hang, never lie (issue 14): each defect of a hostile probe, reproduced through
the real CLI. Everything that could hang runs in a subprocess under a timeout."""
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from conftest import Result, run_autogradlint

BAD = "import torch\nmodel.eval\n"
TIMEOUT = 60


def run(*args, cwd=None, stdin=None, env=None, prefix=(), timeout=TIMEOUT):
    """The CLI in a subprocess that cannot hang the test: killed after ``timeout`` seconds (a failure)."""
    return Result(run_autogradlint(*args, cwd=cwd, stdin=stdin, env=env, prefix=prefix, timeout=timeout))


def _unprivileged_prefix():
    """A command prefix under which permission bits apply: none for an ordinary user; for root, setpriv
    dropping the capabilities that let root read and search anything (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)
    while staying uid 0 (so that the interpreter under /root can still run)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    drop = "-dac_override,-dac_read_search"
    prefix = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}", "--"] if setpriv else None
    if prefix is None or subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("running as root, and setpriv cannot drop the capabilities that ignore permission bits")
    return prefix


@pytest.fixture
def unprivileged(tmp_path):
    """The CLI run so that permission bits stop it (see _unprivileged_prefix); skips only when impossible."""
    prefix = _unprivileged_prefix()
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    if subprocess.run([*prefix, sys.executable, "-c", f"open({str(probe)!r}).read()"], capture_output=True,
                      timeout=30).returncode == 0:
        pytest.skip("permission bits do not stop this process from reading")
    probe.unlink()

    def invoke(*args, cwd=None, stdin=None):
        return run(*args, cwd=cwd, stdin=stdin, prefix=prefix)

    return invoke


def tree(path):
    """Every path under ``path`` (relative, sorted), with the bytes of each file."""
    found = {}
    for directory, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = os.path.join(directory, name)
            relative = os.path.relpath(full, path)
            found[relative] = None if os.path.isdir(full) else open(full, "rb").read()
    return found


def git_project(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True, timeout=30)
    (project / "a.py").write_text(BAD)
    (project / "notes.txt").write_text("keep me\n")
    return project


# ------------------------------------------------------------------------------------------ 1. cache safety
def test_cache_dir_env_set_to_the_project_then_clean_keeps_the_project(tmp_path):
    project = git_project(tmp_path)
    before = tree(project)
    env = {"AUTOGRADLINT_CACHE_DIR": str(project)}
    first = run("check", "--output-format", "concise", ".", cwd=project, env=env)
    assert first.code == 1 and "a.py:2:1: GL105" in first.out
    # the project root is not the cache's: its files go to a folder of its own inside
    assert not (project / "CACHEDIR.TAG").exists() and not (project / ".gitignore").exists()
    assert (project / ".autogradlint_cache" / "CACHEDIR.TAG").is_file()
    cleaned = run("clean", cwd=project, env=env)
    assert cleaned.code == 0 and "Traceback" not in cleaned.err
    after = tree(project)
    assert after == before  # the project, .git included, is as it was: only the cache is gone


def test_cache_dir_dot_never_writes_into_the_project_root_nor_hides_its_files(tmp_path):
    project = git_project(tmp_path)
    before = tree(project)
    first = run("check", "--cache-dir", ".", "--output-format", "concise", ".", cwd=project)
    second = run("check", "--cache-dir", ".", "--output-format", "concise", ".", cwd=project)
    assert first.code == second.code == 1
    assert "a.py:2:1: GL105" in second.out and "All checks passed" not in second.out
    assert sorted(os.listdir(project)) == [".autogradlint_cache", ".git", "a.py", "notes.txt"]
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project,
                            capture_output=True, text=True, timeout=30).stdout
    assert "a.py" in status and "notes.txt" in status and ".autogradlint_cache" not in status
    cleaned = run("clean", "--cache-dir", ".", cwd=project)
    assert cleaned.code == 0 and "Traceback" not in cleaned.err and "error" not in cleaned.err
    assert tree(project) == before


def test_clean_removes_only_what_the_cache_wrote(tmp_path):
    cache = tmp_path / "cache"
    (tmp_path / "a.py").write_text(BAD)
    assert run("check", "--cache-dir", "cache", "a.py", cwd=tmp_path).code == 1
    assert sorted(p for p in os.listdir(cache) if not p.startswith("results-")) == [".gitignore", "CACHEDIR.TAG"]
    (cache / "mine.txt").write_text("a user's file put into the cache folder later\n")
    # a folder that now holds something else is no longer written to ...
    assert run("check", "--cache-dir", "cache", "a.py", cwd=tmp_path).code == 1
    assert (cache / ".autogradlint_cache" / "CACHEDIR.TAG").is_file()
    # ... and clean removes the cache's files, never the user's nor the folder holding it
    cleaned = run("clean", "--cache-dir", "cache", cwd=tmp_path)
    assert cleaned.code == 0, cleaned.err
    assert os.listdir(cache) == ["mine.txt"]


def test_clean_through_a_symlinked_cache_folder_keeps_the_link(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    assert run("check", "--cache-dir", "link", "a.py", cwd=tmp_path).code == 1
    assert (tmp_path / "real" / "CACHEDIR.TAG").is_file()
    assert run("clean", "--cache-dir", "link", cwd=tmp_path).code == 0
    assert (tmp_path / "link").is_symlink() and os.listdir(tmp_path / "real") == []


def test_a_foreign_cache_folder_is_not_used_and_the_run_says_so(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "data.bin").write_bytes(b"x")
    (tmp_path / "store" / ".autogradlint_cache").mkdir()
    (tmp_path / "store" / ".autogradlint_cache" / "other.txt").write_text("not the cache's\n")
    before = tree(tmp_path / "store")
    result = run("check", "--cache-dir", "store", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert result.code == 1 and "a.py:2:1: GL105" in result.out
    warnings = [line for line in result.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "the cache is not used" in warnings[0]
    assert run("clean", "--cache-dir", "store", cwd=tmp_path).code == 0
    assert tree(tmp_path / "store") == before


def test_what_held_four_processes_share_one_cache_and_agree(tmp_path):
    for i in range(12):
        (tmp_path / f"m{i:02d}.py").write_text(BAD if i % 2 else "x = 1\n")
    args = [sys.executable, "-m", "autogradlint", "check", "--output-format", "json", "."]
    outputs = set()
    for _ in range(3):
        processes = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
        try:
            for process in processes:
                out, err = process.communicate(timeout=TIMEOUT)
                assert process.returncode == 1 and err == b"", err
                outputs.add(out)
        finally:
            for process in processes:
                process.kill()
    assert len(outputs) == 1 and len(json.loads(outputs.pop())) == 6
    cache = tmp_path / ".autogradlint_cache"
    assert sorted(p for p in os.listdir(cache) if not p.startswith("results-")) == [".gitignore", "CACHEDIR.TAG"]
    assert len(os.listdir(cache)) == 3  # no temporary file left behind
    assert sorted(os.listdir(tmp_path))[0] == ".autogradlint_cache" and "CACHEDIR.TAG" not in os.listdir(tmp_path)


def test_what_held_a_cache_dir_that_is_a_file_or_read_only(tmp_path, unprivileged):
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "file").write_text("a file, not a folder\n")
    shaped = run("check", "--cache-dir", "file", "--output-format", "concise", "a.py", cwd=tmp_path)
    assert shaped.code == 1 and "a.py:2:1: GL105" in shaped.out and shaped.err == ""
    assert (tmp_path / "file").read_text() == "a file, not a folder\n"
    assert run("clean", "--cache-dir", "file", cwd=tmp_path).code == 0 and (tmp_path / "file").is_file()
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    try:
        locked = unprivileged("check", "--cache-dir", "ro", "--output-format", "concise", "a.py", cwd=tmp_path)
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert locked.code == 1 and "a.py:2:1: GL105" in locked.out and "Traceback" not in locked.err
    assert os.listdir(tmp_path / "ro") == []


@pytest.mark.parametrize("damage", [
    lambda e: e["diagnostics"][0].update(line=None),
    lambda e: e["diagnostics"][0].update(line="2"),
    lambda e: e["diagnostics"][0].update(line=True),
    lambda e: e["diagnostics"][0].update(path=7),
    lambda e: e["diagnostics"][0].update(fix={"applicability": "safe", "edits": [{"line": 1}]}),
    lambda e: e["diagnostics"][0].update(fix={"applicability": "safe", "edits": "x"}),
    lambda e: e.update(diagnostics={"a": 1}),
    lambda e: e.update(noqa=[[None, 3]]),
    lambda e: e.update(noqa=5),
    lambda e: e["diagnostics"].append("nonsense"),
], ids=["line-null", "line-string", "line-bool", "path-int", "edit-missing", "edits-string", "diagnostics-dict",
        "noqa-null", "noqa-int", "item-string"])
def test_a_damaged_cache_entry_is_a_miss(tmp_path, damage):
    (tmp_path / "a.py").write_text(BAD)
    args = ("check", "--output-format", "json", "a.py")
    first = run(*args, cwd=tmp_path)
    cache_file = next((tmp_path / ".autogradlint_cache").glob("results-*.json"))
    data = json.loads(cache_file.read_text())
    for entry in data["entries"].values():
        damage(entry)
    cache_file.write_text(json.dumps(data))
    again = run(*args, cwd=tmp_path)
    assert (again.code, again.out) == (first.code, first.out) and "internal error" not in again.err
    assert run(*args, cwd=tmp_path).out == first.out  # rebuilt


def test_a_deeply_nested_cache_file_is_ignored(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    first = run("check", "--output-format", "json", "a.py", cwd=tmp_path)
    cache_file = next((tmp_path / ".autogradlint_cache").glob("results-*.json"))
    data = json.loads(cache_file.read_text())
    for entry in data["entries"].values():
        entry["diagnostics"] = "@"
    text = json.dumps(data).replace('"@"', "[" * 100000 + "]" * 100000)
    cache_file.write_text(text)
    again = run("check", "--output-format", "json", "a.py", cwd=tmp_path)
    assert (again.code, again.out) == (first.code, first.out) and "internal error" not in again.err


# ------------------------------------------------------------------------------------------ 3. --fix writes
FIXED = "import torch\nmodel.eval()\n"


def test_fix_through_a_symlink_fixes_the_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target.py"
    target.write_text(BAD)
    link = tmp_path / "link.py"
    link.symlink_to(os.path.join("real", "target.py"))
    result = run("check", "--fix", "link.py", cwd=tmp_path)
    assert result.code == 0, result.err
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "target.py")
    assert target.read_text() == FIXED


def test_fix_keeps_hard_links(tmp_path):
    first, second = tmp_path / "a.py", tmp_path / "b_link.txt"
    first.write_text(BAD)
    os.link(first, second)
    inode = first.stat().st_ino
    result = run("check", "--fix", "a.py", cwd=tmp_path)
    assert result.code == 0, result.err
    assert first.stat().st_ino == second.stat().st_ino == inode and first.stat().st_nlink == 2
    assert second.read_text() == FIXED


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can make another user's file")
def test_fix_as_root_keeps_another_users_file_owned_by_that_user_with_its_mode(tmp_path):
    target = tmp_path / "a.py"
    target.write_text(BAD)
    os.chown(target, 65534, 65534)
    target.chmod(0o640)
    result = run("check", "--fix", "a.py", cwd=tmp_path)
    assert result.code == 0, result.err
    status = target.stat()
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (65534, 65534, 0o640)
    assert target.read_text() == FIXED


def test_fix_keeps_the_mode(tmp_path):
    target = tmp_path / "run.py"
    target.write_text(BAD)
    target.chmod(0o751)
    assert run("check", "--fix", "run.py", cwd=tmp_path).code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o751 and target.read_text() == FIXED


def test_fix_in_a_folder_that_is_not_writable_is_reported_and_not_counted(tmp_path, unprivileged):
    folder = tmp_path / "ro"
    folder.mkdir()
    target = folder / "a.py"
    target.write_text(BAD)
    target.chmod(0o444)
    folder.chmod(0o555)
    try:
        result = unprivileged("check", "--fix", "--output-format", "concise", "ro/a.py", cwd=tmp_path)
    finally:
        folder.chmod(0o755)
    assert target.read_text() == BAD
    assert result.code == 2 and "ro/a.py: cannot write the fixed file: Permission denied" in result.err
    assert "fixed" not in result.out and "ro/a.py:2:1: GL105" in result.out
    assert "Found 1 error." in result.out


# ------------------------------------------------------------------------------------------ 4. patterns
@pytest.mark.parametrize("line", ["[z-a]", "foo\\", "\\"])
def test_a_gitignore_line_git_accepts_never_aborts_the_run(tmp_path, line):
    project = git_project(tmp_path)
    (project / ".gitignore").write_text(f"{line}\nignored.py\n")
    (project / "ignored.py").write_text(BAD)
    result = run("check", "--no-cache", "--output-format", "concise", ".", cwd=project)
    assert result.code == 1 and "internal error" not in result.err
    assert "a.py:2:1: GL105" in result.out and "ignored.py" not in result.out  # the valid lines still count
    assert f".gitignore:1: invalid pattern '{line}' is ignored" in result.err


@pytest.mark.parametrize("key", ["exclude", "extend-exclude"])
@pytest.mark.parametrize("pattern", ["[z-a]", "foo\\\\", "\\\\"])
def test_a_bad_exclude_pattern_is_a_config_error_naming_file_and_key(tmp_path, key, pattern):
    (tmp_path / "pyproject.toml").write_text(f'[tool.autogradlint]\n{key} = ["{pattern}"]\n')
    (tmp_path / "a.py").write_text(BAD)
    result = run("check", "--no-cache", ".", cwd=tmp_path)
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and "internal error" not in result.err
    assert "pyproject.toml" in lines[0] and f"] {key}: invalid pattern" in lines[0]


def test_per_file_ignores_patterns_never_fail(tmp_path):
    """per-file-ignores are fnmatch patterns, which accept any text (a bad range matches nothing)."""
    (tmp_path / "pyproject.toml").write_text('[tool.autogradlint.per-file-ignores]\n"[z-a]" = ["GL105"]\n"a\\\\" = ["GL1"]\n')
    (tmp_path / "a.py").write_text(BAD)
    result = run("check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path)
    assert result.code == 1 and "a.py:2:1: GL105" in result.out and "error" not in result.err


# ------------------------------------------------------------------------------------------ 5. non-regular files
def test_a_fifo_walked_or_named_never_blocks(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    os.mkfifo(tmp_path / "x.py")
    walked = run("check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path)
    assert walked.code == 1 and "a.py:2:1: GL105" in walked.out and "x.py" not in walked.out + walked.err
    named = run("check", "--no-cache", "--output-format", "concise", "x.py", "a.py", cwd=tmp_path)
    assert named.code == 1 and "a.py:2:1: GL105" in named.out
    assert "autogradlint: warning: x.py: not a regular file (a FIFO): skipped" in named.err
    fixed = run("check", "--fix", "x.py", cwd=tmp_path)
    assert fixed.code == 0 and "not a regular file" in fixed.err


def test_dev_zero_named_is_skipped_not_read(tmp_path):
    result = run("check", "--no-cache", "/dev/zero", cwd=tmp_path)
    assert result.code == 0 and "/dev/zero: not a regular file (a character device): skipped" in result.err
    assert "MemoryError" not in result.err


@pytest.mark.parametrize("where", [".", "parent"])
def test_a_fifo_named_pyproject_toml_never_blocks(tmp_path, where):
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.py").write_text(BAD)
    os.mkfifo((project if where == "." else tmp_path) / "pyproject.toml")
    result = run("check", "--no-cache", "--output-format", "concise", ".", cwd=project)
    assert result.code == 1 and "a.py:2:1: GL105" in result.out
    named = run("check", "--config", "pyproject.toml", "a.py", cwd=project if where == "." else tmp_path)
    if where == ".":
        assert named.code == 2 and "pyproject.toml: cannot read: not a regular file (a FIFO)" in named.err


# ------------------------------------------------------------------------------------------ 6. size limit
def test_a_file_over_the_size_limit_is_one_finding_and_is_not_parsed(tmp_path):
    (tmp_path / "big.py").write_text("import torch\n" + "model.eval\n" * 300)  # 3.2 KiB
    (tmp_path / "small.py").write_text(BAD)
    args = ("check", "--no-cache", "--output-format", "json", ".")
    found = json.loads(run(*args, "--max-file-size", "2KB", cwd=tmp_path).out)
    assert [(d["path"], d["code"]) for d in found] == [("big.py", "GL002"), ("small.py", "GL105")]
    assert "3.2 KiB, over the limit of 2 KiB" in found[0]["message"] and "--max-file-size" in found[0]["message"]
    assert len(json.loads(run(*args, "--max-file-size", "0", cwd=tmp_path).out)) == 301  # 0: no limit
    (tmp_path / "pyproject.toml").write_text('[tool.autogradlint]\nmax-file-size = "2KB"\n')
    configured = run(*args, cwd=tmp_path)
    assert configured.code == 1 and [d["code"] for d in json.loads(configured.out)] == ["GL002", "GL105"]
    assert len(json.loads(run(*args, "--max-file-size", "1MB", cwd=tmp_path).out)) == 301  # the flag wins
    # --fix leaves it alone
    fixed = run("check", "--fix", "--output-format", "concise", "big.py", cwd=tmp_path)
    assert fixed.code == 1 and "GL002" in fixed.out and "model.eval()" not in (tmp_path / "big.py").read_text()


def test_the_default_size_limit_refuses_a_huge_file_without_reading_it_all(tmp_path):
    with open(tmp_path / "huge.py", "wb") as out:
        out.truncate(64 * 1024 ** 3)  # a sparse 64 GiB file: reading it would never end
    result = run("check", "--no-cache", "--output-format", "concise", "huge.py", cwd=tmp_path)
    assert result.code == 1 and "huge.py:1:1: GL002 error the file is too large to check: 64 GiB, over the limit of 2 MiB" in result.out


def test_stdin_over_the_size_limit(tmp_path):
    data = b"model.eval\n" * 200
    result = run("check", "--max-file-size", "1KB", "--output-format", "concise", "-", cwd=tmp_path, stdin=data)
    assert result.code == 1 and "-:1:1: GL002 error the file is too large to check: over the limit of 1 KiB" in result.out
    fixed = run("check", "--fix", "--max-file-size", "1KB", "-", cwd=tmp_path, stdin=data)
    assert fixed.out.encode() == data and "GL002" in fixed.err  # the buffer comes back unchanged
    endless = subprocess.run([sys.executable, "-m", "autogradlint", "check", "-"], stdin=open("/dev/zero", "rb"),
                             capture_output=True, timeout=TIMEOUT, cwd=tmp_path)
    assert endless.returncode == 1 and b"GL002" in endless.stdout


@pytest.mark.parametrize("value", ['"big"', "-1", "true", "1.5"])
def test_a_bad_max_file_size_is_a_config_error(tmp_path, value):
    (tmp_path / "pyproject.toml").write_text(f"[tool.autogradlint]\nmax-file-size = {value}\n")
    (tmp_path / "a.py").write_text(BAD)
    result = run("check", "a.py", cwd=tmp_path)
    assert result.code == 2 and "max-file-size must be a number of bytes" in result.err
    assert run("check", "--max-file-size", "lots", "a.py", cwd=tmp_path).code == 2


# ------------------------------------------------------------------------------------------ 7. honest exit codes
def test_an_unreadable_directory_is_reported_never_passed(tmp_path, unprivileged):
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "x.py").write_text(BAD)
    (tmp_path / "ok.py").write_text("x = 1\n")
    (tmp_path / "locked").chmod(0)
    try:
        walked = unprivileged("check", "--no-cache", ".", cwd=tmp_path)
        named = unprivileged("check", "--no-cache", "locked", cwd=tmp_path)
        inside = unprivileged("check", "--no-cache", "locked/x.py", cwd=tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    for result in (walked, named):
        assert result.code == 2 and "autogradlint: error: locked: cannot read the directory: Permission denied" in result.err
        assert "All checks passed" not in result.out and "1 path could not be checked" in result.out
    assert inside.code == 2 and "locked/x.py: cannot read: Permission denied" in inside.err
    assert "no such file" not in inside.err and "All checks passed" not in inside.out


def test_a_read_error_never_says_all_checks_passed(tmp_path, unprivileged):
    (tmp_path / "locked.py").write_text(BAD)
    (tmp_path / "locked.py").chmod(0)
    result = unprivileged("check", "--no-cache", "locked.py", cwd=tmp_path)
    assert result.code == 2 and "locked.py: cannot read: Permission denied" in result.err
    assert "All checks passed" not in result.out and "1 path could not be checked" in result.out


def _closed_reader(args, cwd):
    """The CLI with its stdout read by nobody (``| head -0``): the reader closes the pipe at once."""
    process = subprocess.Popen([sys.executable, "-m", "autogradlint", *args], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()
    try:
        _, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    return process.returncode, err.decode("utf-8", errors="replace")


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGPIPE"), reason="POSIX only")
@pytest.mark.parametrize("body", [BAD, "x = 1\n"], ids=["findings", "clean"])
def test_a_broken_pipe_is_not_clean_and_prints_nothing_else(tmp_path, body):
    import signal

    for i in range(30):
        (tmp_path / f"m{i:02d}.py").write_text(body)
    code, err = _closed_reader(["check", "--no-cache", "."], tmp_path)
    assert code == -signal.SIGPIPE and err == ""  # a shell reports 141, as for cat or grep
    code, err = _closed_reader(["rules"], tmp_path)
    assert code == -signal.SIGPIPE and err == ""


# ------------------------------------------------------------------------------------------ 8. empty selection
@pytest.mark.parametrize("flags", [("--select", ""), ("--select", ","), ("--select", " ")])
def test_an_empty_select_flag_is_a_usage_error(tmp_path, flags):
    (tmp_path / "a.py").write_text(BAD)
    result = run("check", *flags, "a.py", cwd=tmp_path)
    assert result.code == 2 and "--select: no rule code given" in result.err and result.out == ""


def test_an_empty_select_in_the_configuration_is_a_config_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.autogradlint]\nselect = []\n")
    (tmp_path / "a.py").write_text(BAD)
    result = run("check", "a.py", cwd=tmp_path)
    assert result.code == 2 and "pyproject.toml: [tool.autogradlint] select is empty" in result.err


def test_a_selection_the_ignores_empty_is_a_usage_error(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    result = run("check", "--select", "GL105", "--ignore", "GL105", "a.py", cwd=tmp_path)
    assert result.code == 2 and "no rule is selected" in result.err


# ------------------------------------------------------------------------------------------ 9. NUL bytes
@pytest.mark.parametrize("data,line,column", [
    (b'import torch\nx = "a\x00b"\nmodel.eval\n', 2, 7),
    (b"import torch\n# a comment \x00 here\nmodel.eval\n", 2, 13),
    (b"import torch\r\nx = 1\r\n\x00model.eval\r\n", 3, 1),
    (b"import torch\rx = 1\r\n# \xc3\xa9\x00\nmodel.eval\n", 3, 4),
], ids=["string", "comment", "crlf", "lone-cr-and-utf8"])
def test_a_nul_byte_anywhere_is_a_syntax_error_at_its_line_and_is_never_fixed(tmp_path, data, line, column):
    (tmp_path / "n.py").write_bytes(data)
    result = run("check", "--no-cache", "--output-format", "json", "n.py", cwd=tmp_path)
    found = json.loads(result.out)
    assert result.code == 1 and [(d["code"], d["line"], d["column"]) for d in found] == [("GL001", line, column)]
    assert found[0]["message"] == "SyntaxError: source code cannot contain null bytes"
    fixed = run("check", "--fix", "--unsafe-fixes", "n.py", cwd=tmp_path)
    assert fixed.code == 1 and (tmp_path / "n.py").read_bytes() == data
    with pytest.raises((SyntaxError, ValueError)):  # what CPython says of it
        compile(data, "n.py", "exec")


# ------------------------------------------------------------------------------------------ 10. file names
@pytest.mark.skipif(sys.platform == "darwin" or sys.platform.startswith("win"), reason="needs a file system that takes any bytes")
def test_a_file_name_that_is_not_utf8_is_shown_the_same_json_safe_way_everywhere(tmp_path):
    name = os.fsdecode(b"b\xff.py")
    (tmp_path / name).write_text(BAD)
    completed = subprocess.run([sys.executable, "-m", "autogradlint", "check", "--no-cache", "--output-format", "json", "."],
                               cwd=tmp_path, capture_output=True, timeout=TIMEOUT)
    text = completed.stdout.decode("utf-8")  # strict: valid UTF-8
    assert "\\ud" not in text  # no lone surrogate, escaped or not
    found = json.loads(text)
    assert completed.returncode == 1 and [(d["path"], d["code"]) for d in found] == [("b\\xff.py", "GL105")]
    for output_format in ("concise", "full"):
        shown = subprocess.run([sys.executable, "-m", "autogradlint", "check", "--no-cache", "--output-format", output_format, "."],
                               cwd=tmp_path, capture_output=True, timeout=TIMEOUT)
        assert b"b\\xff.py:2:1: GL105" in shown.stdout and b"\xff" not in shown.stdout
    (tmp_path / name).chmod(0o644)
    fixed = subprocess.run([sys.executable, "-m", "autogradlint", "check", "--fix", "--output-format", "concise", "--show-fixes", "."],
                           cwd=tmp_path, capture_output=True, timeout=TIMEOUT)
    assert fixed.returncode == 0 and b"- b\\xff.py:" in fixed.stdout and (tmp_path / name).read_text() == FIXED
