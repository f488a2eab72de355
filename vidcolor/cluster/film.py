"""A film on the cluster: scanned once for scene cuts on the driver, cut into ranges of whole shots (long
shots split, with warm-up frames), each range colorized into a segment file by a worker, and the
segments joined by the same joiner as a one-machine run, without re-encoding, audio included.

    driver: scan (pts, cuts) -> plan_ranges -> ray.data rows ---> FilmRange actors: decode the range,
            done.jsonl <- one line per finished range <----------   colorize, smooth, encode rNNNNNN.mp4
            all ranges done -> io.mux.join_segments (the one-machine joiner) -> dst, journal

The work folder (OUT/.vidcolor/ray/NAME.work, on shared storage) keeps the plan and the finished
ranges, so a re-run after a killed driver only does the ranges that are missing.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from vidcolor.archive import (STATE_DIR, Journal, OutputLock, already_done, failures_journaled, refuse_foreign_output,
                              reported_if_journaled)
from vidcolor.cluster.plan import Range, plan_ranges, warmup_for
from vidcolor.cluster.runtime import Pool, rows_of
from vidcolor.cluster.workers import CHECKED_FRAMES, FilmRange, fingerprint
from vidcolor.colorizer import Colorizer
from vidcolor import errors
from vidcolor.io.base import VideoInfo
from vidcolor.io.mux import join_segments
from vidcolor.io.plan import OutputPlan, plan_output
from vidcolor.io.paths import atomic_write_text, durable_replace
from vidcolor.io.segments import discard_work, ray_work_dir, segment_frames
from vidcolor.io.video import VideoSource
from vidcolor.io.paths import check_output, stale_temporaries, stat_key, temp_output_path
from vidcolor.options import Result, VideoOptions, same_key
from vidcolor.pipeline import Progress, _cut_thumbnail, _input_stat, frames_l, video_key
from vidcolor.temporal import SceneCuts, cuts_note, mode_stride

PLAN_VERSION = 5  # part of the work folder's key: plans of an older layout are discarded


def scan(source: VideoSource) -> tuple[list[int], list[int], np.ndarray]:
    """Every frame's pts, the scene cuts (found exactly as a one-machine run finds them: same L
    thumbnails, same detector, fed in order) and every frame's fingerprint, (n, 16, 16) uint8."""
    cuts = SceneCuts(source.info.fps)
    pts, prints = [], []
    with source.frames_ahead(depth=8, luma=True) as frames:  # luma planes: no RGB conversion, and the CPU pipeline's L
        for f in frames:
            cuts.is_cut(_cut_thumbnail(frames_l([f], torch.device("cpu")))[0].numpy(), f.index)
            pts.append(f.pts)
            prints.append(fingerprint(f))
    return pts, cuts.cuts, np.stack(prints) if prints else np.zeros((0, 16, 16), np.uint8)


class RangeWork:
    """The film's work folder: plan.json (written once), done.jsonl (one line per finished range, by the
    driver alone) and the workers' segment files. Anything made under another key is discarded."""

    def __init__(self, folder: Path, key: str):
        self.folder, self.key = folder, key
        self.plan: dict | None = None
        self.done: dict[int, dict] = {}
        try:
            plan = json.loads((folder / "plan.json").read_text())
        except (OSError, ValueError):
            plan = None
        if plan is None or not same_key(plan.get("key"), key):  # (a key written with the temporal mode as the enum: same_key)
            self.discard()
            return
        self.plan = plan
        if (folder / "done.jsonl").is_file():
            for line in (folder / "done.jsonl").read_text().splitlines():
                try:
                    seg = json.loads(line)
                except ValueError:
                    continue  # a line cut off by a kill
                if (folder / seg["file"]).is_file():
                    self.done[seg["i"]] = seg

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.plan, self.done = None, {}

    def save_plan(self, plan: dict) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.folder / "plan.json", json.dumps({**plan, "key": self.key}))
        except OSError as e:  # a full disk: exit 4, as one machine's segments' log (it was an unexpected error)
            raise errors.write_failure(e, f"{self.folder}: cannot save the film's plan ({e.strerror or e})") from e
        self.plan = {**plan, "key": self.key}

    def record(self, seg: dict) -> None:
        try:
            with open(self.folder / "done.jsonl", "a") as f:
                f.write(json.dumps(seg) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise errors.write_failure(e, f"{self.folder}: cannot record a finished range ({e.strerror or e})",
                                       " (the ranges recorded before are kept)") from e
        self.done[seg["i"]] = seg


def _scan_and_plan(source: VideoSource, opts: VideoOptions) -> dict:
    pts, cuts, prints = scan(source)
    stride = mode_stride(opts.temporal)
    plan = make_plan(pts, cuts, prints, segment_frames(opts.segment_seconds, source.info.fps, stride), warmup_for(opts.temporal), stride)
    plan["ends_early"] = source.ends_early(len(pts))  # kept in the plan, so a resumed run says it too
    plan["damage"] = source.damage(len(pts))  # the scan decodes the whole film: its gaps, as one machine's run says them
    return plan


def make_plan(pts: list[int], cuts: list[int], prints: np.ndarray, max_frames: int, warmup: int, stride: int = 1) -> dict:
    """The ranges, and what their workers need beside them: the pts to seek after and the fingerprints
    of the first frames each range decodes, to confirm its seek landed right."""
    ranges = plan_ranges(len(pts), cuts, max_frames, warmup, stride)
    checks = [{str(i): prints[i].tolist() for i in range(r.start - r.warmup, min(r.end, r.start - r.warmup + CHECKED_FRAMES))}
              for r in ranges]
    return {"version": PLAN_VERSION, "pts": pts, "cuts": cuts, "ranges": [asdict(r) for r in ranges], "checks": checks}


def _tasks(film: dict, todo: list[int]) -> list[dict]:
    pts, cuts = film["pts"], film["cuts"]
    tasks = []
    for i in todo:
        r = Range(**film["ranges"][i])
        first = r.start - r.warmup
        tasks.append({"task": json.dumps({"i": i, **asdict(r), "after_pts": pts[first - 1] if first else None,
                                          "cuts": [c for c in cuts if first <= c < r.end], "checks": film["checks"][i]})})
    return tasks


def _join(dst: Path, info: VideoInfo, plan: OutputPlan, work: RangeWork) -> list[str]:
    """Join the finished ranges with the one-machine joiner (packets copied with their source pts, audio
    and subtitles muxed as the plan says), through a temporary name renamed when whole. Returns notes."""
    segments = [work.done[i] for i in range(len(work.plan["ranges"]))]
    tmp = temp_output_path(dst)
    notes = join_segments([(work.folder / s["file"], s["first_pts"]) for s in segments], tmp, info, plan, info.rotation,
                          info.mirror_matrix)
    durable_replace(tmp, dst)  # before the journal's line
    return list(dict.fromkeys(n for s in segments for n in s["notes"])) + notes


def colorize_video_on_ray(ray, pool: Pool, src: Path, dst: Path, colorizer: Colorizer, opts: VideoOptions,
                          progress: Progress | None = None, folder_run: bool = False) -> Result:
    """`colorize_video` on a Ray cluster: same checks, lock, journal key and output."""
    t0 = time.time()
    check_output(src, dst)
    plan = plan_output(src, dst, opts.codec, opts.crf, opts.preset)  # an impossible output fails before decoding
    root = dst.parent
    key = video_key(colorizer, opts, plan)
    plan = dataclasses.replace(plan, made_by=colorizer.provenance)  # named in the output (mux.Passthrough.label)
    with reported_if_journaled(root, src, key, dst) as end, OutputLock(root, dst):
        for stale in stale_temporaries(dst):
            stale.unlink(missing_ok=True)
        journal = Journal(root, remember=True)
        with failures_journaled(journal, src, key, dst):  # a film gone since its plan: "file not found", as on one
            st = _input_stat(src)  # machine (a bare stat raised FileNotFoundError: a reviewer's find)
        work = RangeWork(ray_work_dir(dst, root / STATE_DIR), f"{key}|{st.st_size}|{st.st_mtime_ns}|plan{PLAN_VERSION}")
        if opts.overwrite:
            work.discard()
            discard_work(dst, root / STATE_DIR)  # and a one-machine run's segments: the run starts over
        elif journal.finished(src, key, dst):
            discard_work(dst, root / STATE_DIR)  # a run killed after journaling left it (or a one-machine run's)
            return Result(src, dst, "skipped", note=already_done(journal, dst))
        # as `colorize_video` does: a file vidcolor did not write, edited or made read-only since is refused
        # (a review replaced a protected film), and dst is marked as ours before it can appear, so a run stopped
        # between the join's rename and the journal's line (hashing a long film) is resumed, not refused
        refuse_foreign_output(journal, dst, opts.overwrite, folder_run=folder_run, src=src if folder_run else None)
        journal.touch(dst, redo_key=key if opts.overwrite else None)
        with failures_journaled(journal, src, key, dst):  # as on one machine
            with VideoSource(src) as source:
                if work.plan is None:
                    work.save_plan(_scan_and_plan(source, opts))
                else:
                    frames = source.frames()
                    next(frames, None)  # the display rotation is read from the first frame
                    frames.close()
                info = source.info
            film = work.plan
            if film.get("ends_early"):  # the last frame lasts one frame, as on one machine
                info.end_pts = None
            total = len(film["pts"])
            resumed = sum(Range(**film["ranges"][i]).frames for i in work.done)
            todo = [i for i in range(len(film["ranges"])) if i not in work.done]
            _run_ranges(ray, pool, src, colorizer, opts, plan, work, _tasks(film, todo), progress, resumed, total)
            notes = plan.notes + _join(dst, info, plan, work)
        end.result = _done(src, dst, t0, notes, film, pool, resumed, total)
        journal.record(src, key, "done", dst, stat=stat_key(st))  # as before the run
        discard_work(dst, root / STATE_DIR)  # ours, and a stopped one-machine run's
    return end.result


def _done(src: Path, dst: Path, t0: float, notes: list[str], film: dict, pool: Pool, resumed: int, total: int) -> Result:
    """The result of a film joined, made before it is journaled (`reported_if_journaled`)."""
    notes.append(f"ran as {_count(len(film['ranges']), 'range')} on {_count(pool.size, 'Ray worker')} "
                 f"({_count(len(film['cuts']), 'scene cut')})")
    if resumed:
        notes.append(f"resumed: {resumed} frames in ranges finished by an earlier run")
    if film["cuts"]:
        notes.append(cuts_note(film["cuts"]))
    if film.get("damage"):
        notes.append(film["damage"])
    return Result(src, dst, "done", time.time() - t0, total, note=film.get("ends_early"), notes=notes, frames_resumed=resumed)


def _run_ranges(ray, pool: Pool, src: Path, colorizer: Colorizer, opts: VideoOptions, plan: OutputPlan, work: RangeWork,
                tasks: list[dict], progress: Progress | None, done_frames: int, total: int) -> None:
    """Colorize the ranges on the actor pool and record each finished one; then raise the first range's
    error, if any (the finished ranges are kept for a re-run)."""
    if not tasks:
        return
    ds = ray.data.from_items(tasks, override_num_blocks=len(tasks)).map_batches(
        FilmRange, batch_size=1, compute=ray.data.ActorPoolStrategy(size=min(pool.size, len(tasks))),
        num_cpus=pool.num_cpus, num_gpus=pool.num_gpus,
        # absolute paths: a worker's working directory is its raylet's, not the driver's (see photos.py)
        fn_constructor_kwargs={"colorizer": colorizer, "src": str(src.absolute()), "opts": opts, "plan": plan,
                               "work": str(work.folder.absolute()),
                               "device": pool.device, "threads": max(1, pool.num_cpus), "driver_model_id": colorizer.model_id})
    error = None
    for row in rows_of(ds):
        res = json.loads(row["result"])
        if "error" in res:
            if error is None or (res["kind"] == "StorageError" and not isinstance(error, errors.StorageError)):
                error = getattr(errors, res["kind"], errors.VidcolorError)(res["error"])  # a full disk stops the run
            continue
        work.record({**res["segment"], "i": res["i"]})
        done_frames += res["segment"]["frames"]
        if progress:
            progress(done_frames, total)
    if error is not None:
        raise error
    if len(work.done) != len(work.plan["ranges"]):
        raise errors.OutputError(f"{src}: {len(work.plan['ranges']) - len(work.done)} ranges came back without a segment")


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"
