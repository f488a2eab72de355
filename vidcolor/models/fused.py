"""A convolution and the activation after it as one oneDNN call, on the CPU at inference.

Once BatchNorm is folded into the convolutions (`blocks.fold_batchnorm`, which only inference does),
each conv-and-activation pair can run as oneDNN's convolution with a fused post-op, the call
`torch.compile` makes for it on the CPU: the activation no longer takes its own pass over the feature
map (about 5% of the network's CPU time at a 720p frame's working size: docs/performance.md, "As a user times it"). The
result is the plain path's to within about 1e-7, not always bit for bit: oneDNN may pick another
kernel for the fused call (at batch 1, as photos run, for some small layers; once in a CI run at batch
2). That changed 0-3 pixels of the example photos by one level, and no value of cockatoo's first 16
frames (batch 4); tests/test_models.py pins 1e-5. Training, a GPU, another dtype or a torch built without oneDNN take
the plain path, `act(bn(conv(x)))`.
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {"relu": ("relu", []), "relu6": ("hardtanh", [0.0, 6.0])}  # name -> oneDNN post-op, its scalars


@functools.cache
def fusion_available() -> bool:
    """Whether this torch has oneDNN's fused convolution (torch >= 2.0 built with oneDNN) and it gives
    the plain path's answer on a tiny case: an internal op, whose signature a torch release may change."""
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        with torch.no_grad():
            x, w, b = torch.linspace(-2, 2, 32).reshape(1, 2, 4, 4), torch.linspace(-1, 1, 4).reshape(2, 2, 1, 1), torch.ones(2)
            got = torch.ops.mkldnn._convolution_pointwise(x, w, b, [0, 0], [1, 1], [1, 1], 1, "relu", [], "")
            return bool(torch.allclose(got, F.relu(F.conv2d(x, w, b))))
    except (AttributeError, RuntimeError, TypeError):
        return False


def _conv_args(conv: nn.Conv2d, x: torch.Tensor):
    same = getattr(conv, "same_args", None)  # efficientnet_lite.Conv2dSame pads like TensorFlow
    return same(x) if same is not None else (x, conv.weight, conv.padding)


def conv_act(conv: nn.Conv2d, x: torch.Tensor, act: str) -> torch.Tensor:
    """act(conv(x)), act a key of ACTIVATIONS; fused where it can be (module docstring)."""
    if (fusion_available() and not torch.is_grad_enabled() and x.device.type == "cpu" and x.dtype == torch.float32
            and conv.weight.dtype == torch.float32 and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)):
        x, weight, padding = _conv_args(conv, x)
        attr, scalars = ACTIVATIONS[act]
        return torch.ops.mkldnn._convolution_pointwise(x, weight, conv.bias, list(padding), list(conv.stride),
                                                       list(conv.dilation), conv.groups, attr, scalars, "")
    return _activate(conv(x), act)


def conv_bn_act(conv: nn.Conv2d, bn: nn.Module, x: torch.Tensor, act: str) -> torch.Tensor:
    """act(bn(conv(x))): fused once the BatchNorm has been folded away (it is then an nn.Identity)."""
    if isinstance(bn, nn.Identity):
        return conv_act(conv, x, act)
    return _activate(bn(conv(x)), act)


def _activate(y: torch.Tensor, act: str) -> torch.Tensor:
    """The plain path's activation, in place on a fresh conv or BatchNorm output."""
    return F.relu6(y, inplace=True) if act == "relu6" else F.relu(y, inplace=True)


class ConvAct(nn.Module):
    """A conv and its activation, where `fold_batchnorm` found them in an nn.Sequential."""

    def __init__(self, conv: nn.Conv2d, act: str):
        super().__init__()
        self.conv, self.act = conv, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv_act(self.conv, x, self.act)
