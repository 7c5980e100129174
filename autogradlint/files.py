"""Reading files safely: only regular files, never more than a limit.

``open(path).read()`` blocks forever on a FIFO (a named pipe with no writer) and reads ``/dev/zero`` until
memory runs out. Every file autogradlint reads (sources, pyproject.toml, the cache) goes through
``read_regular``: the file is opened without blocking, checked to be a regular file on the open descriptor
(so that nothing can swap it between a check and the read), and read up to ``limit + 1`` bytes at most.
"""
from __future__ import annotations

import errno
import os
import stat
from typing import Optional

# LibCST needs about 1.6 GB of memory per MB of generated source (0.6 GB per MB of ordinary code): a file of
# 2 MiB keeps one worker within about 3 GB at worst, and every hand-written file of torch and transformers
# (the largest, torch's common_methods_invocations.py, is 1.4 MB) stays under it
DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a socket or a directory: nothing autogradlint reads."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", path)
        self.kind = kind


class FileTooLarge(Exception):
    """The file is larger than the limit; ``size`` is its size as far as known (at least ``limit + 1``)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes, over the limit of {limit}")
        self.size = size
        self.limit = limit


def file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular(path: str, limit: Optional[int] = None) -> bytes:
    """The bytes of the regular file at ``path`` (symbolic links followed). Raises ``NotRegularFile`` (an
    OSError) for anything else, without blocking, and ``FileTooLarge`` when it holds more than ``limit``
    bytes (``None`` or 0: no limit), having read at most ``limit + 1`` of them."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    with open(descriptor, "rb", closefd=True) as handle:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotRegularFile(str(path), file_kind(status.st_mode))
        if not limit:
            return handle.read()
        if status.st_size > limit:
            raise FileTooLarge(status.st_size, limit)
        # as much as fstat says (a buffer of limit + 1 bytes for every small file costs an mmap), then, if
        # the file has grown since, the rest up to limit + 1
        data = handle.read(status.st_size + 1)
        if len(data) > status.st_size:
            data += handle.read(limit + 1 - len(data))
        if len(data) > limit:
            raise FileTooLarge(max(len(data), status.st_size), limit)
        return data


def remove_quietly(path: str) -> None:
    """Remove the file ``path`` if it can be (a leftover temporary file: its failure changes nothing)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def format_size(size: int) -> str:
    """``size`` bytes for people: "2 MiB", "1.5 MiB", "300 KiB", "12 bytes"."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            value = size / factor
            return f"{value:.1f} {unit}".replace(".0 ", " ")
    return f"{size} byte{'s' if size != 1 else ''}"


def parse_size(text: str) -> int:
    """A size as written on the command line or in the configuration: bytes, or a number with a unit
    (K/KB/KiB, M/MB/MiB, G/GB/GiB, all powers of 1024). Raises ValueError."""
    value = text.strip().lower().replace(" ", "")
    factor = 1
    for suffixes, unit_factor in ((("kib", "kb", "k"), 1 << 10), (("mib", "mb", "m"), 1 << 20), (("gib", "gb", "g"), 1 << 30)):
        for suffix in suffixes:
            if value.endswith(suffix):
                value, factor = value[: -len(suffix)], unit_factor
                break
        if factor != 1:
            break
    if value.endswith("b") and factor == 1:  # "100b": bytes
        value = value[:-1]
    number = float(value)  # ValueError for anything else
    if not number >= 0 or number == float("inf"):
        raise ValueError(text)
    return int(number * factor)
