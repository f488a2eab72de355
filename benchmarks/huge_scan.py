"""Peak memory on a huge scan: writes a 12,000 x 8,000 grayscale TIFF (8- or 16-bit), colorizes it
with `vidcolor` in a child process and reports that process's peak RSS.

    python benchmarks/huge_scan.py                 # 8-bit
    python benchmarks/huge_scan.py --bits 16       # 16-bit stays 16-bit
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile


def make_scan(path: Path, h: int, w: int, bits: int) -> None:
    """A smooth gradient with some structure, written strip by strip (never the whole image as float)."""
    dtype = np.uint16 if bits == 16 else np.uint8
    peak = np.iinfo(dtype).max
    x = np.linspace(0, 1, w, dtype=np.float32)

    def strips(rows=500):
        for y0 in range(0, h, rows):
            y = np.arange(y0, min(h, y0 + rows), dtype=np.float32)[:, None] / h
            v = 0.5 + 0.35 * np.sin(6 * x[None] + 4 * y) * np.cos(9 * y + 2 * x[None])
            yield (v * peak).astype(dtype)

    tifffile.imwrite(path, strips(), shape=(h, w), dtype=dtype, rowsperstrip=500, photometric="minisblack")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="8000x12000", help="HxW")
    p.add_argument("--bits", type=int, default=8, choices=(8, 16))
    p.add_argument("--weights", default=None)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    h, w = map(int, a.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="vidcolor-huge-") as tmp:
        src, dst = Path(tmp) / "scan.tif", Path(tmp) / "out" / "scan.tif"
        make_scan(src, h, w, a.bits)
        cmd = [sys.executable, "-m", "vidcolor", str(src), "-o", str(dst), "--device", "cpu", "-q"]
        if a.weights:
            cmd += ["--weights", a.weights]
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.time() - t0
        if r.returncode:
            sys.exit(f"vidcolor failed: {r.stderr.strip()}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        out = tifffile.imread(dst)
        res = {"size": [h, w], "bits": a.bits, "input_mb": src.stat().st_size / 2**20, "seconds": seconds,
               "peak_rss_mb": peak_mb, "output_shape": list(out.shape), "output_dtype": str(out.dtype)}
    print(json.dumps(res, indent=1))
    print(f"{w}x{h} {a.bits}-bit TIFF: peak RSS {peak_mb:.0f} MB in {seconds:.0f} s "
          f"-> {res['output_shape']} {res['output_dtype']}")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
