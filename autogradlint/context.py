"""What a rule sees of the file being linted (LintContext): the tree, the walk's position, the shared
analyses' facts, and the findings reported so far."""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import libcst as cst

from autogradlint import walk as walk_module
from autogradlint.analysis.names import NameResolver
from autogradlint.analysis.torch_versions import NEWEST as NEWEST_TORCH
from autogradlint.analysis.torch_api import canonical

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.rule import Rule


_EXPECTED_FAILURE_CALLS = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp"})


class LintContext:
    """What rules see of the file being linted: the tree, the walk's position and shared analyses."""

    def __init__(self, path: str, module: cst.Module, torch_version: Tuple[int, int] = NEWEST_TORCH,
                 project: Optional[object] = None) -> None:
        self.path = path
        self.module = module
        # the project the file belongs to (analysis.project.ProjectContext): the summaries of the project's
        # other files; None: found from ``path`` when an analysis first asks
        self.project = project
        # the torch release the project is linted for (rules ask autogradlint.analysis.torch_versions about it)
        self.torch_version = torch_version
        self.ancestors: List[cst.CSTNode] = []
        self._names: Optional[NameResolver] = None
        self._findings: List[Tuple[Rule, cst.CSTNode, str, object]] = []
        self.expected_failure_blocks: List[cst.CSTNode] = []
        # per-file results of the shared analyses (autogradlint.analysis), keyed by analysis: they die with the file
        self.facts: Dict[str, object] = {}
        # id(node) -> (node, its qualified name): a dozen rules and analyses ask for the name every call calls
        self._qualified: Dict[int, Tuple[cst.CSTNode, Optional[str]]] = {}

    # ---------------------------------------------------------------- analyses
    @property
    def names(self) -> NameResolver:
        if self._names is None:
            self._names = NameResolver(self.module, walk_module.current_index())
        return self._names

    def qualified_name(self, node: cst.CSTNode) -> Optional[str]:
        """The canonical dotted name ``node`` refers to through imports (None if not certain).
        A Call has no qualified name: check ``node.func`` for the called object."""
        # remembered per node for the file (the names it sees do not change while it is linted); the entry
        # holds the node, so that its id cannot be another node's while the entry lives
        entry = self._qualified.get(id(node))
        if entry is not None and entry[0] is node:
            return entry[1]
        name = canonical(self.names.qualified_name(node))
        self._qualified[id(node)] = (node, name)
        return name

    @property
    def parent(self) -> Optional[cst.CSTNode]:
        return self.ancestors[-1] if self.ancestors else None

    def release(self) -> None:
        """Drop everything this file's analyses and rules left on the context."""
        self.facts.clear()
        self._findings.clear()
        self._names = None
        self._qualified.clear()
        self.ancestors.clear()
        self.expected_failure_blocks.clear()

    # ---------------------------------------------------------------- findings
    def add_finding(self, rule: Rule, node: cst.CSTNode, message: str, fix: object) -> None:
        self._findings.append((rule, node, message, fix))


def is_expected_failure_block(node: cst.With) -> bool:
    for item in node.items:
        call = item.item
        if isinstance(call, cst.Call):
            func = call.func
            name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
            if name in _EXPECTED_FAILURE_CALLS:
                return True
    return False
