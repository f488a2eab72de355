"""The one place the pipeline is wired: FrameSource -> batches -> Colorizer -> TemporalSmoother -> FrameSink."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.archive import STATE_DIR, Journal, OutputLock
from vidcolor.color import L_SCALE, rgb8_to_l
from vidcolor.colorizer import Colorizer
from vidcolor.io.prefetch import BackgroundWorker, prefetch
from vidcolor.io.paths import check_output, temp_output_path
from vidcolor.io.segments import SegmentedSink
from vidcolor.io.video import Frame, VideoSource
from vidcolor.options import Result, VideoOptions
from vidcolor.temporal import GUIDE_SCALE, TEMPORAL_VERSION, SceneCuts, make_smoother

Progress = Callable[[int, int], None]  # (done, total or 0)


def batched(items: Iterable, n: int) -> Iterator[list]:
    batch = []
    for x in items:
        batch.append(x)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def _cut_thumbnail(l_full: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) L* -> (B, h, w) uint8 gray about 256 wide, for scene-cut analysis."""
    h, w = l_full.shape[-2:]
    s = min(1.0, 256 / w)
    small = F.interpolate(l_full, size=(max(1, round(h * s)), max(1, round(w * s))), mode="area") if s < 1 else l_full
    return (small[:, 0] * (255.0 / L_SCALE)).round().clamp(0, 255).to(torch.uint8)


def video_key(colorizer: Colorizer, opts: VideoOptions, segment_seconds: float) -> str:
    """Everything that changes a video's output: a change makes finished work stale."""
    return (f"{colorizer.model_id}|temporal={opts.temporal}:{opts.temporal_strength}:v{TEMPORAL_VERSION}|{opts.codec}:crf{opts.crf}:{opts.preset}"
            f"|seg{segment_seconds}")


def _segment_batches(frames: Iterable[Frame], n: int, segment_frames: int, warm: Callable[[Frame], None]) -> Iterator[list[Frame]]:
    """Batches of up to n frames that never straddle a segment boundary; warm-up frames go to `warm`."""
    batch: list[Frame] = []
    for f in frames:
        if f.warmup:
            warm(f)
            continue
        batch.append(f)
        if len(batch) == n or (f.index + 1) % segment_frames == 0:
            yield batch
            batch = []
    if batch:
        yield batch


def colorize_video(src: str | os.PathLike, dst: str | os.PathLike, colorizer: Colorizer, opts: VideoOptions | None = None,
                   progress: Progress | None = None) -> Result:
    """Colorize one video file into `dst`, keeping size, frame count, timestamps, rotation and the other streams.

    The video is encoded in segments in a hidden work folder beside dst, so a killed run resumes from
    its last finished segment; a finished output is journaled and skipped by a re-run.
    """
    src, dst, opts = Path(src), Path(dst), opts or VideoOptions()
    t0 = time.time()
    check_output(src, dst)
    root = dst.parent
    key = video_key(colorizer, opts, opts.segment_seconds)
    if opts.dry_run:
        e = None if opts.overwrite else Journal(root).finished(src, key, dst)
        return Result(src, dst, "skipped" if e else "planned", note="already done" if e else "would colorize")
    with OutputLock(root):
        for stale in root.glob(temp_output_path(dst).name.replace(str(os.getpid()), "*")):
            stale.unlink(missing_ok=True)
        journal = Journal(root)
        if not opts.overwrite and journal.finished(src, key, dst):
            return Result(src, dst, "skipped", note="already done")
        with VideoSource(src) as source:
            st = src.stat()
            sink = SegmentedSink(dst, root / STATE_DIR, source.info, f"{key}|{st.st_size}|{st.st_mtime_ns}",
                                 opts.codec, opts.crf, opts.preset, opts.segment_seconds)
            if opts.overwrite:
                sink.discard()
            frames = _encode_segments(source, sink, colorizer, opts, progress)
            sink.join()
        journal.record(src, key, "done", dst)
    notes = list(sink.notes)
    if frames.resumed:
        notes.append(f"resumed at frame {frames.resumed} from the segments of an earlier run")
    if frames.cuts:
        notes.append(f"scene cuts at frames {', '.join(map(str, frames.cuts))}")
    return Result(src, dst, "done", time.time() - t0, frames.total, notes=notes, resumed_frames=frames.resumed)


@dataclass
class _Encoded:
    total: int
    resumed: int
    cuts: list[int]


def _encode_segments(source: VideoSource, sink: SegmentedSink, colorizer: Colorizer, opts: VideoOptions, progress) -> _Encoded:
    """Decode -> colorize -> smooth -> encode segment by segment, three threads overlapping."""
    info = source.info
    resumed = sink.frames_done
    cuts = SceneCuts(info.fps)
    smoother = make_smoother(opts.temporal, opts.temporal_strength)
    smoother.load_state_dict(sink.state())
    after_pts = sink.segments[-1]["last_pts"] if sink.segments else None

    def warm(f: Frame) -> None:
        l_full = rgb8_to_l(torch.from_numpy(f.rgb)[None])
        cuts.is_cut(_cut_thumbnail(l_full)[0].numpy())

    def encode(item) -> None:
        if item[0] == "frames":
            for rgb, pts in item[1]:
                sink.write(rgb, pts)
        else:
            sink.finish_segment(item[1], item[2])

    writer = BackgroundWorker(encode, depth=2, name="encode")
    done = resumed
    try:
        frames = prefetch(source.frames(resumed, after_pts), depth=2 * opts.batch_size, name="decode")
        for batch in _segment_batches(frames, opts.batch_size, sink.segment_frames, warm):
            out = colorize_frames(colorizer, batch, smoother, cuts)
            writer.submit(("frames", list(zip(out, (f.pts for f in batch)))))
            done += len(batch)
            if done % sink.segment_frames == 0:
                writer.submit(("end", batch[-1].pts, smoother.state_dict()))
            if progress:
                progress(done, info.frames)
        if done % sink.segment_frames:
            writer.submit(("end", batch[-1].pts, smoother.state_dict()))
        writer.close()
    except BaseException:
        writer.close_quietly()
        sink.abort()
        raise
    return _Encoded(done, resumed, cuts.cuts)


@torch.inference_mode()
def colorize_frames(colorizer: Colorizer, frames: list[Frame], smoother, cuts: SceneCuts | None) -> np.ndarray:
    """A batch of decoded frames -> (B, H, W, 3) uint8 colorized frames, advancing the temporal state."""
    rgb = torch.from_numpy(np.stack([f.rgb for f in frames]))
    if colorizer.device.type == "cuda":  # a pinned buffer makes the copy truly asynchronous
        rgb = rgb.pin_memory()
    rgb = rgb.to(colorizer.device, non_blocking=True)
    l_full = rgb8_to_l(rgb)  # (B, 1, H, W)
    ab_small = colorizer.predict_ab_small(l_full)  # (B, 2, h, w)
    h, w = ab_small.shape[-2:]
    l_guide = F.interpolate(l_full, size=(GUIDE_SCALE * h, GUIDE_SCALE * w), mode="area")
    thumbs = _cut_thumbnail(l_full).cpu().numpy() if cuts is not None else None
    smoothed = []
    for i in range(len(frames)):
        if cuts is not None and cuts.is_cut(thumbs[i], frames[i].index):
            smoother.reset()
        smoothed.append(smoother(l_guide[i:i + 1], ab_small[i:i + 1]))
    return colorizer.render(l_full, torch.cat(smoothed))
