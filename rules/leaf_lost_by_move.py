from typing import Dict, List, Optional

import libcst as cst

from gradlint.analysis.tensors import TensorFacts, keyword, makes_new_tensor, positional, tensor_facts
from gradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


def _is_optimizer(qualified_name: Optional[str]) -> bool:
    """``torch.optim.SGD`` and the other optimizer classes of torch.optim."""
    if not qualified_name or not qualified_name.startswith("torch.optim."):
        return False
    last = qualified_name.rsplit(".", 1)[-1]
    return last[:1].isupper() and "lr_scheduler" not in qualified_name


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
    leaf; a moved tensor that is only used as an input to computations is harmless. Neither is flagged.
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
    Unsafe: the fix passes the target `device=`/`dtype=` to the factory (or moves `requires_grad_()` after
    the move), which changes where the random numbers are drawn.
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
                "    for _ in range(10):\n        (w * x).sum().backward()\n        print(w.grad)\n", 3, 9),
        Invalid("import torch\nfrom torch import optim\nw = torch.randn(2, 2).requires_grad_().to('cuda:0')\n"
                "b = torch.zeros(2, requires_grad=True)\nopt = optim.Adam([{'params': [w, b], 'lr': 1e-3}])\n", 3, 5),
        Invalid("import torch\nfrom torch.nn import Parameter\nscale = Parameter(torch.ones(1)).half()\n"
                "optimizer = torch.optim.SGD(params=[scale], lr=0.1)\n", 3, 9),
        Invalid("import torch\nopt = torch.optim.SGD([torch.zeros(3, requires_grad=True).double()], lr=0.1)\n", 2, 24),
        Invalid("import torch\nclass Trainer:\n    def run(self):\n        w = torch.rand(4, requires_grad=True).type(torch.DoubleTensor)\n"
                "        loss = (w ** 2).sum()\n        loss.backward()\n        return w.grad.norm()\n", 4, 13),
    )
    evidence = Evidence(
        bad="import torch\nw = torch.ones(3, requires_grad=True).double()\n(w * 2).sum().backward()\nprint(w.grad)\n",
        bad_shows=Outcome(stdout="None", warns="is not a leaf Tensor"),
        good="import torch\nw = torch.ones(3, dtype=torch.float64, requires_grad=True)\n(w * 2).sum().backward()\nprint(w.grad)\n",
        good_shows=Outcome(stdout="tensor([2., 2., 2.], dtype=torch.float64)"),
    )

    def __init__(self, context) -> None:
        super().__init__(context)
        self._moves: Dict[int, cst.Call] = {}  # id(assignment) -> the moving call it stores
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
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            moved = self._moved_leaf(node.value)
            if moved is not None:
                self._moves[id(node)] = moved

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != "grad" or not isinstance(node.value, cst.Name):
            return
        parent = self.context.parent
        if isinstance(parent, (cst.AssignTarget, cst.Del)) or (isinstance(parent, cst.AugAssign) and parent.target is node):
            return  # writing .grad does not read the lost gradient
        self._leaf_uses.append(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, (cst.Name, cst.Attribute)) or not _is_optimizer(self.context.qualified_name(node.func)):
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
            if binding is not None and id(binding.node) in self._moves:
                self._report(self._moves.pop(id(binding.node)))

    def _report(self, moved: cst.Call) -> None:
        assert isinstance(moved.func, cst.Attribute)
        self.report(moved, self.message.format(method=moved.func.attr.value))


def _is_grad_leaf(facts: Optional[TensorFacts]) -> bool:
    return facts is not None and facts.requires_grad is True and facts.is_leaf is True
