"""A content-hash cache of lint results, in ``.autogradlint_cache/`` (ruff's ``.ruff_cache/`` is the model).

One JSON file per autogradlint build holds, for every linted path, the hash of the file's bytes together with the
rules it was linted with, and the findings. An entry is used only when all of these match, so an edited file, a
changed configuration or another autogradlint build is linted again. A file's entry also records the summaries of
the project files it imports (see ``analysis.project``, kept in ``summaries-*.json``): it is used only while they
are unchanged. A damaged cache file, or a damaged entry
(wrong types, nesting too deep, anything), is ignored and rebuilt.

The cache writes only into a folder that is its own: one it creates, an empty one, or one that holds nothing
but the files it writes (``CACHEDIR.TAG``, ``.gitignore``, ``results-*.json``, ``summaries-*.json`` and its temporary
files). Given a
folder that holds anything else (``--cache-dir .``, ``AUTOGRADLINT_CACHE_DIR=$PWD``), it keeps its files in a
``.autogradlint_cache`` folder it creates inside; if that too is taken by other files, the run goes on without a
cache and says so. ``autogradlint clean`` removes only the files the cache wrote, and a folder only once it is
empty, so it never deletes anything else.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import autogradlint
from autogradlint import rule
from autogradlint.files import read_regular, remove_quietly
from autogradlint.rule import Diagnostic, Edit, Fix

CACHE_DIR_NAME = ".autogradlint_cache"
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by autogradlint.\n"


def _blake2b():
    """hashlib's BLAKE2b without importing hashlib, which loads OpenSSL first (3 ms of a cached run)."""
    try:
        from _blake2 import blake2b  # CPython's own module, the one hashlib.blake2b comes from
    except ImportError:  # pragma: no cover
        from hashlib import blake2b
    return blake2b


def build_fingerprint() -> str:
    """autogradlint's version plus the size and mtime of its own sources, so that an upgrade or an edited rule
    never reuses old results."""
    digest = _blake2b()(autogradlint.__version__.encode(), digest_size=16)
    roots = {os.path.dirname(autogradlint.__file__)}
    try:
        roots.update(rule._import_rules_package().__path__)
    except ImportError:  # pragma: no cover
        pass
    for root in sorted(roots):
        for directory, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            relative = os.path.relpath(directory, root)
            for name in sorted(filenames):
                if name.endswith(".py") or name.endswith(".json"):
                    stat = os.stat(os.path.join(directory, name))
                    digest.update(f"{relative}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def entry_key(data: bytes, rule_codes: Sequence[str], torch_version: Sequence[int] = ()) -> str:
    """The key a file's results are stored under: its bytes, the rules run and the torch version linted for."""
    digest = _blake2b()(data)
    digest.update(",".join(rule_codes).encode())
    digest.update(("|torch " + ".".join(map(str, torch_version))).encode())
    return digest.hexdigest()


def _integer(value: object) -> int:
    if type(value) is not int or value < 0:  # not bool, not a string of digits, not null
        raise TypeError("not an integer")
    return value


def _string(value: object) -> str:
    if type(value) is not str:
        raise TypeError("not a string")
    return value


def diagnostic_from_json(item: object) -> Diagnostic:
    """A stored finding; TypeError/KeyError/ValueError when the item is not exactly what ``to_json`` wrote."""
    if not isinstance(item, dict):
        raise TypeError("not an object")
    fix = item.get("fix")
    built = None
    if fix is not None:
        if not isinstance(fix, dict) or not isinstance(fix.get("edits"), list):
            raise TypeError("not a fix")
        edits = []
        for edit in fix["edits"]:
            if not isinstance(edit, dict):
                raise TypeError("not an edit")
            edits.append(Edit(_integer(edit["line"]), _integer(edit["column"]), _integer(edit["end_line"]),
                              _integer(edit["end_column"]), _string(edit["content"]),
                              None if edit.get("cell") is None else _integer(edit["cell"])))
        built = Fix(_string(fix["applicability"]), tuple(edits))
    return Diagnostic(_string(item["path"]), _integer(item["line"]), _integer(item["column"]),
                      _integer(item["end_line"]), _integer(item["end_column"]), _string(item["code"]),
                      _string(item["name"]), _string(item["severity"]), _string(item["message"]), built,
                      None if item.get("cell") is None else _integer(item["cell"]))


_GITIGNORE = "# created by autogradlint\n*\n"


# the results and summaries files (named after the build fingerprint) and the temporary files of tempfile.mkstemp
_WRITTEN = re.compile(r"(?:results|summaries)-[0-9a-f]{20}\.json|\.(?:results|autogradlint)-[a-z0-9_]{8}")


def _is_cache_file(name: str) -> bool:
    """Whether ``name`` is one the cache writes into its folder."""
    return name in ("CACHEDIR.TAG", ".gitignore") or _WRITTEN.fullmatch(name) is not None


def _holds(path: Path, content: str) -> bool:
    """Whether the regular file ``path`` holds exactly ``content``."""
    try:
        return read_regular(str(path), 4096) == content.encode()
    except Exception:
        return False


def is_own_folder(directory: Path) -> bool:
    """Whether the cache may write into ``directory``: it does not exist yet, or it is an (existing, real)
    folder that is empty or holds only files the cache writes, with the cache's own CACHEDIR.TAG and
    .gitignore if any."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return not os.path.lexists(directory)
    except OSError:
        return False
    if not all(_is_cache_file(name) for name in names):
        return False
    if "CACHEDIR.TAG" in names and not _holds(directory / "CACHEDIR.TAG", _TAG):
        return False
    if ".gitignore" in names and not _holds(directory / ".gitignore", _GITIGNORE):
        return False
    return True


def cache_location(directory: Path) -> Tuple[Optional[Path], Optional[str]]:
    """Where the cache lives when asked to use ``directory``, and a warning when it cannot be kept anywhere:
    ``directory`` itself if it is the cache's own folder (see ``is_own_folder``), else a ``.autogradlint_cache``
    folder inside it, else nowhere. A path that is a file, or a folder that cannot be listed, is returned as
    it is: such a cache is read as empty and never written, as before."""
    if is_own_folder(directory):
        return directory, None
    if not directory.is_dir() or not os.access(directory, os.R_OK | os.X_OK):
        return directory, None
    inner = directory / CACHE_DIR_NAME
    if is_own_folder(inner):
        return inner, None
    return None, (f"{directory} and {inner} hold files autogradlint did not write: the cache is not used "
                  "(give --cache-dir a new or empty folder)")


class Cache:
    """Results by path; ``get`` returns findings only for an unchanged file linted with the same rules.
    ``directory`` is where the user asked for the cache; ``self.directory`` is where it is kept (see
    ``cache_location``), None when nowhere: then nothing is read or written and ``warning`` says why."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.warning = cache_location(directory)
        self.fingerprint = build_fingerprint()
        self.file = None if self.directory is None else self.directory / f"results-{self.fingerprint}.json"
        self._entries: Dict[str, dict] = {}
        self._dirty = False
        self.index_current = False
        if self.file is None:
            return
        try:
            data = json.loads(read_regular(str(self.file)).decode("utf-8"))
            if isinstance(data, dict) and isinstance(data.get("entries"), dict):
                self._entries = data["entries"]
                # the file is named after the size and time of every autogradlint source: if the rule index was
                # current for the run that wrote it, it still is (see rule._INDEX_TRUSTED)
                self.index_current = data.get("index_current") is True
        except (OSError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
            self._entries = {}  # missing, damaged or nested too deeply: start again

    def get(self, path: str, key: str) -> Optional[Tuple[List[Diagnostic], List[Tuple[str, str]]]]:
        """The findings and the unknown noqa codes ((where, code) pairs: where is the line, or ``cell N:line`` in a
        notebook) stored for this file and key."""
        entry = self._entries.get(path)
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        dependencies = entry.get("deps")
        if dependencies:
            # the result also depends on the summaries of the project files the file imports
            from autogradlint.analysis import project

            project.use_store(str(self.directory), self.fingerprint)
            try:
                if not project.dependencies_current(dict(dependencies)):
                    return None
            except Exception:
                return None  # a damaged entry is never trusted
        try:
            unknown = []
            for pair in entry["noqa"]:
                if not isinstance(pair, list) or len(pair) != 2:
                    return None
                unknown.append((_string(pair[0]) if isinstance(pair[0], str) else str(_integer(pair[0])), _string(pair[1])))
            diagnostics = entry["diagnostics"]
            if not isinstance(diagnostics, list):
                return None
            return [diagnostic_from_json(item) for item in diagnostics], unknown
        except Exception:
            return None  # a damaged entry is never trusted: it is a miss, whatever is wrong with it

    def put(self, path: str, key: str, diagnostics: Sequence[Diagnostic],
            unknown_noqa: Sequence[Tuple[str, str]] = (), dependencies: Optional[dict] = None) -> None:
        self._entries[path] = {"key": key, "diagnostics": [d.to_json() for d in diagnostics],
                               "noqa": [list(pair) for pair in unknown_noqa]}
        if dependencies:
            self._entries[path]["deps"] = dependencies
        self._dirty = True

    def save(self, summaries: Optional[dict] = None) -> None:
        """Write the cache atomically (with the project-file ``summaries`` this run computed added to the
        stored ones); a cache that cannot be written is silently skipped."""
        if (not self._dirty and not summaries) or self.directory is None:
            return
        import tempfile  # here: a run that changes nothing writes nothing

        def write(path: Path, text: str) -> None:
            handle, temporary = tempfile.mkstemp(prefix=".autogradlint-", dir=self.directory)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(temporary, path)
            except BaseException:
                remove_quietly(temporary)
                raise

        try:
            if not is_own_folder(self.directory):
                return  # something else was put there since the run began: leave the folder alone
            self.directory.mkdir(parents=True, exist_ok=True)
            if not (self.directory / "CACHEDIR.TAG").exists():
                write(self.directory / "CACHEDIR.TAG", _TAG)
            if not (self.directory / ".gitignore").exists():
                write(self.directory / ".gitignore", _GITIGNORE)
            summaries_file = self.directory / f"summaries-{self.fingerprint}.json"
            for old in [*self.directory.glob("results-*.json"), *self.directory.glob("summaries-*.json")]:
                if old != self.file and old != summaries_file and _is_cache_file(old.name):
                    remove_quietly(str(old))
            if summaries:
                from autogradlint.analysis import project

                stored = project.read_summaries(str(self.directory), self.fingerprint)
                stored.update(summaries)
                write(summaries_file, json.dumps(stored))
            if self._dirty:
                write(self.file, json.dumps({"version": autogradlint.__version__,
                                             "index_current": rule.stored_index_current(), "entries": self._entries}))
        except (OSError, ValueError, RecursionError):
            pass


def clean(directory: Path) -> List[str]:
    """Remove the cache kept for ``directory`` (the folder itself and a ``.autogradlint_cache`` inside it):
    only the files the cache writes, in a folder marked by its CACHEDIR.TAG, and the folder once it is
    empty. Returns what was removed; raises OSError when a file cannot be removed."""
    removed: List[str] = []
    for folder in (directory / CACHE_DIR_NAME, directory):
        if not folder.is_dir() or not _holds(folder / "CACHEDIR.TAG", _TAG):
            continue
        names = os.listdir(folder)
        for name in sorted(names, key=lambda n: n == "CACHEDIR.TAG"):  # the tag last: it marks the folder
            path = folder / name
            if name == ".gitignore" and not _holds(path, _GITIGNORE):
                continue
            if _is_cache_file(name) and (path.is_file() and not path.is_symlink()):
                os.unlink(path)
        if not os.listdir(folder) and not folder.is_symlink():  # a link to a folder: the link is the user's
            os.rmdir(folder)
            removed.append(str(folder))
        else:
            removed.append(f"autogradlint's files from {folder}")
    return removed


def default_cache_dir(root: Path) -> Path:
    override = os.environ.get("AUTOGRADLINT_CACHE_DIR")
    return Path(override) if override else root / CACHE_DIR_NAME
