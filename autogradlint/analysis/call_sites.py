"""What flows into a function's parameters: the arguments of every call site, in the same file and in the
project's other files.

A parameter's value is known from its call sites only under a strict policy (anything else: unknown):

- the function is a module-level ``def`` (or the ``__init__`` of a module-level class, for the calls of
  the class), its name is bound once in the module, and it is not decorated (grad-mode decorators aside,
  which pass their arguments through; a class must have no decorators, metaclass or ``__new__``);
- every read of its name is the callee of a call: passed as a value (``map(f, xs)``, ``callbacks=[f]``),
  stored, or listed in ``__all__``, it escapes to code we cannot see;
- a public function (no leading underscore) of a package module (a file next to an ``__init__.py``) may
  be called from other files of the project or from its users: its call sites here are not all of them;
- there is at least one call, and no call unpacks ``*args``/``**kwargs`` or leaves the parameter to its
  default: every call site must say what the parameter receives;
- the project's other files that import it are callers too (``analysis.project``: ``from engine import
  evaluate; evaluate(Net(), x)`` describes its arguments; for a private function of a package module, a file
  that may call it only makes it unknown); when one of them lets it escape (passed as a
  value, re-exported, star-imported, mentioned by a notebook or a file that does not parse, imported from a
  module of its name we cannot resolve), nothing is known. A project too large to read gives no claim from
  other files (the file's own calls alone speak, as for a file outside any project).

The analyses then ask what every argument holds, and keep a fact only when all agree.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import libcst as cst

from autogradlint.walk import nodes_of

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

_GRAD_MODE_DECORATORS = frozenset({
    "torch.no_grad", "torch.enable_grad", "torch.inference_mode", "torch.autograd.no_grad",
    "torch.autograd.enable_grad", "torch.autograd.inference_mode", "torch.autograd.grad_mode.no_grad",
    "torch.autograd.grad_mode.enable_grad", "torch.autograd.grad_mode.inference_mode",
})


class _Callable:
    __slots__ = ("name", "node", "params", "skip", "calls", "escaped")

    def __init__(self, name: str, node: cst.FunctionDef, skip: int) -> None:
        self.name = name  # the module-level name it is called by
        self.node = node
        self.params = [*node.params.posonly_params, *node.params.params]
        self.skip = skip  # 1 for ``__init__`` called through its class: ``self`` is not an argument
        self.calls: List[cst.Call] = []
        self.escaped = False


class CallSites:
    """The call sites of the file's module-level functions and classes (built once per file)."""

    def __init__(self, context: "LintContext") -> None:
        self._by_param: Dict[int, Tuple[_Callable, str, Optional[int]]] = {}
        self._context = context
        self._names: Tuple[str, ...] = ()
        candidates: Dict[str, Tuple[_Callable, cst.CSTNode]] = {}
        module_bindings = context.names.module_scope.bindings
        exported = _all_names(context.module)
        package_module = _is_package_module(context.path)
        for statement in context.module.body:
            statement_type = type(statement)
            if statement_type is not cst.FunctionDef and statement_type is not cst.ClassDef:
                continue
            name = statement.name.value
            if len(module_bindings.get(name, ())) != 1 or name in exported:
                continue
            if package_module and not name.startswith("_"):
                continue
            if statement_type is cst.FunctionDef:
                if not all(is_grad_mode_decorator(context, d) for d in statement.decorators):
                    continue
                function, skip = statement, 0
            else:
                if statement.decorators or statement.keywords:
                    continue
                function = _own_init(statement)
                if function is None:
                    continue
                skip = 1
            callable_ = _Callable(name, function, skip)
            candidates[name] = (callable_, statement)
            self._index_params(callable_)
        if not candidates:
            return
        self._names = tuple(sorted(candidates))
        names = context.names
        called: set = set()
        for call in nodes_of(context.module, (cst.Call,)):
            func = call.func
            if type(func) is cst.Name and func.value in candidates:
                callable_, statement = candidates[func.value]
                binding = names.binding_of(func)
                if binding is not None and binding.node is statement:
                    callable_.calls.append(call)
                    called.add(id(func))
        ignored = set(called)
        for node in nodes_of(context.module, (cst.Attribute, cst.FunctionDef, cst.ClassDef)):
            if type(node) is cst.Attribute:
                ignored.add(id(node.attr))
            else:
                ignored.add(id(node.name))
        for node in nodes_of(context.module, (cst.Name,)):
            if node.value in candidates and id(node) not in ignored:
                candidates[node.value][0].escaped = True  # read as a value, not called

    def _index_params(self, callable_: _Callable) -> None:
        node = callable_.node
        for position, param in enumerate(callable_.params):
            if position < callable_.skip:
                continue
            self._by_param[id(param)] = (callable_, param.name.value, position)
        for param in node.params.kwonly_params:
            self._by_param[id(param)] = (callable_, param.name.value, None)

    def arguments(self, param: cst.Param) -> Optional[List[cst.BaseExpression]]:
        """The expressions every call site of the same file passes to ``param`` (in the callers' scopes), or
        None when the policy above does not let the call sites speak for it, or when other files of the
        project call the function too."""
        found = self.all_arguments(param)
        if found is None or not found.local:
            return None
        # only whether other files may call it matters here: they are not summarised
        return found.local if self._remote(found._callable, parse=False) == [] else None

    def all_arguments(self, param: cst.Param) -> Optional["CallArguments"]:
        """What every call site passes to ``param``: the expressions of this file's calls, and (asked for
        only when they are needed: it reads the project) the descriptions of the arguments of the project's
        other files' calls; None when a call of this file already says nothing."""
        found = self._by_param.get(id(param))
        if found is None:
            return None
        callable_, name, position = found
        if callable_.escaped:
            return None
        keyword_ok = not any(p is param for p in callable_.node.params.posonly_params)
        index = None if position is None else position - callable_.skip
        out: List[cst.BaseExpression] = []
        for call in callable_.calls:
            value = _argument(call, name, index, keyword_ok)
            if value is None:
                return None
            out.append(value)
        return CallArguments(self, callable_, name, index, keyword_ok, out)

    def _remote(self, callable_: _Callable, parse: bool = True) -> Optional[list]:
        """The calls the project's other files make of it ([] when none are seen), None when unknown."""
        path = self._context.path
        if not path or path == "-" or not path.endswith(".py") or not os.path.isfile(path):
            return []  # not a module other files can import (stdin, a notebook, a source not on disk)
        from autogradlint.analysis.project import project_of, remote_calls

        if parse and _is_package_module(path):
            # a private function of a package module: another file that may call it makes it unknown, but its
            # callers are not summarised (a package's many modules would cost a parse each for little)
            parse = False
        return remote_calls(project_of(self._context), callable_.name, self._names, parse)


class CallArguments:
    """The arguments a parameter gets: ``local``, the expressions of this file's calls; ``remote()``, the
    descriptions (see ``analysis.project``) of what the project's other files pass, [] when they do not call
    it, None when unknown (also when no call passes anything at all)."""

    __slots__ = ("_sites", "_callable", "_name", "_index", "_keyword_ok", "local", "_remote")

    def __init__(self, sites: "CallSites", callable_: _Callable, name: str, index: Optional[int], keyword_ok: bool,
                 local: List[cst.BaseExpression]) -> None:
        self._sites = sites
        self._callable = callable_
        self._name = name
        self._index = index
        self._keyword_ok = keyword_ok
        self.local = local
        self._remote: object = ()

    def remote(self) -> Optional[List[dict]]:
        if self._remote == ():
            self._remote = self._compute()
        return self._remote  # type: ignore[return-value]

    def _compute(self) -> Optional[List[dict]]:
        calls = self._sites._remote(self._callable)
        if calls is None or not (self.local or calls):
            return None
        described: List[dict] = []
        for call in calls:
            description = _described_argument(call, self._name, self._index, self._keyword_ok)
            if description is None:
                return None
            described.append(description)
        return described


def _argument(call: cst.Call, name: str, position: Optional[int], keyword_ok: bool) -> Optional[cst.BaseExpression]:
    index = 0
    found = None
    for arg in call.args:
        if arg.star:
            return None  # *args/**kwargs: which parameter gets what is not known
        if arg.keyword is None:
            if position is not None and index == position:
                found = arg.value
            index += 1
        elif arg.keyword.value == name and keyword_ok:
            found = arg.value
    return found


def _described_argument(call: dict, name: str, position: Optional[int], keyword_ok: bool) -> Optional[dict]:
    """The description another file's call gives the parameter (None: unknown or left to its default)."""
    positional_ = call.get("a") or []
    found = positional_[position] if position is not None and position < len(positional_) else None
    if keyword_ok and name in (call.get("k") or {}):
        found = call["k"][name]
    return found


def _own_init(klass: cst.ClassDef) -> Optional[cst.FunctionDef]:
    if type(klass.body) is not cst.IndentedBlock:
        return None
    inits = []
    for statement in klass.body.body:
        if type(statement) is cst.FunctionDef:
            if statement.name.value == "__new__":
                return None
            if statement.name.value == "__init__":
                inits.append(statement)
    if len(inits) != 1 or inits[0].decorators:
        return None
    return inits[0]


def is_grad_mode_decorator(context: "LintContext", decorator: cst.Decorator) -> bool:
    """Whether a decorator is ``no_grad``/``enable_grad``/``inference_mode`` (which pass arguments and
    results through unchanged)."""
    expression = decorator.decorator
    if type(expression) is cst.Call:
        expression = expression.func
    if type(expression) not in (cst.Name, cst.Attribute):
        return False
    return context.qualified_name(expression) in _GRAD_MODE_DECORATORS


def _all_names(module: cst.Module) -> set:
    """The strings of a module-level ``__all__`` (any name in it may be used by code we cannot see)."""
    names: set = set()
    for statement in module.body:
        if type(statement) is not cst.SimpleStatementLine:
            continue
        for small in statement.body:
            targets = ([t.target for t in small.targets] if type(small) is cst.Assign
                       else [small.target] if type(small) in (cst.AugAssign, cst.AnnAssign) else [])
            if any(type(t) is cst.Name and t.value == "__all__" for t in targets):
                value = getattr(small, "value", None)
                for node in nodes_of(value, (cst.SimpleString,)) if value is not None else ():
                    text = node.value.strip("'\"rbuRBU")
                    names.add(text)
    return names


def _is_package_module(path: str) -> bool:
    """A file that sits in a package (next to an ``__init__.py``): its public functions may be imported."""
    directory = os.path.dirname(os.path.abspath(path)) if path and path != "-" else ""
    return bool(directory) and os.path.isfile(os.path.join(directory, "__init__.py"))


_KEY = "call_sites"


def call_sites(context: "LintContext") -> CallSites:
    """The file's call-site index (built on first use, then shared)."""
    found = context.facts.get(_KEY)
    if found is None:
        found = context.facts[_KEY] = CallSites(context)
    return found


def parameter_arguments(context: "LintContext", param: cst.Param) -> Optional[List[cst.BaseExpression]]:
    """What every call site of the same file passes to ``param`` (see the module's policy), or None (also when
    other files of the project call the function: see ``all_parameter_arguments``)."""
    return call_sites(context).arguments(param)


def all_parameter_arguments(context: "LintContext", param: cst.Param) -> Optional[CallArguments]:
    """What every call site, in this file and in the project's other files, passes to ``param``: this file's
    expressions and the other files' argument descriptions (see ``analysis.project``); None when unknown."""
    return call_sites(context).all_arguments(param)


# ------------------------------------------------------------------------------------------------
# the arguments of one call


def keyword(call: cst.Call, name: str) -> Optional[cst.Arg]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call):
    return [a for a in call.args if a.keyword is None and not a.star]


def bool_literal(expression: Optional[cst.BaseExpression]) -> Optional[bool]:
    if type(expression) is cst.Name and expression.value in ("True", "False"):
        return expression.value == "True"
    return None
