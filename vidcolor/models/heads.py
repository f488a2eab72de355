"""The colour head every architecture ends in, and the base class that turns its output into ab.

A head predicts ab by regression (`reg`: 2 channels, ab / AB_SCALE), by classification over the
quantised ab bins (`cls`: Q logits, decoded by annealed mean), or both at once (`both`), so any
decoder can be trained with either loss and the decodings compared on the same network.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

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
        self.confidence: tuple[float, float] | None = None  # (lo, hi) certainty ramp; None: off

    def forward(self, feat: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        if self.reg is not None:
            out["ab"] = self.reg(feat)  # (B, 2, h, w), ab / AB_SCALE
        if self.cls is not None:
            out["logits"] = self.cls(feat)  # (B, Q, h, w)
        return out

    def decode(self, out: dict[str, torch.Tensor], temperature: float | None = None, blend: float | None = None,
               confidence: tuple[float, float] | None | str = "default") -> torch.Tensor:
        """Raw head outputs -> (B, 2, h, w) ab / AB_SCALE. `blend` weighs the classification decoding.

        With `confidence` = (lo, hi), the classification's weight is also scaled per pixel by its
        certainty 1 - H(p) / log Q: full where it is at least hi, none below lo. Where the distribution
        is spread or multi-modal the network has not decided on a hue, and its annealed mean would
        still commit to a vivid one (the large wrong-colour blobs); the regression estimate, a
        conditional mean, stays muted there instead.
        """
        t = self.temperature if temperature is None else temperature
        w = self.blend if blend is None else blend
        conf = self.confidence if confidence == "default" else confidence
        if (w > 0.0 and "logits" not in out) or (w < 1.0 and "ab" not in out):
            raise ValueError(f"blend {w} selects a head that this model does not have ({self.kind})")
        if w <= 0.0:
            return out["ab"].float()
        ab_cls = annealed_mean(out["logits"], self.bins, t) / AB_SCALE
        if conf is None and w >= 1.0:
            return ab_cls
        weight = w * certainty_weight(out["logits"], *conf) if conf is not None else w
        base = out["ab"].float() if "ab" in out else torch.zeros_like(ab_cls)  # a cls-only head falls back to neutral
        return (1.0 - weight) * base + weight * ab_cls


def certainty_weight(logits: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """(B, Q, h, w) logits -> (B, 1, h, w) in [0, 1]: 0 where 1 - H/log Q <= lo, 1 where >= hi, linear between.

    Over a (B, h, w, Q) view (contiguous for channels_last logits), as H = log Z - E_p[x]: one exp and two
    reductions along contiguous memory. A log_softmax along dim 1 took 19 ms a batch of four 720p frames on
    the 2-core CPU, about a fifth of the network's time, when the shipped decoding took up the ramp; this
    takes 5 ms (the same values to 2e-6)."""
    x = logits.float().permute(0, 2, 3, 1)
    m = x.amax(-1, keepdim=True)
    e = (x - m).exp_()
    z = e.sum(-1)
    entropy = z.log() + m.squeeze(-1) - torch.linalg.vecdot(e, x) / z
    certainty = 1.0 - entropy / math.log(logits.shape[1])
    return ((certainty - lo) / max(hi - lo, 1e-6)).clamp_(0.0, 1.0).unsqueeze(1)


def pool_hint_map(hint_map: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, 3, H, W) hint map -> (B, 3, H / stride, W / stride): each cell's mean hint ab over its
    hinted pixels, and a mask of 1 where the cell holds any hint."""
    mask = F.avg_pool2d(hint_map[:, 2:3], stride)
    ab = F.avg_pool2d(hint_map[:, :2] * hint_map[:, 2:3], stride) / mask.clamp_min(1e-6)
    return torch.cat([ab, (mask > 0).to(ab.dtype)], dim=1)


class ColorNet(nn.Module):
    """Base of every registered network: L -> ab at 1/stride of the input size.

    Input is l_norm, (B, 1, H, W) L* / L_SCALE in [0, 1]; H and W must be multiples of `size_multiple`.
    A network built with hints also takes a hint map (B, 3, H, W) and a palette (B, Q).
    """

    stride: int = 4  # output ab is (H / stride, W / stride)
    size_multiple: int = 32
    accepts_hints: bool = False
    head: ColorHead

    def check_hints(self, hint_map, palette) -> None:
        if (hint_map is not None or palette is not None) and not self.accepts_hints:
            raise ValueError(f"{type(self).__name__} was built without hint inputs")

    def predict_ab(self, l_norm: torch.Tensor, hint_map: torch.Tensor | None = None, palette: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) l_norm -> (B, 2, H / stride, W / stride) ab / AB_SCALE."""
        if hint_map is None and palette is None:
            return self.head.decode(self(l_norm))
        return self.head.decode(self(l_norm, hint_map, palette))

    def decode_settings(self) -> dict:
        conf = self.head.confidence
        return {"temperature": float(self.head.temperature), "blend": float(self.head.blend),
                "confidence": None if conf is None else [float(c) for c in conf]}

    def set_decode(self, temperature: float | None = None, blend: float | None = None, confidence="keep") -> None:
        if temperature is not None:
            self.head.temperature = float(temperature)
        if blend is not None:
            self.head.blend = float(blend)
        if confidence != "keep":
            self.head.confidence = None if confidence is None else (float(confidence[0]), float(confidence[1]))
