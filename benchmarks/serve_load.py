"""Load on `vidcolor serve`: starts the real server (`python -m vidcolor serve`) on 127.0.0.1 and a
free port, then from a local client:

1. latency: one ~1 Mpx photo at a time, without hints, with two hints, and at another strength
   (what the page does on each click), client wall time and the server's own time per request;
2. burst: N photo requests at once (default 50). Every request must be answered 200 or 429 (queue
   full), none lost; with --retry each client retries a 429 after Retry-After until it gets its photo.

It reports the server process's peak RSS (VmHWM, reset between phases so each phase has its own) and
checks that the server left no temporary files.

    python benchmarks/serve_load.py                      # shipped weights + zero hint layers (see --weights)
    python benchmarks/serve_load.py --retry --json serve_load.json

By default the server loads the shipped network with hint inputs added at zero (saved to a temporary
checkpoint): a hint then costs what it costs a trained hint network, while the colours are the
automatic ones. Pass --weights to time a trained hint checkpoint instead.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image


def make_photo(megapixels: float) -> bytes:
    """A gray JPEG of skimage's sample coffee cup (CC0, shipped in scikit-image), resized to ~megapixels at 4:3."""
    import skimage.data

    w = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))
    im = Image.fromarray(skimage.data.coffee()).convert("L").resize((w, h), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def hint_checkpoint(path: Path) -> None:
    """The shipped network with zero hint layers, as a checkpoint (the warm start training uses)."""
    from vidcolor.models import create_model, load_checkpoint, save_checkpoint
    from vidcolor.weights import shipped_weights

    wpath, sha = shipped_weights("effnet_unet")
    src = load_checkpoint(wpath, sha256=sha)
    net = create_model("effnet_unet", **{**src.model_args, "hints": True})
    missing, unexpected = net.load_state_dict(src.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("hint_") for k in missing)
    net.set_decode(**src.decode_settings())
    save_checkpoint(net, path, half=True, meta=src.checkpoint_meta)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reset_peak(pid: int) -> None:
    """Start VmHWM afresh (Linux: "5" to clear_refs), so a phase's peak is not the start-up's."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def post(client: httpx.Client, photo: bytes, **fields) -> httpx.Response:
    return client.post("/api/colorize", files={"file": ("photo.jpg", photo, "image/jpeg")},
                       data={k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()})


def latency(client: httpx.Client, photo: bytes, size: tuple[int, int], repeats: int, hints_ok: bool) -> dict:
    w, h = size
    two = {"points": [{"x": w // 3, "y": h // 3, "color": "#c03030", "radius": 9},
                      {"x": 2 * w // 3, "y": h // 2, "color": "#3050c0", "radius": 9}]}
    cases = {"no hints": {}, "strength 1.4": {"strength": "1.4"}}
    if hints_ok:
        cases["two hints"] = {"hints": two}
    walls: dict[str, list[float]] = {name: [] for name in cases}
    server: dict[str, list[float]] = {name: [] for name in cases}
    post(client, photo)  # warm-up: first-call allocations
    for _ in range(repeats):  # cases interleaved, so drift in the machine's load falls on all of them
        for name, fields in cases.items():
            t0 = time.perf_counter()
            r = post(client, photo, **fields)
            walls[name].append(time.perf_counter() - t0)
            r.raise_for_status()
            server[name].append(float(r.headers["x-vidcolor-seconds"]))
    out = {}
    for name in cases:
        out[name] = {"wall_s_median": statistics.median(walls[name]), "wall_s_max": max(walls[name]),
                     "server_s_median": statistics.median(server[name])}
        print(f"  {name:13s} wall median {out[name]['wall_s_median']:.2f} s (max {out[name]['wall_s_max']:.2f}), "
              f"server {out[name]['server_s_median']:.2f} s", flush=True)
    return out


def burst(client: httpx.Client, photo: bytes, n: int, retry: bool) -> dict:
    results: list[dict] = [{} for _ in range(n)]
    go = threading.Event()

    def one(i: int) -> None:
        go.wait()
        t0, tries = time.perf_counter(), 0
        try:
            while True:
                tries += 1
                r = post(client, photo)
                if r.status_code == 429 and retry:
                    time.sleep(float(r.headers.get("retry-after", "1")))
                    continue
                results[i] = {"status": r.status_code, "seconds": time.perf_counter() - t0, "tries": tries,
                              "bytes": len(r.content), "detail": None if r.status_code == 200 else r.json().get("detail")}
                return
        except httpx.HTTPError as e:  # a lost request: reported, and the run fails
            results[i] = {"status": None, "error": f"{type(e).__name__}: {e}", "seconds": time.perf_counter() - t0}

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    statuses = [r.get("status") for r in results]
    counts = {str(s): statuses.count(s) for s in sorted(set(statuses), key=str)}
    ok = [r["seconds"] for r in results if r.get("status") == 200]
    return {"requests": n, "retry": retry, "wall_s": wall, "counts": counts,
            "answered": sum(s in (200, 429) for s in statuses), "lost": sum(s is None for s in statuses),
            "other": sum(s not in (200, 429, None) for s in statuses),
            "ok_seconds_median": statistics.median(ok) if ok else None, "ok_seconds_max": max(ok) if ok else None,
            "tries_max": max(r.get("tries", 0) for r in results),
            "sample_429": next((r["detail"] for r in results if r.get("status") == 429), None),
            "errors": [r["error"] for r in results if "error" in r][:3]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--megapixels", type=float, default=1.0)
    p.add_argument("--queue-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5, help="requests per latency case")
    p.add_argument("--weights", type=Path, help="checkpoint to serve (default: shipped weights + zero hint layers)")
    p.add_argument("--retry", action="store_true", help="also run the burst with clients retrying 429s")
    p.add_argument("--json", type=Path)
    a = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vidcolor-serve-load-"))
    server_tmp = work / "server-tmp"
    server_tmp.mkdir()
    weights = a.weights
    if weights is None:
        weights = work / "effnet_unet_hints0.pt"
        hint_checkpoint(weights)
    photo = make_photo(a.megapixels)
    size = Image.open(io.BytesIO(photo)).size
    port = free_port()
    log = open(work / "server.log", "w")
    cmd = [sys.executable, "-m", "vidcolor", "serve", "--port", str(port), "--device", "cpu", "--weights", str(weights),
           "--queue-size", str(a.queue_size)]
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(server_tmp)})
    report: dict = {"photo": {"width": size[0], "height": size[1], "bytes": len(photo)}, "queue_size": a.queue_size,
                    "cpu_count": os.cpu_count(), "loadavg_at_start": os.getloadavg()}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600,
                          limits=httpx.Limits(max_connections=a.requests + 8, max_keepalive_connections=a.requests + 8)) as client:
            deadline = time.time() + 180
            while True:
                try:
                    health = client.get("/api/health").json()
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.time() > deadline:
                        raise SystemExit(f"server did not start; see {work / 'server.log'}")
                    time.sleep(0.25)
            report["model"] = health["model"]
            report["rss_idle_mb"], report["peak_rss_idle_mb"] = peak_rss_mb(server.pid)  # the peak so far: start-up
            reset_peak(server.pid)
            print(f"server pid {server.pid} on 127.0.0.1:{port}, {health['model']}, photo {size[0]}x{size[1]}", flush=True)
            print("latency, one request at a time:", flush=True)
            report["latency"] = latency(client, photo, size, a.repeats, health["accepts_hints"])
            report["rss_after_latency_mb"], report["peak_rss_after_latency_mb"] = peak_rss_mb(server.pid)
            reset_peak(server.pid)
            print(f"server RSS idle {report['rss_idle_mb']:.0f} MB (peak while starting {report['peak_rss_idle_mb']:.0f} MB); after the one-at-a-time requests "
                  f"{report['rss_after_latency_mb']:.0f} MB, peak during them {report['peak_rss_after_latency_mb']:.0f} MB", flush=True)
            for retry in (False, True) if a.retry else (False,):
                b = burst(client, photo, a.requests, retry)
                b["rss_mb"], b["peak_rss_mb"] = peak_rss_mb(server.pid)
                reset_peak(server.pid)
                report["burst_retry" if retry else "burst"] = b
                print(f"burst of {a.requests}{' (clients retry 429)' if retry else ''}: {b['counts']} in {b['wall_s']:.1f} s, "
                      f"answered {b['answered']}, lost {b['lost']}, other {b['other']}; 200s took median "
                      f"{b['ok_seconds_median']:.1f} s, max {b['ok_seconds_max']:.1f} s; server RSS {b['rss_mb']:.0f} MB, "
                      f"peak during the burst {b['peak_rss_mb']:.0f} MB", flush=True)
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    leftovers = [str(q.relative_to(server_tmp)) for q in server_tmp.rglob("*")]
    report["temp_files_left"] = leftovers
    # uvicorn shuts down gracefully on SIGTERM (lifespan: model thread stopped, job files removed), then
    # re-raises the signal, so -15 is the normal exit code here
    print(f"server exit code {server.returncode}; temporary files left: {len(leftovers)}")
    if a.json:
        a.json.write_text(json.dumps(report, indent=1))
    bursts = [report[k] for k in ("burst", "burst_retry") if k in report]
    if any(b["lost"] or b["other"] for b in bursts) or leftovers:
        raise SystemExit(f"FAILED: a request was lost or answered other than 200/429, or temporary files were left; see {work}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
