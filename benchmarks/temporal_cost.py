"""What each temporal mode costs end to end: the real `colorize_video` (decode, network, smoothing,
render, libx264 encode) on one clip, once per mode per round, the modes interleaved so that the slow
drift of a shared machine's speed falls on all of them alike. Prints each mode's median fps and its
ratio to `off`.

    python benchmarks/temporal_cost.py ../shared/data/video/cockatoo.mp4 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import vidcolor
from _paths import refuse_missing
from vidcolor.pipeline import VideoOptions, colorize_video
from vidcolor.temporal import TEMPORAL_MODES


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--modes", default=",".join(TEMPORAL_MODES))
    p.add_argument("--device", default="auto")
    p.add_argument("--json", type=Path, help="write the per-run fps here")
    a = p.parse_args()
    refuse_missing([a.clip])
    modes = a.modes.split(",")
    col = vidcolor.load_colorizer(device=a.device)
    fps: dict[str, list[float]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for m in modes:
                t = time.perf_counter()
                res = colorize_video(a.clip, Path(tmp) / f"{m}{r}.mp4", col, VideoOptions(temporal=m, overwrite=True))
                fps[m].append(res.frames / (time.perf_counter() - t))
                print(f"round {r + 1}, {m}: {fps[m][-1]:.2f} fps", flush=True)
    base = statistics.median(fps["off"]) if "off" in fps else None
    for m in modes:
        med = statistics.median(fps[m])
        ratio = f", {med / base:.2f}x off" if base else ""
        print(f"{m:5s} median {med:.2f} fps (runs {', '.join(f'{x:.2f}' for x in fps[m])}){ratio}")
    if a.json:
        a.json.write_text(json.dumps({"clip": str(a.clip), "fps": fps}, indent=1))


if __name__ == "__main__":
    main()
