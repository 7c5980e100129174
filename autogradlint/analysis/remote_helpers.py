"""Training helpers of the project's other files, for the training-loop facts of a caller.

``from engine import train_one_epoch`` called in an epoch loop: the caller's training facts
(``analysis.training``) expand the helper's body as they expand a same-file helper. The cost stays where
it is needed: the helper's file summary (``analysis.project``, ``ast``) says which of its top-level
functions make training calls at all (``backward``, ``step``, ``zero_grad``, ``eval``...); only such a
function, when a caller calls it, has its file parsed with LibCST (once per content, per process) and its
training facts built there. The helper's own helpers of that file are expanded as usual; helpers it imports
from further files are not (one file away, so that no cycle or chain of parses can grow).

The caller's result depends on the helper's file: the summary lists each training function with the hash
of the file's bytes, so any edit of that file changes the summary the cache checks.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import libcst as cst

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

# the facts key that marks a context built for a helper's file (its own imported helpers are not expanded)
NO_REMOTE = "training.no_remote_helpers"
# (path, content hash) -> (the file's TrainingFacts, its defs by name, the project files it read) or None
_PARSED: Dict[Tuple[str, str], Optional[tuple]] = {}
_MAX_PARSED = 64
# a helper file larger than this is not parsed for a caller
_MAX_BYTES = 512 * 1024


def remote_helper(context: "LintContext", qualified: Optional[str]):
    """(the helper's FunctionDef in its own file, its body's root Block, its module's name, the names its
    module binds at the top level) for a call of ``qualified``, a top-level undecorated function of another
    project file that makes training calls; None otherwise. (A text of the helper that starts with one of
    its module's names, not a parameter, is that module's global: ``engine.model``, not the caller's
    ``model``.)"""
    if not qualified or context.facts.get(NO_REMOTE):
        return None
    from autogradlint.analysis.project import _read_project_file, content_hash, project_of, read_project_file_cached

    project = project_of(context)
    absolute = project.absolute(qualified)
    # a screen on the bytes first (most calls of project functions are not training helpers): the file the
    # name's module resolves to must define it at the top level with a training call in its text
    module, _, name = (absolute or "").rpartition(".")
    path = project.module_file(module) if module else None
    if path is None or path == project.path:
        return None
    texts = context.facts.setdefault("remote_helpers.texts", {})
    if path not in texts:
        texts[path] = read_project_file_cached(path) or b""
    if not _helper_text(texts[path], name.encode()):
        return None
    found = project.lookup(absolute)
    if found is None or found[0] != "function":
        return None
    module, _, name = found[1].rpartition(".")
    summary = project.summary(module)
    trains = summary.get("trains") if summary is not None else None
    if not isinstance(trains, dict) or name not in trains:
        return None
    path = project.path_of(module)
    if path is None or path == project.path:
        return None
    data = _read_project_file(path)
    if data is None or len(data) > _MAX_BYTES or content_hash(data) != trains[name]:
        return None  # changed since it was summarised: not the text the cache recorded
    key = (path, trains[name])
    if key not in _PARSED:
        if len(_PARSED) >= _MAX_PARSED:
            _PARSED.clear()
        _PARSED[key] = _build(path, data, context.torch_version)
    built = _PARSED[key]
    if built is None:
        return None
    facts, definitions, dependencies, globals_ = built
    for probed, expected in dependencies.items():
        project.dependencies.setdefault(probed, expected)
    function = definitions.get(name)
    if function is None:
        return None
    root = facts.roots.get(id(function))
    return None if root is None else (function, root, module, globals_)


def _build(path: str, data: bytes, torch_version) -> Optional[tuple]:
    from autogradlint.analysis.project import ProjectContext
    from autogradlint.analysis.training import training_facts
    from autogradlint.context import LintContext
    from autogradlint.walk import TreeIndex, indexed

    try:
        module = cst.parse_module(data)
    except Exception:  # a file that does not parse (or decode) expands nothing
        return None
    project = ProjectContext(path)
    context = LintContext(path, module, torch_version, project)
    context.facts[NO_REMOTE] = True
    try:
        with indexed(TreeIndex(module)):
            facts = training_facts(context)
    except RecursionError:
        return None
    definitions: Dict[str, cst.FunctionDef] = {}
    counts: Dict[str, int] = {}
    for statement in module.body:
        if type(statement) is cst.FunctionDef:
            counts[statement.name.value] = counts.get(statement.name.value, 0) + 1
            definitions[statement.name.value] = statement
    for name, count in counts.items():
        if count > 1:
            del definitions[name]
    globals_ = frozenset(context.names.module_scope.bindings)
    return facts, definitions, dict(project.dependencies), globals_


_FROM_IMPORT = re.compile(rb"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M)
# the text of a top-level function: from its ``def`` line to the next line that starts at column 0
_TOP_LEVEL_LINE = re.compile(rb"\n(?=[^\s#])")
_TRAINING_WORDS = (b".backward(", b".step(", b"zero_grad", b".eval(", b".train(", b"unscale_", b"clip_grad", b".grad")


def helper_texts(source: bytes, project) -> List[bytes]:
    """The texts of the training helpers of other project files that ``source`` imports by name (``from engine
    import train_step``): a rule whose trigger words are only in a helper must still run on its callers (see
    ``engine.active_rules``). Read from the bytes alone, before the file is parsed (no summary, no parse): a
    text the screen misreads costs only a rule run that finds nothing."""
    if project is None or not project.roots or b"from" not in source:
        return []
    from autogradlint.analysis.project import read_project_file_cached as _read_project_file

    found: List[bytes] = []
    for match in _FROM_IMPORT.finditer(source):
        module = project.absolute(match.group(1).decode("ascii", "replace"))
        path = project.module_file(module) if module else None
        if path is None or path == project.path:
            continue
        data = _read_project_file(path)
        if not data:
            continue
        names = [n.strip().split()[0] for n in match.group(2).strip(b"()").replace(b"\\", b" ").split(b",") if n.strip()]
        for name in names:
            text = _helper_text(data, name)
            if text:
                found.append(text)
    return found


def _helper_text(data: bytes, name: bytes) -> bytes:
    """The text of the top-level ``def name(`` of a file when it makes a training call, else b""."""
    start = data.find(b"def " + name + b"(")
    while start > 0 and data[start - 1:start] != b"\n":
        start = data.find(b"def " + name + b"(", start + 1)
    if start < 0:
        return b""
    end = _TOP_LEVEL_LINE.search(data, start + 4)
    text = data[start:end.start() if end else len(data)]
    return text if any(word in text for word in _TRAINING_WORDS) else b""
