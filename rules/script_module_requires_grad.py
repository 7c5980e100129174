import libcst as cst

from autogradlint.analysis.modules import is_script_module
from autogradlint.fix_builders import is_plain_value, one_line_loop, statement_line, unbound_name
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class ScriptModuleRequiresGrad(Rule):
    """
    ## What it does
    Flags `.requires_grad_(...)` called on a TorchScript module: the result of `torch.jit.script(...)` or
    `torch.jit.load(...)`, directly or through a name or attribute bound only to one (also after
    `.eval()`, `.to(device)` ...).

    ## Why is this bad?
    ScriptModules do not support it: the call raises
    `RuntimeError: requires_grad_ is not supported on ScriptModules`. Setting `p.requires_grad` on each of
    its parameters works, and so does freezing the eager module before scripting it.

    A module from `torch.jit.trace` is not flagged: its `requires_grad_` works.

    ## Example
    ```python
    encoder = torch.jit.load("encoder.pt")
    encoder.requires_grad_(False)
    ```

    ## Use instead
    ```python
    encoder = torch.jit.load("encoder.pt")
    for p in encoder.parameters(): p.requires_grad_(False)
    ```

    ## Fix safety
    Safe: the loop sets the flag on every parameter, which is what the call meant. Offered only when the
    call is a statement alone on its line (a `for` cannot go after `;` or in a one-line `if x: ...`), when
    its argument has no side effect (the loop evaluates it once per parameter), and when the loop variable
    (`p`, else `param`, `parameter`) shadows no name of the scope.
    """

    code = "GL701"
    name = "script-module-requires-grad"
    severity = "error"
    message = ("'requires_grad_' raises RuntimeError on a ScriptModule. Set it on its parameters: "
               "'for p in {receiver}.parameters(): p.requires_grad_({value})'")
    triggers = ("jit",)
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch\nm = torch.jit.trace(torch.nn.Linear(2, 2), torch.ones(1, 2))\nm.requires_grad_(False)\n",
              "a traced module supports requires_grad_"),
        Valid("import torch\nm = torch.nn.Linear(2, 2)\nm.requires_grad_(False)\nsm = torch.jit.script(m)\n",
              "frozen before scripting"),
        Valid("import torch\nsm = torch.jit.load('m.pt')\nfor p in sm.parameters():\n    p.requires_grad_(False)\n"),
        Valid("import torch\nif scripted:\n    m = torch.jit.load('m.pt')\nelse:\n    m = build()\nm.requires_grad_(False)\n",
              "may be an eager module"),
        Valid("import torch\ndef f(x):\n    return x\nsf = torch.jit.script(f)\nsf.requires_grad_(False)\n",
              "a scripted function is not a ScriptModule"),
        Valid("import torch\nsm = torch.jit.load('m.pt')\nw = sm.weight\nw.requires_grad_(False)\n", "a parameter"),
    )
    invalid = (
        Invalid("import torch\nsm = torch.jit.script(torch.nn.Linear(2, 2))\nsm.requires_grad_(False)\n", 3, 1,
                fixed="import torch\nsm = torch.jit.script(torch.nn.Linear(2, 2))\nfor p in sm.parameters(): p.requires_grad_(False)\n"),
        Invalid("import torch as th\ndef load_frozen(path):\n    enc = th.jit.load(path).eval()\n    enc.requires_grad_(False)\n"
                "    return enc\n", 4, 5,
                fixed="import torch as th\ndef load_frozen(path):\n    enc = th.jit.load(path).eval()\n"
                "    for p in enc.parameters(): p.requires_grad_(False)\n    return enc\n"),
        Invalid("from torch import jit, nn\nclass Wrapper(nn.Module):\n    def __init__(self, path):\n        super().__init__()\n"
                "        self.backbone = jit.load(path)\n    def freeze(self):\n        self.backbone.requires_grad_(False)\n", 7, 9,
                fixed="from torch import jit, nn\nclass Wrapper(nn.Module):\n    def __init__(self, path):\n        super().__init__()\n"
                "        self.backbone = jit.load(path)\n    def freeze(self):\n"
                "        for p in self.backbone.parameters(): p.requires_grad_(False)\n"),
        Invalid("import torch\ndef export(model):\n    scripted = torch.jit.script(model)\n    for _ in range(2):\n"
                "        scripted.requires_grad_()\n", 5, 9,
                fixed="import torch\ndef export(model):\n    scripted = torch.jit.script(model)\n    for _ in range(2):\n"
                "        for p in scripted.parameters(): p.requires_grad_()\n"),
    )
    evidence = Evidence(
        bad="import torch\nsm = torch.jit.script(torch.nn.Linear(2, 2))\nsm.requires_grad_(False)\n"
            "print(any(p.requires_grad for p in sm.parameters()))\n",
        bad_shows=Outcome(raises="RuntimeError", message="requires_grad_ is not supported on ScriptModules"),
        good="import torch\nsm = torch.jit.script(torch.nn.Linear(2, 2))\nfor p in sm.parameters(): p.requires_grad_(False)\n"
             "print(any(p.requires_grad for p in sm.parameters()))\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Call(self, node):
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_"):
            return
        if not is_script_module(self.context, func.value):
            return
        code = self.context.module.code_for_node
        value = code(node.args[0].value) if len(node.args) == 1 else ""
        self.report(node, self.message.format(receiver=code(func.value), value=value), fix=self._loop_fix(node))

    def _loop_fix(self, call):
        """``for p in <module>.parameters(): p.requires_grad_(<args>)`` in place of the call's statement."""
        line = statement_line(self.context, call)
        # the loop evaluates the flag once per parameter: only for values without side effects
        if line is None or not all(is_plain_value(arg.value) for arg in call.args):
            return None
        item = unbound_name(self.context, ("p", "param", "parameter"))
        if item is None:
            return None
        parameters = cst.Call(func=cst.Attribute(value=call.func.value, attr=cst.Name("parameters")))
        body = call.with_changes(func=cst.Attribute(value=cst.Name(item), attr=cst.Name("requires_grad_")))
        return one_line_loop(line, cst.Name(item), parameters, cst.Expr(value=body))
