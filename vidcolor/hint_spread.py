"""Hints spread over their object, with L as the guide (after Levin, Lischinski and Weiss 2004,
"Colorization using optimization"): each hint asks for a correction (its colour, as far as its point
can show it at its lightness (`color.in_gamut_ab`), minus the network's colour at its point), and the correction field is the smoothest one over the lightness image that
keeps those values at the hints.

Neighbouring pixels are tied together by exp(-dL^2 / (2 EDGE_COST^2)) of their lightness difference
dL (L* units): strongly inside an object of even tone, hardly across an edge, so a hint on a coat
colours the coat, not the wall behind it. A small pull of every pixel towards no correction makes it
fade out about REACH pixels away, where the network's own colours stay. Several hints blend. This
runs on the network's output grid (1/4 of the working resolution: a sparse solve of a few thousand
unknowns, milliseconds), where the guided upsampler then restores the full-resolution edges from L,
as it does for the automatic colours.

It works with any weights; a network trained with hint inputs also spreads them itself (learnt), and
this step then corrects only what it left: the colour at a hint's point is the user's.
"""
from __future__ import annotations

import numpy as np
import torch

from vidcolor.color import AB_SCALE, in_gamut_ab

# Chosen on 60 training photos, never on the validation photos docs/hints.md reports (benchmarks/hints.py
# --tune): PSNR with 10 and 50 hints sampled from their ground truth rises with the reach (a hint's
# correction spread wide also fixes the photo's overall cast), but so does the leak of a single hint onto
# neighbouring objects (on a real photo, a blue hint on a white dress turned the skin beside it from
# b* +28 to +3 at reach 64, +11 at 24). So the smallest reach that keeps a margin on those photos:
# +3.27 dB with 10 hints and +6.13 with 50 at reach 24, edge 5, each hint holding its 3x3 cells
# (Colorizer.spread). Reach in output-grid pixels (4 working-resolution pixels each), edge in L* units.
REACH = 24.0
EDGE_COST = 5.0
PIN = 1e4  # weight of the hint pixels' own residual: they keep the user's colour


def spread_hints(ab: torch.Tensor, l: torch.Tensor, hint_map: torch.Tensor, reach: float = REACH,
                 edge_cost: float = EDGE_COST) -> torch.Tensor:
    """(B, 2, h, w) unscaled ab, (B, 1, h, w) L* and (B, 3, h, w) hints on the same grid (a / AB_SCALE,
    b / AB_SCALE, mask) -> ab with each image's hints spread over their objects. Images without
    hints come back unchanged."""
    out = ab.clone()
    for i in range(ab.shape[0]):
        mask = hint_map[i, 2] > 0
        if not bool(mask.any()):
            continue
        target = (hint_map[i, :2].float() * AB_SCALE).cpu().numpy()
        lum, held = l[i, 0].float().cpu().numpy(), mask.cpu().numpy()
        # what the hinted cells can show at their lightness: the correction spread is the colour seen there
        target[:, held] = in_gamut_ab(lum[held], target[:, held].T).T
        out[i] = ab[i] + torch.from_numpy(_correction(ab[i].float().cpu().numpy(), lum, target, held, reach, edge_cost)).to(ab)
    return out


def _correction(ab: np.ndarray, l: np.ndarray, target: np.ndarray, mask: np.ndarray, reach: float,
                edge_cost: float) -> np.ndarray:
    """(2, h, w) correction c minimising  sum over neighbours r, s of w_rs (c_r - c_s)^2  +  sum_r c_r^2 / reach^2
    + PIN * sum over hint pixels (c_p - residual_p)^2,  w_rs = exp(-(L_r - L_s)^2 / (2 edge_cost^2)):
    smooth within even tone, cut at lightness edges, fading to nothing about `reach` pixels away."""
    from scipy.sparse import coo_matrix, diags  # here: scipy's import took 0.14 s of every start, hints or not
    from scipy.sparse.linalg import factorized

    h, w = l.shape
    n = h * w
    a, b, wts = _grid_edges(l, edge_cost)
    lap = coo_matrix((np.concatenate([-wts, -wts]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)).tocsr()
    degree = -np.asarray(lap.sum(axis=1)).ravel()
    pinned = mask.ravel().astype(np.float64) * PIN
    system = (lap + diags(degree + 1.0 / reach ** 2 + pinned)).tocsc()
    residual = (target - ab).reshape(2, -1)
    rhs = pinned[None] * residual
    solve = factorized(system)
    return np.stack([solve(rhs[k]) for k in range(2)]).reshape(2, h, w).astype(np.float32)


def _grid_edges(l: np.ndarray, edge_cost: float):
    """4-connected neighbours of an (h, w) image and their affinity exp(-dL^2 / (2 edge_cost^2))."""
    h, w = l.shape
    idx = np.arange(h * w).reshape(h, w)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    flat = l.ravel().astype(np.float64)
    return a, b, np.exp(-((flat[a] - flat[b]) ** 2) / (2 * edge_cost ** 2))
