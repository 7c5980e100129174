import libcst as cst

from autogradlint.analysis.torch_versions import CHECKPOINT_SEQUENTIAL_USE_REENTRANT, CHECKPOINT_USE_REENTRANT, torch_at_least
from autogradlint.edits import Replacement
from autogradlint.fix_builders import keyword_argument, with_argument
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

CHECKPOINT_FUNCTIONS = frozenset({"torch.utils.checkpoint.checkpoint", "torch.utils.checkpoint.checkpoint_sequential"})


class CheckpointReentrantDefault(Rule):
    """
    ## What it does
    Flags `torch.utils.checkpoint.checkpoint(...)` and `checkpoint_sequential(...)` called without an
    explicit `use_reentrant=`, whatever the import spelling.

    ## Why is this bad?
    The default is still the reentrant variant (torch 2.13 warns "the use_reentrant parameter should be
    passed explicitly" and uses `use_reentrant=True`). With it, when none of the checkpointed inputs
    requires grad (the first block of a network, frozen embeddings feeding an adapter), the wrapped layer's
    parameters silently get no gradient: "None of the inputs have requires_grad=True. Gradients will be None".
    The reentrant variant also ignores `torch.autograd.grad` and keyword arguments.

    A call that passes `**kwargs` (which may hold `use_reentrant`) is not flagged.

    ## Example
    ```python
    from torch.utils.checkpoint import checkpoint

    hidden = checkpoint(self.block, hidden)
    ```

    ## Use instead
    ```python
    hidden = checkpoint(self.block, hidden, use_reentrant=False)
    ```

    ## Fix safety
    Unsafe: the fix adds `use_reentrant=False`, which changes how the segment is recomputed (and fixes the
    missing gradients); code that relies on reentrant-only behaviour must pass `use_reentrant=True` instead.

    ## Torch versions
    The reentrant variant is the default in every release up to 2.13 (torch 2.1 added the warning about not
    passing `use_reentrant`, pytorch/pytorch#100551). There is no other variant to choose before
    `use_reentrant` exists, so the rule is silent there: `checkpoint` takes `use_reentrant` since torch 1.11
    (pytorch/pytorch#69508, the non-reentrant implementation; passing it to 1.10 raises "Unexpected keyword
    arguments"), and `checkpoint_sequential` since torch 2.0 (pytorch/pytorch#86331).
    """

    code = "GL312"
    name = "checkpoint-reentrant-default"
    severity = "warning"
    message = ("'{name}' without 'use_reentrant=' runs the reentrant variant: if no input requires grad, the "
               "wrapped layers get no gradient. Pass 'use_reentrant=False'")
    triggers = ("checkpoint",)
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("from torch.utils.checkpoint import checkpoint\ny = checkpoint(block, x, use_reentrant=False)\n"),
        Valid("import torch\ny = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=True)\n",
              "an explicit choice of the reentrant variant"),
        Valid("from torch.utils.checkpoint import checkpoint\ndef run(block, x, **ckpt_kwargs):\n"
              "    return checkpoint(block, x, **ckpt_kwargs)\n", "the keyword may come through **kwargs"),
        Valid("import deepspeed\ny = deepspeed.checkpointing.checkpoint(block, x)\n", "another library's checkpoint"),
        Valid("from functools import partial\nimport torch.utils.checkpoint\n"
              "ckpt = partial(torch.utils.checkpoint.checkpoint, use_reentrant=False)\ny = ckpt(block, x)\n",
              "the keyword is bound by partial"),
        Valid("def checkpoint(fn, *args):\n    return fn(*args)\ny = checkpoint(block, x)\n", "a local function"),
        Valid("import torch\ntorch.save(model.state_dict(), 'checkpoint.pt')\n", "saving a checkpoint file"),
        Valid("from torch.utils.checkpoint import checkpoint\ny = checkpoint(block, x)\n",
              "torch 1.10 has no use_reentrant argument", torch_version="1.10"),
        Valid("from torch.utils import checkpoint as ckpt\nh = ckpt.checkpoint_sequential(model, 2, x)\n",
              "checkpoint_sequential takes use_reentrant since torch 2.0", torch_version="1.13"),
    )
    invalid = (
        Invalid("from torch.utils.checkpoint import checkpoint\ny = checkpoint(block, x)\n", 2, 5,
                fixed="from torch.utils.checkpoint import checkpoint\ny = checkpoint(block, x, use_reentrant=False)\n"),
        Invalid("import torch\nclass Net(torch.nn.Module):\n    def forward(self, x):\n        for layer in self.layers:\n"
                "            x = torch.utils.checkpoint.checkpoint(layer, x)\n        return x\n", 5, 17,
                fixed="import torch\nclass Net(torch.nn.Module):\n    def forward(self, x):\n        for layer in self.layers:\n"
                "            x = torch.utils.checkpoint.checkpoint(layer, x, use_reentrant=False)\n        return x\n"),
        Invalid("import torch.utils.checkpoint as cp\nout = cp.checkpoint(self.block, x, mask, preserve_rng_state=False)\n", 2, 7,
                fixed="import torch.utils.checkpoint as cp\n"
                "out = cp.checkpoint(self.block, x, mask, preserve_rng_state=False, use_reentrant=False)\n"),
        Invalid("from torch.utils import checkpoint as ckpt\nh = ckpt.checkpoint_sequential(model, 2, x)\n", 2, 5,
                fixed="from torch.utils import checkpoint as ckpt\nh = ckpt.checkpoint_sequential(model, 2, x, use_reentrant=False)\n"),
        Invalid("from torch.utils.checkpoint import checkpoint\ny = checkpoint(block, x)\n", 2, 5, "torch 1.11 has the argument",
                fixed="from torch.utils.checkpoint import checkpoint\ny = checkpoint(block, x, use_reentrant=False)\n",
                torch_version="1.11"),
        Invalid("from torch.utils.checkpoint import checkpoint as remat\ndef f(block, x):\n    return remat(block, x)\n", 3, 12,
                fixed="from torch.utils.checkpoint import checkpoint as remat\ndef f(block, x):\n"
                "    return remat(block, x, use_reentrant=False)\n"),
    )
    evidence = Evidence(
        bad=(
            "import torch\nfrom torch.utils.checkpoint import checkpoint\n"
            "embed = torch.nn.Embedding(10, 4)\nembed.requires_grad_(False)  # frozen embeddings\n"
            "block = torch.nn.Linear(4, 4)\nhead = torch.nn.Linear(4, 1)\n"
            "h = embed(torch.tensor([1, 2]))\nout = head(checkpoint(block, h))\nout.sum().backward()\n"
            "print(block.weight.grad is None)\n"
        ),
        bad_shows=Outcome(stdout="True", warns="None of the inputs have requires_grad=True. Gradients will be None"),
        good=(
            "import torch\nfrom torch.utils.checkpoint import checkpoint\n"
            "embed = torch.nn.Embedding(10, 4)\nembed.requires_grad_(False)  # frozen embeddings\n"
            "block = torch.nn.Linear(4, 4)\nhead = torch.nn.Linear(4, 1)\n"
            "h = embed(torch.tensor([1, 2]))\nout = head(checkpoint(block, h, use_reentrant=False))\nout.sum().backward()\n"
            "print(block.weight.grad is None)\n"
        ),
        good_shows=Outcome(stdout="False"),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, (cst.Name, cst.Attribute)):
            return
        name = self.context.qualified_name(node.func)
        if name not in CHECKPOINT_FUNCTIONS:
            return
        since = CHECKPOINT_USE_REENTRANT if name.endswith(".checkpoint") else CHECKPOINT_SEQUENTIAL_USE_REENTRANT
        if not torch_at_least(self.context, since):
            return  # no `use_reentrant` to pass yet
        for arg in node.args:
            if arg.star == "**" or (arg.keyword is not None and arg.keyword.value == "use_reentrant"):
                return
        shown = self.context.module.code_for_node(node.func)
        fix = Replacement(node, with_argument(node, keyword_argument("use_reentrant", cst.Name("False"))))
        self.report(node, self.message.format(name=shown), fix=fix)
