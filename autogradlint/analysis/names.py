"""What a name refers to: a lean import resolver.

One pass over the tree records, for every scope (module, class, function, lambda, comprehension),
every binding of every name, and for every ``Name`` node the scope it is read in. A name then resolves
to a dotted qualified name only when every binding that can reach it is an import of the same thing;
a local ``def no_grad()``, an assignment, or two different bindings (``if``/``else``) make it unknown.

This replaces LibCST's ScopeProvider/QualifiedNameProvider, which cost about ten times the parse.
"""
from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Dict, List, Optional, Union

import libcst as cst

from autogradlint.records import FrozenRecord, Record
from autogradlint.walk import TreeIndex, children, current_index

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

_BUILTIN_NAMES = frozenset(dir(builtins))


class Binding(FrozenRecord):
    """One place a name is bound. ``kind`` is import, def, class, param or assign."""

    __slots__ = ("kind", "node", "target")

    def __init__(self, kind: str, node: cst.CSTNode, target: Optional[str] = None) -> None:
        # target: the dotted name an import binds
        self._assign(kind, node, target)


class Scope(Record):
    """(A Record compared and hashed by identity, as the dataclass with ``eq=False`` was.)"""

    __slots__ = ("kind", "parent", "node", "bindings", "globals_", "nonlocals")
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __init__(self, kind: str, parent: Optional["Scope"], node: cst.CSTNode,
                 bindings: Optional[Dict[str, List[Binding]]] = None, globals_: Optional[set] = None,
                 nonlocals: Optional[set] = None) -> None:
        self.kind = kind  # module, class, function, comprehension
        self.parent = parent
        self.node = node
        self.bindings = {} if bindings is None else bindings
        self.globals_ = set() if globals_ is None else globals_
        self.nonlocals = set() if nonlocals is None else nonlocals

    def bind(self, name: str, binding: Binding) -> None:
        self.bindings.setdefault(name, []).append(binding)


_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
# node types that open a scope or bind a name; every other node only passes its scope on to its children
_SCOPE_OR_BINDING_TYPES = frozenset(
    {
        cst.FunctionDef, cst.Lambda, cst.ClassDef, *_COMPREHENSIONS,
        cst.Import, cst.ImportFrom, cst.Assign, cst.AnnAssign, cst.AugAssign, cst.For, cst.WithItem,
        cst.ExceptHandler, cst.ExceptStarHandler, cst.NamedExpr, cst.Global, cst.Nonlocal, cst.MatchAs, cst.MatchStar, cst.MatchMapping,
        cst.Del,
    }
)

_BUILD_TYPES = (cst.Name, *_SCOPE_OR_BINDING_TYPES)


def _dotted(node: cst.BaseExpression) -> Optional[str]:
    if type(node) is cst.Name:
        return node.value
    if type(node) is cst.Attribute:
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


class NameResolver:
    """Resolves names and attribute chains of one module to the dotted names they import."""

    def __init__(self, module: cst.Module, tree: Optional[TreeIndex] = None) -> None:
        self.module_scope = Scope("module", None, module)
        self._scope_of_name: Dict[int, Scope] = {}
        self._scope_of_node: Dict[int, Scope] = {id(module): self.module_scope}
        self._resolving: set = set()  # alias assignments being followed (a cycle resolves to None)
        if tree is None or not tree.order or tree.order[0] is not module:
            tree = TreeIndex(module)
        self._build(tree)

    # ---------------------------------------------------------------- building

    def _build(self, tree: TreeIndex) -> None:
        """Record bindings and the scope of every Name, in one pass over the file's TreeIndex (nodes in
        source order with subtree ends): a scope-making node's frame says which of its descendants (its
        body) are in its own scope; the others (decorators, defaults, bases, the first iterable of a
        comprehension) are in the outer one."""
        order, ends, position = tree.order, tree.ends, tree.position
        scope_of_name = self._scope_of_name
        # (end of the node's subtree, inner ranges, inner scope, outer scope); at the bottom the module's,
        # which no node leaves
        frames: List[tuple] = [(len(order) + 1, (), self.module_scope, self.module_scope)]
        top_end, top_ranges, top_inner, top_outer = frames[-1]
        # only names and the nodes that open a scope or bind matter; the others just pass their scope on
        for number in tree.numbers_of(_BUILD_TYPES, 1):
            node = order[number]
            if number >= top_end:
                frames.pop()
                while number >= frames[-1][0]:
                    frames.pop()
                top_end, top_ranges, top_inner, top_outer = frames[-1]
            scope = top_outer
            for first, last in top_ranges:
                if first <= number < last:
                    scope = top_inner
                    break
            node_type = type(node)
            if node_type is cst.Name:
                scope_of_name[id(node)] = scope
                continue
            if node_type not in _SCOPE_OR_BINDING_TYPES:
                continue
            if node_type is cst.FunctionDef or node_type is cst.Lambda:
                inner = Scope("function", scope, node)
                if node_type is cst.FunctionDef:
                    scope.bind(node.name.value, Binding("def", node))
                self._bind_params(node.params, inner)
                body = position[id(node.body)]
                ranges = [(body, ends[body])]
            elif node_type is cst.ClassDef:
                scope.bind(node.name.value, Binding("class", node))
                inner = Scope("class", scope, node)
                body = position[id(node.body)]
                ranges = [(body, ends[body])]
            elif node_type in _COMPREHENSIONS:
                inner = Scope("comprehension", scope, node)
                # everything but the first iterable, which is evaluated in the enclosing scope
                first_iter = position[id(node.for_in.iter)]
                ranges = [(number + 1, first_iter), (ends[first_iter], ends[number])]
                comp_for: Optional[cst.CompFor] = node.for_in
                while comp_for is not None:
                    self._bind_target(comp_for.target, inner, "assign", comp_for)
                    comp_for = comp_for.inner_for_in
            else:
                self._record_bindings(node, scope)
                continue
            self._scope_of_node[id(node)] = inner
            frames.append((ends[number], ranges, inner, scope))
            top_end, top_ranges, top_inner, top_outer = frames[-1]

    def _bind_params(self, params: cst.Parameters, inner: Scope) -> None:
        every: List[cst.Param] = [*params.posonly_params, *params.params, *params.kwonly_params]
        if type(params.star_arg) is cst.Param:
            every.append(params.star_arg)
        if params.star_kwarg is not None:
            every.append(params.star_kwarg)
        for param in every:
            inner.bind(param.name.value, Binding("param", param))

    def _record_bindings(self, node: cst.CSTNode, scope: Scope) -> None:
        node_type = type(node)
        if node_type is cst.Import:
            for alias in node.names:
                dotted = _dotted(alias.name)
                if dotted is None:
                    continue
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    self._bind_name(scope, alias.asname.name.value, Binding("import", node, dotted))
                else:
                    top = dotted.split(".")[0]
                    self._bind_name(scope, top, Binding("import", node, top))
        elif node_type is cst.ImportFrom:
            if node.relative:
                # kept relative (``.models.Net``): the project context makes it absolute for this file
                inner = _dotted(node.module) if node.module is not None else ""
                base = None if inner is None else "." * len(node.relative) + inner
            elif node.module is None:
                base = None
            else:
                base = _dotted(node.module)
            if type(node.names) is cst.ImportStar:
                return
            for alias in node.names:
                if not isinstance(alias.name, cst.Name):
                    continue
                local = alias.name.value
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    local = alias.asname.name.value
                if base is None:
                    target = None
                elif base.endswith("."):
                    target = base + alias.name.value  # from . import models
                else:
                    target = f"{base}.{alias.name.value}"
                self._bind_name(scope, local, Binding("import", node, target))
        elif node_type is cst.Assign:
            for target in node.targets:
                self._bind_target(target.target, scope, "assign", node)
        elif node_type is cst.AnnAssign or node_type is cst.AugAssign:
            self._bind_target(node.target, scope, "assign", node)
        elif node_type is cst.For:
            self._bind_target(node.target, scope, "assign", node)
        elif node_type is cst.WithItem:
            if node.asname is not None:
                self._bind_target(node.asname.name, scope, "assign", node)
        elif node_type is cst.ExceptHandler or node_type is cst.ExceptStarHandler:
            if node.name is not None:
                self._bind_target(node.name.name, scope, "assign", node)
        elif node_type is cst.NamedExpr:
            target_scope = scope
            while target_scope.kind == "comprehension" and target_scope.parent is not None:
                target_scope = target_scope.parent
            self._bind_target(node.target, target_scope, "assign", node)
        elif node_type is cst.Global:
            for item in node.names:
                scope.globals_.add(item.name.value)
        elif node_type is cst.Nonlocal:
            for item in node.names:
                scope.nonlocals.add(item.name.value)
        elif node_type is cst.MatchAs or node_type is cst.MatchStar:
            if node.name is not None:
                self._bind_name(scope, node.name.value, Binding("assign", node))
        elif node_type is cst.MatchMapping:
            if node.rest is not None:
                self._bind_name(scope, node.rest.value, Binding("assign", node))
        elif node_type is cst.Del:
            self._bind_target(node.target, scope, "assign", node)

    def _bind_target(self, target: cst.CSTNode, scope: Scope, kind: str, node: cst.CSTNode) -> None:
        target_type = type(target)
        if target_type is cst.Name:
            self._bind_name(scope, target.value, Binding(kind, node))
        elif target_type is cst.Tuple or target_type is cst.List:
            for element in target.elements:
                self._bind_target(element.value, scope, kind, node)
        elif target_type is cst.StarredElement:
            self._bind_target(target.value, scope, kind, node)

    def _bind_name(self, scope: Scope, name: str, binding: Binding) -> None:
        if name in scope.globals_:
            scope = self.module_scope
        scope.bind(name, binding)

    # ---------------------------------------------------------------- queries

    def scope_of(self, node: cst.CSTNode) -> Optional[Scope]:
        """The scope a function, lambda, class or comprehension node opens (the module's for the Module)."""
        return self._scope_of_node.get(id(node))

    def bindings_of(self, name: cst.Name) -> Optional[List[Binding]]:
        """Every binding that a read of ``name`` can see, or None for a builtin or unbound name."""
        scope = self._scope_of_name.get(id(name))
        if scope is None:
            return None
        return self.lookup(name.value, scope)

    def lookup(self, name: str, scope: Scope) -> Optional[List[Binding]]:
        current: Optional[Scope] = scope
        first = True
        while current is not None:
            if name in current.globals_:
                current = self.module_scope
            # class bodies are not visible from the functions nested in them
            if current.kind != "class" or first:
                found = current.bindings.get(name)
                if found:
                    return found
            first = False
            current = current.parent
        return None

    def binding_of(self, name: cst.Name) -> Optional[Binding]:
        """The one binding a read of ``name`` sees, or None when there are several or none."""
        found = self.bindings_of(name)
        if not found:
            return None
        first = found[0]
        for other in found[1:]:
            if other.kind != "import" or first.kind != "import" or other.target != first.target:
                return None
        return first

    def _alias_target(self, binding: Binding, name: str) -> Optional[str]:
        """``V = torch.autograd.Variable`` (the name's only binding): the dotted name the alias stands for."""
        statement = binding.node
        if type(statement) is not cst.Assign or len(statement.targets) != 1:
            return None
        target = statement.targets[0].target
        if type(target) is not cst.Name or target.value != name or type(statement.value) not in (cst.Name, cst.Attribute):
            return None
        key = id(statement)
        if key in self._resolving:
            return None  # ``a = b`` and ``b = a``
        self._resolving.add(key)
        try:
            return self.qualified_name(statement.value)
        finally:
            self._resolving.discard(key)

    def qualified_name(self, node: Union[cst.BaseExpression, cst.CSTNode]) -> Optional[str]:
        """The dotted name ``node`` (a Name or an Attribute chain, never a Call) imports, e.g.
        ``th.autograd.no_grad`` -> ``torch.autograd.no_grad``; None when not certain."""
        node_type = type(node)
        if node_type is cst.Name:
            found = self.bindings_of(node)
            if found is None:
                if node.value in _BUILTIN_NAMES and id(node) in self._scope_of_name:
                    return f"builtins.{node.value}"
                return None
            binding = self.binding_of(node)
            if binding is None:
                return None
            if binding.kind == "assign":
                return self._alias_target(binding, node.value)
            if binding.kind != "import":
                return None
            return binding.target
        if node_type is cst.Attribute:
            base = self.qualified_name(node.value)
            if base is None:
                return None
            return f"{base}.{node.attr.value}"
        return None


def target_names(target: cst.CSTNode) -> List[str]:
    """Plain names an assignment target binds (``a``, ``a, (b, *c)``); attributes and subscripts bind none."""
    target_type = type(target)
    if target_type is cst.Name:
        return [target.value]
    if target_type is cst.Tuple or target_type is cst.List:
        return [n for element in target.elements for n in target_names(element.value)]
    if target_type is cst.StarredElement:
        return target_names(target.value)
    return []


# packages whose import means the file works with torch (its tensors, modules and training loops)
TORCH_PACKAGES = frozenset({"torch", "pytorch_lightning", "lightning", "accelerate"})
_WORKS_WITH_TORCH = "names.works_with_torch"  # key of the answer in the file's LintContext.facts


def works_with_torch(context: "LintContext") -> bool:
    """Whether the file imports torch (a torch submodule, or a torch training framework: Lightning, Accelerate)
    at module level, in any spelling: its code works with torch tensors."""
    found = context.facts.get(_WORKS_WITH_TORCH)
    if found is None:
        found = context.facts[_WORKS_WITH_TORCH] = any(
            binding.kind == "import" and (binding.target or "").split(".", 1)[0] in TORCH_PACKAGES
            for bindings in context.names.module_scope.bindings.values() for binding in bindings)
    return found


# the nodes that may bind a name: what ``bound_names`` looks at
_BINDERS = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.For,
            cst.NamedExpr, cst.AsName, cst.Import, cst.ImportFrom, cst.Del, cst.MatchAs, cst.MatchStar,
            cst.MatchMapping)
# binders whose subtree binds nothing more (nested scopes, imports)
_OPAQUE_BINDERS = frozenset({cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.Import, cst.ImportFrom})
_TARGET_BINDERS = frozenset({cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.For, cst.NamedExpr, cst.Del})
_BINDER_TYPES = frozenset(_BINDERS)
_SMALL_SUBTREE = 48


def bound_names(root: cst.CSTNode) -> set:
    """Every name a statement or block (and what it contains, short of nested scopes) may bind: assignment,
    loop, ``with``/``except ... as`` and walrus targets (a walrus in a comprehension too: it binds outside),
    ``del``, match captures, imports, and the names of ``def``/``class`` statements (not what their bodies
    bind); comprehension variables are the comprehension's own."""
    names: set = set()
    if type(root) in _OPAQUE_BINDERS:
        _add_bound_names(root, names)
        return names
    index = current_index()
    start = index.number(root) if index is not None else None
    if start is None:
        return _bound_names_walk(root)
    order, ends = index.order, index.ends
    end = ends[start]
    if end - start <= _SMALL_SUBTREE:
        # a scan of a few nodes costs less than looking up every binder type in the index
        numbers = [number for number in range(start, end) if type(order[number]) in _BINDER_TYPES]
    else:
        numbers = index.numbers_of(_BINDERS, start, end)
    skip_to = start
    for number in numbers:
        if number < skip_to:
            continue  # inside a nested scope or an import already handled
        _add_bound_names(order[number], names)
        if type(order[number]) in _OPAQUE_BINDERS:
            skip_to = ends[number]
    return names


def _add_bound_names(node: cst.CSTNode, names: set) -> None:
    """Add the names ``node`` itself binds (not its children) to ``names``."""
    node_type = type(node)
    if node_type in _TARGET_BINDERS:
        names.update(target_names(node.target))
    elif node_type is cst.FunctionDef or node_type is cst.ClassDef:
        names.add(node.name.value)
    elif node_type is cst.AsName:
        names.update(target_names(node.name))
    elif node_type is cst.Import or node_type is cst.ImportFrom:
        if type(node.names) is cst.ImportStar:
            return
        for alias in node.names:
            if alias.asname is not None:
                names.update(target_names(alias.asname.name))
            else:
                first = alias.name
                while type(first) is cst.Attribute:
                    first = first.value
                if type(first) is cst.Name:
                    names.add(first.value)
    elif node_type is cst.MatchAs or node_type is cst.MatchStar:
        if node.name is not None:
            names.add(node.name.value)
    elif node_type is cst.MatchMapping:
        if node.rest is not None:
            names.add(node.rest.value)


def _bound_names_walk(root: cst.CSTNode) -> set:
    """``bound_names`` of a tree that is not the one being linted."""
    names: set = set()
    stack = [root]
    while stack:
        node = stack.pop()
        node_type = type(node)
        if node_type in _OPAQUE_BINDERS or node_type in _TARGET_BINDERS or node_type is cst.AsName or \
                node_type is cst.MatchAs or node_type is cst.MatchStar or node_type is cst.MatchMapping:
            _add_bound_names(node, names)
            if node_type in _OPAQUE_BINDERS:
                continue
        stack.extend(children(node))
    return names
