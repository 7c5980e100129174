"""What the language server tests compare with: the CLI's findings and fixes on the same file, turned into
LSP's terms here by hand (not with the server's own conversions)."""
import json
import re
import sys
from pathlib import Path
from typing import List, Sequence, Tuple

from conftest import run_autogradlint

SEVERITY = {"error": 1, "warning": 2, "hint": 3}

SAMPLE = '''import torch
import torch.nn as nn


def freeze(model):
    for p in model.parameters():
        label = "\U0001F600 frozen"; p.require_grad = False


def evaluate(model, x):
    model.eval
    with torch.no_grad:
        y = model(x)
    idx = torch.zeros(3, dtype=torch.long, requires_grad=True)
    v = torch.autograd.Variable(torch.ones(2))
    return y, idx, v
'''

_LINE_END = re.compile(r"\r\n|\r|\n")


def lines_of(text: str) -> List[str]:
    return _LINE_END.split(text)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def client_units(text: str, encoding: str) -> int:
    if encoding == "utf-16":
        return utf16(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    return len(text)


def cli_findings(path: Path, *args: str) -> List[dict]:
    """``autogradlint check --output-format json`` on the file, run from its directory."""
    result = run_autogradlint("check", "--no-cache", "--output-format", "json", *args, path.name, cwd=path.parent)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def cli_fixed(path: Path, *args: str) -> str:
    """The text ``autogradlint check --fix`` leaves (on a copy of the file, in the same directory)."""
    copy = path.with_name("fixed_copy_" + path.name)
    copy.write_bytes(path.read_bytes())
    try:
        run_autogradlint("check", "--no-cache", "--fix", *args, copy.name, cwd=path.parent)
        return copy.read_text(encoding="utf-8")
    finally:
        copy.unlink()


def position(text: str, line: int, column: int, encoding: str = "utf-16") -> Tuple[int, int]:
    """LSP's position of a 1-based CLI (line, column)."""
    lines = lines_of(text)
    return line - 1, client_units(lines[line - 1][:column - 1], encoding)


def expected(findings: Sequence[dict], text: str, encoding: str = "utf-16") -> List[tuple]:
    """(code, message, severity, range) the server must publish for the CLI's findings."""
    out = []
    for f in findings:
        start = position(text, f["line"], f["column"], encoding)
        end = position(text, f["end_line"], f["end_column"], encoding)
        out.append((f["code"], f["message"], SEVERITY[f["severity"]], start + end))
    return sorted(out, key=lambda item: (item[3], item[0]))


def offset(text: str, line: int, character: int, encoding: str = "utf-16") -> int:
    lines = lines_of(text)
    starts = [m.end() for m in _LINE_END.finditer(text)]
    start = 0 if line == 0 else starts[line - 1]
    count = 0
    for index, char in enumerate(lines[line]):
        if count >= character:
            return start + index
        count += client_units(char, encoding)
    return start + len(lines[line])


def apply_edits(text: str, edits: Sequence[Tuple[Tuple[int, int, int, int], str]], encoding: str = "utf-16") -> str:
    """The text after LSP TextEdits ((start line, start char, end line, end char), new text), all relative to
    the original text, as a client applies them."""
    spans = sorted((offset(text, r[0], r[1], encoding), offset(text, r[2], r[3], encoding), new) for r, new in edits)
    out, at = [], 0
    for start, end, new in spans:
        assert start >= at, "overlapping edits"
        out.append(text[at:start])
        out.append(new)
        at = end
    out.append(text[at:])
    return "".join(out)


def cli_edits_as_lsp(finding: dict, text: str, encoding: str = "utf-16") -> List[tuple]:
    return sorted((position(text, e["line"], e["column"], encoding) + position(text, e["end_line"], e["end_column"], encoding),
                   e["content"]) for e in finding["fix"]["edits"])


def lsp_client_fixture():
    """The ``client`` fixture of the pytest-lsp tests (assign it to ``client`` in the module): ``autogradlint
    server`` started by pytest-lsp's client, which also keeps every publishDiagnostics (with its version) in
    order. pytest-lsp is imported here, when called: it needs Python 3.10+, this module does not. (pytest-lsp
    finds the client argument by its annotation, so this module's annotations must not be strings.)"""
    import pytest_lsp
    from lsprotocol import types
    from pytest_lsp import ClientServerConfig, LanguageClient
    from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

    def make_client() -> LanguageClient:
        client = LanguageClient()

        def publish(ls: LanguageClient, params: types.PublishDiagnosticsParams):
            ls.diagnostics[params.uri] = params.diagnostics
            ls.published.append(params)

        client.published = []
        register_lsp_features(client, dict(DEFAULT_CLIENT_FEATURES, **{types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish}))
        return client

    @pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "autogradlint", "server"],
                                                  client_factory=make_client))
    async def client(lsp_client: LanguageClient):
        yield
        await lsp_client.shutdown_session()

    return client
