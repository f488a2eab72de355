"""What makes unattended runs safe to kill and re-run: a journal of finished outputs, a lock on the
output folder, clean-up of a killed run's temporaries, and the per-input JSON-lines report.

Everything lives in a hidden `.vidcolor/` folder in the output root.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict
from pathlib import Path

from filelock import FileLock, Timeout

from vidcolor.errors import LockedError
from vidcolor.io.paths import is_temp_output

STATE_DIR = ".vidcolor"


def input_key(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


class Journal:
    """Append-only JSON lines, one per finished output path; the last entry for a path wins. A line
    cut off by a kill is ignored.

    An entry counts as finished only when it names the same input, whose size and mtime are unchanged,
    the model/options key is the same, and (for "done") the output file still exists; anything else
    is stale and redone. A "colour" entry records an input skipped as already in colour; a "failed"
    entry records a bad input (with the error as note), so the journal accounts for every file, but
    it is never finished: a re-run tries it again.
    """

    def __init__(self, root: Path):
        self.path = root / STATE_DIR / "journal.jsonl"
        self.entries: dict[str, dict] = {}
        self._lock = threading.Lock()
        if self.path.is_file():
            for line in self.path.read_text(errors="replace").splitlines():
                try:
                    e = json.loads(line)
                    self.entries[e["target"]] = e
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue

    def finished(self, src: Path, key: str, target: Path) -> dict | None:
        e = self.entries.get(str(target))
        if e is None or e["status"] == "failed" or e.get("key") != key or e.get("input") != str(src) or e.get("input_stat") != input_key(src):
            return None
        if e["status"] == "done" and not target.is_file():
            return None
        return e

    def record(self, src: Path, key: str, status: str, target: Path, note: str | None = None) -> None:
        e = {"target": str(target), "input": str(src), "input_stat": input_key(src), "key": key, "status": status,
             "note": note, "time": time.time()}
        line = json.dumps(e) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            self.entries[str(target)] = e


class OutputLock:
    """One run per output folder: a second run fails at once, naming the first run's pid.

    filelock's OS-level lock is released by the kernel when its holder dies, even by SIGKILL, so a
    killed run never leaves a stale lock behind."""

    def __init__(self, root: Path):
        self.dir = root / STATE_DIR
        self.lock = FileLock(str(self.dir / "lock"), timeout=0)
        self.owner = self.dir / "owner.json"

    def __enter__(self) -> "OutputLock":
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self.lock.acquire()
        except Timeout:
            who = "unknown pid"
            try:
                o = json.loads(self.owner.read_text())
                who = f"pid {o['pid']} on {o['host']}, started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(o['started']))}"
            except (OSError, ValueError, KeyError):
                pass
            raise LockedError(f"{self.dir.parent}: output is locked by another vidcolor run ({who})") from None
        self.owner.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}))
        return self

    def __exit__(self, *exc) -> None:
        self.owner.unlink(missing_ok=True)
        self.lock.release()


def remove_stale_temporaries(root: Path) -> list[Path]:
    """Delete partial outputs a killed run left behind (call only while holding the lock)."""
    gone = []
    if not root.is_dir():
        return gone
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != STATE_DIR]
        for name in filenames:
            p = Path(dirpath) / name
            if is_temp_output(p):
                p.unlink(missing_ok=True)
                gone.append(p)
    return gone


class RunReport:
    """`--report run.jsonl`: one JSON line per input as it finishes, then a summary line."""

    def __init__(self, path: Path | None):
        self.path = path
        self.counts: dict[str, int] = {}
        self.t0 = time.time()
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def add(self, result) -> None:
        with self._lock:
            self.counts[result.status] = self.counts.get(result.status, 0) + 1
            if self.path is None:
                return
            row = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")

    def close(self) -> dict:
        summary = {"summary": {**{s: self.counts.get(s, 0) for s in ("done", "skipped", "failed")},
                               "total": sum(self.counts.values()), "seconds": round(time.time() - self.t0, 2)}}
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(summary) + "\n")
        return summary
