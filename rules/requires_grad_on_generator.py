import libcst as cst

from autogradlint.analysis.grad_mode import local_function
from autogradlint.analysis.modules import own_returns
from autogradlint.analysis.torch_api import ITERATOR_YIELDS_PAIRS

from autogradlint.fix_builders import is_plain_value, one_line_loop, statement_line, unbound_name
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid



class RequiresGradOnGenerator(Rule):
    """
    ## What it does
    Flags `.requires_grad = X` (or `.requires_grad_(X)`) on the result of `model.parameters()` and the
    other module generators (`named_parameters()`, `buffers()`, `children()`, `modules()`), directly,
    through a name bound only to such a call, or through a function of the same file that always returns one.

    ## Why is this bad?
    `parameters()` returns a generator, not a tensor: the line raises
    `AttributeError: 'generator' object has no attribute 'requires_grad'` and nothing is frozen.

    ## Example
    ```python
    model.backbone.parameters().requires_grad = False
    ```

    ## Use instead
    ```python
    for p in model.backbone.parameters(): p.requires_grad_(False)
    ```

    ## Fix safety
    Safe: the fix loops over the generator and sets the flag on each parameter, which is what the code
    meant. It is offered only when the statement stands alone on its line (a `for` cannot go after `;` or
    in a one-line `if x: ...`), when the flag has no side effect (the loop evaluates it once per parameter),
    and when the loop variable (`p`, else `param`, `parameter`) shadows no name of the scope.
    """

    code = "GL110"
    name = "requires-grad-on-generator"
    severity = "error"
    message = ("'.{method}()' returns a generator: '.{attr}' on it raises AttributeError and freezes nothing. "
               "Loop over it: 'for {item} in ...: p.requires_grad_({value})'")
    triggers = ("requires_grad",)
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("for p in model.parameters():\n    p.requires_grad = False\n"),
        Valid("import torch.nn as nn\nmodel = nn.Linear(2, 2)\nmodel.requires_grad_(False)\n"),
        Valid("next(model.parameters()).requires_grad = False\n", "one parameter, taken from the generator"),
        Valid("params = list(model.parameters())\nparams[0].requires_grad = False\n"),
        Valid("params = model.parameters()\nparams = [p for p in params if p.ndim > 1]\nparams.requires_grad = False\n",
              "the name is rebound to something else"),
        Valid("flag = model.parameters().requires_grad\n", "a read, not an assignment"),
    )
    invalid = (
        Invalid("model.parameters().requires_grad = False\n", 1, 1,
                fixed="for p in model.parameters(): p.requires_grad_(False)\n"),
        Invalid("import torch.nn as nn\nclass Net(nn.Module):\n    def freeze(self):\n"
                "        self.encoder.parameters().requires_grad = False\n", 4, 9,
                fixed="import torch.nn as nn\nclass Net(nn.Module):\n    def freeze(self):\n"
                "        for p in self.encoder.parameters(): p.requires_grad_(False)\n"),
        Invalid("for block in blocks[:4]:\n    block.named_parameters().requires_grad = False\n", 2, 5,
                fixed="for block in blocks[:4]:\n    for _, p in block.named_parameters(): p.requires_grad_(False)\n"),
        Invalid("def freeze(model, flag):\n    params = model.parameters()\n    params.requires_grad = flag\n", 3, 5,
                fixed="def freeze(model, flag):\n    params = model.parameters()\n    for p in params: p.requires_grad_(flag)\n"),
        Invalid("model.backbone.parameters().requires_grad_(False)\n", 1, 1,
                fixed="for p in model.backbone.parameters(): p.requires_grad_(False)\n"),
    )
    evidence = Evidence(
        bad="import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.parameters().requires_grad = False\n"
            "print(any(p.requires_grad for p in model.parameters()))\n",
        bad_shows=Outcome(raises="AttributeError", message="'generator' object has no attribute 'requires_grad'"),
        good="import torch\nmodel = torch.nn.Linear(2, 2)\nfor p in model.parameters(): p.requires_grad_(False)\n"
             "print(any(p.requires_grad for p in model.parameters()))\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Assign(self, node):
        for target in node.targets:
            target = target.target
            if isinstance(target, cst.Attribute) and target.attr.value == "requires_grad":
                args = [cst.Arg(value=node.value)] if len(node.targets) == 1 else None
                self._check(target, target.value, "requires_grad", node.value, node, args)
            elif isinstance(target, (cst.Tuple, cst.List)):
                # `enc.parameters().requires_grad, dec.parameters().requires_grad = False, True`: no loop fix
                values = node.value.elements if isinstance(node.value, (cst.Tuple, cst.List)) \
                    and len(node.value.elements) == len(target.elements) else None
                for index, element in enumerate(target.elements):
                    item = element.value
                    if isinstance(item, cst.Attribute) and item.attr.value == "requires_grad":
                        value = values[index].value if values is not None else cst.Ellipsis()
                        self._check(item, item.value, "requires_grad", value, node, None)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_":
            value = node.args[0].value if node.args else cst.Name("True")
            self._check(node, func.value, "requires_grad_", value, node, node.args)

    def _check(self, reported, receiver, attr, value, statement, args):
        method = self._generator_method(receiver)
        if method is None:
            return
        code = self.context.module.code_for_node
        shown = code(value) if "\n" not in code(value) else "..."
        item = "_, p" if ITERATOR_YIELDS_PAIRS[method] else "p"
        fix = self._loop_fix(statement, receiver, ITERATOR_YIELDS_PAIRS[method], args) if args is not None else None
        self.report(reported, self.message.format(method=method, attr=attr, item=item, value=shown), fix=fix)

    def _loop_fix(self, statement, generator, named, args):
        """``for p in <generator>: p.requires_grad_(<args>)`` in place of the statement."""
        line = statement_line(self.context, statement)
        # the loop evaluates the flag once per parameter: only for values without side effects
        if line is None or not all(is_plain_value(arg.value) for arg in args):
            return None
        item = unbound_name(self.context, ("p", "param", "parameter"))
        key = unbound_name(self.context, ("_", "_name")) if named else None
        if item is None or (named and key is None):
            return None
        target = cst.Tuple([cst.Element(cst.Name(key)), cst.Element(cst.Name(item))], lpar=[], rpar=[]) if named else cst.Name(item)
        call = cst.Call(func=cst.Attribute(value=cst.Name(item), attr=cst.Name("requires_grad_")),
                        args=[arg.with_changes(comma=cst.MaybeSentinel.DEFAULT) for arg in args])
        return one_line_loop(line, target, generator, cst.Expr(value=call))

    def _generator_method(self, expression, follow_names=True):
        """The generator method whose call ``expression`` certainly is (directly or through a name)."""
        if (isinstance(expression, cst.Call) and isinstance(expression.func, cst.Attribute)
                and expression.func.attr.value in ITERATOR_YIELDS_PAIRS):
            return expression.func.attr.value
        if isinstance(expression, cst.Call) and follow_names:
            # a function of this file whose every return is such a generator (`def trainable(m): return m.parameters()`)
            function = local_function(self.context, expression.func)
            returns = own_returns(function) if function is not None else None
            if returns:
                methods = {self._generator_method(value, follow_names=False) if value is not None else None
                           for value in returns}
                if len(methods) == 1 and None not in methods:
                    return methods.pop()
        if isinstance(expression, cst.Name) and follow_names:
            bindings = self.context.names.bindings_of(expression) or []
            methods = set()
            for binding in bindings:
                node = binding.node
                if not (isinstance(node, cst.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0].target, cst.Name)):
                    return None
                methods.add(self._generator_method(node.value, follow_names=False))
            if len(methods) == 1:
                return methods.pop()
        return None
