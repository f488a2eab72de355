"""`vidcolor eval`: colorize ground-truth photos from their L alone and score them against the truth,
with the gray baseline (ab = 0) on the same images side by side."""
from __future__ import annotations

import numpy as np
import torch

from vidcolor.color import merge_l_ab, rgb_to_l, to_uint8
from vidcolor.colorizer import Colorizer
from vidcolor.metrics import image_metrics

SUMMARY_KEYS = ("psnr", "ssim", "auc", "ciede2000", "colourfulness", "gt_colourfulness")


def gray_baseline(rgb_u8: np.ndarray) -> np.ndarray:
    """The image with its chroma removed: L kept, ab = 0."""
    rgb = torch.from_numpy(rgb_u8).permute(2, 0, 1)[None].float() / 255.0
    l_full = rgb_to_l(rgb)
    out = to_uint8(merge_l_ab(l_full, torch.zeros_like(l_full).expand(-1, 2, -1, -1)))
    return out[0].permute(1, 2, 0).numpy()


def colorize_array(colorizer: Colorizer, rgb_u8: np.ndarray) -> np.ndarray:
    return colorizer.colorize_rgb(torch.from_numpy(np.ascontiguousarray(rgb_u8))[None])[0].cpu().numpy()


def evaluate_arrays(colorizer: Colorizer, images: list[tuple[str, np.ndarray]]) -> dict:
    """Score ours and gray on (name, uint8 RGB ground truth) pairs; returns per-image rows and means."""
    rows = []
    for name, gt in images:
        ours = image_metrics(colorize_array(colorizer, gt), gt)
        gray = image_metrics(gray_baseline(gt), gt)
        rows.append({"image": name, "ours": ours, "gray": gray})
    return {"images": rows, "mean": summarize(rows)}


def summarize(rows: list[dict]) -> dict:
    return {
        which: {k: float(np.mean([r[which][k] for r in rows])) for k in SUMMARY_KEYS}
        for which in ("ours", "gray")
    }
