"""Rebuild examples/ from scikit-image's public-domain and CC0 sample photos (see README.md here).

    python examples/make_examples.py
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import skimage.data
from PIL import Image

HERE = Path(__file__).resolve().parent
PHOTOS = {"chelsea": "chelsea_bw.jpg", "coffee": "coffee_bw.jpg", "astronaut": "astronaut_bw.png", "rocket": "rocket_bw.jpg"}
W, H, FPS = 480, 270, 25


def gray(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage.data, name)()).convert("L")


def pan(img: Image.Image, frames: int, zoom: tuple[float, float]) -> list[np.ndarray]:
    """A slow Ken Burns move: zoom from zoom[0] to zoom[1] while drifting right."""
    iw, ih = img.size
    out = []
    for i in range(frames):
        t = i / max(1, frames - 1)
        z = zoom[0] + (zoom[1] - zoom[0]) * t
        cw, ch = iw / z, iw / z * H / W
        ch = min(ch, ih)
        x0 = (iw - cw) * (0.2 + 0.6 * t)
        y0 = (ih - ch) / 2
        crop = img.resize((W, H), Image.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch))
        out.append(np.asarray(crop.convert("RGB")))
    return out


def write_clip(path: Path, frames: list[np.ndarray]) -> None:
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.options = {"crf": "23", "preset": "slow"}
        a = c.add_stream("aac", rate=22050)
        a.layout = "mono"
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        # A soft two-note chime made here, so the clip has an audio track to carry over.
        n = int(22050 * len(frames) / FPS)
        t = np.arange(n) / 22050
        tone = np.where(t < t[-1] / 2, np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)) * np.exp(-3 * (t % (t[-1] / 2)))
        samples = (0.2 * tone * 32767).astype(np.int16)[None]
        for k in range(0, n, 1024):
            af = av.AudioFrame.from_ndarray(samples[:, k:k + 1024], format="s16", layout="mono")
            af.sample_rate, af.pts = 22050, k
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def main() -> None:
    for name, fname in PHOTOS.items():
        img = gray(name)
        img.save(HERE / fname, quality=90) if fname.endswith(".jpg") else img.save(HERE / fname)
    frames = pan(gray("coffee"), 50, (1.0, 1.3)) + pan(gray("chelsea"), 50, (1.1, 1.4))
    write_clip(HERE / "coffee_and_cat_bw.mp4", frames)


if __name__ == "__main__":
    main()
