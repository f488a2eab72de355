"""The one place the pipeline is wired: FrameSource -> batches -> Colorizer -> TemporalSmoother -> FrameSink."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.archive import (STATE_DIR, Journal, OutputLock, already_done, discard_temporary, failures_journaled,
                              refuse_foreign_output, reported_if_journaled)
from vidcolor.color import L_SCALE, luma8_to_l, rgb8_to_l
from vidcolor.colorizer import Colorizer, check_call
from vidcolor.errors import InputError, VidcolorError
from vidcolor.io.prefetch import BackgroundWorker
from vidcolor.io.base import Frame, FrameSink, FrameSource
from vidcolor.io.paths import NOT_FOUND, check_output, not_found, stale_temporaries, stat_key
from vidcolor.io.plan import OutputPlan, plan_output
from vidcolor.io.segments import SegmentedSink, discard_work
from vidcolor.io.video import VideoSource, quarter_turns
from vidcolor.options import Result, VideoOptions
from vidcolor.hint_tracking import HINT_TRACKING_VERSION, HintTracker
from vidcolor.hints import VideoHints
from vidcolor.temporal import GUIDE_SCALE, TEMPORAL_VERSION, UNSEEN_SHARE, SceneCuts, cuts_note, make_smoother, mode_stride
from vidcolor.video_hints import tracked_inputs

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


def video_key(colorizer: Colorizer, opts: VideoOptions, plan: OutputPlan, hints: VideoHints | None = None) -> str:
    """Everything that changes a video's output: a change makes finished work stale."""
    # --segment-seconds is not in it: how the work is split changes no frame, only where the resumable
    # segments end (a film finished at 2 s segments was redone at 5; a new user's test). The segments'
    # own key has it (`colorize_video`); journals written with it are read with it (`Journal.finished`).
    return (f"{colorizer.model_id}|temporal={opts.temporal}:{opts.temporal_strength}:v{TEMPORAL_VERSION}|{plan.key}"
            + (f"|hints={hints.key}:v{HINT_TRACKING_VERSION}" if hints else ""))


def stride_batches(frames: Iterable[Frame], n: int, stride: int = 1, segment_frames: int | None = None) -> Iterator[list[Frame]]:
    """Batches of at least n frames (at most n + stride - 1) that end on a frame the network stride runs
    (index + 1 a multiple of it; `network_frames`), so that every frame it skips has its successor in
    the same batch, or at the end of a segment of `segment_frames` (batches never straddle one), or at
    the end of the frames. One machine and a Ray range batch alike: both then run the same frames."""
    batch: list[Frame] = []
    for f in frames:
        batch.append(f)
        if (len(batch) >= n and (f.index + 1) % stride == 0) or (segment_frames and (f.index + 1) % segment_frames == 0):
            yield batch
            batch = []
    if batch:
        yield batch


def _segment_batches(frames: Iterable[Frame], n: int, segment_frames: int, warm: Callable[[Frame], None],
                     stride: int = 1) -> Iterator[list[Frame]]:
    """`stride_batches` of the frames to encode; warm-up frames go to `warm`."""
    def encoded() -> Iterator[Frame]:
        for f in frames:
            if f.warmup:
                warm(f)
            else:
                yield f

    return stride_batches(encoded(), n, stride, segment_frames)


def colorize_video(src: str | os.PathLike, dst: str | os.PathLike, colorizer: Colorizer, opts: VideoOptions | None = None,
                   progress: Progress | None = None, hints: VideoHints | None = None, folder_run: bool = False) -> Result:
    """Colorize one video file into `dst`, keeping size, frame count, timestamps, rotation and the other streams.

    How the output is written (container, encoders, audio and subtitles) is decided and tried first
    (`plan_output`), so an impossible output fails before any decoding. The video is encoded in
    segments in a hidden work folder beside dst, so a killed run resumes from its last finished
    segment; a finished output is journaled and skipped by a re-run. A file at dst that no vidcolor
    run wrote is refused (OutputError) unless opts.overwrite; `folder_run` (one video of a folder run): so is
    one vidcolor wrote from another input that is still there (`archive.refuse_foreign_output`'s `src`).

    `hints` (keyframe hints in pixels of the frames as decoded: `video_hints.check_video_hints` checks
    a hints file and turns display pixels into these) are carried along the motion to the frames
    after each keyframe, until the next keyframe or scene cut, and are part of the journal key.
    """
    check_call(colorizer, opts, VideoOptions, hints, VideoHints, progress=progress)
    src, dst, opts = Path(src), Path(dst), opts or VideoOptions()
    t0 = time.time()
    hints = hints or None  # empty hints: the automatic run, and its key
    if hints:
        colorizer.require_hints(hints, "video hints")
    check_output(src, dst, create=not opts.dry_run)  # a dry run creates nothing, not even the output's folder
    plan = plan_output(src, dst, opts.codec, opts.crf, opts.preset)
    root = dst.parent
    key = video_key(colorizer, opts, plan, hints)
    plan = dataclasses.replace(plan, made_by=colorizer.provenance)  # named in the output (mux.Passthrough.label)
    if opts.dry_run:  # what the real run would do, as far as the header and the journal tell
        journal = Journal(root)
        if not opts.overwrite and journal.finished(src, key, dst):
            return Result(src, dst, "skipped", note=already_done(journal, dst))
        # "would fail": the real run refuses it too
        refuse_foreign_output(journal, dst, opts.overwrite, writing=False, folder_run=folder_run,
                              src=src if folder_run else None)
        resume, lost = (0, 0) if opts.overwrite else _resumable(src, dst, colorizer, opts, plan, key)
        what = f"would resume at frame {resume}" if resume else "would colorize"  # (it said "would colorize" either way)
        if lost:  # (a --crf changed after Ctrl-C: the real run says it, its dry run did not; a new user's test)
            what += f", starting over: the {lost} frames an earlier run finished were made with other settings"
        # with the plan's notes: a restorer previewing a run was not told what the output would not hold
        return Result(src, dst, "planned", note=what + (" with hints" if hints else ""), notes=list(plan.notes))
    with reported_if_journaled(root, src, key, dst) as end, OutputLock(root, dst):
        for stale in stale_temporaries(dst):
            discard_temporary(stale)
        journal = Journal(root, remember=True)
        if not opts.overwrite and journal.finished(src, key, dst):
            discard_work(dst, root / STATE_DIR)  # a run killed after journaling left it
            return Result(src, dst, "skipped", note=already_done(journal, dst))
        refuse_foreign_output(journal, dst, opts.overwrite, folder_run=folder_run, src=src if folder_run else None)
        if opts.overwrite:
            discard_work(dst, root / STATE_DIR)
        # marks dst as ours before it can appear: a run killed after the final rename and before the
        # journal's "done" line is resumed, not refused as someone else's file
        journal.touch(dst, redo_key=key if opts.overwrite else None)
        # its stat before it is opened (taken inside failures_journaled): a film replaced while it was colorized
        # was journaled as done with the new file's, and the new one never colorized
        with failures_journaled(journal, src, key, dst), contextlib.nullcontext(_input_stat(src)) as st, VideoSource(src) as source:
            luma = luma_path(colorizer, plan.pix_fmt, source.info, plan.matrix)
            # how frames are rendered is part of the segments' key, not the output's: a finished output
            # stands, but segments rendered otherwise (an older version's RGB path, a GPU run) are not
            # spliced with these (a review found a one-level brightness step where such a run resumed)
            sink = SegmentedSink(dst, root / STATE_DIR, source.info, _segments_key(key, luma, st), plan,
                                 opts.segment_seconds, mode_stride(opts.temporal))
            enc = _encode_segments(source, sink, colorizer, opts, progress, hints, luma)
            if enc.total > enc.resumed:  # what the decoding found, kept for a run that resumes at the join
                short, damage = source.ends_early(enc.total), source.damage(enc.total)  # a file cut short: what
                sink.keep_notes({"ends_early": short, "damage": damage})  # it holds is written, and said so
            else:  # such a run decodes nothing: told from the header alone, a VFR clip "ended early" (a review)
                kept = sink.kept_notes()
                short, damage = kept.get("ends_early"), kept.get("damage")
            if short:  # its last frame lasts one frame, not until the end its header promised (a cut MP4's
                source.info.end_pts = None  # last frame was held 2.2 s, frozen and silent: a review)
            join_notes = sink.complete()
            if damage:
                join_notes.append(damage)
            if source.info.size_change:
                at, w, h = source.info.size_change
                where = f"at frame {at}" if at is not None else f"before frame {enc.resumed} (where this run resumed)"
                join_notes.append(f"the frame size changes {where} (to {w}x{h}): such frames were scaled to "
                                  f"{source.info.width}x{source.info.height}, as FFmpeg does")
            if source.info.interlaced:  # a new user's MPEG-2 and x264 interlaced sources were made progressive without a word
                join_notes.append("the source is interlaced: written as progressive frames, each frame as decoded "
                                  "(fields neither separated nor deinterlaced)")
        end.result = _done(src, dst, t0, plan.notes + join_notes, hints, enc, sink, short)
        journal.record(src, key, "done", dst, stat=stat_key(st))
        discard_work(dst, root / STATE_DIR)  # ours, and a stopped Ray run's
    return end.result


def _done(src: Path, dst: Path, t0: float, notes: list[str], hints: VideoHints | None, enc: "_Encoded", sink: SegmentedSink,
          short: str | None) -> Result:
    """The result of a video colorized and joined, made before it is journaled (`reported_if_journaled`)."""
    if hints:
        # the header's frame count is an estimate in some containers (an MKV's duration x rate), so a
        # keyframe its check let through may lie past the end: it was accepted without a word, never applied
        past = sorted(int(k) for k in hints.frames if int(k) >= enc.total)
        applied = sum(1 for k, h in hints.frames.items() if h and int(k) < enc.total)  # an empty keyframe only ends hints
        notes.append(f"with hints on {applied} keyframe(s)")
        notes += enc.hint_notes
        if past:
            notes.append(f"hints keyframe{'s' * (len(past) > 1)} {', '.join(map(str, past))} past the last frame "
                         f"({enc.total - 1}): not applied")
    if enc.resumed:
        notes.append(f"resumed at frame {enc.resumed} from the segments of an earlier run")
    elif sink.discarded:  # a new user's --crf change after Ctrl-C threw 174 finished frames away without a word
        notes.append(f"the {sink.discarded} frames an earlier run had finished were made with other settings (or from "
                     "another version of the input), so this run started over")
    if enc.cuts:
        notes.append(cuts_note(enc.cuts))
    return Result(src, dst, "done", time.time() - t0, enc.total, note=short, notes=notes, frames_resumed=enc.resumed)


def _input_stat(src: Path) -> os.stat_result:
    """A video's stat before it is opened, or the InputError opening it would have raised: a film gone since its
    plan was made (moved away mid-night) ended a single run in a traceback, where it had been "file not found"
    (a review of fb64b16, which took the stat before the open)."""
    try:
        return src.stat()
    except OSError as e:
        if e.errno in NOT_FOUND:
            raise InputError(f"{src}: {not_found(src)}") from None
        raise InputError(f"{src}: cannot read ({e.strerror or e})") from e


def _segments_key(key: str, luma: bool, st: os.stat_result) -> str:
    """The key of a video's resumable segments: the output's key, how frames are rendered and the input's
    size and mtime. Not how it is split (--segment-seconds): segments of any length join."""
    return f"{key}|render={'luma' if luma else 'rgb'}|{st.st_size}|{st.st_mtime_ns}"


def _resumable(src: Path, dst: Path, colorizer: Colorizer, opts: VideoOptions, plan, key: str) -> tuple[int, int]:
    """(frames a real run would take from an earlier run's segments, frames of an earlier run with other
    settings it would discard): a dry run's "would resume at" or "starting over"."""
    try:
        with VideoSource(src) as source:
            luma = luma_path(colorizer, plan.pix_fmt, source.info, plan.matrix)
    except VidcolorError:
        return 0, 0
    return SegmentedSink.resumable_frames(dst, dst.parent / STATE_DIR, _segments_key(key, luma, src.stat()))


@dataclass
class _Encoded:
    total: int
    resumed: int
    cuts: list[int]
    hint_notes: list[str] = field(default_factory=list)  # hint points this run lost (HintTracker.lost_notes)


def _encode_segments(source: FrameSource, sink: FrameSink, colorizer: Colorizer, opts: VideoOptions, progress,
                     hints: VideoHints | None = None, luma: bool = False) -> _Encoded:
    """Decode -> colorize -> smooth -> render -> encode segment by segment, in threads that overlap: the
    decoder's, this one (the network and the smoothing, with the flows of each batch on the flow smoother's
    look-ahead thread), and the encoder's (each batch's render, then x264, which has its own). The sink
    says where an earlier run stopped; a segment is ended, with the smoother's and the hint tracker's
    state after its last frame, at each of its boundaries and after the last frame. `luma`: decode
    luma planes and write yuv420p from them (`luma_path`)."""
    resume = sink.resume_point()
    cuts = SceneCuts(source.info.fps)
    if resume.complete:  # killed after the last segment: only the join is left
        return _Encoded(resume.frames, resume.frames, [])
    smoother = make_smoother(opts.temporal, opts.temporal_strength, colorizer.device)
    smoother.load_state_dict(resume.smoother_state)
    tracker = HintTracker(hints, colorizer.work_size) if hints else None
    if tracker:
        tracker.load_state_dict(resume.smoother_state)

    def state() -> dict:
        return {**smoother.state_dict(), **(tracker.state_dict() if tracker else {})}

    def warm(f: Frame) -> None:
        cuts.is_cut(_cut_thumbnail(frames_l([f], torch.device("cpu")))[0].numpy(), record=False)

    # runs the sink's calls in order, and renders each batch first: beside the network of the next one (on two
    # cores, the ramp while x264 fills its lookahead at each segment's start had left one idle)
    writer = BackgroundWorker(lambda job: job(), depth=2, name="encode")
    done = resume.frames
    try:
        with source.frames_ahead(resume, depth=2 * opts.batch_size, luma=luma) as frames:
            for batch in _segment_batches(frames, opts.batch_size, sink.segment_frames, warm, network_stride(smoother)):
                render = prepare_frames(colorizer, batch, smoother, cuts, tracker, sink.pix_fmt, sink.matrix,
                                        source.info.rotation)
                writer.submit(partial(_render_write, sink, render, [f.pts for f in batch]))
                done += len(batch)
                if done % sink.segment_frames == 0:
                    writer.submit(partial(sink.end_segment, state()))
                if progress:  # the header's count is an estimate: once the frames pass it, the total is not known
                    # (0), rather than 66 / 30 frames (220%) for a variable-rate MKV of 70 estimated at 30
                    progress(done, source.info.frames if done <= source.info.frames else 0)
        if progress and done != source.info.frames:  # (8 for an MKV of 6 frames): the last call says the real one,
            progress(done, done)  # so a caller's bar ends full (it stopped at 6 / 8)
        writer.submit(partial(sink.end_segment, state(), final=True))
        writer.close()
    except BaseException:
        writer.close_quietly()
        sink.abort()
        raise
    return _Encoded(done, resume.frames, cuts.cuts, tracker.lost_notes() if tracker else [])


def _render_write(sink: FrameSink, render: Callable[[], np.ndarray], pts: list[int]) -> None:
    sink.write(render(), pts)


def luma_path(colorizer: Colorizer, pix_fmt: str, info, matrix: str = "bt709") -> bool:
    """Whether a video is decoded as its luma planes and written from them with chroma made at chroma
    resolution (`Colorizer.render_yuv420`): on the CPU, into yuv420p at even sizes, with BT.709. A GPU
    renders RGB and converts it on the device (`Colorizer.render`). MPEG-4 Part 2 (AVI's) is written in
    BT.601, which players assume for it: keeping the source's luma there would keep BT.709's meaning
    of it, so such outputs are rendered in RGB (lightness kept) and converted with BT.601."""
    return (colorizer.device.type == "cpu" and pix_fmt == "yuv420p" and info.width % 2 == 0 and info.height % 2 == 0
            and matrix == "bt709")


def frames_l(frames: list[Frame], device: torch.device) -> torch.Tensor:
    """(B, 1, H, W) L* of decoded frames on `device`: from their luma planes where decoded so, else from RGB."""
    if frames[0].luma is not None:
        return luma8_to_l(np.stack([f.luma for f in frames])).to(device)
    if device.type == "cuda":  # stacked straight into a pinned buffer: one copy, truly asynchronous
        rgb = torch.empty((len(frames), *frames[0].rgb.shape), dtype=torch.uint8, pin_memory=True)
        np.stack([f.rgb for f in frames], out=rgb.numpy())
    else:
        rgb = torch.from_numpy(np.stack([f.rgb for f in frames]))
    return rgb8_to_l(rgb.to(device, non_blocking=True))


def network_stride(smoother) -> int:
    """Every how many frames the smoother needs the network (`FlowSmoother.network_stride`; 1 for the others)."""
    return getattr(smoother, "network_stride", 1)


def network_frames(smoother, frames: list[Frame], fresh: list[bool], hinted: bool) -> list[int]:
    """Which frames of a batch the network sees: all of them, unless the smoother carries colour along the
    motion (`network_stride` n > 1, the `flow` smoother): then the frames whose index + 1 is a multiple of
    n (by index, so that a resumed run and a Ray range run the frames an unbroken run does), the first
    frame of each shot and hint keyframe and the one before it, the first one after a fresh smoother,
    and the batch's last (`stride_batches` makes that one of the others but at the end of a segment or
    of the video): every frame skipped has a successor with a prediction, for the smoother's fill.
    Videos with hints run every frame (each frame's carried hints are network inputs)."""
    stride = network_stride(smoother)
    if stride == 1 or hinted:
        return list(range(len(frames)))
    carries = smoother.carries()
    last = len(frames) - 1
    run = []
    for i, f in enumerate(frames):
        if fresh[i] or not carries or (f.index + 1) % stride == 0 or i == last or fresh[i + 1]:
            run.append(i)
        carries = True
    return run


def colorize_frames(colorizer: Colorizer, frames: list[Frame], smoother, cuts: SceneCuts | None,
                    tracker: HintTracker | None = None, pix_fmt: str | None = None, matrix: str = "bt709",
                    rotation: int = 0, look_ahead: bool = True) -> np.ndarray:
    """A batch of decoded frames -> (B, H, W, 3) uint8 colorized RGB frames, advancing the temporal
    state (and the hint tracker's, which gives the network each frame's carried hints). Frames decoded
    as luma planes come back as (B, H * 3 / 2, W) packed yuv420p frames keeping that luma
    (`Colorizer.render_yuv420`). `pix_fmt`: the encoder's pixel format; with "yuv420p" a GPU returns
    packed yuv420p frames instead of RGB where it can (`Colorizer.render`). `matrix`: the encoder's
    Y'CbCr matrix (`OutputPlan.matrix`), for such frames. `io.yuv.video_frame` takes either.
    `rotation`: the video's display rotation in degrees (`VideoInfo.rotation`): the network sees the
    frames as displayed, upright; everything else works on the stored frames."""
    return prepare_frames(colorizer, frames, smoother, cuts, tracker, pix_fmt, matrix, rotation, look_ahead)()


@torch.inference_mode()
def prepare_frames(colorizer: Colorizer, frames: list[Frame], smoother, cuts: SceneCuts | None,
                   tracker: HintTracker | None = None, pix_fmt: str | None = None, matrix: str = "bt709",
                   rotation: int = 0, look_ahead: bool = True) -> Callable[[], np.ndarray]:
    """Everything `colorize_frames` does but the rendering at full size: the call it returns renders
    (the video path runs it on the encoder's thread, beside the next batch's network, `_encode_segments`).
    `look_ahead`: the smoother may compute the batch's flows on a thread of its own meanwhile
    (`FlowSmoother.look_ahead`; the same numbers either way); False keeps all of it on this thread."""
    l_full = frames_l(frames, colorizer.device)  # (B, 1, H, W)
    full_hw = tuple(l_full.shape[-2:])
    h, w = colorizer.ab_grid(full_hw)
    l_guide = F.interpolate(l_full, size=(GUIDE_SCALE * h, GUIDE_SCALE * w), mode="area")
    thumbs = _cut_thumbnail(l_full).cpu().numpy() if cuts is not None else None
    cut_at = [cuts is not None and cuts.is_cut(thumbs[i], frames[i].index) for i in range(len(frames))]
    hint_maps, palettes = (tracked_inputs(tracker, [f.index for f in frames], l_guide, full_hw, cut_at)
                           if tracker is not None else (None, None))
    keyframes = tracker.hints.frames if tracker is not None else {}
    # a hint keyframe starts the smoother afresh, as a cut does: its memory holds the colours from
    # before the hint, which the flow smoother would blend in for many frames (a blue hint on frame
    # 10 came out red there and turned blue over the next 30 frames)
    fresh = [cut_at[i] or frames[i].index in keyframes for i in range(len(frames))]
    run = network_frames(smoother, frames, fresh, tracker is not None)
    if look_ahead and hasattr(smoother, "look_ahead"):  # the flow smoother starts on the batch's flows beside the network
        smoother.look_ahead(l_guide, (h, w))
    ab_small = None
    if run:
        pick = (lambda t: t) if len(run) == len(frames) else (lambda t: t[run])
        ab_small = colorizer.predict_ab_small(pick(l_full), hint_maps=None if hint_maps is None else pick(hint_maps),
                                              palettes=palettes and [palettes[i] for i in run],
                                              turn=quarter_turns(rotation))  # (len(run), 2, h, w)
    preds = {j: ab_small[k:k + 1] for k, j in enumerate(run)}
    smoothed = []
    for i in range(len(frames)):
        if fresh[i]:
            smoother.reset()
        if i in preds:
            smoothed.append(smoother(l_guide[i:i + 1], preds[i]))
        elif i + 1 in preds and not fresh[i + 1]:  # the next frame's prediction fills in what this one's carried colour lacks
            out = smoother(l_guide[i:i + 1], None, l_guide[i + 1:i + 2], preds[i + 1])
            if getattr(smoother, "unseen", 0.0) > UNSEEN_SHARE:
                # a frame of its own, a one-frame insert or a flash: it showed the colours of the frames around it
                # (22 Cb/Cr levels off). The network sees it; like a fill, its colour is only shown: the state
                # carried on is the carried colour, so the shot goes on past it as before
                out = smoother.shown_with(colorizer.predict_ab_small(l_full[i:i + 1], turn=quarter_turns(rotation)))
            smoothed.append(out)
        else:
            smoothed.append(smoother(l_guide[i:i + 1], None))
    ab = torch.cat(smoothed)
    if frames[0].luma is not None:
        lumas = [f.luma for f in frames]  # the planes as decoded: no second stack
        return lambda: colorizer.render_yuv420(lumas, ab, matrix)
    return lambda: colorizer.render(l_full, ab, pix_fmt, matrix)
