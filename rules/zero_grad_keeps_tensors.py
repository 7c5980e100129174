import libcst as cst

from autogradlint.analysis.modules import is_module_instance
from autogradlint.analysis.torch_versions import (ZERO_GRAD_SET_TO_NONE_ARGUMENT, ZERO_GRAD_SETS_TO_NONE, shown,
                                                  torch_at_least, torch_version)
from autogradlint.analysis.training import training_facts
from autogradlint.edits import Replacement
from autogradlint.fix_builders import keyword_argument, with_argument, without_argument
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class ZeroGradKeepsTensors(Rule):
    """
    ## What it does
    Flags `zero_grad(set_to_none=False)` (or `zero_grad(False)`) on an optimizer or a module; for a project
    on torch older than 2.0, also a plain `zero_grad()` of a `torch.optim` optimizer or an `nn.Module`
    (see "Torch versions").

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
    Unsafe: the fix drops the argument (before torch 2.0: passes `set_to_none=True`). Code that reads
    `p.grad` before the next `backward()` (expecting a zero tensor) then meets `None`.

    ## Torch versions
    - torch 2.0 and newer: only an explicit `set_to_none=False` keeps the tensors; the fix drops it.
    - torch 1.7 to 1.13: `set_to_none=False` was the default of `Optimizer.zero_grad` and
      `Module.zero_grad` (torch 2.0 flipped both: pytorch/pytorch#92731, "Make True the default for
      set_to_none", listed under the 2.0 release notes' BC-breaking changes). So `zero_grad()` keeps the
      tensors too, and is flagged when its receiver is certainly a `torch.optim` optimizer or a module
      (another library's optimizer may have its own default); the message and fix say
      `zero_grad(set_to_none=True)`, which also keeps the code's meaning on 2.0 and newer.
    - before torch 1.7: `zero_grad` has no `set_to_none` argument (added by pytorch/pytorch#42754): nothing
      is flagged.
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
        Valid("import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nopt.zero_grad()\n",
              "the default frees the tensors since torch 2.0"),
        Valid("import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nopt.zero_grad(set_to_none=True)\n",
              "explicitly freed", torch_version="1.13"),
        Valid("import torch\nfrom apex.optimizers import FusedAdam\nopt = FusedAdam(model.parameters())\nopt.zero_grad()\n",
              "another library's optimizer has its own default", torch_version="1.13"),
        Valid("import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nopt.zero_grad()\nopt.zero_grad(False)\n",
              "no set_to_none argument before torch 1.7", torch_version="1.6"),
        Valid("import torch\nclass SGD:\n    def __init__(self, params):\n        self.params = list(params)\n"
              "    def zero_grad(self, set_to_none=False):\n        for p in self.params:\n            p.grad = None\n"
              "opt = SGD(model.parameters())\nopt.zero_grad(set_to_none=False)\n", "a home-made optimizer"),
    )
    invalid = (
        Invalid("import torch\noptimizer.zero_grad(set_to_none=False)\n", 2, 1,
                fixed="import torch\noptimizer.zero_grad()\n"),
        Invalid("import torch\nfor x in loader:\n    opt.zero_grad(False)\n    model(x).sum().backward()\n    opt.step()\n", 3, 5,
                fixed="import torch\nfor x in loader:\n    opt.zero_grad()\n    model(x).sum().backward()\n    opt.step()\n"),
        Invalid("from torch import nn\nclass Net(nn.Module):\n    def reset(self):\n        self.zero_grad(set_to_none = False)\n", 4, 9,
                fixed="from torch import nn\nclass Net(nn.Module):\n    def reset(self):\n        self.zero_grad()\n"),
        Invalid("import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nopt.zero_grad()\n", 3, 1,
                "torch 1.13: the default keeps the tensors",
                fixed="import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nopt.zero_grad(set_to_none=True)\n",
                torch_version="1.13"),
        Invalid("from torch import nn\nclass Net(nn.Module):\n    def reset(self):\n        self.zero_grad()\n", 4, 9,
                fixed="from torch import nn\nclass Net(nn.Module):\n    def reset(self):\n        self.zero_grad(set_to_none=True)\n",
                torch_version="1.13"),
        Invalid("import torch\noptimizer.zero_grad(set_to_none=False)\n", 2, 1, "torch 1.13: make the choice explicit",
                fixed="import torch\noptimizer.zero_grad(set_to_none=True)\n", torch_version="1.13"),
        Invalid("import torch\nclass Adam(torch.optim.Adam):\n    pass\nopt = Adam(model.parameters())\nopt.zero_grad(set_to_none=False)\n",
                5, 1, "a subclass of a torch optimizer",
                fixed="import torch\nclass Adam(torch.optim.Adam):\n    pass\nopt = Adam(model.parameters())\nopt.zero_grad()\n"),
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
        if not (isinstance(func, cst.Attribute) and func.attr.value == "zero_grad" and len(node.args) <= 1):
            return
        if not torch_at_least(self.context, ZERO_GRAD_SET_TO_NONE_ARGUMENT):
            return
        sets_to_none = torch_at_least(self.context, ZERO_GRAD_SETS_TO_NONE)
        if not node.args:
            if not sets_to_none and self._certainly_torch(func.value):
                version = shown(torch_version(self.context))
                message = (f"'zero_grad()' keeps every gradient tensor allocated before torch 2.0 (linting for torch "
                           f"{version}) and zero-fills it each step. Pass 'set_to_none=True' to free them")
                fix = Replacement(node, with_argument(node, keyword_argument("set_to_none", cst.Name("True"))))
                self.report(node, message, fix=fix)
            return
        arg = node.args[0]
        if arg.star or (arg.keyword is not None and arg.keyword.value != "set_to_none"):
            return
        facts = training_facts(self.context)
        if facts.is_plain_object(func.value):
            return  # a home-made optimizer's zero_grad is its own
        if isinstance(arg.value, cst.Name) and arg.value.value == "False" and facts.works_with_torch:
            if sets_to_none:
                self.report(node, fix=Replacement(node, without_argument(node, arg)))
            else:
                version = shown(torch_version(self.context))
                message = (f"'zero_grad(set_to_none=False)' keeps every gradient tensor allocated and zero-fills it each "
                           f"step (the default before torch 2.0; linting for torch {version}). Pass 'set_to_none=True'")
                self.report(node, message, fix=Replacement(arg.value, cst.Name("True")))

    def _certainly_torch(self, receiver: cst.BaseExpression) -> bool:
        """A torch.optim optimizer bound in this file, or an nn.Module: their zero_grad defaults are torch's."""
        facts = training_facts(self.context)
        if not facts.works_with_torch:
            return False
        return facts.is_torch_optimizer(receiver) or is_module_instance(self.context, receiver)
