"""Peak memory of one photo request to `vidcolor serve`, by the photo's size: for each size a fresh server
(`python -m vidcolor serve --device cpu`, the shipped weights) on 127.0.0.1 and a free port, one 0.1 Mpx
request to warm it, then one gray JPEG of that many megapixels (serve_load.make_photo). It reports the
server process's RSS before the request and its peak during it (VmHWM, reset before the request), and the
peak's rise per megapixel.

    python benchmarks/serve_memory.py                    # 1, 4 and 16 Mpx
    python benchmarks/serve_memory.py 1 4 16 36 --json serve_memory.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from serve_load import free_port, make_photo, peak_rss_mb, post, reset_peak  # noqa: E402


def one_size(megapixels: float, work: Path) -> dict:
    photo, port = make_photo(megapixels), free_port()
    with open(work / f"server-{megapixels:g}.log", "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "vidcolor", "serve", "--port", str(port), "--device", "cpu"],
                                  stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(work)})
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=900) as client:
                deadline = time.time() + 300
                while True:
                    try:
                        client.get("/api/health").raise_for_status()
                        break
                    except httpx.TransportError:
                        if server.poll() is not None or time.time() > deadline:
                            raise SystemExit(f"server did not start; see {log.name}")
                        time.sleep(0.25)
                post(client, make_photo(0.1)).raise_for_status()  # first-call allocations
                idle, _ = peak_rss_mb(server.pid)
                reset_peak(server.pid)
                t0 = time.perf_counter()
                r = post(client, photo)
                seconds = time.perf_counter() - t0
                r.raise_for_status()
                _, peak = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(60)
    row = {"megapixels": megapixels, "jpeg_bytes": len(photo), "rss_before_mb": idle, "peak_rss_mb": peak,
           "rise_mb": peak - idle, "rise_mb_per_megapixel": (peak - idle) / megapixels, "seconds": seconds}
    print(f"{megapixels:5g} Mpx: RSS before {idle:5.0f} MB, peak {peak:5.0f} MB, rise {peak - idle:5.0f} MB "
          f"({(peak - idle) / megapixels:4.0f} MB per Mpx), {seconds:.1f} s", flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("megapixels", type=float, nargs="*", default=[1.0, 4.0, 16.0])
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="vidcolor-serve-memory-") as work:
        rows = [one_size(m, Path(work)) for m in a.megapixels]
    if a.json:
        a.json.write_text(json.dumps({"cpu_count": os.cpu_count(), "loadavg": os.getloadavg(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
