import libcst as cst

from autogradlint.analysis.loops import own_calls
from autogradlint.analysis.modules import module_instance, sets_attribute
from autogradlint.analysis.optimizers import is_torch_optimizer_name
from autogradlint.analysis.torch_api import ITERATOR_YIELDS_PAIRS, MODULE_ITERATOR_METHODS
from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

# builtins that iterate their first argument (zip, map and chain-like ones: every argument after the first for map/filter)
_ITERATING_BUILTINS = frozenset(
    {"builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset", "builtins.sorted", "builtins.len",
     "builtins.enumerate", "builtins.sum", "builtins.any", "builtins.all", "builtins.min", "builtins.max",
     "builtins.iter", "builtins.dict", "builtins.reversed", "builtins.zip", "builtins.map", "builtins.filter"}
)
# torch functions that iterate their first argument (or ``parameters=``)
_ITERATING_TORCH = frozenset(
    {"torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_value_", "torch.nn.utils.parameters_to_vector",
     "torch.nn.utils.vector_to_parameters", "torch.nn.utils.clip_grad.clip_grad_norm_",
     "torch.nn.utils.clip_grad.clip_grad_value_"}
)
# calls on the same receiver that show it is a torch module
_MODULE_EVIDENCE_CALLS = MODULE_ITERATOR_METHODS | {"state_dict", "load_state_dict"}


class ParametersNotCalled(Rule):
    """
    ## What it does
    Flags `.parameters`, `.named_parameters`, `.buffers`, `.children`, `.modules` (and their `named_`
    forms) of a module used without being called: iterated (`for p in model.parameters:`), listed
    (`list(model.parameters)`), handed to an optimizer or `clip_grad_norm_`, or given an attribute
    (`model.parameters.requires_grad = False`).

    ## Why is this bad?
    Without `()` the expression is the bound method itself. Iterating it raises
    `TypeError: 'method' object is not iterable` (an optimizer raises the same), and setting or reading
    an attribute on it raises `AttributeError: 'method' object has no attribute 'requires_grad'`.

    The receiver must certainly be a module (a module class's `self`, `nn.Linear(...)`, `MyNet()`...) or
    call the same kind of method elsewhere in the function; a plain `self.parameters` list of another
    class is not flagged.

    ## Example
    ```python
    optimizer = torch.optim.Adam(model.parameters, lr=1e-3)
    ```

    ## Use instead
    ```python
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ```

    ## Fix safety
    Safe: the fix adds `()`, which is what the code meant.
    """

    code = "GL109"
    name = "parameters-not-called"
    severity = "error"
    message = "'.{method}' is a method, not an iterable: this raises {error}. Call it: '.{method}()'"
    triggers = tuple(sorted(name for name, pairs in ITERATOR_YIELDS_PAIRS.items() if not pairs))
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch\nmodel = torch.nn.Linear(2, 2)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"),
        Valid("class Toy:\n    def __init__(self, w, b):\n        self.parameters = [w, b]\n"
              "    def step(self):\n        for p in self.parameters:\n            p.value -= 0.1 * p.grad\n",
              "a plain list attribute of a class that is not a module"),
        Valid("def run(net):\n    for p in net.parameters:\n        print(p)\n", "unknown receiver"),
        Valid("import torch.nn as nn\nmodel = nn.Linear(2, 2)\nget_params = model.parameters\nparams = list(get_params())\n",
              "the bound method kept to be called later"),
        Valid("import torch.nn as nn\nmodel = nn.Linear(2, 2)\nprint(model.parameters.__name__)\n", "a method's own attribute"),
        Valid("import torch.nn as nn\nmodel = nn.Linear(2, 2)\nhooks = {'params': model.parameters}\n", "stored, not iterated"),
        Valid("import torch.nn as nn\nclass Ensemble(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.modules = nn.ModuleList([nn.Linear(2, 2)])\n    def forward(self, x):\n"
              "        return [m(x) for m in self.modules]\n", "the class shadows the method with its own attribute"),
    )
    invalid = (
        Invalid("import torch\nmodel = torch.nn.Linear(2, 2)\noptimizer = torch.optim.Adam(model.parameters, lr=1e-3)\n", 3, 30,
                fixed="import torch\nmodel = torch.nn.Linear(2, 2)\noptimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def freeze(self):\n        for p in self.parameters:\n"
                "            p.requires_grad = False\n", 4, 18,
                fixed="import torch.nn as nn\nclass Net(nn.Module):\n    def freeze(self):\n        for p in self.parameters():\n"
                "            p.requires_grad = False\n"),
        Invalid("from torch import nn\nnet = nn.Sequential(nn.Linear(2, 2))\nnet.parameters.requires_grad = False\n", 3, 1,
                fixed="from torch import nn\nnet = nn.Sequential(nn.Linear(2, 2))\nnet.parameters().requires_grad = False\n"),
        Invalid("import torch.nn as nn\nmodel = nn.Linear(2, 2)\nn = sum(p.numel() for p in model.parameters)\n", 3, 28,
                fixed="import torch.nn as nn\nmodel = nn.Linear(2, 2)\nn = sum(p.numel() for p in model.parameters())\n"),
        Invalid("import torch\ndef train(model, loader):\n    model.load_state_dict(torch.load('ckpt.pt'))\n"
                "    opt = torch.optim.SGD(params=model.parameters, lr=0.1)\n", 4, 34,
                fixed="import torch\ndef train(model, loader):\n    model.load_state_dict(torch.load('ckpt.pt'))\n"
                "    opt = torch.optim.SGD(params=model.parameters(), lr=0.1)\n"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.body = nn.Linear(2, 2)\n    def report(self):\n"
                "        for name, b in self.body.named_buffers:\n            print(name)\n", 7, 24,
                fixed="import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.body = nn.Linear(2, 2)\n    def report(self):\n"
                "        for name, b in self.body.named_buffers():\n            print(name)\n"),
        Invalid("import torch\nmodel = torch.nn.Linear(2, 2)\ntorch.nn.utils.clip_grad_norm_(model.parameters, 1.0)\n", 3, 32,
                fixed="import torch\nmodel = torch.nn.Linear(2, 2)\ntorch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"),
    )
    evidence = Evidence(
        bad="import torch\nmodel = torch.nn.Linear(2, 2)\nfor p in model.parameters:\n    p.requires_grad = False\n"
            "print(any(p.requires_grad for p in model.parameters()))\n",
        bad_shows=Outcome(raises="TypeError", message="'method' object is not iterable"),
        good="import torch\nmodel = torch.nn.Linear(2, 2)\nfor p in model.parameters():\n    p.requires_grad = False\n"
             "print(any(p.requires_grad for p in model.parameters()))\n",
        good_shows=Outcome(stdout="False"),
    )

    def __init__(self, context):
        super().__init__(context)
        self._evidence_by_scope = {}

    def visit_Attribute(self, node):
        method = node.attr.value
        if method not in MODULE_ITERATOR_METHODS:
            return
        error = self._failure(node)
        if error is None:
            return
        module = module_instance(self.context, node.value)
        if module is None and not self._receiver_called_elsewhere(node.value):
            return
        # a module class may shadow the method with its own attribute (`self.modules = nn.ModuleList(...)`)
        if module is not None and module.local is not None and sets_attribute(self.context, module.local, method):
            return
        self.report(node, self.message.format(method=method, error=error), fix=Replacement(node, cst.Call(func=node)))

    def _failure(self, node):
        """The error the use of the uncalled method raises, or None when the use is harmless."""
        ancestors = self.context.ancestors
        parent = ancestors[-1] if ancestors else None
        if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is node:
            return "TypeError: 'method' object is not iterable"
        if isinstance(parent, cst.StarredElement):
            return "TypeError: 'method' object is not iterable"
        if isinstance(parent, cst.ComparisonTarget) and isinstance(parent.operator, (cst.In, cst.NotIn)):
            return "TypeError: argument of type 'method' is not iterable"
        if isinstance(parent, cst.Attribute) and parent.value is node and not parent.attr.value.startswith("__"):
            return f"AttributeError: 'method' object has no attribute '{parent.attr.value}'"
        if isinstance(parent, cst.Arg) and len(ancestors) >= 2 and isinstance(ancestors[-2], cst.Call):
            return self._argument_failure(ancestors[-2], parent)
        return None

    def _argument_failure(self, call, arg):
        if arg.star == "*":
            return "TypeError: 'method' object is not iterable"
        if not isinstance(call.func, (cst.Name, cst.Attribute)):
            return None
        name = self.context.qualified_name(call.func)
        if name is None:
            return None
        positional = [a for a in call.args if a.keyword is None and not a.star]
        index = next((i for i, a in enumerate(positional) if a is arg), None)
        if name in _ITERATING_BUILTINS:
            if name == "builtins.len" and index == 0:
                return "TypeError: object of type 'method' has no len()"
            iterated = index is not None and (index >= 1 if name in ("builtins.map", "builtins.filter")
                                              else name == "builtins.zip" or index == 0)
            return "TypeError: 'method' object is not iterable" if iterated else None
        if is_torch_optimizer_name(name) or name in _ITERATING_TORCH:
            keyword = arg.keyword.value if arg.keyword is not None else None
            if index == 0 or keyword in ("params", "parameters"):
                return "TypeError: 'method' object is not iterable"
        return None

    def _receiver_called_elsewhere(self, receiver):
        """The same receiver calls a module method (``model.parameters()``, ``model.state_dict()``) in this
        function: its ``.parameters`` is certainly a method."""
        if not isinstance(receiver, (cst.Name, cst.Attribute)):
            return False
        scope = next((a for a in reversed(self.context.ancestors) if isinstance(a, (cst.FunctionDef, cst.Module))), None)
        if scope is None:
            return False
        called = self._evidence_by_scope.get(id(scope))
        if called is None:
            called = set()
            code = self.context.module.code_for_node
            for node in own_calls(scope):
                if (isinstance(node.func, cst.Attribute)
                        and node.func.attr.value in _MODULE_EVIDENCE_CALLS
                        and isinstance(node.func.value, (cst.Name, cst.Attribute))):
                    called.add(code(node.func.value))
            self._evidence_by_scope[id(scope)] = called
        return self.context.module.code_for_node(receiver) in called
