from typing import Optional, Set

import libcst as cst

from autogradlint.analysis.grad_mode import NO_GRAD_MODE, backward_target, grad_mode_at
from autogradlint.analysis.grad_state import TENSOR, facts_at
from autogradlint.analysis.torch_semantics import is_in_place_method
from autogradlint.analysis.loops import enclosing_scope, is_parameter_loop_item, own_calls
from autogradlint.analysis.modules import enclosing_method_class, module_attributes
from autogradlint.analysis.names import works_with_torch
from autogradlint.analysis.optimizers import is_optimizer_class
from autogradlint.analysis.tensors import dtype_swap_operands
from autogradlint.edits import Replacement
from autogradlint.fix_builders import reference_to
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

# attributes of torch modules (and tensors) that certainly hold a tensor: ``conv.weight``, ``p.grad``
TENSOR_ATTRIBUTES = frozenset({"weight", "bias", "grad", "running_mean", "running_var", "in_proj_weight", "in_proj_bias"})
# ``x.data op= v`` written as the in-place method (``x += v`` would rebind the name ``x``)
IN_PLACE_OPERATORS = {
    cst.AddAssign: "add_", cst.SubtractAssign: "sub_", cst.MultiplyAssign: "mul_", cst.DivideAssign: "div_",
}


class DataAttribute(Rule):
    """
    ## What it does
    Flags `.data` on a torch tensor or parameter, read or written, outside the methods of a
    `torch.optim.Optimizer` subclass. The receiver must be known to be a torch tensor: a parameter from
    `.parameters()` (or a `zip` of such loops), a module's `.weight`/`.bias`/`.grad`, a factory or module
    output, a torch function's result (`F.softmax(x, 1).data`), a loss that is `.backward()`-ed, an
    `nn.Parameter` attribute, or an argument of a `torch.*` function.

    ## Why is this bad?
    `.data` returns the tensor's storage with autograd switched off and without version tracking. An
    in-place change through it (or of it) after the tensor was saved for backward gives silently wrong
    gradients, where `.detach()` or a `torch.no_grad()` block would raise "modified by an inplace operation".

    ## Example
    ```python
    for p in model.parameters():
        p.data.clamp_(-0.01, 0.01)
    accuracy = (outputs.data.argmax(1) == labels).float().mean()
    ```

    ## Use instead
    ```python
    with torch.no_grad():
        for p in model.parameters():
            p.clamp_(-0.01, 0.01)
    accuracy = (outputs.detach().argmax(1) == labels).float().mean()
    ```

    A dtype change that keeps the object (`p.data = p.data.to(torch.float32)`, `g.data = g.data.half()`) is not
    flagged: `copy_` cannot change a dtype, and `.data` is the way to do it.

    ## Fix safety
    Unsafe: reads become `.detach()` and writes move into `with torch.no_grad():` (`x.data = v` becomes
    `x.copy_(v)`, `x.data += v` becomes `x.add_(v)`, `x.data.zero_()` becomes `x.zero_()`), which restores
    the version checks: code that relied on `.data` to dodge them will now raise instead of computing wrong
    gradients, and `x.copy_(v)` fails where `.data = v` swapped in a tensor of another shape or dtype.
    `import torch` is added when the file has no name for `torch.no_grad`. A write on a line shared with
    other statements (`x.data = v; y = 1`, `for p in ps: p.data = v`) or to several targets is not fixed,
    except that an in-place method call there becomes `x.detach().zero_()`, which writes the same storage.

    ## Default selection
    Off by default: select it by code (`--extend-select GL309`), by prefix (`GL3`) or with `ALL`. On library
    code its findings are mostly deliberate: the benchmark's sweep (docs/robustness.md) found 307 `.data`
    uses among the 354 findings over torch, lightning, timm, accelerate and transformers, and 63 of the 86
    over torch 2.13's own sources, nearly all intended (mixed-precision casts such as
    `p.grad.data = p.grad.to(p.data.dtype)`, distributed buffers, in-place parameter surgery). In training
    scripts it is more often the old-style mistake, which is why it stays available.
    """

    default = False
    off_by_default = ("on library code its findings are mostly deliberate: 307 of the 354 findings over torch, "
                      "lightning, timm, accelerate and transformers (63 of 86 over torch 2.13 alone), nearly all "
                      "intended `.data` uses in framework internals (mixed-precision casts, distributed buffers, "
                      "in-place parameter surgery)")
    code = "GL309"
    name = "data-attribute"
    severity = "hint"
    message = ("'.data' bypasses autograd's version checks: in-place changes through it give silently wrong "
               "gradients. Read with '.detach()'; write under 'with torch.no_grad():'")
    triggers = (".data",)
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("import torch\nclass Lion(torch.optim.Optimizer):\n    def step(self):\n        for group in self.param_groups:\n"
              "            for p in group['params']:\n                p.data.add_(p.grad, alpha=-group['lr'])\n",
              "inside an optimizer's internals"),
        Valid("import torch\nfrom torch.optim import Optimizer\nclass Base(Optimizer):\n    pass\nclass Sgd(Base):\n"
              "    def step(self):\n        for p in self.params:\n            p.weight.data.zero_()\n", "an optimizer through a local base"),
        Valid("import torch\nfrom torchvision.datasets import CIFAR10\nds = CIFAR10('.', download=True)\nimages = ds.data\n",
              "a dataset's numpy array"),
        Valid("import torch\ndef collate(batch):\n    return batch.data\n", "unknown receiver"),
        Valid("import chainer\nfor p in model.params():\n    p.data[...] = 0\n", "another library"),
        Valid("import torch\ny = x.detach()\n", "already detach"),
        Valid("import torch\nimport numpy as np\narr = np.zeros(3)\nbuf = arr.data\n", "a numpy buffer"),
        Valid("import torch\nfor name, p in model.named_parameters():\n    p.data = p.data.to(torch.float32)\n",
              "a dtype change keeping the parameter object: copy_ cannot do it"),
    )
    invalid = (
        Invalid("import torch\nfor p in model.parameters():\n    p.data.clamp_(-0.01, 0.01)\n", 3, 5,
                fixed="import torch\nfor p in model.parameters():\n    with torch.no_grad():\n        p.clamp_(-0.01, 0.01)\n"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.fc = nn.Linear(4, 2)\n        self.fc.weight.data.normal_(0, 0.01)\n", 6, 9,
                fixed="import torch.nn as nn\nimport torch\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.fc = nn.Linear(4, 2)\n        with torch.no_grad():\n            self.fc.weight.normal_(0, 0.01)\n"),
        Invalid("import torch\noutputs = net(images)\n_, predicted = torch.max(outputs.data, 1)\n", 3, 26,
                fixed="import torch\noutputs = net(images)\n_, predicted = torch.max(outputs.detach(), 1)\n"),
        Invalid("import torch\ndef train(model, x, y, crit):\n    loss = crit(model(x), y)\n    loss.backward()\n"
                "    return loss.data\n", 5, 12,
                fixed="import torch\ndef train(model, x, y, crit):\n    loss = crit(model(x), y)\n    loss.backward()\n"
                "    return loss.detach()\n"),
        Invalid("import torch as th\nw = th.randn(3, requires_grad=True)\nsnapshot = w.data\n", 3, 12,
                fixed="import torch as th\nw = th.randn(3, requires_grad=True)\nsnapshot = w.detach()\n"),
        Invalid("import torch\nfrom torch import nn\nclass Gate(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.alpha = nn.Parameter(torch.zeros(1))\n    def clamp(self):\n        self.alpha.data = self.alpha.clamp(0, 1)\n", 8, 9,
                fixed="import torch\nfrom torch import nn\nclass Gate(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.alpha = nn.Parameter(torch.zeros(1))\n    def clamp(self):\n        with torch.no_grad():\n"
                "            self.alpha.copy_(self.alpha.clamp(0, 1))\n"),
    )
    evidence = Evidence(
        bad=("import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\ny = x.sigmoid()\n"
             "y.data.zero_()  # corrupts the output sigmoid saved for backward\ny.sum().backward()\nprint(x.grad.tolist())\n"),
        bad_shows=Outcome(stdout="[0.0, 0.0]"),
        good=("import torch\nx = torch.tensor([1.0, 2.0], requires_grad=True)\ny = x.sigmoid()\n"
              "y.detach().zero_()\ny.sum().backward()\nprint(x.grad.tolist())\n"),
        good_shows=Outcome(raises="RuntimeError", message="modified by an inplace operation"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self._uses_torch: Optional[bool] = None
        self._backwarded: dict = {}

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != "data":
            return
        if self._uses_torch is None:
            self._uses_torch = works_with_torch(self.context)
        if not self._uses_torch or self._in_optimizer() or self._in_dtype_swap(node):
            return
        if self._is_torch_tensor(node.value) or self._is_torch_argument(node):
            self.report(node, fix=self._fix(node))

    def _fix(self, node: cst.Attribute):
        """A write through ``x.data`` becomes the same write to ``x`` under ``torch.no_grad()``; a read (or an
        in-place write that cannot be wrapped) becomes ``x.detach()``, which shares the storage."""
        ancestors = self.context.ancestors
        detached = Replacement(node, cst.Call(func=cst.Attribute(value=node.value, attr=cst.Name("detach"))))
        position = next(
            (i for i in range(len(ancestors) - 1, -1, -1) if isinstance(ancestors[i], cst.BaseSmallStatement)), None)
        small = ancestors[position] if position is not None else None
        assigned = _assigned_with(small, node) if small is not None else None
        if assigned is None:
            if _store_target(ancestors, node):
                return None  # ``a.data, b.data = ...``, ``del x.data``: no single write to rewrite
            if small is None or not _writes_through(ancestors, node):
                return detached
        rewritten = assigned if assigned is not None else small.deep_replace(node, node.value)
        if grad_mode_at(self.context) == NO_GRAD_MODE:
            return Replacement(small, rewritten)
        line = ancestors[position - 1]
        reference = reference_to(self.context, "torch.no_grad")
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1 or reference is None:
            # ``x.data = v`` needs the wrapped call; ``x.data.zero_()`` can write through a detached view
            return None if assigned is not None else detached
        no_grad, import_torch = reference
        wrapped = cst.With(
            items=[cst.WithItem(item=cst.Call(func=no_grad))],
            body=cst.IndentedBlock(body=[line.with_changes(body=[rewritten], leading_lines=())]),
            leading_lines=line.leading_lines,
        )
        return [Replacement(line, wrapped)] + ([import_torch] if import_torch is not None else [])

    def _is_torch_tensor(self, receiver: cst.BaseExpression) -> bool:
        if isinstance(receiver, cst.Attribute):
            if receiver.attr.value in TENSOR_ATTRIBUTES:
                return True
            return self._is_parameter_attribute(receiver)
        if not isinstance(receiver, cst.Name):
            # ``F.softmax(logits, 1).data``, ``outputs[0].data``: what the analysis knows of the value
            return facts_at(self.context, receiver).kind == TENSOR
        if is_parameter_loop_item(self.context, receiver):
            return True
        if receiver.value in self._backwarded_names():
            return True
        return facts_at(self.context, receiver).kind == TENSOR

    def _is_parameter_attribute(self, receiver: cst.Attribute) -> bool:
        """``self.alpha`` where the module class sets ``self.alpha = nn.Parameter(...)``."""
        if not (isinstance(receiver.value, cst.Name) and receiver.value.value == "self"):
            return False
        klass = enclosing_method_class(self.context.ancestors)
        if klass is None:
            return False
        attribute = module_attributes(self.context, klass).get(receiver.attr.value)
        return attribute is not None and attribute.kind == "parameter"

    def _in_dtype_swap(self, node: cst.Attribute) -> bool:
        """Either ``.data`` of ``x.data = x.data.to(dtype)``: ``copy_`` under no_grad cannot change a dtype."""
        statement = next((a for a in reversed(self.context.ancestors) if isinstance(a, cst.BaseSmallStatement)), None)
        operands = dtype_swap_operands(statement) if statement is not None else None
        return operands is not None and any(node is operand for operand in operands)

    def _is_torch_argument(self, node: cst.Attribute) -> bool:
        """``x.data`` passed straight to a ``torch.*`` function: ``torch.max(outputs.data, 1)``."""
        ancestors = self.context.ancestors
        if len(ancestors) < 2 or not isinstance(ancestors[-1], cst.Arg) or not isinstance(ancestors[-2], cst.Call):
            return False
        func = ancestors[-2].func
        if not isinstance(func, (cst.Name, cst.Attribute)):
            return False
        name = self.context.qualified_name(func) or ""
        return name.startswith("torch.") and name.count(".") == 1

    def _backwarded_names(self) -> Set[str]:
        """Names the enclosing scope calls ``.backward()`` on: certainly torch tensors."""
        scope = enclosing_scope(self.context.ancestors)
        found = self._backwarded.get(id(scope))
        if found is None:
            found = set()
            for call in own_calls(scope):
                target = backward_target(self.context, call)
                if isinstance(target, cst.Name):
                    found.add(target.value)
            self._backwarded[id(scope)] = found
        return found

    def _in_optimizer(self) -> bool:
        """Inside a class that subclasses a torch optimizer (directly or through classes of this file)."""
        for node in self.context.ancestors:
            if type(node) is cst.ClassDef and is_optimizer_class(self.context, node) is True:
                return True
        return False


# tensor methods that may give another dtype


def _assigned_with(statement: cst.BaseSmallStatement, node: cst.Attribute) -> Optional[cst.BaseSmallStatement]:
    """For ``x.data = v`` / ``x.data += v`` (``node`` the target), the same write as an in-place call on ``x``:
    ``x.copy_(v)`` / ``x.add_(v)``; None for other statements."""
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1 and statement.targets[0].target is node:
        method, value = "copy_", statement.value
    elif (isinstance(statement, cst.AugAssign) and statement.target is node
          and type(statement.operator) in IN_PLACE_OPERATORS):
        method, value = IN_PLACE_OPERATORS[type(statement.operator)], statement.value
    else:
        return None
    call = cst.Call(func=cst.Attribute(value=node.value, attr=cst.Name(method)), args=[cst.Arg(value)])
    return cst.Expr(value=call, semicolon=statement.semicolon)


def _store_target(ancestors, node: cst.CSTNode) -> bool:
    """Whether ``node`` is itself assigned or deleted (directly or in a tuple of targets)."""
    child = node
    for parent in reversed(ancestors):
        if isinstance(parent, (cst.Element, cst.StarredElement, cst.Tuple, cst.List)):
            child = parent
            continue
        if isinstance(parent, (cst.AssignTarget, cst.Del, cst.AsName)):
            return True
        return getattr(parent, "target", None) is child
    return False


def _writes_through(ancestors, node: cst.CSTNode) -> bool:
    """Whether the statement holding ``node`` writes through it: ``x.data.zero_()`` (possibly chained:
    ``x.data.mul_(a).add_(b)``) as an expression statement, or ``x.data[i] = v``."""
    parent = ancestors[-1]
    if isinstance(parent, cst.Subscript) and parent.value is node:
        return _store_target(ancestors[:-1], parent)
    if not (isinstance(parent, cst.Attribute) and parent.value is node and is_in_place_method(parent.attr.value, values_only=True)):
        return False
    child = node
    for ancestor in reversed(ancestors):
        if isinstance(ancestor, cst.Expr):
            return ancestor.value is child
        if not ((isinstance(ancestor, cst.Attribute) and ancestor.value is child)
                or (isinstance(ancestor, cst.Call) and ancestor.func is child)):
            return False
        child = ancestor
    return False
