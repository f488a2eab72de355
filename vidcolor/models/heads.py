"""The colour head every architecture ends in, and the base class that turns its output into ab.

A head predicts ab by regression (`reg`: 2 channels, ab / AB_SCALE), by classification over the
quantised ab bins (`cls`: Q logits, decoded by annealed mean), or both at once (`both`), so any
decoder can be trained with either loss and the decodings compared on the same network.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from vidcolor.color import AB_SCALE
from vidcolor.models.bins import GRID, ab_bins, annealed_mean

HEAD_KINDS = ("reg", "cls", "both")


class ColorHead(nn.Module):
    def __init__(self, in_ch: int, kind: str = "both", grid: float = GRID):
        super().__init__()
        if kind not in HEAD_KINDS:
            raise ValueError(f"head kind must be one of {HEAD_KINDS}, got {kind!r}")
        self.kind = kind
        self.reg = nn.Conv2d(in_ch, 2, 1) if kind in ("reg", "both") else None
        if kind in ("cls", "both"):
            bins = ab_bins(grid)
            self.register_buffer("bins", bins)  # persistent: a checkpoint carries its own bin centres
            self.cls = nn.Conv2d(in_ch, bins.shape[0], 1)
        else:
            self.cls = None
        # Decoding settings; checkpoints store the values chosen by measurement.
        self.temperature = 0.38
        self.blend = 1.0 if kind == "cls" else (0.0 if kind == "reg" else 0.5)

    def forward(self, feat: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        if self.reg is not None:
            out["ab"] = self.reg(feat)  # (B, 2, h, w), ab / AB_SCALE
        if self.cls is not None:
            out["logits"] = self.cls(feat)  # (B, Q, h, w)
        return out

    def decode(self, out: dict[str, torch.Tensor], temperature: float | None = None, blend: float | None = None) -> torch.Tensor:
        """Raw head outputs -> (B, 2, h, w) ab / AB_SCALE. `blend` weighs the classification decoding."""
        t = self.temperature if temperature is None else temperature
        w = self.blend if blend is None else blend
        parts = []
        if "ab" in out and w < 1.0:
            parts.append((1.0 - w, out["ab"].float()))
        if "logits" in out and w > 0.0:
            parts.append((w, annealed_mean(out["logits"], self.bins, t) / AB_SCALE))
        if not parts:
            raise ValueError(f"blend {w} selects a head that this model does not have ({self.kind})")
        total = sum(k for k, _ in parts)
        return sum(k * v for k, v in parts) / total


class ColorNet(nn.Module):
    """Base of every registered network: L -> ab at 1/stride of the input size.

    Input is l_norm, (B, 1, H, W) L* / L_SCALE in [0, 1]; H and W must be multiples of `size_multiple`.
    """

    stride: int = 4  # output ab is (H / stride, W / stride)
    size_multiple: int = 32
    head: ColorHead

    def predict_ab(self, l_norm: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) l_norm -> (B, 2, H / stride, W / stride) ab / AB_SCALE."""
        return self.head.decode(self(l_norm))

    def decode_settings(self) -> dict:
        return {"temperature": float(self.head.temperature), "blend": float(self.head.blend)}

    def set_decode(self, temperature: float | None = None, blend: float | None = None) -> None:
        if temperature is not None:
            self.head.temperature = float(temperature)
        if blend is not None:
            self.head.blend = float(blend)
