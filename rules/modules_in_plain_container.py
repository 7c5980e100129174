from typing import Dict, Optional, Set

import libcst as cst

from autogradlint.analysis.modules import enclosing_method_class, is_module_class, is_module_construction, module_instance
from autogradlint.fixing import Replacement, reference_to
from autogradlint.records import Record
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import current_index, iter_with_parents, nodes_of

# plain containers, by node type
_CONTAINER_KINDS = {cst.List: "list", cst.ListComp: "list", cst.Tuple: "tuple", cst.Dict: "dict", cst.DictComp: "dict"}
# list methods that add items, and which positional argument is the added item (None: an iterable of items)
_ADDING_METHODS = {"append": 0, "insert": 1, "extend": None}
# calls that cannot register the modules of a list they are given
_HARMLESS_CALLS = frozenset(
    {"enumerate", "zip", "len", "reversed", "range", "iter", "next", "isinstance", "print", "min", "max", "sum",
     "any", "all", "sorted", "map", "filter", "str", "repr", "hasattr", "getattr"}
)
# calls that register modules held by the object they are given
_REGISTERING_METHODS = frozenset({"add_module", "register_module", "__setattr__"})
# list and dict methods that nn.ModuleList / nn.ModuleDict lack (the fix would break their calls)
_MISSING_METHODS = {"list": frozenset({"clear", "copy", "count", "index", "remove", "reverse", "sort"}),
                    "dict": frozenset({"copy", "fromkeys", "get", "popitem", "setdefault"})}
# attributes of nn.ModuleDict: add_module refuses a key that shadows one (KeyError "attribute already exists")
_MODULE_DICT_ATTRIBUTES = frozenset(
    """T_destination add_module apply bfloat16 buffers call_super_init children clear compile cpu cuda double
    dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu items
    keys load_state_dict modules mtia named_buffers named_children named_modules named_parameters parameters pop
    register_backward_hook register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook
    register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
    set_extra_state set_submodule share_memory state_dict to to_empty train training type update values xpu
    zero_grad""".split()
)


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


class _ClassUse(Record):
    """How a module class's methods use its ``self.X`` attributes. (A Record, not a dataclass: a pre-commit
    call imports every rule module.)"""

    __slots__ = ("filled", "escaping", "registers", "module_valued")

    def __init__(self, filled: Optional[Set[str]] = None, escaping: Optional[Set[str]] = None, registers: bool = False,
                 module_valued: Optional[Set[str]] = None) -> None:
        self.filled = set() if filled is None else filled  # attributes a new module is appended or stored into
        self.escaping = set() if escaping is None else escaping  # attributes handed on: they may be registered elsewhere
        self.registers = registers  # the class registers modules itself (add_module, setattr)
        self.module_valued = set() if module_valued is None else module_valued  # attributes some assignment sets to a module


def _adds_module(context, call):
    """``x.append(<new module>)`` / ``x.insert(i, <new module>)`` / ``x.extend([<new module>, ...])``."""
    index = _ADDING_METHODS.get(call.func.attr.value, -1) if isinstance(call.func, cst.Attribute) else -1
    args = [a for a in call.args if a.keyword is None and not a.star]
    if index is None:
        return bool(args) and _holds_new_module(context, args[0].value)
    return index >= 0 and len(args) > index and is_module_construction(context, args[index].value)


def _is_module(context, value):
    return is_module_construction(context, value) or module_instance(context, value) is not None


def _valid_key(key):
    """A key nn.ModuleDict accepts: a plain string with no dot that shadows none of its attributes."""
    if not isinstance(key, cst.SimpleString) or "b" in key.prefix.lower():
        return False
    text = key.evaluated_value
    return isinstance(text, str) and text != "" and "." not in text and not text.startswith("_") \
        and text not in _MODULE_DICT_ATTRIBUTES


def _only_modules(context, value):
    """Whether every item of a container literal or comprehension is a module (a dict's keys valid names)."""
    if isinstance(value, (cst.List, cst.Tuple)):
        return all(not isinstance(e, cst.StarredElement) and _is_module(context, e.value) for e in value.elements)
    if isinstance(value, cst.ListComp):
        return is_module_construction(context, value.elt)
    if isinstance(value, cst.Dict):
        return all(isinstance(e, cst.DictElement) and _valid_key(e.key) and _is_module(context, e.value)
                   for e in value.elements)
    return False


# the nodes through which code can put items into a container
_FILLING = (cst.Call, cst.AugAssign, cst.Assign)


def _fills_only_modules(context, root, is_container, kind):
    """Whether every use under ``root`` of the container (``is_container`` tells its expressions) adds only
    modules and calls no list/dict method that the torch container lacks."""
    for node in nodes_of(root, _FILLING):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and is_container(node.func.value):
            method = node.func.attr.value
            args = [a.value for a in node.args if a.keyword is None and not a.star]
            if method in _MISSING_METHODS[kind] or (method == "update" and not (args and _only_modules(context, args[0]))):
                return False
            if method in _ADDING_METHODS:
                index = _ADDING_METHODS[method]
                if index is None and not (args and _only_modules(context, args[0])):
                    return False
                if index is not None and not (len(args) > index and _is_module(context, args[index])):
                    return False
        elif isinstance(node, cst.AugAssign) and is_container(node.target) and not _only_modules(context, node.value):
            return False
        elif isinstance(node, cst.Assign):
            for target in node.targets:
                item = target.target
                if isinstance(item, cst.Subscript) and is_container(item.value):
                    key = item.slice[0].slice if len(item.slice) == 1 else None
                    if kind == "dict" and not (isinstance(key, cst.Index) and _valid_key(key.value)):
                        return False
                    if not _is_module(context, node.value):
                        return False
    return True


def _holds_new_module(context, value):
    """Whether a container literal or comprehension holds a newly built module."""
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
    return any(is_module_construction(context, item) for item in items)


class ModulesInPlainContainer(Rule):
    """
    ## What it does
    Flags, in a module class, submodules kept in a plain Python container: `self.layers = [nn.Linear(...), ...]`,
    a list comprehension of modules, a tuple or dict of modules, a `[]` that the class then `append`s new
    modules to, or a local list of new modules assigned to `self.X`.

    ## Why is this bad?
    `nn.Module` registers only modules assigned directly as attributes or held by `nn.ModuleList`/
    `nn.ModuleDict`/`nn.Sequential`. Modules in a plain list are invisible: their parameters are not in
    `model.parameters()` (the optimizer never trains them), not in `state_dict()` (never saved), and not
    moved by `model.to(device)`.

    Lists of tensors or other objects, lists of modules that are registered another way (also assigned
    as attributes, passed to `nn.Sequential(*layers)`, registered with `add_module`/`setattr`), and lists
    built outside a module class are not flagged.

    ## Example
    ```python
    class MLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])]
    ```

    ## Use instead
    ```python
    class MLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])
    ```

    ## Fix safety
    Safe: `nn.ModuleList`/`nn.ModuleDict` (named through the file's imports) keep the list/dict interface
    (indexing, iteration, `append`, `extend`, item assignment) and register the modules. Offered only when
    every item is a module, both in the container and in everything the class (or, for a local list, the
    function) adds to it later; for a dict, when every key is a plain string that nn.ModuleDict accepts (no
    dot, not one of its attribute names); and when the class calls no list/dict method the torch container
    lacks (`sort`, `index`, `copy`, `get` ...). A tuple becomes a `ModuleList` of a list.
    """

    code = "GL602"
    name = "modules-in-plain-container"
    severity = "error"
    message = ("modules in a plain {kind} are not registered: their parameters are never trained, saved or moved "
               "by .to(). Use '{container}(...)'")
    triggers = ("torch", "lightning", "transformers")
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])\n", "a ModuleList"),
        Valid("import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.heads = nn.ModuleDict({'a': nn.Linear(2, 2)})\n        self.body = nn.Sequential(*[nn.ReLU()])\n"),
        Valid("import torch\nimport torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.anchors = [torch.zeros(2), torch.ones(2)]\n        self.names = ['a', 'b']\n",
              "lists of tensors and strings"),
        Valid("import torch.nn as nn\nlayers = [nn.Linear(2, 2), nn.ReLU()]\nmodel = nn.Sequential(*layers)\n",
              "a list outside a module class"),
        Valid("import torch.nn as nn\nclass Trainer:\n    def __init__(self):\n        self.models = [nn.Linear(2, 2)]\n",
              "not a module class"),
        Valid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.conv1 = nn.Conv2d(3, 8, 3)\n        self.conv2 = nn.Conv2d(8, 8, 3)\n"
              "        self.convs = [self.conv1, self.conv2]\n", "references to registered submodules"),
        Valid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.blocks = [nn.Linear(2, 2) for _ in range(3)]\n        self.net = nn.Sequential(*self.blocks)\n",
              "registered through nn.Sequential"),
        Valid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.heads = [nn.Linear(2, 2) for _ in range(3)]\n        for i, head in enumerate(self.heads):\n"
              "            self.add_module(f'head{i}', head)\n", "registered with add_module"),
        Valid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.outputs = []\n        self.handles = []\n    def forward(self, x):\n        self.outputs.append(x)\n"
              "        return x\n", "a list of activations"),
    )
    invalid = (
        Invalid("import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]\n", 5, 23,
                fixed="import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])\n"),
        Invalid("from torch import nn\nclass Block(nn.Module):\n    pass\nclass Net(Block):\n    def __init__(self, n):\n"
                "        super().__init__()\n        self.blocks = [Block() for _ in range(n)]\n", 7, 23,
                fixed="from torch import nn\nclass Block(nn.Module):\n    pass\nclass Net(Block):\n    def __init__(self, n):\n"
                "        super().__init__()\n        self.blocks = nn.ModuleList([Block() for _ in range(n)])\n"),
        Invalid("import torch.nn as nn\nclass Heads(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.heads = {'cls': nn.Linear(8, 10), 'box': nn.Linear(8, 4)}\n", 5, 22,
                fixed="import torch.nn as nn\nclass Heads(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.heads = nn.ModuleDict({'cls': nn.Linear(8, 10), 'box': nn.Linear(8, 4)})\n"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, depth):\n        super().__init__()\n"
                "        self.layers = []\n        for _ in range(depth):\n            self.layers.append(nn.Linear(4, 4))\n"
                "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n        return x\n", 5, 23,
                fixed="import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, depth):\n        super().__init__()\n"
                "        self.layers = nn.ModuleList()\n        for _ in range(depth):\n            self.layers.append(nn.Linear(4, 4))\n"
                "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n        return x\n"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, sizes):\n        super().__init__()\n"
                "        layers = []\n        for a, b in zip(sizes, sizes[1:]):\n            layers.append(nn.Linear(a, b))\n"
                "            layers.append(nn.ReLU())\n        self.layers = layers\n", 9, 23,
                fixed="import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, sizes):\n        super().__init__()\n"
                "        layers = []\n        for a, b in zip(sizes, sizes[1:]):\n            layers.append(nn.Linear(a, b))\n"
                "            layers.append(nn.ReLU())\n        self.layers = nn.ModuleList(layers)\n"),
        Invalid("import pytorch_lightning as pl\nimport torch\nclass Model(pl.LightningModule):\n    def __init__(self):\n"
                "        super().__init__()\n        self.towers = (torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))\n", 6, 24,
                fixed="import pytorch_lightning as pl\nimport torch\nclass Model(pl.LightningModule):\n    def __init__(self):\n"
                "        super().__init__()\n        self.towers = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)])\n"),
    )
    evidence = Evidence(
        bad="import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]\nprint(len(list(MLP().parameters())))\n",
        bad_shows=Outcome(stdout="0"),
        good="import torch.nn as nn\nclass MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])\nprint(len(list(MLP().parameters())))\n",
        good_shows=Outcome(stdout="4"),
    )

    def __init__(self, context):
        super().__init__(context)
        self._class_uses: Dict[int, _ClassUse] = {}

    def visit_Assign(self, node):
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        if not (type(target) is cst.Attribute and type(target.value) is cst.Name):
            return
        value = node.value
        # first what the value's shape alone rules out (the checks below ask the module analysis)
        if type(value) is cst.Name:
            if self._local_list_candidate(value) is None:
                return
        elif type(value) not in _CONTAINER_KINDS:
            return
        klass = enclosing_method_class(self.context.ancestors)
        if klass is None or is_module_class(self.context, klass) is not True:
            return
        owner = module_instance(self.context, target.value)
        if owner is None or owner.local is not klass:
            return
        attr = target.attr.value
        use = self._class_use(klass)
        if use.registers or attr in use.escaping or attr in use.module_valued:
            return
        kind = self._plain_container_of_new_modules(value, attr in use.filled)
        if kind is None:
            return
        container = "nn.ModuleDict" if kind == "dict" else "nn.ModuleList"
        self.report(value, self.message.format(kind=kind, container=container), fix=self._fix(klass, attr, value))

    def _fix(self, klass, attr, value):
        """``nn.ModuleList([...])`` / ``nn.ModuleDict({...})`` around the container, when it holds and is
        given only modules and no list/dict method the torch container lacks is called on it."""
        kind = "dict" if isinstance(value, (cst.Dict, cst.DictComp)) else "list"
        if isinstance(value, cst.Name):
            holds_modules = self._local_fills_only_modules(value)
        else:  # a dict comprehension's keys may be anything
            holds_modules = not isinstance(value, cst.DictComp) and _only_modules(self.context, value)

        def attribute(node):  # any `<name>.<attr>` of the class: a method may name its self otherwise
            return isinstance(node, cst.Attribute) and node.attr.value == attr

        if not holds_modules or not _fills_only_modules(self.context, klass, attribute, kind):
            return None
        reference = reference_to(self.context, "torch.nn.ModuleDict" if kind == "dict" else "torch.nn.ModuleList")
        if reference is None:
            return None
        container, new_import = reference
        if isinstance(value, (cst.List, cst.Dict)) and not value.elements:
            args = []
        elif isinstance(value, cst.Tuple):
            args = [cst.Arg(value=cst.List(elements=value.elements))]
        else:
            args = [cst.Arg(value=value)]
        wrap = Replacement(value, cst.Call(func=container, args=args))
        return [wrap, new_import] if new_import is not None else wrap

    def _local_fills_only_modules(self, name):
        """The local list ``name`` starts with and is given only modules in its function."""
        bindings = self.context.names.bindings_of(name)
        function = next(a for a in reversed(self.context.ancestors) if isinstance(a, cst.FunctionDef))
        created = [b.node.value for b in bindings if isinstance(b.node, cst.Assign) and isinstance(b.node.value, cst.List)]

        def same(node):
            return isinstance(node, cst.Name) and node.value == name.value and self.context.names.bindings_of(node) is bindings

        return all(_only_modules(self.context, c) for c in created) and _fills_only_modules(self.context, function.body, same, "list")

    def _plain_container_of_new_modules(self, value, filled_later):
        """'list'/'tuple'/'dict' when ``value`` is a plain container that holds (or will hold) new modules."""
        kind = _CONTAINER_KINDS.get(type(value))
        if kind is not None:
            holds = _holds_new_module(self.context, value)
            return kind if holds or (filled_later and isinstance(value, (cst.List, cst.Dict))) else None
        if isinstance(value, cst.Name) and self._local_list_of_new_modules(value):
            return "list"
        return None

    def _local_list_candidate(self, name):
        """(its bindings, the function, the binding that creates the list) when the name is bound in its
        function only by assignments, one of them ``name = [...]``; else None. Asks only the name analysis."""
        bindings = self.context.names.bindings_of(name)
        if not bindings:
            return None
        function = next((a for a in reversed(self.context.ancestors) if type(a) is cst.FunctionDef), None)
        created = [b for b in bindings if type(b.node) is cst.Assign and type(b.node.value) is cst.List]
        if len(created) != 1 or function is None:
            return None
        if any(type(b.node) is not cst.Assign and type(b.node) is not cst.AugAssign for b in bindings):
            return None
        return bindings, function, created

    def _local_list_of_new_modules(self, name):
        """``layers = []`` ... ``layers.append(nn.Linear(...))`` ... ``self.x = layers`` in one function, the
        list used for nothing else."""
        candidate = self._local_list_candidate(name)
        if candidate is None:
            return False
        bindings, function, created = candidate
        adds_module = _holds_new_module(self.context, created[0].node.value)
        for node, parent in _with_parents(function.body, (cst.Name,)):
            if node.value != name.value:
                continue
            if self.context.names.bindings_of(node) is not bindings:
                continue
            if node is name or isinstance(parent, cst.AssignTarget) or (
                    isinstance(parent, cst.Attribute) and parent.attr is node):
                continue
            if isinstance(parent, cst.AugAssign) and parent.target is node:
                adds_module = adds_module or _holds_new_module(self.context, parent.value)
                continue
            if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in _ADDING_METHODS:
                continue  # its calls are checked below
            if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is node:
                continue
            return False  # handed on: the modules may be registered elsewhere
        for call, _ in _with_parents(function.body, (cst.Call,)):
            if (isinstance(call.func, cst.Attribute)
                    and isinstance(call.func.value, cst.Name) and call.func.value.value == name.value
                    and self.context.names.bindings_of(call.func.value) is bindings and _adds_module(self.context, call)):
                adds_module = True
        return adds_module

    def _class_use(self, klass) -> _ClassUse:
        found = self._class_uses.get(id(klass))
        if found is not None:
            return found
        use = _ClassUse()
        self._class_uses[id(klass)] = use
        for method in klass.body.body if isinstance(klass.body, cst.IndentedBlock) else ():
            if isinstance(method, cst.FunctionDef):
                params = [*method.params.posonly_params, *method.params.params]
                if params:
                    self._scan_method(method, params[0].name.value, use)
        return use

    def _scan_method(self, method, self_name, use):
        call_of_arg = {}
        for node, parent in _with_parents(method.body, _SCANNED):
            node_type = type(node)
            if node_type is cst.Call:
                call_of_arg.update((id(a), node) for a in node.args)
                func = node.func
                if type(func) is cst.Attribute and func.attr.value in _REGISTERING_METHODS:
                    use.registers = True
                elif type(func) is cst.Name and func.value == "setattr":
                    use.registers = True
                elif type(func) is cst.Attribute and _self_attr(func.value, self_name) and _adds_module(self.context, node):
                    use.filled.add(_self_attr(func.value, self_name))
                continue
            if node_type is cst.Assign:
                for target in node.targets:
                    attr = _self_attr(target.target, self_name)
                    if attr is not None and module_instance(self.context, node.value) is not None:
                        use.module_valued.add(attr)
                    if (type(target.target) is cst.Subscript and _self_attr(target.target.value, self_name)
                            and is_module_construction(self.context, node.value)):
                        use.filled.add(_self_attr(target.target.value, self_name))
                continue
            if node_type is cst.AugAssign:
                if _self_attr(node.target, self_name) and _holds_new_module(self.context, node.value):
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
