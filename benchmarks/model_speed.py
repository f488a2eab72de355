"""Model-only speed at the working resolution: frames/s of the default network per batch size and
memory layout, on random L (the network's cost does not depend on the pixels).

    python benchmarks/model_speed.py                       # shipped weights, their working size, CPU
    python benchmarks/model_speed.py --size 720x1280 --batch-sizes 1,2,4 --json model_speed.json

On a shared machine, stop other CPU work first: two cores are easily disturbed.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from _paths import refuse_missing
from vidcolor.bench import machine
from vidcolor.colorizer import working_size
from vidcolor.weights import load_colorizer


@torch.inference_mode()
def fps(col, batch: torch.Tensor, seconds: float) -> float:
    for _ in range(3):
        col.model.predict_ab(batch)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        col.model.predict_ab(batch)
        n += len(batch)
    if col.device.type == "cuda":
        torch.cuda.synchronize(col.device)
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--work-size", type=int, default=None, help="default: the weights' own")
    p.add_argument("--size", default="720x1280", help="frame HxW whose working resolution is measured")
    p.add_argument("--batch-sizes", default="1,2,4")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--repeats", type=int, default=3, help="best of N (the machine's noise only slows things down)")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    refuse_missing(weights=a.weights)
    col = load_colorizer(weights=a.weights, device=a.device, work_size=a.work_size)
    col.model.float()
    h, w = map(int, a.size.lower().split("x"))
    rows = []
    for layout in ("contiguous", "channels_last"):
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        col.model.to(memory_format=fmt)
        for bs in map(int, a.batch_sizes.split(",")):
            x = col.network_input(torch.rand(bs, 1, h, w, device=col.device) * 100).contiguous(memory_format=fmt)
            best = max(fps(col, x, a.seconds) for _ in range(a.repeats))
            rows.append({"layout": layout, "batch_size": bs, "input": list(x.shape[-2:]), "fps": best})
            print(f"{layout:>13}  batch {bs:2d}  input {x.shape[-2]}x{x.shape[-1]}  {best:6.1f} frames/s")
    res = {"model": col.model_id, "device": str(col.device), "frame": [h, w],
           "working_size": list(working_size(h, w, col.work_size)), "threads": torch.get_num_threads(),
           "machine": machine(), "results": rows}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
