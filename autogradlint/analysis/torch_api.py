"""Canonical qualified names of the torch API, so every import spelling counts.

torch exposes the same object under several paths (``torch.no_grad``, ``torch.autograd.no_grad``,
``torch.autograd.grad_mode.no_grad``); rules compare against the canonical one returned by
``canonical(...)``.
"""
from __future__ import annotations

from typing import Optional

# non-canonical prefix -> canonical prefix, longest first
_PREFIX_ALIASES = (
    ("torch.autograd.grad_mode.", "torch."),
    ("torch.autograd.variable.", "torch.autograd."),
    ("torch.nn.modules.module.", "torch.nn."),
    ("torch.nn.modules.container.", "torch.nn."),
    ("torch.nn.parameter.", "torch.nn."),
    ("torch.optim.optimizer.", "torch.optim."),
    ("torch.utils.checkpoint.", "torch.utils.checkpoint."),
    ("torch.autograd.anomaly_mode.", "torch.autograd."),
    ("torch.autograd.gradcheck.", "torch.autograd."),
)

# names torch re-exports at the top level from torch.autograd
_AUTOGRAD_TOP_LEVEL = frozenset({"no_grad", "enable_grad", "inference_mode", "set_grad_enabled"})

NO_GRAD = "torch.no_grad"
ENABLE_GRAD = "torch.enable_grad"
INFERENCE_MODE = "torch.inference_mode"
SET_GRAD_ENABLED = "torch.set_grad_enabled"
VARIABLE = "torch.autograd.Variable"  # the pre-0.4 wrapper: now returns its tensor argument

# context managers that must be instantiated: `with torch.no_grad:` raises TypeError
GRAD_MODE_CONTEXTS = frozenset({NO_GRAD, ENABLE_GRAD, INFERENCE_MODE})
# contexts that switch gradient recording off
NO_GRAD_CONTEXTS = frozenset({NO_GRAD, INFERENCE_MODE})


def canonical(qualified_name: Optional[str]) -> Optional[str]:
    """The canonical spelling of a torch qualified name (other names are returned unchanged)."""
    if qualified_name is None or not qualified_name.startswith("torch"):
        return qualified_name
    name = qualified_name
    for prefix, replacement in _PREFIX_ALIASES:
        if name.startswith(prefix):
            name = replacement + name[len(prefix):]
            break
    if name.startswith("torch.autograd."):
        rest = name[len("torch.autograd."):]
        if rest in _AUTOGRAD_TOP_LEVEL:
            name = "torch." + rest
    return name


# methods of nn.Module that return the module itself
SELF_RETURNING_METHODS = frozenset(
    {"to", "cuda", "cpu", "xpu", "train", "eval", "float", "double", "half", "bfloat16", "type",
     "requires_grad_", "apply", "share_memory", "to_empty"}
)


# nn.Module methods that return an iterator over the module's state: name -> (what each item is, whether the
# items are ``(name, item)`` pairs). The one table every rule and analysis derives its subsets from.
MODULE_ITERATORS = {
    "parameters": ("parameter", False), "named_parameters": ("parameter", True),
    "buffers": ("buffer", False), "named_buffers": ("buffer", True),
    "children": ("module", False), "named_children": ("module", True),
    "modules": ("module", False), "named_modules": ("module", True),
}
# every method of the table
MODULE_ITERATOR_METHODS = frozenset(MODULE_ITERATORS)
# name -> whether its items are (name, item) pairs
ITERATOR_YIELDS_PAIRS = {name: pairs for name, (_, pairs) in MODULE_ITERATORS.items()}
# the ones whose items are parameters
PARAMETER_ITERATORS = frozenset(name for name, (item, _) in MODULE_ITERATORS.items() if item == "parameter")
# the ones whose items are tensors (parameters or buffers)
TENSOR_ITERATORS = frozenset(name for name, (item, _) in MODULE_ITERATORS.items() if item in ("parameter", "buffer"))
# the ones whose items are submodules: name -> whether they yield (name, module) pairs
SUBMODULE_ITERATORS = {name: pairs for name, (item, pairs) in MODULE_ITERATORS.items() if item == "module"}

# tensor methods whose result no longer carries the receiver's graph (``detach_`` too: it detaches in place
# and returns the receiver), so nothing flows through them into a later backward
GRAPH_CUTTING_METHODS = frozenset({"detach", "detach_", "item", "tolist", "numpy"})
