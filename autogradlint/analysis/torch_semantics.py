"""torch's own semantics as data: what a torch function, ``torch.nn.functional`` function, tensor method or
numpy function returns, read from ``torch_semantics.json``.

The table is generated from the installed torch (``scripts/gen_torch_semantics.py``: the operators of its
``native_functions.yaml``, the non-differentiable outputs of its ``derivatives.yaml``, and one call of each
function on small tensors) and checked in; ``tests/test_torch_semantics.py`` regenerates it and checks
entries against torch. It is read on first use only (a JSON file of ~20 kB), so linting a file no rule
asks about costs nothing.

``call_flags(...)`` answers for one call (the flags of the arity it is called with), and the helpers
below turn flags into the facts rules share. Unknown (a name not in the table, an arity torch was not
probed with) is None: callers stay silent.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import libcst as cst

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

TABLE_FILE = Path(__file__).with_name("torch_semantics.json")

# sections of the table: qualified-name prefix -> section
_FUNCTION_SECTIONS = (
    ("torch.nn.functional.", "torch.nn.functional"),
    ("torch.linalg.", "torch.linalg"),
    ("torch.special.", "torch.special"),
    ("torch.fft.", "torch.fft"),
    ("torch.", "torch"),
    ("numpy.", "numpy"),
)
TENSOR = "Tensor"

# keyword arguments that do not change what a call computes (for the "r"/"s" shape flags)
_NEUTRAL_KEYWORDS = frozenset({"dtype", "out"})
# tensor methods that convert dtype: an integer result of these is a value, not an index
_CONVERSIONS = frozenset({"long", "int", "short", "char", "byte", "bool", "to", "type", "type_as", "new_tensor"})

_table: Optional[Dict[str, dict]] = None


def table() -> Dict[str, dict]:
    """The whole table (loaded on first use)."""
    global _table
    if _table is None:
        with open(TABLE_FILE, encoding="utf-8") as handle:
            _table = json.load(handle)
    return _table


def _split(qualified_name: str):
    for prefix, section in _FUNCTION_SECTIONS:
        if qualified_name.startswith(prefix):
            short = qualified_name[len(prefix):]
            if "." not in short:
                return section, short
            return None
    return None


def entry_flags(section: str, name: str, arity: Optional[int] = None) -> Optional[str]:
    """The flags of ``name`` in ``section`` for a call with ``arity`` arguments (positional and keyword,
    after the receiver for a method); None when unknown. The trailing digit of an ``r`` entry is kept."""
    found = table().get(section, {}).get(name)
    if found is None or isinstance(found, str):
        return found
    if arity is None:
        return None
    return found.get(str(arity))


def _arity(call: cst.Call) -> Optional[int]:
    count = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is None or arg.keyword.value not in _NEUTRAL_KEYWORDS:
            count += 1
    return count


def _for_call(flags: Optional[str], call: cst.Call, dict_entry: bool) -> Optional[str]:
    """Drop the full-reduction flag when this call passes a dim (or more arguments than the probe did)."""
    if flags is None:
        return None
    digits = "".join(c for c in flags if c.isdigit())
    letters = "".join(c for c in flags if not c.isdigit())
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "requires_grad":
            if not (type(arg.value) is cst.Name and arg.value.value == "False"):
                # a factory asked for a tensor that requires grad (torch.scalar_tensor(1., requires_grad=True))
                letters = letters.replace("n", "")
    if "r" in letters:
        positional = [a for a in call.args if a.keyword is None]
        others = [a for a in call.args if a.keyword is not None and a.keyword.value not in _NEUTRAL_KEYWORDS]
        exact = dict_entry or (digits != "" and len(positional) == int(digits))
        if others or not exact:
            letters = letters.replace("r", "")
    return letters


def function_flags(qualified_name: Optional[str], call: cst.Call) -> Optional[str]:
    """Flags of a call of a torch/numpy function by its qualified name (``torch.argmax``,
    ``torch.nn.functional.relu``, ``numpy.argsort``), for the arity it is called with."""
    if qualified_name is None:
        return None
    split = _split(qualified_name)
    if split is None:
        return None
    section, short = split
    found = table().get(section, {}).get(short)
    if found is None:
        return None
    if section == "numpy" and len([a for a in call.args if a.keyword is None]) != 1:
        return None  # numpy functions were probed with one array
    if isinstance(found, str):
        return _for_call(found, call, dict_entry=False)
    arity = _arity(call)
    return _for_call(found.get(str(arity)) if arity is not None else None, call, dict_entry=True)


def method_flags(method: str, call: cst.Call) -> Optional[str]:
    """Flags of a tensor method call (``x.argmax()``, ``x.sum(1)``), for the arity it is called with."""
    found = table().get(TENSOR, {}).get(method)
    if found is None:
        return None
    if isinstance(found, str):
        return _for_call(found, call, dict_entry=False)
    arity = _arity(call)
    return _for_call(found.get(str(arity)) if arity is not None else None, call, dict_entry=True)


# in-place ops that change a tensor's autograd state, not its values: the analyses model each one on its own
AUTOGRAD_STATE_IN_PLACE = frozenset({"requires_grad_", "detach_"})


def is_in_place_method(name: str, values_only: bool = False) -> bool:
    """Whether torch's tensor method of this name changes its receiver in place (``add_``, ``zero_``);
    with ``values_only``, only the ones that change its values (not ``requires_grad_``/``detach_``)."""
    if values_only and name in AUTOGRAD_STATE_IN_PLACE:
        return False
    found = table().get(TENSOR, {}).get(name)
    return isinstance(found, str) and "i" in found


def is_in_place_function(qualified_name: Optional[str], values_only: bool = False) -> bool:
    """Whether a torch function changes its first argument in place (``torch.relu_``, ``F.relu_``); with
    ``values_only``, only the ones that change its values (not ``torch.detach_``)."""
    split = _split(qualified_name) if qualified_name else None
    if split is None or values_only and split[1] in AUTOGRAD_STATE_IN_PLACE:
        return False
    found = table().get(split[0], {}).get(split[1])
    return isinstance(found, str) and "i" in found


# ------------------------------------------------------------------------------------ index computations

_INDEX_ATTRIBUTES = frozenset({"indices"})


def is_index_computation(context: "LintContext", expression: cst.BaseExpression) -> bool:
    """Whether ``expression`` certainly computes indices or a mask from its inputs, not values: an
    integer or bool result of a torch/numpy function or tensor method (``argsort``, ``argmax``,
    ``nonzero``, ``np.where(c)``, comparisons), or the ``.indices``/``[1]`` of a ``topk``/``sort``/
    ``max(dim)`` result. Such a value only selects data; no gradient would flow through it anyway."""
    expression_type = type(expression)
    if expression_type is cst.Attribute and expression.attr.value in _INDEX_ATTRIBUTES:
        return _tuple_with_indices(context, expression.value)
    if expression_type is cst.Subscript and len(expression.slice) == 1:
        index = expression.slice[0].slice
        if type(index) is cst.Index and type(index.value) is cst.Integer and index.value.value == "1":
            return _tuple_with_indices(context, expression.value)
        return False
    if expression_type is not cst.Call:
        return False
    flags = _call_flags(context, expression)
    return flags is not None and "T" not in flags and ("I" in flags or "B" in flags)


def _call_flags(context: "LintContext", call: cst.Call) -> Optional[str]:
    func = call.func
    if type(func) not in (cst.Name, cst.Attribute):
        return None
    name = context.qualified_name(func)
    if name is not None and (name.startswith("torch.") or name.startswith("numpy.")):
        if name.rsplit(".", 1)[-1] in _CONVERSIONS:
            return None
        return function_flags(name, call)
    if type(func) is cst.Attribute and func.attr.value not in _CONVERSIONS:
        return method_flags(func.attr.value, call)
    return None


def _tuple_with_indices(context: "LintContext", expression: cst.BaseExpression) -> bool:
    if type(expression) is not cst.Call:
        return False
    flags = _call_flags(context, expression)
    return flags is not None and "T" in flags and "I" in flags


# ------------------------------------------------------------------------------ per-argument differentiability
#
# table()["arguments"][section][name]: the parameters of a torch function or tensor method (a method's
# receiver left out) in positional order, then "*" and the keyword-only ones, each with a mark (see
# scripts/gen_torch_semantics.py): "+" gradients flow into it, "-" never (not a tensor, an index, a mask),
# "?" only its floating form (a class-index target), no mark: not determined. A function not listed has
# no argument known to take no gradient.

FLOWS = "+"
NEVER = "-"
FLOATING_ONLY = "?"
_MARKS = (FLOWS, NEVER, FLOATING_ONLY)

_parsed: Dict[tuple, Optional[tuple]] = {}


def _parse(section: str, name: str) -> Optional[tuple]:
    """(positional marks, {keyword: mark}) of one entry, cached."""
    key = (section, name)
    if key in _parsed:
        return _parsed[key]
    text = table().get("arguments", {}).get(section, {}).get(name)
    parsed = None
    if text is not None:
        positional = []
        keywords: Dict[str, str] = {}
        keyword_only = False
        for token in text.split():
            if token == "*":
                keyword_only = True
                continue
            mark = token[-1] if token[-1] in _MARKS else ""
            names = (token[:-1] if mark else token).split("/")
            if not keyword_only:
                positional.append(mark)
            for one in names:
                keywords[one] = mark if keywords.get(one, mark) == mark else ""
        parsed = (tuple(positional), keywords)
    _parsed[key] = parsed
    return parsed


def _marks_of(parsed: Optional[tuple], call: cst.Call) -> Optional[List[str]]:
    if parsed is None:
        return None
    positional, keywords = parsed
    marks = []
    index = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is None:
            marks.append(positional[index] if index < len(positional) else "")
            index += 1
        else:
            marks.append(keywords.get(arg.keyword.value, ""))
    return marks


def function_argument_marks(qualified_name: Optional[str], call: cst.Call) -> Optional[List[str]]:
    """For each argument of a call of a torch function (in ``call.args`` order), whether gradients flow
    into it: FLOWS, NEVER, FLOATING_ONLY or "" (not known); None when the table has no entry."""
    split = _split(qualified_name) if qualified_name else None
    if split is None or split[0] == "numpy":
        return None
    return _marks_of(_parse(split[0], split[1]), call)


def method_argument_marks(method: str, call: cst.Call) -> Optional[List[str]]:
    """The same for a tensor method's arguments (its receiver is always an input)."""
    return _marks_of(_parse(TENSOR, method), call)


def is_functional_loss(qualified_name: Optional[str]) -> bool:
    """Whether a ``torch.nn.functional`` function is a loss: one that takes a ``reduction=`` (per its
    signature in the table), so it reduces to one element unless told otherwise."""
    if not qualified_name or not qualified_name.startswith("torch.nn.functional."):
        return False
    parsed = _parse("torch.nn.functional", qualified_name[len("torch.nn.functional."):])
    return parsed is not None and "reduction" in parsed[1]


# ------------------------------------------------------------------------------------------ torch.nn layers
#
# table()["torch.nn"][ClassName]: what torch.nn's layer class is, learned by building and calling it (see
# scripts/gen_torch_semantics.py): "parameters" (true, false, or [bool flag, position, default] that
# switches them), "mode" (its output differs between train() and eval(); the arguments that stop that),
# "tuple" (its forward returns a tuple), "same_numel" (a parameter-free layer keeping its input's numel).

_NN_PREFIX = "torch.nn."


def layer(class_name: Optional[str]) -> Optional[dict]:
    """The table's entry of a ``torch.nn.X`` class (None: not a torch.nn layer the table knows)."""
    if not class_name or not class_name.startswith(_NN_PREFIX) or class_name.count(".") != 2:
        return None
    return table().get("torch.nn", {}).get(class_name[len(_NN_PREFIX):])


def layer_parameters(class_name: Optional[str]) -> Optional[bool]:
    """Whether the torch.nn layer class certainly holds parameters whatever its arguments (True), certainly
    holds none (False), or its class alone does not say (None: a flag switches them, a container)."""
    found = layer(class_name)
    held = found.get("parameters") if found is not None else None
    return held if isinstance(held, bool) else None


def layer_parameter_switch(class_name: Optional[str]) -> Optional[Tuple[str, int, bool]]:
    """(flag, its position, its default) of a layer whose parameters a bool constructor flag switches
    (``BatchNorm2d``'s ``affine``, ``LayerNorm``'s ``elementwise_affine``), else None."""
    found = layer(class_name)
    held = found.get("parameters") if found is not None else None
    return (held[0], held[1], held[2]) if isinstance(held, list) else None


def layer_changes_with_mode(class_name: Optional[str], call: cst.Call) -> bool:
    """Whether the layer ``call`` builds behaves differently in train() and eval() (dropout, batch
    statistics): its class does with default arguments, and the call does not give one of the arguments
    that stop it the value that does (``Dropout(0.0)``, ``BatchNorm1d(8, track_running_stats=False)``)."""
    found = layer(class_name)
    if found is None or "mode" not in found:
        return False
    for name, position, value in found["mode"]:
        given = None
        for index, arg in enumerate(call.args):
            if (arg.keyword is None and not arg.star and index == position) or \
                    (arg.keyword is not None and arg.keyword.value == name):
                given = arg.value
        if given is not None and _literal_equals(given, value):
            return False
    return True


def _literal_equals(expression: cst.BaseExpression, value) -> bool:
    if isinstance(value, bool):
        return type(expression) is cst.Name and expression.value == str(value)
    if type(expression) in (cst.Integer, cst.Float):
        try:
            return float(expression.evaluated_value) == float(value)
        except (TypeError, ValueError):
            return False
    return False


def layer_returns_tuple(class_name: Optional[str]) -> bool:
    """Whether the torch.nn layer's forward returns a tuple (LSTM, MultiheadAttention ...)."""
    found = layer(class_name)
    return found is not None and found.get("tuple") is True


def layer_keeps_numel(class_name: Optional[str]) -> bool:
    """Whether the torch.nn layer holds no parameters and its output has as many elements as its one input
    (activations, dropout, Identity, Flatten)."""
    found = layer(class_name)
    return found is not None and found.get("same_numel") is True


def functional_follows_mode(qualified_name: Optional[str]) -> bool:
    """Whether a ``torch.nn.functional`` function takes a ``training`` argument (dropout, batch_norm,
    rrelu ...): given ``training=self.training`` it behaves differently in train() and eval()."""
    if not qualified_name or not qualified_name.startswith("torch.nn.functional."):
        return False
    parsed = _parse("torch.nn.functional", qualified_name[len("torch.nn.functional."):])
    return parsed is not None and "training" in parsed[1]


def is_loss_layer(class_name: Optional[str]) -> bool:
    """Whether a ``torch.nn`` class is a loss whose result needs grad exactly when its inputs do: a
    ``*Loss`` the table says holds no parameters (``CrossEntropyLoss``; not ``AdaptiveLogSoftmaxWithLoss``
    or ``LinearCrossEntropyLoss``, which train weights of their own)."""
    return bool(class_name) and class_name.endswith("Loss") and layer_parameters(class_name) is False


def layer_argument_marks(class_name: Optional[str], call: cst.Call) -> Optional[List[str]]:
    """For each argument of a call of a parameter-free torch.nn layer (a loss), whether gradients flow
    into it, like ``function_argument_marks`` (``CrossEntropyLoss()(logits, target)``: target "?")."""
    found = layer(class_name)
    if found is None or "arguments" not in found:
        return None
    key = ("torch.nn", class_name)
    if key not in _parsed:
        text = found["arguments"]
        _parsed[key] = (tuple(t[-1] if t[-1] in _MARKS else "" for t in text.split()),
                        {(t[:-1] if t[-1] in _MARKS else t): (t[-1] if t[-1] in _MARKS else "") for t in text.split()})
    return _marks_of(_parsed[key], call)
