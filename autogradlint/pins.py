"""The torch version a project pins: the lowest release its torch requirement admits.

Read from the project's ``pyproject.toml`` (``project.dependencies``, ``project.optional-dependencies``,
``tool.poetry.dependencies`` and poetry's dependency groups) and from the ``requirements*.txt`` files beside it.
When several requirements pin torch, the lowest of their lowest releases is taken: the code must work there.
A requirement with only an upper bound (``torch<2.0``) gives the newest minor release below it; one with no
bound at all (``torch``) or a URL gives nothing.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

from autogradlint.analysis.torch_versions import TorchVersion, parse_version

# the last minor release of each torch major before the newest one (for `<2.0`: 1.13)
_LAST_MINOR = {0: 4, 1: 13}

# a PEP 508 requirement: name, extras, then its version specifiers (markers after ';' are ignored)
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
_CLAUSE = re.compile(r"\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,;]+)\s*$")


def _is_torch(name: str) -> bool:
    return re.sub(r"[-_.]+", "-", name).lower() == "torch"


def _below(version: TorchVersion, inclusive: bool) -> Optional[TorchVersion]:
    """The newest minor release admitted by ``<version`` (``<=version`` when ``inclusive``)."""
    if inclusive:
        return version
    major, minor = version
    if minor > 0:
        return major, minor - 1
    if major - 1 in _LAST_MINOR:
        return major - 1, _LAST_MINOR[major - 1]
    return None


def lowest_admitted(specifiers: str) -> Optional[TorchVersion]:
    """The lowest (major, minor) a PEP 440 specifier set admits (``>=1.13,<2.2`` -> 1.13, ``==2.0.1`` -> 2.0,
    ``~=2.1`` -> 2.1); for an upper bound alone, the newest minor release below it; None without any bound."""
    lower: Optional[TorchVersion] = None
    upper: Optional[TorchVersion] = None
    for clause in specifiers.split(","):
        if not clause.strip():
            continue
        match = _CLAUSE.match(clause)
        if match is None:
            return None
        operator, text = match.groups()
        version = parse_version(text)
        if version is None:
            return None
        if operator in ("==", "===", "~=", ">=", ">"):
            lower = version if lower is None else max(lower, version)
        elif operator in ("<", "<="):
            # `<2.1` excludes 2.1.0 but `<2.1.1` admits 2.1.0: only a bound on x.y(.0) excludes x.y
            exclusive = operator == "<" and re.fullmatch(r"\d+(\.\d+)?(\.0+)*", text) is not None
            bound = _below(version, inclusive=not exclusive)
            if bound is not None:
                upper = bound if upper is None else min(upper, bound)
    if lower is not None:
        return lower
    return upper


def _poetry_lowest(constraint: str) -> Optional[TorchVersion]:
    """The lowest release a poetry constraint admits: ``^2.0``, ``~2.1``, ``2.0.1``, ``2.*``, ``>=1.13,<2.2``."""
    lowest: Optional[TorchVersion] = None
    for alternative in constraint.split("||"):  # poetry's "or": the lowest of the alternatives
        text = alternative.strip()
        if not text or text == "*":
            return None
        if text[0] in "^~" and not text.startswith("~="):
            found = parse_version(text[1:])
        elif text[0].isdigit():
            found = parse_version(text)
        else:
            found = lowest_admitted(re.sub(r"\s+(?=[<>=!~])", ",", text))  # poetry separates clauses by spaces too
        if found is None:
            return None
        lowest = found if lowest is None else min(lowest, found)
    return lowest


def requirement_pin(requirement: str) -> Optional[TorchVersion]:
    """The lowest torch release a PEP 508 requirement line admits; None when it is not about torch or
    sets no bound."""
    requirement = requirement.split(";", 1)[0].split(" #", 1)[0].strip()
    match = _REQUIREMENT.match(requirement)
    if match is None or not _is_torch(match.group(1)):
        return None
    rest = match.group(3).strip()
    if rest.startswith("@"):
        return None  # a URL: no version to read
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    return lowest_admitted(rest) if rest else None


def _pyproject_pins(data: dict) -> List[Tuple[TorchVersion, str]]:
    found: List[Tuple[TorchVersion, str]] = []
    project = data.get("project")
    if isinstance(project, dict):
        requirements: List[Tuple[str, str]] = []
        if isinstance(project.get("dependencies"), list):
            requirements += [(r, "project.dependencies") for r in project["dependencies"] if isinstance(r, str)]
        extras = project.get("optional-dependencies")
        if isinstance(extras, dict):
            for extra, items in extras.items():
                if isinstance(items, list):
                    requirements += [(r, f"project.optional-dependencies.{extra}") for r in items if isinstance(r, str)]
        for requirement, where in requirements:
            version = requirement_pin(requirement)
            if version is not None:
                found.append((version, f"{where} '{requirement.strip()}'"))
    poetry = data.get("tool", {}).get("poetry") if isinstance(data.get("tool"), dict) else None
    if isinstance(poetry, dict):
        tables = [("tool.poetry.dependencies", poetry.get("dependencies"))]
        groups = poetry.get("group")
        if isinstance(groups, dict):
            tables += [(f"tool.poetry.group.{name}.dependencies", group.get("dependencies"))
                       for name, group in groups.items() if isinstance(group, dict)]
        for where, table in tables:
            if not isinstance(table, dict):
                continue
            for name, value in table.items():
                if not _is_torch(name):
                    continue
                for constraint in _poetry_constraints(value):
                    version = _poetry_lowest(constraint)
                    if version is not None:
                        found.append((version, f"{where} torch = '{constraint}'"))
    return found


def _poetry_constraints(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and isinstance(value.get("version"), str):
        yield value["version"]
    elif isinstance(value, list):  # multiple-constraint dependencies
        for item in value:
            yield from _poetry_constraints(item)


# a requirements file or pyproject.toml larger than this is not read for pins
_MAX_PIN_FILE = 1 << 20


def _read(path: Path) -> Optional[bytes]:
    """The bytes of a regular file (never blocks on a FIFO named like one), None when it cannot be read."""
    from autogradlint.files import FileTooLarge, read_regular

    try:
        return read_regular(str(path), _MAX_PIN_FILE)
    except (OSError, FileTooLarge):
        return None


def _requirements_pins(path: Path) -> List[Tuple[TorchVersion, str]]:
    raw = _read(path)
    if raw is None:
        return []
    text = raw.decode("utf-8", errors="replace")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue  # comments and pip options (-r, -e, --index-url ...)
        version = requirement_pin(line)
        if version is not None:
            found.append((version, f"{path.name} '{line.split(' #', 1)[0].strip()}'"))
    return found


def project_torch_pin(directory: Path, pyproject: Optional[dict] = None) -> Optional[Tuple[TorchVersion, str]]:
    """The lowest torch release the project in ``directory`` pins, and where it says so (for messages);
    ``pyproject`` is its parsed pyproject.toml when already read. None when nothing pins torch."""
    found: List[Tuple[TorchVersion, str]] = []
    if pyproject is None:
        raw = _read(directory / "pyproject.toml") or b""
        if b"torch" in raw:
            from autogradlint.config import _toml

            tomllib = _toml()
            try:
                pyproject = tomllib.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError):
                pyproject = None  # a broken file pins nothing (it is only an error when it holds our configuration)
    if isinstance(pyproject, dict):
        found += [(version, f"pyproject.toml {where}") for version, where in _pyproject_pins(pyproject)]
    try:
        requirement_files = sorted(p for p in directory.glob("requirements*.txt") if p.is_file())
    except OSError:
        requirement_files = []
    for path in requirement_files:
        found += _requirements_pins(path)
    if not found:
        return None
    return min(found)


def project_directory(start: Path) -> Optional[Path]:
    """The nearest directory at or above ``start`` with a pyproject.toml or a requirements*.txt (not above a
    repository's root: a .git directory ends the search)."""
    directory = start.resolve()
    if directory.is_file():
        directory = directory.parent
    for candidate in (directory, *directory.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
        try:
            if any(p.is_file() for p in candidate.glob("requirements*.txt")):
                return candidate
        except OSError:
            pass
        if (candidate / ".git").exists():
            return None
    return None
