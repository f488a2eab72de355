"""What the first network call at a new shape costs on a GPU, and what changes it.

On an H100 the first batch of a 1080p video took 4.7 s in the network's convolutions (cuDNN picking
kernels for each new shape, in channels_last, which vidcolor then used on GPUs), the steady batches
0.07 s. This runs, each in a fresh process so nothing
is cached: load the shipped network, time the first call at (batch, 1, h, w), a second call at the same
shape, the first at batch 2 (a video's short last batch), then the steady rate, under each variant:

    default        as vidcolor runs (bf16 autocast, NCHW, cuDNN)
    fp32           no autocast
    no_cudnn       torch.backends.cudnn.enabled = False (PyTorch's own convolution kernels)
    channels_last  the layout vidcolor used on GPUs before (2026-11-26), and still uses on the CPU

Measured 2026-11-26 on an H100 (fresh processes, 1080p frames, batch 4; the rows that say NCHW ran as
`contiguous` when channels_last was the default): first call 4.68 s in channels_last, 0.50 in NCHW,
0.23 without cuDNN; steady 442, 440 and 556 frames/s; fp32 (channels_last) 4.58 s and 854. At 256x256,
batch 64: NCHW 0.59 s and 4,379 frames/s, without cuDNN 0.34 s and 1,142.

    python benchmarks/gpu_first_call.py --json first_call.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

VARIANTS = ("default", "fp32", "no_cudnn", "channels_last")


def child(variant: str, batch: int, h: int, w: int) -> dict:
    t0 = time.perf_counter()
    import torch

    from vidcolor.weights import load_colorizer

    col = load_colorizer(device="cuda")
    if variant == "fp32":
        col.amp_dtype = None
    if variant == "no_cudnn":
        torch.backends.cudnn.enabled = False
    if variant == "channels_last":
        col.model, col.memory_format = col.model.to(memory_format=torch.channels_last), torch.channels_last
    col.pad_batches = False  # measure the short batch's own first call
    torch.cuda.synchronize()
    out = {"variant": variant, "load_s": time.perf_counter() - t0}

    def call(b: int) -> float:
        l_full = torch.rand(b, 1, h, w, device="cuda") * 100
        torch.cuda.synchronize()
        t = time.perf_counter()
        col.predict_ab_small(l_full)
        torch.cuda.synchronize()
        return time.perf_counter() - t

    out["first_s"], out["second_s"], out["first_batch2_s"] = call(batch), call(batch), call(2)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < 3.0:
        call(batch)
        n += batch
    out["steady_fps"] = n / (time.perf_counter() - t)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="1080x1920", help="full-resolution HxW of the frames (default 1080x1920)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--json")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    h, w = map(int, a.size.split("x"))
    if a.child:
        print(json.dumps(child(a.child, a.batch, h, w)))
        return
    rows = []
    for v in a.variants.split(","):
        r = subprocess.run([sys.executable, __file__, "--child", v, "--size", a.size, "--batch", str(a.batch)],
                           capture_output=True, text=True)
        if r.returncode:
            rows.append({"variant": v, "error": r.stderr.strip()[-400:]})
        else:
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
