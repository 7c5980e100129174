"""Which files to lint: the paths given, directories walked for ``*.py``, excludes and .gitignore."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from gradlint.config import Settings

# plain names (`.venv`, `build`) match any path component; anything else is a gitignore-style pattern
_WILDCARDS = set("/*?[!\\")


@dataclass
class Discovered:
    files: List[Path] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)


def _spec(patterns: Sequence[str]):
    # imported here: pathspec costs a tenth of a second to import, too much for a pre-commit call
    import pathspec

    return pathspec.PathSpec.from_lines("gitwildmatch", patterns)


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


class _Ignores:
    """Exclude patterns (relative to the settings root) and the .gitignore files met on the way down."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.root
        self.respect_gitignore = settings.respect_gitignore
        self.exclude = _Patterns([*settings.exclude, *settings.extend_exclude])
        self._gitignores: Dict[Path, object] = {}
        self._repo_chains: Dict[Path, List[Path]] = {}

    def _gitignore(self, directory: Path):
        if directory not in self._gitignores:
            spec = None
            candidate = directory / ".gitignore"
            try:
                if candidate.is_file():
                    spec = _spec(candidate.read_text(encoding="utf-8", errors="replace").splitlines())
            except OSError:
                spec = None
            self._gitignores[directory] = spec
        return self._gitignores[directory]

    def _relative(self, path: Path, base: Path) -> Optional[str]:
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            return None

    def excluded(self, path: Path, is_dir: bool, use_gitignore: bool = True) -> bool:
        """Whether exclude patterns (relative to the settings root, or on the name alone) or, when
        ``use_gitignore``, the .gitignore files of its repository exclude ``path``."""
        suffix = "/" if is_dir else ""
        relative = self._relative(path, self.root)
        candidates = [relative] if relative is not None else []
        candidates.append(path.name)
        if any(self.exclude.match(c, is_dir) for c in candidates if c):
            return True
        if not (self.respect_gitignore and use_gitignore):
            return False
        # .gitignore files of every directory from the repository top down to the path's parent
        for directory in self._gitignore_dirs(path.parent):
            spec = self._gitignore(directory)
            if spec is not None:
                rel = self._relative(path, directory)
                if rel and spec.match_file(rel + suffix):
                    return True
        return False

    def _gitignore_dirs(self, directory: Path) -> List[Path]:
        """The directories from ``directory`` up to its git repository's top; none outside a repository
        (as git itself, .gitignore files only count inside one)."""
        if directory not in self._repo_chains:
            chain: List[Path] = []
            current = directory
            while True:
                chain.append(current)
                if (current / ".git").exists():
                    break
                if current.parent == current:
                    chain = []
                    break
                current = current.parent
            self._repo_chains[directory] = chain
        return self._repo_chains[directory]


def discover(paths: Sequence[str], settings: Settings, force_exclude: bool = False) -> Discovered:
    """The Python files to lint, sorted, without duplicates. Files named explicitly are linted even
    when excluded (unless ``force_exclude``), as ruff does; missing paths are listed in ``missing``."""
    result = Discovered()
    ignores = _Ignores(settings)
    seen = set()

    def add(path: Path) -> None:
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            result.files.append(path)

    for raw in paths:
        path = Path(raw)
        absolute = Path(os.path.abspath(path))
        if path.is_dir():
            if force_exclude and ignores.excluded(absolute, True):
                continue
            for directory, dirnames, filenames in os.walk(path):
                dir_abs = Path(os.path.abspath(directory))
                dirnames[:] = sorted(d for d in dirnames if not ignores.excluded(dir_abs / d, True))
                for filename in sorted(filenames):
                    if filename.endswith(".py"):
                        file_path = Path(directory) / filename
                        if not ignores.excluded(dir_abs / filename, False) and (file_path.is_file()):
                            add(file_path)
        elif path.exists() or path.is_symlink():
            # a file named explicitly (pre-commit's staged files) is not tracked-or-ignored by git's rules
            if force_exclude and ignores.excluded(absolute, False, use_gitignore=False):
                continue
            add(path)
        else:
            result.missing.append(raw)
    result.files.sort(key=lambda p: p.as_posix())
    return result


def display_path(path: Path, cwd: Path) -> str:
    """The path as shown to the user: relative to the working directory when inside it."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


__all__: Tuple[str, ...] = ("discover", "display_path", "Discovered")
