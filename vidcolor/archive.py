"""What makes unattended runs safe to kill and re-run: a journal of finished outputs, a lock on the
output folder, clean-up of a killed run's temporaries, and the per-input JSON-lines report.

Everything lives in a hidden `.vidcolor/` folder in the output root.
"""
from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import logging
import os
import socket
import stat
import threading
import time
import unicodedata
from dataclasses import asdict
from pathlib import Path

from filelock import FileLock, Timeout

from vidcolor.errors import (ForeignOutputError, LockedError, OutputError, StorageError, VidcolorError, add_note,
                             carry_finished, finished_before, first_line, write_failure)
from vidcolor.io.paths import atomic_write_text, file_sha256, is_temp_output, stat_key, temp_writer_pid
from vidcolor.io.formats import walk
from vidcolor.options import same_key

STATE_DIR = ".vidcolor"
JOURNAL_LOCK_S = 60.0  # an append waits this long for another run's (an fsync on a slow share)
COPIES_KEPT = 4  # the other paths of an input (copies, hard links) an entry keeps, found to hold its bytes
LOCKS_DIR = "locks"  # in STATE_DIR: one lock file per output a single-output run is writing
JOURNAL_NAME = "journal.jsonl"  # in STATE_DIR


def input_key(path: Path) -> dict:
    return stat_key(path.stat())


def _touched_sha256(src: Path, now: dict) -> str:
    """The sha256 of input `src`, whose size and mtime are `now` (`input_key`), read once per process for them: a
    single film's plan and its run each asked (a 50 GB master read twice before its first frame; a reviewer's
    note). Keyed by the real path: keyed as given, a relative name in another working directory (a service
    colorizing "scan.bmp" in each roll's folder) was vouched for by another folder's file of that name, size
    and mtime."""
    return _touched_input_sha256(str(_normal(src)), now["size"], now["mtime_ns"])


@functools.lru_cache(maxsize=256)
def _touched_input_sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(Path(path))


class Journal:
    """Append-only JSON lines, one per finished output path; the last entry for a path wins. A line
    cut off by a kill is ignored.

    An entry counts as finished only when it names the same input, whose size and mtime are unchanged
    (or whose mtime alone moved and whose bytes are those recorded, `input_sha256`), the model/options key is the same, and (for "done") the output file still exists and is not `emptied`; anything else
    is stale and redone. A "colour" entry records an input skipped as already in colour (with `copy`,
    the unchanged copy written in its place); a "failed" entry records a bad input (with the error as
    note), so the journal accounts for every file, but it is never finished: a re-run tries it again.

    A "started" line, written before an output is replaced, only marks the path as vidcolor's (see
    `wrote`); it does not replace the path's last entry. One written by a run told to redo the output
    (--overwrite) holds that run's key ("redo") and the size and mtime of the output it was to replace
    ("before"), and stands until an entry follows it: a run stopped on the way leaves the output to be
    redone, and the next run with the same key resumes that redo without -y (it had taken the old output
    as done and dropped the redo's finished segments, and an output edited before the -y run was then
    accepted as done without a word: a new user's test); the output is still refused if it was edited
    after the stop (`changed_since_written`). A run with another key reads the entries as before. An entry written once its output is in place
    records the output's size and mtime (`output_stat`) and its sha256 (`output_sha256`), so an output edited since (a retouched photo)
    is not replaced without --overwrite when its input changes (`changed_since_written`).

    Paths are keyed however they were spelled: outputs (and copies) relative to the output root, inputs
    absolute, each with its folder's symlinks and `..` resolved, so a run from another working directory,
    or with absolute paths where the last run had relative ones (a cron job after a test by hand), finds
    the same entries, and an output folder moved whole keeps its record. Lines written before this
    (no "v") held paths as spelled, relative to that run's working directory, which is not known: an
    output path is read as relative to this one's where that lands in the root, else from the root's
    name on (`out/a.png` read from another folder is still the root's `a.png`); such an entry's input
    counts as the same by its file name, size and mtime.
    """

    VERSION = 2

    def __init__(self, root: Path, remember: bool = False):
        self.remember = remember  # a run holding the lock: it may add lines (dry runs and plans only read)
        _real_folder.cache_clear()  # each run resolves links afresh: a service re-pointing `current -> 2026-11-27`
        # had its next run's entries keyed under the link's old target, refused by the next process (a tester's)
        self.root = Path(os.path.realpath(root))  # the root itself may be a link (-o ~/archive -> /mnt/nas/...)
        self.path = root / STATE_DIR / JOURNAL_NAME
        self.entries: dict[str, dict] = {}
        self.touched: set[str] = set()
        self.output_stats: dict[str, dict | None] = {}  # None: a write started after the last recorded one
        self.redoing: dict[str, dict] = {}  # outputs a -y run started and did not finish: its key, the output's stat then
        self.last_line: dict[str, str] = {}  # the status of each output's last line, "started" ones included
        self._before_write: dict[str, dict | None] = {}  # this run's touched outputs: their record before it
        self._said_emptied: set[str] = set()  # outputs found emptied (`emptied`), warned of once
        self._lock = threading.Lock()
        if self.path.is_file():
            for line in self.path.read_text(errors="replace").splitlines():
                try:
                    e = json.loads(line)
                    if "v" not in e:
                        e = self._upgrade(e)
                    self._note_output(e)
                    if e["status"] not in ("started", "restat"):
                        self.entries[e["target"]] = e
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue

    def _out(self, p: Path) -> str:
        """An output's key: relative to the output root where it is inside it (it always is), else absolute."""
        full = _normal(Path(p))
        try:
            return str(full.relative_to(self.root))
        except ValueError:
            return str(full)

    def _upgrade(self, e: dict) -> dict:
        e = dict(e, legacy=True)
        e["target"] = self._legacy_out(e["target"])
        if e.get("input"):
            e["input"] = str(_normal(Path(e["input"])))
        if e.get("copy"):
            e["copy"] = self._legacy_out(e["copy"])
        return e

    def _legacy_out(self, spelled: str) -> str:
        key = self._out(Path(spelled))
        if Path(key).is_absolute() and not Path(spelled).is_absolute():  # another working directory's path
            parts = Path(spelled).parts
            if self.root.name in parts:
                return str(Path(*parts[len(parts) - parts[::-1].index(self.root.name):]))
        return key

    def last(self, target: Path) -> dict | None:
        """The last entry recorded for `target` ("started" lines aside), however its path is spelled."""
        return self.entries.get(self._out(target))

    def _note_output(self, e: dict) -> None:
        """What a journal line, read or written, says of its output."""
        self.last_line[e["target"]] = e["status"]
        if e["status"] != "failed":  # a failure wrote nothing ("started" says where a write began): a user's file at
            self.touched.add(e["target"])  # a failed input's output was taken as vidcolor's, and replaced (a review)
        if e["status"] == "started":
            self.output_stats[e["target"]] = None
            if isinstance(e.get("redo"), str):
                self.redoing[e["target"]] = {"key": e["redo"], "before": e.get("before")}
            return
        if e["status"] != "restat":
            self.redoing.pop(e["target"], None)
        if "output_stat" in e:
            # the hash beside the stat ("output_sha256"), where a release without it compares the stat
            # alone; inside it in the journals of 2026-11-27 (which an older release read as all changed)
            sha = e.get("output_sha256") or (e["output_stat"] or {}).get("sha256")
            self.output_stats[e["target"]] = {**(e["output_stat"] or {}), **({"sha256": sha} if sha else {})}

    def finished(self, src: Path, key: str, target: Path) -> dict | None:
        if same_key((self.redoing.get(self._out(target)) or {}).get("key"), key):
            return None  # a redo with these settings, stopped: resumed
        e = self.last(target)
        if e is None or e["status"] not in ("done", "colour") or not same_key(e.get("key"), key):
            return None
        if e["status"] == "done" and not self._written_whole(target):
            return None
        if e.get("copy") and not self._written_whole(self.root / e["copy"]):
            return None
        # the input last: it may be read (`_same_content`), which an output gone makes a waste (a touched scan whose
        # output was deleted was read to be found unchanged, journaled as done again, then read and colorized)
        return e if self.same_input(e, src) else None

    def made_otherwise(self, src: Path, key: str, target: Path) -> str | None:
        """The key `target` was finished with, where a run with `key` redoes it for that alone: its input here and
        unchanged (size and mtime), and the output as vidcolor wrote it (`changed_since_written`, which the run asks
        of such an output in any case). The run's line that names what it will redo (`vidcolor.folder.say_redone`)
        counts these. An input moved or touched since is not counted: telling it would read it, which a run that
        redoes it does not."""
        e = self.last(target)
        if e is None or e["status"] not in ("done", "colour") or same_key(e.get("key"), key):
            return None
        out = self.root / e["copy"] if e.get("copy") else target
        if (e["status"] == "done" or e.get("copy")) and (not out.is_file() or self.emptied(out) or self.changed_since_written(out)):
            return None  # gone, emptied or edited: what the run says of it is another line
        try:
            if e.get("input") != str(_normal(src)) or e.get("input_stat") != input_key(src):
                return None
        except OSError:
            return None
        return e.get("key")

    def _written_whole(self, output: Path) -> bool:
        """Whether `output` is there, and not `emptied`; an emptied one is said once (a warning), as it is redone."""
        if not output.is_file():
            return False
        if not self.emptied(output):
            return True
        if self.remember and (out := self._out(output)) not in self._said_emptied:
            self._said_emptied.add(out)
            logging.getLogger("vidcolor").warning(
                f"vidcolor: {output}: empty, where the journal records it written whole (its bytes lost to a power "
                "loss?): redone")
        return False

    def emptied(self, output: Path) -> bool:
        """Whether `output`, journaled as written with bytes, is an empty file now: what delayed allocation left of
        an output renamed before its bytes reached the disk, when a power loss followed (releases before
        2026-11-29 did not fsync outputs). Redone, not kept as "changed since vidcolor wrote it": replacing an
        empty file loses nothing. A shorter file is kept as before: a retouch saved smaller looks the same."""
        st = self.output_stats.get(self._out(output))
        try:
            return bool(st and st.get("size")) and output.is_file() and output.stat().st_size == 0
        except OSError:
            return False

    def same_input(self, e: dict, src: Path) -> bool:
        """Whether entry `e` names `src` (however spelled), with its size and mtime unchanged. A file of the
        same name, size and mtime (to the nanosecond) in another folder, where the recorded file is gone, is
        the same file moved (its name's accents composed or decomposed alike or not: `_same_name`): an archive renamed or remounted elsewhere (`mv scans scans_1950s`, a NAS mounted at a new path) had every
        output redone, hours of work for a film archive (a new user's test). A file of the same name and size whose
        mtime moved, or that is a copy of the recorded one still there, is the same where it holds the recorded
        bytes (`_same_content`); such a copy's original is then kept with the entry (`copies`), the same while
        its size and mtime are."""
        try:
            recorded = e.get("input") or ""
            here = recorded == str(_normal(src))
            if not here and not _same_name(Path(recorded).name, src.name):
                return False
            now = input_key(src)
            # moved: the name, size and mtime alone where the recorded file is gone (two rolls' scan0001.bmp, same
            # size and a date copied onto both, sent into one output folder: the second was taken as done; a review)
            if (here or not os.path.lexists(recorded)) and e.get("input_stat") == now:
                return True
            # a copy (or another path of the file) found to be the same before, unchanged since: not read again
            if not here and any(c.get("input") == str(_normal(src)) and c.get("input_stat") == now for c in e.get("copies") or []):
                return True
            # else its bytes: a touched input, or a copy of the recorded one, its original still there (`cp -r` to a
            # new disk, the old one still mounted: every scan was colorized again, where the README says a copy
            # without -p is read once, not redone; an operator's test)
            return self._same_content(e, src, now)
        except OSError:  # the input is gone, or a dangling link
            return False

    def _same_content(self, e: dict, src: Path, now: dict) -> bool:
        """Whether an input whose mtime alone moved holds the bytes recorded with its entry (`input_sha256`): a
        backup restored, `cp -r` without -p or a `touch` changes every mtime and no photo, and a whole archive
        was colorized again, days of work (an operator's find). Read once: where a run holds the lock, the
        entry is journaled again with the new stat, as `changed_since_written` does for an output."""
        was, sha = e.get("input_stat") or {}, e.get("input_sha256")
        if not sha or was.get("size") != now["size"] or _touched_sha256(src, now) != sha:
            return False
        out = e["target"]
        if (self.remember and self.entries.get(out) is e and self.last_line.get(out) == e["status"]
                and out not in self.redoing):  # the output's last line: a write or a redo since is left as it stands
            e2 = {**e, "input": str(_normal(src)), "input_stat": now, "time": time.time()}  # (its new path, if moved)
            # a copy, its original still there: the original is kept as one (`copies`), so that runs of the two folders
            # in turn read neither again (each read every input whole and journaled it anew, flip-flopping its path)
            copies = [c for c in e.get("copies") or [] if c.get("input") != e2["input"]]
            if e.get("input") and e["input"] != e2["input"] and os.path.lexists(e["input"]):
                copies = [{"input": e["input"], "input_stat": was}, *(c for c in copies if c.get("input") != e["input"])]
            if copies:
                e2["copies"] = copies[:COPIES_KEPT]
            else:
                e2.pop("copies", None)
            self._append(e2, sync=False)
            self.entries[out] = e2
        return True

    def wrote(self, target: Path) -> bool:
        """Whether a vidcolor run has written, or started to write, `target`."""
        return self._out(target) in self.touched

    def changed_since_written(self, target: Path) -> bool:
        """Whether `target` differs from what the last finished write recorded (someone edited it since):
        its size, or, where only its mtime moved, its content (the recorded sha256: a backup restored
        or a folder copied without keeping times touches every file and edits none; each then failed as
        "changed since vidcolor wrote it"). False while a write is under way or for entries older than
        the record."""
        out = self._out(target)
        st = self.output_stats.get(out)
        if self.emptied(target):  # not an edit: vidcolor's own write, its bytes lost (redone)
            return False
        if (redo := self.redoing.get(out)) and redo.get("before") and target.is_file():
            return input_key(target) != redo["before"]  # edited since a -y run stopped before replacing it
        if st is None or not target.is_file():
            return False
        now = input_key(target)
        if now["size"] != st["size"]:
            return True
        if now["mtime_ns"] == st["mtime_ns"]:
            return False
        try:
            if "sha256" not in st or file_sha256(target) != st["sha256"]:
                return True
        except OSError:  # cannot be read (its mode, a share's ACL): what it holds cannot be vouched for
            return True
        last = self.entries.get(out)
        if self.remember and last is not None and last.get("output_stat") is not None and not last.get("legacy"):
            # its new mtime journaled, so the next run does not read it again: the last entry again with the
            # new stat, which any release reads as the same finished output (a "restat" line of its own was
            # read by the release before as the output's last entry, not finished: all redone)
            e = {**last, "output_stat": now, "output_sha256": st["sha256"], "time": time.time()}
            self._append(e, sync=False)
            self.entries[out] = e
        else:
            self.output_stats[out] = {**now, "sha256": st["sha256"]}
        return False

    def record(self, src: Path, key: str, status: str, target: Path, note: str | None = None, copy: Path | None = None,
               stat: dict | None = None, sha256: str | None = None) -> None:
        """`stat`: the input's size and mtime as they were before it was read (`input_key`); a scan or film replaced
        while it was colorized was journaled with the new file's, as done, and the new one never colorized (an
        archivist's test). Without it, the input's now. `sha256`: the input's, taken where it was read (a Ray
        worker), so that the driver does not read every input again; else read here."""
        try:
            stat = stat or input_key(src)
        except OSError:  # a failed input that cannot even be stat'ed (a dangling link): recorded all the same
            stat = None
        e = {"v": self.VERSION, "target": self._out(target), "input": str(_normal(src)), "input_stat": stat, "key": key,
             "status": status, "note": note, "time": time.time()}
        if copy is not None:
            e["copy"] = self._out(copy)
        before = self._before_write.pop(e["target"], None)  # (taken for every status: a 50,000-photo run holds none)
        if status in ("done", "colour") and stat is not None:  # its bytes, where it is still as it was when read: an
            with contextlib.suppress(OSError):  # mtime that alone moves since is no new input (`_same_content`)
                sha = sha256 or file_sha256(src)
                if input_key(src) == stat:
                    e["input_sha256"] = sha
        if status in ("done", "colour") and target.is_file():  # written and in place: what it looks like now
            e["output_stat"], e["output_sha256"] = input_key(target), file_sha256(target)
        elif status == "failed" and before and _in_place(target, before):
            # the write failed and the output it was to replace is still there (writes are atomic): its record is
            # kept, so a hand edit of it is still refused (it read as a write under way, and was replaced: a review)
            e["output_stat"] = {k: v for k, v in before.items() if k != "sha256"}
            e["output_sha256"] = before.get("sha256")
        if status == "failed" and self._same_failure(e):
            return
        self._append(e, sync=True)
        self.entries[e["target"]] = e

    def _same_failure(self, e: dict) -> bool:
        """Whether `e` (failed) says again what the output's last line says: the same input, unchanged, failed the
        same way with the same settings. Not appended: each broken scan of an archive had added a line every
        night, to a journal every run reads whole (an operator's test)."""
        last = self.entries.get(e["target"])
        return (self.last_line.get(e["target"]) == "failed" and last is not None and not last.get("legacy")
                and all(last.get(k) == e[k] for k in ("input", "input_stat", "key", "note")))

    def _failed_since_started(self, out: str) -> bool:
        """Whether `out`'s last line is a failure that came after a started write, with no redo pending: what a
        new "started" line would say is already said."""
        return (self.last_line.get(out) == "failed" and out in self.output_stats and self.output_stats[out] is None
                and out not in self.redoing)

    def touch(self, target: Path, redo_key: str | None = None) -> None:
        """Mark `target` as about to be written by this run; `redo_key`: by a run with this key told to redo
        it (--overwrite), whose redo the next run with that key resumes if this one stops first. Not
        fsynced: it only has to outlive this process being killed between the output's rename and its
        "done" entry, and the page cache does."""
        e = {"v": self.VERSION, "target": self._out(target), "status": "started", "time": time.time()}
        if redo_key is None and self._failed_since_started(e["target"]):
            return  # a line would change nothing (an output that cannot be written had added one a night)
        self._before_write[e["target"]] = self.output_stats.get(e["target"])
        if redo_key is not None:
            e["redo"] = redo_key
            with contextlib.suppress(OSError):
                e["before"] = input_key(target) if target.is_file() and not target.is_symlink() else None
        self._append(e, sync=False)

    def _append(self, e: dict, sync: bool) -> None:
        """One line, appended under a lock of its own: runs writing single outputs into one folder append
        to one journal at once, and an append is one write only where the OS makes it so (not on Windows,
        where Python's append mode seeks to the end first, nor over NFS)."""
        line = (json.dumps(e) + "\n").encode()
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with FileLock(str(self.path) + ".lock", timeout=JOURNAL_LOCK_S), open(self.path, "ab+") as f:
                    if f.seek(0, os.SEEK_END) and (f.seek(-1, os.SEEK_END), f.read(1))[1] != b"\n":
                        line = b"\n" + line  # after a line a full disk cut short: the next one had been glued to it
                    f.write(line)
                    f.flush()
                    if sync:
                        os.fsync(f.fileno())
            except OSError as err:  # a run that cannot keep its journal cannot tell what it finished: it stops
                raise StorageError(f"{self.path}: cannot write the journal ({err.strerror or err}); the run stops "
                                   "(the outputs it finished are in place)") from err
            self._note_output(e)


@contextlib.contextmanager
def failures_journaled(journal: Journal, src: Path, key: str, target: Path):
    """A video's failure after its "started" line journaled as failed (then raised as it was), whatever raised
    it: a film that failed every night added a started line a night and never a failure (a review). A full disk
    is not journaled: the journal cannot be written either."""
    try:
        yield
    except StorageError:
        raise
    except Exception as err:
        journal.record(src, key, "failed", target, note=str(err))
        raise


def _in_place(target: Path, recorded: dict) -> bool:
    """Whether `target` is still the file `recorded` (an output_stats entry) describes: its size and mtime."""
    try:
        return target.is_file() and input_key(target) == {k: recorded.get(k) for k in ("size", "mtime_ns")}
    except OSError:
        return False


def _normal(p: Path) -> Path:
    """`p` absolute, its folder's symlinks and `..` resolved (in that order: `link/..` is the link's
    target's parent); the last component kept as it is (an output path that is itself a symlink is
    replaced, never written through)."""
    return Path(_real_folder(os.path.dirname(os.path.join(os.getcwd(), p)) or "/")) / Path(p).name


@functools.lru_cache(maxsize=4096)
def _real_folder(folder: str) -> str:
    """realpath of a folder, cached for one run (a Journal clears it): a 50,000-photo re-run asks for each
    output's and input's folder (a few hundred of them) twice a photo, and each realpath is a walk of
    lstat calls (slower on NFS)."""
    return os.path.realpath(folder)


def refuse_foreign_output(journal: Journal, target: Path, overwrite: bool, *, writing: bool = True,
                          may_be_done: bool = False, folder_run: bool = False, src: Path | None = None) -> None:
    """A file at `target` that no vidcolor run wrote, that was edited since vidcolor wrote it, or that
    was made read-only since, is never replaced without `overwrite`. `writing` False (the plan, a dry
    run): nothing is changed; a run about to write clears Windows' read-only flag where `overwrite`
    allows it (Windows will not replace a read-only file, even when told to). `may_be_done` (the plan,
    made before the journal's key is known, of an output journaled as done for this very input): an
    output edited or protected since is not refused yet, as a re-run that finds it finished skips it,
    keeping it with a note, as a folder run does (a retouched or protected single output failed its
    nightly re-run with exit 2: a new user's test); the run refuses it where it has to be redone.
    `folder_run`: a folder's output; without a journal there, the refusal says it may have been lost. `src`: the
    input a folder run would write it from; an output vidcolor wrote from another input that is still there
    (another input folder's scan of the same name) is refused too (`_other_input`)."""
    if (overwrite and writing and os.name == "nt" and target.is_file() and not target.is_symlink()
            and not target.stat().st_mode & 0o222):
        target.chmod(stat.S_IWRITE | stat.S_IREAD)  # (a link is replaced itself: its target is not touched)
    if overwrite or not target.is_file():
        return
    writers = _writers(journal, target)
    if (first := next(writers, None)) is None:
        lost = "" if journal.path.is_file() or not folder_run else (
            f" (the output folder has no journal, {STATE_DIR}/journal.jsonl: if vidcolor wrote this folder and a copy"
            " left out its hidden folders, restore it, or -y redoes every output)")  # a new user's rsync without dotfiles
        raise ForeignOutputError(f"{target}: exists and was not written by vidcolor; use --overwrite (or -y) to replace it{lost}")
    if may_be_done:
        return
    if first.changed_since_written(target) and all(j.changed_since_written(target) for j in writers):  # as no run that wrote it left it: edited
        # (-y redoes every output of the run: for a folder, every other retouch too; a new user's nightly run
        # failed one re-scanned photo every night, and the way out, moving the output aside, was not said)
        raise ForeignOutputError(f"{target}: changed since vidcolor wrote it (edited by hand?); move it aside to have it "
                          "redone, or use --overwrite (or -y), which replaces every output of the run")
    if not target.stat().st_mode & 0o222:  # chmod a-w: someone meant it to stay (it was replaced, writable again, without a word)
        raise ForeignOutputError(f"{target}: is read-only (protected since vidcolor wrote it?); use --overwrite (or -y) to replace it")
    if src is not None and (other := _other_input(journal, target, src)):
        raise ForeignOutputError(f"{target}: vidcolor wrote it from another input, {other}, which is still there (two input "
                                 "folders into one output?); rename one, choose another output folder, or use --overwrite "
                                 "(or -y) to replace it")


def _other_input(journal: Journal, target: Path, src: Path) -> str | None:
    """The input `target` was last written from, where that is another file than `src` and still there: two
    folders sent into one output (two scanning stations' scan0001.tif, nightly) replaced each other's output
    on every run, without a word (an archivist's test). None for the same input, one gone (a folder moved),
    the same file by another path (a bind mount, a hard link), or a copy of it (same name and same bytes). Not
    by size and mtime alone: two rolls' scan0001.bmp (uncompressed: one size) with a date copied onto both
    replaced each other's output every night, without a word (a reviewer's find; `Journal.same_input` does not
    take them for one file either)."""
    e = journal.last(target)
    if e is None or e.get("legacy") or e.get("status") not in ("done", "colour") or not e.get("input"):
        return None
    recorded = e["input"]
    try:
        if recorded == str(_normal(src)) or not os.path.lexists(recorded):
            return None
        if _same_name(Path(recorded).name, src.name) and (os.path.samefile(recorded, src) or _same_bytes(e, Path(recorded), src)):
            # the same scan copied to where this run reads it, with its date (rsync -a, cp -p) or without (cp -r, a
            # restore): a copy without dates, its original still there, failed every photo every night (a review)
            return None
    except OSError:
        return None
    return recorded


def _same_bytes(e: dict, recorded: Path, src: Path) -> bool:
    """Whether `src` holds the bytes of entry `e`'s input `recorded`, read as little as can be: `src` through the
    run's cache (`Journal.same_input` has just read it), `recorded` not at all where it is as journaled (its
    `input_sha256`). Each read whole again: a scan refused as another roll's was read three times a night, twice
    itself and once the other roll's (a reviewer's note on 0a6c848)."""
    now, was = input_key(src), input_key(recorded)
    if now["size"] != was["size"]:
        return False
    theirs = e.get("input_sha256") if e.get("input_stat") == was else None
    return (theirs or file_sha256(recorded)) == _touched_sha256(src, now)


def _writers(journal: Journal, target: Path):
    """The journals that record writing `target`: the run's own first, then the other output roots' on its path,
    read only where the one before does not vouch for it (rare)."""
    if journal.wrote(target):
        yield journal
    yield from (j for j in _other_journals(journal, target) if j.wrote(target))


def _other_journals(journal: Journal, target: Path):
    """The journals of the other output roots on `target`'s path: an enclosing folder run's, for a run into
    one of its subfolders, and a subfolder's own, for a folder run over it. A folder run failed every output a
    run into its subfolder had written as "not written by vidcolor", and the other way round (an operator's
    test). Each is read once a run (kept on `journal`)."""
    others = journal.__dict__.setdefault("_others", {})
    for folder in _normal(target).parents:
        path = folder / STATE_DIR / JOURNAL_NAME
        try:
            if folder == journal.root or not path.is_file():
                continue
            if path not in others:
                others[path] = Journal(folder)
        except OSError:  # another user's journal, not readable: it vouches for nothing (a review)
            others[path] = None
        if others.get(path) is not None:
            yield others[path]


def _same_name(a: str, b: str) -> bool:
    """Whether two file names are one name, spelled alike or with its accents composed in one and decomposed in the
    other: an input renamed between the two (a copy through a Mac, `rsync --iconv`) is the same input moved."""
    return a == b or unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)


def _lock_name(name: str) -> str:
    """The name an output's lock is keyed by: Unicode-normalized and case-folded, as some file system may
    fold it (Linux folds neither on ext4, but a FAT drive or an SMB share mounted there folds case)."""
    return unicodedata.normalize("NFC", name).casefold()


TURN_POLL_S = 0.5  # how often a run waits for another writing an output whose name folds to its own
UNKNOWN_HOLDER_TRIES = 6  # tries (TURN_POLL_S apart) while a held lock's owner file cannot be read, before refusing


FOLDER_CHECK_S = 10.0  # how long a single-output run waits while another one checks the folder (milliseconds, as a rule)


class OutputLock:
    """Who may write into an output folder: a folder run holds the whole folder; a run writing one output
    (`target`: a photo or a video given on its own) holds only that output, so such runs into one folder
    go side by side (`parallel vidcolor {} -o out/{.}_color.mp4 ::: *.mp4`: every run but one had failed
    with exit 3). A run that cannot have what it needs fails at once, naming the holder's pid: a folder
    run while anything writes there, a single-output run while a folder run holds the folder or another
    run writes the same output.

    filelock's OS-level locks are released by the kernel when their holder dies, even by SIGKILL, so a
    killed run never leaves a stale lock behind. A single-output run takes the folder's lock only while
    it takes its output's (waiting up to FOLDER_CHECK_S for another run doing the same; at once refused
    by a folder run's), and a folder run
    checks, holding the folder's, that no output's lock is held: the two never miss each other. Each
    output's lock file is removed by the run that held it, under the folder's lock, so a folder of
    50,000 photos colorized one by one does not keep 50,000 of them. Within one thread the lock is
    re-entrant, and a folder held covers its outputs: a folder run holds it while each of its videos
    takes it again. Another thread of the same process is refused as another process is (two library
    calls in two threads had both run into one folder, colorizing photos twice and failing others as
    "not written by vidcolor"; an operator's test), unless both write single outputs, which differ.
    The journal they share is append-only, each line appended under its own lock (`Journal._append`)."""

    _held: dict[str, list[int]] = {}  # lock key -> [holding thread's ident, nesting depth] in this process
    _held_lock = threading.Lock()

    def __init__(self, root: Path, target: Path | None = None):
        self.dir = root / STATE_DIR
        self.target = None if target is None else Path(target)
        self.folder_lock = FileLock(str(self.dir / "lock"), timeout=0)
        if self.target is None:
            self.lock, self.owner = self.folder_lock, self.dir / "owner.json"
        else:
            # one lock for every spelling that may name the same file (A.mp4 and a.mp4 on macOS and Windows, and
            # on Linux too on a FAT drive or an SMB share; composed and decomposed accents on macOS): runs
            # writing two such names take turns (`_take_output`), where one file system makes them one file
            self._name = _lock_name(self.target.name)
            name = hashlib.sha256(self._name.encode("utf-8", "surrogateescape")).hexdigest()[:24]
            self.lock = FileLock(str(self.dir / LOCKS_DIR / f"{name}.lock"), timeout=0)
            self.owner = self.dir / LOCKS_DIR / f"{name}.json"
        self._key = ""

    def __enter__(self) -> "OutputLock":
        me = threading.get_ident()
        with OutputLock._held_lock:  # before the folder is made: a refused run leaves none
            if self._enclosing_run(me):
                return self
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a full disk: exit 4, not a traceback (a review)
            raise write_failure(e, f"{self.dir}: cannot make the output's state folder ({e.strerror or e})") from e
        folder_key = str(self.dir.resolve())
        self._key = folder_key if self.target is None else f"{folder_key}/{LOCKS_DIR}/{self._name}"
        with OutputLock._held_lock:
            for key in {self._key, folder_key}:  # this output (or folder), or the folder it is in
                held = OutputLock._held.get(key)
                if held is not None and held[0] == me:
                    self._key = key  # re-entered: the outer lock covers this one
                    held[1] += 1
                    return self
            held = OutputLock._held.get(self._key)
            if held is not None:  # the same output, or the same folder, in another thread
                raise (self._same_output("another thread of this process") if self.target is not None
                       else self._locked("another thread of this process"))
            if folder_key in OutputLock._held:
                raise self._locked("another thread of this process")
            if self.target is None:
                inside = [k for k in OutputLock._held if k.startswith(folder_key + "/")]
                if inside:
                    raise self._locked("this process, which is writing an output there" if any(
                        OutputLock._held[k][0] == me for k in inside) else "another thread of this process")
            OutputLock._held[self._key] = [me, 1]  # reserved: the OS-level lock is taken outside this lock
        try:
            self._take_folder() if self.target is None else self._take_output()
        except OSError as e:  # a lock file (or the locks folder) another user's run left, not ours to open
            with OutputLock._held_lock:
                del OutputLock._held[self._key]
            raise _state_write_error(Path(e.filename or self.dir), e) from e
        except BaseException:
            with OutputLock._held_lock:
                del OutputLock._held[self._key]
            raise
        try:
            # whole or not at all: a run reading it meanwhile (who holds the lock, is it alive) read half a file
            # as a holder it cannot name, and a full disk left it cut short
            atomic_write_text(self.owner, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                                                      "output": None if self.target is None else str(_normal(self.target))}),
                              durable=False)  # (no fsync: a power loss ends the run that holds the lock)
        except OSError as e:  # a disk full before the run started (the next night): one line, exit 4, not the
            self.__exit__(None, None, None)  # report blamed with exit 2, or a traceback (a review)
            raise write_failure(e, f"{self.dir}: cannot write in the output folder ({e.strerror or e})") from e
        # the journal and its lock, which the run appends to after each output: where another user's run left
        # them read-only to this one (root's run last night, this user's cron job tonight), the run had loaded
        # the model and stopped at its first output with exit 4, "cannot write the journal" (an archivist's test)
        for f in (self.dir / JOURNAL_NAME, self.dir / (JOURNAL_NAME + ".lock")):
            try:
                os.close(os.open(f, os.O_WRONLY | os.O_APPEND))  # opened as an append opens it; nothing written
            except FileNotFoundError:
                continue
            except OSError as e:
                self.__exit__(None, None, None)
                raise _state_write_error(f, e) from e
        return self

    def _enclosing_run(self, me: int) -> bool:
        """A folder run holds the folders inside its own too. A run into one of its subfolders (a photo redone
        into its tree, a folder run of a subfolder) had gone on beside it, both writing and journaling the same
        outputs (an operator's test): LockedError, naming that run. True where this thread's own folder run
        holds an enclosing folder (it covers this lock, as for its own folder). Called under _held_lock."""
        for up in Path(os.path.realpath(self.dir.parent)).parents:
            state = up / STATE_DIR
            held = OutputLock._held.get(str(state))
            if held is not None:
                if held[0] == me:
                    held[1] += 1
                    self._key = str(state)
                    return True
                raise self._enclosed(up, "another thread of this process")
            owner = state / "owner.json"
            try:
                running = owner.is_file() and _owner_alive(owner) and _held_elsewhere(state / "lock")
            except OSError:  # another user's output folder above, not ours to read: no run of ours holds it (a review:
                continue  # every run below a share's top, where an admin once ran a folder run, crashed)
            if running:
                raise self._enclosed(up, "a vidcolor run of the whole folder", owner)
        return False

    def _enclosed(self, up: Path, who: str, owner: Path | None = None) -> LockedError:
        return LockedError(f"{self.dir.parent}: is inside {up}, whose output is locked by {who} "
                           f"({self._holder(owner or up / STATE_DIR / 'owner.json', who)}); wait for it to finish")

    def _take_folder(self) -> None:
        try:
            self.lock.acquire()
        except Timeout:
            raise self._locked("another vidcolor run") from None
        try:  # no run may be writing one output here: each holds its lock (and took it under the folder's)
            for f in sorted((self.dir / LOCKS_DIR).glob("*.lock")):
                other = FileLock(str(f), timeout=0)
                try:
                    other.acquire()
                except Timeout:
                    raise self._locked("another vidcolor run", f.with_suffix(".json")) from None
                with contextlib.suppress(OSError):  # free, and none can be taken meanwhile: a killed run's files go
                    f.with_suffix(".json").unlink(missing_ok=True)
                    f.unlink(missing_ok=True)
                other.release()
        except BaseException:
            self.lock.release()
            raise

    def _take_output(self) -> None:
        (self.dir / LOCKS_DIR).mkdir(exist_ok=True)
        unknown, told = 0, False
        while (taken := self._try_output(unknown >= UNKNOWN_HOLDER_TRIES)) is not True:
            unknown = unknown + 1 if taken is None else 0
            if taken is False and not told:  # a wait of minutes (a video) had printed nothing (a review)
                told = True
                logging.getLogger("vidcolor").warning(
                    f"vidcolor: {self.target}: waiting for another vidcolor run ({self._holder(self.owner)}) writing "
                    f"another spelling of it, which some file systems hold as the same file")
            time.sleep(TURN_POLL_S)  # Scan.png while another run writes scan.png: one file or two, they take turns

    def _try_output(self, give_up: bool = False) -> bool | None:
        """Take this output's lock under the folder's: True when taken; False when a run writing another
        spelling of it holds it, None when the holder's owner file is not readable yet (written just after
        its lock is taken, removed just before it is let go): wait and try again; LockedError otherwise
        (and for an unknown holder when `give_up`)."""
        try:
            self.folder_lock.acquire(timeout=0)
        except Timeout:
            folder_owner = self.dir / "owner.json"
            # a folder run holds it (single-output runs write their owner beside their lock), unless that file
            # is a killed folder run's (SIGKILL leaves it; the kernel freed its lock): then the holder is
            # another single-output run taking its own lock, and parallel runs had failed with exit 3
            if folder_owner.is_file() and _owner_alive(folder_owner):
                raise self._locked("a vidcolor run of the whole folder", folder_owner) from None
            try:  # another single-output run taking its own lock: milliseconds, as a rule
                self.folder_lock.acquire(timeout=FOLDER_CHECK_S)
            except Timeout:
                raise self._locked("another vidcolor run", folder_owner) from None
        try:
            self.lock.acquire()
            return True
        except Timeout:
            other = self._other_spelling()
            if other:
                return False
            if other is None and not give_up:
                return None
            raise self._same_output("another vidcolor run") from None
        finally:
            self.folder_lock.release()

    def _other_spelling(self) -> bool | None:
        """Whether the run holding this output's lock writes another spelling of it (Scan.png for scan.png),
        which may be another file (Linux's ext4) or the same (macOS, a FAT drive): then the two take turns.
        None: its owner file cannot be read (yet, or any more)."""
        try:
            theirs = json.loads(self.owner.read_text()).get("output")
        except (OSError, ValueError, AttributeError):
            return None
        return theirs is not None and theirs != str(_normal(self.target))

    def _same_output(self, who: str) -> LockedError:
        return LockedError(f"{self.target}: is being written by {who} ({self._holder(self.owner, who)}); one run at a "
                           "time writes an output")

    def _locked(self, who: str, owner: Path | None = None) -> LockedError:
        owner = owner or self.dir / "owner.json"
        try:
            writing = json.loads(owner.read_text()).get("output")
        except (OSError, ValueError, AttributeError):
            writing = None
        what = f", writing {writing}" if writing else ""
        return LockedError(f"{self.dir.parent}: output is locked by {who} ({self._holder(owner, who)}{what}); runs "
                           "writing into one folder go one at a time unless each writes a single output of its own "
                           "(its journal is shared)")

    @staticmethod
    def _holder(owner: Path, who: str = "") -> str:
        try:
            o = json.loads(owner.read_text())
            return f"pid {o['pid']} on {o['host']}, started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(o['started']))}"
        except (OSError, ValueError, KeyError, TypeError):
            # a thread of this process whose owner file is another one's (a single output's, in a folder another
            # thread locks): "(unknown pid)" where the pid is this one (a library tester's)
            return f"pid {os.getpid()}" if "this process" in who else "unknown pid"

    def __exit__(self, *exc) -> None:
        with OutputLock._held_lock:
            OutputLock._held[self._key][1] -= 1
            if OutputLock._held[self._key][1]:
                return
            del OutputLock._held[self._key]
            self.owner.unlink(missing_ok=True)
            if self.target is not None:
                self._remove_lock_file()
            self.lock.release()

    def _remove_lock_file(self) -> None:
        """Unlink this output's lock file before letting go of it, under the folder's lock (so no run is
        taking it meanwhile); left for the next folder run to remove when the folder is busy."""
        try:
            self.folder_lock.acquire(timeout=0.5)  # another run taking its own lock holds it for milliseconds
        except Timeout:
            return
        try:
            Path(self.lock.lock_file).unlink(missing_ok=True)
        except OSError:  # Windows does not remove a file still open: the next folder run does
            pass
        finally:
            self.folder_lock.release()


def _state_write_error(path: Path, e: OSError) -> VidcolorError:
    """The error for a file of an output's state folder (a lock file, the journal) that cannot be opened to write.
    Only a permission error is another user's file, said with its owner and the way out; a full disk or quota
    stops the run (StorageError, exit 4), a read-only file system is said as such, anything else (EIO) as the OS
    says it. Every one had read "cannot write the output's run state", with advice about another user's run
    where the file was another user's (a reviewer's find)."""
    reason = e.strerror or str(e)
    if e.errno in (errno.EACCES, errno.EPERM):
        return OutputError(_not_writable(path, reason))
    if e.errno == errno.EROFS:
        return OutputError(f"{path}: read-only file system; the output cannot be written there")
    return write_failure(e, f"{path}: cannot write the output's run state ({reason})")


def _not_writable(path: Path, reason: str) -> str:
    """The one line for a file of an output's state folder that this user cannot write: its owner and mode
    say whose run left it, and the way out."""
    try:
        st = path.stat()
        import pwd  # (Unix only)

        whose = f"; owned by {pwd.getpwuid(st.st_uid).pw_name}, mode {stat.S_IMODE(st.st_mode):o}"
        theirs = st.st_uid != os.geteuid()
    except (OSError, ImportError, KeyError):
        whose, theirs = "", False
    how = (f"; a run by another user left it: give this user write access to {path.parent} and its files, or run "
           "as that user") if theirs else ""
    return f"{path}: cannot write the output's run state ({reason}{whose}){how}"


def _held_elsewhere(lock: Path) -> bool:
    """Whether another process holds the OS-level lock `lock` (a folder run's); let go at once if free."""
    other = FileLock(str(lock), timeout=0)
    try:
        other.acquire()
    except (Timeout, PermissionError):  # (a lock file this user cannot open: its live owner file says a run holds it)
        return True
    other.release()
    return False


def _owner_alive(owner: Path) -> bool:
    """Whether the run an owner file names may still run: False only for a process of this machine that
    is gone (a file that cannot be read or names another host counts as alive)."""
    try:
        o = json.loads(owner.read_text())
        pid, host = int(o["pid"]), o["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return host != socket.gethostname() or process_running(pid)


def remove_stale_temporaries(root: Path) -> list[Path]:
    """Delete partial outputs a killed run left behind (call only while holding the lock). One whose
    writer (the pid in its name) is still running on this machine is another run's work under way and
    stays: a run writing a single output into a subfolder holds that subfolder's lock, not this one."""
    gone = []
    if not root.is_dir():
        return gone
    for dirpath, dirnames, filenames in walk(root):
        dirnames[:] = [d for d in dirnames if d != STATE_DIR]
        for name in filenames:
            p = Path(dirpath) / name
            if is_temp_output(p) and not _written_by_another_live_process(p) and discard_temporary(p):
                gone.append(p)
    return gone


def discard_temporary(temp: Path) -> bool:
    """Remove a killed run's temporary; where this user may not (another user's run left it in a folder of
    theirs, or in a sticky shared folder), say so and leave it: it had stopped the run with a PermissionError
    traceback after the model loaded, its report empty (an archivist's cron job, after root's killed run)."""
    try:
        temp.unlink(missing_ok=True)
    except OSError as e:
        logging.getLogger("vidcolor").warning(f"vidcolor: {temp}: cannot remove a killed run's partial file "
                                              f"({e.strerror or e}); left in place")
        return False
    return True


def _written_by_another_live_process(temp: Path) -> bool:
    pid = temp_writer_pid(temp)
    return pid is not None and pid != os.getpid() and process_running(pid)


def process_running(pid: int) -> bool:
    """Whether `pid` is a running process on this machine (another user's counts). On Windows, asked of
    the process itself (os.kill there would terminate it rather than test it)."""
    if os.name == "nt":
        import ctypes

        return _windows_process_running(pid, ctypes.WinDLL("kernel32", use_last_error=True), ctypes)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    except (OverflowError, OSError):  # not a pid this OS can have
        return False
    return True


def _windows_process_running(pid: int, kernel32, ctypes) -> bool:
    """OpenProcess and GetExitCodeProcess: a handle that opens on a process whose exit code is still
    STILL_ACTIVE (259) is running; one refused with ERROR_ACCESS_DENIED (5) exists (another user's, a
    protected one); any other failure (ERROR_INVALID_PARAMETER: no such pid) is no process."""
    if not 0 < pid < 2**32:
        return False
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True  # cannot be told: kept, as a live one is
        return code.value == 259
    finally:
        kernel32.CloseHandle(handle)


class Finishing:
    """What `reported_if_journaled` hands over: set `result` before the journal records the output."""
    result = None


@contextlib.contextmanager
def reported_if_journaled(root: Path, src: Path, key: str, dst: Path):
    """Around a single output's run: a stop (Ctrl-C, SIGTERM) that lands once the journal holds the output as
    finished, while the run cleans up (a film's work folder removed, the lock released) or inside the journal's
    own fsync, carries the run's `result` on the exception (`errors.finished_before`), so the stopped run's
    report says what the journal says, and the next run does: done. It had listed the film as in progress,
    60/60 frames, and the next run skipped it as done (a tester's SIGTERM). The journal is read again to tell."""
    end = Finishing()
    try:
        yield end
    except BaseException as e:
        if end.result is not None:
            with contextlib.suppress(OSError, VidcolorError):  # (a journal that cannot be read: not carried)
                if Journal(root).finished(src, key, dst):
                    carry_finished(e, end.result)
        raise


@contextlib.contextmanager
def finished_emitted(emit):
    """Around the runs of single outputs: the result a stopped one carries (`reported_if_journaled`) goes to
    `emit` before the stop goes on; an `emit` that raises then is noted on the stop, as in a folder run."""
    try:
        yield
    except BaseException as e:
        if (res := finished_before(e)) is not None:
            try:
                emit(res)
            except Exception as err:
                add_note(e, f"on_result raised while the run stopped: {type(err).__name__}: {first_line(err)}")
        raise


def already_done(journal: Journal, dst: Path) -> str:
    """The note of an input skipped as done. An output edited or damaged since vidcolor wrote it is kept
    (it may be a retouched photo), but said so, so that a corrupted copy does not pass unnoticed (an empty
    one is not kept: `Journal.emptied`)."""
    if journal.changed_since_written(dst):
        return "already done; the output has changed since vidcolor wrote it (kept; -y redoes it)"
    return "already done"


def is_stdout(path: Path | None) -> bool:
    """`--report -`, or a path that is this process's standard output (/dev/stdout, /dev/fd/1): written
    where the shell points it, as it is (`--report /dev/stdout >> all.jsonl` had been emptied each run,
    and `--report -` made a file named "-": a new user's test)."""
    if path is None:
        return False
    if str(path) == "-":
        return True
    try:
        a, b = os.stat(path), os.fstat(1)
    except (OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class RunReport:
    """`--report run.jsonl`: one JSON line per input as it finishes, then a summary line (`-`: on stdout)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.counts: dict[str, int] = {}
        self.t0 = time.time()
        self._lock = threading.Lock()
        self._begun = False
        self._file = None
        self.broken = False  # a write failed (StorageError): no more lines
        self.lost = False  # a report on stdout lost lines (its reader went away): the run went on

    def begin(self) -> None:
        """Replace what an earlier run left. The CLI calls it once it holds the output's lock; without a
        call, the first line written does it. Nothing is touched before either, so a run locked out by
        another on the same output leaves that run's report alone (it had emptied it, and the first
        run's lines before that moment were lost)."""
        if self.path is not None and not self._begun and is_stdout(self.path):
            self._file = os.fdopen(os.dup(1), "w")  # its own position: the shell's (`>>` appends)
            self._begun = True
        if self.path is not None and not self._begun:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o666)
            if stat.S_ISREG(os.fstat(fd).st_mode):  # not /dev/stdout, a pipe or a terminal: nothing to lock or empty
                try:  # held until the summary: two runs given one --report (two cron jobs writing $(date +%F).jsonl)
                    # interleaved it, the second's start emptying the first's lines (an operator's test)
                    _lock_exclusively(fd)
                except BlockingIOError:
                    os.close(fd)
                    raise LockedError(f"{self.path}: this --report is being written by another vidcolor run; give each "
                                      "run its own report file") from None
                os.ftruncate(fd, 0)
            self._file = os.fdopen(fd, "w")
            self._begun = True

    def _write(self, line: str) -> None:
        if self.path is None or self.broken:
            return
        try:
            self.begin()
            if self._file is None and is_stdout(self.path):  # after the summary (a late line)
                print(line, flush=True)
                return
            if self._file is None:  # after the summary (a late line): appended, as before
                with open(self.path, "a") as f:
                    f.write(line + "\n")
                return
            _write_whole_line(self._file.fileno(), line)
        except OSError as e:  # a full disk under the report: the run stops, its journal keeps what it finished
            self.broken = True
            with contextlib.suppress(OSError, ValueError):
                if self._file is not None:
                    self._file.close()
            self._file = None
            if is_stdout(self.path) and e.errno in (errno.EPIPE, errno.ECONNRESET):  # a pipe whose reader went away
                self.lost = True  # (`--report - | head -1`): as for the log, the lines are lost, not the run (it had
                return            # stopped with exit 4: a review); a full disk under `> file` stops it, as a file does
            raise StorageError(f"{self.path}: cannot write the report ({e.strerror or e}); the run stops") from e

    def add(self, result) -> None:
        with self._lock:
            self.counts[result.status] = self.counts.get(result.status, 0) + 1
            self._write(json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}))

    def close(self, interrupted: bool = False, inputs: int = 0, error: str | None = None, in_progress: dict | None = None) -> dict:
        """The summary line. A stopped run's (interrupted, or ended by `error`) `total` is what it handled;
        `inputs` (where known) is how many the run had, so a report does not read as if 68 inputs were all
        there were, and `in_progress` the video under way."""
        summary = {"summary": {**{s: self.counts.get(s, 0) for s in ("done", "skipped", "failed")},
                               "total": sum(self.counts.values()), "seconds": round(time.time() - self.t0, 2)}}
        if error is not None:  # the run stopped on a usage or weights error: its summary says so
            summary["summary"]["error"] = error
        if interrupted:
            summary["summary"]["interrupted"] = True
        if interrupted or error is not None:  # a run stopped (a full disk, say: a single video's said "total": 0 alone)
            if inputs:
                summary["summary"]["inputs"] = inputs
            if in_progress:  # the video under way when it stopped, and how far it got (its segments are kept)
                summary["summary"]["in_progress"] = in_progress
        with self._lock:
            self._write(json.dumps(summary))
            if self._file is not None:
                self._file.close()  # and its lock
                self._file = None
        return summary


def _write_whole_line(fd: int, line: str) -> None:
    """Append `line` and a newline at fd, or, where the write fails, leave a file as it was: a disk that
    filled in mid-line had left half a JSON line at the report's end, for a scheduler reading it line by line
    to choke on (an operator's find). Written past Python's buffer, so that closing the file after a failure
    writes nothing more; cutting a file back needs no space."""
    data = memoryview((line + "\n").encode("utf-8", "surrogateescape"))
    st = os.fstat(fd)
    whole = None  # a pipe or a terminal: nothing to cut back
    if stat.S_ISREG(st.st_mode):  # (`--report - >> all.jsonl` appends: its offset is not its end before a write)
        whole = st.st_size if _appends(fd) else os.lseek(fd, 0, os.SEEK_CUR)
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        if whole is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, whole)
        raise


def _appends(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:
        return False
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND)


def _lock_exclusively(fd: int) -> None:
    """An advisory lock on an open file, released when it is closed or the process dies (BlockingIOError
    if another process holds it). Where fcntl is missing (Windows) there is none."""
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
