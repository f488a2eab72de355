"""What the CLI shows while it works (the front door's Progress, plus one line per finished input).

On a terminal: a bar for a folder run (inputs N/M, ETA) and one for the frames of each video. Not on
a terminal (cron, a log file), or on a dumb one (TERM=dumb): plain lines instead, one per segment of a video, and one every
PLAIN_EVERY_INPUTS inputs or PLAIN_EVERY_S seconds of a folder run. `quiet`: inputs done or failed only.
"""
from __future__ import annotations

import os
import sys
import time
import unicodedata
from pathlib import Path

from vidcolor.io.formats import is_image_path
from vidcolor.options import Result

PLAIN_EVERY_INPUTS = 20
QUIET_SKIPS = ("already done", "already in colour")  # the skips -q does not print, in a folder run
PLAIN_EVERY_S = 60.0


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):  # closed
        return False


def _dumb_terminal() -> bool:
    """A terminal that cannot redraw a line (TERM=dumb: Emacs's shell, some CI consoles), where rich draws no bar at
    all: it gets the plain lines a log gets, where it had had no progress at all, a film's included."""
    return os.environ.get("TERM", "").lower() in ("dumb", "unknown")


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Reporter:
    """One line per finished input on stderr, and the progress of the run (see the module docstring)."""

    def __init__(self, quiet: bool = False, verbose: bool = False, stream=None, dry_run: bool = False):
        self.stream = stream or sys.stderr  # None where the process started with stderr closed (2>&-)
        self.dry_run = dry_run  # a failed input is one that would fail: `would fail`, not `FAILED`
        self.lost_lines = 0  # lines the stream would not take (closed, full, a broken pipe): the run goes on
        self.live = self.stream is not None and _isatty(self.stream) and not _dumb_terminal() and not quiet
        self.plain_progress = not self.live and not quiet and not dry_run  # a dry run's lines are all there is: no ETA
        self.verbose = verbose
        self.quiet = quiet  # no line for a skipped input (a nightly re-run of 100,000 scans printed 100,000)
        self._bar = None  # rich Progress while live
        self._inputs_task = self._frames_task = None
        self._total = self._finished = 0
        self._t0 = self._last_line = time.monotonic()
        self._last_count = 0
        # the video under way: {"input", "frames_done", "frames"}; a stopped run's report says where it stopped
        self.in_progress: dict | None = None

    # -- lines ----------------------------------------------------------------------------------------

    def line(self, text: str) -> None:
        """One line on the stream. A stream that fails (a full disk under the log, `| head -1` gone, a
        closed descriptor) costs the lines, not the run: it had stopped a cron job after its first input,
        with exit 1 (a new user's test). The journal and --report keep every result; the exit code says
        lines were lost (cli.exit_now)."""
        text = _one_line(text)
        if self.stream is None or self.lost_lines:
            self.lost_lines += 1
            return
        try:
            if self._bar is not None:
                self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
            else:
                print(text, file=self.stream, flush=True)
        except (OSError, ValueError):
            self.lost_lines += 1
            self.live = False  # a live bar would redraw on the same stream
            self.close()

    def error(self, text: str) -> None:
        self.line(f"vidcolor: error: {text}")

    def result(self, res: Result) -> None:
        self._finished += 1
        self.in_progress = None
        self._result_line(res)
        if self._bar is not None:
            if self._frames_task is not None:
                self._bar.remove_task(self._frames_task)
                self._frames_task = None
            if self._inputs_task is not None:
                self._bar.advance(self._inputs_task)
        elif self.plain_progress and self._total:
            now = time.monotonic()
            if self._finished - self._last_count >= PLAIN_EVERY_INPUTS or now - self._last_line >= PLAIN_EVERY_S:
                self._plain_inputs_line(now)

    def _result_line(self, res: Result) -> None:
        if res.status == "failed":
            err, head = res.error or "failed", "would fail" if self.dry_run else "FAILED"
            self.line(f"{head} {err}" if str(res.input) in err else f"{head} {res.input}: {err}")
            return
        if (self.quiet and res.status == "skipped" and (res.note or "").startswith(QUIET_SKIPS)
                and self._total > 0):  # a folder run, dry or not (a single input never calls inputs())
            return  # (a stray hints file, a link not followed, or a single input's skip is still said)
        if res.status in ("skipped", "planned"):
            self.line(f"{'skipped' if res.status == 'skipped' else 'would do'} {res.input}: {res.note or ''}".rstrip(": "))
            if res.status == "planned":
                self._notes(res)  # a dry run's: what the output would lose, from the plan
            return
        frames = f"{res.frames} frames, " if res.frames > 1 else "1 frame, " if res.frames == 1 and not is_image_path(res.input) else ""
        resumed = f"{res.frames_resumed} of them resumed, " if res.frames_resumed else ""
        rate = f", {res.fps:.1f} fps" if res.frames > 1 and res.fps else ""
        note = f", {res.note}" if res.note else ""  # e.g. "with hints"
        self.line(f"done {res.input} -> {res.output} ({frames}{resumed}{res.seconds:.1f} s{rate}{note})")
        self._notes(res)

    def _notes(self, res: Result) -> None:
        for note in res.notes:  # how the work was split is for -v; what a user must know is always said
            if self.verbose or not note.startswith(("scene cut", "ran as ")):  # one cut too ("scene cut at frame N")
                self.line(f"  note: {note}")

    def _plain_inputs_line(self, now: float) -> None:
        rate = self._finished / max(now - self._t0, 1e-9)
        eta = f", ETA {_clock((self._total - self._finished) / rate)}" if rate > 0 and self._finished < self._total else ""
        self.line(f"progress: {self._finished}/{self._total} inputs{eta}")
        self._last_line, self._last_count = now, self._finished

    # -- Progress (vidcolor.api) ----------------------------------------------------------------------

    @property
    def inputs_total(self) -> int:
        """How many inputs the run has (0 before a folder run said, or for one file)."""
        return self._total

    def settings(self, text: str) -> None:
        """What the run uses (model and its decoding, device, video settings): a line with -v."""
        if self.verbose:
            self.line(f"settings: {text}")

    def inputs(self, total: int) -> None:
        self._total, self._t0 = total, time.monotonic()
        if self.live and total:
            self._ensure_bar()
            self._inputs_task = self._bar.add_task("inputs", total=total, fps="")

    def video(self, path: Path, frames: int, segment_frames: int):
        self.in_progress = {"input": str(path), "frames_done": 0, "frames": frames or None}
        shown = self._video_display(path, frames, segment_frames)

        def track(done: int, total: int) -> None:
            self.in_progress.update(frames_done=done, frames=total or None)  # 0: not known (past the header's count)
            if shown is not None:
                shown(done, total)

        return track

    def _video_display(self, path: Path, frames: int, segment_frames: int):
        if self.live:
            self._ensure_bar()
            task = self._frames_task = self._bar.add_task(path.name, total=frames or None, fps="")
            t0, first, counted = time.monotonic(), None, bool(frames)

            def update(done: int, total: int) -> None:
                nonlocal first, task, counted
                first = done if first is None else first  # frames resumed plus the first batch
                dt = time.monotonic() - t0
                fps = f"{(done - first) / dt:.1f} fps" if dt > 0 and done > first else ""
                if self._bar is None:  # (gone where the stream failed)
                    return
                if counted and not total:  # past the header's count, the total is not known: "36/?" and no ETA,
                    # where the bar stood full at "36/36" (rich's update() cannot take a total back to None: a new task)
                    self._bar.remove_task(task)
                    task = self._frames_task = self._bar.add_task(path.name, total=None, fps=fps)
                counted = bool(total)
                self._bar.update(task, completed=done, total=total or None, fps=fps)

            return update
        if not self.plain_progress:
            return None
        state = {"t": None, "first": 0, "next": segment_frames}

        def plain(done: int, total: int) -> None:
            now = time.monotonic()
            if state["t"] is None:
                state.update(t=now, first=done, next=(done // segment_frames + 1) * segment_frames)
            if done < state["next"] or done == total:  # the last segment's line is the result line
                return
            state["next"] = (done // segment_frames + 1) * segment_frames
            dt = now - state["t"]
            fps = (done - state["first"]) / dt if dt > 0 else 0.0
            of = (f"/{total} frames ({100 * done / total:.0f}%)" if total else
                  f" frames (more than the {frames} its header says)" if frames and done > frames else " frames")
            eta = f", ETA {_clock((total - done) / fps)}" if fps > 0 and total > done else ""
            self.line(f"{path.name}: {done}{of}, {fps:.1f} fps{eta}")

        return plain

    def _ensure_bar(self) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            console = Console(file=self.stream, highlight=False, soft_wrap=True)
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[fps]}"), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=console, transient=True)
            self._bar.start()

    def close(self) -> None:
        """Stop the live display (idempotent). A terminal gone (a dropped ssh session: SIGHUP) fails the
        bar's last redraw: that costs the line, not the run's orderly stop (a review: exit 1, no summary)."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            self._inputs_task = self._frames_task = None
            try:
                bar.stop()
            except (OSError, ValueError):
                self.lost_lines += 1
                self.live = False


class LossyStream:
    """A command's standard output that costs lines, not the command, where it fails: a reader gone
    (`vidcolor models | head -1`, a Python caller that closed its pipe), a full disk under `> out.txt`.
    Click had turned such a write into exit 1 with the rest of the command dropped: `bench | head -3`
    measured for minutes and wrote no --json, and `eval` read as if photos were left out (a scripter's
    test). Once a write fails, nothing more is written, and the descriptor is pointed at the null device so
    that the interpreter's own last flush does not print a traceback; `lost` says lines were lost (exit 120)."""

    def __init__(self, stream):
        self._stream = stream
        self.lost = False

    def write(self, text):
        if self._stream is None and text:  # the process started without one (`>&-`)
            if not isinstance(text, str):  # (a text stream's answer to click's probe for a binary one)
                raise TypeError("write() argument must be str")
            self.lost = True
        if self.lost:
            return len(text)
        try:
            return self._stream.write(text)
        except (OSError, ValueError):  # (a TypeError, bytes to a text stream, is a caller's probe: raised)
            self._lose()
            return len(text)

    def flush(self) -> None:
        if not self.lost and self._stream is not None:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._lose()

    def _lose(self) -> None:
        self.lost = True
        try:  # what is still in the buffer goes nowhere, quietly, at exit (Python's advice for a broken pipe)
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, self._stream.fileno())
            finally:
                os.close(null)
        except (OSError, ValueError, AttributeError):  # no descriptor (a test's stream)
            pass

    def __getattr__(self, name):  # encoding, isatty, fileno, ... as the stream's
        return getattr(self._stream, name)


def _one_line(text: str) -> str:
    """`text` with what would break the one line per input escaped: a control character in a file name
    (a newline: \\n), a line or paragraph separator, and a name's bytes that are not UTF-8 (\\xff,
    where Python holds a lone surrogate). Other characters, spaces and marks of every kind included (a
    macOS screenshot's narrow no-break space), are shown as they are."""
    if text.isprintable():  # the usual case (isprintable is False for more than these)
        return text
    return "".join(_escaped(c) if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") else c for c in text)


def _escaped(c: str) -> str:
    return f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else repr(c)[1:-1]
