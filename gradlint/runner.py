"""Linting (and fixing) many files: one job per file, its outcome, and writing fixed files back."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Type

from gradlint.cache import Cache, entry_key
from gradlint.engine import lint_source
from gradlint.fixing import fix_source, write_atomically
from gradlint.rule import Diagnostic, Rule

CHECK, FIX, DIFF = "check", "fix", "diff"


@dataclass
class FileOutcome:
    """What happened to one file: findings left, fixes made, and its bytes before and after."""

    display: str
    diagnostics: List[Diagnostic] = field(default_factory=list)
    fixed: List[Diagnostic] = field(default_factory=list)
    source: Optional[bytes] = None  # kept only when needed for output (findings or a diff)
    new_source: Optional[bytes] = None  # set when fixing changed the file
    error: Optional[str] = None  # a read or write failure: the user is told, exit code 2
    warning: Optional[str] = None  # a fix that could not be applied


def process_source(data: bytes, display: str, rules: Sequence[Type[Rule]], mode: str, unsafe: bool) -> FileOutcome:
    """Lint (or fix, or diff) one file's bytes; nothing is written here."""
    outcome = FileOutcome(display)
    if mode == CHECK:
        outcome.diagnostics = lint_source(data, display, rules)
    else:
        result = fix_source(data, display, rules, unsafe)
        outcome.diagnostics = result.remaining
        outcome.fixed = result.fixed
        outcome.new_source = result.new_source
        outcome.warning = result.error
    if outcome.diagnostics or outcome.new_source is not None:
        outcome.source = data
    return outcome


def process_file(path: str, display: str, rules: Sequence[Type[Rule]], mode: str, unsafe: bool) -> FileOutcome:
    """Read, lint or fix one file; with ``mode == FIX`` the fixed bytes are written back atomically."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return FileOutcome(display, error=f"{display}: cannot read: {error.strerror or error}")
    outcome = process_source(data, display, rules, mode, unsafe)
    if mode == FIX and outcome.new_source is not None:
        try:
            write_atomically(path, outcome.new_source)
        except OSError as error:
            outcome.error = f"{display}: cannot write the fixed file: {error.strerror or error}"
            outcome.new_source = None
    return outcome


# below this many files to lint, worker processes cost more to start than they save
PARALLEL_MIN_FILES = 24


@dataclass
class FileJob:
    """One file to lint: where it is, how it is shown, and the rules selected for it."""

    path: str
    display: str
    rules: List[Type[Rule]]


def _lint_job(job: Tuple[bytes, str, List[Type[Rule]]]) -> List[Diagnostic]:
    data, display, rules = job
    return lint_source(data, display, rules)


def _fix_job(job: Tuple[FileJob, str, bool]) -> FileOutcome:
    file_job, mode, unsafe = job
    return process_file(file_job.path, file_job.display, file_job.rules, mode, unsafe)


def _pool(workers: int):
    import concurrent.futures
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def _map(function, items: list, workers: int) -> list:
    """``function`` over ``items``, in worker processes when there are enough of them; order is kept."""
    if workers <= 1 or len(items) < PARALLEL_MIN_FILES:
        return [function(item) for item in items]
    chunk = max(1, len(items) // (workers * 8))
    with _pool(workers) as pool:
        return list(pool.map(function, items, chunksize=chunk))


def run_files(jobs: Sequence[FileJob], mode: str, unsafe: bool, workers: int, cache: Optional[Cache]) -> List[FileOutcome]:
    """Lint (or fix) every file, reusing cached results for unchanged files in check mode."""
    if mode != CHECK:
        return _map(_fix_job, [(job, mode, unsafe) for job in jobs], workers)
    outcomes: List[Optional[FileOutcome]] = [None] * len(jobs)
    pending: List[Tuple[int, bytes, str]] = []
    for position, job in enumerate(jobs):
        try:
            with open(job.path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            outcomes[position] = FileOutcome(job.display, error=f"{job.display}: cannot read: {error.strerror or error}")
            continue
        key = entry_key(data, [r.code for r in job.rules])
        cached = cache.get(os.path.abspath(job.path), key) if cache is not None else None
        if cached is not None:
            outcomes[position] = FileOutcome(job.display, [_shown_as(d, job.display) for d in cached], source=data if cached else None)
        else:
            pending.append((position, data, key))
    results = _map(_lint_job, [(data, jobs[p].display, jobs[p].rules) for p, data, _ in pending], workers)
    for (position, data, key), diagnostics in zip(pending, results):
        outcomes[position] = FileOutcome(jobs[position].display, diagnostics, source=data if diagnostics else None)
        if cache is not None:
            cache.put(os.path.abspath(jobs[position].path), key, diagnostics)
    if cache is not None:
        cache.save()
    return [o for o in outcomes if o is not None]


def _shown_as(diagnostic: Diagnostic, display: str) -> Diagnostic:
    """A cached finding under the path as shown in this run (the working directory may differ)."""
    return diagnostic if diagnostic.path == display else dataclasses.replace(diagnostic, path=display)
