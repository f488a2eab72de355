"""eccv16: the network of Zhang, Isola & Efros, "Colorful Image Colorization" (ECCV 2016).

Eight VGG-style blocks with dilated convolutions in blocks 5 and 6, an output at 1/4 resolution, and
by default the classification head over the quantised ab bins (rebalanced in training, annealed mean
at T = 0.38 when decoding). `width` scales every channel count (1.0 is the paper's 32M parameters).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from vidcolor.models.blocks import ConvBNReLU
from vidcolor.models.heads import ColorHead, ColorNet
from vidcolor.models.registry import register_model


def _block(cin: int, cout: int, n: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    layers = []
    for i in range(n):
        last = i == n - 1
        conv = nn.Conv2d(cin if i == 0 else cout, cout, 3, stride=stride if last else 1, padding=dilation, dilation=dilation)
        layers += [conv, nn.ReLU(inplace=True)]
    layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers)


class ECCV16(ColorNet):
    stride = 4
    size_multiple = 8

    def __init__(self, head: str = "cls", width: float = 1.0):
        super().__init__()
        c = [max(8, int(round(ch * width))) for ch in (64, 128, 256, 512)]
        self.features = nn.Sequential(
            _block(1, c[0], 2, stride=2),
            _block(c[0], c[1], 2, stride=2),
            _block(c[1], c[2], 3, stride=2),
            _block(c[2], c[3], 3),
            _block(c[3], c[3], 3, dilation=2),
            _block(c[3], c[3], 3, dilation=2),
            _block(c[3], c[3], 3),
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(c[3], c[2], 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            ConvBNReLU(c[2], c[2]),
            ConvBNReLU(c[2], c[2]),
        )
        self.head = ColorHead(c[2], head)

    def forward(self, l_norm: torch.Tensor) -> dict[str, torch.Tensor]:
        x = l_norm - 0.5  # the paper centres L at 50
        return self.head(self.up(self.features(x)))


@register_model
def eccv16(head: str = "cls", width: float = 1.0) -> ECCV16:
    return ECCV16(head=head, width=width)
