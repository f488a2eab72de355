"""The one threading helper: run a producer in a thread, hand its items over a bounded queue.

An exception in the producer re-raises in the consumer (never a hang), and a consumer that stops
early stops the producer. PyAV and PIL release the GIL while decoding and encoding, so this overlaps
codec work with inference.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable[T], depth: int = 4, name: str = "prefetch") -> Iterator[T]:
    """Iterate `items` in a background thread, at most `depth` items ahead of the consumer."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(x) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as e:  # handed to the consumer, which re-raises it
            put(_Failure(e))

    t = threading.Thread(target=work, name=name, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        t.join(timeout=5)


class BackgroundWorker:
    """A single consumer thread fed through a bounded queue (for sinks: encode while the next batch runs).

    `submit` blocks when the queue is full; an exception in `fn` re-raises at the next submit or at close.
    """

    def __init__(self, fn: Callable[[T], None], depth: int = 4, name: str = "worker"):
        self._fn = fn
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._exc: BaseException | None = None
        self._t = threading.Thread(target=self._run, name=name, daemon=True)
        self._t.start()

    def _run(self):
        while True:
            item = self._q.get()
            if item is _DONE:
                return
            if self._exc is not None:
                continue  # drain after a failure; the error is re-raised in the caller
            try:
                self._fn(item)
            except BaseException as e:
                self._exc = e

    def _check(self):
        if self._exc is not None:
            raise self._exc

    def submit(self, item: T) -> None:
        self._check()
        while True:
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                self._check()

    def close(self) -> None:
        """Wait for every submitted item, then re-raise the first failure if any."""
        self._q.put(_DONE)
        self._t.join()
        self._check()

    def close_quietly(self) -> None:
        """Stop after an error elsewhere: drop what is queued, wait for the thread, raise nothing."""
        self._exc = self._exc or RuntimeError("cancelled")
        self._q.put(_DONE)
        self._t.join()
