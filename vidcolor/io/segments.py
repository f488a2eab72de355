"""The encoder side: frames are encoded into segments of a few seconds in a hidden work folder, then
joined into the output without re-encoding (mux.py), with the audio and subtitles.

SegmentedSink is the pipeline's FrameSink. It owns its resume state, a SegmentLog kept in the work
folder: the finished segments, each with the pts of its first and last frame and the temporal
smoother's state at its end, and whether every frame is in. A finished segment survives a kill, so a
re-run continues from `resume_point()`. Segments are MP4 without an edit list (an edit list would round
their start to the movie timescale); the join gives every packet back its exact pts.
"""
from __future__ import annotations

import contextlib
import json
import os
from collections import deque
import shutil
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Sequence

import av
import numpy as np

from vidcolor.errors import OutputError, StorageError, out_of_space, write_failure
from vidcolor.io.base import ResumePoint, VideoInfo
from vidcolor.io.mux import join_segments
from vidcolor.io.paths import atomic_write_text, durable_replace, fit_name, temp_output_path
from vidcolor.io.prefetch import BackgroundWorker
from vidcolor.io.plan import SEGMENT_MUXER, OutputPlan, add_video_stream
from vidcolor.io.video import WARMUP_FRAMES, _reason
from vidcolor.io.yuv import video_frame
from vidcolor.options import SEGMENT_SECONDS, same_key

LAYOUT_VERSION = 2  # part of the resume key: work folders written by an older layout are discarded


def segment_frames(seconds: float, fps: float, multiple: int = 1) -> int:
    """Frames in a segment of about `seconds`: at least one, and a whole number of `multiple` (the
    network stride, `temporal.mode_stride`), so that no segment ends on a frame the network skips."""
    return -(-max(1, round(seconds * fps)) // multiple) * multiple


def work_dir(dst: Path, work_root: Path) -> Path:
    return work_root / fit_name(dst.name, tail=".work")


def _log_key(key: str) -> str:
    """A sink's key as its segments.json holds it: with the work folder's layout."""
    return f"{key}|layout{LAYOUT_VERSION}"


RAY_WORK = "ray"  # under the work root: a film's ranges colorized on a Ray cluster (vidcolor.cluster.film)


def ray_work_dir(dst: Path, work_root: Path) -> Path:
    return work_root / RAY_WORK / fit_name(dst.name, tail=".work")


def discard_work(dst: Path, work_root: Path) -> None:
    """Remove the work folders of an output, this machine's and a Ray run's (after it is recorded as done, or
    to start over): a film finished on one machine after its `--ray` run was stopped, or the other way round,
    had left the other run's segments, a film's worth of disk, for good (an operator's test)."""
    for folder in (work_dir(dst, work_root), ray_work_dir(dst, work_root)):
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Segment:
    file: str
    frames: int
    first_pts: int
    last_pts: int
    state: str | None = None  # .npz of the smoother state after the segment's last frame
    # pts of the WARMUP_FRAMES-th frame from the end, counting the last (across segments): a resumed run
    # seeks there, so its cut detector sees the frames an unbroken run's saw (ResumePoint.seek_pts)
    warmup_pts: int | None = None


@dataclass
class SegmentLog:
    """The resume state of one output, as segments.json in its work folder."""
    key: str
    segments: list[Segment] = field(default_factory=list)
    complete: bool = False  # every frame of the source is in a finished segment
    rotation: int = 0  # display rotation seen on the decoded frames (a resumed run may decode none)
    mirror_matrix: list[int] | None = None  # and the display matrix, where it mirrors the picture
    source_notes: dict | None = None  # what decoding the whole source found ("ends_early", "damage"), once complete

    @classmethod
    def load(cls, work: Path, key: str) -> "SegmentLog | None":
        """The log of an earlier run with the same key whose segment files are all there, else None."""
        try:
            meta = json.loads((work / "segments.json").read_text())
            log = cls(meta["key"], [Segment(**s) for s in meta["segments"]], meta["complete"], meta["rotation"],
                      meta.get("mirror_matrix"), meta.get("source_notes"))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        files_there = all((work / s.file).is_file() and (s.state is None or (work / s.state).is_file()) for s in log.segments)
        if not (same_key(log.key, key) and files_there):
            return None
        log.key = key
        return log

    @staticmethod
    def frames_in(work: Path, other_than: str) -> int:
        """How many frames an earlier run's log made with another key says it finished (0 without one;
        0 where its key is this one and only its files are missing)."""
        try:
            meta = json.loads((work / "segments.json").read_text())
            return 0 if same_key(meta["key"], other_than) else sum(int(s["frames"]) for s in meta["segments"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def save(self, work: Path) -> None:
        atomic_write_text(work / "segments.json", json.dumps(asdict(self)))

    def resume_point(self, work: Path) -> ResumePoint:
        if not self.segments:
            return ResumePoint()
        last = self.segments[-1]
        state = {}
        if last.state:
            with np.load(work / last.state) as z:
                state = {k: z[k] for k in z.files}
        return ResumePoint(sum(s.frames for s in self.segments), last.last_pts, state, self.complete, last.warmup_pts)


class SegmentEncoder:
    """Encodes one segment: frames at the source's size, time base and pts, as the plan says."""

    def __init__(self, path: Path, like: VideoInfo, plan: OutputPlan):
        self.path, self.tmp, self.like = path, path.with_name(path.name + ".part.mp4"), like
        self.first_pts: int | None = None
        self.last_pts: int | None = None
        self.frames = 0
        self.time_base, self.origin, self._last_enc = plan.time_base, like.start_pts or 0, None
        self.matrix = plan.matrix
        self.out = av.open(str(self.tmp), "w", format=SEGMENT_MUXER, options={"use_editlist": "0"})
        try:
            self.stream = add_video_stream(self.out, plan, like)
        except (av.error.FFmpegError, ValueError) as e:
            self.out.close()
            raise OutputError(f"{plan.dst}: encoder {plan.encoder!r} is not available ({_reason(e)})") from e

    def write(self, rgb: np.ndarray, pts: int) -> None:
        frame = video_frame(rgb, self.stream.pix_fmt, self.matrix)
        frame.pts, frame.time_base = self._encoder_pts(pts), self.time_base or self.like.time_base
        for p in self.stream.encode(frame):
            self.out.mux(p)
        self.first_pts = pts if self.first_pts is None else self.first_pts
        self.last_pts = pts
        self.frames += 1

    def _encoder_pts(self, pts: int) -> int:
        """pts in the encoder's time base: the source's, or a coarser one (plan.time_base) from the start."""
        if self.time_base is None:
            return pts
        enc = round((pts - self.origin) * self.like.time_base / self.time_base)
        self._last_enc = enc = enc if self._last_enc is None else max(enc, self._last_enc + 1)
        return enc

    def finish(self) -> Segment:
        for p in self.stream.encode(None):
            self.out.mux(p)
        self.out.close()
        durable_replace(self.tmp, self.path)  # before the log that lists it
        return Segment(self.path.name, self.frames, self.first_pts, self.last_pts)

    def abort(self) -> None:
        try:
            self.out.close()
        except (av.error.FFmpegError, ValueError):
            pass  # a half-written segment is deleted either way
        self.tmp.unlink(missing_ok=True)


class SegmentedSink:
    """Resumable encoding of one output (a FrameSink). Anything in the work folder that does not belong
    to a run with the same key is discarded when the sink is made."""

    def __init__(self, dst: Path, work_root: Path, like: VideoInfo, key: str, plan: OutputPlan,
                 segment_seconds: float = SEGMENT_SECONDS, frames_multiple: int = 1):
        self.dst, self.like, self.plan = dst, like, plan
        self.segment_frames = segment_frames(segment_seconds, like.fps, frames_multiple)
        self.work = work_dir(dst, work_root)
        self.current: SegmentEncoder | None = None
        key = _log_key(key)
        self.log = SegmentLog.load(self.work, key)
        self.discarded = 0  # frames an earlier run finished with other settings, started over (said in a note)
        if self.log is None:
            self.discarded = SegmentLog.frames_in(self.work, key)
            self.discard()
            self.log = SegmentLog(key)
        self._next = len(self.log.segments)  # the next segment's number
        self._ending: BackgroundWorker | None = None  # finishes segments while the next one is encoded
        self._pending: list[SegmentEncoder] = []  # closed segments not yet finished and logged
        self._closed_frames = sum(s.frames for s in self.log.segments)  # frames before the segment being written
        self._recent: deque[int] = deque(maxlen=WARMUP_FRAMES)  # the pts of the last frames written

    @staticmethod
    def resumable_frames(dst: Path, work_root: Path, key: str) -> tuple[int, int]:
        """(frames a sink made with `key` would resume with, frames an earlier run finished with another key
        that it would discard), reading and changing nothing else."""
        work = work_dir(dst, work_root)
        log = SegmentLog.load(work, _log_key(key))
        return (sum(s.frames for s in log.segments), 0) if log else (0, SegmentLog.frames_in(work, _log_key(key)))

    @property
    def pix_fmt(self) -> str:
        return self.plan.pix_fmt

    @property
    def matrix(self) -> str:
        return self.plan.matrix

    def resume_point(self) -> ResumePoint:
        return self.log.resume_point(self.work)

    def write(self, rgb: np.ndarray, pts: Sequence[int]) -> None:
        if self.current is None:
            self.work.mkdir(parents=True, exist_ok=True)
            self.current = SegmentEncoder(self.work / f"seg{self._next:06d}.mp4", self.like, self.plan)
            self._next += 1
        for frame, p in zip(rgb, pts):
            self._recent.append(p)
            try:
                self.current.write(frame, p)
            except av.error.FFmpegError as e:
                done = self._closed_frames + self.current.frames
                if out_of_space(e):  # the run stops: a folder's next videos and photos would fail the same way
                    raise StorageError(f"{self.dst}: encoding stopped at frame {done}: {_reason(e)}; the run stops "
                                       "(the finished segments are kept: run the same command again to resume)") from e
                raise OutputError(f"{self.dst}: encoding failed at frame {done} (pts {p}): {_reason(e)}") from e

    def end_segment(self, smoother_state: dict[str, np.ndarray], final: bool = False) -> None:
        """Close the segment being written (with the smoother's state after its last frame); `final`:
        after the last frame, and wait until every segment is finished and logged.

        A segment is finished (the encoder drained, the file renamed, the log saved) in a thread of its
        own while the next one is encoded: draining x264's lookahead in the encoding thread left a core
        idle at every boundary (on two cores, 0.5 of a core for about 1.5 s, cockatoo). Segments are
        logged in order; a failure is raised at the next boundary or at the end."""
        if self.current is not None:
            enc, self.current = self.current, None
            self._closed_frames += enc.frames
            self._pending.append(enc)  # until finished: abort() deletes what a failure left
            if self._ending is None:
                self._ending = BackgroundWorker(lambda job: job(), depth=1, name="segment-end")
            warmup = self._recent[0] if len(self._recent) == WARMUP_FRAMES else None  # None: a seek to the last frame
            self._ending.submit(partial(self._finish, enc, self._next - 1, smoother_state, warmup))
        elif not final:
            return
        if final:
            self._wait_ending()
            self.log.complete = True
            try:
                self._save_log()
            except OSError as e:  # a full disk at the very end: a traceback before (a review)
                raise write_failure(e, f"{self.dst}: cannot save the segments' log in {self.work} ({e.strerror or e})",
                                    " (the finished segments are kept)") from e

    def _finish(self, enc: "SegmentEncoder", number: int, smoother_state: dict[str, np.ndarray],
                warmup_pts: int | None = None) -> None:
        try:
            seg = enc.finish()
        except av.error.FFmpegError as e:
            if out_of_space(e):
                raise StorageError(f"{self.dst}: encoding stopped at the end of segment {number}: {_reason(e)}; "
                                   "the run stops (the finished segments are kept)") from e
            raise OutputError(f"{self.dst}: encoding failed at the end of segment {number}: {_reason(e)}") from e
        except OSError as e:  # its rename, or its fsync (where a share reports a full disk): as the log's below
            raise write_failure(e, f"{self.dst}: cannot save segment {number} in {self.work} ({e.strerror or e})") from e
        seg.warmup_pts = warmup_pts
        try:
            if smoother_state:
                seg.state = seg.file.replace(".mp4", ".state.npz")
                tmp = self.work / (seg.state + ".tmp.npz")
                try:
                    np.savez(tmp, **smoother_state)
                    durable_replace(tmp, self.work / seg.state)
                finally:
                    tmp.unlink(missing_ok=True)
            self.log.segments.append(seg)
            self._save_log()
        except OSError as e:  # a full disk: the finished segment goes too (abort), a re-run redoes it
            (self.work / seg.file).unlink(missing_ok=True)
            raise write_failure(e, f"{self.dst}: cannot save segment {number} in {self.work} ({e.strerror or e})") from e
        self._pending.remove(enc)

    def _save_log(self) -> None:
        self.log.rotation = self.like.rotation or self.log.rotation
        self.log.mirror_matrix = list(self.like.mirror_matrix) if self.like.mirror_matrix else self.log.mirror_matrix
        self.log.save(self.work)

    def _wait_ending(self) -> None:
        ending, self._ending = self._ending, None
        if ending is not None:
            ending.close()

    def keep_notes(self, notes: dict) -> None:
        """What decoding the source found, in the log: a run resumed at the join decodes nothing, and says it."""
        self.log.source_notes = notes
        with contextlib.suppress(OSError):  # only notes: the join goes on without them
            self._save_log()

    def kept_notes(self) -> dict:
        return self.log.source_notes or {}

    def complete(self) -> list[str]:
        """Join the segments into dst (through a temporary name, renamed when whole); returns notes."""
        if not self.log.segments:
            raise OutputError(f"{self.dst}: no frames were encoded")
        tmp = temp_output_path(self.dst)
        parts = [(self.work / s.file, s.first_pts) for s in self.log.segments]
        notes = join_segments(parts, tmp, self.like, self.plan, self.like.rotation or self.log.rotation,
                              self.like.mirror_matrix or self.log.mirror_matrix)
        durable_replace(tmp, self.dst)  # before the journal's line
        return notes

    def abort(self) -> None:
        """Stop after an error or an interrupt: segments already closed are still finished and logged
        (work done is kept), the one being written is deleted."""
        try:
            self._wait_ending()
        except Exception:  # noqa: BLE001 - the error that made us abort is the one to report
            pass
        for enc in self._pending:  # a finish that failed, and those queued behind it (never run)
            enc.abort()
        self._pending.clear()
        if self.current is not None:
            self.current.abort()
            self.current = None

    def discard(self) -> None:
        """Remove this sink's work folder (made under another key: it starts afresh). A Ray run's folder of the
        same output is left: a one-machine run that stops must not take the cluster's finished ranges with it."""
        shutil.rmtree(self.work, ignore_errors=True)
