"""The floors of the warp error. Scores the ground truth of a colour clip, and the same frames with
CIELAB a/b multiplied by k, with the warp error of `vidcolor eval-video`. k = 0 is the gray clip:
its score is what the luminance alone costs (vidcolor keeps the source's L, so no output can go far
below it); k > 1 is more colourful with no added flicker at all, and shows what colour strength alone
costs, since misalignment at moving edges costs more where colour is stronger.

    python benchmarks/warp_floor.py ../shared/data/video/cockatoo.mp4 --boost 0,1,2.5
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from _paths import refuse_missing
from vidcolor.io.video import VideoSource
from vidcolor.metrics import WarpError, colourfulness
from vidcolor.temporal import SceneCuts


def boost(rgb: np.ndarray, k: float) -> np.ndarray:
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    lab[..., 1:] *= k
    return (np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0, 1) * 255 + 0.5).astype(np.uint8)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip")
    p.add_argument("--boost", default="0,1,2.5")
    a = p.parse_args()
    refuse_missing([a.clip])
    ks = [float(k) for k in a.boost.split(",")]
    warp, colour = WarpError(), {k: [] for k in ks}
    with VideoSource(a.clip) as src:
        cuts = SceneCuts(src.info.fps)
        for f in src.frames():
            gray = cv2.cvtColor(f.rgb, cv2.COLOR_RGB2GRAY)
            cut = cuts.is_cut(gray, f.index)
            outs = {k: f.rgb if k == 1 else boost(f.rgb, k) for k in ks}
            for k in ks:
                colour[k].append(colourfulness(outs[k]))
            warp.update(f.rgb, {str(k): v for k, v in outs.items()}, scene_cut=cut)
    res = warp.result()
    for k in ks:
        print(f"ground truth, a/b x{k:g}: warp error x1e3 {res[str(k)] * 1e3:.3f}, colourfulness {np.mean(colour[k]):.1f}")


if __name__ == "__main__":
    main()
