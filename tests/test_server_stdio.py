"""``autogradlint server`` driven by the hand-written client of tests/lsp_stdio.py (plain JSON-RPC over the
process's pipes): how it ends (exit, closed stdin, a dead client process), a flood of changes, a rule that
raises, a missing pygls. These run on every supported Python, 3.9 included (pytest-lsp needs 3.10)."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

pytest.importorskip("pygls")

from conftest import run_autogradlint  # noqa: E402
from lsp_stdio import StdioClient  # noqa: E402
from server_helpers import SAMPLE, cli_findings, expected  # noqa: E402

BOUND = 30  # seconds: how long a server may take to notice its client is gone (a bound, not a measurement)


def _seen(diagnostics):
    return sorted(((d["code"], d["message"], d["severity"],
                    (d["range"]["start"]["line"], d["range"]["start"]["character"],
                     d["range"]["end"]["line"], d["range"]["end"]["character"])) for d in diagnostics),
                  key=lambda item: (item[3], item[0]))


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "sample.py"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


@pytest.fixture
def client(tmp_path):
    started = []

    def start(**kwargs):
        started.append(StdioClient(cwd=tmp_path, **kwargs))
        return started[-1]

    yield start
    for one in started:
        one.kill()


def _exited_within(process: subprocess.Popen, seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def test_diagnostics_and_a_clean_exit(client, project):
    server = client()
    server.initialize(project.parent)
    uri = server.open(project, SAMPLE)
    published = server.diagnostics(uri, 1)
    assert _seen(published) == expected(cli_findings(project), SAMPLE)
    assert server.close() == 0  # shutdown, then exit: 0
    assert b"Traceback" not in server.stderr


def test_exit_without_shutdown_exits_1(client, project):
    server = client()
    server.initialize(project.parent)
    server.notify("exit", None)
    assert _exited_within(server.process, BOUND)
    assert server.process.returncode == 1  # as LSP says for an exit that no shutdown preceded


def test_closed_stdin_ends_the_server(client, project):
    server = client()
    server.initialize(project.parent)
    uri = server.open(project, SAMPLE)
    server.diagnostics(uri, 1)
    server.process.stdin.close()
    assert _exited_within(server.process, BOUND)
    assert server.process.returncode == 0
    assert b"Traceback" not in server.stderr


def test_dead_client_process_ends_the_server(client, project):
    # the "editor" is another process; it dies without closing the server's stdin (this test keeps it open)
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        server = client()
        server.initialize(project.parent, process_id=editor.pid)
        uri = server.open(project, SAMPLE)
        server.diagnostics(uri, 1)
        assert server.process.poll() is None
    finally:
        editor.kill()
        editor.wait()
    assert _exited_within(server.process, BOUND)
    assert server.process.poll() is not None


def test_a_flood_of_changes_publishes_only_current_versions(client, project):
    server = client()
    server.initialize(project.parent)
    uri = server.open(project, SAMPLE)
    server.diagnostics(uri, 1)
    # 300 one-character edits at once: `p.require_grad` grows to `p.require_gradxxx...` and back to the fix
    text = SAMPLE
    line = text.splitlines()[6]
    at = len(line[:line.index("require_grad") + len("require_grad")].encode("utf-16-le")) // 2
    version = 1
    for step in range(300):
        version += 1
        if step < 150:
            change = {"range": {"start": {"line": 6, "character": at + step}, "end": {"line": 6, "character": at + step}},
                      "text": "x"}
        else:
            end = at + (300 - step)
            change = {"range": {"start": {"line": 6, "character": end - 1}, "end": {"line": 6, "character": end}}, "text": ""}
        server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                 "contentChanges": [change]})
    # the final text is the original one
    final = server.diagnostics(uri, version)
    assert _seen(final) == expected(cli_findings(project), SAMPLE)
    # what was published in between: far fewer lints than changes, in version order, none after the last
    versions = [n["params"].get("version") for n in server.log if n["method"] == "textDocument/publishDiagnostics"]
    assert 2 <= len(versions) < 30
    assert versions == sorted(versions) and versions[0] == 1 and versions[-1] == version
    server.close()


def _patched_gl101(tmp_path, body: str) -> dict:
    """The environment of a server whose rule GL101 runs ``body`` (Python, in a function of ``self, node``)
    instead of its own visitors, through a sitecustomize module."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(textwrap.dedent("""
        import time
        from autogradlint.rule import find_rule

        def _patched(self, node):
            %s

        _rule = find_rule("GL101").load()
        for _name in list(vars(_rule)):
            if _name.startswith(("visit_", "leave_")):
                setattr(_rule, _name, _patched)
    """) % body, encoding="utf-8")
    return {"PYTHONPATH": os.pathsep.join([str(hooks)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}


def test_exit_does_not_wait_for_a_long_lint(client, project, tmp_path):
    server = client(env=_patched_gl101(tmp_path, "time.sleep(600)"))
    server.initialize(project.parent)
    server.open(project, SAMPLE)
    time.sleep(1.0)  # the lint has started, and will not end for ten minutes
    server.request("shutdown", None)
    server.notify("exit", None)
    assert _exited_within(server.process, BOUND)
    assert server.process.returncode == 0


def test_a_rule_that_raises_gives_the_internal_error_finding(client, project, tmp_path):
    env = _patched_gl101(tmp_path, 'raise RuntimeError("boom")')
    server = client(env=env)
    server.initialize(project.parent)
    uri = server.open(project, SAMPLE)
    published = server.diagnostics(uri, 1)
    cli = run_autogradlint("check", "--no-cache", "--output-format", "json", project.name, cwd=project.parent, env=env)
    import json

    findings = json.loads(cli.stdout)
    assert any(f["code"] == "GL000" and "GL101" in f["message"] for f in findings)
    assert _seen(published) == expected(findings, SAMPLE)
    assert server.process.poll() is None  # still serving
    server.close()


def test_utf8_position_encoding(client, project):
    server = client()
    result = server.initialize(project.parent, capabilities={"general": {"positionEncodings": ["utf-8"]}})
    assert result["capabilities"]["positionEncoding"] == "utf-8"
    uri = server.open(project, SAMPLE)
    published = server.diagnostics(uri, 1)
    assert _seen(published) == expected(cli_findings(project), SAMPLE, "utf-8")
    # the emoji before GL101 is 4 bytes: the CLI's column 29 is byte 31 of the line
    assert next(d for d in published if d["code"] == "GL101")["range"]["start"]["character"] == 31
    server.close()


def test_without_pygls_a_one_line_error(tmp_path):
    blocked = tmp_path / "blocked"
    (blocked / "pygls").mkdir(parents=True)
    (blocked / "pygls" / "__init__.py").write_text("raise ImportError('No module named pygls')\n", encoding="utf-8")
    result = run_autogradlint("server", env={"PYTHONPATH": str(blocked)}, stdin=b"")
    err = result.stderr.decode()
    assert result.returncode == 2
    assert "pip install 'autogradlint[server]'" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_document_over_max_file_size_is_the_clis_gl002(client, project):
    (project.parent / "pyproject.toml").write_text("[tool.autogradlint]\nmax-file-size = 200\n", encoding="utf-8")
    server = client()
    server.initialize(project.parent)
    uri = server.open(project, SAMPLE)
    published = server.diagnostics(uri, 1)
    findings = cli_findings(project)
    assert [f["code"] for f in findings] == ["GL002"]
    assert _seen(published) == expected(findings, SAMPLE)
    server.close()


def test_an_empty_selection_is_reported_not_silent(client, project):
    server = client()
    server.initialize(project.parent, options={"autogradlint": {"select": ["GL101"], "ignore": ["GL101"]}})
    uri = server.open(project, SAMPLE)
    published = server.diagnostics(uri, 1)
    assert len(published) == 1 and "no rule is selected" in published[0]["message"]
    server.close()


def test_the_torch_version_is_the_clis(client, tmp_path):
    # the project pins torch below 2.4, where torch.cuda.amp is not deprecated yet: GL706 stays silent
    path = tmp_path / "amp.py"
    text = "import torch\nscaler = torch.cuda.amp.GradScaler()\n"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "requirements.txt").write_text("torch>=2.1,<2.3\n", encoding="utf-8")
    server = client()
    server.initialize(tmp_path)
    uri = server.open(path, text)
    assert server.diagnostics(uri, 1) == [] and cli_findings(path) == []
    # the pin is raised, and the client reports the change: the server reads it again
    (tmp_path / "requirements.txt").write_text("torch>=2.5\n", encoding="utf-8")
    server.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": (tmp_path / "requirements.txt").as_uri(), "type": 2}]})
    published = server.diagnostics(uri)
    assert [d["code"] for d in published] == ["GL706"]
    assert _seen(published) == expected(cli_findings(path), text)
    # the client's torchVersion setting overrides the pin, as --torch-version does
    server.notify("workspace/didChangeConfiguration", {"settings": {"autogradlint": {"torchVersion": "2.2"}}})
    assert server.diagnostics(uri) == []
    assert cli_findings(path, "--torch-version", "2.2") == []
    server.close()


def test_notebook_sync_is_offered(client, project):
    server = client()
    result = server.initialize(project.parent, capabilities={"notebookDocument": {"synchronization": {}}})
    offered = result["capabilities"].get("notebookDocumentSync")
    assert offered["notebookSelector"][0]["notebook"] == "jupyter-notebook"
    assert offered["notebookSelector"][0]["cells"] == [{"language": "python"}]
    server.close()
