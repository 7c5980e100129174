import libcst as cst

from autogradlint.analysis.torch_versions import CUDA_AMP_DEPRECATED, TORCH_AMP_GRAD_SCALER, chosen_by_version, torch_at_least
from autogradlint.edits import Replacement
from autogradlint.fix_builders import reference_to
from autogradlint.rule import Evidence, Invalid, Outcome, Rule, Valid

# deprecated device-specific AMP classes -> (their replacement, the device it takes first)
DEPRECATED_AMP = {
    "torch.cuda.amp.GradScaler": ("torch.amp.GradScaler", "cuda"),
    "torch.cuda.amp.grad_scaler.GradScaler": ("torch.amp.GradScaler", "cuda"),
    "torch.cuda.amp.autocast": ("torch.amp.autocast", "cuda"),
    "torch.cuda.amp.autocast_mode.autocast": ("torch.amp.autocast", "cuda"),
    "torch.cpu.amp.GradScaler": ("torch.amp.GradScaler", "cpu"),
    "torch.cpu.amp.grad_scaler.GradScaler": ("torch.amp.GradScaler", "cpu"),
    "torch.cpu.amp.autocast": ("torch.amp.autocast", "cpu"),
    "torch.cpu.amp.autocast_mode.autocast": ("torch.amp.autocast", "cpu"),
}


class DeprecatedAmpApi(Rule):
    """
    ## What it does
    Flags a call of `torch.cuda.amp.GradScaler(...)`, `torch.cuda.amp.autocast(...)` or their
    `torch.cpu.amp` twins, whatever the import spelling, when the project is linted for torch 2.4 or newer.
    Code that chooses between the old and the new spelling (inside `try:`, or under a condition that
    mentions a version, `hasattr` or `getattr`) is not flagged: it supports older torch on purpose.

    ## Why is this bad?
    Since torch 2.4 every such call warns `FutureWarning: torch.cuda.amp.GradScaler(args...) is deprecated.
    Please use torch.amp.GradScaler('cuda', args...) instead.`, and a deprecated API is removed in a later
    release. The device-generic classes take the device first and behave the same.

    ## Example
    ```python
    scaler = torch.cuda.amp.GradScaler()
    with torch.cuda.amp.autocast(dtype=torch.bfloat16):
        loss = model(x)
    ```

    ## Use instead
    ```python
    scaler = torch.amp.GradScaler("cuda")
    with torch.amp.autocast("cuda", dtype=torch.bfloat16):
        loss = model(x)
    ```

    ## Fix safety
    Safe: the call becomes the device-generic class with the device as its first argument; every other
    argument keeps its meaning (GradScaler's positional arguments follow the device in the same order).
    `autocast` is fixed only when all its arguments are keywords: the old class takes `enabled` first, the
    new one `dtype` second. `import torch` is added when the file has no name for `torch.amp`; an import of
    the old name (`from torch.cuda.amp import GradScaler`) is left in place.

    ## Torch versions
    Flagged only for torch 2.4 and newer, the first release whose `torch/cuda/amp/grad_scaler.py` and
    `autocast_mode.py` (and the `torch/cpu/amp` twins) warn `FutureWarning` on construction. The fix needs
    `torch.amp.GradScaler`, new in torch 2.3 (before, `torch.amp` had `autocast` only): a project pinned below
    2.4 is never told to use it, so it never meets a fix its torch cannot run.
    """

    code = "GL706"
    name = "deprecated-amp-api"
    severity = "hint"
    message = "'{old}' is deprecated since torch 2.4 (FutureWarning on every call). Use '{new}(\"{device}\", ...)'"
    triggers = ("cuda.amp", "cpu.amp", "import amp")
    needs = frozenset({"names"})
    fix_applicability = "safe"

    valid = (
        Valid("import torch\nscaler = torch.amp.GradScaler('cuda')\nwith torch.amp.autocast('cuda'):\n    y = 1\n"),
        Valid("import torch\nscaler = torch.cuda.amp.GradScaler()\n", "torch 2.3 does not warn", torch_version="2.3"),
        Valid("import torch\nif hasattr(torch.amp, 'GradScaler'):\n    scaler = torch.amp.GradScaler('cuda')\nelse:\n"
              "    scaler = torch.cuda.amp.GradScaler()\n", "chooses by feature on purpose"),
        Valid("import torch\ntry:\n    from torch.amp import GradScaler\nexcept ImportError:\n"
              "    from torch.cuda.amp import GradScaler\nscaler = GradScaler()\n", "two possible bindings"),
        Valid("import torch\nscaler = (torch.amp.GradScaler('cuda') if TORCH_VERSION >= (2, 3) else torch.cuda.amp.GradScaler())\n",
              "a version guard in an expression"),
        Valid("import torch\nok = isinstance(scaler, torch.cuda.amp.GradScaler)\n", "not a call: no warning"),
        Valid("import apex\nwith apex.amp.autocast():\n    y = 1\n", "another library"),
    )
    invalid = (
        Invalid("import torch\nscaler = torch.cuda.amp.GradScaler()\n", 2, 10,
                fixed="import torch\nscaler = torch.amp.GradScaler(\"cuda\")\n"),
        Invalid("import torch\nscaler = torch.cuda.amp.GradScaler(2.0**16, enabled=use_amp)\n", 2, 10,
                fixed="import torch\nscaler = torch.amp.GradScaler(\"cuda\", 2.0**16, enabled=use_amp)\n"),
        Invalid("import torch as th\nwith th.cuda.amp.autocast(dtype=th.bfloat16):\n    y = 1\n", 2, 6,
                fixed="import torch as th\nwith th.amp.autocast(\"cuda\", dtype=th.bfloat16):\n    y = 1\n"),
        Invalid("import torch\n@torch.cpu.amp.autocast()\ndef step(x):\n    return x\n", 2, 2,
                fixed="import torch\n@torch.amp.autocast(\"cpu\")\ndef step(x):\n    return x\n"),
        Invalid("from torch.cuda.amp import GradScaler, autocast\nscaler = GradScaler()\n", 2, 10, "an import of the old names",
                fixed="from torch.cuda.amp import GradScaler, autocast\nimport torch\nscaler = torch.amp.GradScaler(\"cuda\")\n"),
        Invalid("import torch\nwith torch.cuda.amp.autocast(True):\n    y = 1\n", 2, 6, "positional: reported, not fixed"),
    )
    evidence = Evidence(
        bad="import torch\nscaler = torch.cuda.amp.GradScaler(enabled=False)\nprint(scaler.is_enabled())\n",
        bad_shows=Outcome(stdout="False", warns="`torch.cuda.amp.GradScaler(args...)` is deprecated"),
        good="import torch\nscaler = torch.amp.GradScaler(\"cuda\", enabled=False)\nprint(scaler.is_enabled())\n",
        good_shows=Outcome(stdout="False"),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, (cst.Name, cst.Attribute)):
            return
        name = self.context.qualified_name(node.func)
        if name not in DEPRECATED_AMP or not torch_at_least(self.context, CUDA_AMP_DEPRECATED):
            return
        if chosen_by_version(self.context):
            return
        new, device = DEPRECATED_AMP[name]
        parts = name.split(".")
        old = ".".join(parts[:3] + parts[-1:])  # the public name: torch.cuda.amp.GradScaler, not its submodule's
        message = self.message.format(old=old, new=new, device=device)
        self.report(node.func, message, fix=self._fix(node, new, device))

    def _fix(self, node: cst.Call, new: str, device: str):
        if new.endswith("autocast") and any(arg.keyword is None for arg in node.args):
            return None  # `enabled` is the old class's first parameter, `dtype` the new one's second
        if not torch_at_least(self.context, TORCH_AMP_GRAD_SCALER):
            return None
        reference = reference_to(self.context, new)
        if reference is None:
            return None
        expression, add_import = reference
        first = cst.Arg(cst.SimpleString(f'"{device}"'))
        if node.args:
            first = first.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        replacement = Replacement(node, node.with_changes(func=expression, args=[first, *node.args]))
        return [replacement, add_import] if add_import is not None else replacement
