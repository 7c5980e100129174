"""Module state kept in plain Python containers inside a module class (GL602 modules, GL605 parameters).

``nn.Module`` registers a submodule or a Parameter only when it is assigned directly as an attribute or
held by a registering container (``nn.ModuleList``/``nn.ModuleDict``/``nn.Sequential``,
``nn.ParameterList``/``nn.ParameterDict``). ``plain_container(context, assign, kind)`` tells whether an
assignment ``self.X = <plain container>`` in a module class keeps new items of ``kind`` (MODULES or
PARAMETERS) where nothing registers them, and whether the swap to the torch container is safe.

What "registered another way" means is shared by both kinds: the list is handed on (``nn.Sequential(*self.x)``,
``nn.ParameterList(self.x)``, any call but a few harmless builtins), aliased, or the class registers items
itself (``add_module``/``register_parameter``/``setattr``). Which list/dict methods the torch containers lack
and which keys their dicts refuse comes from torch (torch_semantics.json, ``containers``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, FrozenSet, Optional, Set

import libcst as cst

from autogradlint.analysis.modules import (
    enclosing_method_class,
    is_module_class,
    is_module_construction,
    module_instance,
)
from autogradlint.analysis.torch_api import canonical
from autogradlint.records import FrozenRecord, Record
from autogradlint.walk import current_index, iter_with_parents, nodes_of

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

# plain containers, by node type
CONTAINER_KINDS = {cst.List: "list", cst.ListComp: "list", cst.Tuple: "tuple", cst.Dict: "dict", cst.DictComp: "dict"}
# list methods that add items, and which positional argument is the added item (None: an iterable of items)
_ADDING_METHODS = {"append": 0, "insert": 1, "extend": None}
# calls that cannot register the items of a list they are given
_HARMLESS_CALLS = frozenset(
    {"enumerate", "zip", "len", "reversed", "range", "iter", "next", "isinstance", "print", "min", "max", "sum",
     "any", "all", "sorted", "map", "filter", "str", "repr", "hasattr", "getattr"}
)
PARAMETER = "torch.nn.Parameter"


def is_parameter_construction(context: "LintContext", expression: cst.BaseExpression) -> bool:
    """``expression`` creates a new ``nn.Parameter`` (``nn.Parameter(torch.randn(d))``)."""
    return (type(expression) is cst.Call and type(expression.func) in (cst.Name, cst.Attribute)
            and canonical(context.qualified_name(expression.func)) == PARAMETER)


def _is_module(context: "LintContext", value: cst.BaseExpression) -> bool:
    return is_module_construction(context, value) or module_instance(context, value) is not None


class ItemKind(FrozenRecord):
    """What a plain container must not hold unregistered: its items' tests, the torch containers that
    register them, and the methods by which a class registers them itself."""

    __slots__ = ("noun", "list_container", "dict_container", "is_new", "is_item", "registering_methods")

    def __init__(self, noun: str, list_container: str, dict_container: str,
                 is_new: Callable[["LintContext", cst.BaseExpression], bool],
                 is_item: Callable[["LintContext", cst.BaseExpression], bool],
                 registering_methods: FrozenSet[str]) -> None:
        self._assign(noun, list_container, dict_container, is_new, is_item, registering_methods)


MODULES = ItemKind("modules", "torch.nn.ModuleList", "torch.nn.ModuleDict", is_module_construction, _is_module,
                   frozenset({"add_module", "register_module", "__setattr__"}))
PARAMETERS = ItemKind("parameters", "torch.nn.ParameterList", "torch.nn.ParameterDict", is_parameter_construction,
                      is_parameter_construction, frozenset({"register_parameter", "__setattr__"}))


def _torch_container(qualified_name: str) -> dict:
    from autogradlint.analysis.torch_semantics import table

    return table()["containers"][qualified_name]


def _lacks(kind: ItemKind, container_kind: str) -> Set[str]:
    """The list/dict methods the torch container lacks (a call of one breaks after the swap)."""
    name = kind.dict_container if container_kind == "dict" else kind.list_container
    return set(_torch_container(name)["lacks"])


def _valid_key(kind: ItemKind, key) -> bool:
    """A key the torch dict accepts: a plain string with no dot that shadows none of its attributes."""
    if not isinstance(key, cst.SimpleString) or "b" in key.prefix.lower():
        return False
    text = key.evaluated_value
    return isinstance(text, str) and text != "" and "." not in text and not text.startswith("_") \
        and text not in set(_torch_container(kind.dict_container)["attributes"])


class PlainContainer(FrozenRecord):
    """A plain container of new unregistered items assigned to ``self.X`` in a module class.

    ``value``: the container expression; ``container_kind``: "list", "tuple" or "dict"; ``fixable``:
    wrapping it in ``torch_container`` keeps everything the class does with it working; ``torch_container``:
    the qualified name of the registering container.
    """

    __slots__ = ("value", "container_kind", "fixable", "torch_container")

    def __init__(self, value: cst.BaseExpression, container_kind: str, fixable: bool, torch_container: str) -> None:
        self._assign(value, container_kind, fixable, torch_container)


def plain_container(context: "LintContext", node: cst.Assign, kind: ItemKind) -> Optional[PlainContainer]:
    """``PlainContainer`` when the assignment being visited (``self.X = ...`` in a method of a module
    class) keeps new items of ``kind`` in a plain list, tuple, dict, comprehension, a ``[]`` the class
    fills, or a local list built in the method; None otherwise (also when they may be registered another
    way)."""
    if len(node.targets) != 1:
        return None
    target = node.targets[0].target
    if not (type(target) is cst.Attribute and type(target.value) is cst.Name):
        return None
    value = node.value
    # first what the value's shape alone rules out (the checks below ask the module analysis)
    if type(value) is cst.Name:
        if _local_list_candidate(context, value) is None:
            return None
    elif type(value) in (cst.Call, cst.BinaryOperation):
        if _built_container(context, value) is None:
            return None
    elif type(value) not in CONTAINER_KINDS:
        return None
    klass = enclosing_method_class(context.ancestors)
    if klass is None or is_module_class(context, klass) is not True:
        return None
    owner = module_instance(context, target.value)
    if owner is None or owner.local is not klass:
        return None
    attr = target.attr.value
    use = class_use(context, klass, kind)
    if use.registers or attr in use.escaping or attr in use.valued:
        return None
    container_kind = _plain_container_of_new_items(context, kind, value, attr in use.filled)
    if container_kind is None:
        return None
    dict_like = isinstance(value, (cst.Dict, cst.DictComp)) or container_kind == "dict"
    torch_container = kind.dict_container if dict_like else kind.list_container
    return PlainContainer(value, container_kind, _fixable(context, kind, klass, attr, value), torch_container)


def _fixable(context: "LintContext", kind: ItemKind, klass: cst.ClassDef, attr: str, value: cst.BaseExpression) -> bool:
    """Whether the container holds and is given only items of ``kind`` and no list/dict method the torch
    container lacks is called on it."""
    container_kind = "dict" if isinstance(value, (cst.Dict, cst.DictComp)) else "list"
    if isinstance(value, cst.Name):
        holds_items = _local_fills_only_items(context, kind, value)
    else:  # a dict comprehension's keys may be anything
        holds_items = not isinstance(value, cst.DictComp) and _only_items(context, kind, value)

    def attribute(node):  # any `<name>.<attr>` of the class: a method may name its self otherwise
        return isinstance(node, cst.Attribute) and node.attr.value == attr

    return holds_items and _fills_only_items(context, kind, klass, attribute, container_kind)


def _with_parents(root, types):
    """The nodes under ``root`` (``root`` excluded) that are instances of ``types``, each with its parent, in
    source order."""
    index = current_index()
    start = index.number(root) if index is not None else None
    if start is None:
        return [(node, parent) for node, parent in iter_with_parents(root) if isinstance(node, types)]
    order, parents = index.order, index.parents
    return [(order[number], order[parents[number]]) for number in index.numbers_of(types, start + 1, index.ends[start])]


def _self_attr(node, self_name) -> Optional[str]:
    """``X`` of ``<self_name>.X``, else None."""
    if type(node) is cst.Attribute and type(node.value) is cst.Name and node.value.value == self_name:
        return node.attr.value
    return None


# what ``_scan_method`` looks at: calls and assignments, and attributes (``self.X``) with their parent
_SCANNED = (cst.Call, cst.Assign, cst.AugAssign, cst.Attribute)
# parents that hand a ``self.X`` on
_ESCAPING_PARENTS = frozenset({cst.Element, cst.StarredElement, cst.BinaryOperation, cst.DictElement})


def _harmless_call(call):
    return isinstance(call.func, cst.Name) and call.func.value in _HARMLESS_CALLS


class ClassUse(Record):
    """How a module class's methods use its ``self.X`` attributes, for one kind of item."""

    __slots__ = ("filled", "escaping", "registers", "valued")

    def __init__(self) -> None:
        self.filled: Set[str] = set()  # attributes a new item is appended or stored into
        self.escaping: Set[str] = set()  # attributes handed on: they may be registered elsewhere
        self.registers = False  # the class registers items itself (add_module, register_parameter, setattr)
        self.valued: Set[str] = set()  # attributes some assignment sets to one item


def _adds_item(context, kind: ItemKind, call) -> bool:
    """``x.append(<new item>)`` / ``x.insert(i, <new item>)`` / ``x.extend([<new item>, ...])``."""
    index = _ADDING_METHODS.get(call.func.attr.value, -1) if isinstance(call.func, cst.Attribute) else -1
    args = [a for a in call.args if a.keyword is None and not a.star]
    if index is None:
        return bool(args) and holds_new_item(context, kind, args[0].value)
    return index >= 0 and len(args) > index and kind.is_new(context, args[index].value)


def _only_items(context, kind: ItemKind, value) -> bool:
    """Whether every item of a container literal or comprehension is of ``kind`` (a dict's keys valid names)."""
    if isinstance(value, (cst.List, cst.Tuple)):
        return all(not isinstance(e, cst.StarredElement) and kind.is_item(context, e.value) for e in value.elements)
    if isinstance(value, cst.ListComp):
        return kind.is_new(context, value.elt)
    if isinstance(value, cst.Dict):
        return all(isinstance(e, cst.DictElement) and _valid_key(kind, e.key) and kind.is_item(context, e.value)
                   for e in value.elements)
    return False


# the nodes through which code can put items into a container
_FILLING = (cst.Call, cst.AugAssign, cst.Assign)


def _fills_only_items(context, kind: ItemKind, root, is_container, container_kind) -> bool:
    """Whether every use under ``root`` of the container (``is_container`` tells its expressions) adds only
    items of ``kind`` and calls no list/dict method that the torch container lacks."""
    lacks = _lacks(kind, container_kind)
    for node in nodes_of(root, _FILLING):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and is_container(node.func.value):
            method = node.func.attr.value
            args = [a.value for a in node.args if a.keyword is None and not a.star]
            if method in lacks or (method == "update" and not (args and _only_items(context, kind, args[0]))):
                return False
            if method in _ADDING_METHODS:
                index = _ADDING_METHODS[method]
                if index is None and not (args and _only_items(context, kind, args[0])):
                    return False
                if index is not None and not (len(args) > index and kind.is_item(context, args[index])):
                    return False
        elif isinstance(node, cst.AugAssign) and is_container(node.target) and not _only_items(context, kind, node.value):
            return False
        elif isinstance(node, cst.Assign):
            for target in node.targets:
                item = target.target
                if isinstance(item, cst.Subscript) and is_container(item.value):
                    key = item.slice[0].slice if len(item.slice) == 1 else None
                    if container_kind == "dict" and not (isinstance(key, cst.Index) and _valid_key(kind, key.value)):
                        return False
                    if not kind.is_item(context, node.value):
                        return False
    return True


def holds_new_item(context, kind: ItemKind, value) -> bool:
    """Whether a container literal or comprehension holds a newly built item of ``kind``."""
    if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
        items = [e.value for e in value.elements if not isinstance(e, cst.StarredElement)]
    elif isinstance(value, cst.Dict):
        items = [e.value for e in value.elements if isinstance(e, cst.DictElement)]
    elif isinstance(value, (cst.ListComp, cst.GeneratorExp)):
        items = [value.elt]
    elif isinstance(value, cst.DictComp):
        items = [value.value]
    else:
        return False
    return any(kind.is_new(context, item) for item in items)


def _local_fills_only_items(context, kind: ItemKind, name) -> bool:
    """The local list ``name`` starts with and is given only items of ``kind`` in its function."""
    bindings = context.names.bindings_of(name)
    function = next(a for a in reversed(context.ancestors) if isinstance(a, cst.FunctionDef))
    created = [b.node.value for b in bindings
               if isinstance(b.node, cst.Assign) and isinstance(b.node.value, (cst.List, cst.ListComp))]

    def same(node):
        return isinstance(node, cst.Name) and node.value == name.value and context.names.bindings_of(node) is bindings

    return all(_only_items(context, kind, c) for c in created) and _fills_only_items(context, kind, function.body, same, "list")


def _built_container(context, value):
    """(container kind, its items) for a plain container built by an expression rather than a literal:
    ``list(<generator>)`` / ``tuple(...)`` of the builtins, ``dict(a=..., b=...)``, ``[item] * n``; else None."""
    if type(value) is cst.BinaryOperation:
        if type(value.operator) is cst.Multiply and type(value.left) is cst.List:
            return "list", [e.value for e in value.left.elements if not isinstance(e, cst.StarredElement)]
        return None
    func = value.func
    if type(func) is not cst.Name or func.value not in ("list", "tuple", "dict") or not value.args:
        return None
    if context.qualified_name(func) != f"builtins.{func.value}":
        return None
    if func.value == "dict":
        if any(a.keyword is None or a.star for a in value.args):
            return None
        return "dict", [a.value for a in value.args]
    arg = value.args[0]
    if len(value.args) != 1 or arg.keyword is not None or arg.star or type(arg.value) not in (cst.GeneratorExp, cst.ListComp):
        return None
    return func.value, [arg.value.elt]


def _plain_container_of_new_items(context, kind: ItemKind, value, filled_later) -> Optional[str]:
    """'list'/'tuple'/'dict' when ``value`` is a plain container that holds (or will hold) new items."""
    if type(value) in (cst.Call, cst.BinaryOperation):
        built = _built_container(context, value)
        if built is None or not any(kind.is_new(context, item) for item in built[1]):
            return None
        return built[0]
    container_kind = CONTAINER_KINDS.get(type(value))
    if container_kind is not None:
        holds = holds_new_item(context, kind, value)
        return container_kind if holds or (filled_later and isinstance(value, (cst.List, cst.Dict))) else None
    if isinstance(value, cst.Name) and _local_list_of_new_items(context, kind, value):
        return "list"
    return None


def _local_list_candidate(context, name):
    """(its bindings, the function, the binding that creates the list) when the name is bound in its
    function only by assignments, one of them ``name = [...]`` or a list comprehension; else None. Asks only
    the name analysis."""
    bindings = context.names.bindings_of(name)
    if not bindings:
        return None
    function = next((a for a in reversed(context.ancestors) if type(a) is cst.FunctionDef), None)
    created = [b for b in bindings if type(b.node) is cst.Assign and type(b.node.value) in (cst.List, cst.ListComp)]
    if len(created) != 1 or function is None:
        return None
    if any(type(b.node) is not cst.Assign and type(b.node) is not cst.AugAssign for b in bindings):
        return None
    return bindings, function, created


def _local_list_of_new_items(context, kind: ItemKind, name) -> bool:
    """``layers = []`` ... ``layers.append(nn.Linear(...))`` ... ``self.x = layers`` in one function, the
    list used for nothing else."""
    candidate = _local_list_candidate(context, name)
    if candidate is None:
        return False
    bindings, function, created = candidate
    adds_item = holds_new_item(context, kind, created[0].node.value)
    for node, parent in _with_parents(function.body, (cst.Name,)):
        if node.value != name.value:
            continue
        if context.names.bindings_of(node) is not bindings:
            continue
        if node is name or isinstance(parent, cst.AssignTarget) or (
                isinstance(parent, cst.Attribute) and parent.attr is node):
            continue
        if isinstance(parent, cst.AugAssign) and parent.target is node:
            adds_item = adds_item or holds_new_item(context, kind, parent.value)
            continue
        if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in _ADDING_METHODS:
            continue  # its calls are checked below
        if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is node:
            continue
        return False  # handed on: the items may be registered elsewhere
    for call, _ in _with_parents(function.body, (cst.Call,)):
        if (isinstance(call.func, cst.Attribute)
                and isinstance(call.func.value, cst.Name) and call.func.value.value == name.value
                and context.names.bindings_of(call.func.value) is bindings and _adds_item(context, kind, call)):
            adds_item = True
    return adds_item


_USES = "containers.class_use"  # key of this analysis in the file's LintContext.facts


def class_use(context: "LintContext", klass: cst.ClassDef, kind: ItemKind) -> ClassUse:
    """How the class's methods fill, hand on and register its attributes, for items of ``kind``
    (computed once per class and kind)."""
    uses: Dict[tuple, ClassUse] = context.facts.setdefault(_USES, {})
    key = (id(klass), kind.noun)
    found = uses.get(key)
    if found is not None:
        return found
    use = uses[key] = ClassUse()
    for method in klass.body.body if isinstance(klass.body, cst.IndentedBlock) else ():
        if isinstance(method, cst.FunctionDef):
            params = [*method.params.posonly_params, *method.params.params]
            if params:
                _scan_method(context, kind, method, params[0].name.value, use)
    return use


def _scan_method(context, kind: ItemKind, method, self_name, use: ClassUse) -> None:
    call_of_arg = {}
    for node, parent in _with_parents(method.body, _SCANNED):
        node_type = type(node)
        if node_type is cst.Call:
            call_of_arg.update((id(a), node) for a in node.args)
            func = node.func
            if type(func) is cst.Attribute and func.attr.value in kind.registering_methods:
                use.registers = True
            elif type(func) is cst.Name and func.value == "setattr":
                use.registers = True
            elif type(func) is cst.Attribute and _self_attr(func.value, self_name) and _adds_item(context, kind, node):
                use.filled.add(_self_attr(func.value, self_name))
            continue
        if node_type is cst.Assign:
            for target in node.targets:
                attr = _self_attr(target.target, self_name)
                if attr is not None and _is_one_item(context, kind, node.value):
                    use.valued.add(attr)
                if (type(target.target) is cst.Subscript and _self_attr(target.target.value, self_name)
                        and kind.is_new(context, node.value)):
                    use.filled.add(_self_attr(target.target.value, self_name))
            continue
        if node_type is cst.AugAssign:
            if _self_attr(node.target, self_name) and holds_new_item(context, kind, node.value):
                use.filled.add(_self_attr(node.target, self_name))
            continue
        attr = _self_attr(node, self_name)
        if attr is None:
            continue
        parent_type = type(parent)
        if parent_type is cst.Arg:
            call = call_of_arg.get(id(parent))
            if call is None or not _harmless_call(call):
                use.escaping.add(attr)
        elif parent_type in _ESCAPING_PARENTS:
            use.escaping.add(attr)
        elif parent_type is cst.Assign and parent.value is node:
            use.escaping.add(attr)  # an alias may be registered elsewhere


def _is_one_item(context, kind: ItemKind, value) -> bool:
    """An assignment that makes the attribute one item (a module, a Parameter), not a container of them."""
    if kind is MODULES:
        return module_instance(context, value) is not None
    return is_parameter_construction(context, value)
