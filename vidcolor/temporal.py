"""Temporal smoothing of ab across video frames, and scene-cut detection that resets it.

The flow, warping and occlusion test the `flow` smoother follows are vidcolor/flow.py's, shared with
the warp-error metric.

Smoothers are stateful and see one frame at a time at working resolution:
`smoother(l_small, ab_small) -> ab_small`, with `reset()` at every scene cut. The `flow` smoother also
takes frames the network skipped (`ab_small` None, see `FlowSmoother.network_stride`), with the next
frame's L and prediction to fill them in (`next_l`, `next_ab`).
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import torch
from scenedetect.detectors import ContentDetector
from scenedetect.scene_detector import FlashFilter

from vidcolor.flow import create_dis, dis_flow, forward_backward, sq_norm, warp

CUT_THRESHOLD = 27.0  # PySceneDetect's default for its content detector
CUT_MIN_SCENE_FRAMES = 4
CUT_ANALYSIS_WIDTH = 256
# `flow` runs the network on every n-th frame only (and on each shot's first), carrying its averaged
# colour along the motion to the frames between, where the next frame's prediction, carried back,
# fills in what the previous frame did not show (FlowSmoother(network_stride=n)). At n = 2 the network's
# CPU time halves and the flicker is no higher than on every frame (docs/video.md, "Network stride"); at n = 3
# the frame without a successor's prediction flickers more. On a GPU the network costs next to nothing
# beside x264, so there it runs on every frame (`make_smoother(..., device)`): 1080p end to end measured
# 8-12% faster on 150 frames and within 2% on 600 at stride 1 (H200, docs/performance.md, "GPU check"). Segments and cluster
# ranges stay whole multiples of NETWORK_STRIDE on every device (`mode_stride`), which stride 1 also fits.
NETWORK_STRIDE = 2
GPU_NETWORK_STRIDE = 1
# a skipped frame of which more than this share neither the carried colour nor the next frame's prediction
# reaches (a one-frame insert, a flash) is given to the network after all (`FlowSmoother.unseen`)
UNSEEN_SHARE = 0.5


class TemporalSmoother(Protocol):
    def reset(self) -> None: ...

    def state_dict(self) -> dict[str, np.ndarray]: ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None: ...

    def __call__(self, l_small: torch.Tensor, ab_small: torch.Tensor) -> torch.Tensor: ...
    # a smoother with `network_stride` > 1 also takes ab_small None and (next_l, next_ab): FlowSmoother.__call__

    def look_ahead(self, l_guide: torch.Tensor, ab_hw: tuple[int, int]) -> None: ...
    # told the next frames' L (B, 1, H, W) before their calls, a smoother may start on them beside the network


class NoSmoothing:
    """`--temporal off`: every frame is colorized on its own."""

    def reset(self) -> None:
        pass

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        pass

    def look_ahead(self, l_guide: torch.Tensor, ab_hw: tuple[int, int]) -> None:
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

    def look_ahead(self, l_guide: torch.Tensor, ab_hw: tuple[int, int]) -> None:
        pass

    def __call__(self, l_small: torch.Tensor, ab_small: torch.Tensor) -> torch.Tensor:
        if self.state is None or self.state.shape != ab_small.shape:
            self.state = ab_small
        else:
            self.state = (1.0 - self.strength) * ab_small + self.strength * self.state
        return self.state


def to_gray_u8(l: torch.Tensor) -> np.ndarray:
    """(1, 1, h, w) L* tensor -> (h, w) uint8 for OpenCV. In numpy: the same float32 arithmetic as
    torch's, without torch's thread hand-off for an image this small (0.37 -> 0.05 ms at 192x344)."""
    x = l[0, 0].detach().float().cpu().numpy() * np.float32(255.0 / 100.0)
    return np.clip(np.rint(x, out=x), 0, 255, out=x).astype(np.uint8)


def flow_confidence(f_cp: np.ndarray, f_pc: np.ndarray, l_cur: np.ndarray, l_prev: np.ndarray, photometric: float,
                    max_motion: float, fb_tolerance: float = 8.0) -> np.ndarray:
    """Per-pixel trust in warping the previous frame onto the current one along f_cp, in [0, 1], the
    product of:
    - forward-backward consistency (occlusions fail it): Sundaram et al.'s test, |f_cp + f_pc(x + f_cp)|^2
      against 0.01 (|f_cp|^2 + |f_pc|^2) + 0.5, with its tolerance widened fb_tolerance times and made a
      soft knee; DIS flows at the working resolution disagree a little with their backward flow all
      over flat regions, and the plain test threw away averaging there (docs/video.md, "How the defaults were chosen");
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


@dataclass(eq=False)
class Motion:
    """The flows between two consecutive frames' uint8 L (`prev` then `cur`, at flow resolution): f_cp (cur
    -> prev) and f_pc, and, where computed ahead, the forward trust and f_cp on an (h, w) ab grid. A pure
    function of the two pictures (`flow.Dis` fixes DIS's scale), so it is found by their content."""
    prev: np.ndarray
    cur: np.ndarray
    f_cp: np.ndarray
    f_pc: np.ndarray
    ab_hw: tuple[int, int] | None = None
    f_small: np.ndarray | None = None
    c_small: np.ndarray | None = None

    @classmethod
    def between(cls, dis, prev: np.ndarray, cur: np.ndarray) -> "Motion":
        return cls(prev, cur, dis_flow(dis, cur, prev), dis_flow(dis, prev, cur))

    def joins(self, prev: np.ndarray, cur: np.ndarray) -> bool:
        return np.array_equal(self.prev, prev) and np.array_equal(self.cur, cur)


# one thread beside the pipeline's for the flows of frames ahead (FlowSmoother.look_ahead): OpenCV's DIS and
# the numpy that follows it let go of the GIL, so they run while the network runs
def _new_ahead_thread() -> None:
    global _AHEAD
    _AHEAD = ThreadPoolExecutor(1, thread_name_prefix="vidcolor-flow")  # its thread starts at the first job


_new_ahead_thread()
os.register_at_fork(after_in_child=_new_ahead_thread)  # a forked child has no such thread: its jobs would wait forever


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
        self._ahead_dis = create_dis(preset)  # the look-ahead thread's own: a DIS object is not shared between threads
        self._ahead: deque[Motion] = deque()  # the latest look-ahead's, in order, until taken
        self._pending: Future | None = None  # ... while it runs
        self._last: Motion | None = None  # the last one taken (a fill's, which the next call takes too)
        self.reset()

    def reset(self) -> None:
        self.unseen = 0.0
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

    def look_ahead(self, l_guide: torch.Tensor, ab_hw: tuple[int, int]) -> None:
        """The next frames' L at flow resolution (B, 1, H, W), in order, and their ab grid: the flows
        between each and the one before it (the first: the frame last called), and their forward trust
        on the grid, are computed on a thread of their own while the network runs (pipeline's
        `prepare_frames`); the calls take them where the pictures match and compute their own where not
        (after a cut, a resume). The same numbers either way: on cockatoo, the pipeline's main thread
        spends 10 ms of CPU a frame less, and the whole run took 3-8% less time on two cores (docs/performance.md, "As a user times it")."""
        self._collect()  # a previous look-ahead's, were it never called for
        guides = [to_gray_u8(l_guide[i:i + 1]) for i in range(l_guide.shape[0])]
        self._ahead, self._pending = deque(), _AHEAD.submit(self._motions_of, self.prev_l, guides, tuple(ab_hw))

    def _motions_of(self, prev: np.ndarray | None, guides: list[np.ndarray], ab_hw: tuple[int, int]) -> list[Motion]:
        out = []
        for g in guides:
            if prev is not None and prev.shape == g.shape:
                m = Motion.between(self._ahead_dis, prev, g)
                m.ab_hw, (m.f_small, m.c_small) = ab_hw, self._forward_trust(m, ab_hw)
                out.append(m)
            prev = g
        return out

    def _collect(self) -> None:
        """Takes in the look-ahead's motions, waiting for them."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._ahead = deque(pending.result())

    def _motion(self, prev: np.ndarray, cur: np.ndarray) -> Motion:
        """The flows from prev to cur: the last taken (a fill's, for the call after it), the look-ahead's
        (taken in order: those before it are dropped, frames a cut passed over), or computed now."""
        self._collect()
        if self._last is not None and self._last.joins(prev, cur):
            return self._last
        for k, m in enumerate(self._ahead):
            if m.joins(prev, cur):
                for _ in range(k + 1):
                    self._ahead.popleft()
                break
        else:
            m = Motion.between(self.dis, prev, cur)
        self._last = m
        return m

    def _forward_trust(self, m: Motion, ab_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """f_cp and the trust in warping m.prev onto m.cur, on the (h, w) ab grid: looked ahead, or computed now."""
        if m.ab_hw == tuple(ab_hw):
            return m.f_small, m.c_small
        return self._small(m.f_cp, self._confidence(m.f_cp, m.f_pc, m.cur, m.prev), ab_hw[1], ab_hw[0])

    def _confidence(self, f_cp, f_pc, l_cur: np.ndarray, l_prev: np.ndarray) -> np.ndarray:
        return flow_confidence(f_cp, f_pc, l_cur.astype(np.float32) * (100 / 255), l_prev.astype(np.float32) * (100 / 255),
                               self.photometric, self.max_motion_frac * l_cur.shape[1], self.fb_tolerance)

    @staticmethod
    def _small(f: np.ndarray, c: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        return (cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) * (w / f.shape[1]),
                cv2.resize(c, (w, h), interpolation=cv2.INTER_AREA))

    def __call__(self, l_guide: torch.Tensor, ab_small: torch.Tensor | None,
                 next_l: torch.Tensor | None = None, next_ab: torch.Tensor | None = None) -> torch.Tensor:
        """The smoothed ab of the next frame. `ab_small` None: a frame the network skipped
        (`network_stride`): the previous output carried along the motion, with no new prediction
        averaged in; with the following frame's L and prediction (`next_l`, `next_ab`), the frame shows
        that prediction carried back along the motion where the carried colour is not trusted (what the
        previous frame did not show), averaged in elsewhere (`_fill`). The flows it takes are kept for
        the following frame's call."""
        l_u8 = to_gray_u8(l_guide)  # (H, W) at flow resolution, a multiple of the ab grid
        self.unseen = 0.0
        ab = None if ab_small is None else ab_small[0].permute(1, 2, 0).float().cpu().numpy()  # (h, w, 2)
        shown = None
        if self.prev_l is None or self.prev_l.shape != l_u8.shape or (ab is not None and self.prev_ab.shape != ab.shape):
            if ab is None:
                raise ValueError("a frame without a prediction needs the previous frame's state (carries())")
            out, count = ab, np.ones(ab.shape[:2], np.float32)
        else:
            f_small, c_small = self._forward_trust(self._motion(self.prev_l, l_u8), self.prev_ab.shape[:2])
            prev_warped, inside = warp(self.prev_ab, f_small)
            n_warped, _ = warp(self.count, f_small)
            n = np.minimum(n_warped, c_small * self.n_max) * inside
            if ab is not None:
                out = (ab + n[..., None] * prev_warped) / (1.0 + n[..., None])
                count = np.minimum(n + 1.0, self.n_max)
            else:
                out, count = prev_warped, n
                if next_ab is not None:
                    shown = self._fill(l_u8, next_l, next_ab, prev_warped, n)
        self.prev_l, self.prev_ab, self.count = l_u8, out.astype(np.float32), count.astype(np.float32)
        device, dtype = (l_guide.device, torch.float32) if ab_small is None else (ab_small.device, ab_small.dtype)
        return torch.from_numpy(self.prev_ab if shown is None else shown).permute(2, 0, 1)[None].to(device, dtype)

    def shown_with(self, ab_small: torch.Tensor) -> torch.Tensor:
        """The frame just called without a prediction, shown with its own prediction after all: averaged
        with its carried colour as a network frame's would be (the same numbers as calling it with
        `ab_small` from the state before). The state stays the carried colour, as after a fill."""
        ab = ab_small[0].permute(1, 2, 0).float().cpu().numpy()
        n = self.count[..., None]
        shown = ((ab + n * self.prev_ab) / (1.0 + n)).astype(np.float32)
        return torch.from_numpy(shown).permute(2, 0, 1)[None].to(ab_small.device, ab_small.dtype)

    def _fill(self, l_u8: np.ndarray, next_l: torch.Tensor, next_ab: torch.Tensor, carried: np.ndarray, n: np.ndarray) -> np.ndarray:
        """What a skipped frame shows: its carried colour (averaged from n frames) and the next frame's
        prediction carried back onto it, averaged as its own prediction would be, weighted by the trust
        in that backward warp; where neither is trusted, the carried colour. Only shown: the state carried
        on is the carried colour with its count, so the next frame averages its prediction in once. Sets
        `unseen`, the share of the frame neither reaches (`UNSEEN_SHARE`)."""
        h, w = carried.shape[:2]
        nl = to_gray_u8(next_l)
        m = self._motion(l_u8, nl)  # the next frame's call takes the same
        f_nc, f_cn = m.f_cp, m.f_pc
        f_small, c_small = self._small(f_cn, self._confidence(f_cn, f_nc, l_u8, nl), w, h)
        back, inside = warp(np.ascontiguousarray(next_ab[0].permute(1, 2, 0).float().cpu().numpy()), f_small)
        cb = c_small * inside
        total = n + cb
        # what neither reaches: the carried colour averaged from under half a frame, the prediction carried
        # back trusted below 0.25 (the pipeline runs the network on a frame mostly so, `UNSEEN_SHARE`)
        self.unseen = float(np.mean((n < 0.5) & (cb < 0.25)))
        mixed = (n[..., None] * carried + cb[..., None] * back) / np.maximum(total, 1e-3)[..., None]
        return np.where((total > 1e-3)[..., None], mixed, carried).astype(np.float32)


def cuts_note(cuts: list[int]) -> str:
    """A result's note on the scene cuts found ("scene cuts at frames 299" said of one cut: a new user's test)."""
    many = "s" * (len(cuts) > 1)
    return f"scene cut{many} at frame{many} {', '.join(map(str, cuts))}"


class SceneCuts:
    """PySceneDetect's content detector on the luma of each frame, used as a library, streaming.

    `is_cut(gray_u8)` says whether a new scene starts at this frame; `cuts` lists the frame indices.
    """

    def __init__(self, fps: float, threshold: float = CUT_THRESHOLD, min_scene_frames: int = CUT_MIN_SCENE_FRAMES):
        # SUPPRESS, not PySceneDetect's default MERGE: after a flash (two cuts within min_scene_frames) MERGE
        # reports the next cut min_scene_frames late, where is_cut, asked about the current frame, never saw
        # it: the real cut was missed (a tester's: cuts at 10, 11, 25, 33 gave [10, 33]) and a resumed run,
        # whose fresh detector did find it, came out up to 50 levels different. SUPPRESS reports a cut at
        # its own frame or not at all.
        self.detector = ContentDetector(threshold=threshold, min_scene_len=min_scene_frames, luma_only=True,
                                        filter_mode=FlashFilter.Mode.SUPPRESS)
        self.fps = float(fps)
        self.index = 0
        self.cuts: list[int] = []

    def is_cut(self, gray_u8: np.ndarray, frame_index: int | None = None, record: bool = True) -> bool:
        """Feed the next frame (as a small gray image); True when a new scene starts at it. The detector
        counts frames itself; `frame_index` is only what gets recorded in `cuts`. `record` False: a
        resumed run's warm-up frames, done by the earlier run, rebuild the detector's state only (their
        cuts were listed under the detector's own count: "cuts at frames 5, 30" for 17, 30)."""
        h, w = gray_u8.shape[:2]
        if w > CUT_ANALYSIS_WIDTH:
            gray_u8 = cv2.resize(gray_u8, (CUT_ANALYSIS_WIDTH, max(1, round(h * CUT_ANALYSIS_WIDTH / w))), interpolation=cv2.INTER_AREA)
        bgr = np.repeat(gray_u8[..., None], 3, axis=2)
        found = self.detector.process_frame(self.index, bgr)  # scenedetect 0.6: frame numbers in, cut frame numbers out
        cut = self.index in found
        if cut and record:
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
TEMPORAL_VERSION = 5  # part of a video's journal and resume keys: outputs and segments smoothed by an older algorithm are redone (4: scene cuts never reported late; 5: a skipped frame the flow does not reach goes to the network)


def mode_stride(mode: str) -> int:
    """Every how many frames a temporal mode's smoother needs the network (`FlowSmoother.network_stride`)."""
    return NETWORK_STRIDE if mode == "flow" else 1


def make_smoother(mode: str, strength: float | None = None, device: torch.device | str | None = None) -> TemporalSmoother:
    """A fresh smoother; strength None takes the mode's own default. `device`: where the network runs;
    on a GPU `flow` has the network on every frame (NETWORK_STRIDE's comment says why)."""
    if mode not in SMOOTHERS:
        raise ValueError(f"unknown temporal mode {mode!r}; choose from {', '.join(TEMPORAL_MODES)}")
    kwargs = {} if strength is None else {"strength": strength}
    if mode == "flow" and device is not None and torch.device(device).type == "cuda":
        kwargs["network_stride"] = GPU_NETWORK_STRIDE
    return SMOOTHERS[mode](**kwargs)
