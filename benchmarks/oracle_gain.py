"""How far could any decoding of one network's predictions go? An upper bound, with the truth as oracle.

The shipped decoding (and every one `benchmarks/tradeoff.py` and `benchmarks/learned_gate.py` tried) keeps the
network's hue at each pixel and chooses how much of its chroma to paint: by temperature, head blend, the
certainty ramp, a learnt gate or the colour strength. This gives that family its best case. Each pixel's
chroma is scaled by the gain that brings it closest to the truth along the predicted hue (the truth's ab
projected on the predicted ab, clamped to [0, GMAX]), so no confidence estimate, learnt or not, can do better
with a per-pixel gain at most GMAX; `--blur` smooths the gain over about that many pixels of the working grid,
which is closer to what a region-level estimate could know; a colour strength on top then buys colourfulness
with accuracy. Analysis only: it reads the ground truth.

    python benchmarks/oracle_gain.py [--val ../shared/data/val] [--weights weights/effnet_unet.pt]
"""
import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from skimage.color import lab2rgb, rgb2lab

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ from the checkout
from _paths import refuse_missing  # noqa: E402
from training.validate import RawOutputs, load_images, score, shipped_colorizer  # noqa: E402
from vidcolor.evaluate import gray_baseline  # noqa: E402
from vidcolor.metrics import colourfulness, psnr  # noqa: E402
from vidcolor.models import load_checkpoint  # noqa: E402
from vidcolor.weights import shipped_weights  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--val", type=Path, default=Path("../shared/data/val"))
ap.add_argument("--weights", default=None, help="a checkpoint (default: the shipped weights)")
ap.add_argument("--work-size", type=int, default=192)
a = ap.parse_args()
weights = a.weights or str(shipped_weights("effnet_unet")[0])
refuse_missing(folders=[a.val], weights=weights)
imgs = load_images([a.val])
gt_labs = [rgb2lab(gt) for _, gt in imgs]
gt_colour = float(np.mean([colourfulness(gt) for _, gt in imgs]))
gray = float(np.mean([psnr(gray_baseline(gt), gt) for _, gt in imgs]))
model = load_checkpoint(weights)
raw = RawOutputs(shipped_colorizer(model, torch.device("cpu"), a.work_size), imgs)
shipped = raw.render()
print(f"{len(imgs)} photos; gray {gray:.2f} dB, ground truth colourfulness {gt_colour:.1f}")


def report(tag: str, outs: list[np.ndarray]) -> None:
    sc = score(outs, imgs, gt_labs)
    print(f"{tag:44s} PSNR {sc['psnr']:.2f} dB ({sc['psnr'] - gray:+.2f})  colourfulness {sc['colour'] / gt_colour:4.0%}"
          f" of GT  wrong-vivid {sc['wrong_vivid']:.2%}", flush=True)


def with_gain(res: np.ndarray, gt_lab: np.ndarray, gmax: float, blur: float, strength: float) -> np.ndarray:
    lab = rgb2lab(res)
    pred, truth = lab[..., 1:], gt_lab[..., 1:]
    n2 = (pred ** 2).sum(-1)
    gain = np.where(n2 > 4.0, (pred * truth).sum(-1) / np.maximum(n2, 1e-6), 1.0).clip(0.0, gmax)  # gray pixels kept
    if blur:
        gain = cv2.GaussianBlur(gain.astype(np.float32), (0, 0), blur * res.shape[1] / a.work_size)
    lab[..., 1:] = pred * (strength * gain[..., None])
    return (np.clip(lab2rgb(lab), 0.0, 1.0) * 255.0).round().astype(np.uint8)


report("shipped decoding", shipped)
for gmax in (1.0, 1.5, 2.0, 3.0):  # then a colour strength on top: colourfulness bought with accuracy
    for blur in (0.0, 8.0):
        for strength in (1.0, 1.25, 1.5):
            report(f"oracle gain <= {gmax}" + (f", blurred {blur:g} px" if blur else "") + f", strength {strength}",
                   [with_gain(res, gl, gmax, blur, strength) for res, gl in zip(shipped, gt_labs)])
