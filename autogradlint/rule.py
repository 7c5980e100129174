"""The rule framework: Rule base class, Diagnostic, examples, evidence and the registry.

A rule is one module in ``rules/`` (installed as ``autogradlint.rules``) holding one ``Rule`` subclass.
The registry imports every module of that package, so adding a rule touches no engine file.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Dict, FrozenSet, List, NamedTuple, Optional, Sequence, Tuple, Type, Union

from autogradlint.records import FrozenRecord, Record

if TYPE_CHECKING:  # pragma: no cover
    import libcst as cst

    from autogradlint.examples import Evidence, Invalid, Valid

    from autogradlint.context import LintContext

SEVERITIES = ("error", "warning", "hint")

# Diagnostics the engine itself produces; they are not rules and cannot be deselected.
SYNTAX_ERROR = ("GL001", "syntax-error")
INTERNAL_ERROR = ("GL000", "internal-error")
FILE_TOO_LARGE = ("GL002", "file-too-large")  # over max-file-size: refused before parsing
ENGINE_CODES = (INTERNAL_ERROR[0], SYNTAX_ERROR[0], FILE_TOO_LARGE[0])
# a rule, opt-in, that the engine runs after the others: it judges their noqa comments (rules/unused_noqa.py)
UNUSED_NOQA = ("GL003", "unused-noqa")


class Edit(FrozenRecord):
    """Replace the text between two 1-based (line, column) positions; end is exclusive. In a notebook the
    positions are inside code cell ``cell`` (1-based over all cells); None in a script."""

    __slots__ = ("line", "column", "end_line", "end_column", "content", "cell")

    def __init__(self, line: int, column: int, end_line: int, end_column: int, content: str,
                 cell: Optional[int] = None) -> None:
        self._assign(line, column, end_line, end_column, content, cell)

    def to_json(self) -> dict:
        out = {"line": self.line, "column": self.column, "end_line": self.end_line, "end_column": self.end_column,
               "content": self.content}
        if self.cell is not None:
            out["cell"] = self.cell
        return out


class Fix(FrozenRecord):
    __slots__ = ("applicability", "edits")

    def __init__(self, applicability: str, edits: Tuple[Edit, ...] = ()) -> None:
        # applicability: "safe" or "unsafe"
        self._assign(applicability, edits)


def applicable(diagnostic: "Diagnostic", unsafe: bool) -> bool:
    """Whether ``--fix`` applies the diagnostic's fix (unsafe ones only with ``--unsafe-fixes``)."""
    fix = diagnostic.fix
    return fix is not None and bool(fix.edits) and (fix.applicability == "safe" or unsafe)


class Diagnostic(FrozenRecord):
    __slots__ = ("path", "line", "column", "end_line", "end_column", "code", "name", "severity", "message", "fix",
                 "cell")

    def __init__(self, path: str, line: int, column: int, end_line: int, end_column: int, code: str, name: str,
                 severity: str, message: str, fix: Optional[Fix] = None, cell: Optional[int] = None) -> None:
        # lines and columns are 1-based, columns in characters, end_column exclusive; in a notebook they are
        # inside cell ``cell`` (1-based over all the notebook's cells), None in a script
        self._assign(path, line, column, end_line, end_column, code, name, severity, message, fix, cell)

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.code, self.message)

    def to_json(self) -> dict:
        fix = None
        if self.fix is not None:
            fix = {
                "applicability": self.fix.applicability,
                "edits": [e.to_json() for e in self.fix.edits],
            }
        out = {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "fix": fix,
        }
        if self.cell is not None:
            out["cell"] = self.cell
        return out


# Valid, Invalid, Outcome and Evidence live in autogradlint.examples (only rule modules and tests need them; a
# cached run does not pay for creating their classes); ``from autogradlint.rule import Valid`` still works.
_EXAMPLE_CLASSES = ("Valid", "Invalid", "Outcome", "Evidence")


def __getattr__(name: str):
    if name in _EXAMPLE_CLASSES:
        from autogradlint import examples

        return getattr(examples, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Rule:
    """Base class of every rule.

    Subclasses set the class attributes below and implement LibCST-style ``visit_<Node>`` /
    ``leave_<Node>`` methods; the engine calls them in one batched walk over the file.
    The class docstring is the rule's documentation, in ruff's sections.
    """

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    severity: ClassVar[str] = "error"
    message: ClassVar[str] = ""
    # Substrings of the source without which the rule can never fire (the prefilter's key).
    triggers: ClassVar[Tuple[str, ...]] = ()
    # Analyses the rule queries: "names" (import resolution) and, later, others in autogradlint.analysis.
    needs: ClassVar[FrozenSet[str]] = frozenset()
    # "safe", "unsafe" or None, as the catalog's fix column says.
    fix_applicability: ClassVar[Optional[str]] = None
    # On by default; a rule whose findings on real library code are mostly deliberate is off by default
    # (selected by its code, a prefix or ALL), and ``off_by_default`` says why.
    default: ClassVar[bool] = True
    off_by_default: ClassVar[str] = ""
    # codes of the rules its examples are linted together with (a rule about other rules' noqa comments)
    examples_run_with: ClassVar[Tuple[str, ...]] = ()
    valid: ClassVar[Sequence[Valid]] = ()
    invalid: ClassVar[Sequence[Invalid]] = ()
    evidence: ClassVar[Optional[Evidence]] = None

    def __init__(self, context: "LintContext") -> None:
        self.context = context

    def report(self, node: cst.CSTNode, message: Optional[str] = None, fix=None, applicability: Optional[str] = None) -> None:
        """Report a finding at ``node``; ``message`` defaults to the rule's message.

        ``fix`` is a ``autogradlint.edits.Replacement`` (or a list of them) on nodes of this file's tree;
        its applicability defaults to the rule's ``fix_applicability``."""
        if fix is not None:
            replacements = (fix,) if not isinstance(fix, (list, tuple)) else tuple(fix)
            fix = (replacements, applicability or self.fix_applicability or "unsafe")
        self.context.add_finding(self, node, message or self.message, fix)

    @classmethod
    def summary(cls) -> str:
        """The first line of "What it does", for tables."""
        doc = cls.documentation()
        match = re.search(r"## What it does\n(.+?)(?:\n\n|\n##|$)", doc, re.S)
        text = match.group(1) if match else doc.strip().split("\n")[0]
        return " ".join(text.split())

    @classmethod
    def documentation(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def load(cls) -> Type["Rule"]:
        """The rule class itself (a RuleInfo imports its module here)."""
        return cls


# --------------------------------------------------------------------------------------------
# registry

_REGISTRY: Optional[Dict[str, Type[Rule]]] = None


def _import_rules_package():
    """Import ``autogradlint.rules``; in a source checkout not installed, map ``rules/`` to it."""
    try:
        return importlib.import_module("autogradlint.rules")
    except ImportError:
        from importlib import util  # here: only a source checkout that is not installed needs it

        source_rules = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rules")
        init = os.path.join(source_rules, "__init__.py")
        if not os.path.isfile(init):
            raise
        spec = util.spec_from_file_location("autogradlint.rules", init, submodule_search_locations=[source_rules])
        assert spec is not None and spec.loader is not None
        module = util.module_from_spec(spec)
        sys.modules["autogradlint.rules"] = module
        spec.loader.exec_module(module)
        return module


def all_rules() -> Dict[str, Type[Rule]]:
    """Every rule class, keyed by code, in code order (imports every rule module)."""
    global _REGISTRY
    if _REGISTRY is None:
        package = _import_rules_package()
        found: Dict[str, Type[Rule]] = {}
        for module_name in _rule_module_names(package):
            module = importlib.import_module(f"autogradlint.rules.{module_name}")
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, Rule)
                    and value is not Rule
                    and value.__module__ == module.__name__
                    and value.code
                ):
                    if value.code in found:
                        raise RuntimeError(f"rule code {value.code} is defined twice")
                    found[value.code] = value
        _REGISTRY = dict(sorted(found.items()))
    return _REGISTRY


def _rule_sources(package) -> List[Path]:
    """Every Python file of the rules package, in name order."""
    return sorted((Path(directory, entry) for directory in package.__path__ for entry in os.listdir(directory)
                   if entry.endswith(".py")), key=lambda path: path.name)


def _rule_module_names(package) -> List[str]:
    return [path.stem for path in _rule_sources(package) if not path.name.startswith("_")]


class RuleInfo(NamedTuple):
    """What configuration, the prefilter and the cache need to know of a rule, without importing it (nor
    LibCST): a run whose files are all cached, or whose few files trigger few rules, imports only what it
    uses. ``load()`` gives the rule class."""

    code: str
    name: str
    severity: str
    triggers: Tuple[str, ...]
    fix_applicability: Optional[str]
    module: str
    class_name: str
    default: bool = True  # in the selection when nothing selects otherwise

    def load(self) -> Type[Rule]:
        if _REGISTRY is not None:
            return _REGISTRY[self.code]
        _import_rules_package()
        return getattr(importlib.import_module(f"autogradlint.rules.{self.module}"), self.class_name)

    @classmethod
    def of(cls, rule: Type[Rule]) -> "RuleInfo":
        return cls(rule.code, rule.name, rule.severity, tuple(sorted(rule.triggers)), rule.fix_applicability,
                   rule.__module__.rsplit(".", 1)[-1], rule.__name__, rule.default)


# A rule class or its RuleInfo: the engine takes either
AnyRule = Union[Type[Rule], RuleInfo]

INDEX_FILE = Path(__file__).with_name("rule_index.json")
_INDEX: Optional[Dict[str, RuleInfo]] = None


def rules_digest() -> str:
    """A digest of the sources the rule index is made from: every rule module and this file (a CRC: it
    detects edits, nobody forges rule sources; hashlib alone would cost a pre-commit call 3 ms to import)."""
    digest = zlib.crc32(Path(__file__).read_bytes())
    size = 0
    for path in _rule_sources(_import_rules_package()):
        data = path.name.encode() + b"\0" + path.read_bytes()
        digest = zlib.crc32(data, digest)
        size += len(data)
    return f"{digest:08x}-{size}"


def build_rule_index() -> dict:
    """The content of ``rule_index.json``, from the rule classes (``python -m autogradlint.docs`` writes it)."""
    return {"digest": rules_digest(),
            "rules": [dict(info._asdict(), triggers=list(info.triggers)) for info in map(RuleInfo.of, all_rules().values())]}


# Set when the caller knows the rules' sources are those the stored index was last found current for (the
# cache knows it: its file is named after the size and time of every autogradlint source, see cache.py); the
# check then costs nothing rather than reading every rule's source.
_INDEX_TRUSTED = False
# whether rule_index() came from the stored index, which was current
_INDEX_FROM_STORE = False


def trust_stored_index() -> None:
    """Use the stored index without comparing it with the rules' sources (see _INDEX_TRUSTED)."""
    global _INDEX_TRUSTED
    _INDEX_TRUSTED = True


def stored_index_current() -> bool:
    """Whether this run's rule index is the stored one, found (or trusted) current."""
    rule_index()
    return _INDEX_FROM_STORE


def _stored_index() -> Optional[Dict[str, RuleInfo]]:
    """The rule index stored beside this file, if it was made from exactly these sources."""
    try:
        with open(INDEX_FILE, encoding="utf-8") as handle:
            stored = json.load(handle)
        if not _INDEX_TRUSTED and stored.get("digest") != rules_digest():
            return None  # a rule was edited since: import them all instead
        return {item["code"]: RuleInfo(**dict(item, triggers=tuple(item["triggers"]))) for item in stored["rules"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def rule_index() -> Dict[str, RuleInfo]:
    """Every rule's RuleInfo, keyed by code, in code order: from the stored index when it is current,
    else from the rule classes themselves."""
    global _INDEX, _INDEX_FROM_STORE
    if _INDEX is None:
        stored = _stored_index()
        _INDEX_FROM_STORE = stored is not None
        _INDEX = stored or {code: RuleInfo.of(rule) for code, rule in all_rules().items()}
    return _INDEX


def find_rule(code_or_name: str) -> Optional[RuleInfo]:
    """The rule with this code or kebab-case name (case-insensitive), or None."""
    key = code_or_name.strip().lower()
    for rule in rule_index().values():
        if rule.code.lower() == key or rule.name == key:
            return rule
    return None


class UnknownSelector(ValueError):
    pass


def selector_specificity(selector: str) -> int:
    """How specific a selector is: ALL < short prefix < long prefix < full code or name."""
    sel = selector.strip()
    if sel.upper() == "ALL":
        return 0
    if find_rule(sel) is not None:
        return 100
    return len(sel)


def rules_matching(selector: str) -> List[RuleInfo]:
    """Rules a selector names: ``ALL``, a code, a code prefix (``GL1``) or a rule name."""
    sel = selector.strip()
    if sel.upper() == "ALL":
        return list(rule_index().values())
    exact = find_rule(sel)
    if exact is not None:
        return [exact]
    if re.fullmatch(r"[A-Za-z]+[0-9]*", sel):
        matched = [r for r in rule_index().values() if r.code.upper().startswith(sel.upper())]
        if matched:
            return matched
    raise UnknownSelector(sel)


class SelectionLayer(Record):
    """One source of rule selection (the config file, then the command line), applied in order."""

    __slots__ = ("select", "extend_select", "ignore")

    def __init__(self, select: Optional[List[str]] = None, extend_select: Optional[List[str]] = None,
                 ignore: Optional[List[str]] = None) -> None:
        self.select = select
        self.extend_select = [] if extend_select is None else extend_select
        self.ignore = [] if ignore is None else ignore


def default_selection() -> List[RuleInfo]:
    """The rules on when nothing selects otherwise (rules off by default are selected by code, prefix or ALL)."""
    return [rule for rule in rule_index().values() if rule.default]


def resolve_selection(layers: Sequence[SelectionLayer]) -> List[RuleInfo]:
    """Apply selection layers as ruff does: a layer's select resets, extend-select adds, ignore removes;
    within a layer the most specific selector wins and ignore wins a tie. The start is the default selection;
    a rule off by default is added by any selector that names it: its code or name, a prefix, ``ALL``."""
    enabled = {rule.code for rule in default_selection()}
    for layer in layers:
        if layer.select is not None:
            enabled = set()
            chosen_selects = list(layer.select) + list(layer.extend_select)
        else:
            chosen_selects = list(layer.extend_select)
        for code in rule_index():
            best_select = -1
            best_ignore = -1
            for sel in chosen_selects:
                if code in {r.code for r in rules_matching(sel)}:
                    best_select = max(best_select, selector_specificity(sel))
            for sel in layer.ignore:
                if code in {r.code for r in rules_matching(sel)}:
                    best_ignore = max(best_ignore, selector_specificity(sel))
            if best_select > best_ignore:
                enabled.add(code)
            elif best_ignore >= 0:
                enabled.discard(code)
    return [rule for code, rule in rule_index().items() if code in enabled]
