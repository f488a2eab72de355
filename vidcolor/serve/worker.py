"""The one thread that runs the model for the server, fed by two bounded queues.

Photos wait in one queue and video jobs in another; a full queue refuses at once (Busy, answered 429)
instead of letting requests pile up in memory. Photos go first, and a running video job hands the
thread to waiting photos between its batches (`serve_waiting_photos`, called from the job's progress
callback), so a clip being colorized never stalls the page's click-to-hint for minutes. The model is
never run by two threads at once.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Callable


class Busy(Exception):
    """The queue is full: try again shortly."""


class Stopped(Exception):
    """The server is shutting down; the task was not run (or was cancelled between batches)."""


class ModelWorker:
    def __init__(self, photo_slots: int, job_slots: int, name: str = "vidcolor-model"):
        self.photo_slots, self.job_slots = photo_slots, job_slots
        self._photos: deque[tuple[Future, Callable]] = deque()
        self._jobs: deque[tuple[Future, Callable]] = deque()
        self._cv = threading.Condition()
        self._stopping = False
        self._stopped_at: float | None = None  # time.monotonic() of the first stop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def waiting(self) -> dict[str, int]:
        with self._cv:
            return {"photos": _live(self._photos), "jobs": _live(self._jobs)}

    def submit_photo(self, fn: Callable) -> Future:
        return self._submit(self._photos, self.photo_slots, fn, "photo")

    def submit_job(self, fn: Callable) -> Future:
        return self._submit(self._jobs, self.job_slots, fn, "video job")

    def jobs_full(self) -> str | None:
        """Why a video job would be refused now (the Busy message), or None: asked before a clip's upload is read,
        so that a full queue is not found only once the whole clip has come in."""
        with self._cv:
            return _full(self._jobs, self.job_slots, "video job")

    def _submit(self, q: deque, slots: int, fn: Callable, what: str) -> Future:
        fut: Future = Future()
        with self._cv:
            if self._stopping:
                raise Stopped("the server is shutting down")
            if why := _full(q, slots, what):
                raise Busy(why)
            q.append((fut, fn))
            self._cv.notify()
        return fut

    def serve_waiting_photos(self) -> None:
        """Run the photos waiting now. Only the worker thread may call this (from inside a job)."""
        if threading.current_thread() is not self._thread:
            raise RuntimeError("serve_waiting_photos called outside the model worker thread")
        while True:
            with self._cv:
                if not self._photos or self._stopping:
                    return
                task = self._photos.popleft()
            _run_task(*task)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not (self._photos or self._jobs or self._stopping):
                    self._cv.wait()
                if self._stopping:
                    return
                task = (self._photos or self._jobs).popleft()
            _run_task(*task)

    def stop(self, timeout: float = 30.0) -> None:
        """Refuse new work, cancel what waits, and wait for the running task (a job stops at its next batch)
        until `timeout` seconds after the first call (the server calls it at once on SIGTERM, with 0, and
        again once uvicorn has shut down)."""
        with self._cv:
            self._stopping = True
            self._stopped_at = self._stopped_at or time.monotonic()
            pending = list(self._photos) + list(self._jobs)
            self._photos.clear()
            self._jobs.clear()
            self._cv.notify_all()
        for fut, _ in pending:
            if fut.set_running_or_notify_cancel():  # one cancelled while it waited (a DELETE, a client gone) is done
                fut.set_exception(Stopped("the server is shutting down"))
        self._thread.join(max(0.0, self._stopped_at + timeout - time.monotonic()))


def _full(q: deque, slots: int, what: str) -> str | None:
    """Why the queue `q` takes no more (under the lock), or None. A task cancelled while it waited (its client
    gone) holds no place."""
    if _live(q) >= slots:
        return f"busy: {len(q)} {what} requests are already waiting for the model; try again shortly"
    return None


def _live(q: deque) -> int:
    """Drop the tasks cancelled while they waited; how many are left."""
    for task in [t for t in q if t[0].cancelled()]:
        q.remove(task)
    return len(q)


def _run_task(fut: Future, fn: Callable) -> None:
    if not fut.set_running_or_notify_cancel():
        return
    try:
        fut.set_result(fn())
    except BaseException as e:  # handed to whoever waits on the future, which re-raises it
        fut.set_exception(e)
