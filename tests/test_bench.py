"""`vidcolor bench`: every phase runs on a generated clip and reports what it measured (the figures
themselves are benchmarks, not test assertions)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.media import write_video
from vidcolor import cli
from vidcolor.bench import compare, run_bench
from vidcolor.pipeline import VideoOptions

runner = CliRunner()


def test_run_bench_measures_every_phase(tmp_path, colorizer):
    clip = write_video(tmp_path / "clip.mp4", w=96, h=64, frames=10)
    res = run_bench(clip, colorizer, VideoOptions(batch_size=2), log=lambda s: None)
    assert set(res["phases"]) == {"decode", "transcode", "model", "e2e"}
    for name in ("decode", "transcode", "e2e"):
        assert res["phases"][name]["frames"] == 10
    for p in res["phases"].values():
        assert p["fps"] > 0 and p["peak_rss_mb"] > 50
    assert res["phases"]["model"]["frames"] >= 20 and "batch 2, fp32" in res["phases"]["model"]["note"]
    assert res["e2e_over_transcode"] > 0 and res["working_size"] == [64, 96]
    ratios = compare(res, res, log=lambda s: None)
    assert ratios["e2e"]["fps_ratio"] == 1.0


def test_peak_rss_sees_a_short_allocation():
    # In a fresh interpreter: in this one, freed memory of earlier tests may be reused without new pages.
    code = ("import time, numpy as np\nfrom vidcolor.bench import PeakRSS\nwith PeakRSS() as m:\n"
            "    base = m.peak\n    a = np.ones(50_000_000, np.uint8)\n    time.sleep(0.2)\n    del a\n"
            "print((m.peak - base) / 2**20)")
    grew_mb = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 40 < grew_mb < 200


def test_bench_cli_writes_json_and_compares(tmp_path, weights_file):
    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=6)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    args = ["bench", str(clip), "--weights", str(weights_file), "--device", "cpu", "--phases", "decode,e2e"]
    r = runner.invoke(cli.app, args + ["--json", str(a), "--temporal", "off"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli.app, args + ["--json", str(b), "--compare", str(a)])
    assert r.exit_code == 0, r.output
    assert "B/A" in r.output and json.loads(b.read_text())["compare"]["ratios"]["e2e"]["fps_ratio"] > 0
    assert "note: the runs differ in options" in r.output  # A ran --temporal off, B flow: ratios of settings (helper test)
    r = runner.invoke(cli.app, ["bench", str(clip), "--weights", str(weights_file), "--phases", "nope"])
    assert r.exit_code == 2
    # any other JSON failed with KeyError 'phases' after the whole measurement: refused first now
    (tmp_path / "other.json").write_text('{"a": 1}')
    r = runner.invoke(cli.app, args + ["--compare", str(tmp_path / "other.json")])
    assert r.exit_code == 2 and "not a `vidcolor bench --json` result" in r.output


def test_startup_times_fresh_processes_to_the_first_frame(tmp_path, weights_file):
    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=4)
    r = runner.invoke(cli.app, ["bench", str(clip), "--weights", str(weights_file), "--device", "cpu",
                                "--phases", "startup", "--json", str(tmp_path / "s.json")])
    assert r.exit_code == 0, r.output
    st = json.loads((tmp_path / "s.json").read_text())["startup"]
    assert "process start to first colorized frame" in r.output and st["runs"] == 3
    # a fresh process must import torch and build the model before its first frame: far more than --help
    assert 0 < st["help_s"] < st["first_frame_s"] and 0 < st["first_decoded_s"] < st["first_frame_s"]
    assert 0 < st["model_ready_s"] < st["first_frame_s"]


def test_e2e_vs_transcode_times_whole_processes_and_the_null_network(tmp_path):
    """benchmarks/e2e_vs_transcode.py (issue 16's measure) runs end to end: the transcode, vidcolor and,
    with --null-network, the pipeline with a network that costs almost nothing, all writing the same encoding."""
    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=4, audio=None)
    out = tmp_path / "e2e.json"
    r = subprocess.run([sys.executable, "benchmarks/e2e_vs_transcode.py", str(clip), "--rounds", "1", "--null-network",
                        "--json", str(out)], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert set(res["ratio"]) == {"vidcolor", "null"} and all(v > 0 for v in res["ratio"].values())
    assert "--weights" in res["variants"]["null"] and res["outputs"]["null"]["frames"] == res["outputs"]["transcode"]["frames_encoded"] == 4
    assert "transcode / null" in r.stdout


def test_thread_cpu_names_the_thread_that_did_the_work():
    """`vidcolor bench` reports CPU seconds per thread, to tell which stage is the limit."""
    import threading
    import time as _time

    from vidcolor.bench import ThreadCPU

    def spin(seconds):
        t = _time.thread_time()
        while _time.thread_time() - t < seconds:
            pass

    with ThreadCPU() as cpu:
        worker = threading.Thread(target=spin, args=(0.6,), name="encode")
        worker.start()
        worker.join()  # ended before the block: its last sample still counts
    assert cpu.seconds.get("encode", 0) >= 0.3, cpu.seconds
    assert not any(k.startswith("bench-") for k in cpu.seconds)


def test_threads_a_stage_starts_carry_its_name():
    """x264's threads are started from the encoder thread: they inherit its OS-level name, so bench
    can count them as the encoder's (io.prefetch names the pipeline's threads at the OS level)."""
    import sys

    import pytest

    from vidcolor.io.prefetch import BackgroundWorker

    if not sys.platform.startswith("linux"):
        pytest.skip("OS thread names are read from /proc")
    seen = []

    def comm(_):
        import threading
        with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
            seen.append(f.read().strip())

    w = BackgroundWorker(comm, name="encode")
    w.submit(None)
    w.close()
    assert seen == ["encode"]


MISSING_PATH_RUNS = [  # the scripts the docs give a command for, each with one path that is not there
    ("flip.py", "{x}"), ("hints.py", "{x}"), ("colour_cast.py", "--bw {x}"), ("colour_cast.py", "--video {x}.mp4"),
    ("warp_floor.py", "{x}.mp4"), ("frames_drift.py", "{x}.mp4 --save {t}/f.npz"), ("stage_cost.py", "{x}.mp4"),
    ("temporal_cost.py", "{x}.mp4"), ("startup.py", "{x}.mp4"), ("eval_video_repeat.py", "{x}.mp4"),
    ("tradeoff.py", "{t}/o.json {x}.pt"), ("flip.py", "{t} --weights {x}.pt"), ("hints.py", "{t} --weights {x}.pt"),
    ("hints_video.py", "{x}"), ("model_speed.py", "--weights {x}.pt"), ("oracle_gain.py", "--val {x}"),
    ("oracle_gain.py", "--val {t} --weights {x}.pt"),
]


@pytest.mark.parametrize("script, args", MISSING_PATH_RUNS)
def test_benchmarks_refuse_a_missing_path_in_one_line_naming_it(tmp_path, script, args):
    """A reviewer's test: with a mistyped path, colour_cast.py and hints.py printed nan and exited 0,
    eval_video_repeat.py ran eval-video 50 times, startup.py said 'run: exit code 2', and the others
    ended in a traceback (a missing --weights too)."""
    x = tmp_path / "nosuch"
    r = subprocess.run([sys.executable, f"benchmarks/{script}", *args.format(x=x, t=tmp_path).split()],
                       capture_output=True, text=True, cwd=Path(__file__).parents[1], timeout=120)
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [r.stderr.strip()], r.stderr
    assert r.stderr.startswith(str(x)) and "not found" in r.stderr, r.stderr


def test_tradeoff_never_replaces_a_checkpoint_given_where_its_report_goes(tmp_path):
    """A researcher's find: tradeoff.py takes OUT.json first, and with it left out (`tradeoff.py
    weights/effnet_unet.pt SNAP.pt`) it scored the second checkpoint and wrote its report over the first."""
    import numpy as np
    from PIL import Image

    from vidcolor.models import create_model, save_checkpoint

    val = tmp_path / "val"
    val.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)).save(val / "a.png")
    ckpt, snap = tmp_path / "effnet_unet.pt", tmp_path / "snap.pt"
    save_checkpoint(create_model("cunet", head="both"), snap)
    ckpt.write_bytes(snap.read_bytes())
    before = ckpt.read_bytes()
    (tmp_path / "old.json").write_text("{}")
    (tmp_path / "args.json").write_text('{"steps": 100, "lr": 0.001}')  # a run's arguments, JSON but no report
    runs = {"not a JSON report": [ckpt, snap], "also an input": [snap, snap], "a folder": [val, snap], "": [tmp_path / "old.json", snap],
            "is not a JSON report": [tmp_path / "args.json", snap]}
    for says, args in runs.items():
        r = subprocess.run([sys.executable, "benchmarks/tradeoff.py", *map(str, args), "--val", str(val), "--work-size", "64"],
                           capture_output=True, text=True, cwd=Path(__file__).parents[1], timeout=120)
        if not says:  # an earlier report is replaced
            assert r.returncode == 0 and str(snap) in json.loads((tmp_path / "old.json").read_text()), r.stderr
            continue
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stderr.startswith(f"{args[0]}: ") and says in r.stderr, r.stderr
    assert ckpt.read_bytes() == before and json.loads((tmp_path / "args.json").read_text())["steps"] == 100


def test_tradeoff_refuses_a_val_folder_without_colour_photos_and_a_work_size_it_cannot_use(tmp_path):
    """A researcher's find: an empty --val (or one of black-and-white photos only) was a ZeroDivisionError
    traceback, and --work-size 0 scored every decoding of a 1x1 prediction, exit 0."""
    import numpy as np
    from PIL import Image

    from vidcolor.models import create_model, save_checkpoint

    snap = tmp_path / "snap.pt"
    save_checkpoint(create_model("cunet", head="both"), snap)
    empty, gray, colour = tmp_path / "empty", tmp_path / "gray", tmp_path / "colour"
    empty.mkdir(), gray.mkdir(), colour.mkdir()
    Image.fromarray(np.full((48, 64), 120, np.uint8)).save(gray / "bw.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)).save(colour / "c.png")
    for val, extra, says in ((empty, [], f"--val {empty}: no readable colour photos"),
                             (gray, [], f"--val {gray}: no readable colour photos"),
                             (colour, ["--work-size", "0"], "--work-size 0: must be from 32")):
        r = subprocess.run([sys.executable, "benchmarks/tradeoff.py", str(tmp_path / "o.json"), str(snap), "--val", str(val), *extra],
                           capture_output=True, text=True, cwd=Path(__file__).parents[1], timeout=120)
        assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith(says), r.stderr
        assert "Traceback" not in r.stderr and not (tmp_path / "o.json").exists()
