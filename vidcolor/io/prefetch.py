"""The one threading helper: run a producer in a thread, hand its items over a bounded queue.

An exception in the producer re-raises in the consumer (never a hang). `close()` stops the producer
and joins its thread, so when it returns nothing is still reading what the producer reads: a PyAV
container may then be closed safely (a decoder left running while its container closed corrupted
memory, issue 12). PyAV and PIL release the GIL while decoding and encoding, so this overlaps codec
work with inference.
"""
from __future__ import annotations

import queue
import sys
import threading
from typing import Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()
_POLL_S = 0.1  # how often a blocked producer looks at the stop flag


def name_os_thread(name: str) -> None:
    """Give the calling thread `name` at the OS level too (Linux, 15 bytes), so the threads a library
    starts from it (x264's from the encoder thread, FFmpeg's from the decoder) carry it: `vidcolor
    bench` tells the stages' CPU apart by it. Elsewhere nothing happens."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, name.encode()[:15] + b"\0", 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Prefetch(Generic[T]):
    """Iterate `items` in a background thread, at most `depth` items ahead of the consumer.

    Use it as a context manager (or call `close()`) wherever the consumer may stop early: leaving the
    block stops the producer, runs its clean-up (a generator's `finally`) in its own thread, and joins
    that thread before returning."""

    def __init__(self, items: Iterable[T], depth: int = 4, name: str = "prefetch"):
        self._items = items
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _put(self, x) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(x, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        name_os_thread(self._thread.name)
        it = iter(self._items)
        try:
            for item in it:
                if not self._put(item):
                    break
            else:
                self._put(_DONE)
        except BaseException as e:  # handed to the consumer, which re-raises it
            self._put(_Failure(e))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # a generator stopped early cleans up here, in the thread that ran it

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._ended:
            raise StopIteration
        item = self._q.get()
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.exc
        return item

    def close(self) -> None:
        """Stop the producer and wait for its thread to end. No timeout on purpose: returning while the
        producer still decodes would let the caller close the container under it."""
        self._ended = True
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        while not self._q.empty():  # free queued frames now rather than with this object
            self._q.get_nowait()

    def __enter__(self) -> "Prefetch[T]":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def prefetch(items: Iterable[T], depth: int = 4, name: str = "prefetch") -> Prefetch[T]:
    """`Prefetch(items, depth, name)`: iterate `items` in a background thread."""
    return Prefetch(items, depth, name)


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
        name_os_thread(self._t.name)
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
                self._q.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                self._check()

    def close(self, waiting: Callable[[], None] | None = None) -> None:
        """Wait for every submitted item, then re-raise the first failure if any. `waiting` is called over and
        over meanwhile, on this thread (it should block briefly: folder.py hands the caller each result
        written); the thread is joined even when it raises."""
        self._q.put(_DONE)
        try:
            while waiting is not None and self._t.is_alive():
                waiting()
        finally:
            self._t.join()
        self._check()

    def close_quietly(self) -> None:
        """Stop after an error elsewhere: drop what is queued, wait for the thread, raise nothing."""
        self._exc = self._exc or RuntimeError("cancelled")
        self._q.put(_DONE)
        self._t.join()
