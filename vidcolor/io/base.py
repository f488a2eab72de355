"""The seams of the video pipeline as types: FrameSource -> (Colorizer, TemporalSmoother) -> FrameSink.

`pipeline.py` wires any FrameSource to any FrameSink; it never reaches into a sink's files. The sink
owns its resume bookkeeping and hands it out as a ResumePoint (after Ray Data's Datasink, which owns
its own state behind `on_write_start` / `write` / `on_write_complete` / `on_write_failed`).
"""
from __future__ import annotations

import fractions
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from vidcolor.io.prefetch import Prefetch


@dataclass
class StreamInfo:
    """One audio or subtitle stream of a source, as the output planner needs it."""
    index: int
    type: str  # "audio" or "subtitle"
    codec: str  # canonical codec name: "aac", "mp3", "pcm_s16le", "subrip", ...
    sample_rate: int = 0
    channels: int = 0


@dataclass
class VideoInfo:
    path: Path
    width: int
    height: int
    frames: int  # from the container's index or header; 0 when unknown
    time_base: fractions.Fraction
    average_rate: fractions.Fraction | None
    rotation: int  # display rotation in degrees, as stored
    codec: str
    duration_s: float | None
    start_pts: int | None
    streams: list[StreamInfo] = field(default_factory=list)  # audio and subtitle streams
    end_pts: int | None = None  # start + duration of the video stream, in time_base, when the header says
    # the display matrix as stored (FFmpeg's 9 integers) where it mirrors the picture: a rotation angle
    # alone cannot say so (a horizontal flip reads as 180 degrees, and was written back as a turn)
    mirror_matrix: tuple[int, ...] | None = None
    interlaced: bool = False  # a decoded frame said so
    bit_depth: int = 8  # of the stream's samples, from its pixel format (10 for yuv420p10le)
    # (frame index, width, height) of the first frame decoded at another size than the stream's: such
    # frames are scaled to the stream's size, as FFmpeg's own tools do (a broadcast capture that changed
    # size mid-stream failed with scenedetect's AssertionError, found by a review)
    size_change: tuple[int, int, int] | None = None
    # the source's other video streams, which are not written (one line each: "video stream 1 (h264,
    # 320x240)", "cover art (stream 0, mjpeg)"); the colorized one is the largest that is not cover art
    dropped_video: list[str] = field(default_factory=list)
    # the shape of a stored pixel where it is not square (32/27 for an anamorphic 16:9 DVD's 720x480), else
    # None: it is written back, so the picture is shown as wide as the source's (a film restorer's DVD
    # transfer came out squeezed to 3:2 before)
    sample_aspect_ratio: fractions.Fraction | None = None
    # the start timecode ("01:00:00:00"): the video stream's tag, else a timecode track's (MOV's tmcd), else the
    # file's; written back, where the container holds one (it was dropped without a word: a film restorer's test)
    timecode: str | None = None
    attachments: list[int] = field(default_factory=list)  # Matroska attachments (an ASS subtitle's fonts)
    dropped_data: list[str] = field(default_factory=list)  # data streams not written ("data stream 2 (bin_data)")
    hdr: str | None = None  # the source's HDR transfer ("PQ", "HLG"), which the output does not keep
    # the source's alpha channel (transparency), which the output does not keep: its pixel format ("yuva444p12le"), or
    # "VP8/VP9 alpha" for WebM's, which FFmpeg's own decoders leave out (it was dropped without a word: an archivist's test)
    alpha: str | None = None

    @property
    def fps(self) -> float:
        return float(self.average_rate) if self.average_rate else 25.0

    @property
    def other_streams(self) -> list[str]:
        return [f"{s.type}:{s.codec}" for s in self.streams]


@dataclass
class Frame:
    """A decoded frame: its RGB, or (from `VideoSource.frames(luma=True)`) only its luma plane."""
    rgb: np.ndarray | None  # (H, W, 3) uint8; None where the frame was decoded as luma only
    pts: int | None
    index: int
    warmup: bool = False  # on resume: a frame before the resume point, shown to the cut detector only
    luma: np.ndarray | None = None  # (H, W) uint8 Y' of a limited-range (16-235) 8-bit YUV frame, as stored


@dataclass
class ResumePoint:
    """Where an interrupted run of a sink stopped: what a new run continues from."""
    frames: int = 0  # frames already encoded into finished segments
    last_pts: int | None = None  # pts of the last of them
    smoother_state: dict[str, np.ndarray] = field(default_factory=dict)  # the temporal state after it
    complete: bool = False  # every frame is encoded: only the final output is missing
    # where to seek so that the frames decoded before the resume point are the WARMUP_FRAMES an unbroken run
    # showed the scene-cut detector last (None: at last_pts, as logs written before 2026-11-27 say)
    seek_pts: int | None = None


@runtime_checkable
class FrameSource(Protocol):
    info: VideoInfo

    def frames(self, resume: ResumePoint | None = None, luma: bool = False) -> Iterator[Frame]:
        """Frames in presentation order; with `resume`, from the frame after resume.last_pts (a few
        frames before it first, marked `warmup`). `luma` asks for limited-range luma planes
        (`Frame.luma`) instead of RGB; a source that has none gives RGB (the pipeline takes either)."""

    def frames_ahead(self, resume: ResumePoint | None = None, depth: int = 8, luma: bool = False) -> Prefetch[Frame]:
        """`frames(resume, luma)` decoded in a background thread; the source joins it at the latest in close()."""

    def close(self) -> None: ...


@runtime_checkable
class FrameSink(Protocol):
    segment_frames: int  # frames per resumable unit; the pipeline never lets a batch straddle two
    pix_fmt: str  # the encoder's pixel format
    matrix: str  # the Y'CbCr matrix of packed yuv420p frames it takes (vidcolor.io.yuv.MATRICES): "bt709", "bt601"

    def resume_point(self) -> ResumePoint:
        """What an earlier run of the same output already finished."""

    def write(self, rgb: np.ndarray, pts: Sequence[int]) -> None:
        """(B, H, W, 3) uint8 RGB frames and their pts, in order; where `pix_fmt` is yuv420p, also
        (B, H * 3 / 2, W) frames already in that format (io.yuv.video_frame)."""

    def end_segment(self, smoother_state: dict[str, np.ndarray], final: bool = False) -> None:
        """Close the frames written so far as a unit a re-run resumes after, with the smoother state after
        them (it may become durable in the background, while the next frames are written); `final`: no
        frames follow, and everything is durable on return. Nothing to end is not an error (a run
        resumed with no frames left)."""

    def complete(self) -> None:
        """Write the final output from everything written."""

    def abort(self) -> None:
        """Drop unfinished work after a failure; finished segments stay for the next run."""

    def discard(self) -> None:
        """Remove the sink's work state once its output is recorded as done."""
