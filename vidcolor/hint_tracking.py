"""Colour hints through a shot: a hint placed on a keyframe is carried along the motion to the frames
after it, until the next keyframe or scene cut, and given to the network on every one of them.

Each hint point is moved, at sub-pixel precision, by the dense flow the smoother uses (OpenCV DIS on
L at the working resolution), and rasterised again on every frame, so it keeps its size and never
smears. A point survives only where the warp is trusted: where something moves in front of it, the
forward-backward test and the brightness match fail there, and the hint is dropped instead of being
painted onto the occluder.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from vidcolor.colorizer import working_size
from vidcolor.hints import HintPoint, Hints, VideoHints, hint_map
from vidcolor.flow import create_dis, dis_flow
from vidcolor.temporal import flow_confidence, to_gray_u8

HINT_TRACKING_VERSION = 2  # part of a video's resume key: segments made by an older tracker are redone (2: the smoother restarts at keyframes)
KEEP_CONFIDENCE = 0.5  # a carried hint is kept where the flow confidence at its new place is at least this


class HintTracker:
    def __init__(self, hints: VideoHints, work_size: int, photometric: float = 10.0, max_motion_frac: float = 0.15):
        self.hints, self.work_size = hints, work_size
        self.photometric, self.max_motion_frac = photometric, max_motion_frac
        # DIS "medium", not the smoother's "fast": a hint is moved by the flow frame after frame, so a
        # flow that falls short accumulates (measured on a textured square moving 2 px a frame: "fast"
        # carried the hint 15 px in 10 frames, "medium" 19.9). It runs only while a shot has hints.
        self.dis = create_dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.lost: dict[int, tuple[int, int, int]] = {}  # keyframe -> (first frame with a point lost, points lost, points)
        self.reset()

    def reset(self) -> None:
        """A scene cut: hints do not cross it."""
        self.prev_l: np.ndarray | None = None
        self.current = Hints()  # in pixels of the working resolution
        self.keyframe: int | None = None  # the keyframe whose hints are in force

    def lost_notes(self) -> list[str]:
        """One line per keyframe some of whose points were dropped before the next keyframe or cut (where
        the motion could not be followed with confidence): a new user's hint on the sky of a grainy 1952
        film faded after 8 frames, and nothing said so."""
        return [f"hints of keyframe {k}: {n} of {of} point{'s' * (of > 1)} lost from frame {at} on (the motion "
                "there could not be followed with confidence: grain, occlusion or fast motion; a keyframe there "
                "puts them back)" for k, (at, n, of) in sorted(self.lost.items())]

    @property
    def palette(self) -> tuple[tuple[float, float], ...]:
        """The palette of the keyframe in force (it holds, untracked, until the next keyframe or cut)."""
        return self.current.palette

    def state_dict(self) -> dict[str, np.ndarray]:
        """The hints in force after the last frame, saved with a video segment so a resumed run carries
        them on exactly as an unbroken one; float64, so the saved points are the tracked ones bit for bit.
        Keys do not collide with the smoothers' (both go into one segment state)."""
        if self.prev_l is None or not self.current:
            return {}
        pts = np.array([[p.x, p.y, p.ab[0], p.ab[1], p.radius] for p in self.current.points], np.float64).reshape(-1, 5)
        return {"hint_prev_l": self.prev_l.copy(), "hint_points": pts,
                "hint_palette": np.array(self.current.palette, np.float64).reshape(-1, 2)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.prev_l = state.get("hint_prev_l")
        pts = state.get("hint_points", np.zeros((0, 5)))
        pal = state.get("hint_palette", np.zeros((0, 2)))
        self.current = Hints(tuple(HintPoint(float(x), float(y), (float(a), float(b)), float(r)) for x, y, a, b, r in pts),
                             tuple((float(a), float(b)) for a, b in pal))

    def __call__(self, index: int, l_guide: torch.Tensor, full_hw: tuple[int, int]) -> torch.Tensor | None:
        """Frame `index`'s hint map: (1, 3, h, w) at the guide resolution (the working resolution rounded
        up to the ab grid), or None where no hint reaches this frame."""
        l_u8 = to_gray_u8(l_guide)
        if index in self.hints.frames:
            wh, ww = working_size(*full_hw, self.work_size)
            self.current = self.hints.frames[index].scaled(ww / full_hw[1], wh / full_hw[0])
            self.keyframe = index
        elif self.current.points and self.prev_l is not None and self.prev_l.shape == l_u8.shape:
            before = len(self.current.points)
            self.current = self._carry(l_u8)
            if len(self.current.points) < before and self.keyframe is not None:
                of = len(self.hints.frames[self.keyframe].points)
                at, n, _ = self.lost.get(self.keyframe, (index, 0, of))
                self.lost[self.keyframe] = (at, n + before - len(self.current.points), of)
        self.prev_l = l_u8
        if not self.current.points:
            return None
        hw = l_u8.shape
        return hint_map(Hints(self.current.points), hw, hw, hw)

    def _carry(self, l_u8: np.ndarray) -> Hints:
        f_cp = dis_flow(self.dis, l_u8, self.prev_l)
        f_pc = dis_flow(self.dis, self.prev_l, l_u8)
        c = flow_confidence(f_cp, f_pc, l_u8.astype(np.float32) * (100 / 255), self.prev_l.astype(np.float32) * (100 / 255),
                            self.photometric, self.max_motion_frac * l_u8.shape[1])
        c = cv2.blur(c, (3, 3))  # judged over a point's neighbourhood: one pixel's test is noisy
        h, w = l_u8.shape
        kept = []
        for p in self.current.points:
            fx, fy = _sample(f_pc, p.x, p.y)
            x, y = p.x + fx, p.y + fy
            if 0 <= x <= w - 1 and 0 <= y <= h - 1 and _sample(c[..., None], x, y)[0] >= KEEP_CONFIDENCE:
                kept.append(HintPoint(x, y, p.ab, p.radius))
        return Hints(tuple(kept), self.current.palette)


def _sample(img: np.ndarray, x: float, y: float) -> np.ndarray:
    """Bilinear sample of an (h, w, c) array at (x, y)."""
    h, w = img.shape[:2]
    x0, y0 = int(np.clip(np.floor(x), 0, w - 1)), int(np.clip(np.floor(y), 0, h - 1))
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    tx, ty = x - x0, y - y0
    top = img[y0, x0] * (1 - tx) + img[y0, x1] * tx
    bottom = img[y1, x0] * (1 - tx) + img[y1, x1] * tx
    return top * (1 - ty) + bottom * ty
