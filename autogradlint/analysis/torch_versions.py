"""The torch version a project is linted for, and the torch releases some rules' truth depends on.

A rule never reads the configuration: it asks ``torch_at_least(context, FEATURE)`` whether the torch version
this run lints for (``--torch-version``, ``torch-version`` in ``[tool.autogradlint]``, the project's own torch
pin, else ``NEWEST``) has a behaviour. Each release below is backed by torch's source or release notes; the
rules that use them cite the same evidence in their "Torch versions" paragraph.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from autogradlint.context import LintContext

TorchVersion = Tuple[int, int]

# the newest torch release autogradlint knows (the one its evidence runs in); assumed when nothing says otherwise
NEWEST: TorchVersion = (2, 13)
# the oldest release a version may name: autogradlint knows nothing of torch before 1.0
OLDEST: TorchVersion = (1, 0)

# `@torch.no_grad`, `@torch.enable_grad`, `@torch.inference_mode` without parentheses: torch 2.1 added
# `_NoParamDecoratorContextManager.__new__` (torch/utils/_contextlib.py, pytorch#107086); before, `no_grad(f)`
# raises "TypeError: __init__() takes 1 positional argument but 2 were given"
BARE_GRAD_MODE_DECORATORS: TorchVersion = (2, 1)
# `zero_grad()` of optimizers and modules sets gradients to None by default since 2.0 (pytorch#92731);
# before, the default zero-fills them
ZERO_GRAD_SETS_TO_NONE: TorchVersion = (2, 0)
# the `set_to_none` argument of `zero_grad` exists since 1.7 (pytorch#42754)
ZERO_GRAD_SET_TO_NONE_ARGUMENT: TorchVersion = (1, 7)
# `torch.utils.checkpoint.checkpoint(..., use_reentrant=)` exists since 1.11 (pytorch#69508)
CHECKPOINT_USE_REENTRANT: TorchVersion = (1, 11)
# `checkpoint_sequential(..., use_reentrant=)` exists since 2.0 (pytorch#86331)
CHECKPOINT_SEQUENTIAL_USE_REENTRANT: TorchVersion = (2, 0)
# `torch.inference_mode` exists since 1.9 (the 1.9 release notes: "Inference mode")
INFERENCE_MODE: TorchVersion = (1, 9)
# `torch.amp.GradScaler("cuda")` exists since 2.3 (before, only `torch.cuda.amp.GradScaler`)
TORCH_AMP_GRAD_SCALER: TorchVersion = (2, 3)
# `torch.cuda.amp.GradScaler/autocast` and `torch.cpu.amp.*` warn FutureWarning "... is deprecated. Please use
# `torch.amp.GradScaler('cuda', args...)` instead" since 2.4 (torch/cuda/amp/grad_scaler.py, autocast_mode.py)
CUDA_AMP_DEPRECATED: TorchVersion = (2, 4)

_VERSION = re.compile(r"\s*v?(\d+)(?:\.(\d+|\*))?(?:\.[0-9*]+)*(?:[-+._]?[A-Za-z0-9.+]*)?\s*$")


def parse_version(text: str) -> Optional[TorchVersion]:
    """(major, minor) of a version string (``"2.1"``, ``"2.0.1+cu118"``, ``"2.2.0a0"``, ``"2"``); None when it
    is not one."""
    match = _VERSION.match(text)
    if match is None:
        return None
    minor = match.group(2)
    return int(match.group(1)), int(minor) if minor and minor != "*" else 0


def shown(version: TorchVersion) -> str:
    return f"{version[0]}.{version[1]}"


def torch_version(context: "LintContext") -> TorchVersion:
    """The torch version the file is linted for."""
    return getattr(context, "torch_version", NEWEST)


def torch_at_least(context: "LintContext", release: TorchVersion) -> bool:
    """Whether the torch version the file is linted for is ``release`` or newer."""
    return torch_version(context) >= release


# words of a condition that chooses code by torch version or feature
_GUARD_WORDS = ("version", "hasattr", "is_torch", "getattr")


def chosen_by_version(context: "LintContext") -> bool:
    """Whether the node being visited sits, within its function, inside ``try:`` or under an ``if`` (or
    conditional expression) whose test mentions a version, ``hasattr``/``getattr`` or ``is_torch...``: code
    that supports several torch releases on purpose."""
    import libcst as cst  # here: reading versions and pins (config, pre-commit) must not import LibCST

    for ancestor in reversed(context.ancestors):
        if isinstance(ancestor, cst.Try):
            return True
        test: Optional[cst.BaseExpression] = getattr(ancestor, "test", None) if isinstance(ancestor, (cst.If, cst.IfExp)) else None
        if test is not None:
            text = context.module.code_for_node(test).lower()
            if any(word in text for word in _GUARD_WORDS):
                return True
        if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef)):
            break
    return False
