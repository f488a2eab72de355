"""What x264 costs on exactly the frames vidcolor hands it, against the source's own frames.

Colorizes CLIP through the library's front door while keeping a copy of every packed yuv420p frame
the pipeline gives its encoder (the CPU's luma path: (H * 3/2, W) planes), decodes the source to
yuv420p, then encodes each variant alone, in process, with libx264 at CRF 18, preset medium (what
vidcolor plans for an MP4), and prints wall and CPU seconds and the size:

    ours                  the pipeline's encoder input
    source                the source's frames as yuv420p
    ours, source chroma   our luma planes with the source's chroma
    ours, gray chroma     our luma planes with flat chroma

It also checks that our luma planes are the source's and prints the chroma's frame-to-frame change.
Needs a yuv420p-able clip with even sizes (the luma path), on the CPU; holds every frame in memory.

    python benchmarks/encoder_input_cost.py ../shared/data/video/cockatoo.mp4
"""
from __future__ import annotations

import argparse
import io
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def captured_encoder_input(clip: Path) -> np.ndarray:
    import vidcolor.io.segments as segments
    from vidcolor import api

    frames, write = [], segments.SegmentEncoder.write

    def keep(self, planes, pts):
        frames.append(np.array(planes, copy=True))
        return write(self, planes, pts)

    segments.SegmentEncoder.write = keep
    try:
        with tempfile.TemporaryDirectory() as tmp:
            api.colorize(clip, Path(tmp) / "out.mp4", device="cpu")
    finally:
        segments.SegmentEncoder.write = write
    return np.stack(frames)


def source_yuv420p(clip: Path) -> np.ndarray:
    with av.open(str(clip)) as c:
        return np.stack([f.to_ndarray(format="yuv420p") for f in c.decode(video=0)])


def encode(planes: np.ndarray) -> tuple[float, float, int]:
    """(wall s, CPU s of this process, bytes) of encoding the packed yuv420p frames."""
    h, w = planes.shape[1] * 2 // 3, planes.shape[2]
    buf = io.BytesIO()
    t0, c0 = time.perf_counter(), time.process_time()
    with av.open(buf, "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt, s.options = w, h, "yuv420p", {"crf": "18", "preset": "medium"}
        for i, a in enumerate(planes):
            f = av.VideoFrame.from_ndarray(a, format="yuv420p")
            f.pts, f.time_base = i, Fraction(1, 25)
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return time.perf_counter() - t0, time.process_time() - c0, len(buf.getvalue())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path)
    a = p.parse_args()
    ours, src = captured_encoder_input(a.clip), source_yuv420p(a.clip)
    if ours.shape != src.shape:
        raise SystemExit(f"{a.clip}: the encoder's input {ours.shape} is not the source's {src.shape} (not the luma path?)")
    h = ours.shape[1] * 2 // 3
    print(f"{a.clip}: {len(ours)} frames; luma planes identical to the source's: {np.array_equal(ours[:, :h], src[:, :h])}")
    for name, x in (("ours", ours), ("source", src)):
        c = x[:, h:].astype(np.int16)
        print(f"  chroma of {name}: std {c.std():.2f}, mean |frame-to-frame change| {np.abs(np.diff(c, axis=0)).mean():.3f} levels")
    mixed, gray = ours.copy(), ours.copy()
    mixed[:, h:], gray[:, h:] = src[:, h:], 128
    for name, x in (("ours", ours), ("source", src), ("ours, source chroma", mixed), ("ours, gray chroma", gray)):
        wall, cpu, size = encode(x)
        print(f"  {name:22s} wall {wall:6.2f} s  CPU {cpu:6.2f} s  {size / 1e6:6.2f} MB")


if __name__ == "__main__":
    main()
