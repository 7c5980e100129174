"""Regenerate autogradlint/analysis/torch_semantics.json from the installed torch (and numpy).

    python scripts/gen_torch_semantics.py           # rewrite the checked-in table
    python scripts/gen_torch_semantics.py --check   # exit 1 when the checked-in table is stale

Which torch operators exist, which are in place and which have ``out=`` overloads comes from the
``native_functions.yaml`` torch ships (``torchgen/packaged/ATen/native``); which outputs autograd never
differentiates comes from its ``derivatives.yaml`` (``output_differentiability``). What the result of a
call is (does it require grad when an input does, is it 0-dim, an integer index, a bool mask, a Python
number, a tuple) is learned by calling each function in torch on small tensors built from its schema:
the facts are torch's own answers, not a hand-written list. ``torch.nn.functional`` (Python code) and
numpy are probed the same way from their signatures.

This script needs torch, torchgen (part of the torch wheel), PyYAML and numpy; the linter does not: it
reads the JSON. It is not part of the installed package.

Flags of an entry (a string of letters):
  g  the result requires grad when a tensor input does (and, like every autograd op, not when none does)
  n  the result never requires grad (an integer/bool result, or outputs autograd does not differentiate)
  s  the result has the shape of its (first) tensor input: elementwise
  r  called with tensor arguments only (no dim), the result is 0-dim: a full reduction; the digit after
     the flags is how many positional arguments (after the receiver, for a method) such a call passes
  I  the result (a tuple: one of its members) is an integer tensor computed from the input: indices
  B  the result is a bool tensor: a mask
  N  the result is a Python number (``.item()``)
  T  the result is a tuple of tensors
  u  (a method) takes no tensor argument besides its receiver: its result depends on the receiver only
  i  in place: changes its first argument (``add_``)
  o  has an ``out=`` overload, which writes into the ``out`` tensor
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Set

TABLE = Path(__file__).resolve().parent.parent / "autogradlint" / "analysis" / "torch_semantics.json"

# never called while probing: they change global state, block, or write files
_NEVER_CALL = {
    "set_", "backward", "register_hook", "share_memory_", "retain_grad", "requires_grad_", "resize_",
    "record_stream", "pin_memory", "storage", "untyped_storage", "numpy", "data_ptr", "new",
    "save", "load", "manual_seed", "seed", "set_default_dtype", "set_default_device", "set_printoptions",
    "set_num_threads", "use_deterministic_algorithms", "set_grad_enabled", "compile", "export", "jit",
}
_NUMPY_NEVER = ("save", "load", "file", "print", "set", "err", "info", "show", "test", "lookfor", "source",
                "who", "memmap", "txt", "regex", "open", "exec", "bufsize", "get_include", "deprecate")


def _yaml(path: Path):
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


def _packaged() -> Path:
    import torchgen

    return Path(torchgen.__file__).resolve().parent / "packaged"


class _Op:
    """What native_functions.yaml and derivatives.yaml say about one public operator name."""

    def __init__(self) -> None:
        self.schemas: List = []
        self.function = False
        self.method = False
        self.in_place = False
        self.has_out = False
        self.never_grad = True  # every overload's outputs are non-differentiable per derivatives.yaml
        self.unary = True  # no overload takes a tensor besides its first argument
        self.module: Optional[str] = None
        # per overload (not out=, not in place): which arguments gradients flow into, from derivatives.yaml
        # (None: the overload has no entry there, a composite whose derivative torch must be asked for)
        self.derivatives: List[Optional[Dict[str, str]]] = []


# keys of a derivatives.yaml entry that are not input names
_DERIVATIVE_KEYS = {"name", "result", "output_differentiability", "dispatch", "manual_cpp_binding"}


def _derivatives() -> Dict[str, Dict[str, str]]:
    """derivatives.yaml: overload name -> {input name: "+" (has a formula: gradients flow into it, also
    ``not_implemented``) or "-" (``non_differentiable``)}. Inputs an entry does not name take no gradient."""
    out: Dict[str, Dict[str, str]] = {}
    for entry in _yaml(_packaged() / "autograd" / "derivatives.yaml"):
        marks: Dict[str, str] = {}
        formulas = dict(entry)
        formulas.update(entry.get("dispatch", {}).get("Default", {}) if isinstance(entry.get("dispatch"), dict) else {})
        for key, formula in formulas.items():
            if key in _DERIVATIVE_KEYS:
                continue
            for name in key.split(","):
                marks[name.strip()] = "-" if str(formula).strip() == "non_differentiable" else "+"
        out[entry["name"].split("(", 1)[0]] = marks
    return out


def _operators() -> Dict[str, _Op]:
    from torchgen.model import FunctionSchema

    packaged = _packaged()
    non_differentiable: Set[str] = set()
    for entry in _yaml(packaged / "autograd" / "derivatives.yaml"):
        flags = entry.get("output_differentiability")
        if flags is not None and not any(flags):
            non_differentiable.add(entry["name"].split("(", 1)[0])
    derivatives = _derivatives()
    ops: Dict[str, _Op] = {}
    for entry in _yaml(packaged / "ATen" / "native" / "native_functions.yaml"):
        schema = FunctionSchema.parse(entry["func"])
        base = schema.name.name.base  # add for add_ too
        if base.startswith("_"):
            continue
        module = entry.get("python_module")
        if module is not None and base.startswith(module + "_"):
            base = base[len(module) + 1:]
        op = ops.setdefault(f"{module or ''}:{base}", _Op())
        op.module = module
        variants = {v.strip() for v in entry.get("variants", "function").split(",")}
        op.function = op.function or "function" in variants
        op.method = op.method or "method" in variants
        if schema.is_out_fn():
            op.has_out = True
            continue
        if schema.name.name.inplace:
            op.in_place = True
            continue
        op.schemas.append(schema)
        op.derivatives.append(derivatives.get(str(schema.name)))
        tensors = [a for a in schema.arguments.flat_all if "Tensor" in str(a.type)]
        if len(tensors) != 1 or tensors[0] is not schema.arguments.flat_all[0]:
            op.unary = False
        overload = str(schema.name)
        if overload not in non_differentiable:
            op.never_grad = False
    return ops


# ------------------------------------------------------------------------------------------ probing


def _value_choices(torch, arg, index: int):
    """Candidate values for one required schema argument (None: cannot build one)."""
    kind = str(arg.type).replace("SymInt", "int")
    if kind in ("Tensor", "Tensor?"):
        return ["tensor"]
    if kind.startswith("Tensor[") or kind == "Tensor?[]":
        return ["tensors"]
    if kind in ("Scalar", "Scalar?"):
        return [2]
    if kind in ("int", "int?"):
        return [1, 0]
    if kind.startswith("int[") and kind.rstrip("?").endswith("]"):
        return [[1, 0], [1], [12]]
    if kind in ("float", "float?"):
        return [0.5]
    if kind in ("bool", "bool?"):
        return [False]
    return None


# tensor shapes tried in turn: only the first (not square, not one element) can show "same shape"
SHAPES = ((3, 4), (4, 4), (4,), (1,), (2, 3, 3))  # the last: batched matrices (bmm, baddbmm, conv1d)


def _build(torch, choice, first: List[bool], shape):
    if choice == "tensor":
        grad = first[0]
        first[0] = False
        return torch.rand(*shape, dtype=torch.float64, requires_grad=grad)
    if choice == "tensors":
        grad = first[0]
        first[0] = False
        return [torch.rand(*shape, dtype=torch.float64, requires_grad=grad), torch.rand(*shape, dtype=torch.float64)]
    return choice


def _argument_sets(torch, schema, method: bool):
    """Argument lists (receiver first for methods) built from the schema's required positional arguments."""
    required = [a for a in schema.arguments.flat_positional if a.default is None]
    choices = []
    for index, arg in enumerate(required):
        found = _value_choices(torch, arg, index)
        if found is None:
            return []
        choices.append(found)
    if method and (not required or str(required[0].type) != "Tensor"):
        return []
    width = max((len(c) for c in choices), default=1)
    sets = []
    for shape in SHAPES:
        for attempt in range(width):
            first = [True]
            sets.append([_build(torch, c[min(attempt, len(c) - 1)], first, shape) for c in choices])
    return sets


def _describe(torch, result, inputs) -> Optional[str]:
    """The flags a result shows, given the inputs (the first tensor input requires grad)."""
    tensor_inputs = [a for a in inputs if isinstance(a, torch.Tensor)]
    if isinstance(result, bool):
        return None
    if isinstance(result, (int, float)):
        return "N"
    if isinstance(result, torch.Tensor):
        flags = ""
        if result.dtype == torch.bool:
            flags += "B"
        elif not result.is_floating_point() and not result.is_complex():
            flags += "I"
        flags += "g" if result.requires_grad else "n"
        if tensor_inputs and tuple(tensor_inputs[0].shape) == SHAPES[0] and result.shape == tensor_inputs[0].shape:
            flags += "s"
        if result.dim() == 0 and tensor_inputs and tensor_inputs[0].dim() > 0 and all(
                isinstance(a, torch.Tensor) or (isinstance(a, list) and all(isinstance(t, torch.Tensor) for t in a))
                for a in inputs):
            flags += "r"
        return flags
    if isinstance(result, tuple) and result and all(isinstance(r, torch.Tensor) for r in result):
        flags = "T"
        if any(not r.is_floating_point() and not r.is_complex() and r.dtype != torch.bool for r in result):
            flags += "I"
        flags += "g" if any(r.requires_grad for r in result) else "n"
        return flags
    return None


def _call(function, args, kwargs=None):
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        return function(*args, **(kwargs or {}))


def _probe(torch, callable_of, argument_sets) -> Optional[str]:
    for args in argument_sets:
        torch.manual_seed(0)
        try:
            function = callable_of(args)
            result = _call(function, args[1:] if getattr(function, "__self__", None) is args[0] else args)
        except Exception:  # noqa: BLE001 - a probe that does not apply is just skipped
            continue
        flags = _describe(torch, result, args)
        if flags is not None:
            return flags
    return None


def _torch_tables(torch):
    functions: Dict[str, object] = {}
    methods: Dict[str, object] = {}
    namespaced: Dict[str, Dict[str, object]] = {}
    for key, op in sorted(_operators().items()):
        name = key.split(":", 1)[1]
        if name in _NEVER_CALL:
            continue
        if op.module in (None, "linalg", "special", "fft"):
            namespace = torch if op.module is None else getattr(torch, op.module, None)
            if op.function and namespace is not None and callable(getattr(namespace, name, None)):
                entry = _entry(torch, op, lambda args, n=name, ns=namespace: getattr(ns, n), method=False,
                               extra="o" if op.has_out else "")
                target = functions if op.module is None else namespaced.setdefault("torch." + op.module, {})
                if entry:
                    target[name] = entry
            if op.module is None and op.method and callable(getattr(torch.Tensor, name, None)):
                entry = _entry(torch, op, lambda args, n=name: getattr(args[0], n), method=True,
                               extra="u" if op.unary else "")
                if entry:
                    methods[name] = entry
        if op.in_place and op.method and callable(getattr(torch.Tensor, name + "_", None)):
            methods[name + "_"] = "i"
        if op.in_place and op.module is None and op.function and callable(getattr(torch, name + "_", None)):
            functions[name + "_"] = "i"
    return functions, methods, namespaced


def _entry(torch, op: _Op, callable_of, method: bool, extra: str):
    """Flags of one operator: a string when every probed overload agrees on its grad flag (g/n), else a
    map from the number of arguments given (positional and keyword; after the receiver, for a method) to that
    arity's flags: an arity missing from the map is not known."""
    by_arity: Dict[str, str] = {}
    arities = set()
    for schema in sorted(op.schemas, key=lambda s: len([a for a in s.arguments.flat_positional if a.default is None])):
        arity = len([a for a in schema.arguments.flat_positional if a.default is None]) - (1 if method else 0)
        arities.add(str(arity))
        if str(arity) in by_arity:
            continue
        flags = _probe(torch, callable_of, _argument_sets(torch, schema, method=method)
                       + _integer_argument_sets(torch, schema, method, grad=True))
        if flags is not None:
            by_arity[str(arity)] = _sorted(_merge(flags, op) + extra)
    if not by_arity:
        flags = _merge("", op) + extra
        return _sorted(flags) if flags else None
    if len(by_arity) == 1 and set(by_arity) == arities:
        # one way to call it: "r" holds for calls with exactly that many positional arguments
        arity, flags = next(iter(by_arity.items()))
        return flags + arity if "r" in flags else flags
    if set(by_arity) == arities and len({_grad_flag(f) for f in by_arity.values()}) == 1:
        common = set.intersection(*(set(f) for f in by_arity.values()))
        if all(set(f) == common for f in by_arity.values()) and "r" not in common:
            return _sorted("".join(common))
    return by_arity


def _grad_flag(flags: str) -> str:
    return "g" if "g" in flags else "n" if "n" in flags else ""


def _merge(flags: Optional[str], op: _Op) -> str:
    """Probed flags, corrected by derivatives.yaml: outputs it declares non-differentiable never need grad."""
    flags = flags or ""
    if op.never_grad and op.schemas:
        flags = flags.replace("g", "")
        if "n" not in flags:
            flags += "n"
    return flags


def _sorted(flags: str) -> str:
    return "".join(sorted(set(flags)))


def _python_tensor_methods(torch, methods: Dict[str, str]) -> None:
    """Tensor methods defined outside native_functions.yaml (``detach``, ``cpu``, ``item`` ...), probed
    with no argument."""
    for name in sorted(dir(torch.Tensor)):
        if name.startswith("_") or name in methods or name in _NEVER_CALL or name.endswith("_"):
            continue
        if not callable(getattr(torch.Tensor, name, None)):
            continue
        flags = _probe(torch, lambda args, n=name: getattr(args[0], n), [[torch.rand(3, 4, dtype=torch.float64, requires_grad=True)]])
        if flags:
            methods[name] = _sorted(flags)


# ------------------------------------------------------------------------------ per-argument differentiability
#
# Which arguments of a call gradients flow into. An entry is a string of space-separated tokens, one per
# parameter in positional order, then "*" and the keyword-only ones (a method's receiver is left out: it is
# always an input). A token is the parameter's name (several overloads naming one position differently:
# "a/b") followed by its mark:
#   +  gradients flow into it: the result requires grad when it does
#   -  never: not a tensor (a dim, a reduction string), an index or mask (derivatives.yaml: no formula,
#      non_differentiable), or torch ignores (or rejects) its requires_grad
#   ?  only its floating form takes gradients; the integer form it is usually given (class indices) cannot
#      (F.cross_entropy's target: class indices, or probabilities, which do take gradients)
#      (no mark) not determined: overloads disagree, or torch could not be asked
# Entries list only functions with at least one argument that takes no gradient ("-" or "?").

def _is_tensor_type(arg) -> bool:
    return "Tensor" in str(arg.type)


def _python_name(name: str, method: bool) -> str:
    return "input" if name == "self" and not method else name


def _grad_of(torch, result) -> Optional[bool]:
    if isinstance(result, torch.Tensor):
        return result.requires_grad
    if isinstance(result, (tuple, list)) and result and all(isinstance(r, torch.Tensor) for r in result):
        return any(r.requires_grad for r in result)
    return None


def _detached(torch, value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, list) and value and all(isinstance(t, torch.Tensor) for t in value):
        return [t.detach().clone() for t in value]
    return value


def _with_grad_on(torch, value):
    """``value`` (a fresh copy) requiring grad; None when it cannot (an integer tensor)."""
    tensors = value if isinstance(value, list) else [value]
    if not all(t.is_floating_point() or t.is_complex() for t in tensors):
        return None
    for t in tensors:
        t.requires_grad_(True)
    return value


def _one_input_marks(torch, call, args, floating=None) -> Dict[int, str]:
    """For each tensor argument of a call that works: does the result require grad when only it does?
    ``floating(index, value)``: floating stand-ins for an integer tensor argument (None: none), asked
    whether its floating form takes gradients ("?"); when none is accepted it takes none ("-")."""
    marks: Dict[int, str] = {}
    for index, value in enumerate(args):
        is_tensor = isinstance(value, torch.Tensor) or (
            isinstance(value, list) and value and all(isinstance(t, torch.Tensor) for t in value))
        if not is_tensor:
            continue
        variant = [_detached(torch, a) for a in args]
        variant[index] = _with_grad_on(torch, variant[index])
        if variant[index] is not None:
            candidates = [variant]
        elif floating is None:
            marks[index] = "-"
            continue
        else:
            # an integer argument cannot require grad; does a floating form of it (probabilities) take one?
            candidates = []
            for stand_in in floating(index, value):
                candidate = [_detached(torch, a) for a in args]
                candidate[index] = stand_in
                candidates.append(candidate)
        mark = "-" if variant[index] is None else None
        for candidate in candidates:
            try:
                torch.manual_seed(0)
                grad = _grad_of(torch, _call(call(candidate), candidate))
            except Exception as error:  # noqa: BLE001
                text = str(error)
                if variant[index] is not None and (
                        "not differentiable with respect to" in text or "does not require grad" in text):
                    mark = "-"
                continue
            if grad is not None:
                mark = ("+" if variant[index] is not None else "?") if grad else "-"
                break
        if mark is not None:
            marks[index] = mark
    return marks


def _probe_schema_marks(torch, callable_of, schema, method: bool) -> Dict[str, str]:
    """Ask torch: each tensor argument of one overload requiring grad alone (composite overloads, which
    derivatives.yaml does not list)."""
    required = [a for a in schema.arguments.flat_positional if a.default is None]
    if method and (not required or required[0].name != "self"):
        return {}
    for args in _argument_sets(torch, schema, method=method) + _integer_argument_sets(torch, schema, method):
        try:
            function = callable_of(args)
            bound = getattr(function, "__self__", None) is args[0]
            _call(function, args[1:] if bound else args)
        except Exception:  # noqa: BLE001
            continue

        def call(variant, n=function):
            bound_to = callable_of(variant)
            if getattr(bound_to, "__self__", None) is variant[0]:
                return lambda *a: bound_to(*a[1:])
            return bound_to
        marks = _one_input_marks(torch, lambda variant: call(variant), args)
        return {required[i].name: mark for i, mark in marks.items()}
    return {}


def _integer_argument_sets(torch, schema, method: bool, grad: bool = False):
    """Argument sets with one tensor argument (a method's: not its receiver) an index (int64 zeros) or a
    mask (bool) of shape (rows, 1): for overloads like ``where(condition, self, other)``,
    ``gather(self, dim, index)`` whose
    probe with floating tensors fails. ``grad``: every floating tensor requires grad (a result that does
    not then never needs grad), else none does."""
    sets = []
    for args in _argument_sets(torch, schema, method=method):
        for index in range(1 if method else 0, len(args)):
            if not isinstance(args[index], torch.Tensor):
                continue
            for dtype in (torch.bool, torch.int64):
                variant = [_detached(torch, a) for a in args]
                # (rows, 1): an index's shape, not its input's, so a result shaped like the index is
                # not taken for an elementwise one; a mask of that shape broadcasts
                shape = args[index].shape
                variant[index] = torch.zeros(*((shape[0], 1) if len(shape) == 2 else shape), dtype=dtype)
                if grad:
                    for a in variant:
                        if isinstance(a, torch.Tensor) and (a.is_floating_point() or a.is_complex()):
                            a.requires_grad_(True)
                sets.append(variant)
    return sets


def _overload_marks(torch, op: _Op, schema, derivatives, callable_of, method: bool) -> Dict[str, str]:
    """name -> mark for every argument of one overload."""
    probed = _probe_schema_marks(torch, callable_of, schema, method) if derivatives is None else {}
    marks: Dict[str, str] = {}
    for arg in schema.arguments.flat_all:
        if not _is_tensor_type(arg):
            marks[arg.name] = "n"  # not a tensor (another overload may take one there)
        elif derivatives is not None:
            marks[arg.name] = derivatives.get(arg.name, "-")
        else:
            marks[arg.name] = probed.get(arg.name, "")
    if op.never_grad:
        marks = {name: "-" for name in marks}
    return marks


def _join_marks(marks) -> str:
    """One mark for a parameter from each overload's: a position no overload takes a tensor at takes no
    gradient; where some do, their marks decide (a number passed there is no grad path anyway)."""
    found = set(marks)
    if found == {"n"}:
        return "-"
    found.discard("n")
    return found.pop() if len(found) == 1 else ""


def _arguments_entry(signatures) -> Optional[str]:
    """One entry from the signatures of every overload: (positional names, keyword-only names, marks)."""
    positional: List[List] = []
    keywords: Dict[str, List[str]] = {}
    for names, keyword_only, marks in signatures:
        for index, name in enumerate(names):
            if index == len(positional):
                positional.append([[], []])
            positional[index][0].append(name)
            positional[index][1].append(marks.get(name, ""))
        for name in keyword_only:
            keywords.setdefault(name, []).append(marks.get(name, ""))
    tokens = ["/".join(sorted(set(names))) + _join_marks(found) for names, found in positional]
    keyword_tokens = [name + _join_marks(found) for name, found in sorted(keywords.items())
                      if not any(name in names for names, _ in positional)]
    if keyword_tokens:
        tokens += ["*", *keyword_tokens]
    if not any(t.endswith(("-", "?")) for t in tokens):
        return None
    return " ".join(tokens)


def _native_arguments(torch, op: _Op, callable_of, method: bool) -> Optional[str]:
    signatures = []
    for schema, derivatives in zip(op.schemas, op.derivatives):
        marks = _overload_marks(torch, op, schema, derivatives, callable_of, method)
        marks = {_python_name(n, method): m for n, m in marks.items()}
        names = [_python_name(a.name, method) for a in schema.arguments.flat_positional
                 if not (method and a.name == "self")]
        keyword_only = [a.name for a in schema.arguments.flat_kwarg_only]
        signatures.append((names, keyword_only, marks))
    return _arguments_entry(signatures) if signatures else None


def _arguments_tables(torch, ops: Dict[str, _Op]):
    """Per-argument differentiability of torch's functions and tensor methods."""
    functions: Dict[str, Dict[str, str]] = {}
    methods: Dict[str, str] = {}
    for key, op in sorted(ops.items()):
        name = key.split(":", 1)[1]
        if name in _NEVER_CALL or not op.schemas:
            continue
        if op.module in (None, "linalg", "special", "fft", "nn"):
            namespace = torch if op.module is None else torch._C._nn if op.module == "nn" \
                else getattr(torch, op.module, None)
            if op.function and namespace is not None and callable(getattr(namespace, name, None)):
                entry = _native_arguments(torch, op, lambda args, n=name, ns=namespace: getattr(ns, n), method=False)
                section = "torch" if op.module is None else "torch._C._nn" if op.module == "nn" \
                    else "torch." + op.module
                if entry:
                    functions.setdefault(section, {})[name] = entry
            if op.module is None and op.method and callable(getattr(torch.Tensor, name, None)):
                entry = _native_arguments(torch, op, lambda args, n=name: getattr(args[0], n), method=True)
                if entry:
                    methods[name] = entry
    return functions, methods


def _functional_arguments(torch, function, args, native: Optional[str]) -> Optional[str]:
    """Per-argument differentiability of one torch.nn.functional function, given arguments it accepts:
    each tensor argument requiring grad alone; integer ones (class indices) also given as floating
    probabilities; parameters whose annotation is not a tensor take none."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return native
    marks: Dict[str, str] = {}
    for parameter in parameters:
        annotation = parameter.annotation
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
        if annotation is inspect.Parameter.empty:
            if isinstance(parameter.default, (str, bool, int, float)) and parameter.default is not None:
                marks[parameter.name] = "-"
        elif "Tensor" not in str(annotation) and "Tensor" not in text:
            marks[parameter.name] = "-"
    if args:
        found = _one_input_marks(torch, lambda variant: function, args, floating=_floating_stand_in(torch, args))
        for index, mark in found.items():
            if mark == "+" and _takes_class_indices(torch, function, args, index):
                mark = "?"
            marks[parameters[index].name] = mark
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword_only = [p.name for p in parameters if p.kind == p.KEYWORD_ONLY]
    return _arguments_entry([(positional, keyword_only, marks)])


def _takes_class_indices(torch, function, args, index: int) -> bool:
    """Whether a floating argument (a target) is also accepted as class indices into the first argument's
    rows (shape (N,) for an (N, C) input, a different shape: not an elementwise value)."""
    first = args[0]
    if index == 0 or not isinstance(first, torch.Tensor) or first.dim() != 2:
        return False
    variant = [_detached(torch, a) for a in args]
    variant[0].requires_grad_(True)
    variant[index] = torch.arange(first.shape[0]) % first.shape[1]
    try:
        _call(function, variant)
    except Exception:  # noqa: BLE001
        return False
    return True


def _floating_stand_in(torch, args):
    """For an integer tensor argument (class indices): probabilities shaped like the first argument, or
    (rows, classes) for a few class counts (the logits a function computes may be narrower)."""
    def stand_ins(index, value):
        first = args[0]
        if index == 0 or not isinstance(first, torch.Tensor) or not first.is_floating_point():
            return []
        shapes = [tuple(first.shape)]
        if value.dim() == 1:
            shapes += [(value.shape[0], k) for k in (2, 3, 4, 5)]
        return [torch.rand(*shape, dtype=first.dtype, requires_grad=True) for shape in dict.fromkeys(shapes)]
    return stand_ins


def _functional_table(torch, native_arguments=None, arguments=None) -> Dict[str, str]:
    """torch.nn.functional: Python functions, probed from their signatures: the input first (requires
    grad), then a float tensor of the same shape, a class-index target or a list of them. ``arguments``
    (a dict) receives each function's per-argument differentiability (``native_arguments``: the entries
    of torch's operators, for functions that are bindings of one)."""
    functional = torch.nn.functional
    table: Dict[str, str] = {}
    native_arguments = native_arguments or {}
    arguments = {} if arguments is None else arguments
    for name in sorted(dir(functional)):
        if name.startswith("_"):
            continue
        function = getattr(functional, name)
        if not inspect.isfunction(function) and not inspect.isbuiltin(function):
            continue
        if getattr(function, "__module__", "") not in ("torch.nn.functional", "torch._C._nn", "torch"):
            if not str(getattr(function, "__module__", "")).startswith("torch"):
                continue
        try:
            parameters = [p for p in inspect.signature(function).parameters.values()
                          if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            count = len(parameters)
        except (TypeError, ValueError):
            count = None
        if name.endswith("_") and not name.startswith("_"):
            table[name] = "i"
            continue
        flags = None
        arity = 0
        working = None
        for build in _functional_argument_sets(torch, count):
            args = build()
            flags = _probe(torch, lambda args, f=function: f, [args])
            if flags is not None:
                arity = len(args)
                working = build()
                break
        native = native_arguments.get("torch._C._nn", {}).get(name) or native_arguments.get("torch", {}).get(name)
        entry = _functional_arguments(torch, function, working, native)
        if entry:
            arguments[name] = entry
        if flags:
            flags = _sorted(flags)
            table[name] = flags + str(arity) if "r" in flags else flags
    return table


def _functional_argument_sets(torch, count: Optional[int]):
    def x():
        return torch.rand(*SHAPES[0], dtype=torch.float64, requires_grad=True)

    def y():
        return torch.rand(*SHAPES[0], dtype=torch.float64)

    def classes():
        return torch.tensor([0, 1, 2])

    def image():
        return torch.rand(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)

    sets = {
        0: [lambda: []],
        1: [lambda: [x()], lambda: [image()]],
        2: [lambda: [x(), y()], lambda: [x(), classes()], lambda: [x(), 2], lambda: [image(), 2],
            lambda: [image(), torch.rand(3, 2, 3, 3, dtype=torch.float64)], lambda: [x(), [1, 1]],
            lambda: [torch.tensor([1, 2]), 4], lambda: [classes(), torch.rand(5, 3, dtype=torch.float64, requires_grad=True)],
            lambda: [x(), torch.rand(2, 4, dtype=torch.float64)]],
        3: [lambda: [x(), y(), y()], lambda: [x(), y(), torch.ones(3)],
            lambda: [x(), y(), classes()], lambda: [x(), torch.rand(2, 4, dtype=torch.float64), torch.rand(2, dtype=torch.float64)]],
    }
    if count is None:
        return [build for arity in (1, 2, 3) for build in sets[arity]]
    return sets.get(count, [])


def _numpy_table() -> Dict[str, str]:
    """numpy functions of one float array: which give indices (I), masks (B) or Python numbers (N), and
    which give float values (f): a value computed through numpy."""
    import numpy

    table: Dict[str, str] = {}
    for name in sorted(dir(numpy)):
        if name.startswith("_") or any(word in name for word in _NUMPY_NEVER):
            continue
        function = getattr(numpy, name)
        if not callable(function) or inspect.isclass(function):
            continue
        array = numpy.random.default_rng(0).random((3, 4))
        try:
            result = _call(function, [array])
        except Exception:  # noqa: BLE001
            continue
        flags = _numpy_flags(numpy, result)
        if flags:
            table[name] = flags
    return table


def _numpy_flags(numpy, result) -> Optional[str]:
    if isinstance(result, tuple) and result and all(isinstance(r, numpy.ndarray) for r in result):
        kinds = {r.dtype.kind for r in result}
        if kinds <= {"i", "u"}:
            return "I"
        return None
    if isinstance(result, (bool, numpy.bool_)):
        return None
    if isinstance(result, numpy.ndarray) or isinstance(result, numpy.generic):
        kind = result.dtype.kind
        if kind in ("i", "u"):
            return "I"
        if kind == "b":
            return "B"
        if kind in ("f", "c"):
            return "f"
    return None


def _containers_table(torch) -> Dict[str, dict]:
    """torch.nn's registering containers: the list/dict methods each lacks (a fix that swaps a plain
    container for it must not break a call of one), and for the dicts the attribute names a key may not
    shadow (``d["train"] = ...`` raises KeyError "attribute 'train' already exists")."""
    nn = torch.nn
    table: Dict[str, dict] = {}
    for name, plain in (("ModuleList", list), ("ModuleDict", dict), ("ParameterList", list), ("ParameterDict", dict)):
        container = getattr(nn, name)
        entry = {"lacks": sorted(m for m in dir(plain) if not m.startswith("_") and not hasattr(container, m))}
        if plain is dict:
            entry["attributes"] = sorted(a for a in dir(container()) if not a.startswith("_"))
        table["torch.nn." + name] = entry
    return table


# ------------------------------------------------------------------------------------------ torch.nn layers
#
# Each torch.nn module class, built with small arguments and called. Its entry (a dict):
#   "parameters": true  holds parameters whatever its arguments (each bool constructor flag tried both
#                       ways); false: holds none whatever its arguments; [flag, position, default]: holds
#                       parameters exactly when that bool flag is true (BatchNorm's affine)
#   "mode": [[argument, position, value], ...]  its output differs between train() and eval() with default
#                       arguments (dropout, batch statistics); each listed argument given that value makes
#                       them the same (Dropout's p=0.0, BatchNorm's track_running_stats=False)
#   "tuple": true       its forward returns a tuple
#   "same_numel": true  (a parameter-free layer) its output has as many elements as its one input, for
#                       every input it accepts (elementwise-like)
#   "arguments": "..."  (a parameter-free layer of several inputs: a loss) its forward's per-argument
#                       differentiability, as in the "arguments" section (CrossEntropyLoss: "input+ target?")
# A container (Sequential, ModuleList, DataParallel) has no "parameters": it holds what it is given.

# constructor arguments for classes the generic probe (every required argument 4) cannot build: probe
# inputs only, the facts are what torch then does
def _special_constructors(nn):
    return {
        "AdaptiveLogSoftmaxWithLoss": lambda **k: nn.AdaptiveLogSoftmaxWithLoss(4, 8, [2], **k),
        "FractionalMaxPool2d": lambda **k: nn.FractionalMaxPool2d(2, output_ratio=0.5, **k),
        "FractionalMaxPool3d": lambda **k: nn.FractionalMaxPool3d(2, output_ratio=0.5, **k),
        "TransformerEncoder": lambda **k: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2), 1, **k),
        "TransformerDecoder": lambda **k: nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2), 1, **k),
        "Unflatten": lambda **k: nn.Unflatten(1, (2, 2), **k),
        "MultiheadAttention": lambda **k: nn.MultiheadAttention(4, 2, **k),
        "Transformer": lambda **k: nn.Transformer(4, 2, 1, 1, 8, **k),
        "TransformerEncoderLayer": lambda **k: nn.TransformerEncoderLayer(4, 2, 8, **k),
        "TransformerDecoderLayer": lambda **k: nn.TransformerDecoderLayer(4, 2, 8, **k),
    }


def _constructor_of(nn, name: str):
    cls = getattr(nn, name)
    special = _special_constructors(nn).get(name)
    if special is not None:
        return special
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    required = [p for p in parameters if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for count in (len(required), 2, 3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cls(*[4] * count)
        except Exception:  # noqa: BLE001
            continue
        return lambda n=count, **k: cls(*[4] * n, **k)
    return None


def _bool_flags(cls):
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    return [(index, p) for index, p in enumerate(parameters) if isinstance(p.default, bool)]


def _has_parameters(build, **kwargs) -> Optional[bool]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return any(True for _ in build(**kwargs).parameters())
    except Exception:  # noqa: BLE001
        return None


# input shapes: their sizes differ from the constructor's 4s, so a module that shapes its output by
# them (an adaptive pool, a linear layer) is not taken for an elementwise one
_LAYER_INPUT_SHAPES = ((2, 4), (2, 3, 4), (2, 4, 6, 6), (2, 4, 6, 6, 6), (3, 5), (2, 3, 7), (2, 3, 5, 5), (2, 3, 5, 5, 5))


def _layer_calls(torch, module):
    """(inputs, output) of each input shape the module accepts."""
    found = []
    for shape in _LAYER_INPUT_SHAPES:
        torch.manual_seed(0)
        for inputs in ([torch.randn(*shape)], [torch.randn(*shape)] * 2, [torch.randn(*shape)] * 3,
                       [torch.randn(*shape), torch.zeros(shape[0], dtype=torch.long)]):
            try:
                torch.manual_seed(0)
                output = _call(module, inputs)
            except Exception:  # noqa: BLE001
                continue
            found.append((inputs, output))
            break
    return found


def _holds_what_it_is_given(nn, cls) -> bool:
    """A container or wrapper (Sequential, ModuleList, DataParallel, Container ...): it holds the layers
    or parameters it is built from (it has a length, wraps a ``module``, or takes layers as keywords);
    what it holds is not its class's fact."""
    if hasattr(cls, "__len__"):
        return True
    try:
        if "module" in inspect.signature(cls.__init__).parameters:
            return True
    except (TypeError, ValueError):
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return any(True for _ in cls(a=nn.Linear(2, 2)).parameters())
    except Exception:  # noqa: BLE001
        return False


def _changes_with_mode(torch, module, inputs) -> Optional[bool]:
    """Whether a module's output differs between train() and eval() on ``inputs`` (None: cannot say)."""
    outputs = []
    for train in (True, False):
        module.train(train)
        torch.manual_seed(0)
        try:
            output = _call(module, [i.clone() for i in inputs])  # fresh: an in-place layer changes them
        except Exception:  # noqa: BLE001
            return None
        if not isinstance(output, torch.Tensor):
            return None
        outputs.append(output)
    return outputs[0].shape != outputs[1].shape or not torch.allclose(outputs[0], outputs[1], equal_nan=True)


def _mode_switches(torch, nn, name: str, build, inputs) -> list:
    """The constructor arguments that, given 0 (a float probability) or the opposite of their default (a
    bool), make a mode-dependent layer behave the same in train() and eval()."""
    found = []
    try:
        parameters = list(inspect.signature(getattr(nn, name).__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return found
    for index, parameter in enumerate(parameters):
        if isinstance(parameter.default, bool):
            value = not parameter.default
        elif isinstance(parameter.default, float) and 0.0 < parameter.default < 1.0:
            value = 0.0
        else:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = build(**{parameter.name: value})
        except Exception:  # noqa: BLE001
            continue
        if _changes_with_mode(torch, module, inputs) is False:
            found.append([parameter.name, index, value])
    return found


def _built_from_layers(nn, cls) -> bool:
    """A class built from another layer (TransformerEncoder from its encoder_layer): how it behaves in
    train() and eval() is that layer's, not its class's."""
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return False
    for parameter in parameters:
        annotation = parameter.annotation
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        found = getattr(nn, text, None)
        if inspect.isclass(found) and issubclass(found, nn.Module):
            return True
    return False


def _layer_arguments(torch, module, inputs) -> Optional[str]:
    """Per-argument differentiability of a parameter-free layer's forward (a loss: its target), asked of
    torch like a torch.nn.functional function's."""
    try:
        parameters = [p for p in inspect.signature(module.forward).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return None
    if len(parameters) < len(inputs):
        return None
    args = [i.detach().clone() for i in inputs]
    found = _one_input_marks(torch, lambda variant: module, args, floating=_floating_stand_in(torch, args))
    marks: Dict[str, str] = {}
    for index, mark in found.items():
        if mark == "+" and _takes_class_indices(torch, module, args, index):
            mark = "?"
        marks[parameters[index].name] = mark
    return _arguments_entry([([p.name for p in parameters], [], marks)])


def _modules_table(torch) -> Dict[str, dict]:
    nn = torch.nn
    table: Dict[str, dict] = {}
    names = sorted(n for n in dir(nn) if not n.startswith("_") and inspect.isclass(getattr(nn, n))
                   and issubclass(getattr(nn, n), nn.Module) and n != "RNNBase")
    for name in names:
        torch.manual_seed(0)
        build = _constructor_of(nn, name)
        if build is None:
            continue
        default = _has_parameters(build)
        if default is None:
            continue
        entry: dict = {}
        switches = []
        for index, parameter in _bool_flags(getattr(nn, name)):
            flipped = _has_parameters(build, **{parameter.name: not parameter.default})
            if flipped is not None and flipped != default:
                switches.append((index, parameter))
        if not switches and not (not default and _holds_what_it_is_given(nn, getattr(nn, name))):
            entry["parameters"] = default
        elif len(switches) == 1:
            index, parameter = switches[0]
            entry["parameters"] = [parameter.name, index, parameter.default]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = build()
        except Exception:  # noqa: BLE001
            module = None
        calls = _layer_calls(torch, module) if module is not None else []
        if calls:
            inputs, output = calls[0]
            if isinstance(output, tuple):
                entry["tuple"] = True
            elif _changes_with_mode(torch, module, inputs) and not _built_from_layers(nn, getattr(nn, name)):
                entry["mode"] = _mode_switches(torch, nn, name, build, inputs)
            if entry.get("parameters") is False and all(
                    len(i) == 1 and isinstance(o, torch.Tensor) and o.numel() == i[0].numel() for i, o in calls):
                entry["same_numel"] = True
            if len(inputs) > 1 and entry.get("parameters") is False:
                arguments = _layer_arguments(torch, module, inputs)
                if arguments:
                    entry["arguments"] = arguments
        if entry:
            table[name] = entry
    return table


def build_table() -> dict:
    import torch

    torch.set_default_dtype(torch.float32)
    functions, methods, namespaced = _torch_tables(torch)
    _python_tensor_methods(torch, methods)
    function_arguments, method_arguments = _arguments_tables(torch, _operators())
    functional_arguments: Dict[str, str] = {}
    functional = _functional_table(torch, function_arguments, functional_arguments)
    arguments = {section: entries for section, entries in function_arguments.items() if section != "torch._C._nn"}
    arguments["Tensor"] = method_arguments
    arguments["torch.nn.functional"] = functional_arguments
    table = {
        "about": "generated by scripts/gen_torch_semantics.py from torch's native_functions.yaml, derivatives.yaml "
                 "and calls of each function; flags are documented there",
        "torch_version": torch.__version__.split("+", 1)[0],
        "torch": functions,
        "Tensor": methods,
        "torch.nn.functional": functional,
        "containers": _containers_table(torch),
        "torch.nn": _modules_table(torch),
        "arguments": dict(sorted(arguments.items())),
    }
    table.update(sorted(namespaced.items()))
    try:
        table["numpy"] = _numpy_table()
    except ImportError:
        table["numpy"] = {}
    return table


def dumps(table: dict) -> str:
    """The checked-in text: one line per section, keys sorted, so diffs stay readable."""
    lines = ["{"]
    items = list(table.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        lines.append(f"{json.dumps(key)}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in table differs")
    parser.add_argument("--output", type=Path, default=TABLE)
    options = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    text = dumps(build_table())
    if options.check:
        current = options.output.read_text(encoding="utf-8") if options.output.exists() else ""
        if current != text:
            print(f"{options.output} is stale: run scripts/gen_torch_semantics.py", file=sys.stderr)
            return 1
        return 0
    options.output.write_text(text, encoding="utf-8")
    print(f"wrote {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
