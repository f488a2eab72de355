"""The `vidcolor` command: thin Typer commands over the library. Only this module turns
VidcolorError into exit codes: 0 all succeeded, 1 some inputs failed, 2 usage error, 3 output locked."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from vidcolor.errors import LockedError, VidcolorError, WeightsError
from vidcolor.io.images import FORMAT_EXT, is_image_path
from vidcolor.archive import RunReport
from vidcolor.cluster.runtime import ClusterError
from vidcolor.pipeline import FolderOptions, Result, VideoOptions, colorize_folder, colorize_image, colorize_video
from vidcolor.report import Reporter
from vidcolor.temporal import TEMPORAL_MODES
from vidcolor.weights import DEFAULT_MODEL, load_colorizer

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3
_D = VideoOptions()

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Colorize black-and-white videos, photos and photo folders.")

ModelOpt = Annotated[Optional[str], typer.Option("--model", help=f"Registered network to use (default {DEFAULT_MODEL}).")]
WeightsOpt = Annotated[Optional[Path], typer.Option("--weights", help="Checkpoint file to load instead of the shipped weights.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N (auto picks CUDA when present).")]
WorkSizeOpt = Annotated[Optional[int], typer.Option("--work-size", help="Short side the network sees (default: the weights' own).")]
UpsampleOpt = Annotated[str, typer.Option("--upsample", help="Chroma upsampling: guided (edge-aware, by L) or bilinear.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Plain output, one line per file.")]


def _load(model, weights, device, work_size, upsample="guided", strength=1.0):
    try:
        return load_colorizer(model=model, weights=weights, device=device, work_size=work_size, upsample=upsample, strength=strength)
    except (VidcolorError, ValueError) as e:
        Reporter().error(str(e))
        raise typer.Exit(EXIT_USAGE)


@app.command("colorize")
def colorize_cmd(
    input: Annotated[Path, typer.Argument(help="A video, an image, or a folder of images (searched recursively).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file, or output folder for a folder input.")],
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    work_size: WorkSizeOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Frames per network batch.")] = _D.batch_size,
    temporal: Annotated[str, typer.Option("--temporal", help="Temporal smoothing of colour: off, ema or flow.")] = _D.temporal,
    temporal_strength: Annotated[Optional[float], typer.Option("--temporal-strength", min=0.0, max=0.99, help="Weight of the past, 0 to 0.99 (default: the mode's own).")] = None,
    upsample: UpsampleOpt = "guided",
    strength: Annotated[float, typer.Option("--strength", min=0.0, max=3.0, help="Colour strength: a/b scaled by this (0 gray, 1 as trained, 1.5 more vivid).")] = 1.0,
    hints: Annotated[Optional[Path], typer.Option("--hints", help="Colour hints for a photo: a JSON file of points (x, y, color), see README 'Colour hints'.")] = None,
    codec: Annotated[str, typer.Option("--codec", help="Video encoder (PyAV/FFmpeg name).")] = _D.codec,
    crf: Annotated[int, typer.Option("--crf", help="Constant rate factor for x264/x265.")] = _D.crf,
    preset: Annotated[str, typer.Option("--preset", help="Encoder preset.")] = _D.preset,
    fmt: Annotated[Optional[str], typer.Option("--format", help=f"Image output format: {', '.join(sorted(set(FORMAT_EXT)))} (default: same as input).")] = None,
    segment_seconds: Annotated[float, typer.Option("--segment-seconds", min=0.1, help="Video is encoded (and resumes) in segments this long.")] = _D.segment_seconds,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo outputs that a previous run finished.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Colorize images that are already in colour (skipped by default).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be done; write nothing.")] = False,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write one JSON line per input, then a summary line.")] = None,
    quiet: QuietOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also report scene cuts and settings.")] = False,
    ray: Annotated[Optional[str], typer.Option("--ray", metavar="auto|HOST:PORT", help="Run on a Ray cluster: auto starts a local one, HOST:PORT joins one (needs the ray extra; inputs and outputs on storage every node sees).")] = None,
) -> None:
    """Colorize INPUT into OUTPUT (the default command: `vidcolor INPUT -o OUTPUT`)."""
    if fmt is not None and fmt.lower() not in FORMAT_EXT:
        raise typer.BadParameter(f"unknown format {fmt!r}", param_hint="--format")
    if temporal not in TEMPORAL_MODES:
        raise typer.BadParameter(f"{temporal!r} is not one of {', '.join(TEMPORAL_MODES)}", param_hint="--temporal")
    rep = Reporter(quiet=quiet, verbose=verbose)
    photo_hints = _hints_for(input, hints, rep)  # checked before the model loads
    if ray:
        _preflight_ray(ray, device, rep)
    col = _load(model, weights, "cpu" if ray else device, work_size, upsample, strength)  # with --ray, the workers use `device`
    video = VideoOptions(temporal=temporal, temporal_strength=temporal_strength, codec=codec, crf=crf, preset=preset,
                         batch_size=batch_size, segment_seconds=segment_seconds, overwrite=overwrite, dry_run=dry_run)
    folder = FolderOptions(fmt_ext=fmt and FORMAT_EXT[fmt.lower()], overwrite=overwrite, force=force, dry_run=dry_run,
                           batch_size=batch_size)
    raise typer.Exit(_colorize(input, output, col, video, folder, rep, RunReport(report), ray and (ray, device), photo_hints))


def _preflight_ray(address: str, device: str, rep: Reporter) -> None:
    from vidcolor.cluster.runtime import preflight

    try:
        preflight(address, device)
    except ClusterError as e:
        rep.error(str(e))
        raise typer.Exit(EXIT_USAGE)


def _hints_for(src: Path, hints: Path | None, rep):
    """--hints, parsed and checked against the photo before any heavy work; one line and exit 2 if bad."""
    if hints is None:
        return None
    from vidcolor.hints import load_hints

    if src.is_dir() or not is_image_path(src):
        rep.error(f"{hints}: --hints is for one photo (folder runs and videos with hints are not supported yet)")
        raise typer.Exit(EXIT_USAGE)
    try:
        parsed = load_hints(hints)
        if src.is_file():
            from vidcolor.hints import displayed_size

            size = displayed_size(src)
            if size:
                parsed.check_inside(*size, str(hints))
        return parsed
    except VidcolorError as e:
        rep.error(str(e))
        raise typer.Exit(EXIT_USAGE)


def _colorize(src: Path, dst: Path, col, video: VideoOptions, folder: FolderOptions, rep: Reporter, run: RunReport,
              ray: tuple[str, str] | None = None, hints=None) -> int:
    def done(res: Result) -> None:
        run.add(res)
        rep.result(res)

    try:
        if not src.exists():
            done(Result(src, None, "failed", error=f"{src}: file not found"))
        elif ray and (src.is_dir() or not is_image_path(src)):  # a single photo needs no cluster: it runs here
            from vidcolor.cluster import RayOptions, colorize_on_ray

            with rep.frames(src.name) as progress:
                colorize_on_ray(src, dst, col, RayOptions(*ray), video, folder, on_result=done, progress=progress)
        elif src.is_dir():
            colorize_folder(src, dst, col, folder, on_result=done)
        elif is_image_path(src):
            done(colorize_image(src, dst.with_suffix(folder.fmt_ext) if folder.fmt_ext else dst, col, folder, hints=hints))
        else:
            with rep.frames(src.name) as progress:
                done(colorize_video(src, dst, col, video, progress=progress))
    except LockedError as e:
        rep.error(str(e))
        return EXIT_LOCKED
    except ClusterError as e:
        rep.error(str(e))
        return EXIT_USAGE
    except VidcolorError as e:
        done(Result(src, None, "failed", error=str(e)))
    summary = run.close()["summary"]
    if src.is_dir() or summary["total"] > 1:
        rep.line(f"{summary['done']} done, {summary['skipped']} skipped, {summary['failed']} failed of {summary['total']} "
                 f"inputs into {dst} ({summary['seconds']:.1f} s)")
    return EXIT_FAILED if summary["failed"] else EXIT_OK


@app.command("eval")
def eval_cmd(
    gt_dir: Annotated[Path, typer.Argument(help="Folder of ground-truth colour photos (or of B&W photos with --no-gt).")],
    out: Annotated[Path, typer.Option("--out", help="Where eval.json, index.html and thumbnails go.")] = Path("vidcolor-eval"),
    no_gt: Annotated[bool, typer.Option("--no-gt", help="The photos have no ground truth: contact sheet only.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N images.")] = None,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    work_size: WorkSizeOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Score colorization against ground truth (PSNR, SSIM, AuC, CIEDE2000, colourfulness) beside the gray baseline."""
    from vidcolor.evaluate import evaluate_folder

    rep = Reporter(quiet=quiet)
    col = _load(model, weights, device, work_size)
    if not gt_dir.is_dir():
        rep.error(f"{gt_dir}: not a folder")
        raise typer.Exit(EXIT_USAGE)
    try:
        report = evaluate_folder(col, gt_dir, out, with_gt=not no_gt, limit=limit,
                                 on_image=None if quiet else (lambda r: rep.line(f"  {r['image']}")))
    except VidcolorError as e:
        rep.error(str(e))
        raise typer.Exit(EXIT_FAILED)
    if not no_gt:
        _print_eval_table(report)
    rep.line(f"wrote {out / 'eval.json'} and {out / 'index.html'}")


def _print_eval_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"vidcolor eval ({report['model']})")
    for c in ("set", "", "PSNR dB", "SSIM", "AuC", "CIEDE2000", "colourfulness", "GT colourfulness"):
        t.add_column(c, justify="right")
    for g, s in {**report["groups"], "all": report["overall"]}.items():
        for which in ("ours", "gray"):
            m = s[which]
            t.add_row(g, which, f"{m['psnr']:.2f}", f"{m['ssim']:.3f}", f"{m['auc']:.3f}", f"{m['ciede2000']:.2f}",
                      f"{m['colourfulness']:.1f}", f"{m['gt_colourfulness']:.1f}")
    Console(width=120).print(t)


@app.command("eval-video")
def eval_video_cmd(
    clips: Annotated[list[Path], typer.Argument(help="Colour clips: each is reduced to gray, colorized and compared.")],
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the results as JSON here.")] = None,
    max_frames: Annotated[Optional[int], typer.Option("--max-frames", min=2, help="Only the first N frames.")] = None,
    temporal_strength: Annotated[Optional[float], typer.Option("--temporal-strength", min=0.0, max=0.99)] = None,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    work_size: WorkSizeOpt = None,
    upsample: UpsampleOpt = "guided",
) -> None:
    """Flicker and colour per temporal mode: warp error, CDC, colourfulness, PSNR and fps, beside the ground truth."""
    import json

    from vidcolor.evaluate_video import evaluate_video

    col = _load(model, weights, device, work_size, upsample)
    results = []
    for clip in clips:
        try:
            res = evaluate_video(col, clip, strength=temporal_strength, max_frames=max_frames)
        except VidcolorError as e:
            Reporter().error(str(e))
            raise typer.Exit(EXIT_FAILED)
        _print_video_table(res)
        results.append(res)
    if json_out:
        json_out.write_text(json.dumps(results, indent=1))


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
    for m, a in res.get("against_off", {}).items():
        mark = " (default)" if m == _D.temporal else ""
        typer.echo(f"{m}{mark}: warp error {a['warp_vs_off']:.2f}x off, {a['warp_vs_gt']:.2f}x ground truth; "
                   f"colourfulness {a['colourfulness_change']:+.1%} vs off; PSNR {a['psnr_change_db']:+.2f} dB; "
                   f"colorizing fps {a['fps_vs_off']:.2f}x off")


@app.command("bench")
def bench_cmd(
    clip: Annotated[Path, typer.Argument(help="Video clip to measure on.")],
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the results as JSON here.")] = None,
    compare: Annotated[Optional[Path], typer.Option("--compare", help="JSON of an earlier bench run: print this run's ratios to it.")] = None,
    phases: Annotated[str, typer.Option("--phases", help="Comma-separated subset of decode,transcode,model,e2e.")] = "decode,transcode,model,e2e",
    length_check: Annotated[int, typer.Option("--length-check", min=0, help="Also compare e2e peak RSS on the clip's first frames and on N times as many (0: skip).")] = 0,
    length_frames: Annotated[int, typer.Option("--length-frames", min=2, help="Frames in the short clip of --length-check.")] = 60,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    work_size: WorkSizeOpt = None,
    upsample: UpsampleOpt = "guided",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = _D.batch_size,
    temporal: Annotated[str, typer.Option("--temporal", help="off, ema or flow.")] = _D.temporal,
    codec: Annotated[str, typer.Option("--codec")] = _D.codec,
    crf: Annotated[int, typer.Option("--crf")] = _D.crf,
    preset: Annotated[str, typer.Option("--preset")] = _D.preset,
) -> None:
    """Throughput on one clip: decode-only, transcode-only, model-only and end-to-end fps, peak memory."""
    import json

    from vidcolor.bench import compare as compare_runs, length_check as run_length_check, run_bench

    wanted = tuple(p.strip() for p in phases.split(",") if p.strip())
    if bad := [p for p in wanted if p not in ("decode", "transcode", "model", "e2e")]:
        raise typer.BadParameter(f"unknown phase(s) {', '.join(bad)}", param_hint="--phases")
    if temporal not in TEMPORAL_MODES:
        raise typer.BadParameter(f"{temporal!r} is not one of {', '.join(TEMPORAL_MODES)}", param_hint="--temporal")
    if not clip.is_file():
        Reporter().error(f"{clip}: file not found")
        raise typer.Exit(EXIT_USAGE)
    baseline = json.loads(compare.read_text()) if compare else None
    col = _load(model, weights, device, work_size, upsample)
    opts = VideoOptions(temporal=temporal, batch_size=batch_size, codec=codec, crf=crf, preset=preset)
    try:
        res = run_bench(clip, col, opts, wanted, log=typer.echo)
        if length_check:
            wargs = {"model": model, "weights": str(weights) if weights else None, "device": device,
                     "work_size": work_size, "upsample": upsample}
            res["length_check"] = run_length_check(clip, wargs, opts, length_frames, length_check, log=typer.echo)
    except VidcolorError as e:
        Reporter().error(str(e))
        raise typer.Exit(EXIT_FAILED)
    if "e2e_over_transcode" in res:
        typer.echo(f"end-to-end / transcode-only: {res['e2e_over_transcode']:.2f}")
    if baseline:
        typer.echo(f"this run (B) against {compare} (A):")
        res["compare"] = {"against": str(compare), "ratios": compare_runs(baseline, res, log=typer.echo)}
    if json_out:
        json_out.write_text(json.dumps(res, indent=1))


@app.command("models")
def models_cmd() -> None:
    """List the registered networks and which have shipped weights."""
    from vidcolor.models import list_models
    from vidcolor.weights import manifest

    shipped = manifest()
    for name in list_models():
        mark = f"weights {Path(shipped[name]['path']).name} sha256 {shipped[name]['sha256'][:12]}" if name in shipped else "no shipped weights"
        typer.echo(f"{name:14s} {mark}{'  (default)' if name == DEFAULT_MODEL else ''}")


from vidcolor.serve import ServeConfig as _ServeConfig  # stdlib only: the web stack loads inside serve_cmd

_SV = _ServeConfig()


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to bind. Anything but 127.0.0.1/localhost opens the page to the network.")] = _SV.host,
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = _SV.port,
    token: Annotated[Optional[str], typer.Option("--token", envvar="VIDCOLOR_TOKEN", help="Require `Authorization: Bearer TOKEN` on /api (the page asks for it).")] = None,
    model: ModelOpt = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    work_size: WorkSizeOpt = None,
    max_image_mb: Annotated[float, typer.Option("--max-image-mb", min=0.001, help="Largest photo upload.")] = _SV.max_image_mb,
    max_megapixels: Annotated[float, typer.Option("--max-megapixels", min=0.001, help="Largest photo, decoded.")] = _SV.max_megapixels,
    max_video_mb: Annotated[float, typer.Option("--max-video-mb", min=0.001, help="Largest clip upload.")] = _SV.max_video_mb,
    max_video_seconds: Annotated[float, typer.Option("--max-video-seconds", min=0.001, help="Longest clip.")] = _SV.max_video_seconds,
    queue_size: Annotated[int, typer.Option("--queue-size", min=1, help="Photo requests that may wait for the model; more get 429.")] = _SV.queue_size,
) -> None:
    """Serve a web page and JSON API: before/after, click-to-hint, downloads, short clips (needs the `web` extra)."""
    from vidcolor.serve import is_loopback, missing_web_modules, run

    if missing := missing_web_modules():
        Reporter().error(f"vidcolor serve needs {', '.join(missing)}: pip install 'vidcolor[web]'")
        raise typer.Exit(EXIT_USAGE)
    config = _ServeConfig(host=host, port=port, token=token, max_image_mb=max_image_mb, max_megapixels=max_megapixels,
                          max_video_mb=max_video_mb, max_video_seconds=max_video_seconds, queue_size=queue_size)
    if not is_loopback(host):
        typer.echo(f"warning: --host {host} opens the page and API to other machines"
                   + ("" if token else "; anyone who can reach it can use it (pass --token)"), err=True)
    col = _load(model, weights, device, work_size)
    typer.echo(f"vidcolor serve: http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
               + (f"#token={token}" if token else ""), err=True)
    run(col, config)


COMMANDS = {"colorize", "models", "eval", "eval-video", "bench", "serve"}


def main(argv: list[str] | None = None) -> None:
    """Entry point: `vidcolor INPUT -o OUT` is short for `vidcolor colorize INPUT -o OUT`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] not in COMMANDS and args[0] not in ("--help", "-h"):
        args.insert(0, "colorize")
    app(args=args, prog_name="vidcolor")
