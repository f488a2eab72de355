"""How far a code change moves the output: the pipeline's own `colorize_frames` (default model and
temporal mode, CPU) on a clip's first frames, saved with --save and compared with --against. Speed
work on the CPU path is kept only when this stays within its stated tolerance (docs/performance.md,
"Where the CPU time goes now").

    python benchmarks/frames_drift.py ../shared/data/video/cockatoo.mp4 --save /tmp/before.npz   # old code
    python benchmarks/frames_drift.py ../shared/data/video/cockatoo.mp4 --against /tmp/before.npz
"""
from __future__ import annotations

import argparse

import vidcolor  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads, as the CLI does)
import numpy as np

from _paths import refuse_missing
from vidcolor.io.video import VideoSource
from vidcolor.pipeline import batched, colorize_frames
from vidcolor.temporal import SceneCuts, make_smoother
from vidcolor.weights import load_colorizer


def colorized(clip: str, frames: int, temporal: str, batch_size: int) -> np.ndarray:
    col = load_colorizer(device="cpu")
    with VideoSource(clip) as src:
        decoded = [f for _, f in zip(range(frames), src.frames())]
        smoother, cuts = make_smoother(temporal), SceneCuts(src.info.fps)
    return np.concatenate([colorize_frames(col, b, smoother, cuts) for b in batched(decoded, batch_size)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--temporal", default="flow")
    p.add_argument("--batch-size", type=int, default=4)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", help="write the frames (.npz)")
    g.add_argument("--against", help="compare with frames written by --save")
    a = p.parse_args()
    refuse_missing([a.clip])
    out = colorized(a.clip, a.frames, a.temporal, a.batch_size)
    if a.save:
        np.savez_compressed(a.save, frames=out)
        print(f"{a.save}: {out.shape[0]} frames {out.shape[2]}x{out.shape[1]}")
        return
    ref = np.load(a.against)["frames"]
    if ref.shape != out.shape:
        raise SystemExit(f"{a.against}: {ref.shape} frames, this run {out.shape}")
    d = np.abs(out.astype(np.int16) - ref.astype(np.int16))
    hist = np.bincount(d.ravel(), minlength=4)
    print(f"{a.clip}: {out.shape[0]} frames, |difference| in 8-bit levels: max {d.max()}, mean {d.mean():.4f}, "
          f"99.99th pct {np.percentile(d, 99.99):.0f}; share of values off by 0 / 1 / 2 / more: "
          + " / ".join(f"{x / d.size:.5f}" for x in (*hist[:3], hist[3:].sum())))


if __name__ == "__main__":
    main()
