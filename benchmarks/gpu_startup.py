"""Where a fresh process's start-up goes, stage by stage, up to the second network call.

On an H100 (2026-11-26) `vidcolor bench`'s start-up phase measured 6.6-7.5 s from process start to a
loaded model on the GPU, against about 1.8 s on this project's CPU machine; nothing said where. This
runs fresh processes (the first one finds a cold page cache on a fresh machine) and stamps each stage:

    import_torch     `import torch` (with CUDA builds: the CUDA libraries' shared objects)
    device_init      the device's context: torch.zeros(1, device=...) and a synchronize
    import_vidcolor  vidcolor.api and what it imports (PyAV, kornia, ...)
    load_checkpoint  the shipped checkpoint read and checked (sha256), on the CPU
    make_colorizer   BN folded, moved to the device
    first_call       the network's first batch of height x width frames (run at their working size)
    second_call      the same shape again (the steady cost)

Each stamp is seconds since the process started (its interpreter start, from the parent's clock).

    python benchmarks/gpu_startup.py --json startup.json [--device cpu] [--runs 2]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

STAGES = ("import_torch", "device_init", "import_vidcolor", "load_checkpoint", "make_colorizer", "first_call",
          "second_call")

_CHILD = r"""
import json, sys, time
t0 = float(sys.argv[1]); device = sys.argv[2]; batch, h, w = map(int, sys.argv[3:6])
stamps = {"interpreter": time.time() - t0}
def stamp(name): stamps[name] = time.time() - t0
import torch; stamp("import_torch")
dev = torch.device(device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
torch.zeros(1, device=dev)
if dev.type == "cuda": torch.cuda.synchronize()
stamp("device_init")
import vidcolor.api; stamp("import_vidcolor")
from vidcolor.models import load_checkpoint
from vidcolor.weights import DEFAULT_MODEL, make_colorizer, shipped_weights
path, sha = shipped_weights(DEFAULT_MODEL); net = load_checkpoint(path, sha256=sha); stamp("load_checkpoint")
col = make_colorizer(net, dev); stamp("make_colorizer")
from vidcolor.colorizer import working_size
hw = working_size(h, w, col.work_size)
L = torch.rand(batch, 1, h, w, device=dev) * 100  # full-resolution L, as the pipeline passes it
def call():
    col.predict_ab_small(L)
    if dev.type == "cuda": torch.cuda.synchronize()
call(); stamp("first_call")
call(); stamp("second_call")
print(json.dumps({"device": str(dev), "working_size": list(hw), "stamps": stamps}))
"""


def run_once(device: str, batch: int, h: int, w: int) -> dict:
    t0 = time.time()
    r = subprocess.run([sys.executable, "-c", _CHILD, repr(t0), device, str(batch), str(h), str(w)],
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"gpu_startup: the child failed: {r.stderr.strip().splitlines()[-1:]}")
    child = json.loads(r.stdout.strip().splitlines()[-1])
    child["process_s"] = time.time() - t0
    return child


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the runs here")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--size", default="1920x1080", help="frame WIDTHxHEIGHT (the network sees its working size)")
    ap.add_argument("--batch", type=int, default=4)
    a = ap.parse_args()
    w, h = map(int, a.size.lower().split("x"))
    runs = [run_once(a.device, a.batch, h, w) for _ in range(a.runs)]
    for i, r in enumerate(runs):
        st, prev, parts = r["stamps"], 0.0, []
        for name in ("interpreter", *STAGES):
            parts.append(f"{name} {st[name] - prev:.2f}")
            prev = st[name]
        print(f"run {i + 1} ({r['device']}, {r['process_s']:.2f} s in all): " + ", ".join(parts))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"size": [w, h], "batch": a.batch, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
