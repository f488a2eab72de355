"""What the CLI shows while it works: a rich progress bar on a terminal, plain lines otherwise (cron)."""
from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vidcolor.pipeline import Result


class Reporter:
    """One line per finished file on stderr; a live bar per file only when stderr is a terminal."""

    def __init__(self, quiet: bool = False, verbose: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True)
        self.live = self.stream.isatty() and not quiet
        self.verbose = verbose

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def error(self, text: str) -> None:
        self.line(f"vidcolor: error: {text}")

    def result(self, res: Result) -> None:
        if res.status == "failed":
            err = res.error or "failed"
            self.line(f"FAILED {err}" if str(res.input) in err else f"FAILED {res.input}: {err}")
            return
        if res.status in ("skipped", "planned"):
            self.line(f"{'skipped' if res.status == 'skipped' else 'would do'} {res.input}: {res.note or ''}".rstrip(": "))
            return
        rate = f", {res.frames / res.seconds:.1f} fps" if res.frames > 1 and res.seconds > 0 else ""
        frames = f"{res.frames} frames, " if res.frames > 1 else ""
        self.line(f"done {res.input} -> {res.output} ({frames}{res.seconds:.1f} s{rate})")
        for note in res.notes:
            if self.verbose or not note.startswith("scene cuts"):
                self.line(f"  note: {note}")

    @contextmanager
    def frames(self, name: str):
        """Yields a progress callback (done, total) for one video."""
        if not self.live:
            yield None
            return
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("frames {task.fields[fps]:.1f} fps"), TimeRemainingColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(name, total=None, fps=0.0)

            def update(done: int, total: int) -> None:
                elapsed = bar.tasks[0].elapsed or 0.0
                bar.update(task, completed=done, total=max(total, done) or None, fps=done / elapsed if elapsed else 0.0)

            yield update
