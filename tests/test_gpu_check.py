"""benchmarks/gpu_check.sh cannot rot: its --dry-run (CPU, tiny sizes) runs every part and writes the
JSON and summary a GPU run would."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("clip", "bench", "model", "train", "profile", "gpu_vs_cpu", "tests")


def test_gpu_check_dry_run_writes_every_section(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable}
    r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=420)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads((tmp_path / "gpu_check.json").read_text())
    assert res["dry_run"] is True and res["device"] == "cpu"
    assert tuple(res["parts"]) == PARTS
    failed = {k: v.get("error") for k, v in res["parts"].items() if v["status"] != "ok"}
    assert not failed
    p = res["parts"]
    assert set(p["bench"]["phases"]) == {"decode", "transcode", "model", "e2e"} and p["bench"]["e2e_over_transcode"] > 0
    assert p["model"]["fps"]["fp32"]["fps"] > 0 and p["model"]["input"] == [2, 1, 64, 64]
    assert p["train"]["images_per_s"] > 0 and p["train"]["images"] > 0
    assert p["profile"]["frames"] == 8 and p["profile"]["main_thread_cumulative_s"]["prepare_frames"] > 0
    assert "prepare_frames" in (tmp_path / "profile.txt").read_text()
    assert p["gpu_vs_cpu"]["frames"] == 4 and p["gpu_vs_cpu"]["within_tolerance"]
    cuda, rest = p["tests"]["cuda_variants"], p["tests"]["rest"]
    if torch.cuda.is_available():  # the dry run's CUDA variants run for real on a GPU machine
        assert cuda["passed"] > 0 and cuda["failure"] == 0
    else:
        assert cuda["skipped"] > 0 and cuda["passed"] == cuda["failure"] == 0  # every CUDA variant skipped
    assert p["bench"]["phases"]["e2e"]["thread_cpu_s"]["main"] > 0  # CPU seconds per thread (bench.ThreadCPU)
    assert rest["passed"] > 0 and rest["failure"] == rest["error"] == 0
    summary = (tmp_path / "gpu_check.txt").read_text()
    assert all(f"{name} (" in summary for name in PARTS[1:])
