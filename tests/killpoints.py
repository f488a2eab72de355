"""Run `vidcolor ARGS` and SIGKILL it at a chosen moment of its work: `python -m tests.killpoints SPEC -- ARGS`.

SPEC is `none` or `EVENT:N`, the N-th occurrence of EVENT (counted from 1):

    segment-mux      a packet muxed into a segment file (while encoding)
    segment-rename   a finished segment, its smoother state or the segment list renamed into place
    output-open      the final output's partial file opened for writing: the join begins
    output-mux       a packet muxed into the final output (during the join)
    output-rename    just before the partial output is renamed onto the final name
    output-renamed   just after that rename, before the journal records it
    journal          just after the journal records the output as done
    discard          while the work folder is removed (after its first file)

The process kills itself with SIGKILL at that point, as `kill -9` would: no clean-up runs. Used by
tests/test_faults.py and benchmarks/video_kill.py; the patches wrap av.open, os.replace and
shutil.rmtree, so the library carries no test hooks.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys

import av

EVENTS = ("segment-mux", "segment-rename", "output-open", "output-mux", "output-rename", "output-renamed", "journal",
          "discard")
PARTIAL_MARK = ".vidcolor-partial-"


class _Trigger:
    def __init__(self, spec: str):
        self.event, _, n = spec.partition(":")
        if spec != "none" and self.event not in EVENTS:
            raise SystemExit(f"unknown kill point {spec!r}; choose from {', '.join(EVENTS)}")
        self.left = int(n or 1)

    def __call__(self, event: str) -> None:
        if event == self.event:
            self.left -= 1
            if self.left == 0:
                os.kill(os.getpid(), signal.SIGKILL)


class _CountingOutput:
    """An output container that reports each muxed packet."""

    def __init__(self, inner, event: str, trigger: _Trigger):
        self._inner, self._event, self._trigger = inner, event, trigger

    def mux(self, packets):
        for p in packets if isinstance(packets, (list, tuple)) else [packets]:
            self._trigger(self._event)
            self._inner.mux(p)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._inner.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def install(spec: str) -> None:
    trigger = _Trigger(spec)
    real_open, real_replace, real_rmtree = av.open, os.replace, shutil.rmtree

    def open_(file, mode="r", *args, **kwargs):
        c = real_open(file, mode, *args, **kwargs)
        name = str(file)
        if mode == "w" and PARTIAL_MARK in name:
            trigger("output-open")
            return _CountingOutput(c, "output-mux", trigger)
        if mode == "w" and name.endswith(".part.mp4"):
            return _CountingOutput(c, "segment-mux", trigger)
        return c

    def replace(src, dst, *args, **kwargs):
        final = PARTIAL_MARK in os.fspath(src)
        trigger("output-rename" if final else "segment-rename")
        real_replace(src, dst, *args, **kwargs)
        if final:
            trigger("output-renamed")

    def rmtree(path, *args, **kwargs):
        if str(path).endswith(".work") and os.path.isdir(path):
            files = sorted(os.listdir(path))
            if files:  # die half-way: one file gone, the rest still there
                os.unlink(os.path.join(path, files[0]))
            trigger("discard")
        return real_rmtree(path, *args, **kwargs)

    av.open, os.replace, shutil.rmtree = open_, replace, rmtree
    from vidcolor.archive import Journal

    record = Journal.record

    def journal_record(self, *args, **kwargs):
        record(self, *args, **kwargs)
        trigger("journal")

    Journal.record = journal_record


if __name__ == "__main__":
    spec, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: python -m tests.killpoints SPEC -- VIDCOLOR_ARGS"
    install(spec)
    from vidcolor.cli import main

    main(args)
