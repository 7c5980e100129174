"""A content-hash cache of lint results, in ``.autogradlint_cache/`` (ruff's ``.ruff_cache/`` is the model).

One JSON file per autogradlint build holds, for every linted path, the hash of the file's bytes together with the
rules it was linted with, and the findings. An entry is used only when all of these match, so an edited file, a
changed configuration or another autogradlint build is linted again. A damaged cache file is ignored and rebuilt.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import autogradlint
from autogradlint import rule
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


def entry_key(data: bytes, rule_codes: Sequence[str]) -> str:
    digest = _blake2b()(data)
    digest.update(",".join(rule_codes).encode())
    return digest.hexdigest()


def diagnostic_from_json(item: dict) -> Diagnostic:
    fix = item.get("fix")
    built = None
    if fix is not None:
        built = Fix(fix["applicability"], tuple(Edit(**edit) for edit in fix["edits"]))
    return Diagnostic(item["path"], item["line"], item["column"], item["end_line"], item["end_column"], item["code"],
                      item["name"], item["severity"], item["message"], built)


class Cache:
    """Results by path; ``get`` returns findings only for an unchanged file linted with the same rules."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.file = directory / f"results-{build_fingerprint()}.json"
        self._entries: Dict[str, dict] = {}
        self._dirty = False
        self.index_current = False
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("entries"), dict):
                self._entries = data["entries"]
                # the file is named after the size and time of every autogradlint source: if the rule index was
                # current for the run that wrote it, it still is (see rule._INDEX_TRUSTED)
                self.index_current = data.get("index_current") is True
        except (OSError, ValueError, UnicodeDecodeError):
            self._entries = {}  # missing or damaged: start again

    def get(self, path: str, key: str) -> Optional[Tuple[List[Diagnostic], List[Tuple[int, str]]]]:
        """The findings and the unknown noqa codes ((line, code) pairs) stored for this file and key."""
        entry = self._entries.get(path)
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        try:
            unknown = [(int(line), str(code)) for line, code in entry["noqa"]]
            return [diagnostic_from_json(item) for item in entry["diagnostics"]], unknown
        except (KeyError, TypeError, ValueError, AttributeError):
            return None  # a damaged entry is never trusted

    def put(self, path: str, key: str, diagnostics: Sequence[Diagnostic],
            unknown_noqa: Sequence[Tuple[int, str]] = ()) -> None:
        self._entries[path] = {"key": key, "diagnostics": [d.to_json() for d in diagnostics],
                               "noqa": [list(pair) for pair in unknown_noqa]}
        self._dirty = True

    def save(self) -> None:
        """Write the cache atomically; a cache that cannot be written is silently skipped."""
        if not self._dirty:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tag = self.directory / "CACHEDIR.TAG"
            if not tag.exists():
                tag.write_text(_TAG)
            gitignore = self.directory / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("# created by autogradlint\n*\n")
            for old in self.directory.glob("results-*.json"):
                if old != self.file:
                    old.unlink()
            import tempfile  # here: a run that changes nothing writes nothing

            handle, temporary = tempfile.mkstemp(prefix=".results-", dir=self.directory)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"version": autogradlint.__version__, "index_current": rule.stored_index_current(),
                           "entries": self._entries}, out)
            os.replace(temporary, self.file)
        except OSError:
            pass


def default_cache_dir(root: Path) -> Path:
    override = os.environ.get("AUTOGRADLINT_CACHE_DIR")
    return Path(override) if override else root / CACHE_DIR_NAME
