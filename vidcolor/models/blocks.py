"""Small building blocks shared by the decoders."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

from vidcolor.models.fused import ConvAct


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, dilation: int = 1, groups: int = 1):
        pad = dilation * (k - 1) // 2
        super().__init__(
            nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class SepConv(nn.Sequential):
    """Depthwise 3x3 then pointwise 1x1: a 3x3 receptive field at a fraction of a full conv's cost,
    which is what keeps the decoder cheap enough for 20 frames/s on two CPU cores."""

    def __init__(self, cin: int, cout: int, dilation: int = 1):
        super().__init__(
            nn.Conv2d(cin, cin, 3, padding=dilation, dilation=dilation, groups=cin, bias=False),
            nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class UpBlock(nn.Module):
    """Upsample x2, concatenate the skip, then two separable convs."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(SepConv(cin + cskip, cout), SepConv(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that directly follows a conv into the conv's weights (inference only: the
    model must be in eval mode). Saves a full pass over each feature map; on two CPU cores that is a
    large share of the network's time. Pairs are a conv followed by a BN inside an nn.Sequential, and
    the (conv, bn) attribute names a module lists in `fuse_pairs`. A conv, its folded BN and a ReLU in
    an nn.Sequential then become one `fused.ConvAct`."""
    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode")
    for m in list(model.modules()):
        for conv_name, bn_name in getattr(m, "fuse_pairs", ()):
            conv, bn = getattr(m, conv_name, None), getattr(m, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(m, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(m, bn_name, nn.Identity())
        if isinstance(m, nn.Sequential):
            for i in range(len(m) - 1):
                if isinstance(m[i], nn.Conv2d) and isinstance(m[i + 1], nn.BatchNorm2d):
                    m[i], m[i + 1] = fuse_conv_bn_eval(m[i], m[i + 1]), nn.Identity()
            for i in range(len(m) - 2):  # conv, folded BN, activation: one call (models/fused.py)
                act = {nn.ReLU: "relu", nn.ReLU6: "relu6"}.get(type(m[i + 2]))
                if type(m[i]) is nn.Conv2d and isinstance(m[i + 1], nn.Identity) and act:
                    m[i], m[i + 2] = ConvAct(m[i], act), nn.Identity()
    return model
