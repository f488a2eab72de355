"""Photos per second on a local Ray instance with 1 and 2 single-CPU workers, the cost Ray adds to each
task, and the time to the first result.

Each run starts a fresh local instance (`--ray auto` with that many CPUs) and runs the real folder
path (colorize_folder with the cluster's image loop, journal and all) over the same generated photos.
It times starting Ray, the first result (from the start of the Ray Data run), and the steady rate
between the first and the last result, with the driver's CPU time over the same span. The workers log when each call starts and ends: the busy time
per task is the time inside the call, and the cost Ray adds per task is the gap between one call's end
and the same actor's next call (dispatch, moving rows in and out, waiting for the next batch).
The worker counts are run in alternation for --rounds rounds and medians are reported, with the load
average around each run: on a shared machine, compare runs made under the same load. Where Linux
autogroup is on (/proc/sys/kernel/sched_autogroup_enabled), the CPU is shared between sessions, and all
of Ray's local workers sit in the driver's session: on a machine that other sessions keep busy, a
second worker then gets no more CPU than the first had alone.
--node-sessions instead starts one single-CPU Ray node per worker with `ray start`, each in a session
of its own, as each would be on a machine of its own, and joins them.

    python benchmarks/ray_scaling.py --images 400 --size 320x240 --workers 1,2 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

import vidcolor
from vidcolor.cluster.photos import RayPhotos
from vidcolor.cluster.runtime import connect, plan_pool
from vidcolor.cluster.workers import PhotoBatch
from vidcolor.folder import colorize_folder
from vidcolor.options import FolderOptions


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


class TimedPhotoBatch(PhotoBatch):
    """The real worker, logging (pid, start, end) of each call to the file VIDCOLOR_BENCH_TIMING names."""

    def __call__(self, batch):
        t = time.time()
        out = super().__call__(batch)
        with open(os.environ["VIDCOLOR_BENCH_TIMING"], "a") as f:
            f.write(f"{os.getpid()} {t} {time.time()}\n")
        return out


def _autogroup() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def actor_times(log: Path, batch_size: int) -> tuple[float, float, float]:
    """Median busy time per call, median gap between one call's end and the same actor's next call, and
    the rate (images/s) while every actor was working: from the last actor's first call to the first
    actor's last one (actors start seconds apart; before and after, fewer of them are working)."""
    calls: dict[str, list[tuple[float, float]]] = {}
    for line in log.read_text().splitlines():
        pid, t0, t1 = line.split()
        calls.setdefault(pid, []).append((float(t0), float(t1)))
    busy = [t1 - t0 for c in calls.values() for t0, t1 in c]
    gaps = [b[0] - a[1] for c in calls.values() for a, b in zip(sorted(c), sorted(c)[1:])]
    start = max(min(t0 for t0, _ in c) for c in calls.values())
    end = min(max(t1 for _, t1 in c) for c in calls.values())
    ended = sum(start < t1 <= end for c in calls.values() for _, t1 in c)
    return statistics.median(busy), statistics.median(gaps), ended * batch_size / (end - start) if end > start else float("nan")


@contextmanager
def node_sessions(n: int):
    """n single-CPU Ray nodes, each a `ray start --block` in a session of its own; yields the address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # `ray start` turns on Ray's token authentication; a driver joining by address must ask for it
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    env = {**os.environ, "RAY_worker_niceness": "0", "RAY_BACKEND_LOG_LEVEL": "fatal"}
    ray_cli = str(Path(sys.executable).with_name("ray"))
    common = ["--block", "--num-cpus", "1", "--disable-usage-stats"]
    nodes = [subprocess.Popen([ray_cli, "start", "--head", "--port", str(port), "--include-dashboard=false", *common],
                              env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        address = _wait_for_head(port)
        for _ in range(n - 1):
            nodes.append(subprocess.Popen([ray_cli, "start", "--address", address, *common], env=env, start_new_session=True,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address
    finally:
        for node in reversed(nodes):  # each node's session holds its raylet and workers: end them all
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(node.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    node.wait(timeout=20)
                    break
                except subprocess.TimeoutExpired:
                    continue


def _wait_for_head(port: int, timeout_s: float = 120) -> str:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the Ray head on port {port} did not start within {timeout_s} s")


def on_ray(col, src: Path, dst: Path, workers: int, opts: FolderOptions, node_sessions_: bool = False) -> dict:
    arrivals: list[float] = []
    cpu_at: list[float] = []  # the driver's CPU time at the first and the last result

    def arrived(_result) -> None:
        arrivals.append(time.perf_counter())
        cpu_at[1:] = [time.process_time()]
        if len(cpu_at) == 1:
            cpu_at.insert(0, cpu_at[0])
    log = dst.with_name(dst.name + ".timing")
    os.environ["VIDCOLOR_BENCH_TIMING"] = str(log)  # the local instance's workers inherit it
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with ExitStack() as stack:
        address = stack.enter_context(node_sessions(workers)) if node_sessions_ else "auto"
        ray = stack.enter_context(connect(address, num_cpus=workers))
        _wait_for_cpus(ray, workers)
        t_ray = time.perf_counter() - t0
        pool = plan_pool(ray.cluster_resources(), "cpu", 1, workers)
        first: list[float] = []
        t1 = time.perf_counter()
        results = colorize_folder(src, dst, col, opts, on_result=arrived,
                                  run_images=RayPhotos(ray, pool, on_first=first.append, worker=TimedPhotoBatch))
    done = sum(r.status == "done" for r in results)
    busy, gap, all_working = actor_times(log, opts.batch_size)
    steady = arrivals[-1] - arrivals[0]
    return {"workers": pool.size, "images": done, "load": load, "ray_start_s": t_ray, "first_result_s": first[0],
            "first_result_from_command_s": t1 - t0 + first[0], "images_per_s_steady": (done - opts.batch_size) / steady,
            "images_per_s_total": done / (arrivals[-1] - t0), "images_per_s_all_working": all_working, "busy_s_per_task": busy, "overhead_s_per_task": gap,
            "driver_cpu_s_per_task": (cpu_at[1] - cpu_at[0]) / (-(-done // opts.batch_size) - 1)}


def _wait_for_cpus(ray, n: int, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while ray.cluster_resources().get("CPU", 0) < n:
        if time.time() > deadline:
            raise RuntimeError(f"the Ray cluster did not reach {n} CPUs within {timeout_s} s")
        time.sleep(0.5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--size", default="320x240")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--node-sessions", action="store_true",
                   help="one single-CPU Ray node per worker, each started by `ray start` in a session of its own")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    w, h = map(int, a.size.split("x"))
    counts = [int(n) for n in a.workers.split(",")]
    col = vidcolor.load_colorizer(device="cpu")
    opts = FolderOptions(batch_size=a.batch_size)
    out = {"cpus": os.cpu_count(), "node_sessions": a.node_sessions, "autogroup": _autogroup(), "images": a.images, "size": a.size, "batch_size": a.batch_size, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        make_photos(Path(tmp) / "in", a.images, w, h)
        for k in range(a.rounds):
            for n in counts:
                r = on_ray(col, Path(tmp) / "in", Path(tmp) / f"out{k}_{n}", n, opts, a.node_sessions)
                out["runs"].append(r)
                print(f"round {k + 1}, {r['workers']} worker(s), load {r['load']:.1f}: Ray start {r['ray_start_s']:.1f} s, "
                      f"first result {r['first_result_s']:.1f} s after the run started, {r['images_per_s_steady']:.2f} images/s "
                      f"steady, {r['images_per_s_all_working']:.2f} while all workers ran ({r['images_per_s_total']:.2f} with start-up); per task: busy {r['busy_s_per_task'] * 1e3:.0f} ms, "
                      f"Ray's cost {r['overhead_s_per_task'] * 1e3:.1f} ms; driver CPU {r['driver_cpu_s_per_task'] * 1e3:.1f} ms", flush=True)
    med = {n: {k: statistics.median(r[k] for r in out["runs"] if r["workers"] == n)
               for k in ("images_per_s_steady", "images_per_s_all_working", "first_result_s", "ray_start_s", "overhead_s_per_task", "busy_s_per_task",
                         "driver_cpu_s_per_task", "load")}
           for n in counts}
    out["median"] = med
    for n in counts:
        m = med[n]
        print(f"median, {n} worker(s): {m['images_per_s_steady']:.2f} images/s ({m['images_per_s_all_working']:.2f} while all "
              f"workers ran), first result {m['first_result_s']:.1f} s "
              f"(+ {m['ray_start_s']:.1f} s to start Ray), Ray's cost per task {m['overhead_s_per_task'] * 1e3:.0f} ms "
              f"of {m['busy_s_per_task'] * 1e3:.0f} ms busy, driver CPU {m['driver_cpu_s_per_task'] * 1e3:.1f} ms per task, "
              f"load {m['load']:.1f}")
    if len(counts) > 1:
        out["speedup"] = med[counts[1]]["images_per_s_steady"] / med[counts[0]]["images_per_s_steady"]
        out["speedup_all_working"] = med[counts[1]]["images_per_s_all_working"] / med[counts[0]]["images_per_s_all_working"]
        print(f"{counts[1]} workers / {counts[0]}: {out['speedup']:.2f}x ({out['speedup_all_working']:.2f}x while all workers ran)")
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
