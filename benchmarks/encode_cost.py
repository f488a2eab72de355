"""What the encoder alone costs on a gray clip against vidcolor's colour output of it.

A black-and-white source re-encodes with flat chroma planes; vidcolor's output of it has real chroma,
which x264 spends more time on at the same CRF and preset. When the rest of the pipeline is fast (a
GPU), that extra encoder work is a floor under end to end against transcode. This re-encodes both
clips in process, with the encoder settings vidcolor plans for the output (as e2e_vs_transcode.py's
transcode does), interleaved round by round, and prints wall and CPU seconds of each and their ratio.

    python -m vidcolor CLIP -o /tmp/colour.mp4
    python benchmarks/encode_cost.py CLIP /tmp/colour.mp4 --rounds 3
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_vs_transcode import transcode  # noqa: E402

from vidcolor.io.plan import plan_output  # noqa: E402


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("gray", type=Path, help="the source clip")
    p.add_argument("colour", type=Path, help="vidcolor's output of it")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    res: dict[str, dict[str, list[float]]] = {"gray": {"wall": [], "cpu": []}, "colour": {"wall": [], "cpu": []}}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.rounds):
            for name, clip in (("gray", a.gray), ("colour", a.colour))[:: 1 if i % 2 == 0 else -1]:
                dst = Path(tmp) / f"{name}.mp4"
                plan = plan_output(clip, dst)
                c0, t0 = cpu_s(), time.perf_counter()
                n = transcode(clip, dst, plan)
                res[name]["wall"].append(time.perf_counter() - t0)
                res[name]["cpu"].append(cpu_s() - c0)
                print(f"round {i + 1}: {name:>6} {n} frames, {res[name]['wall'][-1]:.2f} s wall, {res[name]['cpu'][-1]:.2f} s CPU",
                      flush=True)
    med = {k: {m: statistics.median(v) for m, v in d.items()} for k, d in res.items()}
    print(f"medians: gray {med['gray']['wall']:.2f} s wall, {med['gray']['cpu']:.2f} s CPU; colour {med['colour']['wall']:.2f} s "
          f"wall, {med['colour']['cpu']:.2f} s CPU; colour / gray: wall {med['colour']['wall'] / med['gray']['wall']:.2f}, "
          f"CPU {med['colour']['cpu'] / med['gray']['cpu']:.2f}")


if __name__ == "__main__":
    main()
