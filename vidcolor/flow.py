"""Dense optical flow (OpenCV DIS), warping along it, and the forward-backward occlusion test: one
module shared by the temporal smoother (temporal.py) and the warp-error metric (metrics.py), so the
two can never drift apart.

Flows are (h, w, 2) float32 in pixels; `f_cp` is the flow from frame t (current) to t-1 (previous),
`f_pc` the flow from t-1 to t.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np


class Dis:
    """OpenCV's DIS optical flow at a fixed finest scale.

    DIS lowers its finest scale, for good, when a picture is too small for the preset's (OpenCV 5.0:
    coarsest = min(round(log2(max side / 4 patch)), log2(min side / patch)), and finest becomes
    coarsest - 2 when above it). A flow then depended on the pictures the object had seen before: a
    resumed run (fresh objects) drifted from an unbroken one, and after one tiny picture every later
    flow ran at full resolution, 10x the CPU. The scale is set again before every flow."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST):
        self.cv = cv2.DISOpticalFlow_create(preset)
        self.finest = self.cv.getFinestScale()

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.cv.setFinestScale(self.finest)
        return self.cv.calc(a, b, None)


def create_dis(preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST) -> Dis:
    return Dis(preset)


def dis_flow(dis: Dis, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow from a to b: a(x) ~ b(x + flow(x)). (h, w, 2) float32 in pixels."""
    return dis(a, b)


def sq_norm(v: np.ndarray) -> np.ndarray:
    """Squared length of the last axis of a (..., 2) array (25x faster than np.sum over an axis of 2)."""
    return v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1]


_GRID_CACHE_PIXELS = 1 << 20  # grids up to this size are kept: the smoother's (flow and ab grid); a 4K one is 66 MB


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The pixel coordinates of an (h, w) grid (read only), kept for the small sizes warped every frame."""
    return _small_grid(h, w) if h * w <= _GRID_CACHE_PIXELS else _make_grid(h, w)


def _make_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


_small_grid = functools.lru_cache(maxsize=8)(_make_grid)


def warp(img: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample img at x + flow(x) (bilinear). Returns the warped image and where the source lies inside."""
    h, w = flow.shape[:2]
    gx, gy = _grid(h, w)
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    out = cv2.remap(img, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return out, inside


def forward_backward(f_cp: np.ndarray, f_pc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sundaram et al.'s (2010) forward-backward test, per pixel of frame t: the squared disagreement
    |f_cp + f_pc(x + f_cp)|^2, the bound it passes under, 0.01 (|f_cp|^2 + |f_pc(x + f_cp)|^2) + 0.5, and
    whether x + f_cp lies inside frame t-1."""
    back, inside = warp(f_pc, f_cp)
    return sq_norm(f_cp + back), 0.01 * (sq_norm(f_cp) + sq_norm(back)) + 0.5, inside


def flow_gradient_energy(flow: np.ndarray) -> np.ndarray:
    """|du/dx|^2 + |du/dy|^2 + |dv/dx|^2 + |dv/dy|^2 per pixel, forward differences (Ruder et al.)."""
    dx = np.zeros_like(flow)
    dy = np.zeros_like(flow)
    dx[:, :-1] = flow[:, :-1] - flow[:, 1:]
    dy[:-1] = flow[:-1] - flow[1:]
    return sq_norm(dx) + sq_norm(dy)


def non_occluded(f_cp: np.ndarray, f_pc: np.ndarray) -> np.ndarray:
    """Lai et al.'s (2018) mask of pixels to score, the occlusion test of Ruder et al. (2016): a pixel of
    frame t is dropped where the forward and backward flows disagree, on a motion boundary, or where it
    came from outside frame t-1."""
    fb, bound, inside = forward_backward(f_cp, f_pc)
    smooth = flow_gradient_energy(f_cp) <= 0.01 * sq_norm(f_cp) + 0.002
    return inside & (fb <= bound) & smooth


class MetricFlow:
    """Dense optical flow for the warp-error metric, on the full-resolution gray ground truth.

    Lai et al. used FlowNet2; no such network can be fetched here, so this is OpenCV's DIS with its
    patch search run down to full resolution (finest scale 0, patch stride 2). Chosen because it explains
    the ground truth best of the OpenCV flows we measured: the ground truth's own warp error on the first
    60 frames of cockatoo is 0.222 (x1e3) with it, 0.446 with DIS "medium" (which stops at half
    resolution), so less natural motion is misread as flicker. About 0.5 s per flow at 1280x720 on 2 cores.
    """

    def __init__(self):
        self.dis = create_dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.dis.finest = 0
        self.dis.cv.setPatchStride(2)

    def __call__(self, gray: np.ndarray, prev_gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(flow t -> t-1, mask of the pixels to score) for two (H, W) uint8 frames."""
        f_cp = dis_flow(self.dis, gray, prev_gray)
        f_pc = dis_flow(self.dis, prev_gray, gray)
        return f_cp, non_occluded(f_cp, f_pc)
