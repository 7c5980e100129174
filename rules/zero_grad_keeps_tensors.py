import libcst as cst

from autogradlint.analysis.training import training_facts
from autogradlint.fixing import Replacement, without_argument
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class ZeroGradKeepsTensors(Rule):
    """
    ## What it does
    Flags `zero_grad(set_to_none=False)` (or `zero_grad(False)`) on an optimizer or a module.

    ## Why is this bad?
    Instead of freeing the gradients, `set_to_none=False` keeps every `.grad` tensor allocated and fills
    it with zeros: the memory of a full copy of the parameters stays reserved between iterations and
    each step pays a memset. Since torch 2.0 the default is `set_to_none=True`, which the optimizers
    handle (a parameter whose `.grad` is `None` is skipped).

    ## Example
    ```python
    optimizer.zero_grad(set_to_none=False)
    ```

    ## Use instead
    ```python
    optimizer.zero_grad()
    ```

    ## Fix safety
    Unsafe: the fix drops the argument. Code that reads `p.grad` before the next `backward()`
    (expecting a zero tensor) then meets `None`.
    """

    code = "GL505"
    name = "zero-grad-keeps-tensors"
    severity = "hint"
    message = ("'zero_grad(set_to_none=False)' keeps every gradient tensor allocated and zero-fills it each step. "
               "Drop the argument: 'zero_grad()' frees them")
    triggers = ("zero_grad",)
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("import torch\noptimizer.zero_grad()\n"),
        Valid("import torch\noptimizer.zero_grad(set_to_none=True)\n"),
        Valid("import torch\noptimizer.zero_grad(set_to_none=args.keep_grads)\n", "decided elsewhere"),
        Valid("import paddle\noptimizer.zero_grad(set_to_none=False)\n", "not a torch file"),
        Valid("import torch\ndef zero_grad(self, set_to_none=False):\n    pass\n", "a definition"),
    )
    invalid = (
        Invalid("import torch\noptimizer.zero_grad(set_to_none=False)\n", 2, 1,
                fixed="import torch\noptimizer.zero_grad()\n"),
        Invalid("import torch\nfor x in loader:\n    opt.zero_grad(False)\n    model(x).sum().backward()\n    opt.step()\n", 3, 5,
                fixed="import torch\nfor x in loader:\n    opt.zero_grad()\n    model(x).sum().backward()\n    opt.step()\n"),
        Invalid("from torch import nn\nclass Net(nn.Module):\n    def reset(self):\n        self.zero_grad(set_to_none = False)\n", 4, 9,
                fixed="from torch import nn\nclass Net(nn.Module):\n    def reset(self):\n        self.zero_grad()\n"),
        Invalid("import torch\ndef step(optim_g, optim_d):\n    optim_g.step()\n    optim_d.zero_grad(set_to_none=False)\n", 4, 5,
                fixed="import torch\ndef step(optim_g, optim_d):\n    optim_g.step()\n    optim_d.zero_grad()\n"),
    )
    evidence = Evidence(
        bad=("import torch\nmodel = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
             "model(torch.ones(1, 2)).sum().backward()\nopt.step()\nopt.zero_grad(set_to_none=False)\n"
             "print(model.weight.grad)\n"),
        bad_shows=Outcome(stdout="tensor([[0., 0.]])"),
        good=("import torch\nmodel = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "model(torch.ones(1, 2)).sum().backward()\nopt.step()\nopt.zero_grad()\nprint(model.weight.grad)\n"),
        good_shows=Outcome(stdout="None"),
    )

    def visit_Call(self, node):
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "zero_grad" and len(node.args) == 1):
            return
        arg = node.args[0]
        if arg.keyword is not None and arg.keyword.value != "set_to_none":
            return
        if isinstance(arg.value, cst.Name) and arg.value.value == "False" and training_facts(self.context).works_with_torch:
            self.report(node, fix=Replacement(node, without_argument(node, arg)))
