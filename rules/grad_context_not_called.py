import libcst as cst

from autogradlint.analysis.torch_api import GRAD_MODE_CONTEXTS, SET_GRAD_ENABLED
from autogradlint.analysis.torch_versions import BARE_GRAD_MODE_DECORATORS, shown as shown_version, torch_at_least, torch_version
from autogradlint.edits import Replacement
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid


class GradContextNotCalled(Rule):
    """
    ## What it does
    Flags a grad-mode context manager used without being instantiated: `with torch.no_grad:`,
    `with torch.enable_grad:`, `with torch.inference_mode:` (and `torch.set_grad_enabled`, which also
    needs its argument), whatever the import spelling.

    ## Why is this bad?
    These are classes; `with` needs an instance. The block raises
    `TypeError: 'type' object does not support the context manager protocol`.
    The bare decorators `@torch.no_grad`, `@torch.enable_grad` and `@torch.inference_mode` are valid since
    torch 2.1 and are not flagged there; for an older torch they are (see "Torch versions").

    ## Example
    ```python
    with torch.no_grad:
        predictions = model(batch)
    ```

    ## Use instead
    ```python
    with torch.no_grad():
        predictions = model(batch)
    ```

    ## Fix safety
    Safe: the fix adds `()`, which is what the code meant. `torch.set_grad_enabled` is not fixed:
    its argument cannot be guessed.

    ## Torch versions
    The `with` form raises in every torch release. A bare decorator (`@torch.no_grad` on a `def`, no
    parentheses) is flagged only when the project is linted for torch older than 2.1: torch 2.1 added
    `_NoParamDecoratorContextManager.__new__` (`torch/utils/_contextlib.py`, pytorch/pytorch#107086, "grad_mode
    decorators without paren"), which returns the decorated function when called with one. Before it,
    `torch.no_grad(f)` calls `no_grad.__init__(self)` with an extra argument and the `def` itself raises
    `TypeError: __init__() takes 1 positional argument but 2 were given`; `torch.inference_mode(f)` took `f`
    as its `mode` and replaced the function with a context-manager object. The fix (add `()`) is the same,
    and works in every release.
    """

    code = "GL201"
    name = "grad-context-not-called"
    severity = "error"
    message = "'{name}' is a class, not a context manager instance: this 'with' raises TypeError. Add '()': '{name}()'"
    triggers = ("no_grad", "enable_grad", "inference_mode", "set_grad_enabled")
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch\nwith torch.no_grad():\n    y = 1\n"),
        Valid("import torch\n@torch.no_grad\ndef predict(m, x):\n    return m(x)\n", "bare decorator works since torch 2.1"),
        Valid("import torch\n@torch.inference_mode\ndef predict(m, x):\n    return m(x)\n"),
        Valid("import torch\n@torch.no_grad\ndef predict(m, x):\n    return m(x)\n", "torch 2.1 itself", torch_version="2.1"),
        Valid("import torch\n@torch.no_grad()\ndef predict(m, x):\n    return m(x)\n", "called: fine in every release",
              torch_version="1.13"),
        Valid("import tensorflow as tf\n@tf.no_grad\ndef predict(m, x):\n    return m(x)\n", "another library",
              torch_version="2.0"),
        Valid("def no_grad():\n    pass\nwith no_grad:\n    pass\n", "a local no_grad is not torch's"),
        Valid("import tensorflow as tf\nwith tf.no_grad:\n    pass\n", "another library"),
        Valid("import torch\nwith torch.set_grad_enabled(False):\n    pass\n"),
        Valid("import torch\nimport pytest\nwith pytest.raises(TypeError):\n    with torch.no_grad:\n        pass\n",
              "meant to fail"),
        Valid("import torch\nif fast:\n    from torch import no_grad\nelse:\n    from contextlib import nullcontext as no_grad\nwith no_grad:\n    pass\n",
              "two possible bindings: not trusted"),
    )
    invalid = (
        Invalid("import torch\nwith torch.no_grad:\n    y = 1\n", 2, 6, fixed="import torch\nwith torch.no_grad():\n    y = 1\n"),
        Invalid("import torch as th\ndef f(m, x):\n    with th.inference_mode:\n        return m(x)\n", 3, 10,
                fixed="import torch as th\ndef f(m, x):\n    with th.inference_mode():\n        return m(x)\n"),
        Invalid("from torch import no_grad\nwith no_grad as g:\n    pass\n", 2, 6, fixed="from torch import no_grad\nwith no_grad() as g:\n    pass\n"),
        Invalid("from torch import autograd\nwith autograd.no_grad:\n    pass\n", 2, 6,
                fixed="from torch import autograd\nwith autograd.no_grad():\n    pass\n"),
        Invalid("import torch\nwith open('f') as fh, torch.autograd.grad_mode.enable_grad:\n    pass\n", 2, 23,
                fixed="import torch\nwith open('f') as fh, torch.autograd.grad_mode.enable_grad():\n    pass\n"),
        Invalid("import torch\n@torch.no_grad\ndef predict(m, x):\n    return m(x)\n", 2, 2, "bare decorator before 2.1",
                fixed="import torch\n@torch.no_grad()\ndef predict(m, x):\n    return m(x)\n", torch_version="2.0"),
        Invalid("from torch import inference_mode\nclass Net:\n    @inference_mode\n    def predict(self, x):\n        return x\n",
                3, 6, fixed="from torch import inference_mode\nclass Net:\n    @inference_mode()\n    def predict(self, x):\n"
                "        return x\n", torch_version="1.13"),
        Invalid("import torch\nclass M:\n    def f(self):\n        for _ in range(2):\n            with torch.set_grad_enabled:\n                pass\n", 5, 18),
    )
    evidence = Evidence(
        bad="import torch\nx = torch.ones(2, requires_grad=True)\nwith torch.no_grad:\n    y = x * 2\nprint(y.requires_grad)\n",
        bad_shows=Outcome(raises="TypeError", message="does not support the context manager protocol"),
        good="import torch\nx = torch.ones(2, requires_grad=True)\nwith torch.no_grad():\n    y = x * 2\nprint(y.requires_grad)\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Decorator(self, node: cst.Decorator) -> None:
        expression = node.decorator
        if not isinstance(expression, (cst.Name, cst.Attribute)) or torch_at_least(self.context, BARE_GRAD_MODE_DECORATORS):
            return
        if self.context.qualified_name(expression) in GRAD_MODE_CONTEXTS:
            shown = self.context.module.code_for_node(expression)
            version = shown_version(torch_version(self.context))
            message = (f"'@{shown}' without '()' raises TypeError before torch 2.1 (linting for torch {version}): "
                       f"the function is never defined. Write '@{shown}()'")
            self.report(expression, message, fix=Replacement(expression, cst.Call(func=expression)))

    def visit_With(self, node):
        for item in node.items:
            expression = item.item
            if not isinstance(expression, (cst.Name, cst.Attribute)):
                continue
            name = self.context.qualified_name(expression)
            if name in GRAD_MODE_CONTEXTS or name == SET_GRAD_ENABLED:
                shown = self.context.module.code_for_node(expression)
                message = self.message.format(name=shown)
                fix = Replacement(expression, cst.Call(func=expression))
                if name == SET_GRAD_ENABLED:
                    message = f"'{shown}' is a class, not a context manager instance: this 'with' raises TypeError. Call it with a mode: '{shown}(False)'"
                    fix = None
                self.report(expression, message, fix=fix)
