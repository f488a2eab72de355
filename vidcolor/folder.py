"""Photos and archives: one photo, or a folder tree mirrored into an output folder, its videos included.

Every output is journaled in the output root (archive.Journal), so a re-run skips finished work; a
file already at an output path that no vidcolor run wrote is left alone unless `overwrite`; a photo
already in colour is copied unchanged, so the output tree is complete.
"""
from __future__ import annotations

import collections
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

from vidcolor.archive import (Finishing, Journal, OutputLock, already_done, discard_temporary, finished_emitted, refuse_foreign_output,
                              remove_stale_temporaries, reported_if_journaled)
from vidcolor.colorizer import Colorizer, check_call
from vidcolor.errors import InputError, OutputError, StorageError, UsageError, VidcolorError, add_note, first_line, out_of_space, raised_by_caller
from vidcolor.hints import Hints, displayed_size, load_hints, sidecar_path
from vidcolor.io.formats import IMAGE_FORMAT, SIDECAR_SUFFIX, Media, find_media, list_media
from vidcolor.io.images import ImageData, lost_in, read_image, write_image
from vidcolor.io.paths import (check_folder_output, check_output, durable_replace, input_problem, ensure_writable_dir, make_folders,
                               planned_outputs, stale_temporaries, temp_output_path)
from vidcolor.io.prefetch import BackgroundWorker, prefetch
from vidcolor.options import FolderOptions, Result, VideoOptions, key_differences, run_options
from vidcolor.pipeline import batched, colorize_video
from vidcolor.tone import ColourScores, colour_photo_score
from vidcolor.video_hints import check_video_hints

OnResult = Callable[[Result], None]
log = logging.getLogger("vidcolor")
MADE_OTHERWISE = "made with other settings"  # a dry run's note on a finished output it would redo (the CLI counts them)


def image_key(colorizer: Colorizer, opts: FolderOptions, hints: Hints | None = None) -> str:
    """Everything that changes an image output: a change makes finished work stale."""
    return hinted_key(f"{colorizer.model_id}|fmt={opts.fmt_ext}", hints)


def hinted_key(key: str, hints: Hints | None) -> str:
    """A photo's key with its hints' digest: an edited hints file redoes that photo and only that one."""
    return key + (f"|hints={hints.key}" if hints else "")


def colorize_image(src: str | os.PathLike, dst: str | os.PathLike, colorizer: Colorizer, opts: FolderOptions | None = None,
                   hints: Hints | None = None, image: ImageData | None = None) -> Result:
    """Colorize one image file into `dst` (format from dst's extension), same size, bit depth and alpha.
    `hints` (vidcolor.hints.Hints, in the pixels of the image as displayed) steer its colours and are
    part of its journal key, so changed hints redo it.

    Journaled in dst's folder like a folder run: a re-run skips it while input and settings are
    unchanged. A photo already in colour is skipped (copied to dst unless opts.copy_skipped is off)
    unless opts.force. Raises InputError for an unreadable input and OutputError for an output that
    cannot be written, or that exists and was not written by vidcolor (unless opts.overwrite). `image`:
    src already read (the front door reads a photo while the model loads).
    """
    check_call(colorizer, opts, FolderOptions, hints)
    src, dst, opts = Path(src), Path(dst), opts or FolderOptions()
    t0 = time.time()
    key = image_key(colorizer, opts, hints)
    if opts.dry_run:
        return _dry_run_photo(Journal(dst.parent), src, dst, key, hints, opts)
    check_output(src, dst)
    with reported_if_journaled(dst.parent, src, key, dst) as end, OutputLock(dst.parent, dst):
        for stale in stale_temporaries(dst):  # a killed run's partial file of this output (a video's run does the same)
            discard_temporary(stale)
        journal = Journal(dst.parent, remember=True)
        if (finished := _finished(journal, src, dst, key, opts)) is not None:
            return finished
        refuse_foreign_output(journal, dst, opts.overwrite)
        try:
            img = image if image is not None else read_image(src)
        except InputError as err:
            journal.record(src, key, "failed", dst, note=str(err))
            raise
        if not opts.force and (score := colour_photo_score(img.pixels)) is not None:
            return keep_colour_photo(src, dst, journal, key, opts, t0, score, img, end=end)

        def write() -> None:
            write_image(dst, colorizer.colorize_array(img.pixels, hints), img, colorizer.provenance)
            end.result = _written(src, dst, t0, img, hints)  # before the journal's line

        _commit(journal, src, dst, key, write, redo=opts.overwrite, stat=img.stat)
    return end.result


def _written(src: Path, dst: Path, t0: float, img: ImageData, hints: Hints | None) -> Result:
    """The result of a photo colorized and written: its reading notes, and what its output's format
    dropped (transparency, 16-bit depth)."""
    return Result(src, dst, "done", time.time() - t0, 1, note="with hints" if hints else None, notes=[*img.notes, *lost_in(img, dst)])


def _commit(journal: Journal, src: Path, dst: Path, key: str, write: Callable[[], None], status: str = "done",
            note: str | None = None, copy: Path | None = None, redo: bool = False, stat: dict | None = None,
            sha256: str | None = None) -> None:
    """Mark dst as ours (`redo`: as redone by --overwrite), write it (atomically), then journal it (with `stat`,
    the input's size and mtime before it was read); a failure is journaled and re-raised."""
    journal.touch(dst, redo_key=key if redo else None)
    try:
        write()
    except VidcolorError as err:
        journal.record(src, key, "failed", dst, note=str(err))
        raise
    journal.record(src, key, status, dst, note=note, copy=copy, stat=stat, sha256=sha256)


def keep_colour_photo(src: Path, dst: Path, journal: Journal, key: str, opts: FolderOptions, t0: float, score: ColourScores,
                      img: ImageData | None = None, stat: dict | None = None, sha256: str | None = None,
                      end: Finishing | None = None) -> Result:
    """Journal a photo skipped as already in colour and, unless opts.copy_skipped is off, copy it to dst
    unchanged (its bytes, or its pixels in dst's format; `img` saves reading it again). `stat`: the photo's
    size and mtime before it was read, where `img` does not hold them (a Ray worker read it); `sha256`: its
    bytes' hash, where a worker took it. `end` (a single photo's `reported_if_journaled`) gets the result
    before the journal's line, as a colorized photo's does."""
    note = f"already in colour ({score}; --force colorizes it)"
    notes = list(img.notes) if img else []
    stat = stat or (img and img.stat)
    end = end or Finishing()
    if not opts.copy_skipped:
        end.result = Result(src, None, "skipped", time.time() - t0, note=note, notes=notes)
        journal.record(src, key, "colour", dst, note=str(score), stat=stat, sha256=sha256)
        return end.result
    same_format = IMAGE_FORMAT.get(src.suffix.lower()) == IMAGE_FORMAT.get(dst.suffix.lower())
    make_folders(dst.parent)  # on Ray, a skipped photo can come before its folder's first output

    how = "copied unchanged" if same_format else f"written unchanged as {dst.suffix.lstrip('.').upper()}"

    def copy() -> None:
        if same_format:
            copy_file(src, dst)
        else:
            data = img or read_image(src)
            write_image(dst, data.pixels, data)
        end.result = Result(src, dst, "skipped", time.time() - t0, note=f"{note}; {how} to the output", notes=notes)

    _commit(journal, src, dst, key, copy, status="colour", note=str(score), copy=dst, redo=opts.overwrite, stat=stat,
            sha256=sha256)
    return end.result


def copy_file(src: Path, dst: Path) -> None:
    """Copy src's bytes to dst through a temporary name, so a kill never leaves a partial dst."""
    tmp = temp_output_path(dst)
    try:
        shutil.copyfile(src, tmp)
        durable_replace(tmp, dst)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if out_of_space(e):
            raise StorageError(f"{dst}: cannot write: {e.strerror}; the run stops (what it finished is kept)") from e
        raise OutputError(f"{dst}: cannot write ({e.strerror or e})") from e


def find_images(root: Path) -> list[Path]:
    return find_media(root)[0]


def colorize_folder(src: str | os.PathLike, dst: str | os.PathLike, colorizer: Colorizer, opts: FolderOptions | None = None,
                    on_result: OnResult | None = None, video: VideoOptions | None = None,
                    video_progress: Callable[[Path, int], Callable[[int, int], None] | None] | None = None,
                    run_images: Callable | None = None, media: Media | None = None,
                    run_video: Callable[..., Result] | None = None) -> list[Result]:
    """Colorize every image and video under `src` into the mirrored tree under `dst`.

    Safe to kill and re-run: finished outputs are journaled and skipped, a bad file is reported and
    skipped, and a second run on the same output fails at once with LockedError. Videos go through
    `colorize_video` one by one after the photos, with `video` options (their segments and journal
    live in the .vidcolor folder of their output's folder); `video_progress(path, index)` may give a
    per-frame progress callback for each. `run_images` replaces the loop over the photos still to do
    (same arguments as `_colorize_images`; vidcolor.cluster runs them on a Ray cluster), and `run_video`
    replaces `colorize_video` for each video (same arguments). `media` is
    the folder's listing when the caller has walked it already (vidcolor.api.plan does).

    A sidecar NAME.hints.json beside a photo or video (vidcolor.hints.sidecar_path) holds its hints;
    they are part of its journal key. A bad sidecar fails its input alone; sidecars with a model
    without hint inputs refuse the run before any work (VidcolorError).
    """
    check_call(colorizer, opts, FolderOptions, on_result=on_result, video_progress=video_progress)
    if video is not None and not isinstance(video, VideoOptions):
        raise UsageError(f"video= takes a VideoOptions, got {type(video).__name__}")
    src, dst, opts = Path(src), Path(dst), opts or FolderOptions()
    video, opts = run_options(video or VideoOptions(batch_size=opts.batch_size), opts)  # as the front door does
    check_folder_output(src, dst)
    media = media if media is not None else list_media(src)
    images, videos, linked, stray_hints = media.images, media.videos, media.linked, media.stray_hints
    photo_hints = {p: _read_sidecar(p) for p in images}
    for p, h in photo_hints.items():
        if isinstance(h, Hints) and (unusable := _unusable_palette(colorizer, h, p)):
            photo_hints[p] = unusable
    pairs, video_pairs, clashes = planned_outputs(src, dst, images, videos, opts.fmt_ext)
    key = image_key(colorizer, opts)

    def key_of(p: Path) -> str:
        h = photo_hints[p]
        return key + "|hints=unreadable" if isinstance(h, VidcolorError) else hinted_key(key, h)
    results: list[Result] = []

    def emit(res: Result) -> None:
        results.append(res)
        if on_result:
            on_result(res)

    def say_left_out() -> None:
        for link in sorted(linked):
            emit(Result(link, None, "skipped", note="a link to a folder: not followed (it may lead outside the input "
                                                     "folder, or into the output); colorize its target on its own"))
        for stray in stray_hints:
            emit(Result(stray, None, "skipped", note=f"a hints file beside no photo or video of its name: the hints for "
                                                      f"NAME.EXT go in NAME{SIDECAR_SUFFIX}"))
        for folder, why in media.unreadable:  # its photos and videos cannot be listed: named, the rest goes on
            if folder.name == "lost+found":  # a mount point's own, root's only: a failure a night for no scan (a review)
                emit(Result(folder, None, "skipped", note=f"the file system's recovery folder, not read ({why})"))
                continue
            emit(Result(folder, None, "failed", error=f"{folder}: cannot list the folder ({why}); its photos and videos "
                                                       "were left out"))
        for p, why in clashes:  # two inputs, one output: both fail, the rest goes on
            emit(Result(p, None, "failed", error=why))

    if opts.dry_run:  # what the run below would do, from the journals and the files' sizes; nothing is created
        say_left_out()
        journal = Journal(dst)
        say_redone(journal, [(p, t, key_of(p)) for p, t in pairs], dst, opts)
        for p, t in pairs:
            h = photo_hints[p]  # a point outside the photo, from its header alone ("would colorize with hints" before)
            if isinstance(h, Hints) and (size := displayed_size(p)) and (misfit := sidecar_misfit(h, p, size[::-1])):
                h = misfit
            emit(_dry_run_photo(journal, p, t, key_of(p), h, opts))
        for p, t in video_pairs:
            emit(_folder_video(p, t, colorizer, video))
        return results
    if images and not opts.force:  # the colour-photo detector's weights, checked before the first photo
        from vidcolor.tone import load_tone_net

        load_tone_net()
    ensure_writable_dir(dst)
    with OutputLock(dst):
        say_left_out()  # inside the lock: a run locked out reports nothing (a --report it wrote to had been emptied)
        remove_stale_temporaries(dst)
        journal = Journal(dst, remember=True)
        say_redone(journal, [(p, t, key_of(p)) for p, t in pairs], dst, opts)
        todo = []
        for p, t in pairs:
            h = photo_hints[p]
            if isinstance(h, VidcolorError):  # a bad sidecar fails its photo; the run goes on
                journal.record(p, key_of(p), "failed", t, note=str(h))
                emit(Result(p, None, "failed", error=str(h)))
                continue
            if skipped := _finished(journal, p, t, key_of(p), opts):
                emit(skipped)
            else:
                todo.append((p, t, h))
        (run_images or _colorize_images)(todo, colorizer, journal, key, opts, emit)
        for i, (p, t) in enumerate(video_pairs):
            with finished_emitted(emit):  # a film journaled as done when the run was stopped is reported as done
                emit(_folder_video(p, t, colorizer, video, video_progress and (lambda p=p, i=i: video_progress(p, i)), run_video))
    return results


def redone_because(journal: Journal, src: Path, key: str, dst: Path) -> list[str]:
    """What differs, in words (`key_differences`), between `key` and the settings `dst` was finished with, where a run
    with `key` redoes it for that alone (`Journal.made_otherwise`); empty otherwise. An edited hints file is left out:
    it redoes its own photo, as asked."""
    if (was := journal.made_otherwise(src, key, dst)) is None:
        return []
    return [d for d in key_differences(was, key) if d != "other hints"]


def say_redone(journal: Journal, pairs: list[tuple[Path, Path, str]], dst: Path, opts: FolderOptions) -> None:
    """One line, before the work, where finished outputs are to be redone because the run's settings are not those
    they were made with (`pairs`: input, output, this run's key): how many, and what differs. A release that
    renders otherwise redoes a whole archive once (hours of a nightly run), and it had started without a word (an
    archivist's test). An edited hints file, which redoes its own photo as asked, is not counted; nor is any
    output under --overwrite, which redoes everything as asked."""
    if opts.overwrite:
        return
    made, why = 0, collections.Counter()
    for p, t, key in pairs:
        if differs := redone_because(journal, p, key, t):
            made += 1
            why.update(differs)
    if made:
        what = ", ".join(d for d, _ in why.most_common(4)) + (", ..." if len(why) > 4 else "")
        were = "were" if made != 1 else "was"
        log.warning(f"vidcolor: {made:,} finished output{'s' * (made != 1)} in {dst} {were} {MADE_OTHERWISE} "
                    f"({what}) and {'would' if opts.dry_run else 'will'} be redone"
                    + ("" if opts.dry_run else f"; Ctrl-C now to keep {'them' if made != 1 else 'it'}"))


def _dry_run_photo(journal: Journal, src: Path, dst: Path, key: str, hints: Hints | None | VidcolorError,
                   opts: FolderOptions) -> Result:
    """A dry run's line for a photo: skipped as the journal says, failed where the real run is sure to fail
    it (a bad sidecar, or one with a point outside the photo as its header gives its size, an empty file,
    an output vidcolor did not write or that was edited since), planned otherwise (an unchanged photo that
    failed before: tried again, with its last error). The photo is not opened: whether it is already in
    colour (skipped without --force), or readable at all, only the real run finds out (it reads and tests every photo, 50 ms of CPU or more
    each), so the line says so rather than "would colorize"."""
    if isinstance(hints, VidcolorError):
        return Result(src, None, "failed", error=str(hints))
    if skipped := _finished(journal, src, dst, key, opts):
        return skipped
    try:
        if why := input_problem(src):
            raise InputError(f"{src}: {why}")  # read_image's words, without reading
        refuse_foreign_output(journal, dst, opts.overwrite, writing=False, folder_run=True, src=src)
    except OSError as err:
        return Result(src, None, "failed", error=f"{src}: cannot read ({err.strerror or err})")
    except VidcolorError as err:
        return Result(src, None, "failed", error=str(err))
    last = journal.last(dst)
    if last and last["status"] == "failed" and journal.same_input(last, src):
        why = str(last.get("note") or "").removeprefix(f"{src}: ")
        return Result(src, dst, "planned", note=f"would try again; it failed last time ({why})" if why else "would try again")
    what = "would colorize" + (" with hints" if hints else "")
    if differs := redone_because(journal, src, key, dst):
        what = f"{MADE_OTHERWISE} ({', '.join(differs)}): {what}"
    return Result(src, dst, "planned", note=what if opts.force else f"{what} or skip as already in colour")


def find_sidecars(media: list[Path]) -> list[Path]:
    """The hints files (NAME.hints.json) beside these photos and videos."""
    return [s for s in map(sidecar_path, media) if has_sidecar(s)]


def has_sidecar(path: Path) -> bool:
    """Whether a sidecar is there to be read: a file, or anything else under its name (a link to a missing
    file, a folder), which then fails its input naming the sidecar. `is_file()` said no to a link whose target
    was gone (a share not mounted), and the photo was colorized without its hints and journalled as done (a
    hints user's find)."""
    return os.path.lexists(path)


def _unusable_palette(colorizer: Colorizer, hints, src: Path) -> InputError | None:
    """The error for a sidecar of `src` with a palette, given weights without hint inputs (hint points work
    with any network): it fails that photo or video, as any other bad sidecar does, not the whole nightly
    run (it had exited 2: a new user's test, then a review for videos)."""
    try:
        colorizer.require_hints(hints, str(sidecar_path(src)))
    except UsageError as e:
        return InputError(str(e))
    return None


def _read_sidecar(photo: Path) -> Hints | None | VidcolorError:
    """A photo's sidecar hints: None without one, the error (one line naming the file and entry) for a bad one."""
    path = sidecar_path(photo)
    if not has_sidecar(path):
        return None
    try:
        return load_hints(path)
    except InputError as e:
        return e


def _folder_video(src: Path, dst: Path, colorizer: Colorizer, opts: VideoOptions,
                  make_progress: Callable[[], Callable[[int, int], None] | None] | None = None,
                  run_video: Callable[..., Result] | None = None) -> Result:
    """One video of a folder run (with its sidecar hints): a failure is this input's Result, and the run
    goes on. `make_progress` (which probes the video: it may fail too) gives the per-frame callback."""
    t0 = time.time()
    try:
        hints = check_video_hints(sidecar_path(src), src) if has_sidecar(sidecar_path(src)) else None
        if hints and (unusable := _unusable_palette(colorizer, hints, src)):
            return Result(src, None, "failed", time.time() - t0, error=str(unusable))
        if not opts.dry_run:
            ensure_writable_dir(dst.parent)
        progress = make_progress() if make_progress else None
        # which refuses a file it did not write, and (folder_run) one it wrote from another input still there: two
        # stations' reel01.mp4 into one output replaced each other's nightly, as their photos did (an archivist's test)
        res = (run_video or colorize_video)(src, dst, colorizer, opts, progress=progress, hints=hints, folder_run=True)
    except (InputError, OutputError) as e:
        return Result(src, None, "failed", time.time() - t0, error=str(e))
    except (VidcolorError, MemoryError):  # another run's lock, bad weights, a usage error, the machine: the run's
        raise
    except Exception as e:  # a defect met on one file (a camera clip's unknown side data crashed every nightly rerun
        # at the same file): that input fails, named in one line with where it happened, and the run goes on;
        if raised_by_caller(e):  # not the caller's own progress callback's (api._callers)
            raise
        return Result(src, None, "failed", time.time() - t0, error=unexpected(src, e))
    if dst.suffix.lower() != src.suffix.lower() and res.status == "done":
        res.notes.insert(0, f"written as {dst.suffix.lstrip('.').upper()}: vidcolor does not write {src.suffix} files")
    return res


def _finished(journal: Journal, src: Path, dst: Path, key: str, opts: FolderOptions) -> Result | None:
    """The "skipped" result of a photo whose journaled output is still good (None: it is to be done),
    as the run and its dry run both decide it; --force redoes photos skipped as already in colour, and a
    run that copies them (the default) copies those an earlier --no-copy-skipped run left out."""
    e = None if opts.overwrite else journal.finished(src, key, dst)
    if not e or (e["status"] == "colour" and (opts.force or (opts.copy_skipped and not e.get("copy")))):
        return None  # also a colour photo skipped without a copy (--no-copy-skipped) when copies are wanted now
    return Result(src, dst if e.get("copy") or e["status"] == "done" else None, "skipped", note=_skip_note(e, journal, dst))


def _skip_note(entry: dict, journal: Journal, dst: Path) -> str:
    if entry["status"] != "colour":
        return already_done(journal, dst)
    return "already in colour (--force colorizes it)" + ("; its unchanged copy is in the output" if entry.get("copy") else "")


def read_or_error(path: Path):
    """A photo as read, or the one-line error that fails it alone (a crash of the reader included)."""
    try:
        return read_image(path)
    except VidcolorError as e:
        return e
    except MemoryError:
        raise
    except Exception as e:  # as for a video above: this photo fails, the run goes on
        return InputError(unexpected(path, e))


def unexpected(path: Path, e: Exception) -> str:
    """One line for a defect met on one input: the exception, and the innermost place in vidcolor it
    passed through (what a bug report needs). Out of memory (a CUDA one is a RuntimeError) stops the run;
    an OSError is the file's or the disk's, not called a defect."""
    import traceback

    if "OutOfMemory" in type(e).__name__ or "out of memory" in str(e).lower():
        raise e
    if isinstance(e, OSError):
        return f"{path}: {e.strerror or e}" + (f" ({e.filename})" if e.filename and str(e.filename) != str(path) else "")

    ours = [f for f in traceback.extract_tb(e.__traceback__) if f"{os.sep}vidcolor{os.sep}" in f.filename]
    where = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
    what = first_line(e, 160, default="")
    return f"{path}: unexpected error ({type(e).__name__}: {what}{where}); a vidcolor defect: please report it"


HAND_OVER_WAIT_S = 0.05  # how long the caller's thread waits for the write thread's next result, at a time


def _colorize_images(todo, colorizer: Colorizer, journal: Journal, key: str, opts: FolderOptions, emit) -> None:
    """Read ahead in one thread, write behind in another; the network sees batches of images. `todo`
    holds (src, dst, hints or None); `key` is the folder's key, each photo's is `hinted_key` of it.

    Every result reaches `emit` on the calling thread, one at a time: the write thread's wait in `finished`
    until this one takes them (between batches, and as they come while it waits for the last writes). A caller's on_result had been called on
    the write thread for photos written, and at the same time on this one for photos failed: a service's
    on_result writing to an SQLite connection failed the run with "SQLite objects created in a thread can
    only be used in that same thread" (a library user's test)."""
    finished: collections.deque[Result] = collections.deque()  # the write thread's results, taken as they are emitted
    arrived = threading.Event()
    stopped = False  # the caller's on_result raised an Exception: it is not called again
    stopping: BaseException | None = None  # what stops the run, where it stops on an exception of its own

    def hand_over(wait_s: float = 0.0) -> None:
        """Emit the results waiting, the first waited for up to `wait_s`."""
        nonlocal stopped
        while not stopped:
            arrived.clear()
            if not finished and wait_s:
                # waited for, not taken: a Ctrl-C that lands meanwhile (raised as the wait returns) leaves the result
                # queued, handed over on the way out. A queue's get(timeout) took it and then raised, where the
                # signal had reached another thread first: a photo written and journaled was in no report (a tester's)
                arrived.wait(wait_s)
            if not finished:
                return
            wait_s = 0.0
            res = finished.popleft()
            try:
                emit(res)
            except Exception as e:  # the caller's on_result raised: not called again. A Ctrl-C (or SIGTERM) that lands
                stopped = True  # while a result is reported is no on_result's failure: the results written are
                if stopping is None:  # still handed over on the way out, so the stopped run's --report lists them
                    raise
                # the run stops already (Ctrl-C, a full disk): that reason is what the caller gets, this beside it;
                # the callback's error had replaced it (its log on that full disk, say)
                add_note(stopping, f"on_result raised while the run stopped: {type(e).__name__}: {first_line(e)}")

    def put(res: Result) -> None:
        finished.append(res)
        arrived.set()

    def report(res: Result) -> None:  # on this thread: in order with the write thread's results before it
        put(res)
        hand_over()

    def write(job) -> None:
        src, dst, t0, action = job
        try:
            make_folders(dst.parent)
            put(action())
        except StorageError:  # the run stops (at the next submit or at close)
            raise
        except VidcolorError as e:
            put(Result(src, None, "failed", time.time() - t0, error=str(e)))
        except OSError as e:  # the folder could not be made
            if out_of_space(e):
                raise StorageError(f"{dst.parent}: cannot create the output folder: {e.strerror}; the run stops") from e
            put(Result(src, None, "failed", time.time() - t0, error=f"{dst.parent}: cannot create the output folder ({e.strerror})"))

    def colorized(src, dst, out, img, t0, hints) -> Callable[[], Result]:
        def act() -> Result:
            _commit(journal, src, dst, hinted_key(key, hints), lambda: write_image(dst, out, img, colorizer.provenance), redo=opts.overwrite,
                    stat=img.stat)
            return _written(src, dst, t0, img, hints)
        return act

    writer = BackgroundWorker(write, depth=4, name="write")
    try:
        # a with-block: a caller's on_result that raised left the read thread running (an operator's test)
        with prefetch(((p, t, h, time.time(), read_or_error(p)) for p, t, h in todo), depth=4, name="read") as reads:
            for batch in batched(reads, opts.batch_size):
                ready = []
                for p, t, h, t0, img in batch:
                    k = hinted_key(key, h)
                    bad = img if isinstance(img, VidcolorError) else sidecar_misfit(h, p, img.pixels.shape)
                    try:
                        if bad is not None:
                            journal.record(p, k, "failed", t, note=str(bad))
                            raise bad
                        refuse_foreign_output(journal, t, opts.overwrite, folder_run=True, src=p)
                    except StorageError:
                        raise
                    except VidcolorError as e:
                        report(Result(p, None, "failed", time.time() - t0, error=str(e)))
                        continue
                    if not opts.force and (score := colour_photo_score(img.pixels)) is not None:
                        writer.submit((p, t, t0, lambda p=p, t=t, img=img, t0=t0, k=k, score=score:
                                       keep_colour_photo(p, t, journal, k, opts, t0, score, img)))
                    else:
                        ready.append((p, t, t0, img, h))
                outs = colorizer.colorize_arrays([r[3].pixels for r in ready], [r[4] for r in ready], opts.batch_size) if ready else []
                for (p, t, t0, img, h), out in zip(ready, outs):
                    writer.submit((p, t, t0, colorized(p, t, out, img, t0, h)))
                hand_over()
    except BaseException as e:
        stopping = e
        raise
    finally:
        try:
            # each result as it is written, as before (not after the caller's on_result raised: it is not called again)
            writer.close(waiting=None if stopped else lambda: hand_over(HAND_OVER_WAIT_S))
        except BaseException as e:
            if stopping is None:  # the write thread's failure (or a Ctrl-C while waiting for it) stops the run
                stopping = e
                raise
            # the run stops already (Ctrl-C): that reason is what the caller gets, a write that failed meanwhile
            # (the disk full) beside it; re-raised here, it had replaced the KeyboardInterrupt (a review)
            if e is not stopping:  # (the same error where a submit had raised it first)
                add_note(stopping, f"writing failed while the run stopped: {type(e).__name__}: {first_line(e)}")
        finally:
            hand_over()  # what was written meanwhile, also on the way out (Ctrl-C): the report lists it


def sidecar_misfit(hints: Hints | None, photo: Path, shape: tuple[int, ...]) -> InputError | None:
    """The error, naming the sidecar and the entry, for a hint point outside the photo as read (EXIF
    orientation applied); None where every point fits."""
    try:
        if hints:
            hints.check_inside(shape[1], shape[0], str(sidecar_path(photo)))
    except InputError as e:
        return e
    return None
