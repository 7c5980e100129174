from typing import List

import libcst as cst

from autogradlint.analysis.tensors import keyword, tensor_facts
from autogradlint.analysis.torch_api import VARIABLE
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class VolatileFlag(Rule):
    """
    ## What it does
    Flags the removed `volatile` flag of old torch: the `volatile=` keyword given to
    `torch.autograd.Variable` or to any other torch function (tensor factories), and the `.volatile`
    attribute of a torch tensor (in a file that uses torch's `Variable`, or on a tensor built by a torch
    factory). Chainer's and other libraries' `volatile` flags are not flagged.

    ## Why is this bad?
    `volatile` was removed in torch 0.4. `Variable(x, volatile=True)` only warns
    ("volatile was removed and now has no effect"): inference code still records the autograd graph and
    holds its memory. Tensor factories raise `TypeError: ... got an unexpected keyword argument 'volatile'`.
    `x.volatile` is always False and setting it does nothing.

    ## Example
    ```python
    inputs = Variable(batch, volatile=True)
    outputs = model(inputs)
    ```

    ## Use instead
    ```python
    with torch.no_grad():
        outputs = model(batch)
    ```

    ## Fix safety
    No fix: the replacement is a `with torch.no_grad():` block around the inference code, whose extent
    cannot be guessed.
    """

    code = "GL703"
    name = "volatile-flag"
    severity = "error"
    message = ("'volatile' was removed from torch: Variable(..., volatile=True) only warns and autograd still records "
               "the graph. Use 'with torch.no_grad():'")
    factory_message = ("'{name}' has no 'volatile' parameter (removed from torch): this call raises TypeError. "
                       "Use 'with torch.no_grad():'")
    attribute_message = ("'.volatile' was removed from torch: it is always False and setting it does nothing. "
                         "Use 'with torch.no_grad():'")
    triggers = ("volatile",)
    needs = frozenset({"names"})
    fix_applicability = None

    valid = (
        Valid("import chainer\nx = chainer.Variable(data, volatile='on')\n", "Chainer's volatile flag"),
        Valid("import torch\nwith torch.no_grad():\n    y = model(x)\n"),
        Valid("import ctypes\nbuf = ctypes.c_int(0)\nbuf.volatile = True\n", "not a tensor"),
        Valid("import torch\nclass Register:\n    def __init__(self):\n        self.volatile = False\n", "a home-made attribute"),
        Valid("import torch\ndef declare(name, volatile=False):\n    return name\ndeclare('x', volatile=True)\n",
              "a local function's parameter"),
        Valid("import torch\nconfig = {'volatile': True}\n"),
    )
    invalid = (
        Invalid("import torch\nfrom torch.autograd import Variable\nx = Variable(batch, volatile=True)\n", 3, 21),
        Invalid("import torch as th\ndef evaluate(model, data):\n    for x in data:\n"
                "        out = model(th.autograd.Variable(x.cuda(), volatile=True))\n", 4, 52),
        Invalid("import torch\nh0 = torch.zeros(2, 8, volatile=True)\n", 2, 24),
        Invalid("import torch\nfrom torch.autograd import Variable\ndef predict(x):\n    v = Variable(x)\n    v.volatile = True\n"
                "    return v\n", 5, 5),
        Invalid("import torch\nx = torch.ones(3)\nif x.volatile:\n    pass\n", 3, 4),
    )
    evidence = Evidence(
        bad="import torch\nfrom torch.autograd import Variable\nmodel = torch.nn.Linear(2, 2)\n"
            "out = model(Variable(torch.ones(1, 2), volatile=True))\nprint(out.requires_grad)\n",
        bad_shows=Outcome(stdout="True", warns="volatile was removed and now has no effect"),
        good="import torch\nmodel = torch.nn.Linear(2, 2)\nwith torch.no_grad():\n    out = model(torch.ones(1, 2))\n"
             "print(out.requires_grad)\n",
        good_shows=Outcome(stdout="False"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self._uses_torch_variable = False
        self._attributes: List[cst.Attribute] = []

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, (cst.Name, cst.Attribute)):
            return
        name = self.context.qualified_name(node.func)
        if name == VARIABLE:
            self._uses_torch_variable = True
        flag = keyword(node, "volatile")
        if flag is None or not name or not name.startswith("torch."):
            return
        if name == VARIABLE:
            self.report(flag)
        else:
            self.report(flag, self.factory_message.format(name=self.context.module.code_for_node(node.func)))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != "volatile":
            return
        if tensor_facts(self.context, node.value) is not None:
            self.report(node, self.attribute_message)
        else:
            self._attributes.append(node)

    def leave_Module(self, node: cst.Module) -> None:
        # in a file written against torch's Variable API, '.volatile' is that API's flag
        if self._uses_torch_variable:
            for attribute in self._attributes:
                self.report(attribute, self.attribute_message)
