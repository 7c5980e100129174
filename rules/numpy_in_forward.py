from typing import Dict, List, Optional, Set

import libcst as cst

from autogradlint.analysis.grad_mode import GRAD_OFF, decorator_mode
from autogradlint.analysis.loops import data_names, own_statements
from autogradlint.analysis.modules import is_module_class, module_attributes
from autogradlint.analysis.names import target_names
from autogradlint.analysis.torch_semantics import is_index_computation
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import iter_tree

# numpy functions that compute values a gradient would flow through (index-valued ones like argmax are not)
DIFFERENTIABLE_NUMPY = frozenset(
    {
        "exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sqrt", "square", "power", "abs", "absolute",
        "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin", "arccos", "arctan", "arctan2", "maximum",
        "minimum", "clip", "sum", "mean", "prod", "cumsum", "cumprod", "dot", "matmul", "multiply", "add",
        "subtract", "divide", "true_divide", "negative", "reciprocal", "std", "var", "max", "min", "amax",
        "amin", "einsum", "tensordot", "outer", "concatenate", "stack", "hstack", "vstack", "transpose",
        "reshape", "squeeze", "expand_dims", "array", "asarray", "copy", "norm", "fft", "ifft", "rfft", "irfft",
        "interp", "convolve", "sort", "flip", "roll", "tile", "repeat", "where",
    }
)
# tensor methods that keep the values (and, before ``.numpy()``, lead to the same numbers)
_VALUE_METHODS = frozenset({"detach", "cpu", "clone", "contiguous", "float", "double", "half", "squeeze", "view", "tolist",
                            "reshape", "flatten", "to", "t"})


def _method_root(expression: cst.BaseExpression) -> cst.BaseExpression:
    """``h`` for ``h.detach().cpu()``: the tensor a chain of value-keeping methods starts from."""
    while (isinstance(expression, cst.Call) and isinstance(expression.func, cst.Attribute)
           and expression.func.attr.value in _VALUE_METHODS):
        expression = expression.func.value
    return expression


class NumpyInForward(Rule):
    """
    ## What it does
    Flags, inside `forward` of an `nn.Module` subclass, a tensor computed by the module's trainable
    layers that is turned into numpy (`h.detach().numpy()`, `h.cpu().numpy()`, `np.tanh(h)`) when the
    numpy result becomes (part of) the returned output. Index computations (`np.argsort`, `np.argmax`,
    `np.nonzero`, `torch.topk(...).indices`, comparisons: whatever torch's and numpy's own tables say
    returns integers or a mask), values only used to index, and forwards under `no_grad` are not flagged.

    ## Why is this bad?
    numpy is invisible to autograd: the value that comes back (`torch.from_numpy(...)`) has no `grad_fn`,
    so no gradient reaches this module's layers or any earlier layer; without `.detach()`,
    `.numpy()` raises "Can't call numpy() on Tensor that requires grad".

    ## Example
    ```python
    def forward(self, x):
        h = self.linear(x)
        return torch.from_numpy(np.tanh(h.detach().numpy()))
    ```

    ## Use instead
    ```python
    def forward(self, x):
        return torch.tanh(self.linear(x))
    ```

    ## Fix safety
    No fix: the `torch.*` equivalent has to be chosen by hand.
    """

    code = "GL313"
    name = "numpy-in-forward"
    severity = "error"
    message = ("the forward output is computed through numpy: it has no grad_fn, so no gradient reaches this "
               "module's layers. Use the torch equivalent")
    triggers = ("numpy", "np.")
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nimport numpy as np\nclass M(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.fc = torch.nn.Linear(4, 4)\n    def forward(self, x):\n        return torch.tanh(self.fc(x))\n"),
        Valid("import torch\nimport numpy as np\nclass Nms(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.head = torch.nn.Linear(4, 5)\n    def forward(self, x):\n        boxes = self.head(x)\n"
              "        keep = np.argsort(boxes[:, 4].detach().numpy())\n        return boxes[torch.from_numpy(keep)]\n",
              "numpy only picks indices"),
        Valid("import torch\nimport numpy as np\nclass ToTensor(torch.nn.Module):\n    def forward(self, img):\n"
              "        return torch.from_numpy(np.clip(img.numpy(), 0, 1))\n", "a preprocessing module without layers"),
        Valid("import torch\nimport numpy as np\nclass M(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.fc = torch.nn.Linear(4, 4)\n    @torch.no_grad()\n    def forward(self, x):\n"
              "        return torch.from_numpy(np.tanh(self.fc(x).numpy()))\n", "a no_grad forward"),
        Valid("import torch\nimport numpy as np\nclass M(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.fc = torch.nn.Linear(4, 4)\n    def forward(self, x):\n        h = self.fc(x)\n"
              "        self.stats = np.mean(h.detach().numpy())\n        return h\n", "numpy only for statistics"),
        Valid("import torch\nimport numpy as np\nclass Ranker(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.fc = torch.nn.Linear(4, 4)\n    def forward(self, x):\n        h = self.fc(x)\n"
              "        order = np.argsort(h.detach().cpu().numpy())\n        idx = torch.from_numpy(order)\n"
              "        return torch.gather(h, 1, idx)\n", "argsort indices gather values that keep their graph"),
        Valid("import numpy as np\nclass Layer:\n    def forward(self, x):\n        h = self.fc(x)\n        return np.tanh(h)\n",
              "not a torch module"),
    )
    invalid = (
        Invalid("import torch\nimport numpy as np\nclass M(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.fc = torch.nn.Linear(4, 4)\n    def forward(self, x):\n        h = self.fc(x)\n"
                "        return torch.from_numpy(np.tanh(h.detach().numpy()))\n", 9, 41),
        Invalid("import torch\nfrom torch import nn\nimport numpy\nclass Head(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.proj = nn.Conv2d(3, 8, 3)\n    def forward(self, x):\n        y = self.proj(x)\n        y = numpy.exp(y)\n"
                "        return torch.as_tensor(y)\n", 10, 13),
        Invalid("import torch\nimport torch.nn as nn\nimport numpy as np\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.enc = nn.Sequential(nn.Linear(4, 8), nn.ReLU())\n    def forward(self, x):\n        feats = self.enc(x)\n"
                "        arr = feats.cpu().numpy()\n        arr = arr / np.linalg.norm(arr, axis=1, keepdims=True)\n"
                "        out = torch.tensor(arr)\n        return out\n", 10, 15),
        Invalid("import torch\nimport numpy as np\nclass Scale(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.w = torch.nn.Parameter(torch.ones(4))\n    def forward(self, x):\n        z = x * self.w\n"
                "        if self.training:\n            z = z + 1\n        return torch.from_numpy(np.maximum(z.detach().numpy(), 0))\n", 11, 44),
    )
    evidence = Evidence(
        bad=("import torch\nimport numpy as np\nclass NumpyTanh(torch.nn.Module):\n    def __init__(self):\n"
             "        super().__init__()\n        self.lin = torch.nn.Linear(3, 3)\n    def forward(self, x):\n        h = self.lin(x)\n"
             "        return torch.from_numpy(np.tanh(h.detach().numpy()))\n"
             "model = NumpyTanh()\nmodel(torch.randn(2, 3)).sum().backward()\n"),
        bad_shows=Outcome(raises="RuntimeError", message="does not require grad and does not have a grad_fn"),
        good=("import torch\nclass TorchTanh(torch.nn.Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.lin = torch.nn.Linear(3, 3)\n    def forward(self, x):\n"
              "        return torch.tanh(self.lin(x))\n"
              "model = TorchTanh()\nmodel(torch.randn(2, 3)).sum().backward()\nprint(model.lin.weight.grad is not None)\n"),
        good_shows=Outcome(stdout="True"),
    )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value != "forward":
            return
        ancestors = self.context.ancestors
        if len(ancestors) < 2 or not isinstance(ancestors[-2], cst.ClassDef):
            return
        klass = ancestors[-2]
        if is_module_class(self.context, klass) is not True or decorator_mode(self.context, node) in GRAD_OFF:
            return
        for exit_call in _ForwardFlow(self, klass).returned_exits(node):
            self.report(exit_call)


class _ForwardFlow:
    """Follows one forward body in source order: which names hold tensors computed by the module's
    trainable layers (``tracked``), and which hold values that went through numpy (``through_numpy``,
    with the calls where they left torch)."""

    def __init__(self, rule: NumpyInForward, klass: cst.ClassDef) -> None:
        self.context = rule.context
        self.attributes = module_attributes(rule.context, klass)
        self.tracked: Set[str] = set()
        self.through_numpy: Dict[str, List[cst.Call]] = {}

    def returned_exits(self, function: cst.FunctionDef) -> List[cst.Call]:
        reported: List[cst.Call] = []
        for statement in own_statements(function.body):
            if isinstance(statement, (cst.Assign, cst.AnnAssign, cst.AugAssign)) and statement.value is not None:
                self._assign(statement)
            elif isinstance(statement, cst.Return) and statement.value is not None:
                for exit_call in self._numpy_sources(statement.value):
                    if exit_call not in reported:
                        reported.append(exit_call)
        return reported

    def _assign(self, statement: cst.CSTNode) -> None:
        names = [n for t in getattr(statement, "targets", ()) for n in target_names(t.target)]
        if not isinstance(statement, cst.Assign):
            names = target_names(statement.target)
        value = statement.value
        if is_index_computation(self.context, value):
            sources, carries = [], False  # indices or a mask: they select values, no gradient flows through them
        else:
            sources = self._numpy_sources(value)
            carries = self._carries_graph(value)
        for name in names:
            if isinstance(statement, cst.AugAssign):
                sources = sources + self.through_numpy.get(name, [])
                carries = carries or name in self.tracked
            self.tracked.discard(name)
            self.through_numpy.pop(name, None)
            if sources and not self._is_layer_call(value):
                self.through_numpy[name] = sources
            elif carries:
                self.tracked.add(name)

    def _numpy_sources(self, expression: cst.BaseExpression) -> List[cst.Call]:
        """Calls in ``expression`` where a tracked tensor leaves torch, plus those behind names it reads
        that went through numpy; not counting what only feeds a layer call or an index."""
        found: List[cst.Call] = []
        skipped = set()
        for node in iter_tree(expression):
            if id(node) in skipped:
                continue
            if isinstance(node, cst.Subscript):  # an index picks values, it does not make them
                skipped.update(id(n) for element in node.slice for n in iter_tree(element))
                continue
            if self._is_layer_call(node) or is_index_computation(self.context, node):
                # the layer's output has a fresh graph; indices (argsort, topk(...).indices, nonzero) only select
                skipped.update(id(n) for n in iter_tree(node))
                continue
            if isinstance(node, cst.Call) and self._leaves_torch(node):
                found.append(node)
                skipped.update(id(n) for n in iter_tree(node) if n is not node)
            elif isinstance(node, cst.Name) and node.value in self.through_numpy:
                found.extend(c for c in self.through_numpy[node.value] if c not in found)
        return found

    def _leaves_torch(self, call: cst.Call) -> bool:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "numpy" and not call.args:
            return self._is_tracked(_method_root(func.value))
        if isinstance(func, (cst.Name, cst.Attribute)):
            name = self.context.qualified_name(func) or ""
            if name.startswith("numpy.") and name.rsplit(".", 1)[-1] in DIFFERENTIABLE_NUMPY:
                return any(self._is_tracked(_method_root(arg.value)) for arg in call.args)
        return False

    def _is_tracked(self, expression: cst.BaseExpression) -> bool:
        return any(n.value in self.tracked for n in data_names(expression)) or self._carries_graph(expression)

    def _carries_graph(self, expression: cst.BaseExpression) -> bool:
        """Whether the value is computed from a tracked name, a trainable layer call or an nn.Parameter."""
        if any(n.value in self.tracked for n in data_names(expression)):
            return True
        for node in iter_tree(expression):
            if isinstance(node, cst.Call) and node.func.__class__ is cst.Attribute and self._is_layer_call(node):
                return True
            if isinstance(node, cst.Attribute) and self._self_attribute_kind(node) == "parameter":
                return True
        return False

    def _is_layer_call(self, node: cst.CSTNode) -> bool:
        """``self.fc(...)`` where ``self.fc`` is a submodule with parameters."""
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            return False
        attribute = self._attribute(node.func)
        return attribute is not None and attribute.kind == "module" and attribute.has_parameters is True

    def _self_attribute_kind(self, node: cst.Attribute) -> Optional[str]:
        attribute = self._attribute(node)
        return attribute.kind if attribute is not None else None

    def _attribute(self, node: cst.Attribute):
        if isinstance(node.value, cst.Name) and node.value.value == "self":
            return self.attributes.get(node.attr.value)
        return None
