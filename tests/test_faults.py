"""Fault injection: SIGKILL a folder run and a video run at random moments (seeded), re-run, and the
outputs are complete, valid and the same set as an uninterrupted run, with nothing partial left."""
import random
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from tests.media import probe, write_image, write_video

KILLS = 10


def mixed_archive(root):
    rng = np.random.default_rng(7)
    exts = [".jpg", ".png", ".tif", ".webp", ".bmp"]
    for i in range(40):
        h, w = int(rng.integers(60, 200)), int(rng.integers(60, 200))
        write_image(root / f"box{i % 4}" / f"scan {i:03d}{exts[i % len(exts)]}", h=h, w=w, seed=i)
    (root / "box0" / "broken.jpg").write_text("not an image")
    return root


def run(args, weights):
    return [sys.executable, "-m", "vidcolor", *map(str, args), "--weights", str(weights), "--device", "cpu", "-q"]


def outputs(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".vidcolor" not in p.parts)


def leftovers(root):
    return [str(p) for p in root.rglob("*") if "vidcolor-partial" in p.name or p.name.endswith((".part.mp4", ".tmp"))
            or p.name.endswith(".work")]


def kill_repeatedly(cmd, seed, duration):
    rng = random.Random(seed)
    for _ in range(KILLS):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, duration))
        p.kill()
        p.wait()


def test_folder_run_survives_sigkill(tmp_path, weights_file):
    src = mixed_archive(tmp_path / "scans")
    t = time.time()
    ref = subprocess.run(run([src, "-o", tmp_path / "ref"], weights_file), capture_output=True, text=True)
    duration = time.time() - t
    assert ref.returncode == 1 and "broken.jpg" in ref.stderr  # the one bad file is reported, the rest done
    kill_repeatedly(run([src, "-o", tmp_path / "out"], weights_file), seed=1, duration=duration)
    final = subprocess.run(run([src, "-o", tmp_path / "out", "--report", tmp_path / "run.jsonl"], weights_file),
                           capture_output=True, text=True)
    assert final.returncode == 1, final.stderr
    assert outputs(tmp_path / "out") == outputs(tmp_path / "ref") and len(outputs(tmp_path / "ref")) == 40
    assert leftovers(tmp_path / "out") == []
    for rel in outputs(tmp_path / "out"):
        with Image.open(tmp_path / "out" / rel) as im:
            im.load()
            assert im.size == Image.open(src / rel).size
    report = (tmp_path / "run.jsonl").read_text().splitlines()
    assert len(report) == 42  # 41 inputs and the summary


def test_video_run_survives_sigkill(tmp_path, weights_file):
    src = write_video(tmp_path / "film.mp4", w=128, h=96, frames=100, audio="aac")
    args = ["--segment-seconds", "0.4", "--temporal", "flow"]
    t = time.time()
    assert subprocess.run(run([src, "-o", tmp_path / "ref" / "film.mp4", *args], weights_file)).returncode == 0
    duration = time.time() - t
    out = tmp_path / "out" / "film.mp4"
    kill_repeatedly(run([src, "-o", out, *args], weights_file), seed=2, duration=duration)
    assert subprocess.run(run([src, "-o", out, *args], weights_file)).returncode == 0
    a, b = probe(out), probe(tmp_path / "ref" / "film.mp4")
    assert a["frames"] == b["frames"] == 100 and a["pts_s"] == b["pts_s"] and a["others"] == b["others"] == [("audio", "aac")]
    assert outputs(tmp_path / "out") == ["film.mp4"]
    assert leftovers(tmp_path / "out") == []
