"""A folder of photos on the cluster: the one-machine folder run (lock, journal, skips, report) with its
image loop replaced by Ray Data over the inputs the journal says are still to do.

    driver                                      workers (actor pool, model loaded once per actor)
    journal -> to-do rows -> ray.data ---------> PhotoBatch: read, colorize, write dst atomically
    journal.record + Result  <-- rows stream back <-----'

Only the driver writes the journal, one line per input as its row arrives, so every finished output is
recorded exactly once however many times Ray retried the batch that made it.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Callable

from vidcolor.archive import Journal, input_key, refuse_foreign_output, remove_stale_temporaries
from vidcolor.cluster.runtime import Pool, rows_of
from vidcolor.cluster.workers import PhotoBatch
from vidcolor.colorizer import Colorizer
from vidcolor.errors import StorageError, VidcolorError
from vidcolor.folder import hinted_key, keep_colour_photo
from vidcolor.options import FolderOptions, Result
from vidcolor.tone import ColourScores

RUN_MARK = "ray-run"  # in the output's .vidcolor folder: its mtime is the start of the current run
MAX_BLOCKS = 20_000  # Ray Data plans every block up front; past this, blocks hold several batches


def mark_run_start(journal: Journal) -> int:
    """Touch the run marker on the output's file system and return its mtime (ns): outputs newer than it
    were written by this run."""
    mark = journal.path.parent / RUN_MARK
    mark.parent.mkdir(parents=True, exist_ok=True)
    with open(mark, "w") as f:
        f.write(f"{os.getpid()}\n")
    return mark.stat().st_mtime_ns


class RayPhotos:
    """Stands in for the one-machine image loop of `colorize_folder` (same arguments): the to-do list runs
    on the cluster's actor pool, and results are journaled and reported here as they stream back."""

    def __init__(self, ray, pool: Pool, on_first: Callable[[float], None] | None = None, worker: type = PhotoBatch):
        self.ray, self.pool, self.on_first, self.worker = ray, pool, on_first, worker  # on_first, worker: for benchmarks

    def __call__(self, todo: list[tuple[Path, Path, object]], colorizer: Colorizer, journal: Journal, key: str,
                 opts: FolderOptions, emit: Callable[[Result], None]) -> None:
        todo = _claim(todo, journal, key, opts, emit)
        if not todo:
            return
        t0 = time.time()
        since_ns = mark_run_start(journal)
        # the workers get absolute paths: a worker's working directory is its raylet's, not the driver's, so a
        # relative one (`cd /shared && vidcolor scans -o colour --ray head:6379`) failed every photo "file not
        # found", or read and wrote a file of that name under the raylet's folder and was journaled as done
        # (an operator's test); lines, journal and report keep the paths as the caller gave them
        given = {str(p.absolute()): (p, t, h) for p, t, h in todo}
        before = {a: _stat(p) for a, (p, t, h) in given.items()}  # journaled: a photo replaced on the way is redone
        rows = [{"src": a, "dst": str(t.absolute()), "hints": json.dumps(h.to_obj()) if h else ""} for a, (p, t, h) in given.items()]
        blocks = min(MAX_BLOCKS, math.ceil(len(rows) / opts.batch_size))
        ds = self.ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            self.worker, batch_size=opts.batch_size, compute=self.ray.data.ActorPoolStrategy(size=self.pool.size), num_cpus=self.pool.num_cpus,
            num_gpus=self.pool.num_gpus, fn_constructor_kwargs={
                "colorizer": colorizer, "opts": opts, "since_ns": since_ns,
                "device": self.pool.device, "threads": max(1, self.pool.num_cpus), "driver_model_id": colorizer.model_id})
        first = True
        for row in rows_of(ds):
            if first and self.on_first:
                self.on_first(time.time() - t0)
            first = False
            (src, dst, hints), status = given[row["src"]], row["status"]
            note = _as_given(row["note"], row, src, dst) if status in ("failed", "storage") else row["note"]
            own_key = hinted_key(key, hints)
            if status == "storage":  # the output's disk is full: the run stops, as on one machine (exit 4)
                raise StorageError(note)
            if status != "colour":
                journal.record(src, own_key, status, dst, note=note, stat=before[row["src"]], sha256=row["sha256"] or None)
            if status == "done":
                emit(Result(src, dst, "done", row["seconds"], 1, note=note, notes=row["notes"].split("\n") if row["notes"] else []))
            elif status == "colour":  # as on one machine: journaled, and copied to the output unless --no-copy-skipped
                try:
                    emit(keep_colour_photo(src, dst, journal, own_key, opts, time.time() - row["seconds"],
                                             ColourScores(float(row["score"]), float(row["logit"])), stat=before[row["src"]],
                                             sha256=row["sha256"] or None))
                except VidcolorError as e:
                    emit(Result(src, None, "failed", row["seconds"], error=str(e)))
            else:
                emit(Result(src, None, "failed", row["seconds"], error=note))
        # A worker killed while writing leaves its temporary behind; every writer of this run is done now.
        remove_stale_temporaries(journal.path.parent.parent)


def _as_given(error: str | None, row: dict, src: Path, dst: Path) -> str | None:
    """A worker's error with the paths as the caller gave them: the workers get absolute ones, and a relative run's
    failures were named by those (`FAILED /tmp/x/scans/b.jpg: ...` where one machine says `FAILED scans/b.jpg: ...`),
    in its lines, its report and the journal, whose note then differed from one machine's on every run, so that a
    broken scan added a line a night to a journal alternately run on Ray and on one machine (an operator's test)."""
    if not error:
        return error
    for absolute, spelled in ((row["src"], str(src)), (row["dst"], str(dst)), (str(Path(row["dst"]).parent), str(dst.parent))):
        error = error.replace(absolute, spelled)
    return error


def _stat(p: Path) -> dict | None:
    """A photo's size and mtime before the workers read it (None: the journal takes them when it records)."""
    try:
        return input_key(p)
    except OSError:
        return None


def _claim(todo: list[tuple[Path, Path, object]], journal: Journal, key: str, opts: FolderOptions, emit) -> list[tuple[Path, Path, object]]:
    """As the one-machine loop does before each write: an output file that no vidcolor run wrote fails
    its input (unless overwrite); the others are marked in the journal as about to be written, so a
    driver killed after a worker's rename does not find them foreign on the next run. With --overwrite each
    is marked as to be redone (every photo claimed, before the workers start: a stopped run's next run
    without -y redoes them all, as the -y run would have)."""
    claimed = []
    for src, dst, hints in todo:
        try:
            refuse_foreign_output(journal, dst, opts.overwrite, folder_run=True, src=src)
        except VidcolorError as e:
            emit(Result(src, None, "failed", 0.0, error=str(e)))
            continue
        journal.touch(dst, redo_key=hinted_key(key, hints) if opts.overwrite else None)
        claimed.append((src, dst, hints))
    return claimed
