"""``[tool.autogradlint]`` in the nearest pyproject.toml, merged with command-line flags."""
from __future__ import annotations

import fnmatch
import os
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from autogradlint.files import DEFAULT_MAX_FILE_SIZE, parse_size, read_regular
from autogradlint.records import Record
from autogradlint.report import FORMAT_NAMES as OUTPUT_FORMATS
from autogradlint.rule import RuleInfo, SelectionLayer, UnknownSelector, rules_matching

# ruff's default excludes, plus autogradlint's own cache
DEFAULT_EXCLUDE = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pyenv",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".autogradlint_cache",
    ".svn",
    ".tox",
    ".venv",
    ".vscode",
    "__pypackages__",
    "__pycache__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
)

# the files a directory walk lints (ruff's `include`): Python files and Jupyter notebooks
DEFAULT_INCLUDE = ("*.py", "*.ipynb")

_LIST_KEYS = ("select", "extend-select", "ignore", "exclude", "extend-exclude", "include", "extend-include")
_BOOL_KEYS = ("respect-gitignore", "fix", "unsafe-fixes")
KNOWN_KEYS = frozenset(_LIST_KEYS + _BOOL_KEYS + ("per-file-ignores", "output-format", "max-file-size", "torch-version"))


class ConfigError(Exception):
    """A configuration problem the user must fix; the message is one line."""


class Settings(Record):
    __slots__ = ("root", "config_path", "file_layer", "per_file_ignores", "exclude", "extend_exclude",
                 "output_format", "respect_gitignore", "fix", "unsafe_fixes", "warnings", "max_file_size",
                 "torch_version", "pyproject", "include", "extend_include")

    def __init__(self, root: Path, config_path: Optional[Path] = None, file_layer: Optional[SelectionLayer] = None,
                 per_file_ignores: Optional[Dict[str, List[str]]] = None, exclude: Optional[List[str]] = None,
                 extend_exclude: Optional[List[str]] = None, output_format: str = "full", respect_gitignore: bool = True,
                 fix: bool = False, unsafe_fixes: bool = False, warnings: Optional[List[str]] = None,
                 max_file_size: int = DEFAULT_MAX_FILE_SIZE, torch_version: Optional[Tuple[int, int]] = None,
                 pyproject: Optional[dict] = None, include: Optional[List[str]] = None,
                 extend_include: Optional[List[str]] = None) -> None:
        self.root = root  # paths in the configuration are relative to this directory
        self.config_path = config_path
        self.file_layer = SelectionLayer() if file_layer is None else file_layer
        self.per_file_ignores = {} if per_file_ignores is None else per_file_ignores
        self.exclude = list(DEFAULT_EXCLUDE) if exclude is None else exclude
        self.extend_exclude = [] if extend_exclude is None else extend_exclude
        self.output_format = output_format
        self.respect_gitignore = respect_gitignore
        self.fix = fix
        self.unsafe_fixes = unsafe_fixes
        self.warnings = [] if warnings is None else warnings
        self.max_file_size = max_file_size  # bytes; 0: no limit
        # `torch-version` as configured (None: the project's pin decides, else the newest; see effective_torch_version)
        self.torch_version = torch_version
        self.pyproject = pyproject  # the configuration file's parsed TOML, for the project's torch pin
        self.include = list(DEFAULT_INCLUDE) if include is None else include
        self.extend_include = [] if extend_include is None else extend_include


def _toml():
    """tomllib, imported when a configuration file is read (it costs a pre-commit call 5 ms otherwise)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib


def nearest_config(start: Path) -> Tuple[Optional[Path], Optional[dict]]:
    """The nearest pyproject.toml at or above ``start`` that has a ``[tool.autogradlint]`` table, and its parsed
    TOML (None when it does not parse: load_settings reports that), so that it is not parsed twice."""
    directory = start.resolve()
    if directory.is_file():
        directory = directory.parent
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / "pyproject.toml"
        try:
            raw = read_regular(str(candidate))  # never blocks: a FIFO named pyproject.toml is passed over
        except OSError:
            continue  # none here (or not a readable regular file)
        if b"autogradlint" not in raw:
            continue  # cannot hold a [tool.autogradlint] table: not worth parsing
        tomllib = _toml()
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            # a broken file is only an error when it is the one we use: report it there
            if b"[tool.autogradlint" in raw:
                return candidate, None
            continue
        if isinstance(data.get("tool"), dict) and "autogradlint" in data["tool"]:
            return candidate, data
    return None, None


def _string_list(path: Path, key: str, value: object) -> List[str]:
    if isinstance(value, str):
        raise ConfigError(f"{path}: [tool.autogradlint] {key} must be a list of strings, not a string (write [\"{value}\"])")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: [tool.autogradlint] {key} must be a list of strings")
    return list(value)


def _check_selectors(path: Path, key: str, selectors: List[str]) -> None:
    for selector in selectors:
        try:
            rules_matching(selector)
        except UnknownSelector:
            raise ConfigError(f"{path}: [tool.autogradlint] {key}: unknown rule code or name '{selector}'") from None


def _check_patterns(path: Path, key: str, patterns: List[str]) -> None:
    """Exclude patterns are gitignore-style: one git would not accept is a configuration error."""
    wildcards = set("*?[]!\\")
    for pattern in patterns:
        if not set(pattern) & wildcards:
            continue  # a plain name: nothing to compile (and no need to import pathspec)
        from autogradlint.discovery import pattern_error

        error = pattern_error(pattern)
        if error is not None:
            raise ConfigError(f"{path}: [tool.autogradlint] {key}: invalid pattern '{pattern}': {error}")


def load_settings(config_path: Optional[Path], cwd: Path, data: Optional[dict] = None) -> Settings:
    """Settings from ``config_path`` (found from ``cwd`` when None; ``data`` is its TOML if already parsed);
    defaults when there is none."""
    if config_path is None:
        config_path, data = nearest_config(cwd)
        if config_path is None:
            return Settings(root=cwd.resolve())
    elif not config_path.exists():
        raise ConfigError(f"{config_path}: no such configuration file")
    if data is None:
        tomllib = _toml()
        try:
            data = tomllib.loads(read_regular(str(config_path)).decode("utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{config_path}: invalid TOML: {error}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{config_path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    table = data.get("tool", {}).get("autogradlint", {}) if config_path.name == "pyproject.toml" else data
    if not isinstance(table, dict):
        raise ConfigError(f"{config_path}: [tool.autogradlint] must be a table")
    settings = Settings(root=config_path.parent.resolve(), config_path=config_path)
    for key in table:
        if key not in KNOWN_KEYS:
            settings.warnings.append(f"{config_path}: unknown key '{key}' in [tool.autogradlint] is ignored")
    lists = {key: _string_list(config_path, key, table[key]) for key in _LIST_KEYS if key in table}
    for key in ("select", "extend-select", "ignore"):
        _check_selectors(config_path, key, lists.get(key, []))
    if lists.get("select") == []:
        raise ConfigError(f"{config_path}: [tool.autogradlint] select is empty: it would check nothing "
                          "(leave it out for the default rules)")
    settings.file_layer = SelectionLayer(
        select=lists.get("select"), extend_select=lists.get("extend-select", []), ignore=lists.get("ignore", [])
    )
    for key in ("exclude", "extend-exclude"):
        _check_patterns(config_path, key, lists.get(key, []))
    if "exclude" in lists:
        settings.exclude = lists["exclude"]
    settings.extend_exclude = lists.get("extend-exclude", [])
    if "include" in lists:
        settings.include = lists["include"]
    settings.extend_include = lists.get("extend-include", [])
    if "per-file-ignores" in table:
        value = table["per-file-ignores"]
        if not isinstance(value, dict):
            raise ConfigError(f"{config_path}: [tool.autogradlint] per-file-ignores must be a table of glob = [codes]")
        for pattern, codes in value.items():
            codes = _string_list(config_path, f"per-file-ignores.\"{pattern}\"", codes)
            _check_selectors(config_path, f"per-file-ignores.\"{pattern}\"", codes)
            settings.per_file_ignores[pattern] = codes
    for key in _BOOL_KEYS:
        if key in table:
            if not isinstance(table[key], bool):
                raise ConfigError(f"{config_path}: [tool.autogradlint] {key} must be true or false")
            setattr(settings, key.replace("-", "_"), table[key])
    if "max-file-size" in table:
        value = table["max-file-size"]
        try:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValueError(value)
            settings.max_file_size = parse_size(value) if isinstance(value, str) else value
            if settings.max_file_size < 0:
                raise ValueError(value)
        except ValueError:
            raise ConfigError(f"{config_path}: [tool.autogradlint] max-file-size must be a number of bytes (0 for no "
                              f"limit) or a size such as \"4MB\", not {value!r}") from None
    if "output-format" in table:
        value = table["output-format"]
        if value not in OUTPUT_FORMATS:
            raise ConfigError(
                f"{config_path}: [tool.autogradlint] output-format must be one of {', '.join(OUTPUT_FORMATS)}, not {value!r}"
            )
        settings.output_format = value
    if "torch-version" in table:
        settings.torch_version = parse_torch_version(table["torch-version"], f"{config_path}: [tool.autogradlint] torch-version")
    if config_path.name == "pyproject.toml":
        settings.pyproject = data
    return settings


def per_file_rules(display: str, path: str, settings: Settings, selected: List[RuleInfo]) -> List[RuleInfo]:
    """The selected rules minus those per-file-ignores switches off for this file."""
    if not settings.per_file_ignores:
        return selected
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(settings.root).as_posix()
    except ValueError:
        relative = display
    ignored = set()
    for pattern, selectors in settings.per_file_ignores.items():
        try:
            matched = any(fnmatch.fnmatchcase(candidate, pattern)
                          for candidate in (relative, display, absolute.name, absolute.as_posix()))
        except re.error:  # Python < 3.12 compiles an empty range ([z-a]) to a bad regex; newer ones match nothing
            matched = False
        if matched:
            for selector in selectors:
                ignored.update(r.code for r in rules_matching(selector))
    return [r for r in selected if r.code not in ignored]


def parse_torch_version(value: object, where: str) -> Tuple[int, int]:
    """(major, minor) of a configured torch version ("2.1", "1.13", "2.0.1"); a ConfigError naming ``where``
    otherwise."""
    from autogradlint.analysis.torch_versions import OLDEST, parse_version

    version = parse_version(value) if isinstance(value, str) and re.fullmatch(r"\s*\d+\.\d+(\.\d+)?\s*", value) else None
    if version is None:
        kind = "" if isinstance(value, str) else f" (a {type(value).__name__}: write it as a string)"
        raise ConfigError(f"{where} must be a torch release like \"2.1\", not {value!r}{kind}")
    if version < OLDEST:
        raise ConfigError(f"{where} must be {OLDEST[0]}.{OLDEST[1]} or newer, not {value!r}")
    return version


def effective_torch_version(settings: Settings, cli_value: Optional[Tuple[int, int]], cwd: Path) -> Tuple[Tuple[int, int], str]:
    """The torch version this run lints for, and where it comes from: ``--torch-version``, else
    ``torch-version`` in the configuration, else the project's own torch pin, else the newest release."""
    from autogradlint.analysis.torch_versions import NEWEST
    from autogradlint.pins import project_directory, project_torch_pin

    if cli_value is not None:
        return cli_value, "--torch-version"
    if settings.torch_version is not None:
        return settings.torch_version, f"torch-version in {settings.config_path}"
    directory = settings.root if settings.config_path is not None else project_directory(cwd)
    if directory is not None:
        pin = project_torch_pin(directory, settings.pyproject)  # None (read there) unless the configuration was a pyproject.toml
        if pin is not None:
            return pin[0], f"the project's pin: {pin[1]}"
    return NEWEST, "the newest torch autogradlint knows"
