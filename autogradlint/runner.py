"""Linting (and fixing) many files: one job per file, its outcome, and writing fixed files back."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import List, Optional, Sequence, Tuple

from autogradlint.analysis.torch_versions import NEWEST, TorchVersion
from autogradlint.cache import Cache, entry_key
from autogradlint.documents import file_size_limit, is_notebook_path, open_document, shown_bytes, unknown_noqa
from autogradlint.records import Record
from autogradlint.files import DEFAULT_MAX_FILE_SIZE, FileTooLarge, format_size, read_regular
from autogradlint.rule import FILE_TOO_LARGE, INTERNAL_ERROR, AnyRule, Diagnostic

# The engine and the fixer (and through them LibCST and the analyses) are imported when a file is linted,
# never by a run whose files are all cached.

CHECK, FIX, DIFF = "check", "fix", "diff"

# seconds one file may take before it is reported and skipped (--file-timeout; 0 turns the limit off)
DEFAULT_FILE_TIMEOUT = 120.0


class FileTimeout(BaseException):
    """Raised by the alarm in the middle of linting a file; a BaseException, so that no rule's or the
    engine's ``except Exception`` swallows it."""


@contextmanager
def time_limit(seconds: float):
    """Raise FileTimeout in the block after ``seconds`` (SIGALRM: main thread of a POSIX process only; the
    alarm fires between Python bytecodes, so a long call into LibCST's native parser ends first)."""
    import signal  # here, as the engine: a run whose files are all cached lints none
    import threading

    usable = seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise FileTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def timed_out(display: str, seconds: float) -> Diagnostic:
    return Diagnostic(display, 1, 1, 1, 1, INTERNAL_ERROR[0], INTERNAL_ERROR[1], "error",
                      f"internal error: linting {display} took longer than the {seconds:g} s limit (--file-timeout); "
                      "the file was skipped. Please report this.")


def too_large(display: str, size: int, limit: int) -> Diagnostic:
    """The engine's GL002 finding for a file over the size limit: it is not read further nor parsed."""
    amount = f"{format_size(size)}, " if size > limit + 1 else ""  # only limit + 1 bytes were read from a pipe
    return Diagnostic(display, 1, 1, 1, 1, FILE_TOO_LARGE[0], FILE_TOO_LARGE[1], "error",
                      f"the file is too large to check: {amount}over the limit of {format_size(limit)} "
                      "(--max-file-size, or max-file-size in [tool.autogradlint]; 0 for no limit)")


def read_source(path: str, display: str, limit: Optional[int]) -> Tuple[Optional[bytes], Optional["FileOutcome"]]:
    """The file's bytes (read only if it is a regular file, and only up to ``limit`` + 1 bytes), or instead
    the outcome that stands for it: a read error, or a GL002 finding for a file over the limit."""
    try:
        return read_regular(path, file_size_limit(display, limit)), None
    except OSError as error:
        return None, FileOutcome(display, error=f"{display}: cannot read: {error.strerror or error}")
    except FileTooLarge as error:
        return None, FileOutcome(display, [too_large(display, error.size, error.limit)])


def lint_within_limit(data: bytes, display: str, rules: Sequence[AnyRule], seconds: float,
                      torch_version: TorchVersion = NEWEST, project: Optional[object] = None,
                      max_size: Optional[int] = None) -> List[Diagnostic]:
    """The document's findings (a script's or a notebook's, see autogradlint.documents), or one internal-error
    finding when linting takes longer than ``seconds`` (``max_size`` bounds a notebook's code)."""
    try:
        with time_limit(seconds):
            return open_document(data, display).lint(rules, max_size, torch_version, project)
    except FileTimeout:
        return [timed_out(display, seconds)]


def noqa_warnings(data: bytes, display: str) -> List[str]:
    """A warning for every unknown autogradlint code named in a ``# noqa`` comment of the file."""
    return _noqa_notes(unknown_noqa(data, display), display)


def _noqa_notes(unknown: Sequence[Tuple[str, str]], display: str) -> List[str]:
    return [f"{display}:{where}: unknown rule code '{code}' in a noqa comment (see 'autogradlint rules')"
            for where, code in unknown]


class FileOutcome(Record):
    """What happened to one file: findings left, fixes made, and its bytes before and after."""

    __slots__ = ("display", "diagnostics", "fixed", "source", "new_source", "error", "warning", "notes")

    def __init__(self, display: str, diagnostics: Optional[List[Diagnostic]] = None,
                 fixed: Optional[List[Diagnostic]] = None, source: Optional[bytes] = None,
                 new_source: Optional[bytes] = None, error: Optional[str] = None, warning: Optional[str] = None,
                 notes: Optional[List[str]] = None) -> None:
        self.display = display
        self.diagnostics = [] if diagnostics is None else diagnostics
        self.fixed = [] if fixed is None else fixed
        self.source = source  # kept only when needed for output (findings or a diff)
        self.new_source = new_source  # set when fixing changed the file
        self.error = error  # a read or write failure: the user is told, exit code 2
        self.warning = warning  # a fix that could not be applied
        self.notes = [] if notes is None else notes  # warnings about the file's noqa comments


def process_source(data: bytes, display: str, rules: Sequence[AnyRule], mode: str, unsafe: bool,
                   file_timeout: float = DEFAULT_FILE_TIMEOUT, torch_version: TorchVersion = NEWEST,
                   max_size: Optional[int] = None) -> FileOutcome:
    """Lint (or fix, or diff) one file's bytes; nothing is written here."""
    outcome = FileOutcome(display, notes=noqa_warnings(data, display))
    if mode == CHECK:
        outcome.diagnostics = lint_within_limit(data, display, rules, file_timeout, torch_version, max_size=max_size)
    else:
        from autogradlint.fixing import fix_source

        try:
            with time_limit(file_timeout):
                result = fix_source(data, display, rules, unsafe, torch_version, max_size)
        except FileTimeout:
            outcome.diagnostics = [timed_out(display, file_timeout)]
            outcome.source = data
            return outcome
        outcome.diagnostics = result.remaining
        outcome.fixed = result.fixed
        outcome.new_source = result.new_source
        outcome.warning = result.error
    if outcome.diagnostics or outcome.new_source is not None:
        outcome.source = shown_bytes(data, display)
    return outcome


def process_file(path: str, display: str, rules: Sequence[AnyRule], mode: str, unsafe: bool,
                 file_timeout: float = DEFAULT_FILE_TIMEOUT, max_size: Optional[int] = DEFAULT_MAX_FILE_SIZE,
                 torch_version: TorchVersion = NEWEST) -> FileOutcome:
    """Read, lint or fix one file; with ``mode == FIX`` the fixed bytes are written back atomically."""
    data, instead = read_source(path, display, max_size)
    if instead is not None:
        return instead
    outcome = process_source(data, display, rules, mode, unsafe, file_timeout, torch_version, max_size)
    if mode == FIX and outcome.new_source is not None:
        from autogradlint.fixing import write_atomically

        try:
            write_atomically(path, outcome.new_source)
            outcome.new_source = shown_bytes(outcome.new_source, display)
        except OSError as error:
            # the file is unchanged: nothing was fixed, and its findings are still there
            outcome.error = f"{display}: cannot write the fixed file: {error.strerror or error}"
            outcome.new_source = None
            outcome.fixed = []
            outcome.warning = None
            outcome.diagnostics = lint_within_limit(data, display, rules, file_timeout, torch_version, max_size=max_size)
            outcome.source = shown_bytes(data, display) if outcome.diagnostics else None
    return outcome


# below this many files to lint, worker processes cost more to start than they save
PARALLEL_MIN_FILES = 24


class FileJob(Record):
    """One file to lint: where it is, how it is shown, and the rules selected for it."""

    __slots__ = ("path", "display", "rules", "max_size")

    def __init__(self, path: str, display: str, rules: List[AnyRule], max_size: Optional[int] = DEFAULT_MAX_FILE_SIZE) -> None:
        self.path = path
        self.display = display
        self.rules = rules
        self.max_size = max_size  # bytes; a larger file is refused before parsing (None or 0: no limit)


def _lint_job(job: Tuple[Optional[bytes], str, List[AnyRule], float, TorchVersion, str, bool, Optional[int]]
              ) -> Tuple[List[Diagnostic], dict, dict, List[Tuple[str, str]], Optional[bytes], Optional[str]]:
    """Findings, the project files they depend on (see analysis.project), the summaries computed, the unknown
    codes of the file's noqa comments and (for a notebook with findings) what the report needs of it: all from
    one reading of the file (a notebook is parsed once). A notebook's bytes are read here rather than held by
    the run until its turn (its outputs may be megabytes): then the cache key of what was read comes back too,
    so that a file changed in between is not cached under the old key."""
    from autogradlint.analysis.project import ProjectContext, take_new_summaries

    data, display, rules, file_timeout, torch_version, path, want_key, max_size = job
    key = None
    if data is None:
        again, instead = read_source(path, display, max_size)
        if instead is not None:  # it changed since the run read it
            return (instead.diagnostics or [_failure(display, f"{instead.error}")]), {}, {}, [], None, None
        data = again
        key = entry_key(data, [r.code for r in rules], torch_version) if want_key else None
    unknown = unknown_noqa(data, display)
    project = ProjectContext(path)
    project.reuse_trees = True  # one CLI run: the project's files are read once for caller searches
    diagnostics = lint_within_limit(data, display, rules, file_timeout, torch_version, project, max_size)
    shown = shown_bytes(data, display) if diagnostics and is_notebook_path(display) else None
    return diagnostics, project.dependencies, take_new_summaries(), unknown, shown, key


def _fix_job(job: Tuple[FileJob, str, bool, float, TorchVersion]) -> FileOutcome:
    file_job, mode, unsafe, file_timeout, torch_version = job
    return process_file(file_job.path, file_job.display, file_job.rules, mode, unsafe, file_timeout, file_job.max_size,
                        torch_version)


def _lint_failed(job: tuple, error: BaseException) -> tuple:
    return [_failure(job[1], f"{type(error).__name__}: {error}")], {}, {}, [], None, None  # as _lint_job answers


def _lint_crashed(job: tuple, how: str) -> tuple:
    return [crashed(job[1], how)], {}, {}, [], None, None


def _fix_failed(job: Tuple[FileJob, str, bool, float], error: BaseException) -> FileOutcome:
    return FileOutcome(job[0].display, [_failure(job[0].display, f"{type(error).__name__}: {error}")])


def _fix_crashed(job: Tuple[FileJob, str, bool, float], how: str) -> FileOutcome:
    # the worker died before it wrote the file (it writes only once the fix is made): the file is as it was
    return FileOutcome(job[0].display, [crashed(job[0].display, how)])


def _failure(display: str, what: str) -> Diagnostic:
    return Diagnostic(display, 1, 1, 1, 1, INTERNAL_ERROR[0], INTERNAL_ERROR[1], "error",
                      f"internal error: {what} while linting {display}; the file was skipped. Please report this.")


def crashed(display: str, how: str) -> Diagnostic:
    """The finding for a file whose worker process died on it, twice (see autogradlint.pool)."""
    return Diagnostic(display, 1, 1, 1, 1, INTERNAL_ERROR[0], INTERNAL_ERROR[1], "error",
                      f"internal error: the linter process crashed on this file ({how}); the file was skipped and "
                      "the other files were checked. Please report this.")


# function -> (its result for an item that raised, its result for an item whose worker died)
_FALLBACKS = {_lint_job: (_lint_failed, _lint_crashed), _fix_job: (_fix_failed, _fix_crashed)}


def _map(function, items: list, workers: int) -> list:
    """``function`` over ``items``, in worker processes when there are enough of them; order is kept. A worker
    that dies costs only the item it was on (autogradlint.pool)."""
    if workers <= 1 or len(items) < PARALLEL_MIN_FILES:
        return [function(item) for item in items]
    from autogradlint.pool import run_parallel

    on_error, on_crash = _FALLBACKS[function]
    batch = max(1, len(items) // (workers * 8))
    return run_parallel(function, items, workers, on_error, on_crash, batch)


def run_files(jobs: Sequence[FileJob], mode: str, unsafe: bool, workers: int, cache: Optional[Cache],
              file_timeout: float = DEFAULT_FILE_TIMEOUT, torch_version: TorchVersion = NEWEST) -> List[FileOutcome]:
    """Lint (or fix) every file, reusing cached results for unchanged files in check mode. Findings of
    internal errors (a crashed rule, a file over the time limit) are never cached."""
    if mode != CHECK:
        return _map(_fix_job, [(job, mode, unsafe, file_timeout, torch_version) for job in jobs], workers)
    outcomes: List[Optional[FileOutcome]] = [None] * len(jobs)
    pending: List[Tuple[int, Optional[bytes], str]] = []
    for position, job in enumerate(jobs):
        data, instead = read_source(job.path, job.display, job.max_size)
        if instead is not None:
            outcomes[position] = instead
            continue
        key = entry_key(data, [r.code for r in job.rules], torch_version) if cache is not None else ""
        cached = cache.get(os.path.abspath(job.path), key) if cache is not None else None
        if cached is not None:
            diagnostics, unknown = cached
            outcomes[position] = FileOutcome(job.display, [_shown_as(d, job.display) for d in diagnostics],
                                             source=shown_bytes(data, job.display) if diagnostics else None,
                                             notes=_noqa_notes(unknown, job.display))
        else:
            outcomes[position] = FileOutcome(job.display)
            # a notebook is read again by its job (see _lint_job): the run does not hold its outputs meanwhile
            pending.append((position, None if is_notebook_path(job.display) else data, key))
        del data
    if cache is not None and cache.directory is not None and pending:
        from autogradlint.analysis import project

        project.use_store(str(cache.directory), cache.fingerprint)
    results = _map(_lint_job, [(data, jobs[p].display, jobs[p].rules, file_timeout, torch_version, jobs[p].path,
                                cache is not None, jobs[p].max_size) for p, data, _ in pending], workers)
    summaries: dict = {}
    for (position, data, key), (diagnostics, dependencies, computed, unknown, shown, read_key) in zip(pending, results):
        outcome = outcomes[position]
        outcome.diagnostics = diagnostics
        outcome.notes = _noqa_notes(unknown, jobs[position].display)
        outcome.source = (data if shown is None else shown) if diagnostics else None
        summaries.update(computed)
        if read_key is not None and read_key != key:
            continue  # the file changed while the run went on: its findings are not cached under the old key
        if cache is not None and not any(d.code == INTERNAL_ERROR[0] for d in diagnostics):
            cache.put(os.path.abspath(jobs[position].path), key, diagnostics, unknown, dependencies)
    if cache is not None:
        cache.save(summaries)
    return [o for o in outcomes if o is not None]


def _shown_as(diagnostic: Diagnostic, display: str) -> Diagnostic:
    """A cached finding under the path as shown in this run (the working directory may differ)."""
    return diagnostic if diagnostic.path == display else diagnostic.replace(path=display)
