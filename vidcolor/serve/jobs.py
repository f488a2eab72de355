"""Video jobs: a clip uploaded, colorized by the model thread, then downloaded, or cancelled.

Each job lives in its own folder under one temporary root the server made; the clip inside is named
by its sha256, so the same clip at the same strength is one job, not two. Finished jobs beyond
`keep_jobs` lose their files oldest first, and closing the store removes the root. Each upload gets
an id of its own, so that one sender's DELETE (`JobStore.cancel`) drops only its own claim: the work
stops at its next batch (or never starts) and loses its files once no upload still wants it, and a
finished result is removed once every id holding it is.
"""
from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from vidcolor.archive import process_running
from vidcolor.colorizer import Colorizer
from vidcolor.errors import InputError, StillImageError, VidcolorError
from vidcolor.io.video import VideoSource
from vidcolor.pipeline import VideoOptions, colorize_video
from vidcolor.serve import ServeConfig
from vidcolor.serve.logs import log, one_line
from vidcolor.serve.tasks import TEMP_PREFIX, at_strength
from vidcolor.serve.uploads import (VIDEO_HEAD_BYTES, RequestError, identify_image, no_room, not_a_clip, out_of_room,
                                    pixels_over, room_for, starts_like_a_video)
from vidcolor.serve.worker import ModelWorker, Stopped


class Cancelled(Exception):
    """A job's progress callback saw its cancel request: colorize_video stops between batches."""


MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"  # FFmpeg's name for the demuxer of these
MEDIA_TYPE = {".mp4": "video/mp4", ".mkv": "video/x-matroska"}
COPY_CHUNK = 1 << 20
FAILED_KEPT = 64  # failed and cancelled jobs whose state /api/jobs/ID still gives
REMOVED_KEPT = 4096  # ids of removed jobs still named as such (older ones are "unknown")
ID_SHOWN = 40  # characters of an unknown id a 404 repeats; this server's ids have 16


@dataclass
class Job:
    id: str
    sha256: str
    strength: float
    folder: Path
    src: Path
    dst: Path
    frames: int  # expected, from the container; 0 when unknown
    max_frames: int = 0  # the fewer of --max-video-frames and --max-video-seconds in frames at the clip's rate; past it
    over: str = ""  # the job fails with this
    state: str = "queued"  # queued -> running -> done | failed | cancelled
    done: int = 0
    cancel_requested: bool = False  # set when no upload wants it any more; it stops at its next batch
    future: Future | None = field(default=None, repr=False)
    holders: set[str] = field(default_factory=set)  # the ids (one per upload of this clip) that still want it
    dropped: dict[str, int] = field(default_factory=dict)  # ids cancelled by a DELETE -> frames done then
    ended: threading.Event = field(default_factory=threading.Event, repr=False)  # set once its state is final
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # the run's notes, once done
    created: float = field(default_factory=time.time)
    finished: float | None = None
    sent: str = ""  # who sent it, for the log: "from 127.0.0.1:5555, file 'clip.mp4' (1,234 bytes)"

    @property
    def label(self) -> str:
        return f"upload {self.sha256[:12]}"

    def public(self, as_id: str | None = None) -> dict:
        """The job as the upload with id `as_id` (default: its first) sees it."""
        as_id = as_id or self.id
        state, done = (("cancelled", self.dropped[as_id]) if as_id in self.dropped else (self.state, self.done))
        # the header's count is an estimate: past it the total is not known (null), where the page had said
        # "34 of 30 frames" with its bar full while the clip went on
        total = done if state == "done" else self.frames if self.frames >= done else 0
        return {"id": as_id, "state": state, "frames_done": done, "frames_total": total or None,
                "progress": 1.0 if state == "done" else (done / total if total else None),
                "strength": self.strength, "error": self.error, "notes": self.notes if state == "done" else [],
                "seconds": round((self.finished or time.time()) - self.created, 2)}


OWNER_FILE = "server.pid"


def remove_abandoned_job_folders(tmp: Path | None = None) -> list[Path]:
    """Delete the job folders (uploads, work, results) of servers that are gone: a SIGKILLed server left
    its folder in the temporary directory for good, a restart did not clean it (an operator's test).
    A folder is abandoned when the pid it names is no running process of this PID namespace (a server in
    another container sharing the temporary directory is left alone: its pids mean nothing here); one
    without a pid file (a server of an older version, or one just starting) is left alone too."""
    gone, here = [], _pid_namespace()
    for folder in Path(tmp or tempfile.gettempdir()).glob(TEMP_PREFIX + "jobs-*"):
        try:
            pid, namespace = (folder / OWNER_FILE).read_text().split(" ", 1)
            pid = int(pid)
        except (OSError, ValueError):
            continue
        if namespace == here and not process_running(pid):
            shutil.rmtree(folder, ignore_errors=True)
            gone.append(folder)
    return gone


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "unknown"





def shown_id(job_id: str) -> str:
    """An id as a refusal repeats it: a 5,000-character id was echoed whole in its 404 (into the client's page and
    any log of answers), so one past ID_SHOWN characters is cut, saying how long it was."""
    if len(job_id) <= ID_SHOWN:
        return repr(job_id)
    return f"{job_id[:ID_SHOWN]!r}... ({len(job_id):,} characters)"


class JobStore:
    def __init__(self, worker: ModelWorker, colorizer: Colorizer, config: ServeConfig):
        self.worker, self.colorizer, self.config = worker, colorizer, config
        remove_abandoned_job_folders()
        self.root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX + "jobs-"))
        (self.root / OWNER_FILE).write_text(f"{os.getpid()} {_pid_namespace()}")
        self._jobs: dict[str, Job] = {}  # by the job's own id
        self._ids: dict[str, Job] = {}  # every upload's id -> its job
        self._lock = threading.Lock()
        # Every job id of this server starts with it, so an id from before a restart is told apart (jobs live in memory).
        self.epoch = secrets.token_hex(2)
        self._removed: OrderedDict[str, str] = OrderedDict()  # the last REMOVED_KEPT ids removed -> why

    def _add(self, job: Job) -> None:
        """Register a new job under its own id (under the lock)."""
        self._jobs[job.id] = job
        self._hold(job, job.id)

    def _hold(self, job: Job, job_id: str) -> None:
        """`job_id` (an upload's) now names `job` and wants it (under the lock)."""
        self._ids[job_id] = job
        job.holders.add(job_id)

    def view(self, job_id: str) -> dict:
        """GET /api/jobs/ID."""
        return self.get(job_id).public(job_id)

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._ids.get(job_id)
            removed = self._removed.get(job_id)  # why it is gone, if it was here
        if job is None:
            if removed:
                why = removed
            elif len(job_id) == 16 and all(c in "0123456789abcdef" for c in job_id) and not job_id.startswith(self.epoch):
                # (or mistyped: a typo in its first characters reads the same; a new user's was called "restarted")
                why = "not one of this server's: mistyped, or made before the server restarted (jobs live only as long as the server)"
            else:
                why = "unknown id"
            raise RequestError(404, f"no job {shown_id(job_id)}: {why}")
        return job

    def create(self, upload: BinaryIO, strength: float, sent: str = "") -> dict:
        """Take an uploaded clip (a file object), check it, and queue its job; the job as this upload's id
        sees it. `sent` says who sent it, for the log lines of a job that fails or is cancelled. Blocking: run
        in a thread."""
        with room_for("upload"):  # a full disk: its folder was a 500 and a traceback (a review)
            folder = Path(tempfile.mkdtemp(dir=self.root, prefix="job-"))
        try:
            job = self._prepare(upload, folder, strength)
            job.sent = sent
            with self._lock:
                same = next((j for j in self._jobs.values() if j.sha256 == job.sha256 and j.strength == strength
                             and j.state not in ("failed", "cancelled") and not j.cancel_requested), None)
                if same is not None:  # identified by content: the same clip is not colorized twice
                    shutil.rmtree(folder)
                    alias = self.epoch + secrets.token_hex(6)
                    self._hold(same, alias)
                    return same.public(alias)
                fut = job.future = self.worker.submit_job(lambda: self._run(job))
                self._add(job)
            fut.add_done_callback(lambda f: self._finish(job, f))
            return job.public()
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _prepare(self, upload: BinaryIO, folder: Path, strength: float) -> Job:
        incoming = folder / "upload"
        digest, size = hashlib.sha256(), 0
        with room_for("upload"), open(incoming, "wb") as f:
            while chunk := upload.read(COPY_CHUNK):
                size += len(chunk)
                if size > self.config.max_video_bytes:
                    raise RequestError(413, f"file is over the limit of {self.config.max_video_bytes:,} bytes "
                                            f"({self.config.max_video_mb:g} MB, --max-video-mb)")
                digest.update(chunk)
                f.write(chunk)
        sha = digest.hexdigest()
        label = f"upload {sha[:12]}"
        if size == 0:  # as /api/colorize answers it: a bad upload (400), not a format we do not take (415)
            raise RequestError(400, f"{label}: empty file (0 bytes)")
        image = identify_image(incoming)
        if image is not None and image.frames == 1:  # FFmpeg reads a still AVIF or a one-frame GIF as a clip of one frame
            raise RequestError(415, f"{label}: {not_a_clip(image.format)}")
        try:
            with VideoSource(incoming) as source:
                info, demuxer = source.info, source.container.format.name
        except VidcolorError as e:
            if image is not None:  # an animation FFmpeg cannot read (an animated WebP's frames have no size to it)
                raise RequestError(415, f"{label}: {not_a_clip(image.format, image.frames)}") from None
            if isinstance(e, StillImageError):  # one picture Pillow does not know: named as FFmpeg names it (EXR)
                raise RequestError(415, f"{label}: {not_a_clip(e.format)}") from None
            with open(incoming, "rb") as f:
                head = f.read(VIDEO_HEAD_BYTES)
            if starts_like_a_video(head):  # a video container cut short or damaged: a bad upload, as for photos
                reason = str(e).replace(str(incoming), label).replace("not a readable video", "corrupt or truncated video")
                raise RequestError(400, reason) from None
            raise RequestError(415, str(e).replace(str(incoming), label)) from None
        # an animated PNG's header has neither for FFmpeg, and it was refused as a clip of unknown length, although the
        # CLI colorizes it as one (a web-studio tester's find): Pillow counts its frames from the header (acTL)
        frames = info.frames or (image.frames if image is not None else 0)
        seconds = info.duration_s or (frames / info.fps if frames and info.fps > 0 else None)
        if seconds is None:
            raise RequestError(415, f"{label}: cannot tell the clip's duration (no duration or frame count in its header)")
        if info.width * info.height > self.config.max_megapixels * 1e6:  # as a photo is refused, from the header
            raise RequestError(413, f"{label}: frames are {info.width}x{info.height}, "
                                    + pixels_over(info.width, info.height, self.config.max_megapixels * 1e6))
        if seconds > self.config.max_video_seconds:
            raise RequestError(413, f"{label}: clip is {seconds:.1f} s long, over the limit of "
                                    f"{self.config.max_video_seconds:g} s (--max-video-seconds)")
        counted = frames or (round(seconds * info.fps) if info.fps > 0 else 0)  # a header without a count: its length x rate
        if counted > self.config.max_video_frames:
            raise RequestError(413, f"{label}: clip has {counted:,} frames, "
                                    f"over the limit of {self.config.max_video_frames:,} (--max-video-frames)")
        # Matroska takes whatever codecs the other streams have, so they are copied as they are.
        ext = ".mp4" if demuxer == MP4_FAMILY else ".mkv"
        src = folder / f"{sha}{ext}"
        incoming.rename(src)
        # the header's length is the clip's word: a clip whose header says 1 s and holds 20 is stopped once it
        # passes the limit (a review ran 240 frames through a 5 s limit with a patched MKV duration)
        max_frames, over = self.config.max_video_frames, (f"{label}: the clip runs on past {self.config.max_video_frames:,} "
                                                          "frames, the limit (--max-video-frames), although its header "
                                                          "says it has fewer")
        if info.fps > 0 and int(self.config.max_video_seconds * info.fps) + 1 < max_frames:
            max_frames = int(self.config.max_video_seconds * info.fps) + 1
            over = (f"{label}: the clip runs on past {self.config.max_video_seconds:g} s, the limit (--max-video-seconds), "
                    "although its header says it is shorter")
        return Job(self.epoch + secrets.token_hex(6), sha, strength, folder, src, folder / f"{sha}.colorized{ext}", frames,
                   max_frames=max_frames, over=over)

    def _run(self, job: Job) -> None:
        job.state = "running"

        def progress(done: int, total: int) -> None:
            job.done = done
            if self.worker.stopping:
                raise Stopped("the server is shutting down")
            if job.cancel_requested:
                raise Cancelled(f"job {job.id} was cancelled")
            if job.max_frames and done > job.max_frames:
                raise InputError(job.over)
            self.worker.serve_waiting_photos()

        res = colorize_video(job.src, job.dst, at_strength(self.colorizer, job.strength), VideoOptions(), progress=progress)
        # what the CLI prints after "done" (a clip cut short, damaged data, audio transcoded), uploads named as such
        job.notes = [str(n).replace(str(job.src), job.label) for n in ([res.note] if res.note else []) + list(res.notes)]

    def _finish(self, job: Job, fut: Future) -> None:
        exc = None if fut.cancelled() else fut.exception()
        if fut.cancelled() or exc is not None:  # it ends failed or cancelled: its files go before its state says so
            shutil.rmtree(job.folder, ignore_errors=True)  # (a client that saw "failed" had found them still there: CI)
        else:  # done: only its result is downloaded; the upload it was made from had stayed beside it, so the 8 done
            job.src.unlink(missing_ok=True)  # jobs kept held their clips twice over (up to 4 GB more; an IT admin's test)
        with self._lock:  # decided as a DELETE sees it: one after the last batch finds the job done or cancelled, never between
            job.finished = time.time()
            if fut.cancelled() or isinstance(exc, Cancelled) or (exc is None and job.cancel_requested):
                job.state, job.error = "cancelled", None  # cancelled after its last batch: no one wants the result
            elif exc is None:
                job.state = "done"
            else:
                job.state = "failed"
                # named as the upload and its output, not the server's temporary files (they are gone)
                job.error = (str(no_room(job.label, exc)) if out_of_room(exc) else
                             str(exc).replace(str(job.dst), f"{job.label} (its colorized copy)").replace(str(job.src), job.label)
                             .replace(str(job.folder), "(the job's folder)"))
        if job.state != "done":
            shutil.rmtree(job.folder, ignore_errors=True)
        self._log_end(job, exc)
        job.ended.set()
        self._prune()

    @staticmethod
    def _log_end(job: Job, exc: BaseException | None) -> None:
        """One line for a job that did not finish: no request is under way then, so RequestLog cannot say it. A
        failure of the server's own (not the clip's, nor a shutdown) with its traceback."""
        what = f"job {job.id} ({job.label}) {job.sent}".rstrip()
        if job.state == "cancelled":
            log.info("cancelled %s after %d frames: no upload wants it any more", what, job.done)
        elif job.state == "failed" and isinstance(exc, Stopped):
            log.warning("stopped %s after %d frames: %s", what, job.done, exc)
        elif job.state == "failed":
            unexpected = not isinstance(exc, VidcolorError) and not out_of_room(exc)
            log.log(logging.ERROR if unexpected or out_of_room(exc) else logging.WARNING, "failed %s after %d frames: %s",
                    what, job.done, one_line(job.error or type(exc).__name__), exc_info=exc if unexpected else None)

    def _prune(self) -> None:
        """Keep the files of the last `keep_jobs` done jobs. Failed jobs hold no files (they were removed
        when they failed) and do not count: eight failed uploads evicted a good result. Their records,
        which say why they failed, are kept for as many again."""
        with self._lock:
            for states, keep in ((("done",), self.config.keep_jobs), (("failed", "cancelled"), FAILED_KEPT)):
                ended = sorted((j for j in self._jobs.values() if j.state in states), key=lambda j: j.finished)
                for j in ended[: max(0, len(ended) - keep)]:
                    self._forget(j, f"it was removed to make room (the server keeps the last {self.config.keep_jobs} "
                                    f"done jobs and {FAILED_KEPT} failed or cancelled ones)")

    def _forget(self, job: Job, why: str) -> None:
        """Drop a finished job and its files; each of its ids then answers 404 with `why`. Under the lock."""
        del self._jobs[job.id]
        for job_id in [i for i, j in self._ids.items() if j is job]:
            self._forget_id(job_id, why)
        shutil.rmtree(job.folder, ignore_errors=True)

    def _forget_id(self, job_id: str, why: str) -> None:
        del self._ids[job_id]
        self._removed[job_id] = why
        while len(self._removed) > REMOVED_KEPT:
            self._removed.popitem(last=False)

    def cancel(self, job_id: str, wait: float = 10.0) -> dict:
        """DELETE /api/jobs/ID: this upload no longer wants its job. Once no upload does, a queued job never
        runs and a running one stops at its next batch (waited for up to `wait` seconds), losing its files;
        the id reads "cancelled" at once, and the job goes on for the others who sent the same clip. On a
        done job it removes this id, and the result once no id holds it. A failed job is left as it is."""
        job = self.get(job_id)
        with self._lock:
            if self._ids.get(job_id) is not job or job_id in job.dropped or job.state in ("failed", "cancelled"):
                return job.public(job_id)  # gone meanwhile, or nothing left to cancel
            if job.state == "done":
                self._forget_id(job_id, "its result was removed by a DELETE request")
                job.holders.discard(job_id)
                if not job.holders:
                    self._forget(job, "its result was removed by a DELETE request")
                return {**job.public(job_id), "state": "removed"}
            job.holders.discard(job_id)
            job.dropped[job_id] = job.done
            if job.holders:
                return job.public(job_id)
            job.cancel_requested = True
            fut = job.future
        if fut is not None and not fut.cancel():  # running (or just finished): it stops at its next batch
            job.ended.wait(wait)
        return job.public(job_id)

    def result(self, job_id: str) -> tuple[Path, str, str]:
        """(path, media type, download name) of a finished job's video."""
        job = self.get(job_id)
        state = job.public(job_id)["state"]
        if state != "done":
            why = f": {job.error}" if job.error else ("" if state == "cancelled" else ", not finished")
            raise RequestError(409, f"job {job_id} is {state}{why}")
        return job.dst, MEDIA_TYPE[job.dst.suffix], f"colorized-{job.sha256[:12]}{job.dst.suffix}"

    def close(self) -> None:
        """After the worker stopped: remove every job's files."""
        shutil.rmtree(self.root, ignore_errors=True)
