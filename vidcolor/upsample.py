"""Bringing predicted ab from working resolution to full resolution.

An upsampler turns (L at ab resolution, ab) into a few low-resolution terms, which are then resized
bilinearly to full size (whole frames, or strip by strip for huge scans) and combined with the full
resolution L. Bilinear is the plain case; the guided one is He & Sun's fast guided filter, which
fits ab = a * L + b locally and so puts colour edges where the luminance edges are.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.color import L_SCALE

GUIDED_RADIUS = 2  # box radius on the ab grid (1/4 of working resolution)
GUIDED_EPS = 2e-3  # regularisation, in (L / 100)^2: below it, L variation is treated as texture, not an edge


class BilinearUpsampler:
    name = "bilinear"

    def prepare(self, l_small: torch.Tensor, ab_small: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (ab_small,)

    def combine(self, terms: tuple[torch.Tensor, ...], l_full: torch.Tensor) -> torch.Tensor:
        return terms[0]

    def combine_np(self, terms: list[np.ndarray], l_full: np.ndarray) -> np.ndarray:
        """The CPU path, one frame: (H, W, 2) terms resized by OpenCV and (H, W) L -> (H, W, 2) ab."""
        return terms[0]


def box(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over a (2r + 1)^2 window, shrinking at the borders (batch-friendly on any device)."""
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


class GuidedUpsampler:
    """Fast guided filter upsampling of ab with L as the guide (He & Sun 2015)."""

    name = "guided"

    def __init__(self, radius: int = GUIDED_RADIUS, eps: float = GUIDED_EPS):
        self.radius, self.eps = radius, eps

    def prepare(self, l_small: torch.Tensor, ab_small: torch.Tensor) -> tuple[torch.Tensor, ...]:
        i = l_small / L_SCALE  # (B, 1, h, w) guide
        p = ab_small  # (B, 2, h, w)
        r = self.radius
        mean_i, mean_p = box(i, r), box(p, r)
        cov_ip = box(i * p, r) - mean_i * mean_p
        var_i = box(i * i, r) - mean_i * mean_i
        a = cov_ip / (var_i + self.eps)
        b = mean_p - a * mean_i
        return box(a, r), box(b, r)

    def combine(self, terms: tuple[torch.Tensor, ...], l_full: torch.Tensor) -> torch.Tensor:
        a, b = terms
        return a * (l_full / L_SCALE) + b

    def combine_np(self, terms: list[np.ndarray], l_full: np.ndarray) -> np.ndarray:
        a, b = terms  # in place: a * L / 100 + b
        np.multiply(a, l_full[..., None], out=a)
        np.multiply(a, 1.0 / L_SCALE, out=a)
        np.add(a, b, out=a)
        return a


UPSAMPLERS = {"bilinear": BilinearUpsampler, "guided": GuidedUpsampler}


def make_upsampler(kind: str):
    if kind not in UPSAMPLERS:
        raise ValueError(f"unknown upsampler {kind!r}; choose from {', '.join(UPSAMPLERS)}")
    return UPSAMPLERS[kind]()
