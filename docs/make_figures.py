"""The README's figures, made from examples/ with the shipped weights.

    python docs/make_figures.py strength      # docs/strength.jpg: colour strength 0.5, 1.0 (default), 1.5
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vidcolor.io.images import read_rgb8
from vidcolor.weights import load_colorizer

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"


def strip(tiles: list[tuple[str, np.ndarray]], height: int = 220) -> Image.Image:
    """Tiles side by side at one height, each captioned."""
    ims = []
    for caption, rgb in tiles:
        im = Image.fromarray(rgb)
        im = im.resize((round(im.width * height / im.height), height), Image.LANCZOS)
        ImageDraw.Draw(im).text((6, 4), caption, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
        ims.append(im)
    out = Image.new("RGB", (sum(i.width for i in ims) + 4 * (len(ims) - 1), height), (255, 255, 255))
    x = 0
    for im in ims:
        out.paste(im, (x, 0))
        x += im.width + 4
    return out


def strength(weights: str | None) -> None:
    col = load_colorizer(weights=weights, device="cpu")
    gray = read_rgb8(EXAMPLES / "chelsea_bw.jpg")
    tiles = [("input", gray)] + [(f"--strength {s}", col.with_strength(s).colorize_array(gray)) for s in (0.5, 1.0, 1.5)]
    strip(tiles).save(HERE / "strength.jpg", quality=85)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("figure", choices=["strength"])
    ap.add_argument("--weights", default=None)
    a = ap.parse_args()
    {"strength": strength}[a.figure](a.weights)


if __name__ == "__main__":
    main()
