"""LSP 3.17 notebook documents in ``autogradlint server``, driven by pytest-lsp's client: the cells are linted
together, in order, and each cell gets its own diagnostics, equal to what the CLI reports for that cell of a
.ipynb file holding the same cells."""
import asyncio
import json
import sys
from pathlib import Path

import pytest

if sys.version_info < (3, 10):  # pytest-lsp 1.x needs Python 3.10+ (tests/test_server_stdio.py runs everywhere)
    pytest.skip("pytest-lsp needs Python 3.10+", allow_module_level=True)
# a test dependency on 3.10+: a missing one must fail, not skip
import pytest_lsp  # noqa: E402,F401

from lsprotocol import types  # noqa: E402

from conftest import run_autogradlint  # noqa: E402
from server_helpers import SEVERITY, apply_edits, expected, lsp_client_fixture  # noqa: E402

pytestmark = pytest.mark.asyncio

WAIT = 60

CELLS = [
    ("code", "import torch\nimport torch.nn as nn\n"),
    ("markdown", "# Freezing the \U0001F600 model\n"),
    ("code", "%matplotlib inline\nmodel = nn.Linear(2, 2)\nfor p in model.parameters():\n    p.require_grad = False\n"),
    ("code", "model.eval\nwith torch.no_grad:\n    y = model(torch.ones(2))"),
]


client = lsp_client_fixture()


def _write_notebook(path: Path, cells) -> None:
    notebook = {
        "cells": [dict({"cell_type": kind, "metadata": {}, "source": text.splitlines(True)},
                       **({"execution_count": None, "outputs": []} if kind == "code" else {})) for kind, text in cells],
        "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")


def _cli_by_cell(path: Path, *args):
    result = run_autogradlint("check", "--no-cache", "--output-format", "json", *args, path.name, cwd=path.parent)
    assert result.returncode in (0, 1), result.stderr
    by_cell = {}
    for finding in json.loads(result.stdout):
        by_cell.setdefault(finding["cell"], []).append(finding)
    return by_cell


def _cell_uri(path: Path, index: int) -> str:
    return f"vscode-notebook-cell:{path.as_posix()}#cell{index}"


async def _start(client, root: Path):
    await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(
            notebook_document=types.NotebookDocumentClientCapabilities(
                synchronization=types.NotebookDocumentSyncClientCapabilities())),
        root_uri=root.as_uri(), workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)]))


def _open(client, path: Path, cells):
    uris = [_cell_uri(path, index) for index in range(len(cells))]
    client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(
        notebook_document=types.NotebookDocument(
            uri=path.as_uri(), notebook_type="jupyter-notebook", version=1,
            cells=[types.NotebookCell(kind=types.NotebookCellKind.Code if kind == "code" else types.NotebookCellKind.Markup,
                                      document=uri) for (kind, _), uri in zip(cells, uris)]),
        cell_text_documents=[types.TextDocumentItem(uri=uri, language_id="python" if kind == "code" else "markdown",
                                                    version=1, text=text) for (kind, text), uri in zip(cells, uris)]))
    return uris


async def _cell_diagnostics(client, uris, after=0):
    """The diagnostics published for every code cell after the ``after``-th publication."""
    async def found():
        while True:
            latest = {}
            for params in client.published[after:]:
                latest[params.uri] = params.diagnostics
            if all(uri in latest for uri in uris):
                return latest
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(found(), WAIT)


def _seen(diagnostics):
    return sorted(((d.code, d.message, d.severity.value,
                    (d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character))
                   for d in diagnostics), key=lambda item: (item[3], item[0]))


async def test_cells_are_linted_together_each_with_its_own_diagnostics(client, tmp_path):
    path = tmp_path / "train.ipynb"
    _write_notebook(path, CELLS)
    await _start(client, tmp_path)
    uris = _open(client, path, CELLS)
    code_uris = [uri for (kind, _), uri in zip(CELLS, uris) if kind == "code"]
    published = await _cell_diagnostics(client, code_uris)
    cli = _cli_by_cell(path)
    for number, ((kind, text), uri) in enumerate(zip(CELLS, uris), start=1):
        if kind != "code":
            assert uri not in published
            continue
        assert _seen(published[uri]) == expected(cli.get(number, []), text), f"cell {number}"
    # torch imported in cell 1 is known in cell 4 (GL201), the typo of cell 3 is found under its magic line
    assert "GL201" in {d.code for d in published[uris[3]]}
    gl101 = [d for d in published[uris[2]] if d.code == "GL101"]
    assert len(gl101) == 1 and gl101[0].range.start.line == 3
    assert list(published[uris[0]]) == []


async def test_a_cell_change_relints_the_notebook(client, tmp_path):
    path = tmp_path / "train.ipynb"
    _write_notebook(path, CELLS)
    await _start(client, tmp_path)
    uris = _open(client, path, CELLS)
    code_uris = [uris[0], uris[2], uris[3]]
    await _cell_diagnostics(client, code_uris)
    # cell 1 no longer imports torch: cell 4's `torch.no_grad` is not torch's any more
    count = len(client.published)
    client.notebook_document_did_change(types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(uri=path.as_uri(), version=2),
        change=types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(text_content=[
            types.NotebookDocumentCellContentChanges(
                document=types.VersionedTextDocumentIdentifier(uri=uris[0], version=2),
                changes=[types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(0, 0), types.Position(1, 0)), text="")])]))))
    published = await _cell_diagnostics(client, code_uris, after=count)
    changed = [(CELLS[0][0], "import torch.nn as nn\n")] + CELLS[1:]
    _write_notebook(path, changed)
    cli = _cli_by_cell(path)
    for number in (1, 3, 4):
        assert _seen(published[uris[number - 1]]) == expected(cli.get(number, []), changed[number - 1][1])

    # a new cell inserted before the others: its diagnostics are its own
    count = len(client.published)
    new_uri = _cell_uri(path, 99)
    client.notebook_document_did_change(types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(uri=path.as_uri(), version=3),
        change=types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(
            structure=types.NotebookDocumentCellChangeStructure(
                array=types.NotebookCellArrayChange(start=0, delete_count=0, cells=[
                    types.NotebookCell(kind=types.NotebookCellKind.Code, document=new_uri)]),
                did_open=[types.TextDocumentItem(uri=new_uri, language_id="python", version=1,
                                                 text="import torch\nv = torch.autograd.Variable(torch.ones(2))\n")])))))
    published = await _cell_diagnostics(client, [new_uri] + code_uris, after=count)
    assert [d.code for d in published[new_uri]] == ["GL702"]
    assert "GL201" in {d.code for d in published[uris[3]]}  # torch is imported again, by the new first cell

    count = len(client.published)
    client.notebook_document_did_close(types.DidCloseNotebookDocumentParams(
        notebook_document=types.NotebookDocumentIdentifier(uri=path.as_uri()),
        cell_text_documents=[types.TextDocumentIdentifier(uri=uri) for uri in [new_uri] + uris]))
    cleared = await _cell_diagnostics(client, [new_uri] + code_uris, after=count)
    assert all(list(diagnostics) == [] for diagnostics in cleared.values())


async def test_quick_fixes_and_fix_all_in_cells(client, tmp_path):
    path = tmp_path / "train.ipynb"
    _write_notebook(path, CELLS)
    await _start(client, tmp_path)
    uris = _open(client, path, CELLS)
    published = await _cell_diagnostics(client, [uris[0], uris[2], uris[3]])
    cli = _cli_by_cell(path)
    gl101 = next(d for d in published[uris[2]] if d.code == "GL101")
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uris[2]), range=gl101.range,
        context=types.CodeActionContext(diagnostics=[gl101])))
    fix = next(a for a in actions if a.title.startswith("autogradlint: fix GL101"))
    edits = [((e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character), e.new_text)
             for e in fix.edit.changes[uris[2]]]
    finding = next(f for f in cli[3] if f["code"] == "GL101")
    expected_edits = sorted(((e["line"] - 1, e["column"] - 1, e["end_line"] - 1, e["end_column"] - 1), e["content"])
                            for e in finding["fix"]["edits"])
    assert sorted(edits) == expected_edits
    assert "p.requires_grad = False" in apply_edits(CELLS[2][1], edits)
    noqa = next(a for a in actions if "noqa" in a.title)
    assert "# noqa: GL101" in apply_edits(CELLS[2][1], [
        ((e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character), e.new_text)
        for e in noqa.edit.changes[uris[2]]])

    # fix-all: every cell as `autogradlint check --fix` leaves the .ipynb
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uris[3]), range=types.Range(types.Position(0, 0), types.Position(0, 0)),
        context=types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.SourceFixAll])))
    assert [a.kind for a in actions] == ["source.fixAll.autogradlint"]
    changes = actions[0].edit.changes
    fixed_cells = [apply_edits(text, [((e.range.start.line, e.range.start.character, e.range.end.line,
                                        e.range.end.character), e.new_text) for e in changes.get(uri, [])])
                   for (_, text), uri in zip(CELLS, uris)]
    run_autogradlint("check", "--no-cache", "--fix", path.name, cwd=path.parent)
    on_disk = ["".join(cell["source"]) for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    assert fixed_cells == on_disk
    assert "model.eval()" in fixed_cells[3] and "requires_grad" in fixed_cells[2]
    assert SEVERITY  # the helpers' severity map is the one the comparisons use


async def test_a_notebook_sent_as_one_python_document(client, tmp_path):
    # jupyterlab-lsp sends a notebook's code cells joined, as a Python text document named like the notebook
    text = "".join(text for kind, text in CELLS if kind == "code").replace("%matplotlib inline\n", "\n")
    script = tmp_path / "joined.py"
    script.write_text(text, encoding="utf-8")
    await _start(client, tmp_path)
    uri = (tmp_path / ".virtual_documents" / "train.ipynb").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    published = await _cell_diagnostics(client, [uri])
    result = run_autogradlint("check", "--no-cache", "--output-format", "json", script.name, cwd=tmp_path)
    assert _seen(published[uri]) == expected(json.loads(result.stdout), text)
    assert {d.code for d in published[uri]} >= {"GL101", "GL105", "GL201"}
