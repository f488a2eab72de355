"""The colour-specific pieces the trainer is handed: the step function, the rebalancing prior,
validation on ground-truth folders, and the choice of decoding settings on held-out photos."""
from __future__ import annotations

import copy
import itertools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from training.data import find_images
from training.losses import ColorLoss, empirical_prior, rebalance_weights
from vidcolor.color import L_SCALE, rgb_to_lab
from vidcolor.errors import InputError, first_line
from vidcolor.evaluate import gray_baseline
from vidcolor.io.images import read_rgb8
from vidcolor.metrics import ab_error_auc, colourfulness, is_gray, psnr, wrong_vivid_share
from vidcolor.weights import make_colorizer
from skimage.color import rgb2lab

TEMPERATURES = (0.2, 0.3, 0.38, 0.5, 0.7, 1.0)
BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)
CONFIDENCES = (None, (0.3, 0.6), (0.2, 0.5))  # certainty ramps (lo, hi) for the classification head


def load_images(paths: list[Path], max_side: int | None = None) -> list[tuple[str, np.ndarray]]:
    """The ground-truth photos as `vidcolor eval` reads and keeps them: through read_rgb8 (16-bit rounded, not
    clipped, gray and CMYK as eval sees them), with a black-and-white photo left out, named. PIL's own convert
    had read a 16-bit gray PNG as white, and a gray photo scored the gray baseline an infinite PSNR: validation
    said psnr_gray=inf, and other figures than eval gave for the same folder (a researcher's find)."""
    files = [f for p in paths for f in (find_images(p) if p.is_dir() else [p])]
    out = []
    for f in files:
        try:
            gt = read_rgb8(f)
        except InputError as e:  # left out, named: it stopped the run with a traceback
            print(f"{first_line(e, 200)}: unreadable, left out of validation")
            continue
        if is_gray(gt):
            print(f"{f}: the ground truth is black and white, left out of validation (no colours to score against)")
            continue
        if max_side and max(gt.shape[:2]) > max_side:
            im = Image.fromarray(gt)
            im.thumbnail((max_side, max_side), Image.BICUBIC)
            gt = np.asarray(im).copy()
        out.append((str(f), gt))
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


def shipped_colorizer(model, device, work_size: int):
    """The model as inference runs it (BN folded, guided upsampling), on a copy: training goes on. `work_size` is
    given as the checkpoint's meta gives it (a run's --size, 32 or more), not as load_colorizer's argument, which
    takes 64 or more since 620e97e: a run at --size 48 stopped at its first validation (a reviewer's find)."""
    net = copy.deepcopy(model).eval()
    net.checkpoint_meta = {**(getattr(net, "checkpoint_meta", None) or {}), "work_size": work_size}
    return make_colorizer(net, device, None, "guided")


class RawOutputs:
    """The network's raw head outputs on each photo, computed once, then decoded with any settings
    and rendered through the shipped path (crop, colour strength, guided upsampling, merge with the
    photo's own full-resolution L): what is scored is exactly what a user gets."""

    def __init__(self, col, images: list[tuple[str, np.ndarray]]):
        self.col, self.items = col, []
        with torch.inference_mode():
            for _, gt in images:
                l_full = col.full_l(gt)
                self.items.append((gt, l_full, col.model(col.network_input(l_full.to(col.device)))))

    @torch.inference_mode()
    def render(self, **decode) -> list[np.ndarray]:
        col = self.col
        return [col.merge_image(gt, l_full, col.crop_prediction(col.model.head.decode(raw, **decode), tuple(gt.shape[:2])))
                for gt, l_full, raw in self.items]


def score(outputs: list[np.ndarray], images: list[tuple[str, np.ndarray]], gt_labs: list[np.ndarray]) -> dict[str, float]:
    rows = []
    for res, (_, gt), gt_lab in zip(outputs, images, gt_labs):
        lab = rgb2lab(res)
        rows.append((psnr(res, gt), ab_error_auc(lab, gt_lab), colourfulness(res), wrong_vivid_share(lab, gt_lab)))
    p, a, c, v = np.mean(rows, axis=0)
    return {"psnr": float(p), "auc": float(a), "colour": float(c), "wrong_vivid": float(v)}


def make_validate(images: list[tuple[str, np.ndarray]], device: torch.device, work_size: int):
    gray_psnr = float(np.mean([psnr(gray_baseline(gt), gt) for _, gt in images]))
    gt_colour = float(np.mean([colourfulness(gt) for _, gt in images]))
    gt_labs = [rgb2lab(gt) for _, gt in images]

    def validate(model) -> dict[str, float]:
        raw = RawOutputs(shipped_colorizer(model, device, work_size), images)
        settings = {"": {}}
        if model.head.kind == "both":  # the shipped decoding, and each head alone
            settings = {"": {}, "_reg": {"blend": 0.0}, "_cls": {"blend": 1.0, "confidence": None}}
        out = {}
        for suffix, decode in settings.items():
            out.update({f"{k}{suffix}": v for k, v in score(raw.render(**decode), images, gt_labs).items()})
        return {**out, "psnr_gray": gray_psnr, "colour_gt": gt_colour}

    return validate


def tune_decode(model, images, device, work_sizes: tuple[int, ...] = (256,), min_colour_ratio: float = 0.7, log=print) -> dict:
    """Grid-search the working resolution, the temperature, the head blend (for `both`) and the
    certainty ramp on held-out photos, through the shipped rendering path: the highest PSNR whose
    colourfulness is at least min_colour_ratio of the ground truth's."""
    blends = BLENDS if model.head.kind == "both" else ((1.0,) if model.head.kind == "cls" else (0.0,))
    temps = TEMPERATURES if model.head.kind != "reg" else (1.0,)
    confs = CONFIDENCES if model.head.kind != "reg" else (None,)
    gray_psnr = float(np.mean([psnr(gray_baseline(gt), gt) for _, gt in images]))
    gt_colour = float(np.mean([colourfulness(gt) for _, gt in images]))
    gt_labs = [rgb2lab(gt) for _, gt in images]
    results = []
    for ws in work_sizes:
        raw = RawOutputs(shipped_colorizer(model, device, ws), images)
        for t, b, c in itertools.product(temps, blends, confs):
            if b == 0.0 and (t != temps[0] or c is not None):
                continue  # regression alone: temperature and certainty do not apply
            m = score(raw.render(temperature=t, blend=b, confidence=c), images, gt_labs)
            results.append({"work_size": ws, "temperature": t, "blend": b, "confidence": c, "psnr": m["psnr"],
                            "colour_ratio": m["colour"] / gt_colour, "wrong_vivid": m["wrong_vivid"]})
            log(f"work size {ws} T={t:.2f} blend={b:.2f} certainty={c}: PSNR {m['psnr']:.2f} dB (gray {gray_psnr:.2f}), "
                f"colourfulness {m['colour'] / gt_colour:.0%} of GT, wrong-vivid {m['wrong_vivid']:.2%}")
    ok = [r for r in results if r["colour_ratio"] >= min_colour_ratio and r["psnr"] > gray_psnr]
    best = max(ok, key=lambda r: r["psnr"]) if ok else max(results, key=lambda r: r["psnr"] - gray_psnr + r["colour_ratio"])
    if not ok:  # said, not silent: the floor asked for was not met by any decoding
        log(f"note: no decoding reaches {min_colour_ratio:.0%} of the ground truth's colourfulness above gray's PSNR; "
            f"chose the best PSNR gain plus colour ratio instead ({best['colour_ratio']:.0%} of GT, {best['psnr']:.2f} dB)")
    if len(images) < 20:
        log(f"note: tuned on {len(images)} held-out photo(s): too few to choose a decoding reliably (train with a larger --holdout)")
    return {**best, "floor_met": bool(ok), "gray_psnr": gray_psnr, "images": len(images), "grid": results}
