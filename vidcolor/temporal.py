"""Temporal smoothing of ab across video frames, and scene-cut detection that resets it.

Smoothers are stateful and see one frame at a time at working resolution:
`smoother(l_small, ab_small) -> ab_small`, with `reset()` at every scene cut.
"""
from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np
import torch
from scenedetect.common import FrameTimecode
from scenedetect.detectors import ContentDetector

CUT_THRESHOLD = 27.0  # PySceneDetect's default for its content detector
CUT_MIN_SCENE_FRAMES = 4
CUT_ANALYSIS_WIDTH = 256


class TemporalSmoother(Protocol):
    def reset(self) -> None: ...

    def __call__(self, l_small: torch.Tensor, ab_small: torch.Tensor) -> torch.Tensor: ...


class NoSmoothing:
    """`--temporal off`: every frame is colorized on its own."""

    def reset(self) -> None:
        pass

    def __call__(self, l_small: torch.Tensor, ab_small: torch.Tensor) -> torch.Tensor:
        return ab_small


class EMASmoother:
    """`--temporal ema`: ab_t = (1 - s) * prediction_t + s * ab_{t-1}. Ghosts where things move."""

    def __init__(self, strength: float = 0.6):
        self.strength = float(strength)
        self.state: torch.Tensor | None = None

    def reset(self) -> None:
        self.state = None

    def __call__(self, l_small: torch.Tensor, ab_small: torch.Tensor) -> torch.Tensor:
        if self.state is None or self.state.shape != ab_small.shape:
            self.state = ab_small
        else:
            self.state = (1.0 - self.strength) * ab_small + self.strength * self.state
        return self.state


class SceneCuts:
    """PySceneDetect's content detector on the luma of each frame, used as a library, streaming.

    `is_cut(gray_u8)` says whether a new scene starts at this frame; `cuts` lists the frame indices.
    """

    def __init__(self, fps: float, threshold: float = CUT_THRESHOLD, min_scene_frames: int = CUT_MIN_SCENE_FRAMES):
        self.detector = ContentDetector(threshold=threshold, min_scene_len=min_scene_frames, luma_only=True)
        self.fps = fps
        self.index = 0
        self.cuts: list[int] = []

    def is_cut(self, gray_u8: np.ndarray) -> bool:
        h, w = gray_u8.shape[:2]
        if w > CUT_ANALYSIS_WIDTH:
            gray_u8 = cv2.resize(gray_u8, (CUT_ANALYSIS_WIDTH, max(1, round(h * CUT_ANALYSIS_WIDTH / w))), interpolation=cv2.INTER_AREA)
        bgr = np.repeat(gray_u8[..., None], 3, axis=2)
        found = self.detector.process_frame(FrameTimecode(self.index, fps=self.fps), bgr)
        cut = any(c.frame_num == self.index for c in found)
        if cut:
            self.cuts.append(self.index)
        self.index += 1
        return cut


SMOOTHERS = {
    "off": lambda strength: NoSmoothing(),
    "ema": EMASmoother,
}
TEMPORAL_MODES = tuple(SMOOTHERS)


def make_smoother(mode: str, strength: float) -> TemporalSmoother:
    if mode not in SMOOTHERS:
        raise ValueError(f"unknown temporal mode {mode!r}; choose from {', '.join(TEMPORAL_MODES)}")
    return SMOOTHERS[mode](strength)
