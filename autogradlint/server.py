"""``autogradlint server``: a language server over stdio (pygls), with the CLI's findings as live diagnostics,
its fixes as code actions, and the rules' documentation on hover.

Two threads. The protocol thread runs pygls's event loop: it reads messages, keeps the open documents'
text and answers requests from the results it holds. The main thread lints: one document at a time, the
latest version only, in the same thread (and so with the same time limit and recursion room) as the CLI. A
change schedules a lint of its document (at once after a quiet spell, else after a short debounce that a
burst of changes keeps pushing back); a newer change replaces the waiting job, and a result for a version
that is no longer current is dropped, so a flood of changes never queues more than one job per document.

What a document's findings are is decided by autogradlint.editor with the CLI's own functions (configuration,
rule selection, process_source); this module only translates to and from the protocol.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from autogradlint import __version__
from autogradlint.editor import (
    UTF16,
    ClientSettings,
    ConfigStore,
    DocumentConfig,
    LineMap,
    apply_change,
    changed_spans,
    fix_all,
    fix_notebook,
    lint_notebook,
    lint_text,
    noqa_edit,
)
from autogradlint.rule import FILE_TOO_LARGE, INTERNAL_ERROR, SYNTAX_ERROR, Diagnostic, applicable

logger = logging.getLogger("autogradlint.server")

# seconds a document must be quiet before a change is linted, when changes come faster than this
DEBOUNCE = 0.15
# seconds between checks that the client process (initialize's processId) is alive
PARENT_POLL = 2.0
# seconds a request that needs current findings (code actions, hover) waits for them
RESULT_WAIT = 10.0
# seconds the process may take to end once told to (the lint in progress is abandoned after that)
EXIT_GRACE = 2.0

FIX_ALL_KIND = "source.fixAll.autogradlint"
# the files a document's configuration comes from: pyproject.toml, and requirements files (the torch pin)
CONFIG_FILE_GLOBS = ("**/pyproject.toml", "**/requirements*.txt")
SOURCE = "autogradlint"

_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    # a hint is a finding the user should see in the problems list: editors draw LSP's Hint as a faint
    # underline only, and leave it out of that list
    "hint": types.DiagnosticSeverity.Information,
}


def uri_to_path(uri: str) -> Optional[Path]:
    """The file a ``file:`` URI names; None for other schemes (unsaved buffers)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if os.name == "nt" and len(path) >= 3 and path[0] == "/" and path[2] == ":":
        path = path[1:]
    return Path(path)


def is_config_file(path: Optional[Path]) -> bool:
    """Whether a change to this file can change a document's configuration (see CONFIG_FILE_GLOBS)."""
    if path is None:
        return False
    name = path.name.lower()
    return name == "pyproject.toml" or (name.startswith("requirements") and name.endswith(".txt"))


# ---------------------------------------------------------------------------------------------------------
# the lint thread


class Worker:
    """The jobs of the main thread: immediate calls (fix-all) first, then lint jobs when they are due; at
    most one lint job per document (a newer one replaces it)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: Dict[str, Tuple[float, Callable[[], None]]] = {}
        self._calls: List[Tuple[Callable[[], object], concurrent.futures.Future]] = []
        self._stopped = False
        self.busy_with: Optional[str] = None

    def schedule(self, key: str, delay: float, job: Callable[[], None]) -> None:
        with self._cond:
            self._jobs[key] = (time.monotonic() + delay, job)
            self._cond.notify()

    def cancel(self, key: str) -> None:
        with self._cond:
            self._jobs.pop(key, None)

    def call(self, function: Callable[[], object]) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._cond:
            self._calls.append((function, future))
            self._cond.notify()
        return future

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    if self._calls:
                        function, future = self._calls.pop(0)
                        job = None
                        break
                    now = time.monotonic()
                    due = min(self._jobs.items(), key=lambda item: item[1][0], default=None)
                    if due is not None and due[1][0] <= now:
                        key, (_, job) = due
                        del self._jobs[key]
                        function = future = None
                        break
                    self._cond.wait(None if due is None else due[1][0] - now)
            if job is not None:
                try:
                    job()
                except Exception:  # never lets the thread die: the job reports its own failures
                    logger.exception("lint job failed")
            elif future is not None and future.set_running_or_notify_cancel():
                try:
                    future.set_result(function())
                except BaseException as error:
                    future.set_exception(error)


# ---------------------------------------------------------------------------------------------------------
# documents and their results (protocol thread)


class Results:
    """The findings of one version of a document, as autogradlint and as LSP diagnostics."""

    __slots__ = ("uri", "version", "text", "lines", "findings", "lsp", "config")

    def __init__(self, uri: str, version: Optional[int], text: str, lines: LineMap, findings: List[Diagnostic],
                 lsp: List[types.Diagnostic], config: DocumentConfig) -> None:
        self.uri = uri
        self.version = version
        self.text = text
        self.lines = lines
        self.findings = findings
        self.lsp = lsp
        self.config = config

    def target(self, edit) -> Tuple[str, Optional[int], LineMap]:
        """The document a fix's edit applies to (uri, version, its lines): this one."""
        return self.uri, self.version, self.lines


class CellResults(Results):
    """The findings of one cell of a notebook; a fix's edit may go to another cell (its ``cell``)."""

    __slots__ = ("targets",)

    def __init__(self, *args, targets: Dict[int, Tuple[str, Optional[int], LineMap]]) -> None:
        super().__init__(*args)
        self.targets = targets

    def target(self, edit) -> Tuple[str, Optional[int], LineMap]:
        cell = getattr(edit, "cell", None)
        return self.targets.get(cell) or super().target(edit)


# what is linted: Python by the client's word, or by the file's name
PYTHON_LANGUAGES = frozenset({"python"})
PYTHON_SUFFIXES = frozenset({".py", ".pyi", ".pyw"})


class Document:
    __slots__ = ("uri", "text", "version", "path", "lintable", "changed_at", "results", "waiters", "notebook",
                 "language_id")

    def __init__(self, uri: str, text: str, version: Optional[int], language_id: str = "python",
                 notebook: Optional[str] = None) -> None:
        self.uri = uri
        self.language_id = (language_id or "").lower()
        self.notebook = notebook  # a notebook cell: the notebook's uri (the notebook is linted, not the cell)
        self.text = text
        self.version = version
        self.path = uri_to_path(uri)
        # a client may send every document it opens (a pyproject.toml among them): only Python is linted; the
        # others are kept so that saving a configuration file re-reads it
        self.lintable = notebook is None and (self.language_id in PYTHON_LANGUAGES or (
            self.path is not None and self.path.suffix.lower() in PYTHON_SUFFIXES))
        self.changed_at = 0.0
        self.results: Optional[Results] = None
        self.waiters: List[asyncio.Future] = []

    def release(self) -> None:
        """The document is closed: requests waiting for its results get none."""
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)

    @property
    def current(self) -> Optional[Results]:
        results = self.results
        return results if results is not None and results.text is self.text else None


class Notebook:
    """An open notebook: its cells' uris in order and their kinds ("code", "markdown", "raw"); the cells' text
    are Documents (with ``notebook`` set)."""

    __slots__ = ("uri", "path", "version", "cells", "kinds", "changed_at", "revision")

    def __init__(self, uri: str, version: Optional[int]) -> None:
        self.uri = uri
        self.path = uri_to_path(uri)
        self.version = version
        self.cells: List[str] = []
        self.kinds: Dict[str, str] = {}
        self.changed_at = 0.0
        self.revision = 0  # counts changes: a lint's result is published only for the revision it linted


def _cell_kind(cell_kind, language_id: str) -> str:
    """A cell as nbformat names its kind: Python code is "code", markup "markdown", code in another language
    "raw" (not linted)."""
    if cell_kind == types.NotebookCellKind.Markup:
        return "markdown"
    return "code" if (language_id or "python").lower() in PYTHON_LANGUAGES else "raw"


# LSP 3.17 notebook sync: Jupyter notebooks, their Python cells
NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[types.NotebookDocumentFilterWithCells(
        notebook="jupyter-notebook", cells=[types.NotebookCellLanguage(language="python")])],
    save=True)


def _to_server(method: str):
    """A protocol handler that leaves ``method`` to the server's own feature (pygls's built-in one would keep
    the document in pygls's workspace first)."""

    @lsp_method(method)
    def forward(self, params):
        handler = self.fm.features.get(method)
        if handler is not None:
            yield handler, (params,), None

    return forward


class _Protocol(LanguageServerProtocol):
    """pygls's protocol, except that text documents are kept by AutogradlintServer (with LSP's own line ends:
    pygls splits lines as ``str.splitlines`` does, at form feeds too)."""

    # the names of pygls's own handlers, so that these replace them
    lsp_text_document__did_open = _to_server(types.TEXT_DOCUMENT_DID_OPEN)
    lsp_text_document__did_change = _to_server(types.TEXT_DOCUMENT_DID_CHANGE)
    lsp_text_document__did_close = _to_server(types.TEXT_DOCUMENT_DID_CLOSE)
    lsp_notebook_document__did_open = _to_server(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    lsp_notebook_document__did_change = _to_server(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    lsp_notebook_document__did_close = _to_server(types.NOTEBOOK_DOCUMENT_DID_CLOSE)


class AutogradlintServer(LanguageServer):
    def __init__(self, worker: Worker) -> None:
        super().__init__("autogradlint", __version__, protocol_cls=_Protocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         notebook_document_sync=NOTEBOOK_SYNC)
        self.worker = worker
        self.documents: Dict[str, Document] = {}
        self.notebooks: Dict[str, Notebook] = {}
        self.config = ConfigStore()
        self.encoding = UTF16
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.shutdown_requested = False
        self.exit_code: Optional[int] = None
        self.stopped = threading.Event()
        self.force_exit = False  # set by main(): end the process even while a lint is running

    # ---- helpers
    def show(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        """Tell the user once (a message shown again on every keystroke would be noise)."""
        if message in self.config.reported:
            return
        self.config.reported.add(message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"autogradlint: {message}"))

    def client_supports(self, dotted: str) -> bool:
        value: object = self.client_capabilities
        for part in dotted.split("."):
            value = getattr(value, part, None)
            if value is None:
                return False
        return bool(value)

    # ---- linting
    def request_lint(self, document: Document, immediately: bool = False) -> None:
        if not document.lintable:
            return
        now = time.monotonic()
        quiet = now - document.changed_at >= DEBOUNCE
        document.changed_at = now
        delay = 0.0 if immediately or quiet else DEBOUNCE
        uri, text, version, path = document.uri, document.text, document.version, document.path
        encoding = self.encoding

        def job() -> None:
            started = time.perf_counter()
            results = analyse(self.config, uri, text, version, path, encoding)
            logger.info("linted %s (version %s) in %.3f s: %d findings", uri, version, time.perf_counter() - started,
                        len(results.findings))
            loop = self.loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self.deliver, uri, results)

        self.worker.schedule(uri, delay, job)

    def deliver(self, uri: str, results: Results) -> None:
        """Publish a lint's results if they are of the document's current text; drop them otherwise."""
        document = self.documents.get(uri)
        if document is None or results.text is not document.text:
            return  # closed, or changed since: a newer job is on its way
        document.results = results
        if results.config.error is not None:
            self.show(f"configuration error: {results.config.error}", types.MessageType.Error)
        if results.config.settings is not None:
            for warning in results.config.settings.warnings:
                self.show(warning)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=results.lsp, version=document.version))
        waiters, document.waiters = document.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(results)

    def request_notebook_lint(self, notebook: Notebook, immediately: bool = False) -> None:
        """Lint the notebook's cells together (the latest revision only, as for a document)."""
        now = time.monotonic()
        quiet = now - notebook.changed_at >= DEBOUNCE
        notebook.changed_at = now
        notebook.revision += 1
        revision, encoding = notebook.revision, self.encoding
        cells = self.cells_of(notebook)
        snapshot = [(uri, kind, document.text, document.version) for uri, kind, document in cells]
        nb_uri, path = notebook.uri, notebook.path

        def job() -> None:
            started = time.perf_counter()
            results = analyse_notebook(self.config, snapshot, path, encoding)
            logger.info("linted %s (revision %s) in %.3f s", nb_uri, revision, time.perf_counter() - started)
            loop = self.loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self.deliver_notebook, nb_uri, revision, results)

        self.worker.schedule(nb_uri, 0.0 if immediately or quiet else DEBOUNCE, job)

    def cells_of(self, notebook: Notebook) -> List[Tuple[str, str, Document]]:
        """(uri, kind, document) of the notebook's open cells, in order."""
        return [(uri, notebook.kinds.get(uri, "code"), self.documents[uri]) for uri in notebook.cells
                if uri in self.documents]

    def deliver_notebook(self, uri: str, revision: int, results: List[Results]) -> None:
        """Publish each cell's findings if the notebook is as it was linted; drop them otherwise."""
        notebook = self.notebooks.get(uri)
        if notebook is None or notebook.revision != revision:
            return
        for cell_results in results:
            document = self.documents.get(cell_results.uri)
            if document is not None and cell_results.text is document.text:
                self.deliver(cell_results.uri, cell_results)

    async def current_results(self, document: Document) -> Optional[Results]:
        """The results of the document's current text, waiting for its lint if it is not done yet."""
        results = document.current
        if results is not None or not (document.lintable or document.notebook in self.notebooks):
            return results
        waiter = asyncio.get_running_loop().create_future()
        # requests that gave up waiting leave their futures: dropped here, so that the list stays short
        document.waiters = [w for w in document.waiters if not w.done()] + [waiter]
        try:
            await asyncio.wait_for(asyncio.shield(waiter), RESULT_WAIT)
        except asyncio.TimeoutError:
            waiter.cancel()
            return None
        return document.current

    def relint_all(self) -> None:
        for document in self.documents.values():
            if document.lintable:
                self.request_lint(document, immediately=True)
        for notebook in self.notebooks.values():
            self.request_notebook_lint(notebook, immediately=True)

    # ---- exit
    def finish(self, code: int) -> None:
        """Stop: the lint thread returns once its current job is done, and the process ends. A job may take
        long (a huge document, up to the time limit): a timer ends the process anyway after a grace period."""
        if self.exit_code is None:
            self.exit_code = code
        if self.stopped.is_set():
            return
        self.stopped.set()
        self.worker.stop()
        if self.force_exit:
            timer = threading.Timer(EXIT_GRACE, _exit_now, args=(self.exit_code,))
            timer.daemon = True
            timer.start()


def _document_config(store: ConfigStore, path: Optional[Path], untitled: str) -> DocumentConfig:
    """The document's configuration; a failure of our own reading it is a configuration error (shown, never a
    dead lint thread)."""
    try:
        return store.for_document(path)
    except Exception as error:
        return DocumentConfig(None, [], path.name if path is not None else untitled, False,
                              f"cannot read the configuration: {type(error).__name__}: {error}")


def _config_error(config: DocumentConfig) -> types.Diagnostic:
    """The one diagnostic of a document whose configuration cannot be used, at its start."""
    return types.Diagnostic(range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                            message=f"configuration error: {config.error}", severity=types.DiagnosticSeverity.Error,
                            source=SOURCE)


def analyse(store: ConfigStore, uri: str, text: str, version: Optional[int], path: Optional[Path],
            encoding: str) -> Results:
    """Lint one version of a document (in the lint thread)."""
    lines = LineMap(text)
    config = _document_config(store, path, "untitled")
    if config.error is not None:
        findings: List[Diagnostic] = []
        lsp = [_config_error(config)]
    else:
        findings = lint_text(text, config)
        lsp = [to_lsp(d, lines, encoding) for d in findings]
    return Results(uri, version, text, lines, findings, lsp, config)


def analyse_notebook(store: ConfigStore, cells: List[Tuple[str, str, str, Optional[int]]], path: Optional[Path],
                     encoding: str) -> List[Results]:
    """Lint one revision of a notebook (in the lint thread): its cells (uri, kind, text, version) together, in
    order; the results of each code cell, in that cell's own positions."""
    config = _document_config(store, path, "untitled.ipynb")
    code = [index for index, (_, kind, _, _) in enumerate(cells) if kind == "code"]
    lines = {index: LineMap(cells[index][2]) for index in code}
    found: Dict[int, List[Diagnostic]] = {index: [] for index in code}
    if config.error is None and code:
        for finding in lint_notebook([(kind, text) for _, kind, text, _ in cells], config):
            index = finding.cell - 1 if getattr(finding, "cell", None) else code[0]
            found.setdefault(index if index in found else code[0], []).append(finding)
    targets = {index + 1: (cells[index][0], cells[index][3], lines[index]) for index in code}
    out: List[Results] = []
    for index in code:
        uri, _, text, version = cells[index]
        if config.error is not None:
            lsp = [] if index != code[0] else [_config_error(config)]
        else:
            lsp = [to_lsp(d, lines[index], encoding) for d in found[index]]
        out.append(CellResults(uri, version, text, lines[index], found[index], lsp, config, targets=targets))
    return out


def lsp_range(lines: LineMap, line: int, column: int, end_line: int, end_column: int, encoding: str) -> types.Range:
    start = lines.to_client(line, column, encoding)
    end = lines.to_client(end_line, end_column, encoding)
    if end < start:
        end = start
    return types.Range(types.Position(*start), types.Position(*end))


def offset_range(lines: LineMap, start: int, end: int, encoding: str) -> types.Range:
    """LSP's range between two offsets into the text."""
    return types.Range(types.Position(*lines.client_position_of_offset(start, encoding)),
                       types.Position(*lines.client_position_of_offset(end, encoding)))


def to_lsp(diagnostic: Diagnostic, lines: LineMap, encoding: str) -> types.Diagnostic:
    """The LSP diagnostic of a finding: 0-based positions in the client's units, the CLI's code, message and
    severity. (No codeDescription: the rules' documentation has no web address; the hover shows it.)"""
    fix = diagnostic.fix
    data = {"name": diagnostic.name}
    if fix is not None and fix.edits:
        data["fix"] = fix.applicability
    return types.Diagnostic(
        range=lsp_range(lines, diagnostic.line, diagnostic.column, diagnostic.end_line, diagnostic.end_column, encoding),
        severity=_SEVERITY.get(diagnostic.severity, types.DiagnosticSeverity.Error),
        code=diagnostic.code,
        source=SOURCE,
        message=diagnostic.message,
        data=data,
    )


def _overlaps(a: types.Range, b: types.Range) -> bool:
    a_start, a_end = (a.start.line, a.start.character), (a.end.line, a.end.character)
    b_start, b_end = (b.start.line, b.start.character), (b.end.line, b.end.character)
    return a_start <= b_end and b_start <= a_end


def _wanted(kind: str, only: Optional[List[str]]) -> bool:
    """Whether a code action of ``kind`` answers a request for the kinds ``only`` (hierarchical: a request for
    ``source.fixAll`` wants ``source.fixAll.autogradlint``)."""
    if not only:
        return True
    return any(kind == want or kind.startswith(want + ".") for want in only)


def build_server() -> AutogradlintServer:
    worker = Worker()
    server = AutogradlintServer(worker)

    @server.feature(types.INITIALIZE)
    def initialize(ls: AutogradlintServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        encoding = ls.workspace.position_encoding or UTF16
        ls.encoding = getattr(encoding, "value", encoding)  # a PositionEncodingKind, or the string itself
        folders = [uri_to_path(f.uri) for f in params.workspace_folders or []]
        if not folders and params.root_uri:
            folders = [uri_to_path(params.root_uri)]
        elif not folders and params.root_path:
            folders = [Path(params.root_path)]
        ls.config.set_folders([f for f in folders if f is not None])
        client = ClientSettings.parse(params.initialization_options)
        ls.config.set_client(client)
        for problem in client.problems:
            ls.show(problem)
        if params.process_id:
            ls.loop.create_task(_watch_parent(ls, params.process_id))

    @server.feature(types.INITIALIZED)
    def initialized(ls: AutogradlintServer, params: types.InitializedParams) -> None:
        # imports and rule classes loaded now, not at the first keystroke
        ls.worker.call(_warm_up)
        if ls.client_supports("workspace.did_change_watched_files.dynamic_registration"):
            registration = types.Registration(
                id="autogradlint-config-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(
                    watchers=[types.FileSystemWatcher(glob_pattern=pattern) for pattern in CONFIG_FILE_GLOBS]))
            try:
                ls.client_register_capability(types.RegistrationParams(registrations=[registration]))
            except Exception:  # a client that cannot take it still has the check on every lint
                logger.exception("cannot register for configuration file changes")

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: AutogradlintServer, params: None) -> None:
        ls.shutdown_requested = True

    @server.feature(types.EXIT)
    def exit_(ls: AutogradlintServer, params: None) -> None:
        ls.finish(0 if ls.shutdown_requested else 1)

    # ---- text documents
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: AutogradlintServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        document = Document(item.uri, item.text, item.version, item.language_id)
        ls.documents[item.uri] = document
        ls.request_lint(document, immediately=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: AutogradlintServer, params: types.DidChangeTextDocumentParams) -> None:
        document = ls.documents.get(params.text_document.uri)
        if document is None:
            return
        _apply_changes(ls, document, params.content_changes)
        document.version = params.text_document.version
        ls.request_lint(document)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: AutogradlintServer, params: types.DidSaveTextDocumentParams) -> None:
        document = ls.documents.get(params.text_document.uri)
        if document is not None and params.text is not None and params.text != document.text:
            document.text = params.text
        if document is not None and is_config_file(document.path):
            ls.config.invalidate()
            ls.relint_all()
        elif document is not None:
            ls.request_lint(document, immediately=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: AutogradlintServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        document = ls.documents.pop(uri, None)
        ls.worker.cancel(uri)
        if document is not None:
            document.release()
        if document is None or document.lintable:
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    # ---- notebooks (LSP 3.17): the cells are linted together, each cell gets its own diagnostics
    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: AutogradlintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        nb = params.notebook_document
        notebook = Notebook(nb.uri, nb.version)
        ls.notebooks[nb.uri] = notebook
        languages = {item.uri: item.language_id for item in params.cell_text_documents}
        for item in params.cell_text_documents:
            ls.documents[item.uri] = Document(item.uri, item.text, item.version, item.language_id, notebook=nb.uri)
        for cell in nb.cells:
            notebook.cells.append(cell.document)
            notebook.kinds[cell.document] = _cell_kind(cell.kind, languages.get(cell.document, "python"))
        ls.request_notebook_lint(notebook, immediately=True)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(ls: AutogradlintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        notebook = ls.notebooks.get(params.notebook_document.uri)
        if notebook is None:
            return
        notebook.version = params.notebook_document.version
        cells = params.change.cells
        if cells is not None and cells.structure is not None:
            structure = cells.structure
            for item in structure.did_open or []:
                ls.documents[item.uri] = Document(item.uri, item.text, item.version, item.language_id, notebook=notebook.uri)
            for identifier in structure.did_close or []:
                if ls.documents.pop(identifier.uri, None) is not None:
                    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=identifier.uri, diagnostics=[]))
            array = structure.array
            new = [cell.document for cell in array.cells or []]
            for cell in array.cells or []:
                document = ls.documents.get(cell.document)
                notebook.kinds[cell.document] = _cell_kind(cell.kind, document.language_id if document else "python")
            notebook.cells[array.start:array.start + array.delete_count] = new
        if cells is not None:
            for cell in cells.data or []:
                document = ls.documents.get(cell.document)
                notebook.kinds[cell.document] = _cell_kind(cell.kind, document.language_id if document else "python")
            for change in cells.text_content or []:
                document = ls.documents.get(change.document.uri)
                if document is not None:
                    _apply_changes(ls, document, change.changes)
                    document.version = change.document.version
        ls.request_notebook_lint(notebook)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_did_save(ls: AutogradlintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        notebook = ls.notebooks.get(params.notebook_document.uri)
        if notebook is not None:
            ls.request_notebook_lint(notebook, immediately=True)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(ls: AutogradlintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        notebook = ls.notebooks.pop(params.notebook_document.uri, None)
        ls.worker.cancel(params.notebook_document.uri)
        uris = {identifier.uri for identifier in params.cell_text_documents}
        if notebook is not None:
            uris.update(notebook.cells)
        for uri in sorted(uris):
            document = ls.documents.pop(uri, None)
            if document is not None:
                document.release()
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    # ---- configuration
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: AutogradlintServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and "autogradlint" in settings:
            _use_client_settings(ls, settings)
        elif ls.client_supports("workspace.configuration"):
            # the pull model: the notification only says that something changed
            ls.loop.create_task(_pull_client_settings(ls))

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: AutogradlintServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any(is_config_file(uri_to_path(change.uri)) for change in params.changes):
            ls.config.invalidate()
            ls.relint_all()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(ls: AutogradlintServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        folders = [uri_to_path(f.uri) for f in ls.workspace.folders.values()]
        ls.config.set_folders([f for f in folders if f is not None])
        ls.config.invalidate()
        ls.relint_all()

    # ---- hover and code actions
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: AutogradlintServer, params: types.HoverParams) -> Optional[types.Hover]:
        document = ls.documents.get(params.text_document.uri)
        if document is None:
            return None
        results = await ls.current_results(document)
        if results is None:
            return None
        at = (params.position.line, params.position.character)
        pages: List[str] = []
        shown = set()
        where: Optional[types.Range] = None
        for finding, diagnostic in zip(results.findings, results.lsp):
            r = diagnostic.range
            if not (r.start.line, r.start.character) <= at <= (r.end.line, r.end.character) or finding.code in shown:
                continue
            shown.add(finding.code)
            pages.append(_documentation(finding))
            where = where or r
        if not pages:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(pages)),
                           range=where)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND], resolve_provider=True))
    async def code_action(ls: AutogradlintServer, params: types.CodeActionParams) -> Optional[List[types.CodeAction]]:
        document = ls.documents.get(params.text_document.uri)
        if document is None:
            return None
        results = await ls.current_results(document)
        if results is None:
            return None
        only = params.context.only
        actions: List[types.CodeAction] = []
        if _wanted(types.CodeActionKind.QuickFix, only):
            for finding, diagnostic in zip(results.findings, results.lsp):
                if not _overlaps(diagnostic.range, params.range):
                    continue
                fix = finding.fix
                if fix is not None and fix.edits:
                    unsafe = fix.applicability != "safe"
                    edits: Dict[str, Tuple[Optional[int], List[types.TextEdit]]] = {}
                    for e in fix.edits:
                        uri, version, lines = results.target(e)
                        edits.setdefault(uri, (version, []))[1].append(types.TextEdit(
                            range=lsp_range(lines, e.line, e.column, e.end_line, e.end_column, ls.encoding),
                            new_text=e.content))
                    actions.append(types.CodeAction(
                        title=f"autogradlint: fix {finding.code} ({finding.name})" + (" (unsafe)" if unsafe else ""),
                        kind=types.CodeActionKind.QuickFix, diagnostics=[diagnostic], is_preferred=not unsafe,
                        edit=_workspace_edit(ls, edits)))
                suppress = noqa_edit(results.text, finding)
                if suppress is not None:
                    start, end, content = suppress
                    edit = types.TextEdit(range=offset_range(results.lines, start, end, ls.encoding), new_text=content)
                    actions.append(types.CodeAction(
                        title=f"autogradlint: suppress {finding.code} ({finding.name}) on this line with # noqa",
                        kind=types.CodeActionKind.QuickFix, diagnostics=[diagnostic],
                        edit=_workspace_edit(ls, {results.uri: (results.version, [edit])})))
        # fix-all: offered when asked for by kind (on save, say), or when some finding has a fix --fix applies
        asked = bool(only) and _wanted(FIX_ALL_KIND, only)
        if asked or (not only and any(applicable(f, results.config.unsafe) for f in results.findings)):
            action = types.CodeAction(title="autogradlint: fix all auto-fixable problems", kind=FIX_ALL_KIND,
                                      data={"uri": document.uri, "version": results.version})
            if not ls.client_supports("text_document.code_action.resolve_support"):
                action = await _resolve_fix_all(ls, action)
            if action is not None:
                actions.append(action)
        return actions

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve_code_action(ls: AutogradlintServer, action: types.CodeAction) -> types.CodeAction:
        if action.kind == FIX_ALL_KIND and action.edit is None:
            resolved = await _resolve_fix_all(ls, action)
            if resolved is not None:
                return resolved
            action.edit = types.WorkspaceEdit(changes={})
        return action

    return server


async def _resolve_fix_all(ls: AutogradlintServer, action: types.CodeAction) -> Optional[types.CodeAction]:
    """The fix-all action with its edit: the text the CLI's --fix leaves, computed in the lint thread on
    the document's current text."""
    data = action.data if isinstance(action.data, dict) else {}
    document = ls.documents.get(data.get("uri", ""))
    if document is None:
        return None
    results = await ls.current_results(document)
    if results is None:
        return None
    # (uri, version, text before) of every document the fix-all may change, and how to compute it
    notebook = ls.notebooks.get(document.notebook) if document.notebook else None
    config = ls.config
    if notebook is not None:
        cells = ls.cells_of(notebook)
        pieces = [(uri, cell.version, cell.text) for uri, _, cell in cells]
        kinds_texts = [(kind, cell.text) for _, kind, cell in cells]
        path = notebook.path

        def compute() -> List[Optional[str]]:
            return fix_notebook(kinds_texts, config.for_document(path)) or [None] * len(kinds_texts)
    else:
        pieces = [(document.uri, document.version, document.text)]
        text, path = document.text, document.path

        def compute() -> List[Optional[str]]:
            return [fix_all(text, config.for_document(path))]

    try:
        new_texts = await asyncio.wrap_future(ls.worker.call(compute))
    except Exception:
        logger.exception("fix-all failed")
        new_texts = [None] * len(pieces)
    edits: Dict[str, Tuple[Optional[int], List[types.TextEdit]]] = {}
    for (uri, version, old), new in zip(pieces, new_texts):
        edits[uri] = (version, [])
        if new is not None and new != old:
            lines = LineMap(old)
            for start, end, content in changed_spans(old, new):
                edits[uri][1].append(types.TextEdit(range=offset_range(lines, start, end, ls.encoding), new_text=content))
    action.edit = _workspace_edit(ls, edits)
    return action


def _workspace_edit(ls: AutogradlintServer, edits: Dict[str, Tuple[Optional[int], List[types.TextEdit]]]) -> types.WorkspaceEdit:
    """The edits of each document (uri -> (version, edits)); versioned (the client refuses them for another
    version of the document) where the client takes that."""
    if ls.client_supports("workspace.workspace_edit.document_changes"):
        return types.WorkspaceEdit(document_changes=[
            types.TextDocumentEdit(text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                                   edits=text_edits) for uri, (version, text_edits) in edits.items()])
    return types.WorkspaceEdit(changes={uri: text_edits for uri, (_, text_edits) in edits.items()})


def _apply_changes(ls: AutogradlintServer, document: Document, changes) -> None:
    """A document's (or a cell's) text after ``TextDocumentContentChangeEvent``s, in order."""
    text = document.text
    for change in changes:
        if isinstance(change, types.TextDocumentContentChangePartial):
            start = (change.range.start.line, change.range.start.character)
            end = (change.range.end.line, change.range.end.character)
            text = apply_change(text, start, end, change.text, ls.encoding)
        else:
            text = change.text
    document.text = text


def _documentation(finding: Diagnostic) -> str:
    from autogradlint.rule import find_rule

    if finding.code == SYNTAX_ERROR[0]:
        return f"# {SYNTAX_ERROR[1]} ({SYNTAX_ERROR[0]})\n\nThe file cannot be parsed, so no rule could look at it."
    if finding.code == FILE_TOO_LARGE[0]:
        return (f"# {FILE_TOO_LARGE[1]} ({FILE_TOO_LARGE[0]})\n\nThe file is larger than `max-file-size` "
                "(in `[tool.autogradlint]`), so it was not parsed.")
    if finding.code == INTERNAL_ERROR[0]:
        return (f"# {INTERNAL_ERROR[1]} ({INTERNAL_ERROR[0]})\n\nautogradlint failed on this file; "
                "the message says where. Please report it.")
    info = find_rule(finding.code)
    if info is None:
        return f"# {finding.name} ({finding.code})"
    from autogradlint.docs import rule_page

    return rule_page(info.load())


def _use_client_settings(ls: AutogradlintServer, value: object) -> None:
    client = ClientSettings.parse(value)
    for problem in client.problems:
        ls.show(problem)
    ls.config.set_client(client)
    ls.relint_all()


async def _pull_client_settings(ls: AutogradlintServer) -> None:
    try:
        values = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="autogradlint")]))
    except Exception:
        logger.exception("workspace/configuration failed")
        return
    if values:
        _use_client_settings(ls, {"autogradlint": values[0]} if isinstance(values[0], dict) else None)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, another user's; anything else: not known to be gone
        return True
    return True


async def _watch_parent(ls: AutogradlintServer, pid: int) -> None:
    """Exit when the client process is gone (an editor killed without closing our stdin)."""
    if os.name == "nt":
        return  # os.kill(pid, 0) would terminate the process on Windows
    while not ls.stopped.is_set():
        await asyncio.sleep(PARENT_POLL)
        if not _process_alive(pid):
            logger.info("the client process %s is gone: exiting", pid)
            ls.finish(0)
            return


def _warm_up() -> None:
    """Import the engine, LibCST and every rule class once, before the first document needs them."""
    from autogradlint import engine, fixing  # noqa: F401
    from autogradlint.rule import rule_index

    for info in rule_index().values():
        try:
            info.load()
        except Exception:  # reported as an internal error where the rule is used
            pass
    lint_text("import torch\nx = torch.zeros(1, requires_grad=True)\n",
              DocumentConfig(None, list(rule_index().values()), "warm-up.py", False))


def _exit_now(code: int) -> None:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def run(stdin=None, stdout=None, force_exit: bool = False) -> int:
    """Serve over stdio until the client says exit, closes our stdin, or dies; the exit code."""
    server = build_server()
    server.force_exit = force_exit
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer

    def protocol_thread() -> None:
        try:
            server.start_io(stdin, stdout)
        except BaseException:  # pragma: no cover - pygls reports its own errors
            logger.exception("the protocol loop failed")
        finally:
            server.finish(0)  # stdin closed (the client went away) or exit: stop linting

    thread = threading.Thread(target=protocol_thread, name="autogradlint-lsp", daemon=True)
    thread.start()
    try:
        server.worker.run()
    except KeyboardInterrupt:
        server.finish(130)
    server.stopped.wait(1.0)
    try:
        stdout.flush()
    except (OSError, ValueError):
        pass
    return server.exit_code if server.exit_code is not None else 0


def main() -> int:
    logging.basicConfig(level=os.environ.get("AUTOGRADLINT_LOG_LEVEL", "WARNING").upper(), stream=sys.stderr,
                        format="autogradlint server: %(levelname)s: %(message)s")
    code = run(force_exit=True)
    # the protocol thread may still be blocked reading stdin (a client that sent exit but keeps the pipe
    # open): leave at once rather than wait for it
    sys.stderr.flush()
    os._exit(code)
