"""Write a synthetic black-and-white test clip (moving shapes over a drifting gradient, with an AAC
tone), for `vidcolor bench` at a size of your choosing.

    python benchmarks/make_clip.py /tmp/gen720.mp4 --size 1280x720 --frames 300
"""
from __future__ import annotations

import argparse
import fractions

import av
import numpy as np


def frame(i: int, w: int, h: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    g = 0.5 + 0.3 * np.sin(x / 97.0 + i * 0.05) * np.cos(y / 61.0 - i * 0.03)
    for k in range(6):  # discs crossing the frame at different speeds
        cx, cy = (k * 211 + i * (3 + k)) % w, h * (0.15 + 0.13 * k)
        g[(x - cx) ** 2 + (y - cy) ** 2 < (25 + 8 * k) ** 2] = 0.1 + 0.15 * k
    g += np.random.default_rng(i).normal(0, 0.01, g.shape).astype(np.float32)  # film grain
    v = (np.clip(g, 0, 1) * 255).astype(np.uint8)
    return np.repeat(v[..., None], 3, axis=2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--size", default="1280x720", help="WxH")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--fps", type=int, default=25)
    a = p.parse_args()
    w, h = map(int, a.size.split("x"))
    with av.open(a.out, "w") as c:
        v = c.add_stream("libx264", rate=a.fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"crf": "18", "preset": "veryfast"}
        s = c.add_stream("aac", rate=48000)
        s.layout = "stereo"
        t = 0
        for i in range(a.frames):
            vf = av.VideoFrame.from_ndarray(frame(i, w, h), format="rgb24")
            vf.pts = i
            c.mux(v.encode(vf))
            while t < (i + 1) * 48000 // a.fps:  # audio up to the end of this frame
                n = np.arange(t, t + 1024)
                tone = (0.2 * np.sin(2 * np.pi * 440 * n / 48000)).astype(np.float32)
                af = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = 48000, t, fractions.Fraction(1, 48000)
                c.mux(s.encode(af))
                t += 1024
        c.mux(v.encode(None))
        c.mux(s.encode(None))
    print(f"{a.out}: {a.frames} frames {w}x{h} at {a.fps} fps with AAC audio")


if __name__ == "__main__":
    main()
