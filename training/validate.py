"""The colour-specific pieces the trainer is handed: the step function, the rebalancing prior,
validation on ground-truth folders, and the choice of decoding settings on held-out photos."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from training.data import find_images
from training.losses import ColorLoss, empirical_prior, rebalance_weights
from vidcolor.color import L_SCALE, merge_l_ab, resize_ab, rgb_to_l, rgb_to_lab, to_uint8
from vidcolor.colorizer import Colorizer
from vidcolor.evaluate import gray_baseline
from vidcolor.metrics import ab_error_auc, colourfulness, psnr
from skimage.color import rgb2lab

TEMPERATURES = (0.2, 0.3, 0.38, 0.5, 0.7, 1.0)
BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)


def load_images(paths: list[Path], max_side: int | None = None) -> list[tuple[str, np.ndarray]]:
    files = [f for p in paths for f in (find_images(p) if p.is_dir() else [p])]
    out = []
    for f in files:
        with Image.open(f) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            if max_side:
                im.thumbnail((max_side, max_side), Image.BICUBIC)
            out.append((str(f), np.asarray(im).copy()))
    return out


def make_step_fn(class_weights, model, device: torch.device, reg_weight: float):
    head = model.head
    loss_fn = ColorLoss(getattr(head, "bins", None), class_weights, reg_weight=reg_weight).to(device)
    stride = model.stride

    def step(model, batch):
        lab = rgb_to_lab(batch.rgb.to(device, non_blocking=True))
        l_norm = lab[:, :1] / L_SCALE
        ab = lab[:, 1:]
        if stride > 1:
            ab = F.avg_pool2d(ab, stride)  # the target at the head's resolution
        if batch.hint_map is None:
            return loss_fn(model(l_norm), ab)
        return loss_fn(model(l_norm, batch.hint_map.to(device, non_blocking=True), batch.palette.to(device, non_blocking=True)), ab)

    return step


def prior_weights(model, data, run: Path, lam: float, batches: int = 100, batch_size: int = 32) -> torch.Tensor:
    """Rebalancing weights from the empirical ab prior of the training crops (cached in the run)."""
    bins = model.head.bins
    cache = run / "prior.pt"
    if cache.exists():
        prior = torch.load(cache, weights_only=True)
    else:
        prior = empirical_prior((F.avg_pool2d(rgb_to_lab(data.batch(12345, s, batch_size).rgb)[:, 1:], 4) for s in range(batches)), bins)
        torch.save(prior, cache)
    return rebalance_weights(prior, bins, lam=lam)


def make_validate(images: list[tuple[str, np.ndarray]], device: torch.device, work_size: int):
    gray = [gray_baseline(gt) for _, gt in images]
    gray_psnr = float(np.mean([psnr(g, gt) for g, (_, gt) in zip(gray, images)]))
    gt_colour = float(np.mean([colourfulness(gt) for _, gt in images]))
    gt_labs = [rgb2lab(gt) for _, gt in images]

    @torch.inference_mode()
    def validate(model) -> dict[str, float]:
        col = Colorizer(model, device=device, work_size=work_size)
        settings = {"": None}
        if model.head.kind == "both":
            settings = {"_reg": 0.0, "_mix": 0.5, "_cls": 1.0}
        out = {}
        for suffix, blend in settings.items():
            scores = []
            for (name, gt), gt_lab in zip(images, gt_labs):
                rgb = torch.from_numpy(gt)[None]
                l_full = rgb_to_l(rgb.permute(0, 3, 1, 2).float().to(device) / 255)
                ab = col.model.head.decode(col.model(col.network_input(l_full)), blend=blend) if blend is not None else None
                res = _finish(col, l_full, ab) if ab is not None else col.colorize_rgb(rgb)[0].cpu().numpy()
                scores.append((psnr(res, gt), ab_error_auc(rgb2lab(res), gt_lab), colourfulness(res)))
            s = np.mean(scores, axis=0)
            out.update({f"psnr{suffix}": s[0], f"auc{suffix}": s[1], f"colour{suffix}": s[2]})
        out.update({"psnr_gray": gray_psnr, "colour_gt": gt_colour})
        return {k: float(v) for k, v in out.items()}

    return validate


def _finish(col: Colorizer, l_full: torch.Tensor, ab_norm_padded: torch.Tensor) -> np.ndarray:
    ab_small = col.crop_prediction(ab_norm_padded, l_full.shape[-2:])
    rgb = merge_l_ab(l_full, resize_ab(ab_small, tuple(l_full.shape[-2:])))
    return to_uint8(rgb)[0].permute(1, 2, 0).cpu().numpy()


@torch.inference_mode()
def tune_decode(model, images, device, work_sizes: tuple[int, ...] = (256,), min_colour_ratio: float = 0.7, log=print) -> dict:
    """Grid-search the working resolution, the temperature and (for `both`) the head blend on held-out
    photos: the highest PSNR whose colourfulness is at least min_colour_ratio of the ground truth's."""
    blends = BLENDS if model.head.kind == "both" else ((1.0,) if model.head.kind == "cls" else (0.0,))
    temps = TEMPERATURES if model.head.kind != "reg" else (1.0,)
    gray_psnr = float(np.mean([psnr(gray_baseline(gt), gt) for _, gt in images]))
    gt_colour = float(np.mean([colourfulness(gt) for _, gt in images]))
    results = []
    for ws in work_sizes:
        col = Colorizer(model, device=device, work_size=ws)
        raw = []
        for _, gt in images:
            l_full = rgb_to_l(torch.from_numpy(gt)[None].permute(0, 3, 1, 2).float().to(device) / 255)
            raw.append((l_full, col.model(col.network_input(l_full)), gt))
        for t, b in itertools.product(temps, blends):
            scores = [(psnr(r, gt), colourfulness(r)) for l_full, out, gt in raw
                      for r in [_finish(col, l_full, model.head.decode(out, temperature=t, blend=b))]]
            p, c = np.mean(scores, axis=0)
            results.append({"work_size": ws, "temperature": t, "blend": b, "psnr": float(p), "colour_ratio": float(c / gt_colour)})
            log(f"work size {ws} T={t:.2f} blend={b:.2f}: PSNR {p:.2f} dB (gray {gray_psnr:.2f}), "
                f"colourfulness {c / gt_colour:.0%} of GT")
    ok = [r for r in results if r["colour_ratio"] >= min_colour_ratio and r["psnr"] > gray_psnr]
    best = max(ok, key=lambda r: r["psnr"]) if ok else max(results, key=lambda r: r["psnr"] - gray_psnr + r["colour_ratio"])
    return {**best, "gray_psnr": gray_psnr, "images": len(images), "grid": results}
