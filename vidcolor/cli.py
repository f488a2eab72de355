"""The `vidcolor` command: thin Typer commands over the library. Only this module turns VidcolorError
into exit codes: 0 all succeeded, 1 some inputs failed, 2 usage error, 3 output locked, 4 the output's storage
failed (a full disk), 120 done but log lines lost (stderr or stdout unwritable), 130 interrupted (Ctrl-C), 143
terminated (SIGTERM: cron, systemd, Kubernetes, `timeout`) and 129 hung up (SIGHUP), all three stopped the same
orderly way (README, "Exit codes").

Nothing heavy is imported at module level: `vidcolor --help`, `--version` and option errors answer
without loading torch, PyAV, OpenCV or PySceneDetect.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import threading
import time
import contextlib
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from vidcolor.allocator import keep_freed_memory
from vidcolor.errors import ForeignOutputError, InputError, LockedError, OutputError, StorageError, UsageError, VidcolorError, WeightsError, out_of_space
from vidcolor.io.formats import FORMAT_EXT
from vidcolor.options import (BATCH_SIZE, PHOTO_ONLY, SEGMENT_RANGE, STRENGTH, TEMPORAL_STRENGTH, VIDEO_ONLY, WORK_SIZE, FolderOptions, Result, Temporal, Upsample,
                              VideoOptions)
from vidcolor.weights import DEFAULT_MODEL

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, the shell's code for a process ended by SIGTERM
EXIT_STORAGE = 4  # the output's storage failed under the run (full disk, quota, journal or report unwritable): it stopped
EXIT_LOST_LINES = 120  # the run succeeded, but its log lines could not all be written (as Python's own exit says it)
_V, _F = VideoOptions(), FolderOptions()
ImageFormat = Enum("ImageFormat", {k: k for k in sorted(FORMAT_EXT)}, type=str)

EXAMPLES = """Examples:

\b
  vidcolor film.mp4                      -> film_color.mp4 beside it
  vidcolor photo.jpg -o out/photo.jpg
  vidcolor scans/ -o scans_color/        photos and videos, tree mirrored
  vidcolor film.mkv --temporal off --crf 20 -y
  vidcolor /archive -o /colour --report run.jsonl    (cron: plain lines, resumable)
"""

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Colorize black-and-white videos, photos and photo folders.", epilog=EXAMPLES)


def _version(value: bool) -> None:
    if value:
        from vidcolor import __version__

        typer.echo(f"vidcolor {__version__}")
        raise typer.Exit()


def _device(value: str) -> str:
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
        raise typer.BadParameter(f"{value!r} is not auto, cpu, cuda or cuda:N")
    return value


# The registry's colorization networks (vidcolor.models), known here without importing torch so that
# `--model nosuch` is an option error; tests/test_cli_refusals.py keeps this equal to list_models().
MODELS = ("cunet", "eccv16", "effnet_unet")


def _model(value: str | None) -> str | None:
    if value is None or value in MODELS:
        return value
    if value == "tone_net":
        raise typer.BadParameter(f"tone_net is the colour-photo detector, not a colorization model; models: {', '.join(MODELS)}")
    raise typer.BadParameter(f"unknown model {value!r}; models: {', '.join(MODELS)}")


def _number(lo: float, hi: float = math.inf):
    """Parser of a float option from lo to hi (no upper bound: hi inf): nan and inf are refused with the
    bounds, not half of them."""
    def parse(value) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            x = math.nan
        if not (math.isfinite(x) and lo <= x <= hi):
            raise typer.BadParameter(f"{value} is not a number from {lo:g} to {hi:g}" if math.isfinite(hi) else
                                     f"{value} is not a finite number of at least {lo:g}")
        return x
    return parse


def _path(what: str, file: bool = False, as_given: bool = False):
    """Parser of a path option: an empty string (an unset shell variable) is refused, not read as '.'.
    `file`: a file's name, so one ending in a slash is refused too (`--json evdir/` wrote a file named
    evdir; a new user's test). `as_given`: the string itself, whose trailing slash Path() would drop
    (-o: a folder's name, which only a folder input may take; `api.output_path` tells)."""
    def parse(value) -> Path | str:
        if isinstance(value, Path):
            return value
        if value == "":
            raise typer.BadParameter(f"empty {what} path")
        if file and value.endswith(("/", os.sep)) and value != "-":
            raise typer.BadParameter(f"{value}: ends in '/', a folder's name; give a file name")
        return value if as_given else Path(value)
    return parse


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Colorize black-and-white videos, photos and photo folders."""


ModelOpt = Annotated[Optional[str], typer.Option("--model", callback=_model, help=f"Registered network to use (default {DEFAULT_MODEL}; `vidcolor models` lists them).")]
WeightsOpt = Annotated[Optional[Path], typer.Option("--weights", exists=True, dir_okay=False, help="Checkpoint file to load instead of the shipped weights.")]
DeviceOpt = Annotated[str, typer.Option("--device", callback=_device, help="auto, cpu, cuda or cuda:N (auto picks CUDA when present).")]
WorkSizeOpt = Annotated[Optional[int], typer.Option("--work-size", min=WORK_SIZE[0], max=WORK_SIZE[1], help="Short side the network sees, 64 to 2048 (default: the weights' own).")]
UpsampleOpt = Annotated[Upsample, typer.Option("--upsample", metavar=f"[{'|'.join(Upsample.__members__)}]", help="Chroma upsampling: guided (edge-aware, by L) or bilinear.")]
TemporalOpt = Annotated[Temporal, typer.Option("--temporal", metavar=f"[{'|'.join(Temporal.__members__)}]", help="Temporal smoothing of colour across frames.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=BATCH_SIZE[0], max=BATCH_SIZE[1], help="Frames (or images) per network batch, 1 to 256.")]
CodecOpt = Annotated[str, typer.Option("--codec", help="Video encoder (an FFmpeg encoder name).")]
CrfOpt = Annotated[int, typer.Option("--crf", min=0, max=63, help="Constant rate factor, 0 to 63 (x264/x265 use 0-51).")]
PresetOpt = Annotated[str, typer.Option("--preset", help="Encoder preset.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="One line per input done or failed, and the summary: no progress, no line for inputs skipped (plain lines are also the default when stderr is not a terminal).")]


def _load(model, weights, device, work_size, upsample=Upsample.guided, strength=1.0):
    from vidcolor.weights import load_colorizer

    try:
        return load_colorizer(model=model, weights=weights, device=device, work_size=work_size,
                              upsample=Upsample(upsample).value, strength=strength)
    except (VidcolorError, ValueError) as e:
        _reporter().error(str(e))
        raise typer.Exit(EXIT_USAGE)


def _check_load(model: str | None, weights: Path | None, device: str | None) -> None:
    """What every command refuses about the model to load before it opens any input: a CUDA device that is not
    there (UsageError; it imports torch, so only for an explicit CUDA device) and weights that are not there,
    not whole or not the network asked for (WeightsError, vidcolor.weights.check_weights_source). eval-video
    had decoded its clips, and eval its --pred photos, before the load found them (a tester's sweep)."""
    if device is not None and device.startswith("cuda"):
        from vidcolor.device import resolve_device

        resolve_device(device)
    from vidcolor.weights import check_weights_source

    check_weights_source(model, weights)


def _reporter(**kw):
    from vidcolor.report import Reporter

    return Reporter(**kw)


@app.command("colorize", epilog=EXAMPLES)
def colorize_cmd(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(metavar="INPUT", parser=_path("input"), help="A video, an image, or a folder of images and videos (searched recursively).")],
    output: Annotated[Optional[str], typer.Option("--output", "-o", parser=_path("output", as_given=True), metavar="<path>", help="Output file, or output folder for a folder input (default: NAME_color.EXT or NAME_color/ beside the input).")] = None,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    work_size: WorkSizeOpt = None,
    batch_size: BatchOpt = _V.batch_size,
    temporal: TemporalOpt = Temporal(_V.temporal),
    temporal_strength: Annotated[Optional[float], typer.Option("--temporal-strength", parser=_number(*TEMPORAL_STRENGTH), help="Weight of the past, 0 to 0.99 (default: the mode's own).")] = None,
    upsample: UpsampleOpt = Upsample.guided,
    strength: Annotated[float, typer.Option("--strength", parser=_number(*STRENGTH), help="Colour strength: a/b scaled by this (0 gray, 1 as trained, 1.5 more vivid).")] = 1.0,
    hints: Annotated[Optional[Path], typer.Option("--hints", dir_okay=False, help="Colour hints for a photo or a video: a JSON file of points (x, y, color), per keyframe for a video; see README 'Colour hints'.")] = None,
    codec: CodecOpt = _V.codec,
    crf: CrfOpt = _V.crf,
    preset: PresetOpt = _V.preset,
    fmt: Annotated[Optional[ImageFormat], typer.Option("--format", case_sensitive=False, metavar=f"[{'|'.join(ImageFormat.__members__)}]", help="Image output format (default: same as input).")] = None,
    segment_seconds: Annotated[float, typer.Option("--segment-seconds", parser=_number(*SEGMENT_RANGE), help="Video is encoded (and resumes) in segments this long, 0.1 to 3600 s.")] = _V.segment_seconds,
    overwrite: Annotated[bool, typer.Option("--overwrite", "-y", help="Redo finished outputs, and replace output files that vidcolor did not write.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Colorize images that are already in colour (skipped by default).")] = False,
    copy_skipped: Annotated[bool, typer.Option("--copy-skipped/--no-copy-skipped", help="Copy photos skipped as already in colour to the output unchanged, so the output tree is complete.")] = _F.copy_skipped,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be done; write nothing (not even --report).")] = False,
    report: Annotated[Optional[Path], typer.Option("--report", parser=_path("report", file=True), metavar="<file>", help="Write one JSON line per input, then a summary line (never over a file that is not a vidcolor report; not written by --dry-run); - writes them to standard output.")] = None,
    quiet: QuietOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also report scene cuts and settings.")] = False,
    ray: Annotated[Optional[str], typer.Option("--ray", metavar="auto|HOST:PORT", help="Run on a Ray cluster: auto starts a local one, HOST:PORT joins one (needs the ray extra; inputs and outputs on storage every node sees).")] = None,
) -> None:
    """Colorize INPUT into OUTPUT (the default command: `vidcolor INPUT [-o OUTPUT]`)."""
    try:  # the options' own checks (a combination: --temporal-strength with --temporal off)
        video = VideoOptions(temporal=temporal.value, temporal_strength=temporal_strength, codec=codec, crf=crf, preset=preset,
                             batch_size=batch_size, segment_seconds=segment_seconds, overwrite=overwrite, dry_run=dry_run)
        folder = FolderOptions(fmt_ext=fmt and FORMAT_EXT[fmt.value], overwrite=overwrite, force=force, copy_skipped=copy_skipped,
                               dry_run=dry_run, batch_size=batch_size)
    except UsageError as e:
        _reporter().error(str(e))
        raise typer.Exit(EXIT_USAGE)
    load = {"model": model, "weights": weights, "device": device, "work_size": work_size, "upsample": upsample.value,
            "strength": strength}
    rep = _reporter(quiet=quiet, verbose=verbose, dry_run=dry_run)
    if why := _other_kinds_option(ctx, input):
        rep.error(f"{input}: {why}")
        raise typer.Exit(EXIT_USAGE)
    with _sigterm_stops_the_run():
        try:
            code = _colorize(input, output, load, video, folder, rep, report, hints, ray)
        except KeyboardInterrupt as e:  # before the run started or after it ended: nothing to clean up
            rep.close()
            code = _stopped(rep, e)
    raise typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread where Ctrl-C raises KeyboardInterrupt, so a run that cron,
    systemd, Kubernetes or `timeout` ends stops the way Ctrl-C stops it: threads joined, partial files
    removed, the output's lock released, the report's summary written; then exit 143 instead of 130.
    SIGHUP (the ssh session the run was started from dropped) stops it the same way, with exit 129: it
    had killed the run at once, leaving an empty report (a new user's test)."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__()
        self.signum = signum

    @property
    def code(self) -> int:
        return 128 + self.signum


@contextmanager
def _sigterm_stops_the_run():
    """While a colorize command runs, SIGTERM (and SIGHUP) raises Terminated (once: a second one while the run
    stops is ignored, so the clean-up finishes; SIGKILL remains for a stuck one). Only the colorize
    command installs it: `vidcolor serve` leaves SIGTERM to uvicorn. Ray's driver (ray.init) replaces
    it with its own, which raises SystemExit(15); _colorize takes that for a SIGTERM too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def on_signal(signum, frame) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise Terminated(signum)

    # SIGHUP too, unless it is ignored (nohup, or a shell that started the run in the background so)
    hup = getattr(signal, "SIGHUP", None)
    signals = [signal.SIGTERM] + ([hup] if hup is not None and signal.getsignal(hup) is signal.SIG_DFL else [])
    previous = {s: signal.signal(s, on_signal) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)


def _stopped(rep, e: BaseException, overwrite: bool = False) -> int:
    """The one line and the exit code of a run stopped by Ctrl-C (130) or SIGTERM (143). With -y the same
    command would start over (it redoes every output), so the line says to resume without it: what the
    stopped run finished is journaled, and its video segments are kept, as without -y."""
    how = ("run the same command without -y (--overwrite) to resume; with it, the run starts over" if overwrite
           else "run the same command again to resume")
    if isinstance(e, Terminated):
        rep.line(f"{'terminated' if e.signum == signal.SIGTERM else 'hung up (SIGHUP)'}; {how}")
        return e.code
    rep.line(f"interrupted; {how}")
    return EXIT_INTERRUPTED


def _colorize(src: Path, dst: str | None, load: dict, video: VideoOptions, folder: FolderOptions, rep, report: Path | None,
              hints: Path | None = None, ray: str | None = None) -> int:
    from vidcolor.archive import OutputLock, RunReport

    from vidcolor.api import plan, refuse_missing_detector, refuse_shipped_palette

    try:
        root = _refuse_early(src, dst, load, video, folder, report, ray)
        dst = None if dst is None else Path(dst)  # -o as typed was checked: the rest takes a Path, as before
        ray_opts = None
        if ray is not None:  # its address's form: before the plan, the lock and the report (it came after them)
            from vidcolor.cluster.runtime import RayOptions

            ray_opts = RayOptions(ray, load["device"])
        try:
            planned = plan(src, dst, video, folder, hints)  # the library's own refusals (an output it must not write) first
            refuse_shipped_palette(planned, hints, load["model"], load["weights"])  # before the lock, as the weights are
        except UsageError:
            raise
        except VidcolorError:  # an unreadable input: the run reports it as failed, as before; nothing to lock
            root = planned = None
        if planned is not None:
            refuse_missing_detector(planned, folder)  # (WeightsError) a photo run's detector, before the lock and the decoding
    except (UsageError, WeightsError) as e:
        rep.error(str(e))
        if isinstance(e, WeightsError) and not folder.dry_run:  # found before the lock now: its report still says
            with contextlib.suppress(VidcolorError, OSError):  # so, not last night's summary (a review)
                early = RunReport(report)
                early.begin()
                early.close(error=str(e))
        return EXIT_USAGE
    # The output's lock, taken here before the model loads (the library takes it again, re-entrantly): a
    # run that would clash with one under way is refused at once with exit 3, before it touches anything, its --report included (a
    # locked-out run had emptied the first run's); and a run that starts replaces its report at once, so
    # last night's summary never stands for a run that failed or is still going.
    # A folder not made yet is made by the lock: two runs started together on a new output had both gone on,
    # the second emptying its own --report and loading the model before its exit 3 (an operator's test). A run
    # that writes nothing leaves no folder of its own making (`_unmake`).
    made = _first_missing(root) if root is not None and not folder.dry_run else None
    took = []
    with contextlib.ExitStack() as held:
        if made is not None:  # after the lock's release; only by the run that held it (a refused run had removed
            held.callback(lambda: took and _unmake(made))  # the lock folder of the run it was refused by: a review)
        try:
            if root is not None and not folder.dry_run:  # a folder run holds the folder; a photo's or a video's run, its output only
                held.enter_context(OutputLock(root, None if planned.kind == "folder" else planned.dst))
                took.append(True)
            run = RunReport(None if folder.dry_run else report)  # a dry run writes nothing, its report neither
            try:
                run.begin()  # refused (exit 3) while another run writes this report
            except OSError as e:  # what _refuse_early could not foresee (a race, a read-only file system)
                if out_of_space(e):
                    raise StorageError(f"{report}: cannot write the report ({e.strerror}); the run stops") from e
                rep.error(f"{report}: cannot write the report ({e.strerror or e})")
                return EXIT_USAGE
        except LockedError as e:
            rep.error(str(e))
            return EXIT_LOCKED
        except StorageError as e:
            rep.error(str(e))
            return EXIT_STORAGE
        except OutputError as e:  # the output folder cannot be written in (found by the lock's owner file)
            rep.error(str(e))
            return EXIT_USAGE
        return _run(src, dst, load, video, folder, rep, report, hints, ray_opts, run, planned)


def _first_missing(root: Path) -> Path | None:
    """The outermost folder of `root`'s path that does not exist yet (None if root exists)."""
    if root.exists():
        return None
    while not root.parent.exists() and root.parent != root:
        root = root.parent
    return root


def _unmake(made: Path) -> None:
    """Remove the folders this run made for its output, and held the lock of, where nothing but the folder's
    lock file is in them: a run that wrote nothing and journaled nothing (nothing to do, or stopped before
    its first input: a folder run that failed inputs keeps their journal) leaves the user's disk as it
    found it. An owner file there is another run's that has just taken the lock: kept."""
    from vidcolor.io.formats import walk

    for _, _, files in walk(made):
        if any(f != "lock" for f in files):
            return
    import shutil

    shutil.rmtree(made, ignore_errors=True)


def _run(src: Path, dst: Path | None, load: dict, video: VideoOptions, folder: FolderOptions, rep, report: Path | None,
         hints: Path | None, ray_opts, run, planned) -> int:
    from vidcolor.api import colorize, default_output
    from vidcolor.folder import MADE_OTHERWISE
    from vidcolor.io.formats import is_image_path

    unopened = []  # a dry run's photos to do: it does not read them (vidcolor.folder._dry_run_photo)
    redone = []  # of them, finished outputs made with other settings
    t0 = time.time()

    def done(res: Result) -> None:
        run.add(res)
        rep.result(res)
        if res.status == "planned" and is_image_path(res.input):
            unopened.append(res.input)
            if (res.note or "").startswith(MADE_OTHERWISE):
                redone.append(res.input)

    try:
        colorize(src, dst, **load, hints=hints, video=video, folder=folder, ray=ray_opts, on_result=done, progress=rep,
                 _planned=planned)  # planned once, above
    except (KeyboardInterrupt, SystemExit) as e:  # Ctrl-C, or SIGTERM: Terminated, or under Ray SystemExit(15)
        if isinstance(e, SystemExit) and not (ray_opts and e.code == signal.SIGTERM):  # (ray.init's driver handler)
            raise
        rep.close()
        single = planned is not None and planned.kind != "folder"  # one photo or video: the report says 1, as a folder's says its count
        with contextlib.suppress(StorageError):  # a report on a full disk: the stop is said all the same
            run.close(interrupted=True, inputs=rep.inputs_total or int(single), in_progress=rep.in_progress)
        return _stopped(rep, e if isinstance(e, KeyboardInterrupt) else Terminated(), folder.overwrite or video.overwrite)
    except LockedError as e:
        rep.error(str(e))
        return EXIT_LOCKED
    except (UsageError, WeightsError, ForeignOutputError) as e:  # (ForeignOutputError: a single input's output found
        rep.error(str(e))  # read-only or edited by the run, as the plan refuses one it finds: exit 2, not 1; a new user's test)
        with contextlib.suppress(StorageError):
            run.close(error=str(e))  # a report that still held last night's summary read as a success
        return EXIT_USAGE
    except StorageError as e:  # a full disk had crashed the run with a 340-line traceback and a torn journal line
        rep.close()
        rep.error(str(e))
        with contextlib.suppress(StorageError):  # the report may be on that disk too
            run.close(error=str(e), inputs=rep.inputs_total or int(planned is not None and planned.kind != "folder"),
                      in_progress=rep.in_progress)
        return EXIT_STORAGE
    except VidcolorError as e:  # with the time it took (a disk that filled after 3 s of work said 0.0)
        try:
            done(Result(src, None, "failed", time.time() - t0, error=str(e)))
        except StorageError as full:  # its report line on a full disk (a review: a 300-line traceback)
            rep.close()
            rep.error(str(e))
            rep.error(str(full))
            return EXIT_STORAGE
    finally:
        rep.close()
    try:
        summary = run.close()["summary"]
    except StorageError as e:
        rep.error(str(e))
        return EXIT_STORAGE
    if folder.dry_run:
        planned = summary["total"] - summary["done"] - summary["skipped"] - summary["failed"]
        rep.line(f"dry run: {planned} to do" + (f" ({len(redone):,} of them finished outputs {MADE_OTHERWISE}, redone)" if redone else "")
                 + f", {summary['skipped']} skipped, {summary['failed']} would fail of {summary['total']} "
                 f"input{'s' * (summary['total'] != 1)} into {dst or default_output(src, folder.fmt_ext)}"
                 + (f"; --report {report} not written" if report else "")
                 + (f"; photos are not opened, so {'one' if len(unopened) == 1 else 'some'} to do may still be "
                    f"{'' if folder.force else 'skipped as in colour or '}failed as unreadable" if unopened else ""))
    elif src.is_dir() and not summary["total"] and planned is not None:
        rep.line(f"{src}: no photos or videos in it, nothing to do")
    elif src.is_dir() or summary["total"] > 1:
        rep.line(f"{summary['done']} done, {summary['skipped']} skipped, {summary['failed']} failed of {summary['total']} "
                 f"input{'s' * (summary['total'] != 1)} into {dst or default_output(src, folder.fmt_ext)} ({summary['seconds']:.1f} s)")
    if summary["failed"]:
        return EXIT_FAILED
    return EXIT_LOST_LINES if rep.lost_lines or run.lost else EXIT_OK  # the log (or a report on stdout) lost lines


def _other_kinds_option(ctx: typer.Context, src: Path) -> str | None:
    """Why an option given on the command line does not apply to this single input: a video option for a photo
    (ignored without a word, where --format for a video is refused: new-user test), --force or
    --(no-)copy-skipped for a video, which has no colour test to skip it by (accepted, and nothing done: a
    tester's). A folder may hold both: they apply there."""
    from vidcolor.api import input_kind

    def given(options: dict[str, str]) -> list[str]:
        return [f"--no-{flag[2:]}" if ctx.params.get(name) is False else flag for name, flag in options.items()
                if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"]

    kind = input_kind(src) if src.exists() else None
    if kind == "image" and (flags := given(VIDEO_ONLY)):
        return f"{flags[0]} applies to videos, and this input is a photo"
    if kind == "video" and (flags := given(PHOTO_ONLY)):
        return (f"{flags[0]} applies to photos already in colour, and this input is a video"
                + ("; -y (--overwrite) redoes a finished output" if flags[0] == "--force" else ""))
    return None


def _refuse_early(src: Path, dst: str | None, load: dict, video: VideoOptions, folder: FolderOptions,
                  report: Path | None, ray: str | None) -> Path:
    """What the CLI refuses before the library starts (UsageError, one line): a missing input, a --format
    that contradicts the input or -o, a --crf the encoder cannot take, an unusable --report, a CUDA device
    that is not there, and (WeightsError) weights that are not there or not a checkpoint. The library's
    plan() checks the output itself."""
    from vidcolor.api import check_format, input_kind, output_path, planned_output
    from vidcolor.io.paths import input_problem, not_found

    device, model, weights = load["device"], load["model"], load["weights"]

    if not src.exists():
        looks_like_command = not src.suffix and len(src.parts) == 1
        raise UsageError(f"{src}: {not_found(src)}" + ("; not a file, folder or command (commands: "
                                                    f"{', '.join(sorted(COMMANDS))})" if looks_like_command else ""))
    if unreadable := not src.is_dir() and input_problem(src):  # a pipe, a device or an empty file: plan() names it, as
        # the run's failure (exit 1), and -o is not checked against a kind it does not have (a new user's test); the
        # checks that follow still hold (returning here had let a --report replace a user's file: a review)
        kind, out = "unreadable", src if dst is None else Path(dst)
    else:
        kind = input_kind(src)
        dst = output_path(src, kind, dst, folder.fmt_ext)  # -o as typed: `newdir/` for a photo is a folder, not a file
        check_format(kind, src, dst, folder.fmt_ext)
        out = planned_output(src, kind, dst, folder.fmt_ext)
    if video.crf is not None and kind not in ("image", "unreadable"):
        _check_crf(video.crf, video.codec, out if kind == "video" else None)
    if report is not None:
        _check_report(report, kind, src, out)
    _check_load(model, weights, None if ray is not None else device)  # (on Ray, the workers' device is checked there)
    return out if kind == "folder" else src.parent if unreadable else out.parent  # the folder whose lock the run takes


def _check_crf(crf: int, codec: str | None, out: Path | None) -> None:
    """--crf beyond what x264/x265 take (they would clamp it silently). `out`: a single video's output,
    whose container picks the encoder when --codec does not; None for a folder (each video's own)."""
    from vidcolor.io.plan import CRF_MAX

    if codec is None and out is not None:
        from vidcolor.io.plan import CONTAINERS

        box = CONTAINERS.get(out.suffix.lower())
        codec = box.video_encoder if box else None  # no container: plan() refuses the output
    if codec is None:
        return
    import av

    try:
        name = av.codec.Codec(codec, "w").name  # h264 -> libx264
    except (ValueError, av.error.FFmpegError):
        return  # an unknown encoder: plan() refuses it
    if name in CRF_MAX and crf > CRF_MAX[name]:
        raise UsageError(f"--crf {crf}: {name} takes 0 to {CRF_MAX[name]}")


def _check_writable_file(path: Path, what: str, folder: str, option: str) -> None:
    """A file that can be created or replaced at `path`, found without creating anything. The refusal names
    the `folder` as what it is ("the report's folder") and says that `option` takes another path."""
    from vidcolor.io.paths import check_writable_dir

    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name for the {what}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{path}: the {what} file is not writable")
    try:  # the output's own check, with its probe file (/proc, read-only mounts), naming the folder as the
        check_writable_dir(path.parent, folder)  # report's, where it said "output folder" of it (a tester's)
    except OutputError as e:
        where = "a folder" if option == "--out" else "a path in a folder"
        raise UsageError(f"{path}: cannot create the {what} ({e}); give {option} {where} you can write in") from None


def _first_line_json(path: Path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.readline(1 << 16))
    except (OSError, ValueError):
        return None


def _is_report(path: Path) -> bool:
    """An empty file, or one whose first line is a --report line (an input's, or the summary)."""
    if path.stat().st_size == 0:
        return True
    row = _first_line_json(path)
    return isinstance(row, dict) and ({"input", "status"} <= row.keys() or "summary" in row)


def _check_report(report: Path, kind: str, src: Path, out: Path) -> None:
    """--report must not be an input or an output (by any name or link), nor any existing file that is
    not a vidcolor report (the weights, a hints file, a user's notes: -y does not change that, since -y
    also redoes outputs), and must be writable: refused before any work (UsageError)."""
    from vidcolor.io.paths import same_file
    from vidcolor.archive import is_stdout

    if is_stdout(report):  # `--report -`: standard output, as the shell gives it (a pipe, or `>> all.jsonl`)
        if sys.__stdout__ is None:  # the process started with it closed (`>&-`): the lines would go nowhere
            raise UsageError(f"{report}: standard output is closed; give --report a file")
        return
    _check_writable_file(report, "report", "the report's folder", "--report")
    if kind != "folder":
        for p, what in ((src, "input"), (out, "output")):
            if same_file(report, p):
                raise UsageError(f"{report}: --report is the {what} file; choose another path")
    else:
        from vidcolor.io.formats import IMAGE_EXTS, VIDEO_EXTS

        for base, what in ((src, "an input"), (out, "an output")):  # a photo or video name in either tree
            if report.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS and report.resolve().is_relative_to(base.resolve()):
                raise UsageError(f"{report}: --report would be {what} of this folder run; choose another path")
    if report.is_file() and not _is_report(report):
        raise UsageError(f"{report}: exists and is not a vidcolor report; choose another --report path")


def _refuse_foreign_eval_folder(out: Path) -> None:
    """eval rewrites OUT/eval.json, OUT/index.html and OUT/thumbs/: in a folder that holds any of them
    without an eval.json of an earlier `vidcolor eval` (a website's index.html, say), refuse (UsageError)."""
    mine = (out / "eval.json").is_file() and _is_eval_json(out / "eval.json")
    theirs = [n for n in ("eval.json", "index.html", "thumbs") if (out / n).exists()]
    if theirs and not mine:
        raise UsageError(f"{out}: holds {', '.join(theirs)} that vidcolor eval did not write; choose another --out folder")


def _small_json(path: Path, limit: int):
    """The JSON in `path`, or None where it is not JSON or is over `limit` bytes (so not one of ours)."""
    try:
        return json.loads(path.read_bytes()) if path.stat().st_size <= limit else None
    except (OSError, ValueError):
        return None


def _is_eval_json(path: Path) -> bool:
    data = _small_json(path, 256 << 20)
    return isinstance(data, dict) and {"root", "model", "images"} <= data.keys()


def _is_result_json(path: Path, command: str) -> bool:
    """A `--json` file of this command (eval-video: a list of results with their modes; bench: one with
    its phases), naming its clip and frames: one command's result is not replaced by the other's (a new
    user's bench run replaced an eval-video result without a word)."""
    if path.stat().st_size == 0:
        return True
    data = _small_json(path, 64 << 20)
    if data is None:
        return False
    if command == "bench":
        return isinstance(data, dict) and {"clip", "frames", "phases"} <= data.keys()
    return isinstance(data, list) and all(isinstance(r, dict) and {"clip", "frames", "modes"} <= r.keys() for r in data)


def _check_json_out(path: Path, clips: list[Path], overwrite: bool, command: str) -> None:
    """--json of eval-video and bench: not a clip, not a file this command did not write (without -y),
    writable (its folder made at the end, as eval's --out is: a missing one was a traceback after all
    the work)."""
    from vidcolor.io.paths import same_file

    _check_writable_file(path, "--json", "the --json file's folder", "--json")
    for c in clips:
        if same_file(path, c):
            raise UsageError(f"{path}: --json is an input clip; choose another path")
    if path.exists() and not overwrite and not _is_result_json(path, command):
        raise UsageError(f"{path}: exists and is not a vidcolor {command} result; pass -y (--overwrite) to replace it")


def _write_json_out(path: Path, data) -> None:
    """Written whole or not at all, in place of a regular file; through a link or into a device or pipe
    (/dev/stdout) as it is: a rename would have replaced the link itself (a reviewer's test)."""
    from vidcolor.io.paths import atomic_write_text, strict_json

    text = strict_json(data, indent=1)
    target = Path(os.path.realpath(path))  # a link: its target, replaced whole (a dangling one's folder made)
    if target.exists() and not target.is_file():  # a device or a pipe: written into
        with open(target, "w") as f:
            f.write(text)
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)
    except OSError as e:
        _reporter().error(f"{path}: cannot write the results ({e.strerror or e})")
        raise typer.Exit(EXIT_FAILED)


@app.command("eval")
def eval_cmd(
    gt_dir: Annotated[Path, typer.Argument(parser=_path("folder"), metavar="GT_DIR", help="Folder of ground-truth colour photos (or of B&W photos with --no-gt).")],
    out: Annotated[Path, typer.Option("--out", parser=_path("--out"), metavar="<path>", help="Folder where eval.json, index.html and thumbnails go.")] = Path("vidcolor-eval"),
    no_gt: Annotated[bool, typer.Option("--no-gt", help="The photos have no ground truth: contact sheet only.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N images.")] = None,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    work_size: WorkSizeOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No line per photo scored: only the photos left out, and the results.")] = False,
    pred: Annotated[Optional[list[str]], typer.Option("--pred", metavar="[NAME=]DIR", help="Another tool's colorizations of GT_DIR's photos (same relative paths and names, any image format), scored beside vidcolor's as NAME (default: the folder's name); repeat for more tools. A prediction of another size but the same shape is resized to the truth's.")] = None,
    no_vidcolor: Annotated[bool, typer.Option("--no-vidcolor", help="Score only the --pred folders and gray: vidcolor's network is not run.")] = False,
) -> None:
    """Score colorization against ground truth (PSNR, SSIM, AuC, CIEDE2000, colourfulness) beside the gray baseline, and other tools' with --pred."""
    rep = _reporter(quiet=quiet)
    if not gt_dir.is_dir():
        rep.error(f"{gt_dir}: {'a file, not a folder of photos' if gt_dir.exists() else 'folder not found'}")
        raise typer.Exit(EXIT_USAGE)
    try:
        if not no_vidcolor:
            _check_load(model, weights, device)
        if out.exists() and not out.is_dir():
            raise UsageError(f"{out}: --out is a file; give a folder for eval.json, index.html and thumbs/")
        if out.resolve().is_relative_to(gt_dir.resolve()):  # its thumbnails landed among the photos, and the next
            # colorize run of the folder took them for inputs (an operator's test)
            raise UsageError(f"{out}: --out is (inside) the photo folder {gt_dir}; choose a folder outside it")
        _check_writable_file(out / "eval.json", "--out folder", "the --out folder", "--out")
        _refuse_foreign_eval_folder(out)
        from vidcolor.io.formats import find_media, refuse_unlisted

        unreadable: list[tuple[Path, str]] = []
        found = find_media(gt_dir, unreadable=unreadable)[0]
        refuse_unlisted(gt_dir, unreadable, UsageError)
        if not found:  # before the model loads (it was refused after, with exit 1)
            raise UsageError(f"{gt_dir}: no images found")
        preds = _eval_predictions(gt_dir, out, limit, pred or [], no_gt, no_vidcolor, rep)
    except (UsageError, InputError, WeightsError) as e:  # InputError: a prediction missing, unreadable or of another shape
        rep.error(str(e))
        raise typer.Exit(EXIT_USAGE)
    col = None if no_vidcolor else _load(model, weights, device, work_size)
    from vidcolor.evaluate import evaluate_folder

    try:
        with _sigterm_stops_the_run():  # an orderly stop: the partial thumbnails removed, 143 (a researcher's test)
            report = evaluate_folder(col, gt_dir, out, with_gt=not no_gt, limit=limit,
                                     on_image=None if quiet else (lambda r: rep.line(f"  {r['image']}")),
                                     on_skip=rep.line, predictions=preds)
    except KeyboardInterrupt as e:
        rep.line(f"{'terminated' if isinstance(e, Terminated) else 'interrupted'}; nothing of this run was kept")
        raise typer.Exit(e.code if isinstance(e, Terminated) else EXIT_INTERRUPTED)
    except VidcolorError as e:
        rep.error(str(e))
        raise typer.Exit(EXIT_FAILED)
    if not no_gt:
        _print_eval_table(report)
        if report["semantic"].startswith("not measured"):  # said in eval.json alone before (a new user's test)
            rep.line(f"ImageNet top-1 agreement {report['semantic']}")
    else:  # the README's promise: printed only to eval.json before (a new user's test)
        a, b = report["mean_ab"]
        rep.line(f"mean a*, b* of the {report['scored']} output(s): {round(a, 1) + 0.0:+.1f}, {round(b, 1) + 0.0:+.1f}")
    left = len(report.get("left_out", []))
    rep.line(f"wrote {out / 'eval.json'} and {out / 'index.html'}" + (f" ({left} photo(s) or folder(s) left out: unreadable, a gray ground truth, or too small)" if left else ""))
    if left:  # the scores cover fewer photos than the folder holds: a script can tell (exit 1, as for any failed input)
        raise typer.Exit(EXIT_FAILED)


def _eval_predictions(gt_dir: Path, out: Path, limit: int | None, pred: list[str], no_gt: bool, no_vidcolor: bool, rep):
    """--pred's folders, each prediction found and checked before any model loads (UsageError, InputError);
    a line for each set's resized or black-and-white predictions."""
    if not pred:
        if no_vidcolor:
            raise UsageError("--no-vidcolor: nothing left to score; give --pred folders")
        return []
    if no_gt:
        raise UsageError("--pred: other tools' colorizations are scored against ground truth; not with --no-gt")
    from vidcolor.evaluate import eval_files
    from vidcolor.predictions import check_predictions, parse_pred

    sets = check_predictions(gt_dir, eval_files(gt_dir, out, limit), [parse_pred(p) for p in pred])
    for s in sets:
        for what in ("resized", "black and white"):
            rels = [r for r, n in s.notes.items() if what in n]
            if rels:
                rep.line(f"{s.name}: {len(rels)} of {len(s.files)} prediction(s) {what}"
                         + (" to the truth's size (bicubic)" if what == "resized" else ", scored as they are")
                         + f": {', '.join(rels[:3])}{', ...' if len(rels) > 3 else ''}")
    return sets


def _print_eval_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from vidcolor.evaluate import SUMMARY_HEADINGS, summary_cells, summary_rows, tool_labels

    labels = tool_labels(report)
    t = Table(title=f"vidcolor eval ({report['model'] or 'predictions only'})")
    top1 = "top1_agreement" in report["overall"][labels[0][0]]
    for c in ("set", "", *SUMMARY_HEADINGS, *(["top-1 = GT"] if top1 else [])):
        t.add_column(c, justify="right")
    for g, s in summary_rows(report):
        for which, label in labels:
            t.add_row(g, label, *summary_cells(s[which], top1))
    Console(width=150).print(t)


@app.command("eval-video")
def eval_video_cmd(
    clips: Annotated[list[Path], typer.Argument(parser=_path("clip"), metavar="CLIPS", help="Colour clips: each is reduced to gray, colorized and compared.")],
    json_out: Annotated[Optional[Path], typer.Option("--json", parser=_path("--json", file=True), metavar="<file>", help="Write the results as JSON here (an existing file that is not a vidcolor result needs -y).")] = None,
    max_frames: Annotated[Optional[int], typer.Option("--max-frames", min=2, help="Only the first N frames.")] = None,
    temporal_strength: Annotated[Optional[float], typer.Option("--temporal-strength", parser=_number(*TEMPORAL_STRENGTH), help="Strength of the ema and flow modes' averaging, 0 to 0.99 (default: each mode's own).")] = None,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    work_size: WorkSizeOpt = None,
    upsample: UpsampleOpt = Upsample.guided,
    overwrite: Annotated[bool, typer.Option("--overwrite", "-y", help="Replace a --json file that vidcolor did not write.")] = False,
) -> None:
    """Flicker and colour per temporal mode: warp error, CDC, colourfulness, PSNR and fps, beside the ground truth."""
    if missing := [c for c in clips if not c.is_file()]:  # as bench says it
        _reporter().error(f"{missing[0]}: {'a folder, not a video clip' if missing[0].is_dir() else 'file not found'}")
        raise typer.Exit(EXIT_USAGE)
    try:
        for c in clips:
            _refuse_photo(c)
        if json_out:
            _check_json_out(json_out, clips, overwrite, "eval-video")
        _check_load(model, weights, device)  # before the clips are decoded (refuse_gray_clip)
    except (UsageError, WeightsError) as e:
        _reporter().error(str(e))
        raise typer.Exit(EXIT_USAGE)
    from vidcolor.evaluate_video import evaluate_video, refuse_gray_clip

    results, failed, measurable = [], 0, []
    for clip in clips:  # a black-and-white (or unreadable) clip is named before the model loads, by decoding alone
        try:
            refuse_gray_clip(clip, max_frames)
            measurable.append(clip)
        except VidcolorError as e:
            _reporter().error(str(e))
            failed += 1
    if not measurable:
        raise typer.Exit(EXIT_FAILED)
    col = _load(model, weights, device, work_size, upsample)
    for clip in measurable:  # a clip that fails is named and the others are still measured (exit 1)
        try:
            res = evaluate_video(col, clip, strength=temporal_strength, max_frames=max_frames)
        except VidcolorError as e:
            _reporter().error(str(e))
            failed += 1
            continue
        _print_video_table(res)
        results.append(res)
    if json_out and results:
        _write_json_out(json_out, results)
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _refuse_photo(clip: Path) -> None:
    """eval-video and bench measure video clips: a photo would pass as a clip of one frame (nan flicker)."""
    from vidcolor.io.formats import is_image_path

    if is_image_path(clip):
        raise UsageError(f"{clip}: a photo, not a video clip")


def _print_video_table(res: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{res['clip']} ({res['frames']} frames, {res['size'][0]}x{res['size'][1]}, cuts {res['scene_cuts']})")
    for c in ("mode", "warp error x1e3", "CDC x1e3", "colourfulness", "PSNR dB", "fps"):
        t.add_column(c, justify="right")
    for m, r in res["modes"].items():
        t.add_row(m, f"{r['warp_error'] * 1e3:.3f}", f"{r['cdc'] * 1e3:.3f}", f"{r['colourfulness']:.1f}",
                  "-" if m == "gt" else f"{r['psnr']:.2f}", "-" if m == "gt" else f"{r['fps']:.1f}")
    Console(width=120).print(t)
    if res.get("exact_frames"):
        k = res["exact_frames"]
        typer.echo(f"PSNR over {res['frames'] - k} frames: {k} frame{'s' * (k != 1)} reproduced exactly (black, "
                   f"infinite PSNR) {'are' if k != 1 else 'is'} left out of every mode's mean")
    for m, a in res.get("against_off", {}).items():
        mark = " (default)" if m == _V.temporal else ""
        typer.echo(f"{m}{mark}: warp error {a['warp_vs_off']:.2f}x off, {a['warp_vs_gt']:.2f}x ground truth; "
                   f"colourfulness {a['colourfulness_change']:+.1%} vs off; PSNR {a['psnr_change_db']:+.2f} dB; "
                   f"colorizing fps {a['fps_vs_off']:.2f}x off")


@app.command("bench")
def bench_cmd(
    clip: Annotated[Path, typer.Argument(parser=_path("clip"), metavar="CLIP", help="Video clip to measure on.")],
    json_out: Annotated[Optional[Path], typer.Option("--json", parser=_path("--json", file=True), metavar="<file>", help="Write the results as JSON here (an existing file that is not a vidcolor result needs -y).")] = None,
    compare: Annotated[Optional[Path], typer.Option("--compare", exists=True, dir_okay=False, help="JSON of an earlier bench run: print this run's ratios to it.")] = None,
    phases: Annotated[str, typer.Option("--phases", help="Comma-separated subset of startup,decode,transcode,model,e2e.")] = "startup,decode,transcode,model,e2e",
    length_check: Annotated[int, typer.Option("--length-check", min=0, help="Also compare e2e peak RSS on the clip's first frames and on N times as many (0: skip).")] = 0,
    length_frames: Annotated[int, typer.Option("--length-frames", min=2, help="Frames in the short clip of --length-check.")] = 60,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    work_size: WorkSizeOpt = None,
    upsample: UpsampleOpt = Upsample.guided,
    batch_size: BatchOpt = _V.batch_size,
    temporal: TemporalOpt = Temporal(_V.temporal),
    codec: CodecOpt = _V.codec,
    crf: CrfOpt = _V.crf,
    preset: PresetOpt = _V.preset,
    overwrite: Annotated[bool, typer.Option("--overwrite", "-y", help="Replace a --json file that vidcolor did not write.")] = False,
) -> None:
    """Throughput on one clip: decode-only, transcode-only, model-only and end-to-end fps, peak memory,
    CPU seconds by thread ("encode, native": x264; "main, native": torch's threads)."""
    wanted = tuple(p.strip() for p in phases.split(",") if p.strip())
    if bad := [p for p in wanted if p not in ("startup", "decode", "transcode", "model", "e2e")]:
        raise typer.BadParameter(f"unknown phase(s) {', '.join(bad)}", param_hint="--phases")
    if not wanted:  # ran nothing, exit 0, and wrote a JSON that --compare then refused
        raise typer.BadParameter("no phase given", param_hint="--phases")
    if twice := sorted({p for p in wanted if wanted.count(p) > 1}):  # the second e2e resumed the first's output: 0 fps
        raise typer.BadParameter(f"{', '.join(twice)} given twice", param_hint="--phases")
    if not clip.is_file():  # as eval-video: exit 2 before the model loads (it was 1, after)
        _reporter().error(f"{clip}: {'a folder, not a video clip' if clip.is_dir() else 'file not found'}")
        raise typer.Exit(EXIT_USAGE)
    try:
        _refuse_photo(clip)
        from vidcolor.api import _check_encoder

        _check_encoder(codec)  # as colorize does: before the phases run, naming the option
        if crf is not None:
            _check_crf(crf, codec, Path("e2e.mp4"))  # the end-to-end phase writes MP4
        if preset is not None:  # a bad one failed the transcode phase, after the phases before it, naming a temporary file
            from vidcolor.io.plan import check_encoder_settings

            check_encoder_settings(Path("e2e.mp4"), codec, crf, preset)
        if json_out:
            _check_json_out(json_out, [clip], overwrite, "bench")
        baseline = _bench_baseline(compare) if compare else None  # before the minutes of measuring
        _check_load(model, weights, device)
    except (UsageError, WeightsError) as e:
        _reporter().error(str(e))
        raise typer.Exit(EXIT_USAGE)
    col = _load(model, weights, device, work_size, upsample)
    from vidcolor.bench import compare as compare_runs, length_check as run_length_check, run_bench

    opts = VideoOptions(temporal=temporal.value, batch_size=batch_size, codec=codec, crf=crf, preset=preset)
    wargs = {"model": model, "weights": str(weights) if weights else None, "device": device,
             "work_size": work_size, "upsample": upsample.value}
    try:
        res = run_bench(clip, col, opts, tuple(p for p in wanted if p != "startup"), log=typer.echo)
        if "startup" in wanted:
            from vidcolor.bench import startup

            res["startup"] = st = startup(clip, wargs)
            typer.echo(f"{'startup':>10}: --help {st['help_s']:.2f} s; process start to first colorized frame "
                       f"{st['first_frame_s']:.2f} s (first frame decoded at {st['first_decoded_s']:.2f} s, model ready at "
                       f"{st['model_ready_s']:.2f} s after main; medians of {st['runs']} fresh processes)")
        if length_check:
            res["length_check"] = run_length_check(clip, wargs, opts, length_frames, length_check, log=typer.echo)
    except VidcolorError as e:
        _reporter().error(str(e))
        raise typer.Exit(EXIT_FAILED)
    if "e2e_over_transcode" in res:
        typer.echo(f"end-to-end / transcode-only: {res['e2e_over_transcode']:.2f}")
    if baseline:
        typer.echo(f"this run (B) against {compare} (A):")
        res["compare"] = {"against": str(compare), "ratios": compare_runs(baseline, res, log=typer.echo)}
    if json_out:
        _write_json_out(json_out, res)


def _bench_baseline(path: Path) -> dict:
    """An earlier `vidcolor bench --json` result, or UsageError (any other JSON failed with KeyError
    'phases' after the whole measurement had run)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"--compare {path}: not readable JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("phases"), dict):
        raise UsageError(f"--compare {path}: not a `vidcolor bench --json` result (it has no phases)")
    return data


@app.command("models")
def models_cmd() -> None:
    """List the registered networks and which have shipped weights."""
    from vidcolor.models import list_models
    from vidcolor.weights import manifest

    shipped = manifest()

    def mark(name: str) -> str:
        e = shipped.get(name)
        return f"weights {Path(e['path']).name} sha256 {e['sha256'][:12]}" if e else "no shipped weights"

    for name in list_models():
        typer.echo(f"{name:14s} {mark(name)}{'  (default)' if name == DEFAULT_MODEL else ''}")
    if "tone_net" in shipped:  # not a colorizer: the folder run's "already in colour?" detector (vidcolor/tone.py)
        typer.echo(f"{'tone_net':14s} {mark('tone_net')}  (detects photos already in colour)")


from vidcolor.serve import LIMIT_MAX as _LIMIT_MAX, ServeConfig as _ServeConfig  # stdlib only: the web stack loads inside serve_cmd

_SV = _ServeConfig()


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to bind. Anything but 127.0.0.1/localhost opens the page to the network.")] = _SV.host,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = _SV.port,
    token: Annotated[Optional[str], typer.Option("--token", envvar="VIDCOLOR_TOKEN", help="Require `Authorization: Bearer TOKEN` on /api (the page asks for it).")] = None,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    work_size: WorkSizeOpt = None,
    max_image_mb: Annotated[float, typer.Option("--max-image-mb", parser=_number(0.001, _LIMIT_MAX), help="Largest photo upload, MB (more than 0, at most 1e6).")] = _SV.max_image_mb,
    max_megapixels: Annotated[float, typer.Option("--max-megapixels", parser=_number(0.001, _LIMIT_MAX), help="Largest photo, decoded, in megapixels (more than 0, at most 1e6).")] = _SV.max_megapixels,
    max_video_mb: Annotated[float, typer.Option("--max-video-mb", parser=_number(0.001, _LIMIT_MAX), help="Largest clip upload, MB (more than 0, at most 1e6).")] = _SV.max_video_mb,
    max_video_seconds: Annotated[float, typer.Option("--max-video-seconds", parser=_number(0.001, _LIMIT_MAX), help="Longest clip, seconds (more than 0, at most 1e6).")] = _SV.max_video_seconds,
    max_video_frames: Annotated[int, typer.Option("--max-video-frames", min=1, max=int(_LIMIT_MAX), help="Most frames in one clip, from its header and counted as it runs (1 to 1e6).")] = _SV.max_video_frames,
    queue_size: Annotated[int, typer.Option("--queue-size", min=1, help="Photo requests that may wait for the model; more get 429.")] = _SV.queue_size,
) -> None:
    """Serve a web page and JSON API: before/after, click-to-hint, downloads, short clips (needs the `web` extra)."""
    from vidcolor.serve import is_loopback, listen_error, missing_web_modules, page_links, run, token_problem

    if missing := missing_web_modules():
        _reporter().error(f"vidcolor serve needs {', '.join(missing)}: pip install 'vidcolor[web]'")
        raise typer.Exit(EXIT_USAGE)
    if err := listen_error(host, port):  # a port in use: one line before the model loads, not uvicorn's traceback after
        _reporter().error(err)
        raise typer.Exit(EXIT_USAGE)
    if err := token_problem(token):  # an empty token, or one no header carries, made a server that refused every call
        _reporter().error(err)
        raise typer.Exit(EXIT_USAGE)
    config = _ServeConfig(host=host, port=port, token=token, max_image_mb=max_image_mb, max_megapixels=max_megapixels,
                          max_video_mb=max_video_mb, max_video_seconds=max_video_seconds, max_video_frames=max_video_frames, queue_size=queue_size)
    if not is_loopback(host):
        typer.echo(f"warning: --host {host} opens the page and API to other machines"
                   + ("" if token else "; anyone who can reach it can use it (pass --token)"), err=True)
    from vidcolor.tone import check_tone_net

    try:  # every photo is judged (already in colour?): a missing detector had answered each with a 500
        _check_load(model, weights, device)
        check_tone_net()
    except (UsageError, WeightsError) as e:
        _reporter().error(str(e))
        raise typer.Exit(EXIT_USAGE)
    col = _load(model, weights, device, work_size)
    for link in page_links(host, port, token):
        typer.echo(f"vidcolor serve: {link}", err=True)
    run(col, config)


COMMANDS = {"colorize", "models", "eval", "eval-video", "bench", "serve"}
ROOT_OPTIONS = {"--help", "-h", "--version", "-V"}


def _mistyped_command(args: list[str]) -> str | None:
    """The one line for a first word that is neither a path nor a command: `vidcolor colorise p.jpg` got
    Typer's "unexpected extra argument (p.jpg)", and `vidcolor help` "file not found"."""
    import difflib

    word = args[0]
    if word.startswith("-") or Path(word).exists() or Path(word).suffix or len(Path(word).parts) != 1:
        return None
    close = difflib.get_close_matches(word, sorted(COMMANDS), n=1, cutoff=0.6)
    if word == "help":
        hint = "; for help: vidcolor --help (or vidcolor COMMAND --help)"
    elif close:
        hint = f"; did you mean '{close[0]}'?"
    elif len(args) > 1 and not args[1].startswith("-"):
        hint = ""
    else:
        return None  # a lone name: colorize's own "file not found; not a file, folder or command" says it
    return f"{word}: not a file, folder or command (commands: {', '.join(sorted(COMMANDS))}){hint}"


def main(argv: list[str] | None = None) -> None:
    """Entry point: `vidcolor INPUT -o OUT` is short for `vidcolor colorize INPUT -o OUT`. Raises
    SystemExit with the exit code; as the console script (argv None) it ends the process itself once
    the command is done (`exit_now`)."""
    if argv is not None:
        raise SystemExit(_main(list(argv)))
    try:
        code = _main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
    exit_now(code)


def _main(args: list[str]) -> int | str | None:
    """The command's exit code. Its standard output (models, eval's and bench's tables, the version) costs
    lines, not the command, where it fails (report.LossyStream): exit 120 then, as for the log's lines."""
    from vidcolor.report import LossyStream

    _hold_closed_standard_fds()
    stdout = sys.stdout
    sys.stdout = out = LossyStream(stdout)  # (None: the process started with it closed, and every line is lost)
    try:
        code = _run_command(args)
        out.flush()
    finally:
        sys.stdout = stdout
    return EXIT_LOST_LINES if out.lost and code in (0, None) else code


def _hold_closed_standard_fds() -> None:
    """Put the null device on a standard descriptor (0, 1, 2) that the process was started without (`>&-`, `2>&-`, a
    supervisor that closes them): the first file the run opened took its number, and whatever was written to that
    descriptor went into it. `vidcolor DIR -o OUT --report - >&-` wrote its report into OUT/.vidcolor/lock, the
    run's own lock-owner file, and FFmpeg's or torch's messages to stderr would land in a file of the run's the
    same way (a scripter's test). Python's sys.stdout or sys.stderr stays None, so the lines are still counted as
    lost (exit 120), and `--report -` is refused (_check_report)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: fd itself, as those below it are open
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _run_command(args: list[str]) -> int | str | None:
    if not ROOT_OPTIONS & set(args) and (gone := _cwd_gone()):
        _to_stderr(f"vidcolor: error: {gone}")
        return EXIT_USAGE
    keep_freed_memory()  # this process allocates and frees frame-sized arrays all the time (see allocator.py)
    if args and args[0] not in COMMANDS and args[0] not in ROOT_OPTIONS:
        if (mistyped := _mistyped_command(args)) is not None:
            _to_stderr(f"vidcolor: error: {mistyped}")
            return EXIT_USAGE
        args.insert(0, "colorize")
    click = _click_exceptions()
    try:
        code = app(args=args, prog_name="vidcolor", standalone_mode=False)
    except click.NoArgsIsHelpError as e:  # `vidcolor eval` alone: its help, as before
        e.show()
        return e.exit_code
    except click.UsageError as e:
        _to_stderr(f"vidcolor: error: {_usage_line(e)}")
        return EXIT_USAGE
    except typer.Abort:
        _to_stderr("Aborted!")
        return 1
    return code if isinstance(code, int) else 0  # a command's typer.Exit(code), or success


def _to_stderr(text) -> None:
    """A line on stderr, or none where the process has no stderr (`2>&-`): print(file=None) wrote it on standard
    output, into the JSON lines of a `--report -` or the listing a script parses."""
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):  # (a stderr that fails: the exit code still says why)
            print(text, file=sys.stderr)


def _cwd_gone() -> str | None:
    """Why a command cannot start in this working folder: one removed under the shell that is in it (a script's
    `cd "$tmp" && ... && rm -rf "$tmp"`). Importing torch there ended the process with oneMKL's "FATAL ERROR:
    Cannot load libtorch_cpu.so", exit 2 and no word of vidcolor's, whatever the paths; a relative one was a
    traceback from resolving it (a scripter's test)."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return "the current folder no longer exists (removed while this shell was in it); cd to an existing folder"
    except OSError:  # (EACCES: a folder above it not searchable) the run itself says what it cannot reach
        pass
    return None


def exit_now(code: int | str | None) -> None:
    """End the process as SystemExit(code) would, without the interpreter's teardown: freeing every
    module and object of a run with torch, OpenCV and PyAV loaded took 0.8 s of wall time after the
    last line was printed (cockatoo, 2 cores; about 3% of the whole command). What matters at exit is
    kept: other non-daemon threads are joined, atexit handlers run (Ray's shutdown, logging's flush,
    multiprocessing's children), and standard output and error are flushed; every output file was
    closed before the command returned."""
    import atexit

    threading._shutdown()  # what the interpreter's exit does first: joins non-daemon threads and stops executors' workers
    atexit._run_exitfuncs()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        _to_stderr(code)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: the process started with it closed (>&-); print() skips it too
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: as the interpreter's own exit would, say nothing
            code = code or EXIT_LOST_LINES
    os._exit(code)


def _click_exceptions():
    """The exceptions module of the click that Typer runs on: Typer 0.29 vendors its own copy
    (`typer._click`), older ones use click itself."""
    return sys.modules[typer.BadParameter.__module__]


def _usage_line(e) -> str:
    """Click's usage error as the one `vidcolor: error:` line every other refusal is: it printed four lines
    (usage, a hint, a blank, the error), with the parser's "Value error, " left in and, for a mistyped
    option, any option as a "possible" one (`--bogus`: "Possible options: --verbose")."""
    import difflib

    command = e.ctx.command_path if e.ctx is not None else "vidcolor"
    if isinstance(e, _click_exceptions().NoSuchOption):
        close = difflib.get_close_matches(e.option_name, e.possibilities or [], n=1, cutoff=0.75)
        message = f"no such option {e.option_name}" + (f"; did you mean {close[0]}?" if close else "")
    else:
        message = e.format_message().replace("Value error, ", "")
    return f"{message} (see {command} --help)"
