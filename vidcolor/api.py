"""The front door: `vidcolor.colorize(src, dst)` for a photo, a video or a folder of both.

It sorts the input, checks everything that can be checked without the model (a missing input, an
impossible output, an output file that vidcolor did not write, an unknown encoder), then loads the
model in a background thread while the input is opened, and hands off to the pipeline. The CLI is
one call of it, as whisper's CLI is one call of `transcribe`.
"""
from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from vidcolor.archive import Journal, finished_emitted, refuse_foreign_output
from vidcolor.errors import RAISED_BY_CALLER, InputError, OutputError, UsageError
from vidcolor.io.formats import FORMAT_EXT, IMAGE_EXTS, IMAGE_FORMAT, VIDEO_OUTPUT_EXTS, is_image_path, list_media, refuse_unlisted
from vidcolor.io.paths import (check_folder_output, check_name_length, check_output, check_writable_dir, input_problem,
                               name_too_long, not_found, planned_outputs, video_output)
from vidcolor.options import VIDEO_ONLY, FolderOptions, Result, VideoOptions, run_options

FrameProgress = Callable[[int, int], None]  # (frames done, frames in the video or 0)
# How long a stopped run waits for the model's loader thread (see _loader_settled): a load takes a few
# seconds; a hung one (a CUDA init, a weights file on a dead network mount) must not keep the process alive,
# as the CLI ignores a second SIGTERM
LOADER_STOP_WAIT_S = 30.0


class Progress(Protocol):
    """What a run tells its caller while it works (the CLI's Reporter draws bars or prints lines)."""

    def inputs(self, total: int) -> None:
        """A folder run found `total` photos and videos."""

    def video(self, path: Path, frames: int, segment_frames: int) -> FrameProgress | None:
        """A video of `frames` frames starts (encoded in segments of `segment_frames`)."""


@dataclass(frozen=True)
class Plan:
    kind: str  # "image", "video" or "folder"
    src: Path
    dst: Path
    hints: object = None  # vidcolor.hints.Hints for a photo, VideoHints for a video, checked against it
    media: object = None  # a folder's listing (vidcolor.io.formats.Media), walked once for the whole run


def default_output(src: Path, fmt_ext: str | None = None) -> Path:
    """NAME_color.EXT beside a file, NAME_color beside a folder."""
    if src.is_dir():
        if not src.resolve().name:  # `vidcolor /` raised ValueError with a traceback
            raise UsageError(f"{src}: the root folder has no name to put NAME_color beside; give the output with -o")
        return src.resolve().with_name(f"{src.resolve().name}_color")
    if is_image_path(src):
        return src.with_name(f"{src.stem}_color{fmt_ext or src.suffix}")
    # a video in a container vidcolor does not write (.ts, .mpg, .wmv) as MKV, as a folder run writes it:
    # `vidcolor clip.ts` was refused for "clip_color.ts", a name the user never typed
    return video_output(src.with_name(f"{src.stem}_color{src.suffix}"))


def plan(src: str | Path, dst: str | Path | None = None, video: VideoOptions | None = None,
         folder: FolderOptions | None = None, hints=None) -> Plan:
    """Sort the input into photo, video or folder and check its output and hints, writing nothing:
    InputError for a missing input or an input folder that cannot be listed, UsageError for a bad hints file or for an output that cannot or must
    not be written."""
    video, folder = video or VideoOptions(), folder or FolderOptions()
    if not isinstance(video, VideoOptions) or not isinstance(folder, FolderOptions):
        raise UsageError("video= takes a VideoOptions and folder= a FolderOptions")
    video, folder = run_options(video, folder)
    from vidcolor.archive import _real_folder

    _real_folder.cache_clear()  # links resolved afresh for this call: the output lock records its path before the journal
    for name, value in (("src", src), ("dst", dst)):  # colorize(123) and colorize(None) raised TypeError (a reviewer's test)
        if not (isinstance(value, (str, os.PathLike)) or (name == "dst" and value is None)):
            raise UsageError(f"{name}= takes a path (str or os.PathLike), got {type(value).__name__}")
    if str(src) == "" or (dst is not None and str(dst) == ""):  # Path("") is ".": the current folder
        raise UsageError(f"{'input' if str(src) == '' else 'output'} path is empty")
    src = Path(src)
    if not src.exists():
        raise InputError(f"{src}: {not_found(src)}")
    if not src.is_dir() and (why := input_problem(src)):  # before -o is checked against its kind: a pipe has none (`cat
        raise InputError(f"{src}: {why}")  # scan.jpg | vidcolor /dev/stdin -o o.jpg` was "an image file name for a video input")
    kind = input_kind(src)
    dst = output_path(src, kind, dst, folder.fmt_ext)
    check_format(kind, src, dst, folder.fmt_ext)
    if kind == "image":  # ignored without a word (the CLI refuses the same flags for a photo: new-user test)
        default = VideoOptions()
        if given := [f for f in VIDEO_ONLY if getattr(video, f) != getattr(default, f)]:
            raise UsageError(f"{src}: video=VideoOptions({given[0]}={getattr(video, given[0])!r}) applies to videos, "
                             "and this input is a photo")
        if video.overwrite and not folder.overwrite:  # it was ignored: the user's file stayed, refused (a review)
            raise UsageError(f"{src}: video=VideoOptions(overwrite=True) applies to videos, and this input is a photo "
                             "(folder=FolderOptions(overwrite=True) is the photos')")
    given, dst = dst, planned_output(src, kind, dst, folder.fmt_ext)
    if given is None and (why := name_too_long(dst)):  # "choose a shorter output name" to one who gave none (a review)
        raise UsageError(f"{dst}: {why}: the default output name, NAME_color beside the input; give a shorter one with -o")
    if given is None:  # a photo in a read-only folder was refused "output folder is not writable", -o not said (a tester's)
        try:
            check_writable_dir(dst if kind == "folder" else dst.parent)
        except OutputError as e:
            raise UsageError(f"{e}; the default output, {dst.name}, goes beside the input: give another with -o") from None
    hints = _checked_hints(src, kind, hints)
    try:
        if kind == "folder":
            check_folder_output(src, dst)
            _check_encoder(video.codec)
            media = list_media(src)  # walked once: a 50,000-scan tree took 0.4 s a walk here, more on a share
            refuse_unlisted(src, media.unreadable, InputError)
            planned_outputs(src, dst, media.images, media.videos, folder.fmt_ext)  # an output over an input: refused here
            return Plan(kind, src, dst, media=media)
        check_output(src, dst, create=False)
        if kind == "image" and dst.suffix.lower() not in IMAGE_EXTS:
            raise OutputError(f"{dst}: not an image file name ({', '.join(sorted(IMAGE_EXTS))}); the input is a photo")
        if kind == "image":  # its header, as a video's is probed: a file that is no photo fails before the model loads
            from vidcolor.io.images import check_image

            check_image(src)
        if kind == "video":
            _plan_video_output(src, dst, video)
        if dst.parent.is_dir():  # a dry run is refused as the run would be: the same line and exit code
            journal = Journal(dst.parent)
            last = journal.last(dst)
            # an edited or protected output that may be finished (its entry done, for this very input) is left to
            # the run, which skips it when its key matches too (a re-run had failed with exit 2); any other is refused here
            maybe_done = last is not None and last.get("status") in ("done", "colour") and journal.same_input(last, src)
            refuse_foreign_output(journal, dst, video.overwrite if kind == "video" else folder.overwrite,
                                  writing=False, may_be_done=maybe_done)
    except OutputError as e:
        raise UsageError(str(e)) from e
    return Plan(kind, src, dst, hints)


def refuse_shipped_palette(p: Plan, hints, model: str | None, weights) -> None:
    """A palette in the hints, for shipped weights whose network has no hint inputs (its manifest says so):
    UsageError, known before the weights load (and, in the CLI, before the output's lock is taken: a
    refused run had left a `.vidcolor/` lock folder in the user's photo folder)."""
    if not p.hints or weights is not None:
        return
    from vidcolor.hints import refuse_palette
    from vidcolor.weights import DEFAULT_MODEL, manifest

    name = DEFAULT_MODEL if model is None else model
    if manifest().get(name, {}).get("hint_inputs") is False:
        refuse_palette(p.hints, _hints_label(hints), name)


def refuse_missing_detector(p: Plan, folder: FolderOptions) -> None:
    """WeightsError when the run judges photos (one, or a folder holding some, without --force: is each already
    in colour?) and the colour-photo detector's shipped weights are missing or corrupt: known before anything is
    decoded or loaded, and (in the CLI) before the output's lock is taken (vidcolor.tone.check_tone_net)."""
    if folder.force or not (p.kind == "image" or (p.kind == "folder" and p.media.images)):
        return
    from vidcolor.tone import check_tone_net

    check_tone_net()


def input_kind(src: Path) -> str:
    """"folder", "image" or "video": how an existing input is run."""
    return "folder" if src.is_dir() else "image" if is_image_path(src) else "video"


def output_path(src: Path, kind: str, dst: str | os.PathLike | None, fmt_ext: str | None) -> Path | None:
    """dst= (-o) as given, as a Path: UsageError where it names a folder (one there, or a name ending in a path
    separator) and the input is a photo or a video, whose output is one file. Path() drops a trailing separator:
    `-o newdir/` for a photo had been refused as not an image file name (for a video, as an "extension-less"
    file), and with --format png it became the file newdir.png. A name too long for any file system: UsageError
    too (is_dir() raised OSError on it)."""
    if dst is None:
        return None
    given = os.fspath(dst)
    try:
        check_name_length(Path(given))
    except OutputError as e:
        raise UsageError(str(e)) from e
    if kind != "folder" and (given.endswith(tuple(s for s in (os.sep, os.altsep) if s)) or Path(given).is_dir()):
        what = "photo" if kind == "image" else "video"
        raise UsageError(f"{given}: names a folder, and the input is a {what}, whose output is a file; give its name, "
                         f"such as {Path(given) / default_output(src, fmt_ext).name}")
    return Path(given)


def planned_output(src: Path, kind: str, dst: Path | None, fmt_ext: str | None) -> Path:
    """The output a run writes: `dst`, or NAME_color beside the input; a photo's in the --format asked
    for (out.jpeg and OUT.JPG already are JPEG names: kept as given)."""
    dst = dst if dst is not None else default_output(src, fmt_ext)
    if kind == "image" and fmt_ext and not _same_format(dst, fmt_ext):
        dst = dst.with_suffix(fmt_ext)
    return dst


def _same_format(dst: Path, fmt_ext: str) -> bool:
    """Whether an output name is in the format `fmt_ext` names, whichever spelling either has (.jpeg and .JPG
    for .jpg; a library's FolderOptions(fmt_ext="tiff") and a.tif: it was refused as a contradiction, a review)."""
    return IMAGE_FORMAT.get(dst.suffix.lower()) == IMAGE_FORMAT.get(FORMAT_EXT.get(fmt_ext.lower()[1:], ""))


def check_format(kind: str, src: Path, dst: Path | None, fmt_ext: str | None) -> None:
    """An image format (`--format`, FolderOptions.fmt_ext) is for photos, and must agree with an output
    file name given with an image extension (out.jpeg and OUT.JPG are JPEG names): UsageError otherwise,
    rather than writing another file than the one named, or ignoring the format."""
    if not fmt_ext:
        return
    if kind == "video":
        raise UsageError(f"{src}: --format {fmt_ext[1:]} is for photos, and this input is a video (its container follows -o)")
    if kind == "image" and dst is not None and dst.suffix and not _same_format(dst, fmt_ext):
        raise UsageError(f"{dst}: --format {fmt_ext[1:]} contradicts the output's extension {dst.suffix}; "
                         f"drop --format or name a {fmt_ext} file")


def _checked_hints(src: Path, kind: str, hints):
    """A photo's hints (a Hints or the path of a hints file) or a video's (VideoHints or a path), parsed
    and checked against the photo or video as displayed; UsageError with one line naming the file and
    the entry. A video's come back in pixels of its frames as decoded."""
    if hints is None:
        return None
    from vidcolor.hints import Hints, VideoHints, check_built, displayed_size, load_hints

    if kind == "folder":
        raise UsageError(f"{hints}: --hints is for one photo or video; a folder run reads NAME.hints.json beside each input")
    if not isinstance(hints, (str, os.PathLike, Hints, VideoHints)):
        raise UsageError(f"hints= takes a hints file's path, a Hints (a photo's) or a VideoHints (a video's), "
                         f"got {type(hints).__name__}")
    if isinstance(hints, str) and not hints:  # Path("") is ".": "cannot read hints file (Is a directory: '.')"
        raise UsageError("hints path is empty")
    if kind == "video" and isinstance(hints, Hints):  # a TypeError from deep inside, for a library user
        raise UsageError(f"{src}: a photo's Hints given for a video; a video takes a VideoHints or a video hints file")
    if kind == "image" and isinstance(hints, VideoHints):
        raise UsageError(f"{src}: a video's VideoHints given for a photo; a photo takes a Hints or a hints file")
    where = "hints"
    display = None
    if isinstance(hints, (Hints, VideoHints)):
        try:
            hints = check_built(hints)
        except InputError as e:
            raise UsageError(str(e)) from None
    if kind == "video":
        from vidcolor.video_hints import check_video_hints, probe_display

        display = probe_display(src)  # a video that cannot be opened is a failed input, not a bad option
    try:
        if kind == "video":
            return check_video_hints(hints, src, display)
        size = displayed_size(src)
        if not isinstance(hints, Hints):
            where, hints = str(hints), load_hints(hints, inside=size)  # its points checked before their colours convert
        if size:
            hints.check_inside(*size, where)
    except InputError as e:  # a bad hints file is a bad option, not a failed input
        raise UsageError(str(e)) from None
    return hints


def _plan_video_output(src: Path, dst: Path, opts: VideoOptions) -> None:
    """The one place a video's output is checked before the model loads: container, video and audio codecs and
    subtitles (`io.plan.plan_output` tries them on the source's header), and that the video has a frame (its
    first is decoded). Raises OutputError, or InputError for a source without a frame."""
    ext = dst.suffix.lower()
    if ext in IMAGE_EXTS:
        raise OutputError(f"{dst}: an image file name for a video input; give a video file name (.mp4, .mkv, ...)")
    if ext not in VIDEO_OUTPUT_EXTS:
        raise OutputError(f"{dst}: vidcolor does not write {ext or 'extension-less'} files; "
                          f"use one of {', '.join(sorted(VIDEO_OUTPUT_EXTS))}")
    _check_encoder(opts.codec)
    from vidcolor.io.plan import plan_output

    plan_output(src, dst, opts.codec, opts.crf, opts.preset)


def _check_encoder(codec: str | None) -> None:
    if codec is None:  # each output container's own
        return
    import av

    try:
        found = av.codec.Codec(codec, "w")
    except (ValueError, av.error.FFmpegError):
        raise UsageError(f"--codec {codec}: no such encoder in this FFmpeg build") from None
    if found.type != "video":
        raise UsageError(f"--codec {codec}: is an {found.type} encoder, not a video encoder")


def colorize(src: str | Path, dst: str | Path | None = None, *, colorizer=None, model: str | None = None,
             weights: str | Path | None = None, device: str = "auto", work_size: int | None = None,
             upsample: str = "guided", strength: float = 1.0, hints=None, video: VideoOptions | None = None,
             folder: FolderOptions | None = None, ray=None, on_result: Callable[[Result], None] | None = None,
             progress: Progress | None = None, _planned: Plan | None = None) -> list[Result]:
    """Colorize a photo, a video, or a folder of photos and videos (mirrored) into `dst`.

    `dst` defaults to NAME_color.EXT beside a file and NAME_color beside a folder. `colorizer` is a
    loaded Colorizer; without one, `model`/`weights`/`device`/`work_size`/`upsample` say which to
    load (the shipped weights by default), and it loads in the background while the input is
    opened; `strength` scales the colours (0 gray, 1 as trained). `hints` steer a photo's colours
    (vidcolor.hints.Hints or the path of a hints file) or a video's (VideoHints or the path of a
    video hints file, in pixels of the video as displayed); in a folder, NAME.hints.json beside an
    input is its hints. `ray` (vidcolor.cluster.RayOptions) runs a
    folder or a video on a Ray cluster. A photo or video that fails raises InputError or OutputError; in a folder each failure
    is a Result and the run goes on. Refusals come before any work: InputError for a missing input (or
    an input folder that cannot be listed),
    UsageError for an output that cannot or must not be written or an unknown encoder, WeightsError
    for bad weights, LockedError when another run holds the output. Every Result also goes to
    `on_result` as it is made. (`_planned`: `plan(src, dst, video, folder, hints)` already made by the
    CLI, which plans before it takes the output's lock; planning a 21,600-photo folder takes 0.6 s.)
    """
    if colorizer is None:
        from vidcolor.weights import check_load_args, check_weights_source

        check_load_args(work_size, upsample, strength, weights)  # before anything is opened
        check_weights_source(model, weights)  # a truncated effnet_unet.pt failed only once a photo had been decoded
    else:  # these say which colorizer to load: beside a loaded one they were ignored without a word (strength=1.5)
        given = {k: v for k, v, default in (("model", model, None), ("weights", weights, None), ("device", device, "auto"),
                                            ("work_size", work_size, None), ("upsample", upsample, "guided"),
                                            ("strength", strength, 1.0)) if v is not default and v != default}
        if given:
            raise UsageError(f"{', '.join(f'{k}={v!r}' for k, v in given.items())}: for loading a colorizer, and colorizer= "
                             f"is given; pass {'them' if len(given) > 1 else 'it'} to load_colorizer() instead"
                             + (" (or use colorizer.with_strength())" if "strength" in given else ""))
    _check_callers_objects(colorizer, on_result, progress, ray)
    video, folder = video or VideoOptions(), folder or FolderOptions()
    p = _planned or plan(src, dst, video, folder, hints)
    video, folder = run_options(video, folder)
    if colorizer is None:
        refuse_shipped_palette(p, hints, model, weights)
    refuse_missing_detector(p, folder)
    if p.kind == "folder" and not p.media.reported:  # nothing to do or say: no model, no output folder (a new
        return []  # user's folder holding a readme loaded the model, made the output and said "0 inputs")
    if p.kind == "video":
        from vidcolor.io.video import VideoSource  # noqa: F401  (imported before the loader starts: see _load)
    on_ray = ray is not None and p.kind != "image"  # a single photo needs no cluster: it runs here
    if on_ray and p.kind == "video" and p.hints:
        raise UsageError(f"{_hints_label(hints)}: video hints are not supported with --ray (a film's ranges are colorized apart, "
                         "and a hint is carried from its keyframe); run without --ray")
    if on_ray and (ray.address is not None or not folder.dry_run):  # (a dry run connects to nothing)
        from vidcolor.cluster.runtime import preflight

        preflight(ray.address, ray.device)  # a bad address or device, no ray extra, no connection: before the model loads
    col = _loaded(colorizer) if colorizer is not None else _in_background(
        _load, model=model, weights=weights, device="cpu" if on_ray else device,  # on Ray, the workers use ray.device
        work_size=work_size, upsample=upsample, strength=strength)
    results: list[Result] = []

    def emit(res: Result) -> None:
        results.append(res)
        if on_result:
            on_result(res)

    # a single photo or video journaled as finished when the run was stopped is reported so (`reported_if_journaled`)
    with _loader_settled(col), finished_emitted(emit):
        if on_ray:
            frame_progress = _video_progress(progress, p.src, video) if p.kind == "video" else None
            if p.kind == "folder" and progress:
                progress.inputs(p.media.reported)
            colorizer = _ready(col, progress, p.kind, video, f"the Ray workers' ({ray.device})")  # the driver's copy is on the CPU
            from vidcolor.cluster import colorize_on_ray

            colorize_on_ray(p.src, p.dst, colorizer, ray, video, folder, on_result=emit, progress=frame_progress,
                            video_progress=(lambda path, i: _video_progress(progress, path, video)) if progress else None)
        elif p.kind == "folder":
            if progress:  # each link to a folder, and each stray hints file, is a "skipped" line too
                progress.inputs(p.media.reported)
            colorizer = _ready(col, progress, p.kind, video)
            from vidcolor.folder import colorize_folder

            colorize_folder(p.src, p.dst, colorizer, folder, emit, video, media=p.media,
                            video_progress=(lambda path, i: _video_progress(progress, path, video)) if progress else None)
        elif p.kind == "image":
            # read while the model loads: a photo that does not decode (a truncated JPEG) is refused now, not
            # after 2.4-3.8 s of loading (a new user's test), and a good one costs no time of its own
            photo = None if folder.dry_run or colorizer is not None else _read_ahead(p.src)
            colorizer = _ready(col, progress, p.kind, video)
            if p.hints:
                colorizer.require_hints(p.hints, _hints_label(hints))
            from vidcolor.folder import colorize_image

            res = colorize_image(p.src, p.dst, colorizer, folder, hints=p.hints, image=photo)
            if ray is not None and res.status == "done":  # the address was taken without a word (and exit 0)
                res.notes.append("one photo runs on this machine; --ray is for folders and videos")
            emit(res)
        else:
            frame_progress = _video_progress(progress, p.src, video)  # opens the input: a bad one fails before the model is needed
            colorizer = _ready(col, progress, p.kind, video)
            if p.hints:  # before the output folder is locked or marked
                colorizer.require_hints(p.hints, _hints_label(hints))
            from vidcolor.pipeline import colorize_video

            emit(colorize_video(p.src, p.dst, colorizer, video, progress=None if video.dry_run else frame_progress,
                                hints=p.hints))  # which refuses a file it did not write
    return results


@contextlib.contextmanager
def _loader_settled(col: Future):
    """A run stopped while the model loads (Ctrl-C, or SIGTERM or SIGHUP: Terminated) waits for the loader
    thread to end before the stop goes on. An interpreter that exits while that thread is inside torch's C++
    aborts: "terminate called without an active exception", exit 134 where 143 was due (1 of 30 SIGTERMs
    0.6-2 s into a folder run; a pseudo-terminal test's SIGHUP too). The load takes a few seconds; the wait
    ends after LOADER_STOP_WAIT_S all the same (a loader that hangs kept a SIGTERMed run alive until SIGKILL:
    the CLI ignores a second SIGTERM), or at a second Ctrl-C."""
    try:
        yield
    except KeyboardInterrupt:
        with contextlib.suppress(BaseException):  # the loader's own error, or the wait's timeout, is not this run's to raise
            col.exception(timeout=LOADER_STOP_WAIT_S)
        raise


def _ready(col, progress, kind: str, video: VideoOptions, device: str | None = None):
    """The loaded colorizer; a Progress that has a `settings` method is told what the run uses (the CLI's
    -v prints it: its help had promised the settings, and printed none; a new user's test)."""
    colorizer = col.result()
    if progress is not None and hasattr(progress, "settings"):
        what = [f"model {colorizer.model_id}", f"device {device or colorizer.device}"]
        if kind != "image":
            what.append(f"video: temporal {video.temporal}" + (f" {video.temporal_strength:g}" if video.temporal_strength else "")
                        + ", encoder " + (video.codec or "(the output container's default)")
                        + (f" CRF {video.crf}" if video.crf is not None else "") + (f" preset {video.preset}" if video.preset else "")
                        + f", batch {video.batch_size}, segments {video.segment_seconds:g} s")
        progress.settings("; ".join(what))
    return colorizer


def _check_callers_objects(colorizer, on_result, progress, ray) -> None:
    """UsageError for an argument of the wrong kind, before any work: `on_result="oops"` raised a
    TypeError after the photo was written, and a model name given as colorizer= an AttributeError."""
    if colorizer is not None:
        from vidcolor.colorizer import Colorizer

        if not isinstance(colorizer, Colorizer):
            raise UsageError(f"colorizer= takes a loaded Colorizer (vidcolor.load_colorizer()), got {type(colorizer).__name__}"
                             + (f"; to choose a model by name, pass model={colorizer!r}" if isinstance(colorizer, str) else ""))
    if on_result is not None and not callable(on_result):
        raise UsageError(f"on_result= takes a function of one Result, got {type(on_result).__name__}")
    if progress is not None and not all(callable(getattr(progress, m, None)) for m in ("inputs", "video")):
        raise UsageError(f"progress= takes an object with inputs() and video() methods (vidcolor.api.Progress), "
                         f"got {type(progress).__name__}")
    if ray is not None:
        from vidcolor.cluster.runtime import RayOptions

        if not isinstance(ray, RayOptions):
            raise UsageError(f"ray= takes a vidcolor.cluster.RayOptions, got {type(ray).__name__}"
                             + (f"; for an address: ray=RayOptions({ray!r})" if isinstance(ray, str) else ""))


def _hints_label(hints) -> str:
    """How a refusal names the hints: their file, or "hints" for a Hints object (its repr was printed)."""
    return str(hints) if isinstance(hints, (str, os.PathLike)) else "hints"


def _video_progress(progress: Progress | None, path: Path, opts: VideoOptions) -> FrameProgress | None:
    """Probe the video (frame count and rate) and ask `progress` for a per-frame callback."""
    from vidcolor.io.video import VideoSource

    with VideoSource(path) as s:
        info = s.info
    if progress is None:
        return None
    from vidcolor.io.segments import segment_frames
    from vidcolor.temporal import mode_stride

    callback = _callers(progress.video)(path, info.frames, segment_frames(opts.segment_seconds, info.fps, mode_stride(opts.temporal)))  # SegmentedSink's
    return None if callback is None else _callers(callback)


def _callers(fn: Callable) -> Callable:
    """`fn`, a caller's callback, whose exceptions are marked as the caller's: a folder run's guard, which
    fails one input on a vidcolor defect, lets them through to the caller, as from `on_result` (a service's
    ValueError from its progress callback was reported as "a vidcolor defect" and the run went on)."""
    def call(*args):
        try:
            return fn(*args)
        except BaseException as e:
            with contextlib.suppress(AttributeError, TypeError):
                setattr(e, RAISED_BY_CALLER, True)
            raise
    return call


def _read_ahead(src: Path):
    from vidcolor.io.images import read_image  # imported already, by the plan's header check

    return read_image(src)


def _load(**kwargs):
    """Runs in the loader thread, which also makes every heavy import (torch, the pipeline, PyAV's
    sink, PySceneDetect): the main thread imports nothing meanwhile, so the two never wait on each
    other's half-imported modules."""
    import vidcolor.folder  # noqa: F401  (and through it vidcolor.pipeline)
    from vidcolor.weights import load_colorizer

    return load_colorizer(**kwargs)


def _loaded(value) -> Future:
    f: Future = Future()
    f.set_result(value)
    return f


def _in_background(fn: Callable, **kwargs) -> Future:
    """Run fn(**kwargs) in a daemon thread; its result or exception comes out of `.result()`."""
    f: Future = Future()

    def run() -> None:
        try:
            f.set_result(fn(**kwargs))
        except BaseException as e:  # handed to whoever waits on the result
            f.set_exception(e)

    threading.Thread(target=run, name="load-model", daemon=True).start()
    return f
