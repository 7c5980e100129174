from typing import Dict, Set

import libcst as cst

from autogradlint.analysis.modules import enclosing_method_class
from autogradlint.analysis.tensors import PARAMETER, is_integral, module_attribute_target, tensor_facts
from autogradlint.edits import Replacement
from autogradlint.fix_builders import reference_to
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import iter_tree

# calls that register a tensor attribute after the fact, or take the "dummy tensor that requires grad"
# that makes reentrant activation checkpointing produce gradients (not meant to be trained)
_EXEMPTING_CALLS = frozenset({"register_parameter", "register_buffer", "Parameter", "checkpoint", "checkpoint_sequential"})


def _self_attribute(node: cst.CSTNode) -> str:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return ""


def _assignments_with_blocks(suite):
    """The assignment statements under ``suite`` (nested functions included), each with the suite that holds it."""
    if isinstance(suite, cst.SimpleStatementSuite):
        statements = [suite]
    else:
        statements = list(suite.body)
    for statement in statements:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in statement.body:
                if isinstance(small, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
                    yield small, suite
            continue
        inner = [getattr(statement, "body", None)]
        orelse = getattr(statement, "orelse", None)
        if isinstance(orelse, cst.If):  # elif
            yield from _assignments_with_blocks(cst.IndentedBlock(body=[orelse]))
        elif orelse is not None:
            inner.append(orelse.body)
        inner.extend(handler.body for handler in getattr(statement, "handlers", ()))
        inner.extend(case.body for case in getattr(statement, "cases", ()))
        finalbody = getattr(statement, "finalbody", None)
        if finalbody is not None:
            inner.append(finalbody.body)
        for child in inner:
            if isinstance(child, cst.BaseSuite):
                yield from _assignments_with_blocks(child)


class UnregisteredTensorParameter(Rule):
    """
    ## What it does
    Flags, in a method of an `nn.Module` class, `self.x = torch.<factory>(..., requires_grad=True)`
    (or a factory followed by `.requires_grad_()`) where an `nn.Parameter` was meant.

    Attributes that are later wrapped (`nn.Parameter(self.x)`, `register_parameter`, `register_buffer`),
    reassigned elsewhere in the class (running state such as a hidden state; another branch of the same
    `if` is not "elsewhere"), or are the dummy tensor
    passed to `checkpoint(...)` so that reentrant checkpointing produces gradients are not flagged.

    ## Why is this bad?
    A plain tensor attribute is not registered: it is missing from `parameters()` (an optimizer built
    from `model.parameters()` never updates it), from `state_dict()` (it is not saved or loaded), and
    `model.to(device)` does not move it.

    ## Example
    ```python
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.alpha = torch.ones(1, requires_grad=True)
    ```

    ## Use instead
    ```python
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.alpha = nn.Parameter(torch.ones(1))
    ```

    ## Fix safety
    Unsafe: wrapping the value in `nn.Parameter(...)` (named through the file's imports) adds the tensor to
    `parameters()` and `state_dict()`, which changes what the optimizer updates, what checkpoints contain
    (loading an older checkpoint with `strict=True` then fails on the missing key) and what `.to()` moves.
    """

    code = "GL601"
    name = "unregistered-tensor-parameter"
    severity = "error"
    message = ("'self.{attr}' is a plain tensor with requires_grad=True, not a Parameter: it is not in parameters() "
               "(the optimizer never updates it), not in state_dict() and not moved by .to(). "
               "Wrap it: nn.Parameter(...)")
    triggers = ("requires_grad",)
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("import torch\nimport torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.alpha = nn.Parameter(torch.ones(1))\n"),
        Valid("import torch\nclass Solver:\n    def __init__(self):\n        self.alpha = torch.ones(1, requires_grad=True)\n",
              "not a module: a plain optimization variable"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.alpha = torch.ones(1, requires_grad=True)\n        self.alpha = nn.Parameter(self.alpha)\n",
              "wrapped afterwards"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.mask = torch.ones(3)\n", "no requires_grad: a constant"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.h = torch.zeros(1, 8, requires_grad=True)\n    def forward(self, x):\n        self.h = self.h.detach()\n"
              "        return x\n", "running state, reassigned"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.w = torch.ones(3, requires_grad=True)\n        self.register_parameter('weight', nn.Parameter(self.w))\n"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self, learn):\n        super().__init__()\n"
              "        self.w = torch.ones(3, requires_grad=learn)\n", "requires_grad not certain"),
        Valid("import torch\nfrom torch import nn\nfrom torch.utils.checkpoint import checkpoint\nclass M(nn.Module):\n"
              "    def __init__(self):\n        super().__init__()\n        self.anchor = torch.ones(1, requires_grad=True)\n"
              "    def forward(self, x):\n        return checkpoint(self.block, x, self.anchor)\n",
              "the dummy tensor that makes reentrant checkpointing work"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.dummy_tensor = torch.ones(1, dtype=torch.float32, requires_grad=True)\n", "a checkpointing dummy"),
        Valid("import chainer\nclass M(chainer.Chain):\n    def __init__(self):\n        super().__init__()\n"
              "        self.w = torch.ones(3, requires_grad=True)\n", "not a torch module class"),
        Valid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def forward(self, x):\n"
              "        noise = torch.randn(3, requires_grad=True)\n        return x + noise\n", "a local, not an attribute"),
    )
    invalid = (
        Invalid("import torch\nimport torch.nn as nn\nclass Scale(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.alpha = torch.ones(1, requires_grad=True)\n", 6, 9,
                fixed="import torch\nimport torch.nn as nn\nclass Scale(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.alpha = nn.Parameter(torch.ones(1, requires_grad=True))\n"),
        Invalid("import torch as th\nfrom torch.nn import Module\nclass Emb(Module):\n    def __init__(self, n, d):\n"
                "        super().__init__()\n        self.table = th.randn(n, d).requires_grad_()\n", 6, 9,
                fixed="import torch as th\nfrom torch.nn import Module\nclass Emb(Module):\n    def __init__(self, n, d):\n"
                "        super().__init__()\n        self.table = th.nn.Parameter(th.randn(n, d).requires_grad_())\n"),
        Invalid("import torch\nfrom torch import nn\nclass Base(nn.Module):\n    pass\nclass Head(Base):\n"
                "    def reset(self):\n        self.bias = torch.zeros(10, requires_grad=True).to(self.device)\n", 7, 9,
                fixed="import torch\nfrom torch import nn\nclass Base(nn.Module):\n    pass\nclass Head(Base):\n"
                "    def reset(self):\n        self.bias = nn.Parameter(torch.zeros(10, requires_grad=True).to(self.device))\n"),
        Invalid("import torch\nimport pytorch_lightning as pl\nclass Lit(pl.LightningModule):\n    def __init__(self):\n"
                "        super().__init__()\n        self.temperature: torch.Tensor = torch.tensor([1.0], requires_grad=True)\n", 6, 9,
                fixed="import torch\nimport pytorch_lightning as pl\nclass Lit(pl.LightningModule):\n    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.temperature: torch.Tensor = torch.nn.Parameter(torch.tensor([1.0], requires_grad=True))\n"),
        Invalid("import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self, k):\n        super().__init__()\n"
                "        w = torch.empty(k, k, requires_grad=True)\n        self.w = w\n", 7, 9,
                fixed="import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self, k):\n        super().__init__()\n"
                "        w = torch.empty(k, k, requires_grad=True)\n        self.w = nn.Parameter(w)\n"),
    )
    evidence = Evidence(
        bad="import torch\nfrom torch import nn\nclass Scale(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.alpha = torch.ones(1, requires_grad=True)\nprint(len(list(Scale().parameters())))\n",
        bad_shows=Outcome(stdout="0"),
        good="import torch\nfrom torch import nn\nclass Scale(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.alpha = nn.Parameter(torch.ones(1))\nprint(len(list(Scale().parameters())))\n",
        good_shows=Outcome(stdout="1"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self._exempt: Dict[int, Set[str]] = {}  # id(class) -> attributes reassigned or registered later

    def visit_Assign(self, node: cst.Assign) -> None:
        self._check(node, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._check(node, node.value)

    def _check(self, node: cst.CSTNode, value: cst.BaseExpression) -> None:
        attr = module_attribute_target(self.context, node)
        if not attr:
            return
        facts = tensor_facts(self.context, value)
        if facts is None or facts.requires_grad is not True or facts.origin == PARAMETER or is_integral(facts.dtype):
            return
        klass = enclosing_method_class(self.context.ancestors)
        if klass is None or "dummy" in attr.lower() or attr in self._exempt_attributes(klass):
            return
        self.report(node, self.message.format(attr=attr), fix=self._wrap_fix(value))

    def _wrap_fix(self, value: cst.BaseExpression):
        """``nn.Parameter(<value>)``, naming ``nn`` through the file's imports."""
        reference = reference_to(self.context, PARAMETER)
        if reference is None:
            return None
        parameter, new_import = reference
        wrap = Replacement(value, cst.Call(func=parameter, args=[cst.Arg(value=value)]))
        return [wrap, new_import] if new_import is not None else wrap

    def _exempt_attributes(self, klass: cst.ClassDef) -> Set[str]:
        found = self._exempt.get(id(klass))
        if found is None:
            found = set()
            assigned: dict = {}  # attr -> (method, suite) of each assignment so far
            methods = [m for m in klass.body.body if isinstance(m, cst.FunctionDef)] \
                if isinstance(klass.body, cst.IndentedBlock) else []
            for method in methods:
                for node, suite in _assignments_with_blocks(method.body):
                    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
                    for attr in filter(None, map(_self_attribute, targets)):
                        # running state: set again in another method or later in the same block, updated in
                        # place, or from itself (``self.h = self.h.detach()``); alternatives in the branches
                        # of one method (``if learn: ... else: ...``) are not
                        seen = assigned.setdefault(attr, [])
                        again = any(m is not method or block is suite for m, block in seen)
                        seen.append((method, suite))
                        if again or isinstance(node, cst.AugAssign) or (
                                node.value is not None and any(_self_attribute(n) == attr for n in iter_tree(node.value))):
                            found.add(attr)
            for node in iter_tree(klass.body):
                if isinstance(node, cst.Call):
                    func = node.func
                    called = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
                    if called in _EXEMPTING_CALLS:
                        for sub in iter_tree(node):
                            attr = _self_attribute(sub)
                            if attr:
                                found.add(attr)
            found.discard("")
            self._exempt[id(klass)] = found
        return found
