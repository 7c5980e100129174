import os
import re
from typing import Optional

import libcst as cst

from autogradlint.analysis.tensors import bool_literal, keyword, positional
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

SET_DETECT_ANOMALY = "torch.autograd.set_detect_anomaly"
DETECT_ANOMALY = "torch.autograd.detect_anomaly"

_TEST_FILE = re.compile(r"(^test_.*|.*_test|^conftest)\.py$")
_TEST_DIRECTORIES = frozenset({"test", "tests", "testing"})
# functions whose purpose is debugging or checking numerics switch anomaly detection on deliberately
_DEBUGGING_FUNCTION = re.compile(r"anomal|debug|diagnos|nan|numeric|sanity", re.IGNORECASE)
_TEST_CASE_BASES = frozenset({"unittest.TestCase", "unittest.case.TestCase", "absl.testing.absltest.TestCase"})


def _is_test_path(path: str) -> bool:
    parts = os.path.normpath(path).replace("\\", "/").split("/")
    return bool(_TEST_FILE.match(parts[-1])) or any(part in _TEST_DIRECTORIES for part in parts[:-1])


def _is_main_guard(test: cst.BaseExpression) -> bool:
    """``if __name__ == "__main__":``, which runs the script, not a debugging switch."""
    return (isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name)
            and test.left.value == "__name__")


class AnomalyDetectionLeftOn(Rule):
    """
    ## What it does
    Flags `torch.autograd.set_detect_anomaly(True)` and `torch.autograd.detect_anomaly()` outside tests.
    Test files, test functions and classes, pytest fixtures, functions made for debugging (their name
    mentions anomaly, debug, nan, numeric, diagnose or sanity), and switches under a condition
    (`if args.debug:`, `detect_anomaly() if debug else nullcontext()`) are not flagged, nor is `set_detect_anomaly(flag)` with a non-literal flag.

    ## Why is this bad?
    Anomaly detection is a debugging mode: every forward operation records a Python traceback
    (`grad_fn.metadata["traceback_"]`) and every backward checks each gradient for NaN. Training runs
    much slower, so it should not stay on in committed training code.

    ## Example
    ```python
    torch.autograd.set_detect_anomaly(True)
    for batch in loader:
        train_step(batch)
    ```

    ## Use instead
    ```python
    torch.autograd.set_detect_anomaly(args.debug)
    for batch in loader:
        train_step(batch)
    ```

    ## Fix safety
    No fix: removing the call would also remove a debugging aid the author may still be using.
    """

    code = "GL704"
    name = "anomaly-detection-left-on"
    severity = "hint"
    message = ("anomaly detection is on: every op records a traceback and every backward is checked, so training is "
               "much slower. Remove it, or enable it only while debugging (e.g. behind a --debug flag)")
    triggers = ("detect_anomaly",)
    needs = frozenset({"names"})
    fix_applicability = None

    valid = (
        Valid("import torch\ntorch.autograd.set_detect_anomaly(False)\n"),
        Valid("import torch\ntorch.autograd.set_detect_anomaly(args.debug)\n", "switched by a flag"),
        Valid("import torch\nif args.debug:\n    torch.autograd.set_detect_anomaly(True)\n", "enabled on request"),
        Valid("import torch\ndef numeric_check(model, x):\n    with torch.autograd.detect_anomaly(check_nan=False):\n"
              "        model(x).sum().backward()\n", "a numerics-checking helper (as in torch._inductor)"),
        Valid("import torch\ndef run_with_anomaly(fn, *args):\n    with torch.autograd.detect_anomaly():\n        return fn(*args)\n"),
        Valid("import torch\nimport contextlib\nwith torch.autograd.detect_anomaly() if debug else contextlib.nullcontext():\n"
              "    loss.backward()\n", "enabled on request"),
        Valid("import torch\ndef test_backward_has_no_nan():\n    with torch.autograd.detect_anomaly():\n        f().backward()\n",
              "a test function"),
        Valid("import pytest\nimport torch\n@pytest.fixture\ndef anomaly():\n    torch.autograd.set_detect_anomaly(True)\n"
              "    yield\n    torch.autograd.set_detect_anomaly(False)\n", "a pytest fixture"),
        Valid("import torch\nimport unittest\nclass Check(unittest.TestCase):\n    def setUp(self):\n"
              "        torch.autograd.set_detect_anomaly(True)\n", "a TestCase"),
        Valid("import jax\njax.config.update('jax_debug_nans', True)\ndef detect_anomaly(x):\n    return x\ndetect_anomaly(1)\n",
              "a local function of that name"),
    )
    invalid = (
        Invalid("import torch\ntorch.autograd.set_detect_anomaly(True)\n", 2, 1),
        Invalid("from torch import autograd\ndef train(model, loader):\n    for x in loader:\n"
                "        with autograd.detect_anomaly():\n            model(x).sum().backward()\n", 4, 14),
        Invalid("import torch as th\nclass Trainer:\n    def fit(self):\n        th.autograd.set_detect_anomaly(mode=True)\n", 4, 9),
        Invalid("from torch.autograd import set_detect_anomaly\nif __name__ == '__main__':\n    set_detect_anomaly(True)\n"
                "    main()\n", 3, 5),
        Invalid("import torch\nwith torch.autograd.set_detect_anomaly(True, check_nan=True):\n    loss.backward()\n", 2, 6),
    )
    evidence = Evidence(
        bad="import torch\ntorch.autograd.set_detect_anomaly(True)\nw = torch.ones(2, requires_grad=True)\ny = w * 2\n"
            "print('traceback_' in y.grad_fn.metadata)\n",
        bad_shows=Outcome(stdout="True"),
        good="import torch\nw = torch.ones(2, requires_grad=True)\ny = w * 2\nprint('traceback_' in y.grad_fn.metadata)\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, (cst.Name, cst.Attribute)):
            return
        name = self.context.qualified_name(node.func)
        if name == SET_DETECT_ANOMALY:
            mode = keyword(node, "mode")
            args = positional(node)
            value: Optional[cst.BaseExpression] = mode.value if mode is not None else (args[0].value if args else None)
            if bool_literal(value) is not True:
                return
        elif name != DETECT_ANOMALY:
            return
        if _is_test_path(self.context.path) or self._in_test_or_condition():
            return
        self.report(node)

    def _in_test_or_condition(self) -> bool:
        for node in self.context.ancestors:
            if (isinstance(node, cst.If) and not _is_main_guard(node.test)) or isinstance(node, cst.IfExp):
                return True
            if isinstance(node, cst.FunctionDef):
                name = node.name.value
                if name.startswith("test") or _DEBUGGING_FUNCTION.search(name) \
                        or any(self._is_fixture(d.decorator) for d in node.decorators):
                    return True
            if isinstance(node, cst.ClassDef):
                if node.name.value.startswith("Test") or any(
                        self.context.qualified_name(base.value) in _TEST_CASE_BASES for base in node.bases):
                    return True
        return False

    def _is_fixture(self, decorator: cst.BaseExpression) -> bool:
        target = decorator.func if isinstance(decorator, cst.Call) else decorator
        return self.context.qualified_name(target) in ("pytest.fixture", "pytest_asyncio.fixture")
