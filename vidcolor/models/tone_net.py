"""ToneNet: a small CNN that tells a colour photograph from a toned monochrome print (vidcolor.tone).

It looks at what vidcolor.tone's hand-made test looks at, the picture without its mount, as CIELAB
plus the residual of the fitted tone curve, squashed to SIDE x SIDE; and learns from many examples what
the hand-made score cannot: a blue sky over gray buildings, a moonlit night or a steel valve on blue
(colour that follows lightness, as a toned print's does) from a cyanotype or a split-toned print.
Trained by `python -m training detector` (training/detector.py) on photos that are not in
../shared/data, each one shown both as a colour scan and as a toned print made from its gray.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

SIDE = 96  # the input's side in pixels: the thumbnail without its mount, resized (aspect not kept)
CHANNELS = 4  # L* (0..100), a*, b*, tone residual (CIELAB units)


class ToneNet(nn.Module):
    """(B, 4, SIDE, SIDE) float Lab + residual -> (B,) logit, positive for a colour photograph."""

    def __init__(self, width: int = 16):
        super().__init__()
        chans = [CHANNELS, width, 2 * width, 4 * width, 4 * width]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans, chans[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm2d(b) for b in chans[1:])
        self.fc = nn.Linear(2 * chans[-1], 1)
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.stack([x[:, 0] / 50 - 1, x[:, 1] / 30, x[:, 2] / 30, x[:, 3].clamp(max=30) / 5], 1)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            x = F.relu(norm(conv(x)))
            if i < len(self.convs) - 1:
                x = F.max_pool2d(x, 2)
        return self.fc(torch.cat([x.mean((2, 3)), x.amax((2, 3))], 1)).squeeze(1)

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> "ToneNet":
        """The network, in eval mode, from what `python -m training detector train` saves."""
        net = cls(ckpt["width"])
        net.load_state_dict(ckpt["state_dict"])
        return net.float().eval()  # float32 whatever torch's default dtype (colorizer.Colorizer says why)

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The logit averaged over the picture and its mirror image (eval mode)."""
        return (self(x) + self(x.flip(3))) / 2
