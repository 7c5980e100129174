from autogradlint.analysis.containers import PARAMETERS, plain_container
from autogradlint.fix_builders import wrapped_in_container
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

_HEAD = "import torch\nimport torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"


class ParametersInPlainContainer(Rule):
    """
    ## What it does
    Flags, in a module class, `nn.Parameter`s kept in a plain Python container:
    `self.gates = [nn.Parameter(torch.randn(d)) for _ in range(n)]`, a list, tuple or dict of Parameters
    (also `list(...)`/`tuple(...)` of a generator of them, `dict(a=...)`, `[p] * n`), a `[]` that the class
    then `append`s new Parameters to, or a local list of new Parameters assigned to `self.X`.

    ## Why is this bad?
    `nn.Module` registers a Parameter only when it is assigned directly as an attribute or held by
    `nn.ParameterList`/`nn.ParameterDict`. Parameters in a plain list are invisible: `named_parameters()`
    does not list them, so an optimizer built from `model.parameters()` never updates them,
    `state_dict()` does not save them and `model.to(device)` does not move them.

    Lists of plain tensors, Parameters that are registered another way (also assigned as attributes,
    wrapped later with `nn.ParameterList(self.x)`, registered with `register_parameter`/`setattr`),
    `nn.ParameterList`/`nn.ParameterDict` themselves and lists in classes that are not modules are not
    flagged.

    ## Example
    ```python
    class Gated(nn.Module):
        def __init__(self, d, n):
            super().__init__()
            self.gates = [nn.Parameter(torch.randn(d)) for _ in range(n)]
    ```

    ## Use instead
    ```python
    class Gated(nn.Module):
        def __init__(self, d, n):
            super().__init__()
            self.gates = nn.ParameterList([nn.Parameter(torch.randn(d)) for _ in range(n)])
    ```

    ## Fix safety
    Safe, as for GL602: `nn.ParameterList`/`nn.ParameterDict` (named through the file's imports) keep the
    list/dict interface (indexing, iteration, `append`, `extend`, item assignment) and register the
    Parameters. Offered only when every item is a new `nn.Parameter`, both in the container and in
    everything the class (or, for a local list, the function) adds to it later; for a dict, when every
    key is a plain string that `nn.ParameterDict` accepts (no dot, not one of its attribute names); and
    when the class calls no list/dict method the torch container lacks (`insert`, `pop`, `sort` ... on a
    `ParameterList`). A tuple becomes a `ParameterList` of a list.
    """

    code = "GL605"
    name = "parameters-in-plain-container"
    severity = "error"
    message = ("Parameters in a plain {kind} are not registered: named_parameters() does not list them, so the "
               "optimizer never updates them and state_dict() does not save them. Use '{container}(...)'")
    triggers = ("Parameter",)
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid(_HEAD + "        self.gates = nn.ParameterList([nn.Parameter(torch.randn(4)) for _ in range(n)])\n",
              "a ParameterList"),
        Valid(_HEAD + "        self.scales = nn.ParameterDict({'a': nn.Parameter(torch.ones(1))})\n", "a ParameterDict"),
        Valid(_HEAD + "        self.anchors = [torch.zeros(2), torch.ones(2)]\n", "a list of plain tensors"),
        Valid("import torch\nimport torch.nn as nn\nclass Solver:\n    def __init__(self, n):\n"
              "        self.params = [nn.Parameter(torch.zeros(2)) for _ in range(n)]\n", "not a module class"),
        Valid(_HEAD + "        self.ws = [nn.Parameter(torch.zeros(2)) for _ in range(n)]\n"
              "        self.params = nn.ParameterList(self.ws)\n", "wrapped by a ParameterList later"),
        Valid(_HEAD + "        self.ws = [nn.Parameter(torch.zeros(2)) for _ in range(n)]\n"
              "        for i, w in enumerate(self.ws):\n            self.register_parameter(f'w{i}', w)\n",
              "registered with register_parameter"),
        Valid(_HEAD + "        self.w1 = nn.Parameter(torch.zeros(2))\n        self.w2 = nn.Parameter(torch.zeros(2))\n"
              "        self.ws = [self.w1, self.w2]\n", "references to registered Parameters"),
        Valid(_HEAD + "        self.layers = [nn.Linear(2, 2) for _ in range(n)]\n", "modules: GL602's case"),
    )
    invalid = (
        Invalid(_HEAD + "        self.gates = [nn.Parameter(torch.randn(4)) for _ in range(n)]\n", 6, 22,
                fixed=_HEAD + "        self.gates = nn.ParameterList([nn.Parameter(torch.randn(4)) for _ in range(n)])\n"),
        Invalid(_HEAD + "        self.ws = [nn.Parameter(torch.zeros(2)), nn.Parameter(torch.ones(2))]\n", 6, 19,
                fixed=_HEAD + "        self.ws = nn.ParameterList([nn.Parameter(torch.zeros(2)), nn.Parameter(torch.ones(2))])\n"),
        Invalid(_HEAD + "        self.scales = {'x': nn.Parameter(torch.ones(1)), 'y': nn.Parameter(torch.ones(1))}\n", 6, 23,
                fixed=_HEAD + "        self.scales = nn.ParameterDict({'x': nn.Parameter(torch.ones(1)), 'y': nn.Parameter(torch.ones(1))})\n"),
        Invalid(_HEAD + "        self.pair = (nn.Parameter(torch.ones(1)), nn.Parameter(torch.zeros(1)))\n", 6, 22,
                fixed=_HEAD + "        self.pair = nn.ParameterList([nn.Parameter(torch.ones(1)), nn.Parameter(torch.zeros(1))])\n"),
        Invalid(_HEAD + "        self.biases = []\n        for _ in range(n):\n            self.biases.append(nn.Parameter(torch.zeros(3)))\n",
                6, 23,
                fixed=_HEAD + "        self.biases = nn.ParameterList()\n        for _ in range(n):\n"
                "            self.biases.append(nn.Parameter(torch.zeros(3)))\n"),
        Invalid(_HEAD + "        ws = []\n        for _ in range(n):\n            ws.append(nn.Parameter(torch.zeros(3)))\n"
                "        self.ws = ws\n", 9, 19,
                fixed=_HEAD + "        ws = []\n        for _ in range(n):\n            ws.append(nn.Parameter(torch.zeros(3)))\n"
                "        self.ws = nn.ParameterList(ws)\n"),
        Invalid(_HEAD + "        self.ws = [nn.Parameter(torch.zeros(2)) for _ in range(n)]\n        self.ws.insert(0, nn.Parameter(torch.ones(2)))\n",
                6, 19, "ParameterList has no insert(): no fix"),
    )
    evidence = Evidence(
        bad=("import torch\nimport torch.nn as nn\nclass Gated(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.gates = [nn.Parameter(torch.ones(2)) for _ in range(3)]\n"
             "m = Gated()\nprint(len(list(m.named_parameters())), len(m.state_dict()))\n"),
        bad_shows=Outcome(stdout="0 0"),
        good=("import torch\nimport torch.nn as nn\nclass Gated(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.gates = nn.ParameterList([nn.Parameter(torch.ones(2)) for _ in range(3)])\n"
              "m = Gated()\nprint(len(list(m.named_parameters())), len(m.state_dict()))\n"),
        good_shows=Outcome(stdout="3 3"),
    )

    def visit_Assign(self, node):
        found = plain_container(self.context, node, PARAMETERS)
        if found is None:
            return
        container = found.torch_container[len("torch."):]  # as the message names it: nn.X
        self.report(found.value, self.message.format(kind=found.container_kind, container=container),
                    fix=wrapped_in_container(self.context, found.value, found.torch_container) if found.fixable else None)
