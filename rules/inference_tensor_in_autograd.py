from typing import Optional

import libcst as cst

from autogradlint.analysis.grad_mode import (
    ENABLED,
    INFERENCE,
    ScopeFlow,
    feeds_backward,
    is_torch_loss,
    scope_flow,
    with_mode,
)
from autogradlint.analysis.grad_state import facts_at
from autogradlint.analysis.modules import module_instance
from autogradlint.analysis.names import target_names
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid
from autogradlint.walk import iter_tree
from autogradlint.analysis.grad_mode import GradOffValue
from autogradlint.analysis.modules import own_returns

# binary operators whose backward needs their operands (addition and subtraction do not)
_SAVING_OPERATORS = (cst.Multiply, cst.Divide, cst.MatrixMultiply, cst.Power)
# torch functions that multiply their tensor arguments
_SAVING_FUNCTIONS = frozenset(
    {"torch.mul", "torch.div", "torch.matmul", "torch.mm", "torch.bmm", "torch.einsum", "torch.nn.functional.linear"}
)
# tensor methods whose result is the same tensor or a view of it: still an inference tensor
_VIEW_METHODS = frozenset({"view", "reshape", "flatten", "unsqueeze", "squeeze", "permute", "transpose", "t",
                           "expand", "expand_as", "view_as", "narrow", "select", "unflatten", "detach"})


class InferenceTensorInAutograd(Rule):
    """
    ## What it does
    Flags a tensor created under `torch.inference_mode()` (in a `with` block, or built and returned by a
    function of the same file decorated with it) that is later used, in the same function, directly or
    under another name (`y = x`), in an operation autograd must save it for (multiplication, matmul, a module with parameters such as
    `nn.Linear`, a loss function) whose result is `.backward()`-ed.

    ## Why is this bad?
    Inference tensors cannot take part in recorded computation:
    `RuntimeError: Inference tensors cannot be saved for backward`. Plain addition or subtraction does
    not save its operands and works, so it is not flagged.

    ## Example
    ```python
    with torch.inference_mode():
        features = backbone(images)
    loss = criterion(head(features), labels)
    loss.backward()
    ```

    ## Use instead
    ```python
    with torch.no_grad():
        features = backbone(images)
    loss = criterion(head(features), labels)
    loss.backward()
    ```
    (or use `features.clone()` outside the block).

    ## Fix safety
    No fix: `no_grad` or a `.clone()` are both possible repairs.
    """

    code = "GL207"
    name = "inference-tensor-in-autograd"
    severity = "error"
    message = ("'{name}' was created under inference_mode: using it in recorded computation raises "
               "'Inference tensors cannot be saved for backward'. Create it under torch.no_grad() or use '{name}.clone()'")
    triggers = ("inference_mode",)
    needs = frozenset({"names"})

    valid = (
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\nwith torch.inference_mode():\n    x = torch.ones(3)\n"
              "loss = (w + x).sum()\nloss.backward()\n", "addition does not save its operands"),
        Valid("import torch\nhead = torch.nn.Linear(8, 2)\nwith torch.no_grad():\n    feats = backbone(images)\n"
              "loss = crit(head(feats), labels)\nloss.backward()\n", "no_grad tensors are normal tensors"),
        Valid("import torch\nhead = torch.nn.Linear(8, 2)\nwith torch.inference_mode():\n    feats = backbone(images)\n"
              "loss = crit(head(feats.clone()), labels)\nloss.backward()\n", "cloned first"),
        Valid("import torch\nhead = torch.nn.Linear(8, 2)\nwith torch.inference_mode():\n    feats = backbone(images)\n"
              "    preds = head(feats)\nprint(preds.argmax(1))\n", "inference only: nothing is backward-ed"),
        Valid("import torch\nhead = torch.nn.Linear(8, 2)\nwith torch.inference_mode():\n    feats = torch.randn(4, 8)\n"
              "with torch.inference_mode():\n    out = head(feats)\nloss = head(torch.ones(4, 8)).sum()\nloss.backward()\n",
              "used again only under inference_mode"),
        Valid("import torch\nhead = torch.nn.Linear(8, 2)\nwith torch.inference_mode():\n    feats = torch.randn(4, 8)\n"
              "feats = torch.randn(4, 8)\nloss = head(feats).sum()\nloss.backward()\n", "rebound before the use"),
        Valid("import torch\nw = torch.ones(3, requires_grad=True)\nwith torch.inference_mode():\n    x = torch.ones(3)\n"
              "scale = (x * 2).mean()\nloss = (w * 3).sum()\nloss.backward()\n", "multiplied only by constants"),
    )
    invalid = (
        Invalid("import torch\nfrom torch import nn\nbackbone = nn.Linear(16, 8)\nhead = nn.Linear(8, 2)\n"
                "with torch.inference_mode():\n    feats = backbone(torch.randn(4, 16))\n"
                "loss = nn.functional.cross_entropy(head(feats), labels)\nloss.backward()\n", 7, 41),
        Invalid("import torch\nw = torch.ones(3, requires_grad=True)\nwith torch.inference_mode():\n    x = torch.ones(3)\n"
                "y = x * w\nloss = y.sum()\nloss.backward()\n", 5, 5),
        Invalid("import torch as th\nimport torch.nn.functional as F\nclass Distiller:\n"
                "    def step(self, student, teacher, batch, opt):\n        with th.inference_mode():\n"
                "            target = th.softmax(batch @ batch.T, dim=-1)\n"
                "        pred = student(batch)\n        loss = F.mse_loss(pred, target)\n"
                "        loss.backward()\n        opt.step()\n", 8, 33),
        Invalid("import torch\nfrom torch.nn import Linear\nenc = Linear(4, 4)\nfc = Linear(4, 1)\n"
                "for x in loader:\n    with torch.inference_mode():\n        z = enc(x)\n"
                "    out = fc(z[:, :4]).mean()\n    out.backward()\n", 8, 14),
    )
    evidence = Evidence(
        bad="import torch\nbackbone = torch.nn.Linear(4, 4)\nhead = torch.nn.Linear(4, 1)\n"
            "with torch.inference_mode():\n    feats = backbone(torch.ones(2, 4))\nloss = head(feats).sum()\nloss.backward()\n",
        bad_shows=Outcome(raises="RuntimeError", message="Inference tensors cannot be saved for backward"),
        good="import torch\nbackbone = torch.nn.Linear(4, 4)\nhead = torch.nn.Linear(4, 1)\n"
             "with torch.no_grad():\n    feats = backbone(torch.ones(2, 4))\nloss = head(feats).sum()\nloss.backward()\n"
             "print(head.weight.grad is not None)\n",
        good_shows=Outcome(stdout="True"),
    )

    def visit_With(self, node: cst.With) -> None:
        if with_mode(self.context, node) != INFERENCE:
            return
        flow = scope_flow(self.context)
        if flow is None or not flow.contains(node):
            return
        for assignment in iter_tree(node.body):
            if not isinstance(assignment, cst.Assign) or not flow.contains(assignment):
                continue
            if flow.region_at(assignment) is not node or not self._makes_tensor(assignment.value):
                continue
            for target in assignment.targets:
                for name in target_names(target.target):
                    use = self._first_tracked_use(flow, assignment, name)
                    if use is not None:
                        self.report(use, self.message.format(name=name))
                        return

    def visit_Assign(self, node: cst.Assign) -> None:
        # `feats = embed(x)` where `embed` is a function of this file decorated with inference_mode: every
        # tensor it builds and returns is an inference tensor
        if len(node.targets) != 1 or type(node.targets[0].target) is not cst.Name or type(node.value) is not cst.Call:
            return
        flow = scope_flow(self.context)
        if flow is None or not flow.contains(node) or flow.mode_at(node) not in (None, ENABLED):
            return
        value = flow.grad_off_value(node.value)
        if not (isinstance(value, GradOffValue) and value.mode == INFERENCE and value.node is node.value
                and isinstance(value.region, cst.FunctionDef)):
            return
        returns = own_returns(value.region)
        if not returns or not all(r is not None and self._makes_tensor(r) for r in returns):
            return
        name = node.targets[0].target.value
        use = self._first_tracked_use(flow, node, name)
        if use is not None:
            self.report(use, self.message.format(name=name))

    def _makes_tensor(self, value: cst.BaseExpression) -> bool:
        """A call that certainly returns new tensors: a module, or a torch function other than a view."""
        if not isinstance(value, cst.Call) or not isinstance(value.func, (cst.Name, cst.Attribute)):
            return False
        func = value.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call):
            # a tensor method on a fresh tensor (`teacher(x).softmax(-1)`)
            return func.attr.value not in _VIEW_METHODS and self._makes_tensor(func.value)
        name = self.context.qualified_name(func)
        if name is not None:
            function = name.rsplit(".", 1)[-1]
            return name.startswith("torch.") and function[:1].islower() and function not in _VIEW_METHODS
        return module_instance(self.context, func) is not None

    def _first_tracked_use(self, flow: ScopeFlow, assignment: cst.Assign, name: str, depth: int = 0) -> Optional[cst.Name]:
        for read in flow.reads_of(assignment, name):
            if flow.mode_at(read) not in (None, ENABLED):
                continue
            copy = flow.parent(read)
            if isinstance(copy, cst.Assign) and copy.value is read and depth < 3 and len(copy.targets) == 1 \
                    and isinstance(copy.targets[0].target, cst.Name):
                # `y = x`: the same inference tensor under another name
                use = self._first_tracked_use(flow, copy, copy.targets[0].target.value, depth + 1)
                if use is not None:
                    return use
                continue
            operand = _through_views(flow, read)
            operation = self._saving_operation(flow, operand)
            if operation is not None and feeds_backward(flow, operation):
                return read
        return None

    def _saving_operation(self, flow: ScopeFlow, operand: cst.BaseExpression) -> Optional[cst.BaseExpression]:
        """The operation that must save ``operand`` for backward, if it is one."""
        parent = flow.parent(operand)
        if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, _SAVING_OPERATORS):
            other = parent.right if operand is parent.left else parent.left
            if facts_at(self.context, other, flow.simple_statement_of(parent)).requires_grad:
                return parent
            return None
        if not isinstance(parent, cst.Arg) or parent.value is not operand:
            return None
        call = flow.parent(parent)
        if not isinstance(call, cst.Call) or not isinstance(call.func, (cst.Name, cst.Attribute)):
            return None
        if is_torch_loss(self.context, call.func):
            return call
        if self.context.qualified_name(call.func) in _SAVING_FUNCTIONS:
            return call
        instance = module_instance(self.context, call.func)
        if instance is not None and instance.has_parameters:
            return call
        return None


def _through_views(flow: ScopeFlow, read: cst.Name) -> cst.BaseExpression:
    """The outermost expression that is ``read`` or a view of it (`x[0]`, `x.view(...)`): still an
    inference tensor."""
    current: cst.BaseExpression = read
    while True:
        parent = flow.parent(current)
        if isinstance(parent, cst.Subscript) and parent.value is current:
            current = parent
            continue
        if isinstance(parent, cst.Attribute) and parent.value is current and parent.attr.value in _VIEW_METHODS:
            call = flow.parent(parent)
            if isinstance(call, cst.Call) and call.func is parent:
                current = call
                continue
        return current

