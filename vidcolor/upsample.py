"""Bringing predicted ab from working resolution to full resolution.

An upsampler turns (L at ab resolution, ab) into a few low-resolution terms, which are then resized
bilinearly to full size (whole frames, or strip by strip for huge scans) and combined with the full
resolution L. Bilinear is the plain case; the guided one is He & Sun's fast guided filter, which
fits ab = a * L + b locally and so puts colour edges where the luminance edges are.
"""
from __future__ import annotations

import cv2
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

    def low_res_planes(self, terms: tuple[torch.Tensor, ...], i: int) -> list[np.ndarray]:
        """The CPU path: frame i's terms as (h, w) float32 planes, to be resized for combine_np."""
        return list(terms[0][i].numpy())

    def combine_np(self, full: list[np.ndarray], l_full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The CPU path, one frame: low_res_planes resized to (H, W) by OpenCV and (H, W) L -> a, b planes."""
        return full[0], full[1]


def box(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over a (2r + 1)^2 window, shrinking at the borders (batch-friendly on any device).

    On the CPU OpenCV's box filter does it: torch's avg_pool2d without the padding in the count took
    1 ms a call on these few thousand pixels, 6 calls a batch."""
    if x.device.type == "cpu" and not x.requires_grad:
        return _box_cpu(x, r)
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def _window_counts(n: int, r: int) -> np.ndarray:
    i = np.arange(n)
    return (np.minimum(i + r, n - 1) - np.maximum(i - r, 0) + 1).astype(np.float32)


def _box_cpu(x: torch.Tensor, r: int) -> torch.Tensor:
    b, c, h, w = x.shape
    planes = x.detach().float().reshape(b * c, h, w).permute(1, 2, 0).contiguous().numpy()  # (h, w, b*c)
    inv_count = 1.0 / (_window_counts(h, r)[:, None, None] * _window_counts(w, r)[None, :, None])
    out = np.empty_like(planes)
    for k in range(0, b * c, _CV_MAX_CHANNELS):
        # unnormalised sums with zeros outside, divided by the window's count inside the frame: the
        # mean over the shrunken window, as avg_pool2d(count_include_pad=False) gives
        sums = cv2.boxFilter(np.ascontiguousarray(planes[..., k:k + _CV_MAX_CHANNELS]), -1, (2 * r + 1, 2 * r + 1), normalize=False,
                             borderType=cv2.BORDER_CONSTANT)
        np.multiply(sums.reshape(h, w, -1), inv_count, out=out[..., k:k + _CV_MAX_CHANNELS])
    return torch.from_numpy(out).permute(2, 0, 1).reshape(b, c, h, w)


_CV_MAX_CHANNELS = 128  # the most channels the OpenCV 5 Python binding takes in one array (129 is refused)


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

    def low_res_planes(self, terms: tuple[torch.Tensor, ...], i: int) -> list[np.ndarray]:
        """The CPU path: frame i's slopes, already divided by L_SCALE (cheaper here than at full size),
        and offsets as (h, w) float32 planes, to be resized for combine_np."""
        slope, offset = terms
        return [*(slope[i] * (1.0 / L_SCALE)).numpy(), *offset[i].numpy()]

    def combine_np(self, full: list[np.ndarray], l_full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The CPU path, one frame: low_res_planes resized to (H, W) and (H, W) L -> a, b planes,
        each offset += slope * L in one pass, in place."""
        slope_a, slope_b, a, b = full
        cv2.accumulateProduct(slope_a, l_full, a)
        cv2.accumulateProduct(slope_b, l_full, b)
        return a, b


UPSAMPLERS = {"bilinear": BilinearUpsampler, "guided": GuidedUpsampler}


def make_upsampler(kind: str):
    if kind not in UPSAMPLERS:
        raise ValueError(f"unknown upsampler {kind!r}; choose from {', '.join(UPSAMPLERS)}")
    return UPSAMPLERS[kind]()
