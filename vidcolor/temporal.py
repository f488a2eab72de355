"""Temporal smoothing of ab across video frames, and scene-cut detection that resets it.

The flow, warping and occlusion test the `flow` smoother follows are vidcolor/flow.py's, shared with
the warp-error metric.

Smoothers are stateful and see one frame at a time at working resolution:
`smoother(l_small, ab_small) -> ab_small`, with `reset()` at every scene cut.
"""
from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np
import torch
from scenedetect.detectors import ContentDetector

from vidcolor.flow import create_dis, dis_flow, forward_backward, sq_norm, warp

CUT_THRESHOLD = 27.0  # PySceneDetect's default for its content detector
CUT_MIN_SCENE_FRAMES = 4
CUT_ANALYSIS_WIDTH = 256
# `flow` can run the network on every n-th frame only (and on each shot's first), carrying its averaged
# colour along the motion to the frames between (FlowSmoother(network_stride=n)). Not the default: at
# n = 2 the network's CPU time halves, but the warp error rose 19% on cockatoo (to 1.49x the ground
# truth's, past the 1.3x target) and 20% on bikes (README, "Network stride")
NETWORK_STRIDE = 1


class TemporalSmoother(Protocol):
    def reset(self) -> None: ...

    def state_dict(self) -> dict[str, np.ndarray]: ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None: ...

    def __call__(self, l_small: torch.Tensor, ab_small: torch.Tensor) -> torch.Tensor: ...


class NoSmoothing:
    """`--temporal off`: every frame is colorized on its own."""

    def reset(self) -> None:
        pass

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        pass

    def __call__(self, l_small: torch.Tensor, ab_small: torch.Tensor) -> torch.Tensor:
        return ab_small


class EMASmoother:
    """`--temporal ema`: ab_t = (1 - s) * prediction_t + s * ab_{t-1}. Ghosts where things move."""

    def __init__(self, strength: float = 0.8):
        self.strength = float(strength)
        self.state: torch.Tensor | None = None

    def reset(self) -> None:
        self.state = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the state, saved with each finished video segment so a resumed run continues it."""
        return {} if self.state is None else {"ema": self.state.cpu().numpy().copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.state = torch.from_numpy(state["ema"]) if "ema" in state else None

    def __call__(self, l_small: torch.Tensor, ab_small: torch.Tensor) -> torch.Tensor:
        if self.state is None or self.state.shape != ab_small.shape:
            self.state = ab_small
        else:
            self.state = (1.0 - self.strength) * ab_small + self.strength * self.state
        return self.state


def to_gray_u8(l: torch.Tensor) -> np.ndarray:
    """(1, 1, h, w) L* tensor -> (h, w) uint8 for OpenCV."""
    return (l[0, 0] * (255.0 / 100.0)).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def flow_confidence(f_cp: np.ndarray, f_pc: np.ndarray, l_cur: np.ndarray, l_prev: np.ndarray, photometric: float,
                    max_motion: float, fb_tolerance: float = 8.0) -> np.ndarray:
    """Per-pixel trust in warping the previous frame onto the current one along f_cp, in [0, 1], the
    product of:
    - forward-backward consistency (occlusions fail it): Sundaram et al.'s test, |f_cp + f_pc(x + f_cp)|^2
      against 0.01 (|f_cp|^2 + |f_pc|^2) + 0.5, with its tolerance widened fb_tolerance times and made a
      soft knee; DIS flows at the working resolution disagree a little with their backward flow all
      over flat regions, and the plain test threw away averaging there (README, "Video without flicker");
    - the brightness match after warping (new content and wrong flow fail it);
    - the flow magnitude (large motion is less reliable);
    - whether the source lies inside the previous frame."""
    fb, bound, inside = forward_backward(f_cp, f_pc)
    tol = fb_tolerance * bound
    c_fb = np.exp(-np.maximum(fb - tol, 0.0) / tol)
    l_warp, _ = warp(l_prev, f_cp)
    c_photo = np.exp(-(((l_cur - l_warp) / photometric) ** 2))
    c_mag = np.exp(-sq_norm(f_cp) / max_motion**2)
    return (c_fb * c_photo * c_mag * inside).astype(np.float32)


class FlowSmoother:
    """`--temporal flow` (default): a running average of ab along the motion.

    Per pixel of the ab grid it keeps the smoothed ab and n, the number of frames averaged into it. For
    each frame both are warped onto the current one along dense optical flow (OpenCV DIS, preset
    "fast", on L at the working resolution), n is capped at c * n_max by the confidence c of that warp
    (`flow_confidence`), and

        ab_t = (prediction_t + n * warp(ab_{t-1})) / (1 + n),    n_t = min(n + 1, n_max)

    with n_max = s / (1 - s) for strength s. A cap rather than a product: a pixel whose warp is trusted
    at 0.95 frame after frame keeps averaging about 0.95 n_max frames, where multiplying n by c every
    frame would hold it near 1 / (1 - c) whatever the strength (measured: more flicker).

    Where the warp is trusted this is an even average of the frames seen so far, then an exponential
    one of strength s, always following the motion; where c is low (occlusion, new content, fast
    motion) n falls to 0 and the current prediction wins, so moving things do not drag colour behind
    them. A new shot or a newly uncovered region starts from its own prediction and averages its first
    frames evenly, instead of keeping its first frame's colour."""

    def __init__(self, strength: float = 0.95, photometric: float = 10.0, max_motion_frac: float = 0.15,
                 fb_tolerance: float = 8.0, preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST, network_stride: int = NETWORK_STRIDE):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"temporal strength must be in [0, 1), got {strength}")
        if int(network_stride) != network_stride or network_stride < 1:
            raise ValueError(f"network stride must be a whole number >= 1, got {network_stride}")
        self.network_stride = int(network_stride)
        self.strength = float(strength)
        self.n_max = self.strength / (1.0 - self.strength)
        self.photometric = photometric  # L* units
        self.max_motion_frac = max_motion_frac  # of the frame width
        self.fb_tolerance = fb_tolerance
        self.dis = create_dis(preset)
        self.reset()

    def reset(self) -> None:
        self.prev_l: np.ndarray | None = None
        self.prev_ab: np.ndarray | None = None
        self.count: np.ndarray | None = None

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.prev_l is None:
            return {}
        return {"prev_l": self.prev_l.copy(), "prev_ab": self.prev_ab.copy(), "count": self.count.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.prev_l, self.prev_ab, self.count = state.get("prev_l"), state.get("prev_ab"), state.get("count")

    def carries(self) -> bool:
        """Whether there is a previous frame to carry along the motion: a frame may then skip the network."""
        return self.prev_l is not None

    def __call__(self, l_guide: torch.Tensor, ab_small: torch.Tensor | None) -> torch.Tensor:
        """The smoothed ab of the next frame. `ab_small` None: a frame the network skipped
        (`network_stride`): the previous output carried along the motion, with no new prediction
        averaged in (where the warp is not trusted the carried colour is what there is, for that frame)."""
        l_u8 = to_gray_u8(l_guide)  # (H, W) at flow resolution, a multiple of the ab grid
        ab = None if ab_small is None else ab_small[0].permute(1, 2, 0).float().cpu().numpy()  # (h, w, 2)
        if self.prev_l is None or self.prev_l.shape != l_u8.shape or (ab is not None and self.prev_ab.shape != ab.shape):
            if ab is None:
                raise ValueError("a frame without a prediction needs the previous frame's state (carries())")
            out, count = ab, np.ones(ab.shape[:2], np.float32)
        else:
            h, w = self.prev_ab.shape[:2]
            f_cp = dis_flow(self.dis, l_u8, self.prev_l)
            f_pc = dis_flow(self.dis, self.prev_l, l_u8)
            c = flow_confidence(f_cp, f_pc, l_u8.astype(np.float32) * (100 / 255), self.prev_l.astype(np.float32) * (100 / 255),
                                self.photometric, self.max_motion_frac * l_u8.shape[1], self.fb_tolerance)
            f_small = cv2.resize(f_cp, (w, h), interpolation=cv2.INTER_AREA) * (w / l_u8.shape[1])
            c_small = cv2.resize(c, (w, h), interpolation=cv2.INTER_AREA)
            prev_warped, inside = warp(self.prev_ab, f_small)
            n_warped, _ = warp(self.count, f_small)
            n = np.minimum(n_warped, c_small * self.n_max) * inside
            if ab is None:
                out, count = prev_warped, n
            else:
                out = (ab + n[..., None] * prev_warped) / (1.0 + n[..., None])
                count = np.minimum(n + 1.0, self.n_max)
        self.prev_l, self.prev_ab, self.count = l_u8, out.astype(np.float32), count.astype(np.float32)
        device, dtype = (l_guide.device, torch.float32) if ab_small is None else (ab_small.device, ab_small.dtype)
        return torch.from_numpy(self.prev_ab).permute(2, 0, 1)[None].to(device, dtype)


class SceneCuts:
    """PySceneDetect's content detector on the luma of each frame, used as a library, streaming.

    `is_cut(gray_u8)` says whether a new scene starts at this frame; `cuts` lists the frame indices.
    """

    def __init__(self, fps: float, threshold: float = CUT_THRESHOLD, min_scene_frames: int = CUT_MIN_SCENE_FRAMES):
        self.detector = ContentDetector(threshold=threshold, min_scene_len=min_scene_frames, luma_only=True)
        self.fps = float(fps)
        self.index = 0
        self.cuts: list[int] = []

    def is_cut(self, gray_u8: np.ndarray, frame_index: int | None = None) -> bool:
        """Feed the next frame (as a small gray image); True when a new scene starts at it. The detector
        counts frames itself; `frame_index` is only what gets recorded in `cuts`."""
        h, w = gray_u8.shape[:2]
        if w > CUT_ANALYSIS_WIDTH:
            gray_u8 = cv2.resize(gray_u8, (CUT_ANALYSIS_WIDTH, max(1, round(h * CUT_ANALYSIS_WIDTH / w))), interpolation=cv2.INTER_AREA)
        bgr = np.repeat(gray_u8[..., None], 3, axis=2)
        found = self.detector.process_frame(self.index, bgr)  # scenedetect 0.6: frame numbers in, cut frame numbers out
        cut = self.index in found
        if cut:
            self.cuts.append(self.index if frame_index is None else frame_index)
        self.index += 1
        return cut


SMOOTHERS = {
    "off": lambda strength=None: NoSmoothing(),
    "ema": EMASmoother,
    "flow": FlowSmoother,
}
GUIDE_SCALE = 4  # smoothers see L at 4x the ab grid's resolution, i.e. the working resolution (flow needs the detail)
TEMPORAL_MODES = tuple(SMOOTHERS)
TEMPORAL_VERSION = 2  # part of a video's resume key: segments smoothed by an older algorithm are redone


def make_smoother(mode: str, strength: float | None = None) -> TemporalSmoother:
    """A fresh smoother; strength None takes the mode's own default."""
    if mode not in SMOOTHERS:
        raise ValueError(f"unknown temporal mode {mode!r}; choose from {', '.join(TEMPORAL_MODES)}")
    return SMOOTHERS[mode]() if strength is None else SMOOTHERS[mode](strength)
