"""Colour hints for a video: the hints file checked against the video before any work, and the
per-frame hint inputs the pipeline gives the network.

A video hints file puts hints on keyframes, `{"frames": {"<frame index>": {"points": [...]}}}`, in
pixels of the video as displayed (its rotation applied, as players and FFmpeg's autorotate show it).
From its keyframe on, a hint is carried along the motion by `HintTracker` until the next keyframe or
scene cut; a keyframe's palette holds over the same frames.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from vidcolor.errors import InputError
from vidcolor.hints import HintPoint, Hints, VideoHints, load_video_hints, video_hints_outline

if TYPE_CHECKING:
    import torch


def probe_display(video: Path) -> tuple[int, int, int, int]:
    """(width, height, rotation, frames) of a video's frames as decoded: rotation in degrees
    counter-clockwise (0, 90, 180 or 270), frames 0 when the container does not count them. Decodes one
    frame, the only place the display rotation shows in PyAV. The count is the container's own (an MP4
    or MOV index's, an AVI header's), never `info.frames`' estimate where it counts none: an MKV's is its
    duration x its declared rate, and a variable-rate film of 140 frames declared at 10 fps had its
    keyframe 130 refused as past the end of its "60 frames" (a film restorer's find)."""
    from vidcolor.io.video import VideoSource, quarter_turns

    with VideoSource(video) as source, contextlib.closing(source.frames()) as frames:
        next(frames, None)
        info, counted = source.info, int(source.stream.frames or 0)
    if info.mirror_matrix:
        raise InputError(f"{video}: its display matrix shows it mirrored; hints on a mirrored video are not supported")
    return info.width, info.height, quarter_turns(info.rotation) * 90, counted


def displayed_to_stored(hints: Hints, rotation: int, width: int, height: int) -> Hints:
    """Hints in pixels of the displayed picture -> pixels of the stored (decoded) frame, width x height.
    The displayed picture is the stored one turned `rotation` degrees counter-clockwise (np.rot90)."""
    if rotation == 0:
        return hints
    w1, h1 = width - 1, height - 1
    to_stored = {90: lambda x, y: (w1 - y, x), 180: lambda x, y: (w1 - x, h1 - y), 270: lambda x, y: (y, h1 - x)}[rotation]
    return Hints(tuple(HintPoint(*to_stored(p.x, p.y), p.ab, p.radius) for p in hints.points), hints.palette)


def check_video_hints(hints: VideoHints | str | os.PathLike, video: Path,
                      display: tuple[int, int, int, int] | None = None) -> VideoHints:
    """A video's hints (VideoHints or the path of a hints file), parsed and checked against the video:
    every point inside the displayed frame, every keyframe inside the video (where its frame count is
    known). Returns them in pixels of the stored frames, as the pipeline wants them. InputError with
    one line naming the file and the entry. `display` is `probe_display(video)` where already known."""
    width, height, rotation, frames = display or probe_display(video)
    shown_w, shown_h = (height, width) if rotation in (90, 270) else (width, height)

    def check(hints: VideoHints, where: str) -> None:
        for index, h in sorted(hints.frames.items()):
            if frames and index >= frames:
                raise InputError(f"{where}: frames[{index}]: frame {index} is beyond the end of {video.name} "
                                 f"({frames} frames, 0 to {frames - 1})")
            h.check_inside(shown_w, shown_h, f"{where}: frames[{index}]")

    if not isinstance(hints, VideoHints):  # a file: checked before its colours are converted (torch)
        check(video_hints_outline(hints), str(hints))
        hints = load_video_hints(hints)
    else:
        check(hints, "hints")
    return VideoHints({i: displayed_to_stored(h, rotation, width, height) for i, h in hints.frames.items()})


def tracked_inputs(tracker, indices: list[int], l_guide: torch.Tensor, full_hw: tuple[int, int],
                   cut_at: list[bool]) -> tuple[torch.Tensor | None, list[Hints] | None]:
    """A batch's hint inputs from the tracker, frame by frame in order (reset at each cut): (B, 3, h, w)
    hint maps at the guide resolution (zeros for a frame no hint reaches) and each frame's palette,
    or (None, None) when no hint reaches any frame of the batch, so the automatic path runs as is."""
    maps, palettes = [], []
    for i, index in enumerate(indices):
        if cut_at[i]:
            tracker.reset()
        maps.append(tracker(index, l_guide[i:i + 1], full_hw))
        palettes.append(Hints((), tracker.palette))
    if all(m is None for m in maps) and not any(palettes):
        return None, None
    import torch

    hw = tuple(l_guide.shape[-2:])
    return torch.cat([torch.zeros(1, 3, *hw) if m is None else m for m in maps]), palettes
