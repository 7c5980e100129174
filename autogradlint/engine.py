"""Lint one file: prefilter -> parse -> shared analyses -> one batched walk -> diagnostics."""
from __future__ import annotations

import contextlib
import gc
import sys
import threading
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

import libcst as cst

from autogradlint.analysis.torch_versions import NEWEST as NEWEST_TORCH
from autogradlint.context import LintContext, is_expected_failure_block
from autogradlint.placement import place
from autogradlint.rule import INTERNAL_ERROR, UNUSED_NOQA, AnyRule, Diagnostic, Rule
from autogradlint.screening import screen_source
from autogradlint.suppression import Suppressions, unused_noqa
from autogradlint.syntax_errors import syntax_error, syntax_finding
from autogradlint.walk import TreeIndex, indexed, walk


def active_rules(source: bytes, rules: Sequence[AnyRule]) -> List[AnyRule]:
    """The rules whose trigger words occur in the file's bytes (ignoring case); the others can never
    fire on it."""
    lowered = source.lower()
    # each word looked for once: the 49 rules have 85 triggers but 44 different ones, and a word that is
    # absent costs a scan of the whole file
    present: Dict[bytes, bool] = {}
    active = []
    for rule in rules:
        triggers = _LOWERED_TRIGGERS.get(rule.triggers)
        if triggers is None:
            triggers = _LOWERED_TRIGGERS[rule.triggers] = tuple(t.lower().encode("ascii") for t in rule.triggers)
        if not triggers:
            active.append(rule)
            continue
        for trigger in triggers:
            found = present.get(trigger)
            if found is None:
                found = present[trigger] = trigger in lowered
            if found:
                active.append(rule)
                break
    return active


_LOWERED_TRIGGERS: Dict[Tuple[str, ...], Tuple[bytes, ...]] = {}


def lint_source(source: bytes, path: str, rules: Sequence[AnyRule],
                torch_version: Tuple[int, int] = NEWEST_TORCH, project: Optional[object] = None,
                module: Optional[cst.Module] = None,
                keep_tree: Optional[Callable[[cst.Module], None]] = None) -> List[Diagnostic]:
    """All findings of ``rules`` on one file's bytes, noqa applied, sorted by position; ``torch_version`` is
    the torch release the project is linted for, ``project`` the file's ProjectContext (see LintContext).
    The fixer parses each version of a file once: ``module`` is the LibCST tree of ``source`` when the caller
    has it, and ``keep_tree`` is handed the tree when this call parses the file."""
    with _collector_paused():
        return _lint_source(source, path, rules, torch_version, project, module, keep_tree)


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector paused while one file is linted. A LibCST tree is hundreds of
    thousands of objects, none in a reference cycle, that live exactly as long as the file is linted: every
    automatic collection during that time walks all of them again, for nothing (a third of the parse time on
    real code). The tree is freed by reference counting when the file is done; the few cycles the analyses
    leave are collected as soon as the collector runs again, after the file."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _lint_source(source: bytes, path: str, rules: Sequence[AnyRule], torch_version: Tuple[int, int],
                 project: Optional[object] = None, module: Optional[cst.Module] = None,
                 keep_tree: Optional[Callable[[cst.Module], None]] = None) -> List[Diagnostic]:
    # the rules selected for the file: one that is not active (its trigger words are absent) ran too, and found nothing
    selected = frozenset(rule.code for rule in rules)
    every = rules
    rules = active_rules(source, rules)
    if len(rules) < len(every) and project is not None:
        # the trigger words of a training helper imported from another project file count too: its calls are
        # expanded into this file's loops (analysis.remote_helpers)
        from autogradlint.analysis.remote_helpers import helper_texts

        helpers = helper_texts(source, project)
        if helpers:
            rules = active_rules(b"\n".join([source, *helpers]), every)
    if not rules:
        return []
    refused, first_lines = screen_source(source)
    if refused is not None:
        message, line, column = refused
        return [syntax_finding(path, message, line, column)]
    try:
        if module is None:
            module = cst.parse_module(source)
            if keep_tree is not None:
                keep_tree(module)
    except cst.ParserSyntaxError as error:
        return [syntax_error(path, error, source)]
    except (SyntaxError, UnicodeDecodeError, LookupError, ValueError) as error:
        # undecodable bytes or an unknown coding declaration
        return [syntax_finding(path, f"SyntaxError: cannot decode the file: {error}")]
    except RecursionError:
        return [syntax_finding(path, "SyntaxError: the file is nested too deeply to parse")]
    try:
        with _room_for_deep_trees():
            return lint_module(module, path, rules, text=source.decode(module.encoding), first_lines=first_lines,
                               torch_version=torch_version, selected=selected, project=project)
    except Exception as error:  # the engine's own failure on this file: reported, and the run goes on
        return [_engine_failure(path, error)]


# LibCST's metadata and code generation recurse a few Python frames per level of the tree: this is enough
# for the deepest tree CPython parses (about 3000 levels), measured on the main thread's 8 MB stack
_DEEP_TREE_RECURSION_LIMIT = 12000


@contextlib.contextmanager
def _room_for_deep_trees():
    """Raise Python's recursion limit while one file is analysed, on the main thread only (other threads'
    stacks may be smaller)."""
    previous = sys.getrecursionlimit()
    if threading.current_thread() is not threading.main_thread() or previous >= _DEEP_TREE_RECURSION_LIMIT:
        yield
        return
    sys.setrecursionlimit(_DEEP_TREE_RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def _caused_by_recursion(error: BaseException) -> bool:
    """Whether ``error`` is, or was raised while handling, a RecursionError (LibCST's context managers turn
    one into a KeyError on the way out)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, RecursionError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _engine_failure(path: str, error: Exception) -> Diagnostic:
    if _caused_by_recursion(error):
        # the tree is valid, but deeper than Python's recursion limit lets LibCST's metadata go
        message = "internal error: the file is nested too deeply for autogradlint to analyse (RecursionError)"
    else:
        message = f"internal error: {type(error).__name__}: {error}{_where(error)}. Please report this."
    return Diagnostic(path, 1, 1, 1, 1, INTERNAL_ERROR[0], INTERNAL_ERROR[1], "error", message)


def _where(error: BaseException) -> str:
    import traceback  # here: only a failure needs it

    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    return f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}"


def lint_module(module: cst.Module, path: str, rules: Sequence[AnyRule], text: Optional[str] = None,
                first_lines: Optional[List[int]] = None, torch_version: Tuple[int, int] = NEWEST_TORCH,
                selected: Optional[FrozenSet[str]] = None, project: Optional[object] = None) -> List[Diagnostic]:
    """Findings of ``rules`` on a parsed module whose source is ``text`` (regenerated when not given);
    ``first_lines`` are Python's first lines of its top-level statements, if known (see ``screen``);
    ``selected``: the codes of every rule selected for the file (default: ``rules``), which unused-noqa judges."""
    context = LintContext(path, module, torch_version, project)
    internal: List[Diagnostic] = []
    instances: List[Rule] = []
    # rules that did not run to the end on this file (their noqa comments are not judged)
    unfinished = set()
    for rule in rules:
        try:
            instances.append(rule.load()(context))  # a RuleInfo imports its rule's module here
        except Exception as error:  # a broken rule must not stop the others
            internal.append(_internal_error(path, rule, error))
            unfinished.add(rule.code)

    broken: Dict[str, BaseException] = {}
    on_visit: Dict[type, list] = {}
    on_leave: Dict[type, list] = {}
    for instance in instances:
        for attr, node_type, is_visit in _handlers_of(type(instance)):
            table = on_visit if is_visit else on_leave
            table.setdefault(node_type, []).append(_guard(instance, getattr(instance, attr), broken))

    def note_expected_failure(node: cst.With) -> None:
        if is_expected_failure_block(node):
            context.expected_failure_blocks.append(node)

    on_visit.setdefault(cst.With, []).insert(0, note_expected_failure)
    try:
        tree = TreeIndex(module)
        with indexed(tree):
            walk(tree, on_visit, on_leave, context.ancestors)
    except RecursionError:
        tree = None
        unfinished.update(rule.code for rule in rules)
        internal.append(Diagnostic(path, 1, 1, 1, 1, INTERNAL_ERROR[0], INTERNAL_ERROR[1], "error",
                                   "internal error: the file is nested too deeply to analyse"))
    for instance in instances:
        error = broken.get(instance.code)
        if error is not None:
            internal.append(_internal_error(path, type(instance), error))

    findings = [f for f in context._findings if f[0].code not in broken]
    try:
        diagnostics = place(module, path, findings, context.expected_failure_blocks, text, tree, first_lines)
    finally:
        # the analyses and rules refer to the context and the context to them: untie them, so that reference
        # counting frees the tree now rather than the garbage collector later (see _collector_paused)
        context.release()
    source_text = module.code if text is None else text
    unused: List[Diagnostic] = []
    if any(rule.code == UNUSED_NOQA[0] for rule in rules):
        # after every other rule: a noqa comment is unused when a rule that ran found nothing on its line
        ran = set(selected if selected is not None else (rule.code for rule in rules)) - set(broken) - unfinished
        if UNUSED_NOQA[0] in ran:
            unused = unused_noqa(source_text, path, diagnostics, ran)
    if diagnostics:
        diagnostics = Suppressions.from_text(source_text).filter(diagnostics)
    return sorted(diagnostics + unused + internal, key=Diagnostic.sort_key)


_HANDLERS: Dict[type, List[Tuple[str, type, bool]]] = {}


def _handlers_of(rule_class: type) -> List[Tuple[str, type, bool]]:
    """(method name, node type, is a visit) for every visit_<Node>/leave_<Node> method of a rule class,
    found once per class rather than once per file."""
    found = _HANDLERS.get(rule_class)
    if found is None:
        found = []
        for attr in dir(rule_class):
            if attr.startswith("visit_") or attr.startswith("leave_"):
                node_type = getattr(cst, attr.split("_", 1)[1], None)
                if isinstance(node_type, type) and issubclass(node_type, cst.CSTNode):
                    found.append((attr, node_type, attr.startswith("visit_")))
        _HANDLERS[rule_class] = found
    return found


def _guard(instance: Rule, handler, broken: Dict[str, BaseException]):
    code = instance.code

    def guarded(node: cst.CSTNode) -> None:
        if code in broken:
            return
        try:
            handler(node)
        except Exception as error:  # reported as an internal-error diagnostic naming the rule
            broken[code] = error

    return guarded


def _internal_error(path: str, rule_class: AnyRule, error: BaseException) -> Diagnostic:
    where = _where(error)
    return Diagnostic(
        path, 1, 1, 1, 1, INTERNAL_ERROR[0], INTERNAL_ERROR[1], "error",
        f"internal error in rule {rule_class.code} ({rule_class.name}): {type(error).__name__}: {error}{where}; "
        "the other rules still ran. Please report this.",
    )


