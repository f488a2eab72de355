"""Start-up as a user times it: each figure is the wall time of a fresh process, median of --runs,
the variants interleaved so that the machine's drift falls on all of them alike.

    python benchmarks/startup.py CLIP [--runs 5] [--weights W.pt]

  help        `vidcolor --help`
  refusal     `vidcolor CLIP -o out.gif`: an impossible output, refused before the model loads
  run         `vidcolor CLIP -o out.mp4 -y` as shipped: the model loads in a background thread while
              the input is opened and the pipeline's modules import
  run, serial the same with the model loaded first and the input opened after (the front door's
              background load replaced by a plain call), to show what the overlap gains
Pass a short clip (a few frames): the point is the time before the first frame, not the encoding.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _paths import refuse_missing

SERIAL = (
    "import sys\n"
    "from concurrent.futures import Future\n"
    "import vidcolor.api as api\n"
    "def serial(fn, **kw):\n"
    "    f = Future(); f.set_result(fn(**kw)); return f\n"
    "api._in_background = serial\n"
    "from vidcolor.cli import main\n"
    "sys.argv[0] = 'vidcolor'\n"
    "main()\n"  # the console script's path, as SHIPPED
)
SHIPPED = "import sys\nfrom vidcolor.cli import main\nsys.argv[0] = 'vidcolor'\nmain()\n"  # the console script's path


def wall(cmd: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - t0, r.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--weights", type=Path, help="a checkpoint instead of the shipped weights")
    a = ap.parse_args()
    refuse_missing([a.clip], weights=a.weights)  # it said 'run: exit code 2'
    extra = ["--weights", str(a.weights)] if a.weights else []
    with tempfile.TemporaryDirectory(prefix="vidcolor-startup-") as tmp:
        out = Path(tmp) / "out.mp4"
        variants = {
            "help": [sys.executable, "-c", SHIPPED, "--help"],
            "refusal": [sys.executable, "-c", SHIPPED, str(a.clip), "-o", str(Path(tmp) / "out.gif"), *extra],
            "run": [sys.executable, "-c", SHIPPED, str(a.clip), "-o", str(out), "-y", "-q", *extra],
            "run, serial": [sys.executable, "-c", SERIAL, str(a.clip), "-o", str(out), "-y", "-q", *extra],
        }
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(a.runs):
            for name, cmd in variants.items():
                seconds, code = wall(cmd)
                if code != (2 if name == "refusal" else 0):
                    sys.exit(f"{name}: exit code {code}")
                times[name].append(seconds)
    for name, ts in times.items():
        print(f"{name:>12}: median {statistics.median(ts):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in ts)})")
    gain = statistics.median(times["run, serial"]) - statistics.median(times["run"])
    print(f"background model load saves {gain:+.2f} s of the serial start-up")


if __name__ == "__main__":
    main()
