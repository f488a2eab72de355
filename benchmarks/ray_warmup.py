"""How far a cluster run's frames are from a one-machine run's, per number of warm-up frames.

A range that starts inside a shot begins with a smoother that has not seen the shot's earlier frames;
its warm-up frames (colorized and smoothed, not encoded) bring it close to the state a one-machine run
has there. This runs the cluster's own worker code (`colorize_range`) in this process, over the same
plan the cluster would make, and compares every frame of the mid-shot ranges with the one-machine
output. Both sides are encoded losslessly (libx264 CRF 0), so the difference is the colorizing's alone.
Ranges that start at a scene cut are reported apart (they should be identical but for float noise).

    python benchmarks/ray_warmup.py ../shared/data/video/cockatoo.mp4 --range-seconds 2 --warmup 0,8,16,32
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import av
import numpy as np

import vidcolor
from vidcolor.cluster.film import make_plan, scan
from vidcolor.cluster.plan import Range
from vidcolor.cluster.workers import colorize_range
from vidcolor.io.plan import plan_output
from vidcolor.io.segments import segment_frames
from vidcolor.io.video import VideoSource
from vidcolor.pipeline import VideoOptions, colorize_video
from vidcolor.temporal import mode_stride


def frames_of(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(np.int16)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path)
    p.add_argument("--range-seconds", type=float, default=2.0, help="range length (the cluster uses --segment-seconds)")
    p.add_argument("--warmup", default="0,8,16,32", help="warm-up network frames to try (x the network stride in frames: 2 with flow)")
    p.add_argument("--temporal", default="flow")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    col = vidcolor.load_colorizer(device="cpu")
    opts = VideoOptions(temporal=a.temporal, crf=0, segment_seconds=a.range_seconds)
    out_plan = plan_output(a.clip, Path("ranges.mp4"), opts.codec, opts.crf, opts.preset)
    with VideoSource(a.clip) as source:
        pts, cuts, prints = scan(source)
        fps = source.info.fps
    out: dict = {"clip": str(a.clip), "frames": len(pts), "cuts": cuts, "range_frames": segment_frames(a.range_seconds, fps, mode_stride(a.temporal)), "warmup": {}}
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.mp4"
        colorize_video(a.clip, one, col, VideoOptions(temporal=a.temporal, crf=0, segment_seconds=3600))
        ref = frames_of(one)
        for w in map(int, a.warmup.split(",")):
            plan = make_plan(pts, cuts, prints, out["range_frames"], w * mode_stride(a.temporal), mode_stride(a.temporal))
            mid, at_cut, firsts = [], [], []
            for i, r in enumerate(Range(**x) for x in plan["ranges"]):
                first = r.start - r.warmup
                checks = {int(k): np.array(v, np.uint8) for k, v in plan["checks"][i].items()}
                if r.start == 0 or r.start in cuts:
                    if w == 0:  # the same for every w: measure once
                        seg = colorize_range(col, a.clip, r, pts[first - 1] if first else None, cuts, opts, out_plan, Path(tmp) / f"c{i}.mp4", checks)
                        at_cut.append(np.abs(frames_of(Path(tmp) / seg["file"]) - ref[r.start:r.end]))
                    continue
                seg = colorize_range(col, a.clip, r, pts[first - 1] if first else None, cuts, opts, out_plan, Path(tmp) / f"w{w}_{i}.mp4", checks)
                d = np.abs(frames_of(Path(tmp) / seg["file"]) - ref[r.start:r.end])
                mid.append(d)
                firsts.append(d[0])
            row = _stats(mid, firsts)
            out["warmup"][w] = row
            print(f"warm-up {w:3d}: {row['ranges']} mid-shot ranges, {row['frames']} frames: mean |diff| {row['mean']:.3f}, "
                  f"p99 {row['p99']:.0f}, max {row['max']}; first frame of a range: mean {row['first_mean']:.3f}, max {row['first_max']}",
                  flush=True)
            if at_cut:
                d = np.concatenate([x.reshape(-1) for x in at_cut])
                out["at_cut"] = {"ranges": len(at_cut), "mean": float(d.mean()), "max": int(d.max())}
                print(f"ranges starting at a cut: {len(at_cut)}, mean |diff| {d.mean():.4f}, max {d.max()}", flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


def _stats(mid: list[np.ndarray], firsts: list[np.ndarray]) -> dict:
    if not mid:
        return {"ranges": 0, "frames": 0, "mean": 0.0, "p99": 0.0, "max": 0, "first_mean": 0.0, "first_max": 0}
    d = np.concatenate([x.reshape(-1) for x in mid])
    f = np.concatenate([x.reshape(-1) for x in firsts])
    return {"ranges": len(mid), "frames": sum(len(x) for x in mid), "mean": float(d.mean()), "p99": float(np.percentile(d, 99)),
            "max": int(d.max()), "first_mean": float(f.mean()), "first_max": int(f.max())}


if __name__ == "__main__":
    main()
