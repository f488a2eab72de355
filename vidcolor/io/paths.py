"""Output paths: temporary names beside the target, so nothing partial ever has a final name; and the
checks that an output can be written at all, which the front door runs before any work."""
from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import stat
import tempfile
import unicodedata
from pathlib import Path
from typing import Callable

from vidcolor.errors import InputError, OutputError
from vidcolor.io.formats import VIDEO_OUTPUT_EXTS

TEMP_MARK = ".vidcolor-partial-"


def file_sha256(path: str | os.PathLike) -> str:
    """The file's sha256, read in 1 MB blocks (hashlib.file_digest is Python 3.11's; we run on 3.10). The one
    copy: the journal's, the weights' check at the start (no torch) and the checkpoint loader's."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def stat_key(st: os.stat_result) -> dict:
    """What the journal records of an input (its `input_stat`): its size and mtime, to tell a replaced one."""
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


NOT_FOUND = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # what a stat through a path says where nothing is found


def not_found(path: Path) -> str:
    """Why `path` cannot be opened where nothing is found through it: "file not found", or, for a link that
    `ls` lists, where it leads. A link in a loop (a.jpg -> b.jpg -> a.jpg), or to a file gone, was "file not
    found" in the run and "cannot read (Too many levels of symbolic links)" in its dry run (an archivist's test)."""
    if not path.is_symlink():
        return "file not found"
    try:
        path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            return f"a link in a loop, leading to no file ({e.strerror})"
    return f"a link to {os.readlink(path)}, which is missing"


def input_problem(path: Path) -> str | None:
    """Why an input cannot be read, said before it is opened: not there (`not_found`), a named pipe, a device
    or a socket (a named pipe was "empty file (0 bytes)", and one with a writer would have been read as a
    stream no reader here can seek in), or an empty file. None for anything else."""
    try:
        st = path.stat()
    except OSError as e:
        if e.errno in NOT_FOUND:
            return not_found(path)
        raise
    for test, what in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(st.st_mode):
            return f"{what}, not a file (save the stream to a file first)"
    return "empty file (0 bytes)" if st.st_size == 0 else None


NAME_MAX = 255  # bytes in one file name: ext4, XFS, Btrfs, ZFS (NTFS and APFS: 255 characters, no fewer bytes here)


def fit_name(stem: str, head: str = "", tail: str = "") -> str:
    """`head + stem + tail`, within NAME_MAX bytes: a stem too long for what vidcolor adds to it (a temporary's
    mark and pid, a video's ".work") keeps its first characters and gets 8 hex digits of its sha256 after
    a "~", so that two long names stay apart and every run derives the same name. An output named near
    the limit (a 230-byte scan name is legal) failed "File name too long" on its temporary: an archivist's find."""
    def size(s: str) -> int:
        return len(s.encode("utf-8", "surrogateescape"))

    if size(head) + size(stem) + size(tail) <= NAME_MAX:
        return head + stem + tail
    mark = "~" + hashlib.sha256(stem.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    room, kept = NAME_MAX - size(head) - size(tail) - size(mark), ""
    for ch in stem:  # whole characters only: a cut inside a UTF-8 sequence is no valid name
        if size(kept) + size(ch) > room:
            break
        kept += ch
    return head + kept + mark + tail


def name_too_long(path: Path) -> str | None:
    """Why a name in `path` is longer than NAME_MAX bytes ("file name too long (N bytes, ...)"); None if none is."""
    for part in path.parts:
        if (n := len(part.encode("utf-8", "surrogateescape"))) > NAME_MAX:
            return f"file name too long ({n} bytes, where a file system takes {NAME_MAX})"
    return None


def check_name_length(path: Path) -> None:
    """OutputError for a name in `path` longer than NAME_MAX bytes, found before any work: it had failed only
    once written (a video after all its frames were encoded), with a bare OSError "File name too long"
    from the library and a traceback from the CLI (a library user's find)."""
    if why := name_too_long(path):
        raise OutputError(f"{path}: {why}; choose a shorter output name")


def _temp_name(path: Path, pid: int | str) -> str:
    return fit_name(path.stem, ".", f"{TEMP_MARK}{pid}{path.suffix}")


def temp_output_path(path: Path) -> Path:
    """A hidden name in the target folder, unique to this process, keeping the extension; no longer than
    a file name may be (fit_name)."""
    return path.with_name(_temp_name(path, os.getpid()))


def is_temp_output(path: Path) -> bool:
    return TEMP_MARK in path.name


_TEMP_NAME = re.compile(r"\.(?P<stem>.*)" + re.escape(TEMP_MARK) + r"(?P<pid>\d+)(?P<suffix>.*)")  # temp_output_path's


def temp_writer_pid(path: Path) -> int | None:
    """The pid of the process that named `path` with `temp_output_path` (None for another name)."""
    m = _TEMP_NAME.fullmatch(path.name)
    return int(m["pid"]) if m else None


def stale_temporaries(path: Path) -> list[Path]:
    """The temporaries of `path` that runs (this one, or killed ones) left: `temp_output_path`'s name
    with any pid, matched exactly. A glob of the name with the pid replaced by "*" also matched other
    outputs' (the pid inside the file name, or "[1]" read as a character class), which a run writing
    another output of the same folder, at once, was then using."""
    try:
        return [p for p in path.parent.iterdir()
                if (m := _TEMP_NAME.fullmatch(p.name)) and p.name == _temp_name(path, m["pid"])]
    except OSError:
        return []


def check_output(src: Path, dst: Path, create: bool = True) -> None:
    """Refuse an output that is the input or a folder, or whose folder cannot be created or written.
    With create=False nothing is made on disk (the front door checks before the model loads)."""
    if same_file(src, dst):
        raise OutputError(f"{dst}: output is the input file; choose another output path")
    check_name_length(dst)
    (ensure_writable_dir if create else check_writable_dir)(dst.parent)
    if dst.is_dir():
        raise OutputError(f"{dst}: is a folder; give a file name for the output")


def strict_json(obj, **kw) -> str:
    """JSON that strict parsers (jq, JavaScript) read: NaN and infinities written as null (json.dumps
    wrote bare NaN and Infinity: eval-video's ground-truth PSNR, a one-frame clip's flicker)."""
    import json
    import math

    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(obj), allow_nan=False, **kw)


NO_SYNC = (errno.EINVAL, errno.ENOTSUP, errno.ENOSYS)  # what fsync says on a file system that has none (some FUSE mounts)


def durable_replace(tmp: Path, path: Path) -> None:
    """Rename the finished temporary `tmp` onto `path` once its bytes are on disk (fsync), so that nothing
    recorded after it (the journal's "done" line, a segment's log entry, both fsynced or replaced after
    this) can outlive the bytes on a power loss. Without it, delayed allocation (ext4, XFS) let the rename
    reach the disk before the data: the output came back empty or cut short while the journal said done,
    and the next run kept it as "changed since vidcolor wrote it" (a scale tester's find).

    The folder is fsynced too where the rename replaced a file: lost, that rename would leave the older
    file (a redone output's last version, or the segment log before this segment), which the journal's
    record of the new one cannot tell from a hand edit. A rename that made a new name is not: lost, it
    leaves no output, which the next run redoes (the journal's "done" needs a file in place), and this
    saves a folder fsync per new output. Every writer renames through here, and through `os.replace`
    (tests/killpoints.py wraps it)."""
    replacing = os.path.lexists(path)
    _fsync(tmp, folder=False)
    os.replace(tmp, path)
    if replacing:
        _fsync(path.parent, folder=True)


def _fsync(path: Path, folder: bool) -> None:
    """fsync a file (opened writable on Windows, whose fsync needs it) or a folder (not on Windows, where a
    folder cannot be opened; NTFS journals its renames). A file system that has no fsync for it (NO_SYNC)
    is written as before: there is nothing more to ask of it (docs/archives.md, "Power loss")."""
    if folder and os.name == "nt":
        return
    try:
        fd = os.open(path, os.O_RDWR if os.name == "nt" and not folder else os.O_RDONLY)
    except OSError:
        if folder:  # a folder this process may write in but not list (mode -wx): its files' fsyncs stand
            return
        raise
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in NO_SYNC:
            raise
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    """Write `path` whole or not at all: a temporary beside it, renamed over it; removed if that fails. The
    temporary's name is this call's own (hidden, with the pid and a random part): a fixed NAME.tmp was shared by
    two writers of one file (two `vidcolor eval` into one --out), each writing into and renaming the other's.
    `durable`: on disk before the rename (`durable_replace`); off for what a power loss makes moot (a lock's
    owner: the lock dies with the machine)."""
    tmp = path.with_name(fit_name(path.name, ".", f".{os.getpid()}.{secrets.token_hex(4)}.tmp"))
    try:
        tmp.write_text(text)
        (durable_replace if durable else os.replace)(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def same_file(a: Path, b: Path) -> bool:
    """One path, or one file by a link (symbolic or hard)."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def make_folders(folder: Path) -> None:
    """folder.mkdir(parents=True, exist_ok=True) without recursion: pathlib makes each missing parent by
    calling itself, and an output folder mirroring an input tree 1,000 levels deep stopped the whole run
    with a RecursionError traceback at its first photo (an archivist's test)."""
    missing = []
    while not folder.is_dir() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(exist_ok=True)


def ensure_writable_dir(folder: Path) -> None:
    try:
        make_folders(folder)
    except OSError as e:
        raise OutputError(f"{folder}: cannot create the output folder ({e.strerror})") from e
    _probe_writable(folder)


def check_writable_dir(folder: Path, what: str = "output folder") -> None:
    """What ensure_writable_dir would refuse, found without creating anything: the nearest existing
    ancestor must be a writable folder. `what` the folder is, in the refusal ("output folder", "report's folder")."""
    check_name_length(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{folder}: cannot create the {what} ({existing} is a file)")
    _probe_writable(existing, what)


def _probe_writable(folder: Path, what: str = "output folder") -> None:
    """OutputError unless a file can really be created in `folder`. os.access alone is not enough: root
    passes it everywhere, yet /proc, /sys, a read-only mount or a full quota refuse the first write,
    after the model has loaded. The probe is one hidden file, created and removed at once."""
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: {what} is not writable")
    try:
        with tempfile.NamedTemporaryFile(prefix=".vidcolor-probe-", dir=folder):
            pass
    except OSError as e:  # /proc says "No such file or directory" of a folder that exists: say what was tried
        raise OutputError(f"{folder}: {what} is not writable (creating a file there failed: "
                          f"{e.strerror or type(e).__name__})") from None


def check_folder_output(src: Path, dst: Path) -> None:
    """A folder input needs an output folder outside it."""
    if not src.is_dir():
        raise InputError(f"{src}: not a folder")
    check_name_length(dst)
    if src.resolve() == dst.resolve() or dst.resolve().is_relative_to(src.resolve()):
        raise OutputError(f"{dst}: output folder is (inside) the input folder; choose another")
    if src.resolve().is_relative_to(dst.resolve()):  # `vidcolor scans/misc -o scans`: the outputs and a journal
        # landed among the archive's own photos, and the next `vidcolor scans` took them for inputs (new user)
        raise OutputError(f"{dst}: output folder holds the input folder {src}; choose one outside it")
    if dst.exists() and not dst.is_dir():
        raise OutputError(f"{dst}: is a file; a folder input needs an output folder")
    check_writable_dir(dst)


def _upper(name: str) -> str:
    """Each character's simple upper case, as FAT, NTFS and APFS compare names ("ß" stays "ß", not "SS")."""
    return "".join(u if len(u := c.upper()) == 1 else c for c in name)


def name_folding(folder: Path) -> Callable[[str], str]:
    """How the file system that `folder` (or its nearest existing ancestor) is on tells names apart, as a key
    that two names share where they name one file there: case folded on a FAT or exFAT drive, an SMB share or
    macOS, Unicode normalization too on macOS (Café in composed and decomposed form). Found by probe files,
    created and removed at once, each looked up in the other spelling; on Linux's own file systems names are
    their bytes. A probe that cannot be made (a drive that takes ASCII names only) finds no folding."""
    existing = folder
    while not existing.is_dir() and existing != existing.parent:
        existing = existing.parent
    case, composed = (_probe_folds(existing, suffix, other) for suffix, other in (
        ("-x", _upper), ("-e\u0301", lambda name: unicodedata.normalize("NFC", name))))
    if not case and not composed:
        return os.path.normcase

    def fold(name: str) -> str:
        name = unicodedata.normalize("NFC", name) if composed else name
        return _upper(name) if case else name
    return fold


def _probe_folds(folder: Path, suffix: str, other: Callable[[str], str]) -> bool:
    try:
        with tempfile.NamedTemporaryFile(prefix=".vidcolor-probe-", suffix=suffix, dir=folder) as f:
            return os.path.exists(os.path.join(folder, other(os.path.basename(f.name))))
    except OSError:
        return False


def planned_outputs(src: Path, dst: Path, images: list[Path], videos: list[Path], fmt_ext: str | None = None,
                    fold: Callable[[str], str] | None = None
                    ) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """Each photo's and each video's output in the mirrored tree under `dst`, and the inputs that cannot be
    written, each with its one-line reason: two or more inputs that would be written to the same file
    (`a.jpg` and `a.png` with `--format png`, `a.ts` and `a.mkv`; the second would silently replace the
    first, and every re-run would redo one of them) are all left out, so that they fail and the rest of
    the folder goes on (one such pair had refused the whole nightly run, every night: a new user's test).
    Names are compared as `dst`'s file system compares them (`fold`, by default `name_folding(dst)`): on a
    FAT drive, `a/Photo.jpg` and `a/photo.JPG`, or `Scan.tif --format jpg` beside `scan.jpg`, are one file,
    and both had been reported done, one output holding the other's picture (an archivist's test).
    OutputError when an output would be written over one of the inputs."""
    fold = fold or name_folding(dst)
    photos = [(p, dst / p.relative_to(src)) for p in images]
    if fmt_ext:
        photos = [(p, t.with_suffix(fmt_ext)) for p, t in photos]
    films = [(p, video_output(dst / p.relative_to(src))) for p in videos]
    if fold("e\u0301") != fold("\u00e9"):  # (where the file system folds accents, both spellings name one file)
        spelled = _respelled(src, dst)
        photos, films = ([(p, spelled(p, t)) for p, t in pairs] for pairs in (photos, films))
    by_output: dict[str, list[Path]] = {}
    for p, t in photos + films:
        by_output.setdefault(fold(str(t)), []).append(p)
    # an output folder that holds the input folder (`vidcolor par/sub -o par`) can map an input onto
    # another input's path (par/sub/sub/a.png -> par/sub/a.png), which -y replaced: refused before any work
    s_real, d_real = src.resolve(), dst.resolve()
    inputs = {os.path.normcase(str(s_real / p.relative_to(src))): p for p in images + videos}
    for p, t in photos + films:
        if (q := inputs.get(os.path.normcase(str(d_real / t.relative_to(dst))))) is not None:
            raise OutputError(f"{q}: would be replaced by the output of {p} (the output folder {dst} holds the input "
                              "folder); choose an output folder outside it")
    target, film_inputs = dict(photos + films), set(videos)
    # an input named near the limit whose output takes a longer extension (x.bmp with --format webp, x.ts written
    # as x.mkv): its output cannot be named, so it fails alone (it had stopped the whole run with a traceback,
    # OSError "File name too long", at the first look at that output; its dry run said "would do")
    clashes = []
    for p, t in photos + films:
        if why := name_too_long(Path(t.name)):
            by_output.pop(fold(str(t)), None)
            how = "rename it" + (" or leave out --format" if fmt_ext and p not in film_inputs else "")
            clashes.append((p, f"{p}: its output, named {t.suffix} in place of {p.suffix}, cannot be written: {why}; {how}"))
    for same in (s for s in by_output.values() if len(s) > 1):
        names, each = " and ".join(map(str, same)), "both" if len(same) == 2 else "all"
        # --format renames photos only: two videos (a.ts and a.mkv, both a.mkv) clash without it
        # (not where their own names clash too: Photo.jpg and photo.JPG on a FAT drive)
        unformatted = len({fold(str(dst / p.relative_to(src))) for p in same}) == len(same)
        how = "rename one of them" + (" or leave out --format" if fmt_ext and not film_inputs & set(same) and unformatted else "")
        one_file = "" if len({str(target[p]) for p in same}) == 1 else (
            " (one file where the output is: its file system does not tell those names apart)")
        clashes += [(p, f"{names} would {each} be written to {target[p]}{one_file}; {how}") for p in same]
    left_out = {p for p, _ in clashes}
    return ([(p, t) for p, t in photos if p not in left_out], [(p, t) for p, t in films if p not in left_out], clashes)


def _respelled(src: Path, dst: Path) -> Callable[[Path, Path], Path]:
    """An input's output `t`, each of its names spelled as an existing output's where the two differ only in
    Unicode normalization (composed or decomposed accents) and the input's own folder holds no name of that other
    spelling: its input renamed (a copy through a Mac, `rsync --iconv`), not a second file. An archive whose names
    had been converted was colorized again whole on Linux, each accented output written a second time under a
    name that looks the same (`Café.jpg` twice: an archivist's find); the output found is then the journal's
    entry for it, the input the same one moved (`Journal.same_input`). Two inputs of both spellings in one folder
    keep an output each."""
    spellings: dict[Path, dict[str, list[str]]] = {}  # each folder's names by their composed (NFC) form

    def listed(folder: Path) -> dict[str, list[str]]:
        if folder not in spellings:
            try:
                names = os.listdir(folder)
            except OSError:  # (no such output folder yet)
                names = []
            # indexed once a folder: each name had been compared with the whole folder's listing, normalized anew,
            # so a folder of 4,000 accented scans took seconds to plan, twice a run, and 50,000 would take minutes
            by_nfc: dict[str, list[str]] = {}
            for n in names:
                by_nfc.setdefault(unicodedata.normalize("NFC", n), []).append(n)
            spellings[folder] = by_nfc
        return spellings[folder]

    def others(folder: Path, name: str) -> list[str]:
        return [n for n in listed(folder).get(unicodedata.normalize("NFC", name), []) if n != name]

    def spelled(p: Path, t: Path) -> Path:
        ins, outs = p.relative_to(src).parts, t.relative_to(dst).parts  # (as many: only a suffix differs)
        out = dst
        for i, name in enumerate(outs):
            if not name.isascii() and not os.path.lexists(out / name) and not others(src.joinpath(*ins[:i]), ins[i]):
                if len(theirs := others(out, name)) == 1:
                    name = theirs[0]
            out = out / name
        return out
    return spelled


def video_output(target: Path) -> Path:
    """A video's mirrored output path: its own container where the video sink writes it, else MKV."""
    return target if target.suffix.lower() in VIDEO_OUTPUT_EXTS else target.with_suffix(".mkv")
