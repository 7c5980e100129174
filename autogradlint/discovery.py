"""Which files to lint: the paths given, directories walked for included files (``*.py``, ``*.ipynb``), excludes
and .gitignore."""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

from autogradlint.config import Settings
from autogradlint.files import read_regular
from autogradlint.records import Record

# plain names (`.venv`, `build`) match any path component; anything else is a gitignore-style pattern
_WILDCARDS = set("/*?[!\\")


class Discovered(Record):
    """The files to lint, the paths that do not exist, paths and directories that cannot be read (errors:
    the run goes on, exit code 2) and warnings (a path that is not a regular file, an invalid .gitignore
    pattern)."""

    __slots__ = ("files", "missing", "errors", "warnings")

    def __init__(self, files: Optional[List[str]] = None, missing: Optional[List[str]] = None,
                 errors: Optional[List[str]] = None, warnings: Optional[List[str]] = None) -> None:
        self.files = [] if files is None else files
        self.missing = [] if missing is None else missing
        self.errors = [] if errors is None else errors
        self.warnings = [] if warnings is None else warnings


def _spec(patterns: Sequence[str]):
    # imported here: pathspec costs a tenth of a second to import, too much for a pre-commit call
    import pathspec

    return pathspec.PathSpec.from_lines("gitwildmatch", patterns)


def pattern_error(pattern: str) -> Optional[str]:
    """Why git would not use ``pattern``, None when it is valid."""
    try:
        _spec([pattern])
    except Exception:  # re.error ("[z-a]"), pathspec's GitIgnorePatternError (a trailing backslash), ...
        if pattern.rstrip(" ").endswith("\\") and not pattern.rstrip(" ").endswith("\\\\"):
            return "it ends with an unescaped backslash"
        return "it is not a valid gitignore-style pattern (is a range backwards, as in [z-a]?)"
    return None


def _gitignore_spec(lines: Sequence[str], where: str, warnings: List[str]):
    """A PathSpec of a .gitignore's lines. As git, a line that is not a valid pattern matches nothing: it is
    left out, with a warning naming the file and line."""
    try:
        return _spec(lines)
    except Exception:
        pass
    valid = []
    for number, line in enumerate(lines, start=1):
        if pattern_error(line) is None:
            valid.append(line)
        else:
            warnings.append(f"{display_path(where, os.getcwd())}:{number}: invalid pattern '{line}' is ignored "
                            "(git ignores it too)")
    return _spec(valid)


class _Patterns:
    """Exclude patterns: plain names are matched as path components without pathspec (the common
    case, and the defaults), the others through a gitignore-style PathSpec built on first use."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.names = {p.rstrip("/") for p in patterns if p.strip() and not (set(p.rstrip("/")) & _WILDCARDS)}
        self.others = [p for p in patterns if p.strip() and p.rstrip("/") not in self.names]
        self._spec = None

    def match(self, relative: str, is_dir: bool) -> bool:
        parts = relative.split("/")
        # a plain name matches a directory anywhere on the path, or the file itself
        if any(part in self.names for part in parts[:-1]) or parts[-1] in self.names:
            return True
        if not self.others:
            return False
        if self._spec is None:
            self._spec = _spec(self.others)
        return self._spec.match_file(relative + ("/" if is_dir else ""))


def _posix(path: str) -> str:
    """``path`` written as pathlib writes it: "/" separators, no "." components, no doubled or trailing
    separator ("./a//b.py" -> "a/b.py"); ".." is kept."""
    path = path.replace(os.sep, "/")
    parts = [part for part in path.split("/") if part and part != "."]
    joined = "/".join(parts)
    if path.startswith("/"):
        return "/" + joined
    return joined or "."


def _relative(path: str, base: str) -> Optional[str]:
    """``path`` relative to ``base`` (both absolute and normalised), "/"-separated; None outside it."""
    if path == base:
        return "."
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix):].replace(os.sep, "/")


class _Ignores:
    """Exclude patterns (relative to the settings root) and the .gitignore files met on the way down.
    Paths here are absolute strings: pathlib costs a large repository's cached run a fifth of its time."""

    def __init__(self, settings: Settings) -> None:
        self.root = os.path.abspath(settings.root)
        self.respect_gitignore = settings.respect_gitignore
        self.exclude = _Patterns([*settings.exclude, *settings.extend_exclude])
        self._gitignores: Dict[str, object] = {}
        self.warnings: List[str] = []
        self._repo_chains: Dict[str, List[str]] = {}

    def _gitignore(self, directory: str):
        if directory not in self._gitignores:
            spec = None
            candidate = os.path.join(directory, ".gitignore")
            try:
                if os.path.isfile(candidate):
                    lines = read_regular(candidate).decode("utf-8", errors="replace").splitlines()
                    spec = _gitignore_spec(lines, candidate, self.warnings)
            except OSError:
                spec = None
            self._gitignores[directory] = spec
        return self._gitignores[directory]

    def excluded(self, path: str, is_dir: bool, use_gitignore: bool = True) -> bool:
        """Whether exclude patterns (relative to the settings root, or on the name alone) or, when
        ``use_gitignore``, the .gitignore files of its repository exclude ``path`` (absolute)."""
        suffix = "/" if is_dir else ""
        relative = _relative(path, self.root)
        candidates = [relative] if relative is not None else []
        candidates.append(os.path.basename(path))
        if any(self.exclude.match(c, is_dir) for c in candidates if c):
            return True
        if not (self.respect_gitignore and use_gitignore):
            return False
        # .gitignore files of every directory from the repository top down to the path's parent
        for directory in self._gitignore_dirs(os.path.dirname(path)):
            spec = self._gitignore(directory)
            if spec is not None:
                rel = _relative(path, directory)
                if rel and spec.match_file(rel + suffix):
                    return True
        return False

    def _gitignore_dirs(self, directory: str) -> List[str]:
        """The directories from ``directory`` up to its git repository's top; none outside a repository
        (as git itself, .gitignore files only count inside one)."""
        if directory not in self._repo_chains:
            chain: List[str] = []
            current = directory
            while True:
                chain.append(current)
                if os.path.lexists(os.path.join(current, ".git")):
                    break
                parent = os.path.dirname(current)
                if parent == current:
                    chain = []
                    break
                current = parent
            self._repo_chains[directory] = chain
        return self._repo_chains[directory]


class _Includes:
    """Which files a directory walk lints (``include`` + ``extend-include``): ``*.ext`` patterns by their suffix
    (the common case, and the defaults), a pattern with a "/" as a gitignore-style pattern on the path relative to
    the settings root, any other on the file's name."""

    def __init__(self, patterns: Sequence[str], root: str) -> None:
        self.root = root
        self.suffixes = tuple(p[1:] for p in patterns if p.startswith("*.") and not (set(p[1:]) & _WILDCARDS))
        self.names = [p for p in patterns if p.strip() and p[1:] not in self.suffixes and "/" not in p]
        self.paths = [p for p in patterns if p.strip() and p[1:] not in self.suffixes and "/" in p]
        self._spec = None

    def match(self, name: str, path_abs: str) -> bool:
        if name.endswith(self.suffixes):
            return True
        if self.names:
            import fnmatch

            if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.names):
                return True
        if self.paths:
            relative = _relative(path_abs, self.root)
            if relative is not None:
                if self._spec is None:
                    self._spec = _spec(self.paths)
                return self._spec.match_file(relative)
        return False


def _walk_files(top: str, top_abs: str, ignores: _Ignores, add, errors: List[str], includes: "_Includes") -> None:
    """``add`` every included file (*.py, *.ipynb) under ``top`` that is not excluded: a directory's files (sorted) before its
    subdirectories (sorted), as ``os.walk`` goes; symbolic links to directories are not followed, a directory
    that cannot be read is an error. ``os.scandir`` tells files from directories without a ``stat`` per file;
    anything but a regular file (a FIFO named ``x.py``, a socket) is passed over."""
    try:
        with os.scandir(top) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as error:
        errors.append(f"{printable(_posix(top))}: cannot read the directory: {error.strerror or error}")
        return
    subdirectories = []
    for entry in entries:
        name = entry.name
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and includes.match(name, os.path.join(top_abs, name)) and entry.is_file()
        except OSError:  # as os.walk: an entry that cannot be looked at is not a directory (nor a file)
            continue
        if is_dir:
            if not ignores.excluded(os.path.join(top_abs, name), True) and not entry.is_symlink():
                subdirectories.append(name)
        elif is_file and not ignores.excluded(os.path.join(top_abs, name), False):
            add(os.path.join(top, name))
    for name in subdirectories:
        _walk_files(os.path.join(top, name), os.path.join(top_abs, name), ignores, add, errors, includes)


def discover(paths: Sequence[str], settings: Settings, force_exclude: bool = False) -> Discovered:
    """The Python files to lint (paths as given, pathlib-normalised: "./a//b.py" is "a/b.py"), sorted,
    without duplicates. Files named explicitly are linted even when excluded (unless ``force_exclude``), as
    ruff does; missing paths are listed in ``missing``, paths that cannot be looked at (a folder that cannot
    be searched) in ``errors``; a named path that is not a regular file (a FIFO, ``/dev/zero``) is skipped
    with a warning."""
    import stat

    from autogradlint.files import file_kind

    result = Discovered()
    ignores = _Ignores(settings)
    includes = _Includes([*settings.include, *settings.extend_include], os.path.abspath(settings.root))
    seen = set()

    def add(path: str) -> None:
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            result.files.append(_posix(path))

    for raw in paths:
        absolute = os.path.abspath(raw)
        try:
            mode = os.stat(raw).st_mode
        except (FileNotFoundError, NotADirectoryError):
            if os.path.lexists(raw):
                add(raw)  # a broken symbolic link: reading it reports why
            else:
                result.missing.append(raw)
            continue
        except OSError as error:  # permission denied on a folder above it, a symbolic link loop, ...
            result.errors.append(f"{printable(raw)}: cannot read: {error.strerror or error}")
            continue
        if stat.S_ISDIR(mode):
            if force_exclude and ignores.excluded(absolute, True):
                continue
            _walk_files(raw, absolute, ignores, add, result.errors, includes)
        elif stat.S_ISREG(mode):
            # a file named explicitly (pre-commit's staged files) is not tracked-or-ignored by git's rules
            if force_exclude and ignores.excluded(absolute, False, use_gitignore=False):
                continue
            add(raw)
        else:
            result.warnings.append(f"{printable(raw)}: not a regular file ({file_kind(mode)}): skipped")
    result.files.sort()
    result.warnings[:0] = ignores.warnings
    return result


def display_path(path: str, cwd: str) -> str:
    """The path as shown to the user: relative to the working directory when inside it, and printable
    (see ``printable``)."""
    relative = _relative(os.path.abspath(path), cwd)
    return printable(relative if relative is not None else _posix(path))


def printable(path: str) -> str:
    """``path`` as every output shows it. A file name that is not valid UTF-8 reaches Python with its bad
    bytes as lone surrogates (PEP 383), which a UTF-8 JSON document cannot hold and a terminal cannot show:
    each such byte is written ``\\xNN`` instead (b"b\\xff.py" is shown as ``b\\xff.py``), in every output
    format and message alike."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass
    try:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return path.encode("utf-8", "backslashreplace").decode("utf-8")


__all__: Tuple[str, ...] = ("discover", "display_path", "printable", "Discovered")
