"""Colour hints against automatic colorization, as Zhang et al. 2017 measure it: N hints sampled from
the ground truth (random points around the centre, each the mean colour of a small patch), then PSNR
and CIEDE2000 of the output, and each hint's fidelity (CIEDE2000 between the hint's colour and the
output at its point, both at the output's lightness there: a hint sets a/b only).

    python benchmarks/hints.py ../shared/data/val --weights runs/x.pt --counts 0,1,2,5,10,20,50 --json hints.json --plot hints.png

`--tune` instead grids vidcolor.hint_spread's REACH and EDGE_COST on other photos (how the shipped
values were chosen: 60 photos drawn from ../shared/data/train, never the validation photos):

    python benchmarks/hints.py ../shared/data/train --tune 16,32,48,64,96,200:2,3,4,5,10 --sample 60
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

from _paths import refuse_missing
from vidcolor.evaluate import gray_baseline
from vidcolor.io.images import read_rgb8
from vidcolor.hints import sample_hints
from vidcolor.metrics import ciede2000, psnr
from vidcolor.folder import find_images
from vidcolor.weights import load_colorizer


def fidelity(out_lab: np.ndarray, hints) -> list[float]:
    """CIEDE2000 between each hint's a/b and the output's a/b at the hint's pixel, at the output's L."""
    h, w = out_lab.shape[:2]
    res = []
    for p in hints.points:
        y, x = int(round(min(max(p.y, 0), h - 1))), int(round(min(max(p.x, 0), w - 1)))
        got = out_lab[y, x]
        want = np.array([got[0], *p.ab])
        res.append(float(deltaE_ciede2000(want[None], got[None])[0]))
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="folder of ground-truth colour photos")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--counts", default="0,1,2,5,10,20,50")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-half", type=int, default=2, help="patch half-size 0..N pixels (Zhang et al.: 1-9 px patches)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--tune", default=None, help="REACHES:EDGES, e.g. 32,64:3,4 (PSNR gain with 10 and 50 hints)")
    ap.add_argument("--sample", type=int, default=60, help="with --tune: photos drawn at random from ROOT")
    a = ap.parse_args(argv)
    refuse_missing(folders=[a.root], weights=a.weights)
    col = load_colorizer(weights=a.weights, device="cpu")
    if a.tune:
        return tune(col, a.root, a.tune, a.sample, a.seed, a.max_half)
    counts = [int(c) for c in a.counts.split(",")]
    files = find_images(a.root)[: a.limit]
    rows = {n: {"psnr": [], "ciede2000": [], "fidelity": []} for n in counts}
    gray_psnr, t0 = [], time.time()
    for i, path in enumerate(files):
        gt = read_rgb8(path)
        gt_lab = rgb2lab(gt)
        gray = gray_baseline(gt)
        gray_psnr.append(psnr(gray, gt))
        for n in counts:
            hints = sample_hints(gt_lab[..., 1:], np.random.default_rng([a.seed, i, n]), n, max_half=a.max_half)
            out = col.colorize_array(gray, hints if n else None)
            out_lab = rgb2lab(out)
            rows[n]["psnr"].append(psnr(out, gt))
            rows[n]["ciede2000"].append(ciede2000(out_lab, gt_lab))
            rows[n]["fidelity"] += fidelity(out_lab, hints)
    table = {n: {"psnr": float(np.mean(r["psnr"])), "ciede2000": float(np.mean(r["ciede2000"])),
                 "fidelity_ciede2000": float(np.mean(r["fidelity"])) if r["fidelity"] else None} for n, r in rows.items()}
    base = table[counts[0]]["psnr"]
    print(f"{len(files)} photos from {a.root}, model {col.model_id}, gray {np.mean(gray_psnr):.2f} dB, {time.time() - t0:.0f} s")
    print("| hints | PSNR dB | vs automatic | CIEDE2000 | hint fidelity (CIEDE2000 at the point) |")
    print("| --- | --- | --- | --- | --- |")
    for n, r in table.items():
        fid = "-" if r["fidelity_ciede2000"] is None else f"{r['fidelity_ciede2000']:.2f}"
        print(f"| {n} | {r['psnr']:.2f} | {r['psnr'] - base:+.2f} | {r['ciede2000']:.2f} | {fid} |")
    if a.json:
        a.json.write_text(json.dumps({"root": str(a.root), "model": col.model_id, "photos": len(files),
                                      "gray_psnr": float(np.mean(gray_psnr)), "table": table}, indent=1))
    if a.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(counts, [table[n]["psnr"] for n in counts], "o-", label="vidcolor with hints")
        ax.axhline(np.mean(gray_psnr), color="gray", ls="--", label="gray")
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("hints sampled from the ground truth"), ax.set_ylabel("PSNR dB"), ax.grid(alpha=0.3), ax.legend()
        fig.tight_layout()
        fig.savefig(a.plot, dpi=100)


def tune(col, root: Path, grid: str, sample: int, seed: int, max_half: int) -> None:
    """PSNR gain over automatic with 10 and 50 hints for each (reach, edge) of the grid."""
    from vidcolor import hint_spread

    files = find_images(root)
    pick = [files[i] for i in np.random.default_rng(seed + 1).choice(len(files), min(sample, len(files)), replace=False)]
    photos = []
    for path in pick:
        gt = read_rgb8(path)
        gray = gray_baseline(gt)
        photos.append((gt, rgb2lab(gt), gray, psnr(col.colorize_array(gray), gt)))
    reaches, edges = ([float(v) for v in part.split(",")] for part in grid.split(":"))
    for reach in reaches:
        for edge in edges:
            hint_spread.spread_hints.__defaults__ = (reach, edge)
            gain = {10: [], 50: []}
            for i, (gt, gt_lab, gray, auto) in enumerate(photos):
                for n in gain:
                    hints = sample_hints(gt_lab[..., 1:], np.random.default_rng([seed + 7, i, n]), n, max_half=max_half)
                    gain[n].append(psnr(col.colorize_array(gray, hints), gt) - auto)
            print(f"reach {reach:6.1f}  edge {edge:5.2f}:  {np.mean(gain[10]):+.2f} dB with 10 hints, "
                  f"{np.mean(gain[50]):+.2f} dB with 50 ({len(photos)} photos)", flush=True)


if __name__ == "__main__":
    main()
