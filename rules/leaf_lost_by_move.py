from typing import Dict, List, Optional

import libcst as cst

from autogradlint.analysis.tensors import (
    DATA_FACTORIES,
    FLOAT_FACTORIES,
    FLOATING_DTYPE_METHODS,
    INT_FACTORIES,
    LIKE_FACTORIES,
    PARAMETER,
    TensorFacts,
    device_kind,
    dtype_of,
    factory_call,
    keyword,
    makes_new_tensor,
    positional,
    tensor_facts,
    tensor_type_of,
)
from autogradlint.analysis.grad_state import facts_at
from autogradlint.analysis.optimizers import is_torch_optimizer_name
from autogradlint.edits import Replacement
from autogradlint.fix_builders import conversion_inside, reference_to, with_keyword
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

# factories that take device= and dtype= besides requires_grad=
_KEYWORD_FACTORIES = FLOAT_FACTORIES | LIKE_FACTORIES | DATA_FACTORIES | INT_FACTORIES


def _optimized_expressions(call: cst.Call) -> List[cst.BaseExpression]:
    """The tensors an optimizer is given: list/tuple elements of its params, also inside param groups."""
    params = keyword(call, "params")
    args = positional(call)
    container = params.value if params is not None else (args[0].value if args else None)
    found: List[cst.BaseExpression] = []

    def collect(value: cst.BaseExpression) -> None:
        if isinstance(value, (cst.List, cst.Tuple)):
            for element in value.elements:
                if isinstance(element.value, cst.Dict):
                    collect(element.value)
                elif not isinstance(element, cst.StarredElement):
                    found.append(element.value)
        elif isinstance(value, cst.Dict):
            for element in value.elements:
                if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString) \
                        and element.key.value.strip("'\"") == "params":
                    collect(element.value)

    if container is not None:
        collect(container)
    return found


class LeafLostByMove(Rule):
    """
    ## What it does
    Flags a leaf tensor created with `requires_grad=True` (a factory, `.requires_grad_()` or
    `nn.Parameter`) and moved or cast in the same expression by a call that certainly makes a new tensor
    (`.cuda()`, `.to("cuda")`, `.to(<other dtype>)`, `.double()`, `.half()`, `.bfloat16()`,
    `.type(<other type>)`), when the result is then used as a leaf: its `.grad` is read or it is handed
    to an optimizer.

    `.cpu()`, `.to("cpu")` and `.float()` of a CPU float32 tensor return the same tensor, which stays a
    leaf; a moved tensor that is only used as an input to computations is harmless, and so is a `.grad` read
    after `.retain_grad()` on it (the copy then keeps its gradient). None of these is flagged.
    Attributes of module classes are left to `unregistered-tensor-parameter` (GL601) and
    `parameter-lost-by-move` (GL604).

    ## Why is this bad?
    The move is recorded by autograd: the variable holds the non-leaf copy, while the leaf that receives
    gradients is thrown away. After `backward()` its `.grad` is None (with a UserWarning), and an
    optimizer given it never changes it.

    ## Example
    ```python
    w = torch.randn(3, requires_grad=True).cuda()
    optimizer = torch.optim.SGD([w], lr=0.1)
    ```

    ## Use instead
    ```python
    w = torch.randn(3, device="cuda", requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    ```

    ## Fix safety
    Unsafe: the fix builds the leaf where it was moved to: it passes the target `device=`/`dtype=` to the
    factory (`torch.randn(3, requires_grad=True).cuda()` -> `torch.randn(3, requires_grad=True, device="cuda")`),
    converts the data inside `nn.Parameter(...)`, or calls `.requires_grad_()` after the move. The values
    can change: random numbers are drawn on the target device or in the target dtype, and a literal is
    parsed straight into the target dtype. Conversions it does not understand (`.to(other)`,
    `non_blocking=`, `.cuda(1)`) and tensors built through a chain of calls are not fixed.
    """

    code = "GL107"
    name = "leaf-lost-by-move"
    severity = "error"
    message = ("'.{method}()' copies this requires_grad leaf, so the variable holds a non-leaf: its .grad stays "
               "None and the optimizer never updates it. Pass device=/dtype= to the factory or call "
               ".requires_grad_() after the move")
    triggers = (".grad", "optim")
    needs = frozenset({"names"})
    fix_applicability = "unsafe"

    valid = (
        Valid("import torch\nw = torch.randn(3, requires_grad=True).cpu()\nprint(w.grad)\n", ".cpu() of a CPU tensor is itself"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True).float()\nopt = torch.optim.SGD([w], lr=0.1)\n",
              ".float() of a float32 tensor is itself"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True).to(device)\nprint(w.grad)\n", "device unknown"),
        Valid("import torch\nx = torch.randn(3, requires_grad=True).cuda()\ny = model(x)\n", "only used as an input"),
        Valid("import torch\nw = torch.randn(3, device='cuda', requires_grad=True)\nopt = torch.optim.Adam([w])\n"),
        Valid("import torch\nw = torch.randn(3).cuda().requires_grad_()\nprint(w.grad)\n", "requires_grad_ after the move"),
        Valid("import torch\nw = torch.randn(3, dtype=torch.float64, requires_grad=True).double()\nprint(w.grad)\n",
              "already float64"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True).cuda()\nw.grad = None\n", "writing .grad is not reading it"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True).double()\nw = w.detach().requires_grad_()\nprint(w.grad)\n",
              "rebound to a leaf"),
        Valid("import torch\nw = torch.randn(3).double()\nopt = torch.optim.SGD([w], lr=0.1)\n", "never required grad"),
        Valid("import torch\nw = torch.randn(3, requires_grad=True).double()\nsched = torch.optim.lr_scheduler.StepLR(w)\n"),
        Valid("import torch\nx = torch.randn(8, 3, requires_grad=True).cuda()\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
              "loss = model(x).sum()\nloss.backward()\nopt.step()\n", "the moved tensor is an input; the optimizer gets the model's"),
    )
    invalid = (
        Invalid("import torch\nw = torch.randn(3, requires_grad=True).cuda()\nopt = torch.optim.SGD([w], lr=0.1)\n", 2, 5,
                fixed="import torch\nw = torch.randn(3, requires_grad=True, device=\"cuda\")\nopt = torch.optim.SGD([w], lr=0.1)\n"),
        Invalid("import torch as th\ndef fit(x):\n    w = th.zeros(3, requires_grad=True).to(th.float64)\n"
                "    for _ in range(10):\n        (w * x).sum().backward()\n        print(w.grad)\n", 3, 9,
                fixed="import torch as th\ndef fit(x):\n    w = th.zeros(3, requires_grad=True, dtype=th.float64)\n"
                "    for _ in range(10):\n        (w * x).sum().backward()\n        print(w.grad)\n"),
        Invalid("import torch\nfrom torch import optim\nw = torch.randn(2, 2).requires_grad_().to('cuda:0')\n"
                "b = torch.zeros(2, requires_grad=True)\nopt = optim.Adam([{'params': [w, b], 'lr': 1e-3}])\n", 3, 5,
                fixed="import torch\nfrom torch import optim\nw = torch.randn(2, 2).to('cuda:0').requires_grad_()\n"
                "b = torch.zeros(2, requires_grad=True)\nopt = optim.Adam([{'params': [w, b], 'lr': 1e-3}])\n"),
        Invalid("import torch\nfrom torch.nn import Parameter\nscale = Parameter(torch.ones(1)).half()\n"
                "optimizer = torch.optim.SGD(params=[scale], lr=0.1)\n", 3, 9,
                fixed="import torch\nfrom torch.nn import Parameter\nscale = Parameter(torch.ones(1).half())\n"
                "optimizer = torch.optim.SGD(params=[scale], lr=0.1)\n"),
        Invalid("import torch\nopt = torch.optim.SGD([torch.zeros(3, requires_grad=True).double()], lr=0.1)\n", 2, 24,
                fixed="import torch\nopt = torch.optim.SGD([torch.zeros(3, requires_grad=True, dtype=torch.float64)], lr=0.1)\n"),
        Invalid("import torch\nclass Trainer:\n    def run(self):\n        w = torch.rand(4, requires_grad=True).type(torch.DoubleTensor)\n"
                "        loss = (w ** 2).sum()\n        loss.backward()\n        return w.grad.norm()\n", 4, 13,
                fixed="import torch\nclass Trainer:\n    def run(self):\n        w = torch.rand(4, requires_grad=True, dtype=torch.float64)\n"
                "        loss = (w ** 2).sum()\n        loss.backward()\n        return w.grad.norm()\n"),
    )
    evidence = Evidence(
        bad="import torch\nw = torch.ones(3, requires_grad=True).double()\n(w * 2).sum().backward()\nprint(w.grad)\n",
        bad_shows=Outcome(stdout="None", warns="is not a leaf Tensor"),
        good="import torch\nw = torch.ones(3, dtype=torch.float64, requires_grad=True)\n(w * 2).sum().backward()\nprint(w.grad)\n",
        good_shows=Outcome(stdout="tensor([2., 2., 2.], dtype=torch.float64)"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self._moves: Dict[tuple, cst.Call] = {}  # (id(assignment), name) -> the moving call it stores in name
        self._leaf_uses: List[cst.Name] = []

    def _moved_leaf(self, expression: cst.BaseExpression) -> Optional[cst.Call]:
        """``expression`` when it is a conversion that certainly copies a requires_grad leaf built in it."""
        if not (isinstance(expression, cst.Call) and isinstance(expression.func, cst.Attribute)):
            return None
        source = tensor_facts(self.context, expression.func.value, follow_names=False)
        if not _is_grad_leaf(source):
            return None
        if not makes_new_tensor(self.context, expression, source):
            return None
        return expression

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        pairs = [(target, node.value)]
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(node.value, (cst.Tuple, cst.List)) \
                and len(target.elements) == len(node.value.elements) \
                and not any(isinstance(e, cst.StarredElement) for e in (*target.elements, *node.value.elements)):
            pairs = [(e.value, v.value) for e, v in zip(target.elements, node.value.elements)]  # `w, b = ..., ...`
        for name, value in pairs:
            if isinstance(name, cst.Name):
                moved = self._moved_leaf(value)
                if moved is not None:
                    self._moves[(id(node), name.value)] = moved

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != "grad" or not isinstance(node.value, cst.Name):
            return
        parent = self.context.parent
        if isinstance(parent, (cst.AssignTarget, cst.Del)) or (isinstance(parent, cst.AugAssign) and parent.target is node):
            return  # writing .grad does not read the lost gradient
        if facts_at(self.context, node.value).retains_grad is True:
            return  # `.retain_grad()` keeps the non-leaf's gradient: this read sees it
        self._leaf_uses.append(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, (cst.Name, cst.Attribute)) or not is_torch_optimizer_name(self.context.qualified_name(node.func)):
            return
        for expression in _optimized_expressions(node):
            if isinstance(expression, cst.Name):
                self._leaf_uses.append(expression)
            else:
                moved = self._moved_leaf(expression)
                if moved is not None:
                    self._report(moved)

    def leave_Module(self, node: cst.Module) -> None:
        for name in self._leaf_uses:
            binding = self.context.names.binding_of(name)
            key = (id(binding.node), name.value) if binding is not None else None
            if key in self._moves:
                self._report(self._moves.pop(key))

    def _report(self, moved: cst.Call) -> None:
        assert isinstance(moved.func, cst.Attribute)
        self.report(moved, self.message.format(method=moved.func.attr.value), fix=self._fix(moved))

    def _fix(self, moved: cst.Call):
        """Build the leaf where it is moved to: the target as the factory's device=/dtype=, the conversion
        inside ``nn.Parameter(...)``, or ``.requires_grad_()`` after the conversion."""
        receiver = moved.func.value
        if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute) \
                and receiver.func.attr.value == "requires_grad_":
            marked = tensor_facts(self.context, receiver.func.value, follow_names=False)
            if marked is None or marked.requires_grad is not False:
                return None  # already a grad tensor before requires_grad_(): the move still copies it
            converted = moved.with_changes(func=moved.func.with_changes(value=receiver.func.value), lpar=[], rpar=[])
            swapped = receiver.with_changes(func=receiver.func.with_changes(value=converted), lpar=moved.lpar, rpar=moved.rpar)
            return Replacement(moved, swapped)
        factory = factory_call(self.context, receiver)
        if factory is None:
            return None
        if factory.name == PARAMETER:
            return conversion_inside(moved)
        targets = self._target_keywords(moved, receiver) if factory.name in _KEYWORD_FACTORIES else None
        if not targets:
            return None
        made = receiver
        replacements = []
        for name, value in targets:
            if isinstance(value, str):  # a torch dtype to name through the file's imports
                reference = reference_to(self.context, value)
                if reference is None:
                    return None
                value, new_import = reference
                replacements.extend([new_import] if new_import is not None else [])
            made = with_keyword(made, name, value)
        return [Replacement(moved, made.with_changes(lpar=moved.lpar, rpar=moved.rpar)), *replacements]

    def _target_keywords(self, moved: cst.Call, factory: cst.Call):
        """[(keyword, value)] naming where and as what the conversion puts the tensor (a str value is a torch
        dtype's qualified name); None for a conversion not understood."""
        method = moved.func.attr.value
        args = positional(moved)
        if len(args) != len(moved.args) and method != "to":
            return None
        if method == "cuda":
            return None if args else [("device", cst.SimpleString('"cuda"'))]
        if method in FLOATING_DTYPE_METHODS:
            return None if args else [("dtype", f"torch.{FLOATING_DTYPE_METHODS[method]}")]
        if method == "type" and len(args) == 1:
            if dtype_of(self.context, args[0].value) is not None:
                return [("dtype", args[0].value)]
            dtype, device = tensor_type_of(self.context, args[0].value)
            if dtype is None or (device == "cpu" and keyword(factory, "device") is not None):
                return None
            return [("dtype", f"torch.{dtype}")] + ([("device", cst.SimpleString('"cuda"'))] if device == "cuda" else [])
        if method != "to":
            return None
        found = []
        for index, arg in enumerate(moved.args):
            if arg.keyword is not None:
                if arg.keyword.value not in ("dtype", "device"):
                    return None  # non_blocking=, copy=, memory_format= have no factory equivalent
                found.append((arg.keyword.value, arg.value))
            elif dtype_of(self.context, arg.value) is not None:
                found.append(("dtype", arg.value))
            elif index == 0 and device_kind(self.context, arg.value) is not None:
                found.append(("device", arg.value))
            else:
                return None
        return found


def _is_grad_leaf(facts: Optional[TensorFacts]) -> bool:
    return facts is not None and facts.requires_grad is True and facts.is_leaf is True
