"""``autogradlint server`` driven over stdio by pytest-lsp's client, with real LSP messages; every finding,
fix and edit is compared with what the CLI gives for the same file and configuration."""
import asyncio
import os
import sys
from pathlib import Path

import pytest

if sys.version_info < (3, 10):  # pytest-lsp 1.x needs Python 3.10+ (tests/test_server_stdio.py runs everywhere)
    pytest.skip("pytest-lsp needs Python 3.10+", allow_module_level=True)
# a test dependency on 3.10+: a missing one must fail, not skip
import pytest_lsp  # noqa: E402,F401

from lsprotocol import types  # noqa: E402
from pytest_lsp import LanguageClient  # noqa: E402

from conftest import run_autogradlint  # noqa: E402
from server_helpers import (  # noqa: E402
    SAMPLE, apply_edits, cli_edits_as_lsp, cli_findings, cli_fixed, expected, lsp_client_fixture)

pytestmark = pytest.mark.asyncio

WAIT = 60  # seconds: a bound for a hung server, not a measurement


client = lsp_client_fixture()


def _capabilities(encodings=None, document_changes=False, resolve=False) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=encodings) if encodings else None,
        workspace=types.WorkspaceClientCapabilities(
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=document_changes),
            configuration=True,
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=False)),
        text_document=types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(
                resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]) if resolve else None)),
    )


async def _start(client: LanguageClient, root: Path, options=None, **capabilities) -> types.InitializeResult:
    return await client.initialize_session(types.InitializeParams(
        capabilities=_capabilities(**capabilities), root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        initialization_options=options))


async def _diagnostics(client: LanguageClient, uri: str, version=None, after: int = 0):
    """The first diagnostics published for ``uri`` (of ``version``) after the ``after``-th publication."""
    async def found():
        while True:
            for params in client.published[after:]:
                if params.uri == uri and (version is None or params.version == version):
                    return params.diagnostics
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(found(), WAIT)


def _open(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)))
    return uri


def _seen(diagnostics):
    return sorted(((d.code, d.message, d.severity.value,
                    (d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character))
                   for d in diagnostics), key=lambda item: (item[3], item[0]))


def _edits(action: types.CodeAction, uri: str):
    edit = action.edit
    if edit.document_changes:
        text_edits = [e for change in edit.document_changes if change.text_document.uri == uri for e in change.edits]
    else:
        text_edits = edit.changes.get(uri, [])
    return sorted(((e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character), e.new_text)
                  for e in text_edits)


def _project(tmp_path: Path, config: str = "") -> Path:
    if config:
        (tmp_path / "pyproject.toml").write_text("[tool.autogradlint]\n" + config, encoding="utf-8")
    path = tmp_path / "sample.py"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ diagnostics


async def test_open_publishes_the_cli_findings_in_utf16(client: LanguageClient, tmp_path: Path):
    path = _project(tmp_path)
    result = await _start(client, tmp_path)
    assert result.capabilities.position_encoding == "utf-16"
    uri = _open(client, path, SAMPLE)
    published = await _diagnostics(client, uri, 1)
    findings = cli_findings(path)
    assert {f["code"] for f in findings} >= {"GL101", "GL105", "GL201", "GL106", "GL702"}
    assert _seen(published) == expected(findings, SAMPLE)
    # the emoji before the GL101 finding is two UTF-16 code units: the CLI's column 29 is character 29
    gl101 = next(d for d in published if d.code == "GL101")
    assert gl101.range.start.character == 29
    assert all(d.source == "autogradlint" for d in published)
    assert next(d for d in published if d.code == "GL702").severity == types.DiagnosticSeverity.Information


async def test_utf32_when_the_client_prefers_it(client: LanguageClient, tmp_path: Path):
    path = _project(tmp_path)
    result = await _start(client, tmp_path, encodings=["utf-32", "utf-16"])
    assert result.capabilities.position_encoding == "utf-32"
    uri = _open(client, path, SAMPLE)
    published = await _diagnostics(client, uri, 1)
    assert _seen(published) == expected(cli_findings(path), SAMPLE, "utf-32")
    assert next(d for d in published if d.code == "GL101").range.start.character == 28


async def test_change_save_and_close(client: LanguageClient, tmp_path: Path):
    path = _project(tmp_path)
    await _start(client, tmp_path)
    uri = _open(client, path, SAMPLE)
    await _diagnostics(client, uri, 1)
    # an incremental edit: `require_grad` -> `requires_grad` (the UTF-16 column of the `_` after `require`)
    line = SAMPLE.splitlines()[6]
    character = len(line[:line.index("require_grad") + len("require")].encode("utf-16-le")) // 2
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(6, character), types.Position(6, character)), text="s")]))
    published = await _diagnostics(client, uri, 2)
    new_text = SAMPLE.replace("require_grad", "requires_grad")
    path.write_text(new_text, encoding="utf-8")
    assert _seen(published) == expected(cli_findings(path), new_text)
    assert "GL101" not in {d.code for d in published}

    # a whole-text change, then save: published again, equal to the CLI's
    fixed_text = new_text.replace("model.eval\n", "model.eval()\n")
    count = len(client.published)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed_text)]))
    await _diagnostics(client, uri, 3, after=count)
    path.write_text(fixed_text, encoding="utf-8")
    count = len(client.published)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri), text=fixed_text))
    saved = await _diagnostics(client, uri, after=count)
    assert _seen(saved) == expected(cli_findings(path), fixed_text)
    assert "GL105" not in {d.code for d in saved}

    count = len(client.published)
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    assert list(await _diagnostics(client, uri, after=count)) == []


async def test_syntax_error_is_one_diagnostic_then_cleared(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "broken.py"
    broken = "import torch\ndef f(:\n    p.require_grad = False\n"
    path.write_text(broken, encoding="utf-8")
    await _start(client, tmp_path)
    uri = _open(client, path, broken)
    published = await _diagnostics(client, uri, 1)
    assert [d.code for d in published] == ["GL001"]
    assert _seen(published) == expected(cli_findings(path), broken)
    # the server lives on: the repaired text is linted
    repaired = broken.replace("def f(:", "def f(p):")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=repaired)]))
    assert [d.code for d in await _diagnostics(client, uri, 2)] == ["GL101"]


# ------------------------------------------------------------------------------------------------ code actions


async def _actions(client, uri, diagnostic=None, only=None, range_=None):
    range_ = range_ or diagnostic.range
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=range_,
        context=types.CodeActionContext(diagnostics=[diagnostic] if diagnostic else [], only=only)))


@pytest.mark.parametrize("document_changes", [False, True])
async def test_quick_fixes_are_the_cli_fixes(client: LanguageClient, tmp_path: Path, document_changes: bool):
    path = _project(tmp_path)
    await _start(client, tmp_path, document_changes=document_changes)
    uri = _open(client, path, SAMPLE)
    published = await _diagnostics(client, uri, 1)
    findings = {f["code"]: f for f in cli_findings(path)}
    all_safe = []
    for diagnostic in published:
        finding = findings[diagnostic.code]
        actions = await _actions(client, uri, diagnostic, only=[types.CodeActionKind.QuickFix])
        fixes = [a for a in actions if a.title.startswith(f"autogradlint: fix {diagnostic.code}")]
        if finding["fix"] is None:
            assert fixes == []
            continue
        assert len(fixes) == 1
        fix = fixes[0]
        assert fix.kind == types.CodeActionKind.QuickFix
        unsafe = finding["fix"]["applicability"] == "unsafe"
        assert fix.title.endswith("(unsafe)") == unsafe
        assert bool(fix.is_preferred) == (not unsafe)
        assert _edits(fix, uri) == cli_edits_as_lsp(finding, SAMPLE)
        if document_changes:
            assert fix.edit.document_changes[0].text_document.version == 1
        if not unsafe:
            all_safe.extend(_edits(fix, uri))
    # the safe fixes together are what --fix does (none of them overlap, so --fix makes one pass)
    assert apply_edits(SAMPLE, all_safe) == cli_fixed(path)


async def test_fix_all_is_the_cli_fix(client: LanguageClient, tmp_path: Path):
    path = _project(tmp_path)
    await _start(client, tmp_path)
    uri = _open(client, path, SAMPLE)
    await _diagnostics(client, uri, 1)
    actions = await _actions(client, uri, only=[types.CodeActionKind.SourceFixAll],
                             range_=types.Range(types.Position(0, 0), types.Position(0, 0)))
    assert [a.kind for a in actions] == ["source.fixAll.autogradlint"]
    assert apply_edits(SAMPLE, _edits(actions[0], uri)) == cli_fixed(path)


async def test_fix_all_resolved_lazily_and_unsafe_by_configuration(client: LanguageClient, tmp_path: Path):
    path = _project(tmp_path, "unsafe-fixes = true\n")
    await _start(client, tmp_path, resolve=True)
    uri = _open(client, path, SAMPLE)
    await _diagnostics(client, uri, 1)
    actions = await _actions(client, uri, only=["source.fixAll"], range_=types.Range(types.Position(0, 0), types.Position(0, 0)))
    assert len(actions) == 1 and actions[0].edit is None  # the client resolves it when it is chosen
    resolved = await client.code_action_resolve_async(actions[0])
    fixed = apply_edits(SAMPLE, _edits(resolved, uri))
    assert fixed == cli_fixed(path)
    assert "v = torch.ones(2)\n" in fixed  # the unsafe GL702 fix is applied


async def test_noqa_action_suppresses_the_finding(client: LanguageClient, tmp_path: Path):
    text = SAMPLE.replace("    model.eval\n", "    model.eval  # noqa: E501\n")
    path = tmp_path / "sample.py"
    path.write_text(text, encoding="utf-8")
    await _start(client, tmp_path)
    uri = _open(client, path, text)
    published = await _diagnostics(client, uri, 1)
    new_text = text
    for code in ("GL101", "GL105"):
        diagnostic = next(d for d in published if d.code == code)
        actions = await _actions(client, uri, diagnostic)
        noqa = [a for a in actions if "noqa" in a.title and code in a.title]
        assert len(noqa) == 1
        new_text = apply_edits(text, _edits(noqa[0], uri))
        path.write_text(new_text, encoding="utf-8")
        codes = [f["code"] for f in cli_findings(path)]
        assert code not in codes and len(codes) == len(published) - 1
        path.write_text(text, encoding="utf-8")
        if code == "GL105":  # an existing noqa list is extended
            assert "    model.eval  # noqa: E501, GL105\n" in new_text
        else:
            assert 'p.require_grad = False  # noqa: GL101\n' in new_text


async def test_hover_shows_the_rule_documentation(client: LanguageClient, tmp_path: Path):
    path = _project(tmp_path)
    await _start(client, tmp_path)
    uri = _open(client, path, SAMPLE)
    published = await _diagnostics(client, uri, 1)
    gl201 = next(d for d in published if d.code == "GL201")
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=gl201.range.start))
    assert hover.contents.kind == types.MarkupKind.Markdown
    page = run_autogradlint("rule", "GL201").stdout.decode()
    assert hover.contents.value.strip() == page.strip()
    nothing = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(0, 0)))
    assert nothing is None


# ------------------------------------------------------------------------------------------------ configuration


async def test_configuration_file_is_read_and_reread(client: LanguageClient, tmp_path: Path):
    path = _project(tmp_path, 'ignore = ["GL105"]\n')
    await _start(client, tmp_path)
    uri = _open(client, path, SAMPLE)
    published = await _diagnostics(client, uri, 1)
    assert _seen(published) == expected(cli_findings(path), SAMPLE)
    assert "GL105" not in {d.code for d in published} and "GL101" in {d.code for d in published}

    (tmp_path / "pyproject.toml").write_text('[tool.autogradlint]\nignore = ["GL101"]\n', encoding="utf-8")
    count = len(client.published)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(tmp_path / "pyproject.toml").as_uri(), type=types.FileChangeType.Changed)]))
    published = await _diagnostics(client, uri, after=count)
    assert _seen(published) == expected(cli_findings(path), SAMPLE)
    assert "GL101" not in {d.code for d in published} and "GL105" in {d.code for d in published}


async def test_configuration_per_workspace_folder(client: LanguageClient, tmp_path: Path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder, ignore in ((one, "GL101"), (two, "GL201")):
        folder.mkdir()
        _project(folder, f'ignore = ["{ignore}"]\n')
    await client.initialize_session(types.InitializeParams(
        capabilities=_capabilities(), workspace_folders=[
            types.WorkspaceFolder(uri=one.as_uri(), name="one"), types.WorkspaceFolder(uri=two.as_uri(), name="two")]))
    for folder in (one, two):
        uri = _open(client, folder / "sample.py", SAMPLE)
        published = await _diagnostics(client, uri, 1)
        assert _seen(published) == expected(cli_findings(folder / "sample.py"), SAMPLE)


async def test_broken_configuration_is_reported(client: LanguageClient, tmp_path: Path):
    path = _project(tmp_path, 'select = ["GL9999"]\n')
    await _start(client, tmp_path)
    uri = _open(client, path, SAMPLE)
    published = await _diagnostics(client, uri, 1)
    assert len(published) == 1 and "GL9999" in published[0].message
    assert "configuration error" in published[0].message
    assert any("GL9999" in m.message for m in client.messages)


async def test_client_settings_override_the_configuration_file(client: LanguageClient, tmp_path: Path):
    path = _project(tmp_path, 'ignore = ["GL105"]\n')
    await _start(client, tmp_path, options={"autogradlint": {"select": ["GL101", "GL105", "GL201"], "ignore": ["GL201"]}})
    uri = _open(client, path, SAMPLE)
    published = await _diagnostics(client, uri, 1)
    assert _seen(published) == expected(cli_findings(path, "--select", "GL101,GL105,GL201", "--ignore", "GL201"), SAMPLE)
    assert {d.code for d in published} == {"GL101", "GL105"}

    count = len(client.published)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"autogradlint": {"extendSelect": [], "ignore": ["GL1"]}}))
    published = await _diagnostics(client, uri, after=count)
    assert _seen(published) == expected(cli_findings(path, "--ignore", "GL1"), SAMPLE)
    assert {d.code for d in published} == {"GL201", "GL702"}


async def test_saving_the_configuration_file_in_the_editor_rereads_it(client: LanguageClient, tmp_path: Path):
    path = _project(tmp_path, 'ignore = ["GL105"]\n')
    config = tmp_path / "pyproject.toml"
    await _start(client, tmp_path)
    uri = _open(client, path, SAMPLE)
    assert "GL105" not in {d.code for d in await _diagnostics(client, uri, 1)}
    # the editor opens pyproject.toml too: it is not Python, so it gets no diagnostics
    config_uri = config.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=config_uri, language_id="toml", version=1, text=config.read_text(encoding="utf-8"))))
    new_config = '[tool.autogradlint]\nselect = ["GL105"]\n'
    config.write_text(new_config, encoding="utf-8")
    count = len(client.published)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=config_uri), text=new_config))
    published = await _diagnostics(client, uri, after=count)
    assert {d.code for d in published} == {"GL105"}
    assert _seen(published) == expected(cli_findings(path), SAMPLE)
    assert all(p.uri != config_uri for p in client.published)


async def test_an_edited_configuration_file_is_seen_at_the_next_lint(client: LanguageClient, tmp_path: Path):
    # a client that reports no file changes: the configuration file's time stamp is checked at every lint
    path = _project(tmp_path, 'ignore = ["GL105"]\n')
    await _start(client, tmp_path)
    uri = _open(client, path, SAMPLE)
    assert "GL105" not in {d.code for d in await _diagnostics(client, uri, 1)}
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.autogradlint]\nignore = ["GL201"]\n', encoding="utf-8")
    stat = config.stat()
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a coarse file system clock cannot hide it
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=SAMPLE)]))
    published = await _diagnostics(client, uri, 2)
    assert "GL105" in {d.code for d in published} and "GL201" not in {d.code for d in published}
    assert _seen(published) == expected(cli_findings(path), SAMPLE)
