"""Photos per second on a local Ray instance with 1 and 2 single-CPU workers, the cost Ray adds to each
task, and the time to the first result.

For each worker count it starts a fresh local instance (`--ray auto` with that many CPUs), runs the
real folder path (colorize_folder with the cluster's image loop, journal and all) over the same
generated photos, and times: starting Ray, the first result, and the steady rate between the first
and the last result. The cost per task is the steady time per batch on one worker minus the time the
same worker code (PhotoBatch) takes for the same batches called directly in this process, one torch
thread, no Ray. The load average is printed before and after: on a shared machine, compare runs made
under the same load.

    python benchmarks/ray_scaling.py --images 400 --size 320x240 --workers 1,2
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import vidcolor
from vidcolor.cluster.photos import RayPhotos
from vidcolor.cluster.runtime import connect, plan_pool
from vidcolor.cluster.workers import PhotoBatch
from vidcolor.pipeline import FolderOptions, batched, colorize_folder


def make_photos(root: Path, n: int, w: int, h: int) -> list[Path]:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w]
    paths = []
    for i in range(n):
        g = 127 + 100 * np.sin(x / rng.uniform(5, 15) + i) * np.cos(y / rng.uniform(5, 15))
        p = root / f"d{i % 10}" / f"p{i:05d}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(g + rng.normal(0, 4, g.shape), 0, 255).astype(np.uint8), "L").save(p)
        paths.append(p)
    return paths


def direct(col, photos: list[Path], out: Path, opts: FolderOptions) -> float:
    """Seconds per batch of the worker code called in this process, one thread, no Ray."""
    torch.set_num_threads(1)
    worker = PhotoBatch(col, opts, since_ns=time.time_ns() + 10**12)  # never "written this run": always work
    batches = list(batched(photos, opts.batch_size))
    t = time.perf_counter()
    for b in batches:
        worker({"src": np.array([str(p) for p in b]), "dst": np.array([str(out / p.name) for p in b])})
    return (time.perf_counter() - t) / len(batches)


def on_ray(col, src: Path, dst: Path, workers: int, opts: FolderOptions) -> dict:
    times: list[float] = []
    t0 = time.perf_counter()
    with connect("auto", num_cpus=workers) as ray:
        t_ray = time.perf_counter() - t0
        pool = plan_pool(ray.cluster_resources(), "cpu", 1, workers)
        first: list[float] = []
        t1 = time.perf_counter()
        results = colorize_folder(src, dst, col, opts, on_result=lambda r: times.append(time.perf_counter()),
                                  run_images=RayPhotos(ray, pool, on_first=first.append))
    done = sum(r.status == "done" for r in results)
    n_tasks = -(-done // opts.batch_size)
    steady = (times[-1] - times[0]) if len(times) > 1 else float("nan")
    # results stream back in blocks: the rate after the first result is the pool's steady rate
    return {"workers": pool.size, "images": done, "ray_start_s": t_ray, "first_result_s": first[0] if first else None,
            "total_s": times[-1] - t1, "images_per_s_steady": (done - opts.batch_size) / steady,
            "images_per_s_total": done / (times[-1] - t1), "s_per_task_steady": steady / max(1, n_tasks - 1) * pool.size}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--size", default="320x240")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    w, h = map(int, a.size.split("x"))
    col = vidcolor.load_colorizer(device="cpu")
    opts = FolderOptions(batch_size=a.batch_size)
    out = {"load_before": os.getloadavg(), "cpus": os.cpu_count(), "images": a.images, "size": a.size, "runs": []}
    print(f"load average before: {out['load_before']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(Path(tmp) / "in", a.images, w, h)
        out["direct_s_per_task"] = direct(col, photos[: 10 * a.batch_size], Path(tmp) / "direct", opts)
        print(f"worker code in-process, 1 thread: {out['direct_s_per_task'] * 1e3:.1f} ms per batch of {a.batch_size} "
              f"({a.batch_size / out['direct_s_per_task']:.1f} images/s)", flush=True)
        for n in map(int, a.workers.split(",")):
            r = on_ray(col, Path(tmp) / "in", Path(tmp) / f"out{n}", n, opts)
            r["overhead_s_per_task"] = r["s_per_task_steady"] - out["direct_s_per_task"]
            out["runs"].append(r)
            print(f"{r['workers']} worker(s): Ray start {r['ray_start_s']:.1f} s, first result {r['first_result_s']:.1f} s, "
                  f"{r['images_per_s_steady']:.1f} images/s steady ({r['images_per_s_total']:.1f} with start-up), "
                  f"{r['s_per_task_steady'] * 1e3:.1f} ms per task per worker, overhead {r['overhead_s_per_task'] * 1e3:.1f} ms per task",
                  flush=True)
    if len(out["runs"]) > 1:
        base = out["runs"][0]["images_per_s_steady"] / out["runs"][0]["workers"]
        for r in out["runs"][1:]:
            r["speedup_vs_first"] = r["images_per_s_steady"] / out["runs"][0]["images_per_s_steady"]
            print(f"{r['workers']} workers / {out['runs'][0]['workers']}: {r['speedup_vs_first']:.2f}x "
                  f"(per-worker rate {r['images_per_s_steady'] / r['workers'] / base:.2f} of the first run's)", flush=True)
    out["load_after"] = os.getloadavg()
    print(f"load average after: {out['load_after']}", flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
