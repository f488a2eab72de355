"""Image and video quality metrics for colorization.

Image metrics take uint8 RGB arrays (H, W, 3) of the same size: the output and the ground truth.
"""
from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

from vidcolor.flow import MetricFlow, non_occluded, warp  # noqa: F401  (non_occluded: the metric's mask, tested here)

AUC_MAX_THRESHOLD = 150  # Zhang et al.: ab error thresholds 0..150, area normalised to 1
VIVID_CHROMA = 20.0  # a pixel painted a confident colour: output chroma above this
WRONG_AB = 30.0  # ... and wrong: its ab farther than this from the truth
SSIM_WINDOW = 7  # scikit-image's window: a photo needs at least this many pixels a side to be scored


def psnr(out: np.ndarray, gt: np.ndarray) -> float:
    """PSNR in dB over all RGB channels at 8 bits."""
    mse = np.mean((out.astype(np.float64) - gt.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(out: np.ndarray, gt: np.ndarray) -> float:
    """Mean SSIM over the RGB channels (scikit-image, 7x7 window)."""
    return float(structural_similarity(out, gt, win_size=SSIM_WINDOW, channel_axis=2, data_range=255))


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


def wrong_vivid_share(out_lab: np.ndarray, gt_lab: np.ndarray) -> float:
    """Share of pixels painted a confident colour (chroma > 20) more than 30 ab units from the truth:
    the large wrong-colour blobs that a PSNR average hides."""
    chroma = np.hypot(out_lab[..., 1], out_lab[..., 2])
    err = np.hypot(out_lab[..., 1] - gt_lab[..., 1], out_lab[..., 2] - gt_lab[..., 2])
    return float(np.mean((chroma > VIVID_CHROMA) & (err > WRONG_AB)))


def mean_ab(lab: np.ndarray) -> tuple[float, float]:
    """Mean a* and b* of an image: a colour cast shows as a mean away from (0, 0) in its direction."""
    return float(lab[..., 1].mean()), float(lab[..., 2].mean())


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
        "wrong_vivid": wrong_vivid_share(out_lab, gt_lab),
        "colourfulness": colourfulness(out),
        "gt_colourfulness": colourfulness(gt),
        "mean_a": mean_ab(out_lab)[0],
        "mean_b": mean_ab(out_lab)[1],
    }


# -- video ---------------------------------------------------------------------------------------

def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log) between two histograms."""
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)

    def kl(a, b):
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / b[nz])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def colour_histograms(rgb: np.ndarray) -> np.ndarray:
    """(3, 256) per-channel histograms of a uint8 RGB frame."""
    return np.stack([np.bincount(rgb[..., c].ravel(), minlength=256).astype(np.float64) for c in range(3)])


def warp_error_pair(out: np.ndarray, prev_out: np.ndarray, f_cp: np.ndarray, mask: np.ndarray) -> float:
    """Mean over the masked pixels of the squared RGB difference (summed over channels, [0, 1] units)
    between uint8 frame t and frame t-1 warped onto it."""
    prev_warped, _ = warp(prev_out.astype(np.float32) * (1 / 255), f_cp)
    diff = out.astype(np.float32) * (1 / 255) - prev_warped
    diff *= diff
    d = diff[..., 0] + diff[..., 1] + diff[..., 2]
    return float(d[mask].mean())


class WarpError:
    """Lai et al. (2018): mean squared difference between output frame t and output frame t-1 warped
    to t, over pixels that are not occluded (`non_occluded`). The flow (`MetricFlow`) is computed on the
    ground truth. RGB in [0, 1], summed over the three channels (3x Lai et al.'s per-channel mean)."""

    def __init__(self):
        self.flow = MetricFlow()
        self.prev_ref = None
        self.prev_out: dict[str, np.ndarray] = {}
        self.sums: dict[str, list[float]] = {}

    def update(self, ref_rgb: np.ndarray, outputs: dict[str, np.ndarray], scene_cut: bool = False) -> None:
        """Add frame t. With scene_cut, the pair (t-1, t) straddles a cut: there is no motion to follow
        across it, so it is not scored (Lai et al. score within shots)."""
        import cv2

        gray = cv2.cvtColor(ref_rgb, cv2.COLOR_RGB2GRAY)
        if self.prev_ref is not None and not scene_cut:
            f_cp, mask = self.flow(gray, self.prev_ref)
            if mask.any():
                for name, out in outputs.items():
                    self.sums.setdefault(name, []).append(warp_error_pair(out, self.prev_out[name], f_cp, mask))
        self.prev_ref = gray
        self.prev_out = dict(outputs)

    def result(self) -> dict[str, float]:
        return {k: float(np.mean(v)) for k, v in self.sums.items()}


class CDC:
    """Colour distribution consistency: JS divergence of per-channel colour histograms between frames
    t and t+1, t+2 and t+4, averaged over channels, frames and the three gaps."""

    GAPS = (1, 2, 4)

    def __init__(self):
        self.hists: dict[str, list[np.ndarray]] = {}
        self.values: dict[str, dict[int, list[float]]] = {}

    def update(self, outputs: dict[str, np.ndarray]) -> None:
        for name, out in outputs.items():
            h = colour_histograms(out)
            past = self.hists.setdefault(name, [])
            for g in self.GAPS:
                if len(past) >= g:
                    d = np.mean([js_divergence(past[-g][c], h[c]) for c in range(3)])
                    self.values.setdefault(name, {}).setdefault(g, []).append(float(d))
            past.append(h)
            del past[: -max(self.GAPS)]

    def result(self) -> dict[str, float]:
        return {k: float(np.mean([np.mean(v) for v in per_gap.values()])) for k, per_gap in self.values.items()}


def is_gray(rgb_u8: np.ndarray) -> bool:
    """No colour at all: its channels within 2 levels of each other everywhere (JPEG noise). `vidcolor
    eval` and `eval-video` leave such a ground truth out: gray scores an infinite PSNR against it."""
    a = rgb_u8.astype(np.int16)
    return int(np.abs(a[..., 0] - a[..., 1]).max()) <= 2 and int(np.abs(a[..., 1] - a[..., 2]).max()) <= 2
