"""What runs on the cluster's workers: actors that hold the model and colorize a batch of photos, or one
range of a film into a segment file. Ray Data builds them once per actor and feeds them batches of rows.

Nothing here imports ray or touches the journal: a worker reads its inputs from shared storage, writes
its outputs there atomically, and returns one row per input for the driver to record.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from itertools import takewhile
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np
import torch

from vidcolor.archive import file_sha256
from vidcolor.cluster.plan import Range
from vidcolor.tone import ColourScores, colour_photo_score
from vidcolor.colorizer import Colorizer
from vidcolor.device import resolve_device
from vidcolor.errors import InputError, StorageError, VidcolorError, out_of_space, write_failure
from vidcolor.folder import read_or_error, sidecar_misfit, unexpected
from vidcolor.hints import Hints
from vidcolor.io.base import Frame, ResumePoint
from vidcolor.io.images import lost_in, write_image
from vidcolor.io.plan import OutputPlan
from vidcolor.io.paths import make_folders
from vidcolor.io.prefetch import BackgroundWorker
from vidcolor.io.segments import SegmentEncoder
from vidcolor.io.video import VideoSource, _reason
from vidcolor.options import FolderOptions, VideoOptions
from vidcolor.pipeline import colorize_frames, luma_path, network_stride, stride_batches
from vidcolor.temporal import make_smoother

FINGERPRINT_SIZE = 16  # frames are recognised by a 16x16 gray thumbnail
FINGERPRINT_TOLERANCE = 2.0  # mean |difference| in levels; a decoder gives the same frame exactly, a wrong one differs by tens
CHECKED_FRAMES = 3  # a range checks this many of its first decoded frames against the driver's scan
RANGES_KEPT = " (the finished ranges are kept: run the same command again to resume)"  # a full disk's StorageError



def on_device(colorizer: Colorizer, device: str, threads: int) -> Colorizer:
    """The driver's colorizer (sent through Ray's object store) ready on this worker: torch and OpenCV
    limited to the CPUs Ray gave the actor (unlimited, each actor would start one thread per core of
    the node and they would fight over them; a range's flows look ahead on a thread of their own only
    where it has two or more), and the network moved to the GPU Ray assigned."""
    torch.set_num_threads(max(1, threads))
    cv2.setNumThreads(max(1, threads))
    if device == "cpu":
        return colorizer
    moved = Colorizer(colorizer.model, device=resolve_device(device), upsampler=colorizer.upsampler,
                      strength=colorizer.strength)
    # the driver's working size as it is, not through the work_size argument, which takes 64 or more: a
    # checkpoint's meta gives a run's --size (32 or more), and a model trained at --size 48 stopped every
    # GPU worker with "--work-size 48: not a whole number from 64 to 2048" (a reviewer's find)
    moved.work_size, moved.flip = colorizer.work_size, colorizer.flip
    return moved


class _ModelActor:
    def __init__(self, colorizer: Colorizer, device: str = "cpu", threads: int = 1, driver_model_id: str | None = None):
        # what the driver journals (its own code's model_id, passed as a string): the worker must colorize with
        # exactly that; computed here, a node with older vidcolor code would have agreed with itself
        model_id = driver_model_id or colorizer.model_id
        self.colorizer = on_device(colorizer, device, threads)
        if self.colorizer.model_id != model_id:
            raise VidcolorError(f"worker colorizer {self.colorizer.model_id} differs from the driver's {model_id} "
                                "(is the same vidcolor installed on every node?)")


def input_sha256(src: Path) -> str:
    """The input's sha256 for the driver's journal, or "" where it cannot be read again (the driver then reads it)."""
    try:
        return file_sha256(src)
    except OSError:
        return ""


def written_this_run(dst: Path, since_ns: int) -> bool:
    """Whether an earlier attempt of this run already wrote dst (Ray retried its batch after the worker died).
    Outputs appear by rename, so one that exists is complete; `since_ns` is the run marker's mtime, taken
    from the same file system, so node clocks do not matter."""
    try:
        return dst.stat().st_mtime_ns >= since_ns
    except FileNotFoundError:
        return False


class PhotoBatch(_ModelActor):
    """Rows {src, dst, hints} -> rows {src, dst, status, note, notes, seconds, sha256}; status is done, colour (skipped
    as already in colour), failed (note holds the error) or storage (the output's disk is full: note holds the
    error, and the driver stops the run, as one machine does). A done row's note and notes (newline-joined)
    are one machine's Result.note and .notes; sha256 is the input's, read here so that the driver, which journals
    it, does not read every input again (empty where it was not read). `hints` is a photo's sidecar hints as
    Hints.to_obj JSON, or empty."""

    def __init__(self, colorizer: Colorizer, opts: FolderOptions, since_ns: int, device: str = "cpu", threads: int = 1,
                 driver_model_id: str | None = None):
        super().__init__(colorizer, device, threads, driver_model_id)
        self.opts, self.since_ns = opts, since_ns

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        t0 = time.time()
        rows, ready = [], []
        for src, dst, hints in zip(batch["src"], batch["dst"], batch.get("hints", [""] * len(batch["src"]))):
            src, dst, hints = Path(src), Path(dst), Hints.from_parsed(json.loads(hints)) if hints else None
            if written_this_run(dst, self.since_ns):
                rows.append(_row(src, dst, "done", "written by an earlier attempt of this run", t0))
                continue
            img = read_or_error(src)  # as one machine reads: a file that crashes the reader fails alone (one damaged TIFF
            if isinstance(img, VidcolorError):  # had aborted a whole Ray run, with a 177-line traceback; a review)
                rows.append(_row(src, dst, "failed", str(img), t0))
                continue
            if (misfit := sidecar_misfit(hints, src, img.pixels.shape)) is not None:
                rows.append(_row(src, dst, "failed", str(misfit), t0))
                continue
            sha = input_sha256(src)
            if not self.opts.force and (score := colour_photo_score(img.pixels)) is not None:
                rows.append(_row(src, dst, "colour", str(score), t0, score, sha256=sha))
            else:
                ready.append((src, dst, img, hints, sha))
        outs = self.colorizer.colorize_arrays([r[2].pixels for r in ready], [r[3] for r in ready], self.opts.batch_size) if ready else []
        for (src, dst, img, hints, sha), out in zip(ready, outs):
            try:
                make_folders(dst.parent)
                write_image(dst, out, img, self.colorizer.provenance)
            except StorageError as e:  # a full disk: it was one failed row each, and the run went on to fail them all,
                rows.append(_row(src, dst, "storage", str(e), t0))  # exit 1 where one machine stops with 4 (an operator's test)
                continue
            except VidcolorError as e:
                rows.append(_row(src, dst, "failed", str(e), t0))
                continue
            except OSError as e:  # the folder could not be made
                if out_of_space(e):
                    rows.append(_row(src, dst, "storage", f"{dst.parent}: cannot create the output folder: {e.strerror}; the run stops", t0))
                else:
                    rows.append(_row(src, dst, "failed", f"{dst.parent}: cannot create the output folder ({e.strerror})", t0))
                continue
            except Exception as e:  # a defect met on one photo: it fails, named in one line, and the run goes on
                rows.append(_row(src, dst, "failed", unexpected(src, e), t0))
                continue
            # as one machine's Result: Ray's had put every note in `note` (an operator's test)
            rows.append(_row(src, dst, "done", "with hints" if hints else None, t0, notes=[*img.notes, *lost_in(img, dst)],
                             sha256=sha))
        return {k: [r[k] for r in rows] for k in ("src", "dst", "status", "note", "notes", "seconds", "score", "logit", "sha256")}


def _row(src: Path, dst: Path, status: str, note: str | None, t0: float, scores: ColourScores | None = None,
         notes: list[str] = (), sha256: str = "") -> dict:
    """One output row; `score` and `logit` are those of a photo skipped as already in colour (NaN otherwise:
    one column type in every batch); `notes` newline-joined (one string column)."""
    score, logit = scores or (float("nan"), float("nan"))
    return {"src": str(src), "dst": str(dst), "status": status, "note": note, "notes": "\n".join(notes),
            "seconds": time.time() - t0, "score": score, "logit": logit, "sha256": sha256}


class PlannedCuts:
    """The scene cuts the driver found, in the shape colorize_frames asks of a SceneCuts detector."""

    def __init__(self, cuts: list[int]):
        self.cuts = sorted(cuts)
        self._at = set(cuts)

    def is_cut(self, gray_u8: np.ndarray, frame_index: int | None = None, record: bool = True) -> bool:
        return frame_index in self._at


def fingerprint(frame: Frame) -> np.ndarray:
    """A decoded frame -> (16, 16) uint8 thumbnail of its limited-range luma, to recognise it: its luma
    plane, or (a frame decoded as RGB, on a GPU worker) the BT.601 luma of its RGB, which is the plane
    swscale made that RGB from, within its rounding."""
    if frame.luma is not None:
        gray = frame.luma
    else:
        gray = cv2.convertScaleAbs(cv2.cvtColor(np.ascontiguousarray(frame.rgb), cv2.COLOR_RGB2GRAY), alpha=219 / 255, beta=16)
    return cv2.resize(gray, (FINGERPRINT_SIZE, FINGERPRINT_SIZE), interpolation=cv2.INTER_AREA)


class SeekMismatch(Exception):
    """Frames decoded after a seek are not the frames a decode from the start gives at those indices."""


def _checked(frames: Iterator[Frame], checks: dict[int, np.ndarray]) -> Iterator[Frame]:
    for f in frames:
        want = checks.get(f.index)
        if want is not None and np.abs(fingerprint(f).astype(np.int16) - want).mean() > FINGERPRINT_TOLERANCE:
            raise SeekMismatch(f.index)
        yield f


def colorize_range(colorizer: Colorizer, src: Path, r: Range, after_pts: int | None, cuts: list[int], opts: VideoOptions,
                   plan: OutputPlan, segment: Path, checks: dict[int, np.ndarray] | None = None) -> dict:
    """Colorize frames [r.start, r.end) of src into the segment file `segment` (atomically, encoded as the
    driver's output plan says), running the r.warmup frames before r.start through the network and the
    smoother first. `after_pts` is the pts of the frame before the first one decoded (None from the
    film's start). Returns the segment's record for the joiner.

    The range's first frame is found by seeking. Some files flag frames as keyframes that cannot be
    decoded from (a real one, cockatoo.mp4, gives garbage after any seek); `checks` holds the driver's
    fingerprints of the first decoded frames, and where they do not match the range is decoded again
    from the start of the film, which is slower but right."""
    try:
        return _encode_range(colorizer, src, r, after_pts, cuts, opts, plan, segment, checks or {})
    except SeekMismatch:
        pass
    try:
        seg = _encode_range(colorizer, src, r, None, cuts, opts, plan, segment, checks or {})
    except SeekMismatch as e:
        raise InputError(f"{src}: frame {e.args[0]} decodes differently on this worker than in the driver's scan "
                         "(is the same PyAV installed on every node?)") from None
    seg["notes"].append("seeking in this file gives other frames than decoding it from the start: "
                        "ranges were decoded from the start")
    return seg


def _encode_range(colorizer: Colorizer, src: Path, r: Range, after_pts: int | None, cuts: list[int], opts: VideoOptions,
                  plan: OutputPlan, segment: Path, checks: dict[int, np.ndarray]) -> dict:
    first = r.start - r.warmup
    # frames(ResumePoint(n, pts)) seeks to the keyframe before pts; without a pts it decodes from the start
    resume = ResumePoint(first, after_pts) if first else None
    smoother = make_smoother(opts.temporal, opts.temporal_strength, colorizer.device)
    planned = PlannedCuts(cuts)
    with VideoSource(src) as source:
        encoder = SegmentEncoder(segment, source.info, plan)

        def encode(frames: list[tuple[np.ndarray, int]]) -> None:
            for rgb, pts in frames:
                try:
                    encoder.write(rgb, pts)
                except av.error.FFmpegError as e:  # a full disk stops the run (exit 4), as on one machine: it had
                    # failed this film alone (exit 1) and gone on to the folder's next (an operator's find)
                    raise write_failure(e, f"{plan.dst}: encoding failed at frame {r.start + encoder.frames} (pts {pts}): {_reason(e)}",
                                        RANGES_KEPT) from e

        writer = BackgroundWorker(encode, depth=2, name="encode")
        try:
            with source.frames_ahead(resume, depth=2 * opts.batch_size, luma=luma_path(colorizer, plan.pix_fmt, source.info, plan.matrix)) as decoded:
                frames = takewhile(lambda f: f.index < r.end, _checked((f for f in decoded if not f.warmup), checks))
                for batch in stride_batches(frames, opts.batch_size, network_stride(smoother)):
                    out = colorize_frames(colorizer, batch, smoother, planned, pix_fmt=plan.pix_fmt, matrix=plan.matrix,
                                          rotation=source.info.rotation,
                                          look_ahead=torch.get_num_threads() > 1)  # a flow thread only within the CPUs given (on_device)
                    keep = [(rgb, f.pts) for f, rgb in zip(batch, out) if f.index >= r.start]
                    if keep:
                        writer.submit(keep)
            writer.close()
            if encoder.frames != r.frames:
                raise InputError(f"{src}: frames {r.start} to {r.end - 1}: the video ended after {encoder.frames} of them")
            try:
                seg = encoder.finish()
            except av.error.FFmpegError as e:
                raise write_failure(e, f"{plan.dst}: encoding failed at the end of frames {r.start} to {r.end - 1}: {_reason(e)}",
                                    RANGES_KEPT) from e
        except BaseException:
            writer.close_quietly()
            encoder.abort()
            raise
    return {**asdict(seg), "start": r.start, "notes": []}


class FilmRange(_ModelActor):
    """Rows {task: JSON of a range} -> rows {result: JSON of the segment record, or of the error}."""

    def __init__(self, colorizer: Colorizer, src: str, opts: VideoOptions, plan: OutputPlan, work: str, device: str = "cpu",
                 threads: int = 1, driver_model_id: str | None = None):
        super().__init__(colorizer, device, threads, driver_model_id)
        self.src, self.opts, self.plan, self.work = Path(src), opts, plan, Path(work)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        out = []
        for task in batch["task"]:
            t = json.loads(task)
            r = Range(t["start"], t["end"], t["warmup"])
            t0 = time.time()
            try:
                checks = {int(k): np.array(v, np.uint8) for k, v in t["checks"].items()}
                seg = colorize_range(self.colorizer, self.src, r, t["after_pts"], t["cuts"], self.opts, self.plan,
                                     self.work / f"r{t['i']:06d}.mp4", checks)
                out.append(json.dumps({"i": t["i"], "segment": seg, "seconds": time.time() - t0}))
            except VidcolorError as e:
                out.append(json.dumps({"i": t["i"], "error": str(e), "kind": type(e).__name__}))
            except Exception as e:  # a defect met in one range fails this film in one line, as on one machine,
                # where it had aborted the whole Ray run (and every other film of a folder) with a traceback
                out.append(json.dumps({"i": t["i"], "error": unexpected(self.src, e), "kind": "InputError"}))
        return {"result": out}
