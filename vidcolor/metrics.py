"""Image and video quality metrics for colorization.

Image metrics take uint8 RGB arrays (H, W, 3) of the same size: the output and the ground truth.
"""
from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

AUC_MAX_THRESHOLD = 150  # Zhang et al.: ab error thresholds 0..150, area normalised to 1


def psnr(out: np.ndarray, gt: np.ndarray) -> float:
    """PSNR in dB over all RGB channels at 8 bits."""
    mse = np.mean((out.astype(np.float64) - gt.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(out: np.ndarray, gt: np.ndarray) -> float:
    """Mean SSIM over the RGB channels (scikit-image, 7x7 window)."""
    return float(structural_similarity(out, gt, channel_axis=2, data_range=255))


def ab_error_auc(out_lab: np.ndarray, gt_lab: np.ndarray, max_threshold: int = AUC_MAX_THRESHOLD) -> float:
    """Area under the curve of the fraction of pixels whose ab L2 error is within t, for t = 0, 1, ..., 150,
    normalised to 1: the mean of the 151 fractions (this matches the reference figures in shared/data)."""
    err = np.sqrt(((out_lab[..., 1:] - gt_lab[..., 1:]) ** 2).sum(-1)).ravel()
    thresholds = np.arange(0, max_threshold + 1)
    counts = np.searchsorted(np.sort(err), thresholds, side="right") / err.size
    return float(counts.mean())


def ciede2000(out_lab: np.ndarray, gt_lab: np.ndarray) -> float:
    return float(np.mean(deltaE_ciede2000(gt_lab, out_lab)))


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003): sigma_rgyb + 0.3 * mu_rgyb on the 0..255 scale."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    sigma = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    mu = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(sigma + 0.3 * mu)


def image_metrics(out: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Every image metric of one output against its ground truth."""
    if out.shape != gt.shape:
        raise ValueError(f"shape mismatch: output {out.shape} vs ground truth {gt.shape}")
    out_lab, gt_lab = rgb2lab(out), rgb2lab(gt)
    return {
        "psnr": psnr(out, gt),
        "ssim": ssim(out, gt),
        "auc": ab_error_auc(out_lab, gt_lab),
        "ciede2000": ciede2000(out_lab, gt_lab),
        "colourfulness": colourfulness(out),
        "gt_colourfulness": colourfulness(gt),
    }
