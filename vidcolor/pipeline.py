"""The one place the pipeline is wired: FrameSource -> batches -> Colorizer -> TemporalSmoother -> FrameSink."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.archive import STATE_DIR, Journal, OutputLock, remove_stale_temporaries
from vidcolor.color import L_SCALE, colour_score, is_colour_image, rgb8_to_l
from vidcolor.colorizer import Colorizer
from vidcolor.errors import InputError, OutputError, VidcolorError
from vidcolor.io.images import IMAGE_EXTS, read_image, write_image
from vidcolor.io.prefetch import BackgroundWorker, prefetch
from vidcolor.io.paths import temp_output_path
from vidcolor.io.base import Frame, FrameSink, FrameSource
from vidcolor.io.plan import OutputPlan, plan_output
from vidcolor.io.segments import SEGMENT_SECONDS, SegmentedSink, discard_work, work_dir
from vidcolor.io.video import VideoSource
from vidcolor.temporal import GUIDE_SCALE, TEMPORAL_VERSION, SceneCuts, make_smoother

Progress = Callable[[int, int], None]  # (done, total or 0)


@dataclass
class VideoOptions:
    temporal: str = "flow"  # chosen by measurement: README, "Video without flicker"
    temporal_strength: float | None = None  # None: the mode's own default
    codec: str | None = None  # video encoder; None: the output container's own (libx264, VP9 for WebM)
    crf: int | None = None  # None: the encoder's default (18 for x264/x265, 32 for VP9)
    preset: str | None = None  # None: the encoder's default ("medium" for x264/x265)
    batch_size: int = 4
    segment_seconds: float = SEGMENT_SECONDS  # resumable unit of encoding
    overwrite: bool = False
    dry_run: bool = False


@dataclass
class Result:
    input: Path
    output: Path | None
    status: str  # "done", "failed", "skipped" (or "planned" in a dry run)
    seconds: float = 0.0
    frames: int = 0  # frames in the output
    error: str | None = None
    note: str | None = None
    notes: list[str] = field(default_factory=list)
    frames_resumed: int = 0  # of `frames`, how many an earlier, interrupted run had already encoded

    @property
    def frames_processed(self) -> int:
        """Frames this run decoded, colorized and encoded itself."""
        return self.frames - self.frames_resumed


def check_output(src: Path, dst: Path) -> None:
    """Refuse an output that is the input, or whose folder cannot be created or written."""
    if src.resolve() == dst.resolve() or (dst.exists() and src.exists() and os.path.samefile(src, dst)):
        raise OutputError(f"{dst}: output is the input file; choose another output path")
    ensure_writable_dir(dst.parent)
    if dst.is_dir():
        raise OutputError(f"{dst}: is a folder; give a file name for the output")


def ensure_writable_dir(parent: Path) -> None:
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{parent}: cannot create the output folder ({e.strerror})") from e
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent}: output folder is not writable")


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


def video_key(colorizer: Colorizer, opts: VideoOptions, plan: OutputPlan) -> str:
    """Everything that changes a video's output: a change makes finished work stale."""
    return (f"{colorizer.model_id}|temporal={opts.temporal}:{opts.temporal_strength}:v{TEMPORAL_VERSION}|{plan.key}"
            f"|seg{opts.segment_seconds}")


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

    How the output is written (container, encoders, audio and subtitles) is decided and tried first
    (`plan_output`), so an impossible output fails before any decoding. The video is encoded in
    segments in a hidden work folder beside dst, so a killed run resumes from its last finished
    segment; a finished output is journaled and skipped by a re-run.
    """
    src, dst, opts = Path(src), Path(dst), opts or VideoOptions()
    t0 = time.time()
    check_output(src, dst)
    plan = plan_output(src, dst, opts.codec, opts.crf, opts.preset)
    root = dst.parent
    key = video_key(colorizer, opts, plan)
    if opts.dry_run:
        e = None if opts.overwrite else Journal(root).finished(src, key, dst)
        return Result(src, dst, "skipped" if e else "planned", note="already done" if e else "would colorize")
    with OutputLock(root):
        for stale in root.glob(temp_output_path(dst).name.replace(str(os.getpid()), "*")):
            stale.unlink(missing_ok=True)
        journal = Journal(root)
        if not opts.overwrite and journal.finished(src, key, dst):
            discard_work(dst, root / STATE_DIR)  # a run killed after journaling left it
            return Result(src, dst, "skipped", note="already done")
        if opts.overwrite:
            discard_work(dst, root / STATE_DIR)
        with VideoSource(src) as source:
            st = src.stat()
            sink = SegmentedSink(dst, root / STATE_DIR, source.info, f"{key}|{st.st_size}|{st.st_mtime_ns}", plan,
                                 opts.segment_seconds)
            enc = _encode_segments(source, sink, colorizer, opts, progress)
            join_notes = sink.complete()
        journal.record(src, key, "done", dst)
        sink.discard()
    notes = plan.notes + join_notes
    if enc.resumed:
        notes.append(f"resumed at frame {enc.resumed} from the segments of an earlier run")
    if enc.cuts:
        notes.append(f"scene cuts at frames {', '.join(map(str, enc.cuts))}")
    return Result(src, dst, "done", time.time() - t0, enc.total, notes=notes, frames_resumed=enc.resumed)


def has_unfinished_video(dst: str | os.PathLike) -> bool:
    """Whether a killed run left resumable work for `dst`. Then a `dst` that exists is vidcolor's own
    (renamed into place just before the kill, not yet journaled), not a file to protect from overwriting."""
    dst = Path(dst)
    return (work_dir(dst, dst.parent / STATE_DIR) / "segments.json").is_file()


@dataclass
class _Encoded:
    total: int
    resumed: int
    cuts: list[int]


def _encode_segments(source: FrameSource, sink: FrameSink, colorizer: Colorizer, opts: VideoOptions, progress) -> _Encoded:
    """Decode -> colorize -> smooth -> encode segment by segment, three threads overlapping. The sink
    says where an earlier run stopped; a segment is ended, with the smoother's state after its last
    frame, at each of its boundaries and after the last frame."""
    resume = sink.resume_point()
    cuts = SceneCuts(source.info.fps)
    if resume.complete:  # killed after the last segment: only the join is left
        return _Encoded(resume.frames, resume.frames, [])
    smoother = make_smoother(opts.temporal, opts.temporal_strength)
    smoother.load_state_dict(resume.smoother_state)

    def warm(f: Frame) -> None:
        l_full = rgb8_to_l(torch.from_numpy(f.rgb)[None])
        cuts.is_cut(_cut_thumbnail(l_full)[0].numpy())

    writer = BackgroundWorker(lambda job: job(), depth=2, name="encode")  # runs the sink's calls in order
    done = resume.frames
    try:
        with source.frames_ahead(resume, depth=2 * opts.batch_size) as frames:
            for batch in _segment_batches(frames, opts.batch_size, sink.segment_frames, warm):
                out = colorize_frames(colorizer, batch, smoother, cuts)
                writer.submit(partial(sink.write, out, [f.pts for f in batch]))
                done += len(batch)
                if done % sink.segment_frames == 0:
                    writer.submit(partial(sink.end_segment, smoother.state_dict()))
                if progress:
                    progress(done, source.info.frames)
        writer.submit(partial(sink.end_segment, smoother.state_dict(), final=True))
        writer.close()
    except BaseException:
        writer.close_quietly()
        sink.abort()
        raise
    return _Encoded(done, resume.frames, cuts.cuts)


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


@dataclass
class FolderOptions:
    fmt_ext: str | None = None  # ".png" etc.; None keeps each input's format
    overwrite: bool = False  # redo outputs the journal says are finished
    force: bool = False  # colorize images that are already in colour
    dry_run: bool = False  # list what would be done; touch nothing
    batch_size: int = 4  # images per network batch (grouped by working resolution)


def colorize_image(src: str | os.PathLike, dst: str | os.PathLike, colorizer: Colorizer, opts: FolderOptions | None = None,
                   hints=None) -> Result:
    """Colorize one image file into `dst` (format from dst's extension), same size, bit depth and alpha.
    An image that is already in colour is skipped unless opts.force. `hints` (vidcolor.hints.Hints,
    in the pixels of the image as displayed, EXIF orientation applied) steer its colours."""
    src, dst, opts = Path(src), Path(dst), opts or FolderOptions()
    t0 = time.time()
    if opts.dry_run:
        return Result(src, dst, "planned", note="would colorize")
    check_output(src, dst)
    img = read_image(src)
    if not opts.force and is_colour_image(img.pixels):
        return Result(src, None, "skipped", time.time() - t0, note=f"already in colour (score {colour_score(img.pixels):.1f}; --force colorizes it)")
    write_image(dst, colorizer.colorize_array(img.pixels, hints), img)
    return Result(src, dst, "done", time.time() - t0, 1, note="with hints" if hints else None)


def find_images(root: Path) -> list[Path]:
    """Every image under root, recursively, in a stable order; hidden files and folders skipped."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out += [Path(dirpath) / f for f in filenames if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTS]
    return sorted(out)


def colorize_folder(src: str | os.PathLike, dst: str | os.PathLike, colorizer: Colorizer, opts: FolderOptions | None = None,
                    on_result: Callable[[Result], None] | None = None, run_images: Callable | None = None) -> list[Result]:
    """Colorize every image under `src` into the mirrored tree under `dst`.

    Safe to kill and re-run: finished outputs are journaled and skipped, a bad file is reported and
    skipped, and a second run on the same output fails at once with LockedError. `run_images` replaces
    the loop over the images still to do (vidcolor.cluster runs them on a Ray cluster).
    """
    src, dst, opts = Path(src), Path(dst), opts or FolderOptions()
    if not src.is_dir():
        raise InputError(f"{src}: not a folder")
    if src.resolve() == dst.resolve() or dst.resolve().is_relative_to(src.resolve()):
        raise OutputError(f"{dst}: output folder is (inside) the input folder; choose another")
    pairs = [(p, dst / p.relative_to(src)) for p in find_images(src)]
    if opts.fmt_ext:
        pairs = [(p, t.with_suffix(opts.fmt_ext)) for p, t in pairs]
    key = f"{colorizer.model_id}|fmt={opts.fmt_ext}"
    results: list[Result] = []

    def emit(res: Result) -> None:
        results.append(res)
        if on_result:
            on_result(res)

    if opts.dry_run:
        journal = Journal(dst)
        for p, t in pairs:
            e = None if opts.overwrite else journal.finished(p, key, t)
            emit(Result(p, t, "skipped" if e else "planned", note=_skip_note(e) if e else "would colorize"))
        return results
    ensure_writable_dir(dst)
    with OutputLock(dst):
        remove_stale_temporaries(dst)
        journal = Journal(dst)
        todo = []
        for p, t in pairs:
            e = None if opts.overwrite else journal.finished(p, key, t)
            if e and not (opts.force and e["status"] == "colour"):
                emit(Result(p, t, "skipped", note=_skip_note(e)))
            else:
                todo.append((p, t))
        (run_images or _colorize_images)(todo, colorizer, journal, key, opts, emit)
    return results


def _skip_note(entry: dict) -> str:
    return "already in colour (--force colorizes it)" if entry["status"] == "colour" else "already done"


def _read(path: Path):
    try:
        return read_image(path)
    except VidcolorError as e:
        return e


def _colorize_images(todo, colorizer: Colorizer, journal: Journal, key: str, opts: FolderOptions, emit) -> None:
    """Read ahead in one thread, write behind in another; the network sees batches of images."""

    def write(job) -> None:
        src, dst, out, img, t0 = job
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            write_image(dst, out, img)
        except VidcolorError as e:
            journal.record(src, key, "failed", dst, note=str(e))
            emit(Result(src, None, "failed", time.time() - t0, error=str(e)))
            return
        journal.record(src, key, "done", dst)
        emit(Result(src, dst, "done", time.time() - t0, 1))

    writer = BackgroundWorker(write, depth=4, name="write")
    try:
        reads = prefetch(((p, t, time.time(), _read(p)) for p, t in todo), depth=4, name="read")
        for batch in batched(reads, opts.batch_size):
            ready = []
            for p, t, t0, img in batch:
                if isinstance(img, VidcolorError):
                    journal.record(p, key, "failed", t, note=str(img))
                    emit(Result(p, None, "failed", time.time() - t0, error=str(img)))
                elif not opts.force and is_colour_image(img.pixels):
                    journal.record(p, key, "colour", t, note=f"colour score {colour_score(img.pixels):.1f}")
                    emit(Result(p, None, "skipped", time.time() - t0, note="already in colour (--force colorizes it)"))
                else:
                    ready.append((p, t, t0, img))
            outs = colorizer.colorize_arrays([img.pixels for _, _, _, img in ready]) if ready else []
            for (p, t, t0, img), out in zip(ready, outs):
                writer.submit((p, t, out, img, t0))
    finally:
        writer.close()
