"""Which classes and values are nn.Modules, what a module class holds, and which class a statement sits in."""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple

import libcst as cst

from autogradlint.analysis.call_sites import (all_parameter_arguments, bool_literal, keyword, parameter_arguments,
                                             positional)
from autogradlint.analysis.memo import Memo
from autogradlint.analysis.torch_api import SELF_RETURNING_METHODS, SUBMODULE_ITERATORS
from autogradlint.analysis.torch_semantics import layer_parameter_switch, layer_parameters
from autogradlint.records import FrozenRecord, Record
from autogradlint.walk import NESTED_SCOPES, children, current_index, iter_tree, nodes_of

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

# torch.nn names that are not modules
_NN_NON_MODULES = frozenset({"Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer"})

# well-known module base classes outside torch.nn
KNOWN_MODULE_BASES = frozenset(
    {
        "torch.nn.Module",
        "torch.jit.ScriptModule",
        "pytorch_lightning.LightningModule",
        "pytorch_lightning.core.LightningModule",
        "pytorch_lightning.core.module.LightningModule",
        "lightning.LightningModule",
        "lightning.pytorch.LightningModule",
        "lightning.pytorch.core.LightningModule",
        "lightning.pytorch.core.module.LightningModule",
        "transformers.PreTrainedModel",
        "transformers.modeling_utils.PreTrainedModel",
    }
)


def is_module_base_name(qualified_name: Optional[str]) -> bool:
    """Whether an imported class name is certainly an nn.Module class."""
    if qualified_name is None:
        return False
    if qualified_name in KNOWN_MODULE_BASES:
        return True
    parts = qualified_name.split(".")
    if len(parts) == 3 and parts[0] == "torch" and parts[1] == "nn":
        last = parts[2]
        return last[:1].isupper() and last not in _NN_NON_MODULES
    if qualified_name.startswith(("torch.nn.modules.", "torch.nn.parallel.")) and parts[-1][:1].isupper():
        return parts[-1] not in _NN_NON_MODULES
    if parts[0] == "transformers" and parts[-1].endswith("PreTrainedModel"):
        return not parts[-1].startswith(("TF", "Flax"))
    return False


def is_module_class(context: "LintContext", classdef: cst.ClassDef, _seen: Optional[set] = None) -> Optional[bool]:
    """True when ``classdef`` certainly subclasses nn.Module (directly, through a known module base,
    or through classes of the same file); False when it certainly does not; None when unknown."""
    seen = _seen if _seen is not None else set()
    if id(classdef) in seen:
        return False
    seen.add(id(classdef))
    if not classdef.bases:
        return False
    answer: Optional[bool] = False
    for arg in classdef.bases:
        if arg.keyword is not None or arg.star:
            answer = None
            continue
        base = arg.value
        name = context.qualified_name(base)
        if is_module_base_name(name):
            return True
        local = local_class(context, base)
        if local is not None:
            verdict = is_module_class(context, local, seen)
            if verdict:
                return True
            if verdict is None:
                answer = None
            continue
        if name in ("builtins.object", "builtins.Exception", "builtins.dict"):
            continue
        verdict = project_class_is_module(context, name)
        if verdict:
            return True
        if verdict is None:
            answer = None
    return answer


def local_class(context: "LintContext", expression: cst.BaseExpression) -> Optional[cst.ClassDef]:
    """The class of this file that a name certainly refers to, if any."""
    if not isinstance(expression, cst.Name):
        return None
    binding = context.names.binding_of(expression)
    if binding is not None and binding.kind == "class" and isinstance(binding.node, cst.ClassDef):
        return binding.node
    return None


def enclosing_method_class(ancestors: Sequence[cst.CSTNode]) -> Optional[cst.ClassDef]:
    """The class whose method body the walk is in (the nearest function must sit directly in a class)."""
    for index in range(len(ancestors) - 1, -1, -1):
        node_type = type(ancestors[index])
        if node_type is cst.FunctionDef:
            # FunctionDef -> IndentedBlock -> ClassDef when it is a method
            if index >= 2 and type(ancestors[index - 2]) is cst.ClassDef:
                return ancestors[index - 2]  # type: ignore[return-value]
            return None
        if node_type is cst.ClassDef:
            return None
    return None


def is_self_of_non_module(context: "LintContext", receiver: cst.BaseExpression) -> bool:
    """``self``/``cls`` inside a method of a class that is not certainly an nn.Module."""
    if not (isinstance(receiver, cst.Name) and receiver.value in ("self", "cls")):
        return False
    klass = enclosing_method_class(context.ancestors)
    if klass is None:
        return True
    return is_module_class(context, klass) is not True


def single_self_value(context: "LintContext", klass: cst.ClassDef, attr: str) -> Optional[cst.BaseExpression]:
    """The one value the methods of ``klass`` assign to ``self.<attr>``, when that is the only assignment of an
    attribute of that name in the file and the class registers nothing under computed names; else None."""
    knowledge = _knowledge(context)
    assignments = _class_assignments(knowledge, klass)
    values = assignments.values.get(attr)
    if assignments.dynamic or not values or len(values) != 1 or values[0] is None:
        return None
    if _attribute_assignment_counts(knowledge).get(attr, 0) != 1:
        return None
    return values[0]


def is_certainly_not_module(context: "LintContext", receiver: cst.BaseExpression) -> bool:
    """``receiver`` certainly holds no nn.Module: an instance of a plain class of this file (``reg = Registry()``,
    ``self.store`` of a Trainer), or ``self`` in a method of a class that certainly subclasses no module. Its
    module-looking methods (``register_buffer``, ``eval``) are its own."""
    if isinstance(receiver, cst.Name) and receiver.value == "self":
        klass = enclosing_method_class(context.ancestors)
        return klass is not None and is_module_class(context, klass) is False
    return plain_instance_class(context, receiver) is not None


# --------------------------------------------------------------------------------------------
# module instances: which expressions certainly hold an nn.Module


class ModuleInstance(FrozenRecord):
    """What is known of a value that holds an nn.Module.

    ``class_name``: the canonical qualified name (``torch.nn.Linear``), the local class name, the factory's
    qualified name (``timm.create_model``), or None; ``local``: the class of this file it instantiates;
    ``remote``: the summary of the project class (in another file) it instantiates;
    ``scripted``: a TorchScript module; ``may_be_function``: ``torch.jit.script`` of an argument that may
    be a function (then only ``scripted`` is meaningful).

    (A FrozenRecord, not a dataclass: a pre-commit call imports this module.) ``local`` takes no part in
    equality, hashing or the repr, as the dataclass's ``field(compare=False, repr=False)`` had it.
    """

    __slots__ = ("class_name", "has_parameters", "local", "scripted", "may_be_function", "remote")

    def __init__(self, class_name: Optional[str] = None, has_parameters: Optional[bool] = None,
                 local: Optional[cst.ClassDef] = None, scripted: bool = False, may_be_function: bool = False,
                 remote: Optional[dict] = None) -> None:
        # remote: the summary of a class of another file of the project (see analysis.project)
        self._assign(class_name, has_parameters, local, scripted, may_be_function, remote)

    def _compared(self) -> tuple:
        return (self.class_name, self.has_parameters, self.scripted, self.may_be_function)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._compared() == other._compared()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(class_name={self.class_name!r}, has_parameters={self.has_parameters!r}, "
                f"scripted={self.scripted!r}, may_be_function={self.may_be_function!r})")


class ModuleAttribute(FrozenRecord):
    """A ``self.X`` attribute that a module class sets in ``__init__``.

    ``kind``: "module", "parameter" or "other" (anything not certainly one of the two);
    ``has_parameters``: whether the module holds parameters (None when unknown or not a module);
    ``frozen``: the class's own ``__init__`` puts it in eval mode or switches its gradients off
    (``self.X.eval()``, ``self.X.requires_grad_(False)``, ``for p in self.X.parameters(): p.requires_grad = False``):
    a deliberately frozen component (a pretrained feature extractor of a metric), not trainable state.
    """

    __slots__ = ("name", "kind", "class_name", "has_parameters", "frozen")

    def __init__(self, name: str, kind: str, class_name: Optional[str], has_parameters: Optional[bool],
                 frozen: bool = False) -> None:
        self._assign(name, kind, class_name, has_parameters, frozen)

    @property
    def trainable(self) -> bool:
        """A submodule that holds parameters the class does not freeze itself."""
        return self.kind == "module" and bool(self.has_parameters) and not self.frozen


# containers whose items are modules
MODULE_CONTAINERS = frozenset({"torch.nn.ModuleList", "torch.nn.ModuleDict", "torch.nn.Sequential"})
# wrappers whose ``.module`` is the wrapped module
MODULE_WRAPPERS = frozenset(
    {"torch.nn.DataParallel", "torch.nn.parallel.DataParallel", "torch.nn.parallel.DistributedDataParallel",
     "torch.nn.parallel.data_parallel.DataParallel", "torch.nn.parallel.distributed.DistributedDataParallel"}
)
_PARAMETER = "torch.nn.Parameter"

_TORCHVISION_NOT_MODELS = frozenset(
    {"list_models", "get_model_builder", "get_model_weights", "get_weight", "get_graph_node_names",
     "load_state_dict_from_url", "register_model"}
)
_TIMM_FACTORIES = frozenset({"timm.create_model", "timm.models.create_model", "timm.models.factory.create_model",
                             "timm.models._factory.create_model"})
_PRETRAINED_CONSTRUCTORS = frozenset({"from_pretrained", "from_config"})


def _unwrap_name(node):
    return node.value if isinstance(node, cst.Name) else None


def _all_of(values: Iterable[Optional[bool]]) -> Optional[bool]:
    """True if any is True; False if all are False (and there is at least one); else None."""
    seen = False
    unknown = False
    for value in values:
        if value is True:
            return True
        if value is None:
            unknown = True
        seen = True
    if unknown or not seen:
        return None
    return False


def _torch_nn_class(qualified_name: str) -> str:
    """``torch.nn.modules.linear.Linear`` -> ``torch.nn.Linear``."""
    if qualified_name.startswith("torch.nn.modules."):
        return "torch.nn." + qualified_name.rsplit(".", 1)[-1]
    return qualified_name


def _is_torchvision_model(qualified_name: str) -> bool:
    if not qualified_name.startswith("torchvision.models."):
        return False
    last = qualified_name.rsplit(".", 1)[-1]
    if last.startswith("_") or "weight" in last.lower() or last in _TORCHVISION_NOT_MODELS:
        return False
    if last[:1].isupper():
        return not last.endswith("Weights") and not last.endswith("Enum")
    return not last.startswith(("get_", "list_", "load_", "register_", "handle_")) or last == "get_model"


def _is_transformers_model_class(name: str) -> bool:
    """``AutoModelForCausalLM``, ``BertModel``, ``BertForMaskedLM`` ... (not TF/Flax ones, tokenizers, configs)."""
    if name.startswith(("TF", "Flax")):
        return False
    if any(word in name for word in ("Tokenizer", "Config", "Processor", "Extractor", "Pipeline")):
        return False
    return name.startswith("AutoModel") or name.endswith("Model") or "For" in name


def _is_transformers_base(qualified_name: Optional[str]) -> bool:
    return bool(qualified_name) and qualified_name.startswith("transformers.") and is_module_base_name(qualified_name)


class _FileKnowledge:
    """Per-file caches of the module analysis."""

    def __init__(self, context: "LintContext") -> None:
        self.context = context
        self.instances: Dict[int, Optional[ModuleInstance]] = {}
        self.assumed: set = set()
        self.method_class: Dict[int, cst.ClassDef] = {}  # id(first Param of a method) -> its class
        self.class_assignments: Dict[int, "_ClassAssignments"] = {}
        self.class_parameters: Dict[int, Optional[bool]] = {}
        self.attributes: Dict[int, Dict[str, ModuleAttribute]] = {}
        self.factories: Dict[int, Optional[ModuleInstance]] = {}
        self.object_classes: Dict[int, Optional[cst.ClassDef]] = {}
        # id(expression) -> (summary of a plain class of another project file, the constructor call) or None
        self.remote_objects: Dict[int, Optional[Tuple[dict, Optional[cst.Call]]]] = {}
        self.memo = Memo()  # object_classes and remote_objects being computed (see ``memo``)
        self.subclassed: Optional[set] = None
        self.attribute_assignments: Optional[Dict[str, int]] = None  # attr -> how often the file assigns X.attr
        for node in nodes_of(context.module, (cst.ClassDef,)):
            if type(node.body) is cst.IndentedBlock:
                for statement in node.body.body:
                    if type(statement) is cst.FunctionDef and not is_static_or_classmethod(statement):
                        params = [*statement.params.posonly_params, *statement.params.params]
                        if params:
                            self.method_class[id(params[0])] = node


_KNOWLEDGE = "modules.knowledge"  # key of this analysis in the file's LintContext.facts


def _knowledge(context: "LintContext") -> _FileKnowledge:
    found = context.facts.get(_KNOWLEDGE)
    if found is None:
        found = context.facts[_KNOWLEDGE] = _FileKnowledge(context)
    return found


def is_static_or_classmethod(function: cst.FunctionDef) -> bool:
    """Whether a method is decorated ``@staticmethod`` or ``@classmethod`` (its first parameter is no instance)."""
    for decorator in function.decorators:
        if _unwrap_name(decorator.decorator) in ("staticmethod", "classmethod"):
            return True
    return False


def module_instance(context: "LintContext", expression: cst.BaseExpression) -> Optional[ModuleInstance]:
    """What is known of the nn.Module ``expression`` certainly holds; None when it is not certainly one."""
    found = _instance(_knowledge(context), expression)
    if found is None or found.may_be_function:
        return None
    return found


def is_module_instance(context: "LintContext", expression: cst.BaseExpression) -> bool:
    """``expression`` certainly holds an nn.Module instance: ``self`` of a module class, a ``self.X``
    attribute the class sets to a module, a name bound only to modules (``nn.Linear(...)``, ``MyNet()``,
    a factory of this file, torchvision/timm/transformers models, ``.to()``/``.eval()``... of a module),
    a loop variable over ``.modules()``/``.children()`` or a ``ModuleList``, an item of a module container."""
    return module_instance(context, expression) is not None


def is_script_module(context: "LintContext", expression: cst.BaseExpression) -> bool:
    """``expression`` certainly holds a TorchScript module: the result of ``torch.jit.script(...)`` (of
    anything but a function or class) or ``torch.jit.load(...)``, directly or through names and attributes
    bound only to such results. Not ``torch.jit.trace``: a traced module behaves like an eager one here."""
    found = _instance(_knowledge(context), expression)
    return found is not None and found.scripted


def is_module_construction(context: "LintContext", expression: cst.BaseExpression) -> bool:
    """``expression`` creates a new nn.Module (a constructor or factory call, ``copy.deepcopy`` of a module),
    as opposed to returning an existing one (``self.conv``, ``model.to(device)``)."""
    if not isinstance(expression, cst.Call):
        return False
    func = expression.func
    if isinstance(func, cst.Attribute) and func.attr.value in SELF_RETURNING_METHODS:
        return False
    return is_module_instance(context, expression)


def _combine(found: List[ModuleInstance]) -> ModuleInstance:
    """What several possible values have in common."""
    first = found[0]
    same_class = all(f.class_name == first.class_name for f in found)
    same_local = all(f.local is first.local for f in found)
    return ModuleInstance(
        class_name=first.class_name if same_class else None,
        has_parameters=first.has_parameters if all(f.has_parameters == first.has_parameters for f in found) else None,
        local=first.local if same_local else None,
        scripted=all(f.scripted for f in found),
        may_be_function=any(f.may_be_function for f in found),
        remote=first.remote if all(f.remote is first.remote for f in found) else None,
    )


# a value assumed to be a module while the bindings that define it are checked (co-induction)
_ASSUMED = ModuleInstance()


def _instance(knowledge: _FileKnowledge, expression: cst.BaseExpression) -> Optional[ModuleInstance]:
    key = id(expression)
    if key in knowledge.instances:
        return knowledge.instances[key]
    found = _compute_instance(knowledge, expression)
    if not knowledge.assumed:  # results that lean on an assumption are not final
        knowledge.instances[key] = found
    return found


def _combine_all(results: Iterable[Optional[ModuleInstance]]) -> Optional[ModuleInstance]:
    """What every one of ``results`` has in common; None as soon as one is unknown (the rest are not
    computed). Results assumed by a cycle (``_ASSUMED``) add nothing."""
    found = []
    for result in results:
        if result is None:
            return None
        if result is not _ASSUMED:
            found.append(result)
    return _combine(found) if found else None


def _assuming(knowledge: _FileKnowledge, key, compute) -> Optional[ModuleInstance]:
    """Evaluate ``compute()`` assuming ``key`` holds a module; a cycle back to ``key`` sees the assumption."""
    if key in knowledge.assumed:
        return _ASSUMED
    knowledge.assumed.add(key)
    try:
        return compute()
    finally:
        knowledge.assumed.discard(key)


# containers whose slice is a container of the same kind
_SLICEABLE_CONTAINERS = frozenset({"torch.nn.ModuleList", "torch.nn.Sequential"})


def _compute_instance(knowledge: _FileKnowledge, expression: cst.BaseExpression) -> Optional[ModuleInstance]:
    if isinstance(expression, cst.Name):
        return _name_instance(knowledge, expression)
    if isinstance(expression, cst.Call):
        return _call_instance(knowledge, expression)
    if isinstance(expression, cst.Attribute):
        return _attribute_instance(knowledge, expression)
    if isinstance(expression, cst.Subscript):
        container = _instance(knowledge, expression.value)
        if container is not None and not container.may_be_function and container.class_name in MODULE_CONTAINERS:
            if container.class_name in _SLICEABLE_CONTAINERS and len(expression.slice) == 1 \
                    and isinstance(expression.slice[0].slice, cst.Slice):
                # `layers[:n]`: a ModuleList (Sequential) of the same kind, which a loop can walk
                return ModuleInstance(class_name=container.class_name, has_parameters=container.has_parameters)
            return ModuleInstance()
        return None
    if isinstance(expression, cst.NamedExpr):
        return _instance(knowledge, expression.value)
    if isinstance(expression, cst.IfExp):
        branches = [_instance(knowledge, expression.body), _instance(knowledge, expression.orelse)]
        if any(b is None for b in branches):
            return None
        known = [b for b in branches if b is not _ASSUMED]
        return _combine(known) if known else _ASSUMED
    return None


def _name_instance(knowledge: _FileKnowledge, name: cst.Name) -> Optional[ModuleInstance]:
    bindings = knowledge.context.names.bindings_of(name)
    if not bindings:
        return None
    key = ("name", id(bindings[0].node), name.value)
    return _assuming(knowledge, key, lambda: _combine_all(
        _binding_instance(knowledge, binding, name.value) for binding in bindings))


def _binding_instance(knowledge: _FileKnowledge, binding, name: str) -> Optional[ModuleInstance]:
    node = binding.node
    if binding.kind == "param":
        return _param_instance(knowledge, node)
    if binding.kind != "assign":
        return None
    if isinstance(node, cst.Assign):
        if any(isinstance(t.target, cst.Name) and t.target.value == name for t in node.targets):
            return _instance(knowledge, node.value)
        if len(node.targets) == 1:
            # ``G, D = Generator(), Discriminator()``: the element that lands on the name
            value = _unpacked_value(node.targets[0].target, node.value, name)
            if value is not None:
                return _instance(knowledge, value)
        return None
    if isinstance(node, (cst.AnnAssign, cst.NamedExpr)):
        if isinstance(node.target, cst.Name) and node.value is not None:
            return _instance(knowledge, node.value)
        return None
    if isinstance(node, (cst.For, cst.CompFor)):
        return _loop_item_instance(knowledge, node.target, node.iter, name)
    return None


def _unpacked_value(target: cst.BaseExpression, value: cst.BaseExpression, name: str) -> Optional[cst.BaseExpression]:
    """The element of a tuple or list literal ``value`` that unpacking into ``target`` binds to ``name``."""
    sequences = (cst.Tuple, cst.List)
    if not (isinstance(target, sequences) and isinstance(value, sequences)) or \
            len(target.elements) != len(value.elements) or \
            any(isinstance(e, cst.StarredElement) for e in [*target.elements, *value.elements]):
        return None
    for element, item in zip(target.elements, value.elements):
        if isinstance(element.value, cst.Name) and element.value.value == name:
            return item.value
        inner = _unpacked_value(element.value, item.value, name)
        if inner is not None:
            return inner
    return None


def _param_instance(knowledge: _FileKnowledge, param: cst.Param) -> Optional[ModuleInstance]:
    context = knowledge.context
    klass = knowledge.method_class.get(id(param))
    if klass is not None:
        if is_module_class(context, klass) is True:
            return ModuleInstance(class_name=klass.name.value, local=klass)
        return None
    annotation = param.annotation.annotation if param.annotation is not None else None
    if annotation is not None and _unwrap_name(param.default) != "None" and isinstance(annotation, (cst.Name, cst.Attribute)):
        qualified = context.qualified_name(annotation)
        if is_module_base_name(qualified):
            return ModuleInstance(class_name=_torch_nn_class(qualified))
        local = local_class(context, annotation)
        if local is not None and is_module_class(context, local) is True:
            return ModuleInstance(class_name=local.name.value, local=local)
        if qualified is not None and local is None:
            found = _project_instance(context, qualified, classes_only=True)
            if found is not None:
                return found
    return _call_site_instance(knowledge, param)


def _call_site_instance(knowledge: _FileKnowledge, param: cst.Param) -> Optional[ModuleInstance]:
    """The module every call site passes to ``param``, in this file or another of the project (see
    ``call_sites``)."""
    both = all_parameter_arguments(knowledge.context, param)
    if both is None:
        return None

    def compute() -> Optional[ModuleInstance]:
        found = []
        for argument in both.local:
            result = _instance(knowledge, argument)
            if result is None:
                return None
            if result is not _ASSUMED:
                found.append(result)
        described = both.remote()  # read only when this file's calls agree
        if described is None:
            return None
        for description in described:
            result = _described_instance(knowledge.context, description, 1)
            if result is None:
                return None
            found.append(result)
        return _combine(found) if found else None

    return _assuming(knowledge, ("param", id(param)), compute)


def _loop_item_instance(knowledge: _FileKnowledge, target, iterable, name: str) -> Optional[ModuleInstance]:
    """The loop variable ``name`` of ``for target in iterable``, when every item is a module."""
    pair_item = None
    if isinstance(target, cst.Tuple) and len(target.elements) == 2:
        pair_item = target.elements[1].value
        if not (isinstance(pair_item, cst.Name) and pair_item.value == name):
            return None
    elif not (isinstance(target, cst.Name) and target.value == name):
        return None
    if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute):
        method = iterable.func.attr.value
        receiver = _instance(knowledge, iterable.func.value)
        if receiver is None or receiver.may_be_function:
            return None
        if method in SUBMODULE_ITERATORS and SUBMODULE_ITERATORS[method] == (pair_item is not None):
            return ModuleInstance()
        if receiver.class_name == "torch.nn.ModuleDict" and (method == "values" and pair_item is None
                                                              or method == "items" and pair_item is not None):
            return ModuleInstance()
        return None
    if pair_item is None:
        container = _instance(knowledge, iterable)
        if container is not None and container.class_name in ("torch.nn.ModuleList", "torch.nn.Sequential"):
            return ModuleInstance()
    return None


def _attribute_instance(knowledge: _FileKnowledge, attribute: cst.Attribute) -> Optional[ModuleInstance]:
    owner = _instance(knowledge, attribute.value)
    attr = attribute.attr.value
    if owner is None:
        # an instance of a plain class of this file (a Trainer holding ``self.model``)
        klass = _object_class(knowledge, attribute.value)
        if klass is None:
            # or of a plain class of another file of the project
            remote = _remote_object(knowledge, attribute.value)
            if remote is None or _attribute_assignment_counts(knowledge).get(attr):
                return None  # also set in this file (``t.model = other``): unknown
            return _remote_object_attribute(knowledge, remote[0], remote[1], attr)
    else:
        if owner.may_be_function:
            return None
        if attr == "module" and owner.class_name in MODULE_WRAPPERS:
            return ModuleInstance()
        if owner.local is None:
            return _project_attribute(context_of(knowledge), owner.remote, attr) if owner.remote is not None else None
        klass = owner.local
    values = _assigned_values(knowledge, klass, attr)
    if not values:
        if owner is None and is_module_class(context_of(knowledge), klass) is False:
            # a plain class of this file that subclasses a plain class of another file
            return _inherited_remote_attribute(knowledge, klass, attr)
        return None
    key = ("attr", id(klass), attr)
    return _assuming(knowledge, key, lambda: _combine_all(
        None if value is None else _instance(knowledge, value) for value in values))


def instance_class(context: "LintContext", expression: cst.BaseExpression) -> Optional[cst.ClassDef]:
    """The class of this file (module or not) that ``expression`` certainly holds an instance of:
    ``self`` in its methods, ``Trainer(...)``, a name bound only to such values, a parameter every call
    site passes one to. None when unknown, or when a class of this file subclasses it (``self`` may then
    be an instance of the subclass, whose methods and attributes differ)."""
    knowledge = _knowledge(context)
    found = _instance(knowledge, expression)
    if found is not None:
        return None if found.may_be_function else found.local
    return _object_class(knowledge, expression)


def attribute_value(context: "LintContext", attribute: cst.Attribute,
                    augmented_ok: bool = False) -> Optional[cst.BaseExpression]:
    """The one value ``<obj>.<attr>`` is ever assigned by the methods of its class when ``<obj>`` is
    certainly an instance of a class of this file (``self.head`` after ``self.head = nn.Linear(3, 4)``);
    None when the class assigns it more than once, or what ``<obj>`` is is unknown. ``augmented_ok``: an
    augmented assignment (``self.W -= lr * self.W.grad``, in place for a tensor) does not count."""
    klass = instance_class(context, attribute.value)
    if klass is None:
        return None
    attr = attribute.attr.value
    values = _assigned_values(_knowledge(context), klass, attr)
    if len(values) == 1:
        return values[0]
    if not augmented_ok:
        return None
    given = [v for v in values if v is not None]
    augmented = sum(1 for node in nodes_of(klass, (cst.AugAssign,)) if type(node.target) is cst.Attribute
                    and type(node.target.value) is cst.Name and node.target.value.value == "self"
                    and node.target.attr.value == attr)
    return given[0] if len(given) == 1 and len(values) == 1 + augmented else None


def bound_method(context: "LintContext", attribute: cst.Attribute) -> Optional[cst.FunctionDef]:
    """The method ``<obj>.<name>`` calls when ``<obj>`` is certainly an instance of a class of this file
    (``self.compute_loss``, ``trainer.predict``): defined once in the class (or a local base), a plain
    method (not static or class), and never replaced through ``self.<name> = ...``."""
    klass = instance_class(context, attribute.value)
    if klass is None:
        return None
    name = attribute.attr.value
    method = _find_method(context, klass, name)
    if method is None or is_static_or_classmethod(method):
        return None
    owner = next((k for k in _class_and_local_bases(context, klass) if isinstance(k.body, cst.IndentedBlock)
                  and any(s is method for s in k.body.body)), None)
    if owner is None or _class_binds(owner, name) != 1 or _assigned_values(_knowledge(context), klass, name):
        return None
    return method


def _class_binds(klass: cst.ClassDef, name: str) -> int:
    """How many statements of a class body bind ``name`` (defs, assignments)."""
    count = 0
    for statement in klass.body.body:  # type: ignore[union-attr]
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            count += statement.name.value == name
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else \
                    [small.target] if isinstance(small, (cst.AnnAssign, cst.AugAssign)) else []
                count += any(isinstance(t, cst.Name) and t.value == name for t in targets)
        else:
            count += 1 if any(isinstance(n, cst.Name) and n.value == name for n in iter_tree(statement)) else 0
    return count


def plain_instance_class(context: "LintContext", expression: cst.BaseExpression) -> Optional[cst.ClassDef]:
    """``instance_class`` when the class is certainly not an nn.Module (a Trainer, a runner)."""
    knowledge = _knowledge(context)
    if _instance(knowledge, expression) is not None:
        return None
    klass = _object_class(knowledge, expression)
    return klass if klass is not None and is_module_class(context, klass) is False else None


def _object_class(knowledge: _FileKnowledge, expression: cst.BaseExpression) -> Optional[cst.ClassDef]:
    """``instance_class`` for instances of plain (not nn.Module) classes of this file."""
    # a cycle back here: unknown
    return knowledge.memo.computed("object class", id(expression), knowledge.object_classes,
                                   lambda: _object_class_of(knowledge, expression), None)


def _object_class_of(knowledge: _FileKnowledge, expression: cst.BaseExpression) -> Optional[cst.ClassDef]:
    found = _compute_object_class(knowledge, expression)
    if found is not None and (found.decorators or id(found) in _subclassed(knowledge)):
        found = None
    return found


def _subclassed(knowledge: _FileKnowledge) -> set:
    """ids of the classes of this file that another class of the file names as a base."""
    if knowledge.subclassed is None:
        knowledge.subclassed = set()
        for node in nodes_of(knowledge.context.module, (cst.ClassDef,)):
            for arg in node.bases:
                local = local_class(knowledge.context, arg.value)
                if local is not None:
                    knowledge.subclassed.add(id(local))
    return knowledge.subclassed


def _compute_object_class(knowledge: _FileKnowledge, expression: cst.BaseExpression) -> Optional[cst.ClassDef]:
    context = knowledge.context
    expression_type = type(expression)
    if expression_type is cst.Call:
        func = expression.func
        local = local_class(context, func) if type(func) is cst.Name else None
        return local
    if expression_type is cst.Attribute:
        return _attribute_object_class(knowledge, expression)
    if expression_type is not cst.Name:
        return None
    bindings = context.names.bindings_of(expression)
    if not bindings:
        return None
    found: Optional[cst.ClassDef] = None
    for binding in bindings:
        klass = None
        node = binding.node
        if binding.kind == "param":
            klass = knowledge.method_class.get(id(node))
            if klass is None:
                annotation = node.annotation.annotation if node.annotation is not None else None
                if annotation is not None and type(annotation) is cst.Name and _unwrap_name(node.default) != "None":
                    klass = local_class(context, annotation)
                if klass is None:
                    arguments = parameter_arguments(context, node) or ()
                    classes = [_object_class(knowledge, a) for a in arguments]
                    if classes and all(c is not None and c is classes[0] for c in classes):
                        klass = classes[0]
        elif binding.kind == "assign" and type(node) in (cst.Assign, cst.AnnAssign) and node.value is not None:
            targets = [t.target for t in node.targets] if type(node) is cst.Assign else [node.target]
            if any(type(t) is cst.Name and t.value == expression.value for t in targets):
                klass = _object_class(knowledge, node.value)
        if klass is None or (found is not None and klass is not found):
            return None
        found = klass
    return found


def _attribute_object_class(knowledge: _FileKnowledge, attribute: cst.Attribute) -> Optional[cst.ClassDef]:
    """``self.optimizer`` / ``trainer.evaluator`` of a plain class of this file whose methods assign that attribute
    only instances of one plain class, and nothing else in the file assigns an attribute of that name."""
    owner = _object_class(knowledge, attribute.value)
    if owner is None:
        return None
    attr = attribute.attr.value
    values = _assigned_values(knowledge, owner, attr)
    if not values or _attribute_assignment_counts(knowledge).get(attr, 0) != len(values):
        return None  # also set from outside the class (``trainer.opt = torch.optim.SGD(...)``): unknown
    found: Optional[cst.ClassDef] = None
    for value in values:
        klass = _object_class(knowledge, value) if value is not None else None
        if klass is None or (found is not None and klass is not found):
            return None
        found = klass
    return found


def _attribute_assignment_counts(knowledge: _FileKnowledge) -> Dict[str, int]:
    """How many times the file assigns ``<anything>.<attr>`` (as a target, a loop or ``with`` target), per attr."""
    if knowledge.attribute_assignments is None:
        counts: Dict[str, int] = {}
        for node in nodes_of(knowledge.context.module, _SELF_ASSIGNING):
            node_type = type(node)
            if node_type is cst.Assign:
                targets = [t.target for t in node.targets]
            elif node_type is cst.AnnAssign or node_type is cst.AugAssign:
                targets = [node.target]
            elif node_type is cst.For:
                targets = [node.target]
            elif node_type is cst.WithItem:
                targets = [node.asname.name] if node.asname is not None else []
            else:
                continue
            while targets:
                target = targets.pop()
                if type(target) is cst.Attribute:
                    counts[target.attr.value] = counts.get(target.attr.value, 0) + 1
                elif type(target) in (cst.Tuple, cst.List):
                    targets.extend(element.value for element in target.elements)
        knowledge.attribute_assignments = counts
    return knowledge.attribute_assignments


def _remote_plain_class(context: "LintContext", qualified: Optional[str]) -> Optional[dict]:
    """The summary of a plain (certainly not nn.Module) class of another project file, when its instances'
    attributes can be read from it: no decorator, no ``__new__``, nothing set dynamically."""
    if qualified is None:
        return None
    from autogradlint.analysis.project import project_of

    project = project_of(context)
    found = project.lookup(project.absolute(qualified))
    if found is None or found[0] != "class" or found[2] is None:
        return None
    info = found[2]
    if info.get("decorated") or info.get("dynamic") or "__new__" in (info.get("methods") or ()):
        return None
    if _summary_is_module(project, info) is not False:
        return None
    return info


def _remote_object(knowledge: _FileKnowledge, expression: cst.BaseExpression) -> Optional[Tuple[dict, Optional[cst.Call]]]:
    """(summary, constructor call) of the plain class of another project file that ``expression`` certainly
    holds an instance of: ``Trainer(...)``, a name bound only to one, a parameter every caller passes one to.
    The call is None when the instance comes from several calls or another file."""
    # a cycle back here: unknown
    return knowledge.memo.computed("remote object", id(expression), knowledge.remote_objects,
                                   lambda: _compute_remote_object(knowledge, expression), None)


def _compute_remote_object(knowledge: _FileKnowledge, expression: cst.BaseExpression
                           ) -> Optional[Tuple[dict, Optional[cst.Call]]]:
    context = knowledge.context
    expression_type = type(expression)
    if expression_type is cst.Call:
        func = expression.func
        if type(func) not in (cst.Name, cst.Attribute) or (type(func) is cst.Name and local_class(context, func)):
            return None
        info = _remote_plain_class(context, context.qualified_name(func))
        return None if info is None else (info, expression)
    if expression_type is not cst.Name:
        return None
    bindings = context.names.bindings_of(expression)
    if not bindings:
        return None
    results: List[Tuple[dict, Optional[cst.Call]]] = []
    for binding in bindings:
        node = binding.node
        result = None
        if binding.kind == "param":
            if id(node) in knowledge.method_class:
                return None  # ``self``
            both = all_parameter_arguments(context, node)
            if both is None:
                return None
            for argument in both.local:
                one = _remote_object(knowledge, argument)
                if one is None:
                    return None
                results.append(one)
            described = both.remote()
            if described is None:
                return None
            for description in described:
                info = (_remote_plain_class(context, description["q"]) if isinstance(description, dict)
                        and description.get("k") == "call" else None)
                if info is None:
                    return None
                results.append((info, None))
            continue
        if binding.kind == "assign" and type(node) in (cst.Assign, cst.AnnAssign) and node.value is not None:
            targets = [t.target for t in node.targets] if type(node) is cst.Assign else [node.target]
            if any(type(t) is cst.Name and t.value == expression.value for t in targets):
                result = _remote_object(knowledge, node.value)
        if result is None:
            return None
        results.append(result)
    if not results or any(r[0] is not results[0][0] for r in results):
        return None
    return results[0][0], (results[0][1] if len(results) == 1 else None)


def _remote_object_attribute(knowledge: _FileKnowledge, info: dict, call: Optional[cst.Call],
                             attr: str) -> Optional[ModuleInstance]:
    """The module ``obj.<attr>`` holds, ``obj`` an instance of the summarised plain class ``info``: what its
    methods assign, or the argument its ``__init__`` stores there (``self.model = model``), read from the
    constructor ``call`` of this file."""
    from autogradlint.analysis.project import project_of

    context = context_of(knowledge)
    found, description = _summary_attribute(project_of(context), info, attr)
    if not found or description is None:
        return None
    if description.get("k") == "arg":
        if call is None or "__init__" not in (info.get("methods") or ()):
            return None
        argument = _call_argument(call, description.get("n"), description.get("i"))
        return None if argument is None else _instance(knowledge, argument)
    return _described_instance(context, description, 1)


def _call_argument(call: cst.Call, name: Optional[str], index: Optional[int]) -> Optional[cst.BaseExpression]:
    found = None
    position = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is None:
            if index is not None and position == index:
                found = arg.value
            position += 1
        elif arg.keyword.value == name:
            found = arg.value
    return found


def _inherited_remote_attribute(knowledge: _FileKnowledge, klass: cst.ClassDef, attr: str) -> Optional[ModuleInstance]:
    """``self.<attr>`` in a plain class of this file that sets no such attribute but subclasses a plain class
    of another project file that does (with a value of its own, not an ``__init__`` argument)."""
    context = context_of(knowledge)
    assignments = _class_assignments(knowledge, klass)
    if assignments.values.get(attr) or assignments.dynamic or _attribute_assignment_counts(knowledge).get(attr):
        return None
    answer = None
    for arg in klass.bases:
        if arg.keyword is not None or arg.star or type(arg.value) not in (cst.Name, cst.Attribute):
            return None
        info = _remote_plain_class(context, context.qualified_name(arg.value))
        if info is None:
            continue
        found = _remote_object_attribute(knowledge, info, None, attr)
        if found is not None:
            if answer is not None:
                return None
            answer = found
    return answer


def context_of(knowledge: _FileKnowledge) -> "LintContext":
    return knowledge.context


# --------------------------------------------------------------------------------------------
# classes and functions of the project's other files (their summaries: see analysis.project)


_NEUTRAL_MODULE_BASES = frozenset({"builtins.object", "builtins.Exception", "builtins.dict"})


def summary_subclasses(project, info: Optional[dict], is_base, neutral: frozenset, depth: int = 0) -> Optional[bool]:
    """Whether a summarised class of the project certainly has a base (directly, or through the project's other
    summarised classes) for which ``is_base(qualified name)`` holds (True), certainly has none (False: every
    base is ``neutral`` or such a class), or None when a base is unknown."""
    if info is None or depth > 8:
        return None
    answer: Optional[bool] = False
    for base in info.get("bases") or []:
        if base is None:
            answer = None
            continue
        if is_base(base):
            return True
        if base in neutral:
            continue
        found = project.lookup(base)
        verdict = (summary_subclasses(project, found[2], is_base, neutral, depth + 1)
                   if found is not None and found[0] == "class" else None)
        if verdict:
            return True
        if verdict is None:
            answer = None
    return answer


def _summary_is_module(project, info: Optional[dict]) -> Optional[bool]:
    """Whether a summarised class certainly subclasses nn.Module (None: unknown)."""
    return summary_subclasses(project, info, is_module_base_name, _NEUTRAL_MODULE_BASES)


def project_class_is_module(context: "LintContext", qualified: Optional[str]) -> Optional[bool]:
    """Whether a class of another project file (by the name this file imports it under) certainly is an
    nn.Module class (True), certainly is not (False), or None when unknown or not the project's."""
    if qualified is None:
        return None
    from autogradlint.analysis.project import project_of

    project = project_of(context)
    absolute = project.absolute(qualified)
    if is_module_base_name(absolute):
        return True
    found = project.lookup(absolute)
    if found is None or found[0] != "class":
        return None
    return _summary_is_module(project, found[2])


def _project_instance(context: "LintContext", qualified: str, classes_only: bool = False,
                      depth: int = 0) -> Optional[ModuleInstance]:
    """The module a call of a project class or function of another file gives (None when not certain)."""
    from autogradlint.analysis.project import project_of

    project = project_of(context)
    absolute = project.absolute(qualified)
    if absolute is None or depth > 8:
        return None
    if absolute != qualified and is_module_base_name(absolute):
        return ModuleInstance(_torch_nn_class(absolute))
    found = project.lookup(absolute)
    if found is None:
        return None
    kind, name, info = found
    if kind == "class":
        if info is None or info.get("decorated") or _summary_is_module(project, info) is not True:
            return None
        return ModuleInstance(class_name=name, has_parameters=_summary_has_parameters(context, project, info, depth),
                              remote=info)
    if classes_only:
        return None
    return _described_instance(context, info, depth + 1)


def _described_instance(context: "LintContext", description: Optional[dict], depth: int) -> Optional[ModuleInstance]:
    """The module a summary's value description certainly holds."""
    if description is None or description.get("k") != "call" or depth > 8:
        return None
    qualified = description["q"]
    if is_module_base_name(qualified):
        return ModuleInstance(_torch_nn_class(qualified), description.get("hp"))
    if qualified in _TIMM_FACTORIES or _is_torchvision_model(qualified):
        return ModuleInstance(qualified, True)
    return _project_instance(context, qualified, depth=depth)


def _summary_attribute(project, info: dict, attr: str, depth: int = 0):
    """(found, description) of ``self.<attr>`` in a summarised class or its project bases."""
    if depth > 8:
        return False, None
    attrs = info.get("attrs") or {}
    if attr in attrs:
        return True, attrs[attr]
    for base in info.get("bases") or []:
        found = project.lookup(base) if base is not None else None
        if found is not None and found[0] == "class" and found[2] is not None:
            seen, description = _summary_attribute(project, found[2], attr, depth + 1)
            if seen:
                return seen, description
    return False, None


def _project_attribute(context: "LintContext", info: dict, attr: str) -> Optional[ModuleInstance]:
    from autogradlint.analysis.project import project_of

    if info.get("dynamic"):
        return None
    found, description = _summary_attribute(project_of(context), info, attr)
    return _described_instance(context, description, 1) if found else None


def _summary_has_parameters(context: "LintContext", project, info: dict, depth: int) -> Optional[bool]:
    """True when a summarised module class (or a project base of it) certainly holds parameters; None
    otherwise."""
    if depth > 8:
        return None
    for description in (info.get("attrs") or {}).values():
        if description is None:
            continue
        if description.get("k") == "parameter":
            return True
        found = _described_instance(context, description, depth + 1)
        if found is not None and found.has_parameters:
            return True
    for base in info.get("bases") or []:
        found = project.lookup(base) if base is not None else None
        if found is not None and found[0] == "class" and found[2] is not None:
            if _summary_has_parameters(context, project, found[2], depth + 1):
                return True
    return None


def remote_forward_may_skip_grad(context: "LintContext", info: dict, depth: int = 0) -> bool:
    """A summarised module class whose forward may give outputs without grad (decorated, detaching, a
    grad-mode block) or whose bases cannot be read: unknown, so True."""
    if info.get("grad_off") or depth > 8:
        return True
    from autogradlint.analysis.project import project_of

    project = project_of(context)
    for base in info.get("bases") or []:
        if base is None:
            return True
        if is_module_base_name(base):
            continue
        found = project.lookup(base)
        if found is None or found[0] != "class" or found[2] is None:
            return True
        if remote_forward_may_skip_grad(context, found[2], depth + 1):
            return True
    return False


def _call_instance(knowledge: _FileKnowledge, call: cst.Call) -> Optional[ModuleInstance]:
    context = knowledge.context
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in SELF_RETURNING_METHODS:
        receiver = _instance(knowledge, func.value)
        if receiver is not None and not receiver.may_be_function:
            return receiver
    qualified = context.qualified_name(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
    if qualified is not None:
        found = _qualified_call_instance(knowledge, qualified, call)
        if found is not None:
            return found
        found = _project_instance(context, qualified)
        if found is not None:
            return found
    if isinstance(func, cst.Name):
        local = local_class(context, func)
        if local is not None:
            if is_module_class(context, local) is True:
                return ModuleInstance(local.name.value, class_has_parameters(context, local), local)
            return None
        binding = context.names.binding_of(func)
        if binding is not None and binding.kind == "def" and isinstance(binding.node, cst.FunctionDef):
            return _factory_instance(knowledge, binding.node)
        return None
    if isinstance(func, cst.Attribute):
        method = func.attr.value
        local = local_class(context, func.value)
        if local is not None and method in _PRETRAINED_CONSTRUCTORS and _loads_pretrained_module(context, local):
            return ModuleInstance(local.name.value, True, local)
        owner = _instance(knowledge, func.value)
        if owner is not None and owner.local is not None and not owner.may_be_function:
            method_def = _find_method(context, owner.local, method)
            if method_def is not None:
                return _factory_instance(knowledge, method_def)
    return None


def _qualified_call_instance(knowledge: _FileKnowledge, qualified: str, call: cst.Call) -> Optional[ModuleInstance]:
    args = positional(call)
    first = _instance(knowledge, args[0].value) if args else None
    if first is not None and first.may_be_function:
        first = None
    if qualified == "torch.jit.load":
        return ModuleInstance(scripted=True)
    if qualified == "torch.jit.script":
        if first is not None:
            return first.replace(scripted=True)
        if args and not _is_function_or_class(knowledge.context, args[0].value):
            return ModuleInstance(scripted=True, may_be_function=True)
        return None
    if qualified in ("torch.jit.freeze", "torch.jit.optimize_for_inference"):
        return first if first is not None and first.scripted else None
    if qualified in ("torch.jit.trace", "torch.compile", "copy.deepcopy"):
        return first.replace(scripted=False) if first is not None and qualified == "torch.jit.trace" else first
    if qualified in MODULE_WRAPPERS:
        return ModuleInstance(_torch_nn_class(qualified), first.has_parameters if first else None)
    if is_module_base_name(qualified):
        class_name = _torch_nn_class(qualified)
        return ModuleInstance(class_name, _torch_layer_has_parameters(knowledge, class_name, call))
    if qualified in _TIMM_FACTORIES or _is_torchvision_model(qualified):
        return ModuleInstance(qualified, True)
    parts = qualified.split(".")
    if (parts[0] == "transformers" and len(parts) >= 3 and parts[-1] in _PRETRAINED_CONSTRUCTORS
            and _is_transformers_model_class(parts[-2]) and keyword(call, "output_loading_info") is None):
        return ModuleInstance(qualified, True)
    return None


def _is_function_or_class(context: "LintContext", expression: cst.BaseExpression) -> bool:
    if isinstance(expression, cst.Lambda):
        return True
    if isinstance(expression, cst.Name):
        binding = context.names.binding_of(expression)
        return binding is not None and binding.kind in ("def", "class")
    return False


def _loads_pretrained_module(context: "LintContext", klass: cst.ClassDef) -> bool:
    """A local subclass of a transformers model base, whose ``from_pretrained`` is the library's."""
    seen: set = set()
    todo = [klass]
    reaches_base = False
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if _find_method(context, current, "from_pretrained", inherited=False) is not None:
            return False
        for arg in current.bases:
            if _is_transformers_base(context.qualified_name(arg.value)):
                reaches_base = True
            local = local_class(context, arg.value)
            if local is not None:
                todo.append(local)
    return reaches_base and is_module_class(context, klass) is True


def _find_method(context: "LintContext", klass: cst.ClassDef, name: str, inherited: bool = True,
                 _seen: Optional[set] = None) -> Optional[cst.FunctionDef]:
    """The method ``name`` defined in ``klass`` (or, with ``inherited``, in its local base classes)."""
    seen = _seen if _seen is not None else set()
    if id(klass) in seen or not isinstance(klass.body, cst.IndentedBlock):
        return None
    seen.add(id(klass))
    for statement in klass.body.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
            return statement
    if inherited:
        for arg in klass.bases:
            local = local_class(context, arg.value)
            if local is not None:
                found = _find_method(context, local, name, True, seen)
                if found is not None:
                    return found
    return None


def _factory_instance(knowledge: _FileKnowledge, function: cst.FunctionDef) -> Optional[ModuleInstance]:
    """The module a function of this file returns, when every ``return`` returns one."""
    key = id(function)
    if key in knowledge.factories:
        return knowledge.factories[key]

    def compute() -> Optional[ModuleInstance]:
        returns = _own_returns(function)
        if returns is None or not returns:
            return None
        found = []
        for value in returns:
            result = _instance(knowledge, value) if value is not None else None
            if result is None:
                return None
            if result is not _ASSUMED:
                found.append(result)
        return _combine(found) if found else None

    result = _assuming(knowledge, ("def", key), compute)
    if not knowledge.assumed:
        knowledge.factories[key] = result
    return None if result is _ASSUMED else result


def own_returns(function: cst.FunctionDef) -> Optional[List[Optional[cst.BaseExpression]]]:
    """The values of a function's own ``return`` statements (None for a bare ``return``); None for a generator."""
    return _own_returns(function)


_NESTED_SCOPES = NESTED_SCOPES
_GENERATOR_MARKS = (cst.Yield, cst.Await)
_RETURN_SCAN = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.Yield, cst.Await, cst.Return)


def _own_returns(function: cst.FunctionDef) -> Optional[List[Optional[cst.BaseExpression]]]:
    """The values of the function's own ``return`` statements, last first; None for a generator (a
    ``yield``/``await`` outside a ``return`` and outside nested functions, classes and lambdas)."""
    index = current_index()
    start = index.number(function.body) if index is not None else None
    if start is None:
        return _own_returns_walked(function)
    order, ends = index.order, index.ends
    values: List[Optional[cst.BaseExpression]] = []
    skip_to = -1  # the end of a nested scope or of a return's subtree: nothing in it counts
    for number in index.numbers_of(_RETURN_SCAN, start + 1, ends[start]):
        if number < skip_to:
            continue
        node = order[number]
        node_type = type(node)
        if node_type is cst.Yield or node_type is cst.Await:
            return None
        if node_type is cst.Return:
            values.append(node.value)
        skip_to = ends[number]
    values.reverse()  # the order of the walk below
    return values


def is_subclassed_here(context: "LintContext", klass: cst.ClassDef) -> bool:
    """Whether another class of this file names ``klass`` as a base (``self`` of its methods may then be an
    instance of a subclass that overrides them)."""
    return id(klass) in _subclassed(_knowledge(context))


def _own_returns_walked(function: cst.FunctionDef) -> Optional[List[Optional[cst.BaseExpression]]]:
    """``_own_returns`` for a function outside the indexed tree."""
    values: List[Optional[cst.BaseExpression]] = []
    stack = list(children(function.body))
    while stack:
        node = stack.pop()
        if isinstance(node, _NESTED_SCOPES):
            continue
        if isinstance(node, _GENERATOR_MARKS):
            return None
        if isinstance(node, cst.Return):
            values.append(node.value)
            continue
        stack.extend(children(node))
    return values


# --------------------------------------------------------------------------------------------
# what a module class sets on self


class _ClassAssignments(Record):
    """Every value a class's methods assign to ``self.X`` (None for a value that cannot be followed)."""

    __slots__ = ("values", "parameters", "in_init", "dynamic")

    def __init__(self, values: Optional[Dict[str, List[Optional[cst.BaseExpression]]]] = None,
                 parameters: Optional[set] = None, in_init: Optional[set] = None, dynamic: bool = False) -> None:
        self.values = {} if values is None else values
        self.parameters = set() if parameters is None else parameters  # registered through register_parameter
        self.in_init = set() if in_init is None else in_init
        self.dynamic = dynamic  # setattr/add_module with computed names


def _class_assignments(knowledge: _FileKnowledge, klass: cst.ClassDef) -> _ClassAssignments:
    found = knowledge.class_assignments.get(id(klass))
    if found is not None:
        return found
    found = _ClassAssignments()
    knowledge.class_assignments[id(klass)] = found
    body = klass.body.body if isinstance(klass.body, cst.IndentedBlock) else ()
    for statement in body:
        if not isinstance(statement, cst.FunctionDef) or is_static_or_classmethod(statement):
            continue
        params = [*statement.params.posonly_params, *statement.params.params]
        if not params:
            continue
        self_name = params[0].name.value
        in_init = statement.name.value == "__init__"
        for node in nodes_of(statement.body, _SELF_ASSIGNING):
            _record_self_assignment(node, self_name, in_init, found)
    return found


# the nodes that may set a ``self.X`` attribute (what ``_record_self_assignment`` looks at)
_SELF_ASSIGNING = (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.For, cst.WithItem, cst.Call)
_REGISTERING_CALLS = ("add_module", "register_module", "register_parameter", "register_buffer")


def _is_self(expression, self_name: str) -> bool:
    return type(expression) is cst.Name and expression.value == self_name


def _add_assignment(found: _ClassAssignments, in_init: bool, attr: str, value: Optional[cst.BaseExpression]) -> None:
    found.values.setdefault(attr, []).append(value)
    if in_init:
        found.in_init.add(attr)


def _add_targets(found: _ClassAssignments, self_name: str, in_init: bool, target, value) -> None:
    """Record the ``self.X`` attributes an assignment target sets (those inside a tuple/list target get None)."""
    target_type = type(target)
    if target_type is cst.Attribute:
        if _is_self(target.value, self_name):
            _add_assignment(found, in_init, target.attr.value, value)
    elif target_type is cst.Tuple or target_type is cst.List:
        for element in target.elements:
            _add_targets(found, self_name, in_init, element.value, None)


def _string_literal(string: cst.SimpleString):
    """``string.evaluated_value`` (a str or bytes) without ``ast.literal_eval``, whose nested recursive
    helpers leave a reference cycle behind on every call."""
    return ast.parse(string.value.lstrip(" \t"), mode="eval").body.value


def _record_self_assignment(node: cst.CSTNode, self_name: str, in_init: bool, found: _ClassAssignments) -> None:
    node_type = type(node)
    if node_type is cst.Assign:
        for target in node.targets:
            _add_targets(found, self_name, in_init, target.target, node.value)
    elif node_type is cst.AnnAssign:
        _add_targets(found, self_name, in_init, node.target, node.value)
    elif node_type is cst.AugAssign:
        _add_targets(found, self_name, in_init, node.target, None)
    elif node_type is cst.For or node_type is cst.WithItem:
        target = node.target if node_type is cst.For else (node.asname.name if node.asname else None)
        if target is not None:
            _add_targets(found, self_name, in_init, target, None)
    elif node_type is cst.Call:
        func = node.func
        if type(func) is cst.Attribute and _is_self(func.value, self_name) and func.attr.value in _REGISTERING_CALLS:
            args = positional(node)
            if len(args) == 2 and type(args[0].value) is cst.SimpleString:
                attr = _string_literal(args[0].value)
                if isinstance(attr, str):
                    _add_assignment(found, in_init, attr, None if func.attr.value == "register_buffer" else args[1].value)
                    if func.attr.value == "register_parameter":
                        found.parameters.add(attr)
                    return
            found.dynamic = True
        elif type(func) is cst.Name and func.value == "setattr":
            args = positional(node)
            if args and _is_self(args[0].value, self_name):
                if len(args) == 3 and type(args[1].value) is cst.SimpleString:
                    attr = _string_literal(args[1].value)
                    if isinstance(attr, str):
                        _add_assignment(found, in_init, attr, args[2].value)
                        return
                found.dynamic = True


def _assigned_values(knowledge: _FileKnowledge, klass: cst.ClassDef, attr: str,
                     _seen: Optional[set] = None) -> List[Optional[cst.BaseExpression]]:
    """Values assigned to ``self.<attr>`` by the class or, when it sets none, by its local bases."""
    seen = _seen if _seen is not None else set()
    if id(klass) in seen:
        return []
    seen.add(id(klass))
    own = _class_assignments(knowledge, klass).values.get(attr)
    if own:
        return list(own)
    for arg in klass.bases:
        local = local_class(knowledge.context, arg.value)
        if local is not None:
            inherited = _assigned_values(knowledge, local, attr, seen)
            if inherited:
                return inherited
    return []


def attribute_values(context: "LintContext", klass: cst.ClassDef, attr: str) -> List[Optional[cst.BaseExpression]]:
    """Every value the methods of a class of this file assign to ``self.<attr>`` (those of its local bases when
    it assigns none); a None entry is a value that cannot be followed (a tuple target, an augmented assignment)."""
    return _assigned_values(_knowledge(context), klass, attr)


def _is_parameter_value(context: "LintContext", value: Optional[cst.BaseExpression]) -> bool:
    return (isinstance(value, cst.Call) and isinstance(value.func, (cst.Name, cst.Attribute))
            and context.qualified_name(value.func) == _PARAMETER)


def module_attributes(context: "LintContext", classdef: cst.ClassDef) -> Dict[str, ModuleAttribute]:
    """The ``self.X`` attributes a class sets in ``__init__`` (its own, or a local base's it does not
    override), with what every assignment to them in the class's methods makes them."""
    knowledge = _knowledge(context)
    cached = knowledge.attributes.get(id(classdef))
    if cached is not None:
        return cached
    result: Dict[str, ModuleAttribute] = {}
    knowledge.attributes[id(classdef)] = result
    names: List[str] = []
    for klass in _class_and_local_bases(context, classdef):
        assignments = _class_assignments(knowledge, klass)
        names.extend(n for n in assignments.values if n in assignments.in_init and n not in names)
    frozen = _frozen_in_init(context, classdef)
    for name in names:
        values = _assigned_values(knowledge, classdef, name)
        attribute = _attribute_of(knowledge, classdef, name, values)
        if name in frozen and attribute.kind == "module":
            attribute = ModuleAttribute(name, "module", attribute.class_name, attribute.has_parameters, True)
        result[name] = attribute
    return result


def _frozen_in_init(context: "LintContext", classdef: cst.ClassDef) -> frozenset:
    """The ``self.X`` submodules the ``__init__`` of the class (or of a local base) freezes: ``self.X.eval()``,
    ``self.X.train(False)``, ``self.X.requires_grad_(False)``, or a loop over ``self.X.parameters()`` that sets
    ``requires_grad`` to False."""
    found = set()
    for klass in _class_and_local_bases(context, classdef):
        init = next((s for s in klass.body.body if type(s) is cst.FunctionDef and s.name.value == "__init__"), None)
        if init is None:
            continue
        for node in iter_tree(init.body):
            if type(node) is cst.Call and type(node.func) is cst.Attribute:
                owner = _self_attribute(node.func.value)
                method = node.func.attr.value
                first = node.args[0].value if node.args else None
                if owner is not None and (
                        (method == "eval" and not node.args)
                        or (method in ("train", "requires_grad_") and node.args and bool_literal(first) is False)):
                    found.add(owner)
            elif type(node) is cst.For and type(node.iter) is cst.Call and type(node.iter.func) is cst.Attribute \
                    and node.iter.func.attr.value == "parameters" and type(node.target) is cst.Name:
                owner = _self_attribute(node.iter.func.value)
                if owner is not None and _switches_grad_off(node.body, node.target.value):
                    found.add(owner)
    return frozenset(found)


def _self_attribute(expression: cst.BaseExpression) -> Optional[str]:
    if type(expression) is cst.Attribute and type(expression.value) is cst.Name and expression.value.value == "self":
        return expression.attr.value
    return None


def _switches_grad_off(body: cst.BaseSuite, item: str) -> bool:
    """The loop body sets ``<item>.requires_grad = False`` or calls ``<item>.requires_grad_(False)``."""
    for node in iter_tree(body):
        if type(node) is cst.Assign and len(node.targets) == 1:
            target = node.targets[0].target
            if (type(target) is cst.Attribute and target.attr.value == "requires_grad" and type(target.value) is cst.Name
                    and target.value.value == item and bool_literal(node.value) is False):
                return True
        elif type(node) is cst.Call and type(node.func) is cst.Attribute and node.func.attr.value == "requires_grad_" \
                and type(node.func.value) is cst.Name and node.func.value.value == item and node.args \
                and bool_literal(node.args[0].value) is False:
            return True
    return False


def _attribute_of(knowledge: _FileKnowledge, classdef: cst.ClassDef, name: str,
                  values: List[Optional[cst.BaseExpression]]) -> ModuleAttribute:
    context = knowledge.context
    registered = any(name in _class_assignments(knowledge, k).parameters for k in _class_and_local_bases(context, classdef))
    if values and all(registered or _is_parameter_value(context, v) for v in values):
        return ModuleAttribute(name, "parameter", None, True)
    instances = [module_instance(context, v) if v is not None else None for v in values]
    if instances and all(i is not None for i in instances):
        combined = _combine(instances)  # type: ignore[arg-type]
        return ModuleAttribute(name, "module", combined.class_name, combined.has_parameters)
    return ModuleAttribute(name, "other", None, None)


def _class_and_local_bases(context: "LintContext", classdef: cst.ClassDef) -> List[cst.ClassDef]:
    found: List[cst.ClassDef] = []
    todo = [classdef]
    while todo:
        klass = todo.pop(0)
        if any(k is klass for k in found):
            continue
        found.append(klass)
        for arg in klass.bases:
            local = local_class(context, arg.value)
            if local is not None:
                todo.append(local)
    return found


# values that certainly are neither modules nor parameters
_PLAIN_VALUES = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString,
                 cst.FormattedString)


def _is_plain_value(context: "LintContext", value: Optional[cst.BaseExpression]) -> bool:
    if isinstance(value, _PLAIN_VALUES):
        return True
    if isinstance(value, cst.Name):
        return value.value in ("None", "True", "False")
    if isinstance(value, cst.UnaryOperation):
        return _is_plain_value(context, value.expression)
    if isinstance(value, cst.Call) and isinstance(value.func, (cst.Name, cst.Attribute)):
        qualified = context.qualified_name(value.func) or ""
        # tensor factories and functions: plain tensors are not parameters
        return qualified.startswith("torch.") and not qualified.startswith("torch.nn.") and qualified.count(".") == 1
    return False


def class_has_parameters(context: "LintContext", classdef: cst.ClassDef) -> Optional[bool]:
    """Whether instances of a local module class hold parameters: True when some attribute is a
    parameter or a module with parameters; False when every attribute is certainly parameter-free;
    None when unknown."""
    knowledge = _knowledge(context)
    key = id(classdef)
    if key in knowledge.class_parameters:
        return knowledge.class_parameters[key]
    knowledge.class_parameters[key] = None  # a class that contains itself: unknown
    verdicts: List[Optional[bool]] = []
    for klass in _class_and_local_bases(context, classdef):
        assignments = _class_assignments(knowledge, klass)
        if assignments.dynamic:
            verdicts.append(None)
        for arg in klass.bases:
            qualified = context.qualified_name(arg.value)
            if local_class(context, arg.value) is None and qualified != "torch.nn.Module":
                verdicts.append(None)  # an outside base may create parameters
        for name, values in assignments.values.items():
            if name in assignments.parameters:
                verdicts.append(True)
                continue
            for value in values:
                if _is_parameter_value(context, value):
                    verdicts.append(True)
                elif _is_plain_value(context, value):
                    verdicts.append(False)
                else:
                    found = module_instance(context, value) if value is not None else None
                    verdicts.append(found.has_parameters if found is not None else None)
    answer = True if True in verdicts else (None if None in verdicts else False)
    knowledge.class_parameters[key] = answer
    return answer


def _torch_layer_has_parameters(knowledge: _FileKnowledge, class_name: str, call: cst.Call) -> Optional[bool]:
    """Whether a torch.nn layer built by ``call`` holds parameters (None when unknown)."""
    if not class_name.startswith("torch.nn.") or class_name.count(".") != 2:
        return None
    known = layer_parameters(class_name)  # by name alone (the project summaries ask the same)
    if known is not None:
        return known
    short = class_name.rsplit(".", 1)[-1]
    switch = layer_parameter_switch(class_name)  # BatchNorm's affine, LayerNorm's elementwise_affine
    if switch is not None:
        affine, index, default = switch
        given = keyword(call, affine)
        args = positional(call)
        if given is not None:
            return bool_literal(given.value)
        if len(args) > index:
            return bool_literal(args[index].value)
        if any(a.star for a in call.args):
            return None
        return default
    if short in ("Sequential", "ModuleList", "ModuleDict"):
        return _container_has_parameters(knowledge, short, call)
    return None


def _container_has_parameters(knowledge: _FileKnowledge, short: str, call: cst.Call) -> Optional[bool]:
    if short == "Sequential":
        if any(a.star or a.keyword is not None for a in call.args) or not call.args:
            return None
        items = [a.value for a in call.args]
    else:
        args = positional(call)
        items = _literal_items(args[0].value) if len(args) == 1 else None
        if items is None:
            return None
    verdicts = []
    for item in items:
        found = _instance(knowledge, item)
        verdicts.append(found.has_parameters if found is not None and found is not _ASSUMED else None)
    verdict = _all_of(verdicts)
    # ModuleList/ModuleDict grow through append/update: only "has parameters" is certain
    return verdict if short == "Sequential" or verdict else None


def _literal_items(expression: cst.BaseExpression) -> Optional[List[cst.BaseExpression]]:
    """The item expressions of a list/tuple/dict literal or comprehension (dict: its values)."""
    if isinstance(expression, (cst.List, cst.Tuple)):
        if any(isinstance(e, cst.StarredElement) for e in expression.elements):
            return None
        return [e.value for e in expression.elements]
    if isinstance(expression, cst.Dict):
        if any(not isinstance(e, cst.DictElement) for e in expression.elements):
            return None
        return [e.value for e in expression.elements]
    if isinstance(expression, (cst.ListComp, cst.GeneratorExp)):
        return [expression.elt]
    if isinstance(expression, cst.DictComp):
        return [expression.value]
    return None


def class_reads_own_attribute(context: "LintContext", classdef: cst.ClassDef, attr: str) -> bool:
    """The class (or a local base) uses ``attr`` as its own: it reads ``self.<attr>`` in a method, or
    defines ``<attr>`` in its body (a class attribute, method or property)."""
    for klass in _class_and_local_bases(context, classdef):
        body = klass.body.body if isinstance(klass.body, cst.IndentedBlock) else ()
        for statement in body:
            if isinstance(statement, cst.FunctionDef):
                if statement.name.value == attr:
                    return True
                if _method_reads_self_attribute(statement, attr):
                    return True
            elif isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    targets = ([t.target for t in small.targets] if isinstance(small, cst.Assign)
                               else [small.target] if isinstance(small, cst.AnnAssign) else [])
                    if any(isinstance(t, cst.Name) and t.value == attr for t in targets):
                        return True
    return False


_ASSIGNMENTS_AND_ATTRIBUTES = (cst.Assign, cst.AnnAssign, cst.Attribute)


def _method_reads_self_attribute(method: cst.FunctionDef, attr: str) -> bool:
    params = [*method.params.posonly_params, *method.params.params]
    if not params:
        return False
    self_name = params[0].name.value
    written = set()
    for node in nodes_of(method.body, _ASSIGNMENTS_AND_ATTRIBUTES):
        node_type = type(node)
        if node_type is cst.Assign:
            written.update(id(t.target) for t in node.targets)
        elif node_type is cst.AnnAssign:
            written.add(id(node.target))
        elif (node.attr.value == attr and id(node) not in written
              and type(node.value) is cst.Name and node.value.value == self_name):
            return True
    return False


def sets_attribute(context: "LintContext", classdef: cst.ClassDef, attr: str) -> bool:
    """A method of the class (or of a local base) assigns ``self.<attr>``."""
    return bool(_assigned_values(_knowledge(context), classdef, attr))
