"""Worker processes that lint files in parallel, built so that a worker's death costs only the file it was on.

concurrent.futures' pool gives up on every outstanding task when one worker dies (BrokenProcessPool): one file that
crashed LibCST's native parser lost every other file's findings, and with --fix the files were rewritten while
nothing was reported. Here each worker has a pipe of its own; it is sent batches of items and answers each item
as soon as it is done, so the parent always knows which item a dead worker was on. That item is tried once more
in a fresh worker (a worker can also be killed from outside, by the OOM killer say) and, if it dies again, gets
``on_crash``'s result; the rest of the batch goes to the other workers, and a replacement worker is started.

A worker exits when the parent dies: the kernel sends it SIGTERM on Linux (PR_SET_PDEATHSIG), a thread that
watches the parent's pid does elsewhere, and a worker waiting for work sees its pipe closed. The parent kills its
workers when it ends for any reason, SIGTERM included.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any, Callable, Dict, List, Sequence, Tuple

# how many times an item whose worker died is run before it is given up as the cause
ATTEMPTS = 2


def _die_with_parent(parent: int) -> None:
    """Make this worker end when the process ``parent`` ends."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    # portable, and a second line on Linux: the parent may have died before prctl was called (the check runs at
    # once); it needs the GIL, which a worker busy in native code may hold for a while
    threading.Thread(target=watch, name="autogradlint-parent-watch", daemon=True).start()


def _worker(connection, parent: int, inherited: Sequence[int], function: Callable[[Any], Any],
            on_error: Callable[[Any, BaseException], Any]) -> None:
    """A worker's life: batches of (index, item) in, (index, result) out, one message per item."""
    for descriptor in inherited:  # the parent's ends of the other workers' pipes (fork): theirs to close
        try:
            os.close(descriptor)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the workers
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    while True:
        try:
            batch = connection.recv()
        except (EOFError, OSError):
            os._exit(0)  # the parent is gone
        if batch is None:
            break
        for index, item in batch:
            try:
                result = function(item)
            except Exception as error:  # MemoryError included: this item's result says so, the worker goes on
                result = on_error(item, error)
            try:
                connection.send((index, result))
            except (EOFError, OSError):
                os._exit(0)  # the parent is gone
            except Exception as error:  # a result that cannot be pickled
                connection.send((index, on_error(item, error)))
    connection.close()


class _Worker:
    def __init__(self, context, function, on_error, inherited: Sequence[int]) -> None:
        parent_end, child_end = context.Pipe(duplex=True)
        self.connection = parent_end
        self.batch: List[Tuple[int, Any]] = []  # sent, not yet answered, in order
        if inherited is not None:  # fork: the child has a copy of its own pipe's parent end too
            inherited = list(inherited) + [parent_end.fileno()]
        self.process = context.Process(
            target=_worker, args=(child_end, os.getpid(), inherited or [], function, on_error), daemon=True)
        self.process.start()
        child_end.close()

    def send(self, batch: List[Tuple[int, Any]]) -> None:
        self.batch.extend(batch)
        try:
            self.connection.send(batch)
        except OSError:
            pass  # it died: waiting on it says so, and the batch is sent elsewhere


def _how_it_ended(process) -> str:
    process.join(5)
    code = process.exitcode
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _context():
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


class _Terminated(BaseException):
    """SIGTERM arrived while the parent waited for its workers."""


def run_parallel(function: Callable[[Any], Any], items: Sequence[Any], workers: int,
                 on_error: Callable[[Any, BaseException], Any], on_crash: Callable[[Any, str], Any],
                 batch_size: int) -> List[Any]:
    """``function`` over ``items`` in ``workers`` processes, results in the order of ``items``. An exception in
    ``function`` gives ``on_error(item, error)``; an item whose worker died ``ATTEMPTS`` times gives
    ``on_crash(item, how)``. ``function``, ``on_error`` and the items must be picklable (spawn)."""
    from multiprocessing.connection import wait

    context = _context()
    fork = context.get_start_method() == "fork"
    results: List[Any] = [None] * len(items)
    done = [False] * len(items)
    remaining = len(items)
    attempts: Dict[int, int] = {}
    # the queue of work: batches put back after a crash (a crashed item alone, to be tried again) first, then
    # batches of the items in order
    retry: List[List[int]] = []
    position = 0
    pool: List[_Worker] = []

    def start_worker() -> _Worker:
        inherited = [w.connection.fileno() for w in pool] if fork else None
        worker = _Worker(context, function, on_error, inherited)
        pool.append(worker)
        return worker

    def feed(worker: _Worker) -> None:
        nonlocal position
        if retry:
            worker.send([(index, items[index]) for index in retry.pop(0)])
        elif position < len(items):
            batch = [(i, items[i]) for i in range(position, min(position + batch_size, len(items)))]
            position += len(batch)
            worker.send(batch)

    def on_term(signum, frame):
        raise _Terminated()

    installed, previous = False, None
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
        previous = signal.signal(signal.SIGTERM, on_term)
        installed = True
    terminated = False
    try:
        for _ in range(min(workers, len(items))):
            feed(start_worker())
        while remaining:
            busy = [w for w in pool if w.batch]
            if not busy:  # every worker idle, yet items remain: only after crashes emptied the pool
                feed(start_worker())
                continue
            ready = wait([w.connection for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.connection not in ready and worker.process.sentinel not in ready:
                    continue
                crashed = False
                try:
                    # everything it answered before it died is read first
                    while worker.batch and worker.connection.poll():
                        index, result = worker.connection.recv()
                        worker.batch.pop(0)
                        if not done[index]:
                            results[index], done[index] = result, True
                            remaining -= 1
                except (EOFError, OSError, ValueError, TypeError, AttributeError, ImportError, IndexError):
                    crashed = True  # the pipe closed, or a message was cut off by the death
                if not crashed and worker.batch and not worker.process.is_alive():
                    crashed = not worker.connection.poll()
                if crashed:
                    pool.remove(worker)
                    how = _how_it_ended(worker.process)
                    worker.connection.close()
                    # the first item not answered is the one it died on; the others wait for another worker
                    index = worker.batch[0][0]
                    rest = [i for i, _ in worker.batch[1:] if not done[i]]
                    if rest:
                        retry.insert(0, rest)
                    attempts[index] = attempts.get(index, 0) + 1
                    if attempts[index] >= ATTEMPTS:
                        results[index], done[index] = on_crash(items[index], how), True
                        remaining -= 1
                    else:
                        retry.insert(0, [index])
                    if remaining:
                        feed(start_worker())
                elif not worker.batch:
                    feed(worker)
        for worker in pool:
            try:
                worker.connection.send(None)
            except OSError:
                pass
        for worker in pool:
            worker.process.join(5)
    except _Terminated:
        terminated = True
    finally:
        for worker in pool:
            if worker.process.is_alive():
                worker.process.kill()
        for worker in pool:
            worker.process.join(5)
            worker.connection.close()
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    if terminated:
        # the workers are gone: now end as SIGTERM would have ended this process (or as its handler says)
        os.kill(os.getpid(), signal.SIGTERM)
        raise SystemExit(128 + signal.SIGTERM)
    return results
