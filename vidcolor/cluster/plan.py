"""How a film is cut into work for a cluster: whole shots grouped into ranges of about one segment, and
shots longer than that split into ranges that start with a few warm-up frames.

A range that starts at a scene cut is colorized exactly as one machine colorizes it, because the
temporal smoother is reset at every cut anyway. A range that starts inside a shot cannot know the
smoother's state at its first frame; it runs the `warmup` frames before it through the network and
the smoother (without encoding them), so the smoothed colour it starts from is close to the one an
unbroken run would have (docs/cluster.md, "Measured", gives the measured difference).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from vidcolor.temporal import mode_stride

# Frames a mid-shot range runs before its first encoded frame. The flow smoother averages up to
# s / (1 - s) = 19 past frames at the default strength 0.95; on cockatoo.mp4 (benchmarks/ray_warmup.py)
# 32 frames leave a mean difference of 0.23 levels from a one-machine run (16: 0.73, 64: 0.03).
WARMUP_FRAMES = 32


@dataclass(frozen=True)
class Range:
    """Frames [start, end) encoded as one segment; `warmup` frames before start are colorized first and dropped."""

    start: int
    end: int
    warmup: int = 0

    @property
    def frames(self) -> int:
        return self.end - self.start


def plan_ranges(n_frames: int, cuts: list[int], max_frames: int, warmup: int = WARMUP_FRAMES, stride: int = 1) -> list[Range]:
    """Cover frames [0, n_frames) with ranges of at most max_frames: consecutive whole shots are grouped
    (a range boundary is then a scene cut), and a longer shot is split into equal ranges, each after the
    first with up to `warmup` frames of the same shot before it. With a network stride (`stride`, see
    `pipeline.network_frames`) a split falls on a multiple of it, so that a range's last frame is one
    the network runs on one machine too (a range may then be up to stride - 1 frames longer)."""
    if n_frames <= 0:
        return []
    max_frames = max(stride, max_frames)  # so that every split can fall on the stride
    bounds = [0] + sorted(c for c in set(cuts) if 0 < c < n_frames) + [n_frames]
    ranges: list[Range] = []
    group_start = None  # start of the group of whole shots being collected
    for s, e in zip(bounds, bounds[1:]):
        if group_start is not None and e - group_start > max_frames:
            ranges.append(Range(group_start, s))
            group_start = None
        if e - s <= max_frames:
            group_start = s if group_start is None else group_start
            continue
        pieces = math.ceil((e - s) / max_frames)
        edges = [s + round(k * (e - s) / pieces) for k in range(pieces + 1)]
        for k in range(1, pieces):
            edges[k] = min(max(edges[k - 1] + 1, edges[k] - edges[k] % stride), e - 1)
        ranges += [Range(a, b, min(warmup, a - s)) for a, b in zip(edges, edges[1:])]
    if group_start is not None:
        ranges.append(Range(group_start, n_frames))
    return ranges


def warmup_for(temporal: str) -> int:
    """Warm-up frames a mid-shot range needs: none without temporal smoothing (no state across frames);
    with `flow`, WARMUP_FRAMES network frames, which a network stride spreads over that many times as
    many frames."""
    if temporal == "off":
        return 0
    return WARMUP_FRAMES * mode_stride(temporal)
