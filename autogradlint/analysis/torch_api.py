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

# torch.nn.functional losses: they reduce to one element unless ``reduction=`` says otherwise
FUNCTIONAL_LOSSES = frozenset(
    "torch.nn.functional." + name
    for name in (
        "mse_loss l1_loss smooth_l1_loss huber_loss cross_entropy nll_loss binary_cross_entropy "
        "binary_cross_entropy_with_logits kl_div poisson_nll_loss gaussian_nll_loss soft_margin_loss "
        "multilabel_soft_margin_loss hinge_embedding_loss cosine_embedding_loss margin_ranking_loss "
        "triplet_margin_loss multi_margin_loss multilabel_margin_loss ctc_loss"
    ).split()
)


def is_loss_class(qualified_name: Optional[str]) -> bool:
    """Whether ``qualified_name`` is a torch.nn loss class (``torch.nn.MSELoss``, ``torch.nn.modules.loss.L1Loss``)."""
    return qualified_name is not None and qualified_name.startswith("torch.nn.") and qualified_name.endswith("Loss")


# torch.nn layers that hold parameters (whatever their arguments)
WEIGHTED_LAYERS = frozenset(
    {"Linear", "Bilinear", "LazyLinear", "Embedding", "EmbeddingBag", "LSTM", "GRU", "RNN", "LSTMCell",
     "GRUCell", "RNNCell", "MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder",
     "TransformerEncoderLayer", "TransformerDecoderLayer", "PReLU"}
)
# torch.nn layers without parameters
PARAMETER_FREE_LAYERS = frozenset(
    {"Module", "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh",
     "Softmax", "Softmax2d", "LogSoftmax", "Softmin", "Softplus", "Softsign", "Hardtanh", "Hardswish",
     "Hardsigmoid", "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "LogSigmoid", "GLU", "RReLU",
     "Identity", "Flatten", "Unflatten", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
     "PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "CosineSimilarity", "PairwiseDistance", "Fold",
     "Unfold", "LocalResponseNorm", "CrossMapLRN2d", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
     "AlphaDropout", "FeatureAlphaDropout"}
)
PARAMETER_FREE_PREFIXES = ("MaxPool", "AvgPool", "AdaptiveMaxPool", "AdaptiveAvgPool", "LPPool",
                            "FractionalMaxPool", "MaxUnpool", "ZeroPad", "ConstantPad", "ReflectionPad",
                            "ReplicationPad", "CircularPad")
WEIGHTED_PREFIXES = ("Conv", "LazyConv")


def layer_parameters(qualified_name: str) -> Optional[bool]:
    """Whether the torch.nn layer class ``torch.nn.X`` certainly holds parameters whatever its arguments
    (True), certainly holds none (False), or its name does not say (None)."""
    if not qualified_name.startswith("torch.nn.") or qualified_name.count(".") != 2:
        return None
    short = qualified_name[len("torch.nn."):]
    if short in WEIGHTED_LAYERS or short.startswith(WEIGHTED_PREFIXES):
        return True
    if short in PARAMETER_FREE_LAYERS or short.endswith("Loss") or short.startswith(PARAMETER_FREE_PREFIXES):
        return False
    return None
