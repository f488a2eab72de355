"""Quantised ab space (Zhang, Isola & Efros 2016): in-gamut bins on a grid of 10, soft encoding of
ground-truth ab onto its nearest bins, and the annealed-mean decoding of a predicted distribution.
"""
from __future__ import annotations

import functools

import torch

GRID = 10.0
SOFT_NEIGHBOURS = 5
SOFT_SIGMA = 5.0


@functools.lru_cache(maxsize=None)
def _gamut_bins(grid: float) -> torch.Tensor:
    """Centres of the grid cells that hold some sRGB colour, as a (Q, 2) float tensor.

    A 128^3 sample of the sRGB cube (every lightness) is converted to Lab and snapped to the grid; the
    cells hit are the in-gamut bins. Grid 10 gives Q = 262 over a in [-90, 100], b in [-110, 90]: the
    same extent as Zhang et al.'s 313-bin hull, which also keeps cells just outside the sRGB gamut.
    """
    from vidcolor.color import rgb_to_lab

    steps = torch.linspace(0.0, 1.0, 128)
    r, g, b = torch.meshgrid(steps, steps, steps, indexing="ij")
    rgb = torch.stack([r, g, b]).reshape(1, 3, -1, 1)
    ab = rgb_to_lab(rgb)[0, 1:].reshape(2, -1).T  # (N, 2)
    cells = torch.round(ab / grid).long()
    # unique over one integer key per cell, not torch.unique(dim=0) over rows: the same sorted cells, but
    # 0.3 s instead of 3 s on a 2-core CPU, and every model build (so every run's start-up) pays it
    lo = cells.min(0).values
    span = int((cells[:, 1] - lo[1]).max()) + 1
    keys = torch.unique((cells[:, 0] - lo[0]) * span + (cells[:, 1] - lo[1]))
    cells = torch.stack([keys // span + lo[0], keys % span + lo[1]], dim=1)
    return (cells * grid).float()


def ab_bins(grid: float = GRID) -> torch.Tensor:
    """(Q, 2) centres of the in-gamut ab bins in unscaled a*b* units."""
    return _gamut_bins(float(grid)).clone()


def soft_encode(ab: torch.Tensor, bins: torch.Tensor, k: int = SOFT_NEIGHBOURS, sigma: float = SOFT_SIGMA) -> torch.Tensor:
    """(B, 2, H, W) unscaled ab -> (B, Q, H, W) soft targets: a Gaussian over the k nearest bins, summing to 1."""
    b, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2).float()  # (N, 2)
    d2 = torch.cdist(flat, bins.to(flat)).pow(2)  # (N, Q)
    d2k, idx = d2.topk(k, dim=1, largest=False)
    wk = torch.softmax(-d2k / (2 * sigma**2), dim=1)
    target = torch.zeros_like(d2).scatter_(1, idx, wk)
    return target.reshape(b, h, w, -1).permute(0, 3, 1, 2)


def hard_encode(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) unscaled ab -> (B, H, W) index of the nearest bin."""
    b, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2).float()
    return torch.cdist(flat, bins.to(flat)).argmin(dim=1).reshape(b, h, w)


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, temperature: float) -> torch.Tensor:
    """(B, Q, H, W) logits -> (B, 2, H, W) unscaled ab.

    The mean of the distribution re-normalised at temperature T: T = 1 is the plain mean (desaturated),
    T -> 0 the mode (vivid but patchy); Zhang et al. use T = 0.38.
    """
    p = torch.softmax(logits.float() / max(temperature, 1e-3), dim=1)
    return torch.einsum("bqhw,qc->bchw", p, bins.to(p))
