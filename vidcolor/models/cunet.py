"""cunet: a U-Net trained from scratch, with a stack of dilated convolutions at its bottleneck that
widens the receptive field without more downsampling (after Wang, Chen & Tian 2022).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidcolor.models.blocks import ConvBNReLU
from vidcolor.models.heads import ColorHead, ColorNet
from vidcolor.models.registry import register_model


class DilatedResidual(nn.Module):
    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.conv = ConvBNReLU(ch, ch, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class CUNet(ColorNet):
    size_multiple = 8

    def __init__(self, head: str = "both", base: int = 32, dilations: tuple[int, ...] = (2, 4, 8, 2), out_stride: int = 1):
        super().__init__()
        if out_stride not in (1, 2, 4):
            raise ValueError(f"out_stride must be 1, 2 or 4, got {out_stride}")
        self.stride = out_stride
        c = [base, base * 2, base * 4, base * 8]
        self.down = nn.ModuleList([
            nn.Sequential(ConvBNReLU(1, c[0]), ConvBNReLU(c[0], c[0])),
            nn.Sequential(ConvBNReLU(c[0], c[1]), ConvBNReLU(c[1], c[1])),
            nn.Sequential(ConvBNReLU(c[1], c[2]), ConvBNReLU(c[2], c[2])),
            nn.Sequential(ConvBNReLU(c[2], c[3]), ConvBNReLU(c[3], c[3])),
        ])
        self.bottleneck = nn.Sequential(*[DilatedResidual(c[3], d) for d in dilations])
        # Decoder levels stop at the output stride: level i works at stride 2**i.
        n_up = {1: 3, 2: 2, 4: 1}[out_stride]
        self.up = nn.ModuleList(
            nn.Sequential(ConvBNReLU(c[3 - i] + c[2 - i], c[2 - i]), ConvBNReLU(c[2 - i], c[2 - i])) for i in range(n_up)
        )
        self.head = ColorHead(c[3 - n_up], head)

    def forward(self, l_norm: torch.Tensor) -> dict[str, torch.Tensor]:
        x = l_norm - 0.5
        skips = []
        for i, level in enumerate(self.down):
            x = level(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = self.bottleneck(x)
        for i, level in enumerate(self.up):
            skip = skips[2 - i]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = level(torch.cat([x, skip], dim=1))
        return self.head(x)


@register_model
def cunet(head: str = "both", base: int = 32, dilations: tuple[int, ...] = (2, 4, 8, 2), out_stride: int = 1) -> CUNet:
    return CUNet(head=head, base=base, dilations=tuple(dilations), out_stride=out_stride)
