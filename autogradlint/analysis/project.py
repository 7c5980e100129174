"""Project facts: what the project's own files define, for the files that import them.

``from models import Net``, ``from .models import Net``, ``import pkg.models as m`` resolve to the project's
own files. The project root is the top of the file's package chain (the folder above the highest folder
with an ``__init__.py``) and the folder of the nearest ``pyproject.toml``; modules are looked up in those
folders and in their ``src/``. Inside ``site-packages`` only the file's own top-level package counts:
another installed package is third-party code, never the project.

Each imported file is read as a *summary*, computed with Python's ``ast`` (far cheaper than LibCST) once
per file content and kept by content hash (in ``.autogradlint_cache/`` with the results): its imports, its
classes (bases, what each ``self.X`` is assigned, whether ``forward`` may run without grad), what its
functions return and what its module-level names hold. Values are described only when certain (a call of
a named class or function, ``nn.Parameter(...)``); anything else is unknown.

A file's cached result depends on the summaries it read: ``ProjectContext.dependencies`` maps every
project file probed (read or found missing) to its summary's hash, and the cache checks them.
"""
from __future__ import annotations

import ast
import builtins
import json
import os
import re
from typing import Dict, List, Optional, Tuple

from autogradlint.analysis.torch_api import SELF_RETURNING_METHODS

# summaries by content hash, shared by every file linted in this process (and saved with the cache)
_STORE: Dict[str, dict] = {}
# summaries computed in this process, not yet saved
_NEW: Dict[str, dict] = {}
_MAX_DEPTH = 8
_BUILTINS = frozenset(dir(builtins))

_GRAD_OFF_ATTRIBUTES = frozenset({"detach", "data", "numpy", "item", "no_grad", "inference_mode",
                                  "set_grad_enabled", "enable_grad"})


def _blake2b():
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover
        from hashlib import blake2b
    return blake2b


def content_hash(data: bytes) -> str:
    return _blake2b()(data, digest_size=16).hexdigest()


def summary_hash(summary: dict) -> str:
    return _blake2b()(json.dumps(summary, sort_keys=True).encode(), digest_size=16).hexdigest()


_STORE_FILE: List[Optional[Tuple[str, str]]] = [None]  # (cache directory, build fingerprint) to load from


def use_store(directory: str, fingerprint: str) -> None:
    """Where the summaries of earlier runs are kept; read when a summary is first needed."""
    if _STORE_FILE[0] != (directory, fingerprint):
        _STORE_FILE[0] = (directory, fingerprint)
        _LOADED[0] = False


_LOADED = [True]


def _load_store() -> None:
    if _LOADED[0]:
        return
    _LOADED[0] = True
    if _STORE_FILE[0] is not None:
        for key, value in read_summaries(*_STORE_FILE[0]).items():
            if key.startswith("calls:"):
                if _well_formed_calls(value):
                    _STORE.setdefault(key, value)
            elif _well_formed(value):  # a damaged entry is never trusted
                _STORE.setdefault(key, value)


def _well_formed(summary: object) -> bool:
    return (isinstance(summary, dict) and isinstance(summary.get("module"), str)
            and all(isinstance(summary.get(part), dict) for part in ("imports", "classes", "functions", "values"))
            and all(isinstance(c, dict) for c in summary["classes"].values()))


def _well_formed_calls(summary: object) -> bool:
    if not (isinstance(summary, dict) and isinstance(summary.get("module"), str)):
        return False
    refs = summary.get("refs")
    if refs is None:
        return True
    return isinstance(refs, dict) and all(
        isinstance(e, dict) and isinstance(e.get("escaped"), bool) and isinstance(e.get("calls"), list)
        and all(isinstance(c, dict) and isinstance(c.get("a"), list) and isinstance(c.get("k"), dict)
                and all(d is None or isinstance(d, dict) for d in [*c["a"], *c["k"].values()])
                for c in e["calls"])
        for e in refs.values())


def take_new_summaries() -> Dict[str, dict]:
    """The summaries computed in this process since the last call."""
    found = dict(_NEW)
    _NEW.clear()
    return found


# ------------------------------------------------------------------------------------------ summaries


class _Summarizer:
    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.imports: Dict[str, str] = {}
        self.local: Dict[str, str] = {}  # module-level class/def names -> qualified
        self.bound: set = set()  # every module-level name bound
        self.names_only = False  # summarize(): only the imports and the module-level values (a calls summary)
        self._order: List[ast.AST] = []  # every node of the file, in one pre-order walk (see nodes())
        self._span: Dict[int, Tuple[int, int]] = {}

    def nodes(self, node: ast.AST) -> List[ast.AST]:
        """``node`` and every node below it (what ``ast.walk`` yields, in another order), from one walk of the
        file: the summary reads each function several times, and walking it again each time was most of its
        cost."""
        span = self._span.get(id(node))
        if span is None:
            start = len(self._order)
            _preorder(node, self._order, self._span)
            span = (start, len(self._order))
        return self._order[span[0]:span[1]]

    def absolute(self, level: int, name: Optional[str]) -> Optional[str]:
        if level == 0:
            return name
        parts = self.package.split(".") if self.package else []
        if level - 1 > len(parts):
            return None
        base = parts[:len(parts) - (level - 1)]
        if name:
            base.append(name)
        return ".".join(base) if base else None

    def qualified(self, node: ast.expr) -> Optional[str]:
        if isinstance(node, ast.Name):
            found = self.imports.get(node.id) or self.local.get(node.id)
            if found is None and node.id in _BUILTINS and node.id not in self.bound:
                return f"builtins.{node.id}"
            return found
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def value(self, node: Optional[ast.expr], names: Optional[Dict[str, Optional[dict]]] = None) -> Optional[dict]:
        """What a value certainly is: a call of a named callable, or nn.Parameter(...)."""
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in SELF_RETURNING_METHODS:
                inner = self.value(func.value, names)
                if inner is not None:
                    return inner
            qualified = self.qualified(func)
            if qualified is None:
                return None
            if qualified in ("torch.nn.Parameter", "torch.nn.parameter.Parameter"):
                return {"k": "parameter"}
            # imported here: torch_semantics imports LibCST, which a fully cached run never needs
            from autogradlint.analysis.torch_semantics import layer_parameters

            return {"k": "call", "q": qualified, "hp": layer_parameters(qualified)}
        if isinstance(node, ast.Name) and names is not None:
            return names.get(node.id)
        return None

    def summarize(self, tree: ast.Module) -> dict:
        for statement in tree.body:
            if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                self.local[statement.name] = f"{self.module}.{statement.name}"
        counts: Dict[str, int] = {}
        for statement in _top_statements(tree.body):
            if isinstance(statement, ast.Import):
                for alias in statement.names:
                    if alias.asname:
                        self.imports[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        self.imports[top] = top
                    counts[alias.asname or alias.name.split(".")[0]] = counts.get(alias.asname or alias.name.split(".")[0], 0) + 1
            elif isinstance(statement, ast.ImportFrom):
                base = self.absolute(statement.level, statement.module)
                for alias in statement.names:
                    if alias.name == "*" or base is None:
                        continue
                    local = alias.asname or alias.name
                    self.imports[local] = f"{base}.{alias.name}"
                    counts[local] = counts.get(local, 0) + 1
            else:
                for target in _bound_by(statement):
                    counts[target] = counts.get(target, 0) + 1
        # a name a function rebinds (``global model``) is not what the module-level statement says
        for node in self.nodes(tree):
            if type(node) is ast.Global:
                for name in node.names:
                    counts[name] = counts.get(name, 0) + 2
        self.bound = set(counts)
        # a name bound twice (an import under try/except, a def redefined) is unknown
        for name, count in counts.items():
            if count > 1:
                self.imports.pop(name, None)
                self.local.pop(name, None)
        self.counts = counts
        if self.names_only:
            return {"values": self._module_values(tree, counts)}
        classes: Dict[str, dict] = {}
        trains: List[str] = []
        functions: Dict[str, Optional[dict]] = {}
        values: Dict[str, Optional[dict]] = {}
        for statement in tree.body:
            if isinstance(statement, ast.ClassDef) and counts.get(statement.name) == 1:
                classes[statement.name] = self._class(statement)
            elif isinstance(statement, ast.FunctionDef) and counts.get(statement.name) == 1:
                functions[statement.name] = None if statement.decorator_list else self._returns(statement)
                if not statement.decorator_list and _trains(self.nodes(statement)):
                    trains.append(statement.name)
        values.update(self._module_values(tree, counts))
        summary = {"module": self.module, "imports": self.imports, "classes": classes, "functions": functions,
                   "values": values}
        if trains:
            summary["trains"] = trains
        return summary

    def _module_values(self, tree: ast.Module, counts: Dict[str, int]) -> Dict[str, Optional[dict]]:
        values: Dict[str, Optional[dict]] = {}
        for statement in tree.body:
            if isinstance(statement, (ast.Assign, ast.AnnAssign)):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                if len(targets) == 1 and isinstance(targets[0], ast.Name) and counts.get(targets[0].id) == 1:
                    found = self.value(statement.value)
                    if found is not None:
                        values[targets[0].id] = found
        return values

    def _class(self, node: ast.ClassDef) -> dict:
        bases: List[Optional[str]] = []
        for base in node.bases:
            bases.append(self.qualified(base))
        if node.keywords or any(isinstance(b, ast.Starred) for b in node.bases):
            bases.append(None)
        attrs: Dict[str, List[Optional[dict]]] = {}
        in_init: set = set()
        dynamic = False
        grad_off = False
        methods: List[str] = []
        for statement in node.body:
            if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            methods.append(statement.name)
            if statement.name == "forward" and statement.decorator_list:
                grad_off = True
            args = [*statement.args.posonlyargs, *statement.args.args]
            if not args or any(isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod")
                               for d in statement.decorator_list):
                continue
            self_name = args[0].arg
            names = self._single_assignments(statement)
            if statement.name == "__init__":
                names.update(self._init_arguments(statement))
            for inner in self.nodes(statement):
                if isinstance(inner, ast.Attribute) and inner.attr in _GRAD_OFF_ATTRIBUTES:
                    grad_off = True
                if isinstance(inner, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                    targets = inner.targets if isinstance(inner, ast.Assign) else [inner.target]
                    for target in targets:
                        for attr, plain in _self_targets(target, self_name):
                            value = self.value(inner.value, names) if plain and not isinstance(inner, ast.AugAssign) else None
                            attrs.setdefault(attr, []).append(value)
                            if statement.name == "__init__":
                                in_init.add(attr)
                elif isinstance(inner, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
                    targets = ([inner.target] if isinstance(inner, (ast.For, ast.AsyncFor))
                               else [i.optional_vars for i in inner.items if i.optional_vars is not None])
                    for target in targets:
                        for attr, _ in _self_targets(target, self_name):
                            attrs.setdefault(attr, []).append(None)
                elif isinstance(inner, ast.Call):
                    func = inner.func
                    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == self_name
                            and func.attr in ("add_module", "register_module", "register_parameter", "register_buffer")):
                        dynamic = True
                    elif isinstance(func, ast.Name) and func.id == "setattr":
                        dynamic = True
        described: Dict[str, Optional[dict]] = {}
        for attr, found in attrs.items():
            first = found[0]
            described[attr] = first if first is not None and all(f == first for f in found) else None
        return {"bases": bases, "attrs": described, "init": sorted(in_init), "dynamic": dynamic,
                "grad_off": grad_off, "methods": methods, "decorated": bool(node.decorator_list)}

    def _init_arguments(self, function: ast.FunctionDef) -> Dict[str, Optional[dict]]:
        """``__init__``'s parameters that it never rebinds, as argument descriptions: {"k": "arg", "n": the
        name, "i": the position after ``self`` (None: keyword-only)}, read from a constructor call."""
        stored = {n.id for n in self.nodes(function) if type(n) is ast.Name and type(n.ctx) is not ast.Load}
        found: Dict[str, Optional[dict]] = {}
        positional = [*function.args.posonlyargs, *function.args.args][1:]
        for index, arg in enumerate(positional):
            if arg.arg not in stored:
                found[arg.arg] = {"k": "arg", "n": None if index < len(function.args.posonlyargs) - 1 else arg.arg,
                                  "i": index}
        for arg in function.args.kwonlyargs:
            if arg.arg not in stored:
                found[arg.arg] = {"k": "arg", "n": arg.arg, "i": None}
        return found

    def _single_assignments(self, function: ast.FunctionDef) -> Dict[str, Optional[dict]]:
        """Local names assigned exactly once in a function (and not its parameters), with their values."""
        seen: Dict[str, int] = {}
        values: Dict[str, Optional[dict]] = {}
        params = {a.arg for a in [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]}
        nodes = self.nodes(function)
        for inner in nodes:
            if type(inner) is ast.Name and type(inner.ctx) is not ast.Load:
                seen[inner.id] = seen.get(inner.id, 0) + 1
        for inner in nodes:
            if type(inner) is ast.Assign and len(inner.targets) == 1 and isinstance(inner.targets[0], ast.Name):
                name = inner.targets[0].id
                if seen.get(name) == 1 and name not in params:
                    values[name] = self.value(inner.value)
        return values

    def _returns(self, function: ast.FunctionDef) -> Optional[dict]:
        names = self._single_assignments(function)
        found: List[Optional[dict]] = []
        stack: List[ast.AST] = list(function.body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)):
                return None
            if isinstance(node, ast.Return):
                found.append(self.value(node.value, names))
            stack.extend(ast.iter_child_nodes(node))
        if not found or any(f is None or f != found[0] for f in found):
            return None
        return found[0]


# the calls that make a function a training helper a caller's loop may expand (see analysis.training)
_TRAINING_METHODS = frozenset({"backward", "manual_backward", "step", "zero_grad", "unscale_", "eval", "train",
                               "clip_grad_norm_", "clip_grad_value_"})


def _trains(nodes: List[ast.AST]) -> bool:
    """Whether a function (given as all its nodes) makes a training call."""
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _TRAINING_METHODS:
            return True
        if isinstance(node, ast.Attribute) and node.attr == "grad" and not isinstance(node.ctx, ast.Load):
            return True
    return False


def _preorder(root: ast.AST, order: List[ast.AST], span: Dict[int, Tuple[int, int]]) -> None:
    """Append ``root`` and its descendants to ``order`` in pre-order, recording each node's slice in ``span``
    (a node's descendants follow it contiguously). Expression contexts (``Load()``, one shared instance) are
    left out: nothing reads them as nodes."""
    stack: List[object] = [root]
    starts: Dict[int, int] = {}
    AST = ast.AST
    context_types = (ast.Load, ast.Store, ast.Del)
    while stack:
        item = stack.pop()
        if type(item) is tuple:  # (node,): the end of its descendants
            node = item[0]
            span[id(node)] = (starts.pop(id(node)), len(order))
            continue
        starts[id(item)] = len(order)
        order.append(item)  # type: ignore[arg-type]
        stack.append((item,))
        children = []
        for field in item._fields:  # type: ignore[attr-defined]
            value = getattr(item, field, None)
            if type(value) is list:
                children.extend(v for v in value if isinstance(v, AST))
            elif isinstance(value, AST) and type(value) not in context_types:
                children.append(value)
        children.reverse()
        stack.extend(children)


def _top_statements(body: List[ast.stmt]) -> List[ast.stmt]:
    """Module-level statements, into if/try blocks (imports there are bindings too)."""
    out: List[ast.stmt] = []
    for statement in body:
        out.append(statement)
        if isinstance(statement, (ast.If, ast.Try)):
            inner = list(statement.body) + list(statement.orelse)
            if isinstance(statement, ast.Try):
                inner += [s for h in statement.handlers for s in h.body] + list(statement.finalbody)
            out.extend(_top_statements(inner))
    return out


def _bound_by(statement: ast.stmt) -> List[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    if isinstance(statement, (ast.If, ast.Try, ast.For, ast.While, ast.With)):
        return []  # their statements are in _top_statements (loops: their targets below)
    return [n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))]


def _self_targets(target: ast.expr, self_name: str):
    """(attr, plain) for every ``self.attr`` an assignment target sets; plain: the whole value goes there."""
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == self_name:
        yield target.attr, True
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            for attr, _ in _self_targets(element.value if isinstance(element, ast.Starred) else element, self_name):
                yield attr, False


def summarize(data: bytes, module: str, is_package: bool) -> Optional[dict]:
    """The summary of one file's source (None when it does not parse)."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    try:
        summary = _Summarizer(module, is_package).summarize(tree)
    except RecursionError:
        return None
    if "trains" in summary:
        # a caller expands these functions from the file's text: any edit of the file may change them
        summary["trains"] = {name: content_hash(data) for name in summary["trains"]}
    return summary


# ------------------------------------------------------------------------------------------ the project


# a project file larger than this is not summarised (a generated table, not a model definition)
_MAX_SUMMARISED_BYTES = 4 * 1024 * 1024


def _read_project_file(path: str) -> Optional[bytes]:
    """The bytes of a regular project file (never a FIFO or device, which could block), None when it is
    missing, unreadable or too large to summarise."""
    from autogradlint.files import FileTooLarge, read_regular

    try:
        return read_regular(path, _MAX_SUMMARISED_BYTES)
    except (OSError, FileTooLarge):
        return None


_RECENT_BYTES: Dict[str, Tuple[int, int, bytes]] = {}


def read_project_file_cached(path: str) -> Optional[bytes]:
    """``_read_project_file`` for a file read again and again in one process (a helper module imported by
    many files): kept while its size and modification time stay the same."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    found = _RECENT_BYTES.get(path)
    if found is not None and found[0] == stat.st_mtime_ns and found[1] == stat.st_size:
        return found[2]
    data = _read_project_file(path)
    if data is not None:
        if len(_RECENT_BYTES) >= 256:
            _RECENT_BYTES.clear()
        _RECENT_BYTES[path] = (stat.st_mtime_ns, stat.st_size, data)
    return data


def _stored(key: str) -> Optional[dict]:
    """The summary kept under ``key``, reading the saved store the first time one is missed."""
    summary = _STORE.get(key)
    if summary is None and not _LOADED[0]:
        _load_store()
        summary = _STORE.get(key)
    return summary


def _stored_summary(data: bytes, module: str, is_package: bool) -> dict:
    key = f"{content_hash(data)}:{int(is_package)}:{module}"
    summary = _stored(key)
    if summary is None:
        summary = summarize(data, module, is_package) or {"module": module, "imports": {}, "classes": {},
                                                           "functions": {}, "values": {}}
        _STORE[key] = _NEW[key] = summary
    return summary


def _is_site_packages(path: str) -> bool:
    return os.path.basename(path) in ("site-packages", "dist-packages")


class ProjectContext:
    """The project one file belongs to: where its modules are, and the summaries read for it."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        directory = os.path.dirname(self.path)
        top = directory
        while os.path.isfile(os.path.join(top, "__init__.py")) and os.path.dirname(top) != top:
            top = os.path.dirname(top)
        # top: the folder above the package chain (the file's own folder when it is not in a package)
        self.package_parts = os.path.relpath(directory, top).split(os.sep) if top != directory else []
        roots = [top]
        found = directory
        self.pyproject_dir: Optional[str] = None
        while True:
            if os.path.isfile(os.path.join(found, "pyproject.toml")):
                self.pyproject_dir = found
                roots.extend([found, os.path.join(found, "src")])
                break
            parent = os.path.dirname(found)
            if parent == found:
                break
            found = parent
        self.roots: List[str] = []
        for root in roots:
            if root not in self.roots and os.path.isdir(root):
                self.roots.append(root)
        name = os.path.splitext(os.path.basename(self.path))[0]
        self.is_package_init = name == "__init__"
        self.module = ".".join(self.package_parts + ([] if self.is_package_init else [name]))
        # third-party code is never the project: in site-packages only the file's own package resolves
        self.only_package = self.package_parts[0] if self.package_parts and _is_site_packages(top) else None
        if _is_site_packages(top) and not self.package_parts:
            self.roots = []
        if self.only_package is not None or not self.roots:
            self.pyproject_dir = None
        self.dependencies: Dict[str, Optional[str]] = {}  # file probed -> its summary's hash (None: absent)
        self._modules: Dict[str, Optional[dict]] = {}
        self._paths: Dict[str, str] = {}
        self._files: Dict[str, Optional[str]] = {}
        self._top_names: Optional[frozenset] = None
        # whether files read for a caller search earlier in this process still hold (see _tree)
        self.reuse_trees = False

    # ---------------------------------------------------------------- modules
    def absolute(self, qualified: Optional[str]) -> Optional[str]:
        """A qualified name with leading dots (a relative import) made absolute for this file."""
        if not qualified or not qualified.startswith("."):
            return qualified
        level = len(qualified) - len(qualified.lstrip("."))
        rest = qualified[level:]
        package = self.package_parts
        if level - 1 > len(package):
            return None
        base = package[:len(package) - (level - 1)]
        return ".".join(base + ([rest] if rest else [])) or None

    def summary(self, module: str) -> Optional[dict]:
        """The summary of a project module (None when it is not a project file)."""
        if module in self._modules:
            return self._modules[module]
        self._modules[module] = None
        if self.only_package is not None and module.split(".")[0] != self.only_package:
            return None
        found = None
        relative = module.replace(".", os.sep)
        for root in self.roots:
            for candidate, is_package in ((os.path.join(root, relative + ".py"), False),
                                          (os.path.join(root, relative, "__init__.py"), True)):
                summary = self._read(candidate, module, is_package)
                if summary is not None:
                    found = summary
                    self._paths[module] = candidate
                    break
            if found is not None:
                break
        self._modules[module] = found
        return found

    def module_file(self, module: str) -> Optional[str]:
        """The project file a module name resolves to, found without reading it (None when there is none)."""
        if not module or (self.only_package is not None and module.split(".")[0] != self.only_package):
            return None
        if module.split(".")[0] not in self.top_names():
            return None
        if module in self._files:
            return self._files[module]
        self._files[module] = None
        relative = module.replace(".", os.sep)
        for root in self.roots:
            for candidate in (os.path.join(root, relative + ".py"), os.path.join(root, relative, "__init__.py")):
                if os.path.isfile(candidate):
                    self._files[module] = candidate
                    return candidate
        return None

    def path_of(self, module: str) -> Optional[str]:
        """The file a project module's summary was read from (None when it is not a project file)."""
        return self._paths.get(module) if self.summary(module) is not None else None

    def _read(self, path: str, module: str, is_package: bool) -> Optional[dict]:
        if path == self.path:
            return None  # the file itself is analysed in full
        data = _read_project_file(path)
        if data is None:
            self.dependencies.setdefault(path, None)
            return None
        summary = _stored_summary(data, module, is_package)
        self.dependencies[path] = f"{module}|{int(is_package)}|{summary_hash(summary)}"
        return summary


    def lookup(self, qualified: Optional[str], depth: int = 0) -> Optional[Tuple[str, str, Optional[dict]]]:
        """(kind, qualified, description) of a name a project module defines at its top level: kind is
        class, function or value; re-exports (``from .models import Net`` in a package's ``__init__``) are
        followed. None when the name is not the project's (or not known)."""
        qualified = self.absolute(qualified)
        if not qualified or depth > _MAX_DEPTH or not self.roots:
            return None
        parts = qualified.split(".")
        if parts[0] not in self.top_names():
            return None
        for cut in range(len(parts) - 1, 0, -1):
            summary = self.summary(".".join(parts[:cut]))
            if summary is None:
                continue
            if cut != len(parts) - 1:
                return None  # an attribute of something the module defines
            name = parts[-1]
            module = ".".join(parts[:cut])
            if name in summary["classes"]:
                return "class", f"{module}.{name}", summary["classes"][name]
            if name in summary["functions"]:
                return "function", f"{module}.{name}", summary["functions"][name]
            if name in summary["values"]:
                return "value", f"{module}.{name}", summary["values"][name]
            target = summary["imports"].get(name)
            if target is not None and target != qualified:
                return self.lookup(target, depth + 1)
            return None
        return None

    def top_names(self) -> frozenset:
        """The top-level module and package names of the search roots (recorded as a dependency: a module
        added or removed there may change what an import resolves to)."""
        if self._top_names is None:
            names = set()
            for root in self.roots:
                try:
                    entries = os.listdir(root)
                except OSError:
                    continue
                for entry in entries:
                    if entry.endswith(".py"):
                        names.add(entry[:-3])
                    elif "." not in entry and os.path.isdir(os.path.join(root, entry)):
                        names.add(entry)
                self.dependencies["dir:" + root] = listing_hash(root)
            if self.only_package is not None:
                names &= {self.only_package}
            self._top_names = frozenset(names)
        return self._top_names


def listing_hash(root: str) -> Optional[str]:
    """What a search root offers as top-level modules (names only)."""
    try:
        entries = sorted(e for e in os.listdir(root) if e.endswith(".py") or "." not in e)
    except OSError:
        return None
    return content_hash("\n".join(entries).encode())


def read_summaries(directory: str, fingerprint: str) -> Dict[str, dict]:
    """The summaries kept in a cache folder (content hash, kind and module -> summary); {} when missing or
    damaged."""
    try:
        with open(os.path.join(directory, f"summaries-{fingerprint}.json"), encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
        return {}


def dependencies_current(dependencies: Dict[str, Optional[str]]) -> bool:
    """Whether every project file a cached result read still has the summary it had, every file found
    missing is still missing, and every search root offers the same top-level modules."""
    for path, expected in dependencies.items():
        if path.startswith("callers:"):
            if not _callers_current(path[8:], expected):
                return False
            continue
        if path.startswith("dir:"):
            if listing_hash(path[4:]) != expected:
                return False
            continue
        data = _read_project_file(path)
        if data is None:
            if expected is not None:
                return False
            continue
        if expected is None:
            return False
        module, is_package, digest = expected.split("|", 2)
        if summary_hash(_stored_summary(data, module, is_package == "1")) != digest:
            return False
    return True


def project_of(context) -> ProjectContext:
    """The project of the file being linted: the one the engine was given, else one found from its path."""
    found = getattr(context, "project", None)
    if found is None:
        found = context.facts.get("project")
        if found is None:
            found = context.facts["project"] = ProjectContext(context.path or "")
    return found


# ------------------------------------------------------------------------------------------ callers in other files
#
# What the other files of the project pass to a function of the file being linted. Linting one file must not
# parse the repository: the project's files are read as bytes (once per process), only those that mention the
# function's name or its module's name are summarised with ``ast`` (once per content, kept with the other
# summaries), and each such *calls summary* records, for every name the file imports, the calls it makes of it
# with a description of each argument (see ``_Summarizer.value``), or that it escapes (read as a value, stored,
# rebound, called with ``*args``/``**kwargs``, star-imported). The answer is "unknown" whenever a caller may be
# out of sight: a notebook or a file that does not parse mentions the name, an import we cannot resolve names a
# module of the same name, an import that is never called (a re-export), or the project is too large to read.

# a walk that reads more than this many files or bytes gives up: nothing is claimed beyond it
_MAX_WALKED_FILES = 5000
_MAX_WALKED_BYTES = 64 * 1024 * 1024
# a module imported by more files than this is not followed (each importer costs an ast parse)
_MAX_CANDIDATES = 64
_SKIPPED_DIRECTORIES = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages", "build", "dist",
                                  "venv", "env"})
# an import statement's text (its first line, or a parenthesized list of names) and the words in it
_IMPORT_TEXT = re.compile(rb"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]*(?:\([^)]*\)|[^\n]*)|import[ \t]+[^\n]*)", re.M)
_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
# how a file may import a module without an import statement naming it
_DYNAMIC_IMPORTS = (b"import_module", b"__import__", b"importlib", b"runpy", b"exec(")


class _Tree:
    """The project's files under one folder, read for caller searches: their bytes, and which words their
    import statements name (a file that imports a module names it there)."""

    def __init__(self) -> None:
        self.files: List[Tuple[str, bytes, tuple]] = []  # path, bytes, (path, mtime, size)
        self.importers: Dict[str, List[int]] = {}  # a word of an import statement -> the files that have it
        self.others: List[int] = []  # notebooks and files that may import dynamically: checked by their bytes


# walked trees by root (per process; None: too large); file bytes and import words by (path, mtime, size)
_TREES: Dict[str, Optional[_Tree]] = {}
_FILE_BYTES: Dict[Tuple[str, int, int], bytes] = {}
# words of the import statements, dynamic imports, a star import, the words naming what is bound (the names after
# ``from X import``, and every word of ``import X.Y as Z``: a module object may be among them)
_FILE_IMPORTS: Dict[Tuple[str, int, int], Tuple[frozenset, bool, bool, frozenset]] = {}
_FILE_TOKENS: Dict[Tuple[str, int, int], frozenset] = {}  # every identifier of an importer (bytes)
_CALLERS: Dict[str, Tuple[Optional[Dict[str, Optional[list]]], str]] = {}
_CONTRIBUTIONS: Dict[Tuple[tuple, str, str], tuple] = {}
_CALLER_PROJECTS: Dict[str, "ProjectContext"] = {}


def _walk_root(project: "ProjectContext") -> Optional[str]:
    """The folder whose files are searched for callers: the top of the file's package chain (for a module
    outside any package, its own folder), where the files that import it by that name live."""
    return project.roots[0] if project.roots else None


def _tree(root: str, reuse: bool) -> Optional[_Tree]:
    """Every ``*.py`` and ``*.ipynb`` file under ``root`` (hidden folders, virtual environments and build
    output aside), indexed; None when the tree is too large to read. ``reuse``: a walk made earlier in this
    process still holds (a CLI run; an editor's server walks again, as files may have changed)."""
    if reuse and root in _TREES:
        return _TREES[root]
    tree = _Tree()
    total = 0
    stack = [root]
    too_large = False
    while stack and not too_large:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if (name.startswith(".") or name in _SKIPPED_DIRECTORIES
                            or os.path.isfile(os.path.join(entry.path, "pyvenv.cfg"))):
                        continue
                    stack.append(entry.path)
                    continue
                if not (name.endswith(".py") or name.endswith(".ipynb")) or not entry.is_file(follow_symlinks=False):
                    continue
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if len(tree.files) >= _MAX_WALKED_FILES or total + stat.st_size > _MAX_WALKED_BYTES:
                too_large = True
                break
            key = (entry.path, stat.st_mtime_ns, stat.st_size)
            data = _FILE_BYTES.get(key)
            if data is None:
                data = _read_project_file(entry.path)
                if data is None:
                    data = b""  # a file we cannot read is not a caller we can see
                _FILE_BYTES[key] = data
            total += len(data)
            index = len(tree.files)
            tree.files.append((entry.path, data, key))
            if name.endswith(".ipynb"):
                tree.others.append(index)
                continue
            found = _FILE_IMPORTS.get(key)
            if found is None:
                texts = [m.group(0) for m in _IMPORT_TEXT.finditer(data)]
                words = frozenset(w.decode() for text in texts for w in _WORD.findall(text))
                bound = frozenset(w.decode() for text in texts
                                  for w in _WORD.findall(text.partition(b" import")[2] if text.lstrip().startswith(b"from")
                                                         else text))
                found = _FILE_IMPORTS[key] = (words, any(d in data for d in _DYNAMIC_IMPORTS),
                                              any(b"*" in text for text in texts), bound)
            for word in found[0]:
                tree.importers.setdefault(word, []).append(index)
            if found[1]:
                tree.others.append(index)
    _TREES[root] = None if too_large else tree
    return _TREES[root]


def forget_trees() -> None:
    """Drop the files read for caller searches (a long-running process calls this when files may have changed)."""
    _TREES.clear()
    _CALLERS.clear()
    _CONTRIBUTIONS.clear()
    _CALLER_PROJECTS.clear()


_FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_DEFINITION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class _CallsSummarizer(_Summarizer):
    def calls(self, tree: ast.Module, module_word: str, import_words: frozenset) -> dict:
        """Only the names whose import path goes through a module named ``module_word`` are followed;
        ``import_words``: every word of the file's import statements (the local names they may bind)."""
        self.names_only = True
        summary = self.summarize(tree)
        module_values = summary["values"]
        bindings: Dict[str, set] = {}
        stars: List[str] = []
        outer: Dict[int, Optional[ast.AST]] = {}  # id(function or lambda) -> the function around it
        tops: List[tuple] = []  # (root name, attributes, top node, its parent, scope) of name/attribute chains
        stack: List[Tuple[ast.AST, Optional[ast.AST], Optional[ast.AST]]] = [(tree, None, None)]
        name_type, attribute_type, load = ast.Name, ast.Attribute, ast.Load
        while stack:
            node, scope, parent = stack.pop()
            node_type = type(node)
            if node_type is name_type or node_type is attribute_type:
                if not (type(parent) is attribute_type and parent.value is node):  # type: ignore[union-attr]
                    attrs = []
                    root = node
                    while type(root) is attribute_type:
                        attrs.append(root.attr)  # type: ignore[union-attr]
                        root = root.value  # type: ignore[union-attr]
                    if type(root) is name_type and root.id in import_words:  # type: ignore[union-attr]
                        tops.append((root, attrs[::-1], node, parent, scope))
                if node_type is name_type:
                    if node.id in import_words and type(node.ctx) is not load:  # type: ignore[union-attr]
                        bindings.setdefault(node.id, set()).add("")  # type: ignore[union-attr]
                    continue
            elif node_type is ast.Import:
                for alias in node.names:  # type: ignore[union-attr]
                    local = alias.asname or alias.name.split(".")[0]
                    bindings.setdefault(local, set()).add(alias.name if alias.asname else local)
                continue
            elif node_type is ast.ImportFrom:
                base = self.absolute(node.level, node.module)  # type: ignore[union-attr]
                for alias in node.names:  # type: ignore[union-attr]
                    if alias.name == "*":
                        stars.append(base or "")
                    else:
                        bindings.setdefault(alias.asname or alias.name, set()).add(
                            f"{base}.{alias.name}" if base else "")
                continue
            elif node_type is ast.arg:
                if node.arg in import_words:  # type: ignore[union-attr]
                    bindings.setdefault(node.arg, set()).add("")  # type: ignore[union-attr]
            elif node_type in _DEFINITION_NODES:
                if node.name in import_words:  # type: ignore[union-attr]
                    bindings.setdefault(node.name, set()).add("")  # type: ignore[union-attr]
            elif node_type is ast.Global or node_type is ast.Nonlocal:
                for name in node.names:  # type: ignore[union-attr]
                    bindings.setdefault(name, set()).add("")
            elif node_type is ast.ExceptHandler:
                if node.name:  # type: ignore[union-attr]
                    bindings.setdefault(node.name, set()).add("")  # type: ignore[union-attr]
            elif node_type.__name__ in ("MatchAs", "MatchStar", "MatchMapping"):
                for name in (getattr(node, "name", None), getattr(node, "rest", None)):
                    if name:
                        bindings.setdefault(name, set()).add("")
            inner_scope = scope
            if node_type in _FUNCTION_NODES:
                outer[id(node)] = scope
                inner_scope = node
            for child in ast.iter_child_nodes(node):
                stack.append((child, inner_scope, node))
        refs: Dict[str, dict] = {}

        def ref(qualified: str) -> dict:
            return refs.setdefault(qualified, {"calls": [], "escaped": False})

        tracked: Dict[str, str] = {}
        for name, targets in bindings.items():
            imported = [t for t in targets if t]
            if not imported:
                continue
            if len(targets) == 1:
                tracked[name] = imported[0]
                ref(imported[0])  # imported and never read: re-exported, maybe
            else:
                for target in imported:  # rebound or imported twice: what a read of it calls is not known
                    ref(target)["escaped"] = True
        for module in stars:
            ref(f"{module}.*")["escaped"] = True
        local_values: Dict[int, Dict[str, Optional[dict]]] = {}
        for root, attrs, top, parent, scope in tops:
            if root.id not in tracked or type(root.ctx) is not load:
                continue
            qualified = ".".join([tracked[root.id], *attrs])
            if module_word not in qualified.split("."):
                continue  # not a name of a module of that name
            entry = ref(qualified)
            if (type(parent) is not ast.Call or parent.func is not top
                    or (type(top) is attribute_type and type(top.ctx) is not load)):
                entry["escaped"] = True
                continue
            call = parent
            if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
                entry["escaped"] = True
                continue
            names = self._scope_values(scope, outer, module_values, local_values)
            entry["calls"].append({"a": [self.value(a, names) for a in call.args],
                                   "k": {k.arg: self.value(k.value, names) for k in call.keywords}})
        return {"module": self.module, "refs": refs}

    def _scope_values(self, scope: Optional[ast.AST], scopes: Dict[int, Optional[ast.AST]],
                      module_values: Dict[str, Optional[dict]],
                      cache: Dict[int, Dict[str, Optional[dict]]]) -> Dict[str, Optional[dict]]:
        """What the names read in ``scope`` certainly hold: a local name assigned once, else (a name no
        enclosing function binds) the module-level value."""
        if scope is None:
            return module_values
        if id(scope) in cache:
            return cache[id(scope)]
        chain = []
        outer: Optional[ast.AST] = scope
        while outer is not None:
            chain.append(outer)
            outer = scopes.get(id(outer))
        bound: set = set()
        for function in chain:
            for inner in self.nodes(function):
                if isinstance(inner, ast.Name) and not isinstance(inner.ctx, ast.Load):
                    bound.add(inner.id)
                elif isinstance(inner, ast.arg):
                    bound.add(inner.arg)
                elif isinstance(inner, (ast.Global, ast.Nonlocal)):
                    bound.update(inner.names)
        values: Dict[str, Optional[dict]] = {k: v for k, v in module_values.items() if k not in bound}
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) and len(chain) == 1:
            for name, value in self._single_assignments(scope).items():
                if value is not None:
                    values[name] = value
        cache[id(scope)] = values
        return values


_TREES_PARSED: Dict[str, ast.Module] = {}
# the bytes of callers a process may summarise (a run over a large project caps the work: beyond it, silent;
# the callers of a project of a hundred files of 2 KB each stay under it)
_PARSE_BUDGET = [256 * 1024]
_OVER_BUDGET: dict = {"module": "", "refs": {}}


def summarize_calls(data: bytes, module: str, is_package: bool, module_word: str,
                    import_words: Optional[frozenset] = None) -> Optional[dict]:
    """The calls summary of one file's source for the names of modules named ``module_word`` (None when it
    does not parse)."""
    key = content_hash(data)
    tree = _TREES_PARSED.get(key)
    if tree is None:
        try:
            tree = ast.parse(data)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        if len(_TREES_PARSED) >= 32:
            _TREES_PARSED.clear()
        _TREES_PARSED[key] = tree  # an importer of several modules is read for each of them
    try:
        if import_words is None:
            import_words = frozenset(w.decode() for m in _IMPORT_TEXT.finditer(data) for w in _WORD.findall(m.group(0)))
        return _CallsSummarizer(module, is_package).calls(tree, module_word, import_words)
    except RecursionError:
        return None


def _stored_calls(data: bytes, module: str, is_package: bool, module_word: str,
                  import_words: Optional[frozenset] = None) -> Optional[dict]:
    key = f"calls:{content_hash(data)}:{int(is_package)}:{module}:{module_word}"
    summary = _stored(key)
    if summary is None:
        if _PARSE_BUDGET[0] < len(data):
            return _OVER_BUDGET
        _PARSE_BUDGET[0] -= len(data)
        summary = (summarize_calls(data, module, is_package, module_word, import_words)
                   or {"module": module, "refs": None})
        _STORE[key] = _NEW[key] = summary
    return summary if summary.get("refs") is not None else None


def _module_names(path: str, project: "ProjectContext") -> List[str]:
    """The names ``path`` is imported under from ``project``'s roots."""
    names = []
    for root in project.roots:
        relative = os.path.relpath(path, root)
        if relative.startswith(os.pardir) or os.path.isabs(relative):
            continue
        parts = os.path.splitext(relative)[0].split(os.sep)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and all(p.isidentifier() for p in parts):
            names.append(".".join(parts))
    return names


def _callers(project: "ProjectContext", names: Tuple[str, ...],
             parse: bool = True) -> Tuple[Optional[Dict[str, Optional[list]]], str]:
    """For each of ``names`` (functions or classes the linted file defines at its top level): the calls other
    project files make of it (each {"a": positional descriptions, "k": keyword descriptions}), or None when
    a caller may be out of sight; and a digest of every file read for the answer (for the cache). (None,
    digest) when the project is too large to read. Without ``parse``, no file is summarised: a name that a
    file may call is unknown, the others get [] (for facts that only this file's calls can give)."""
    root = _walk_root(project)
    key = json.dumps([root, project.path, project.module, names, parse])
    if project.reuse_trees and key in _CALLERS:
        return _CALLERS[key]
    tree = _tree(root, project.reuse_trees) if root is not None else None
    if tree is None or not project.module:
        _CALLERS[key] = (None, "none")
        return _CALLERS[key]
    module_last = project.module.rpartition(".")[2]
    raw = module_last.encode()
    answer: Dict[str, Optional[list]] = {name: [] for name in names}
    others = {i for i in tree.others if raw in tree.files[i][1]}
    wanted = [name.encode() for name in names]
    candidates = sorted(others | {i for i in tree.importers.get(module_last, ())
                                  if _may_call(tree.files[i], module_last, names, wanted)})
    digest = []
    if not parse:
        for index in candidates:
            path, data, file_key = tree.files[index]
            if path == project.path:
                continue
            digest.append(f"{path}|{content_hash(data)}")
            for name in names:
                if index in others or _may_call(tree.files[index], module_last, (name,), [name.encode()]):
                    answer[name] = None
        candidates = []
    for index in candidates:
        path, data, file_key = tree.files[index]
        if path == project.path:
            continue
        digest.append(f"{path}|{content_hash(data)}")
        if len(candidates) > _MAX_CANDIDATES or index in tree.others:
            # too many importers to read, a notebook, or a file that may import it by a computed name
            answer = {name: None for name in names}
            continue
        contribution, unknown_all, dependencies = _contribution(project, path, data, file_key)
        digest.extend(f"{probed}|{expected}" for probed, expected in sorted(dependencies.items()))
        if unknown_all:
            answer = {name: None for name in names}
            continue
        for name, calls in contribution.items():
            if name not in answer or answer[name] is None:
                continue
            if calls is None:
                answer[name] = None
            else:
                answer[name].extend(calls)  # type: ignore[union-attr]
    result = (answer, content_hash("\n".join(digest).encode()))
    _CALLERS[key] = result
    return result


def _may_call(entry: Tuple[str, bytes, tuple], module_last: str, names: Tuple[str, ...], wanted: List[bytes]) -> bool:
    """Whether a file whose imports mention the module's name may call one of ``names``: it star-imports, imports
    one of them by name, or imports a module object of that name and mentions one of them anywhere."""
    path, data, key = entry
    _, _, star, bound = _FILE_IMPORTS[key]
    if star or any(name in bound for name in names):
        return True
    if module_last not in bound:
        return False  # it imports other names from the module (or from another module on its path)
    tokens = _FILE_TOKENS.get(key)
    if tokens is None:
        tokens = _FILE_TOKENS[key] = frozenset(_WORD.findall(data))
    return any(name in tokens for name in wanted)


def _contribution(project: "ProjectContext", path: str, data: bytes, file_key: tuple
                  ) -> Tuple[Dict[str, Optional[list]], bool, Dict[str, Optional[str]]]:
    """What one file that imports the linted file's module says of its top-level names: name -> the calls it
    makes of it (None: it lets it escape); whether the whole module escapes (star import, read as a value, a
    file that does not parse); the project files read to tell."""
    memo = (file_key, project.path, project.module)
    if project.reuse_trees and memo in _CONTRIBUTIONS:
        return _CONTRIBUTIONS[memo]
    caller = _CALLER_PROJECTS.get(path) if project.reuse_trees else None
    if caller is None:
        caller = ProjectContext(path)
        caller.reuse_trees = project.reuse_trees
        if project.reuse_trees:
            _CALLER_PROJECTS[path] = caller
    module_last = project.module.rpartition(".")[2]
    calls = _stored_calls(data, caller.module, caller.is_package_init, module_last, _FILE_IMPORTS[file_key][0])
    if calls is _OVER_BUDGET:
        return {}, True, {}  # the run read enough callers: silent beyond it
    contribution: Dict[str, Optional[list]] = {}
    unknown_all = calls is None
    module_last = project.module.rpartition(".")[2]
    ours = set(_module_names(project.path, caller))
    for qualified, entry in (calls["refs"].items() if calls is not None else ()):
        # resolved by name: the module's names from the caller's roots (a re-export through another module
        # is not followed: that module imports ours too, and its import, never called, makes the name unknown)
        target, _, name = qualified.rpartition(".")
        if name == "*":
            if target in ours or (target.rpartition(".")[2] == module_last and caller.module_file(target) is None):
                unknown_all = True  # every name of the module may be called anywhere
            continue
        if qualified in ours:
            if entry["escaped"]:
                unknown_all = True  # the module itself is passed around: any of its names may be called
            continue
        if target not in ours:
            if target.rpartition(".")[2] == module_last and caller.module_file(target) is None:
                contribution[name] = None  # an import of a module of our name we cannot resolve: maybe ours
            continue
        if entry["escaped"] or not entry["calls"]:
            contribution[name] = None  # read as a value, or imported and never called (re-exported?)
        elif contribution.get(name, []) is not None:
            contribution.setdefault(name, []).extend(entry["calls"])  # type: ignore[union-attr]
    result = (contribution, unknown_all, dict(caller.dependencies))
    if project.reuse_trees:
        _CONTRIBUTIONS[memo] = result
    return result


def remote_calls(project: "ProjectContext", name: str, names: Tuple[str, ...], parse: bool = True) -> Optional[list]:
    """The calls other project files make of the linted file's top-level ``name`` (``names``: every name
    asked about for this file, answered together), or None when unknown (see ``_callers`` for ``parse``).
    Records the dependency."""
    if not project.roots or project.only_package is not None:
        return []  # installed code: judged by its own file, as before
    answer, digest = _callers(project, names, parse)
    project.dependencies["callers:" + json.dumps([project.path, project.module, list(names), parse])] = digest
    if answer is None:
        return []  # a project too large to read: no claim from other files (the file's own calls only)
    return answer.get(name)


def _callers_current(key: str, expected: Optional[str]) -> bool:
    try:
        path, module, names, parse = json.loads(key)
    except (ValueError, TypeError):
        return False
    project = ProjectContext(path)
    project.reuse_trees = True  # a cache check: part of one CLI run
    if project.module != module:
        return False
    return _callers(project, tuple(names), bool(parse))[1] == expected
