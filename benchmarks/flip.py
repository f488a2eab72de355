"""Horizontal-flip averaging for photos: its gain and its cost (issue 11).

    python benchmarks/flip.py ../shared/data/val [--weights W.pt] [--json flip.json]

Scores the same photos twice through `vidcolor eval`'s own path (evaluate_folder), once as shipped and
once with `Colorizer.flip` (each photo's mirror image is predicted too, mirrored back and averaged
in), and prints PSNR, CIEDE2000, wrong-vivid share and colourfulness of each, with the colorizing
time per photo (network, render and merge; not reading or scoring).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _paths import refuse_missing
from vidcolor.evaluate import evaluate_folder
from vidcolor.weights import load_colorizer

KEYS = ("psnr", "ciede2000", "wrong_vivid", "colourfulness", "gt_colourfulness")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    refuse_missing(folders=[a.root], weights=a.weights)
    col = load_colorizer(weights=a.weights, device=a.device)
    res = {}
    with tempfile.TemporaryDirectory(prefix="vidcolor-flip-") as tmp:
        for flip in (False, True):
            col.flip = flip
            rep = evaluate_folder(col, a.root, Path(tmp) / str(flip), semantic=False)
            secs = sorted(r["seconds"] for r in rep["images"])
            res["flip" if flip else "plain"] = {**{k: rep["overall"]["ours"][k] for k in KEYS},
                                                "gray_psnr": rep["overall"]["gray"]["psnr"],
                                                "median_seconds": secs[len(secs) // 2], "images": len(secs)}
    print(f"{'':6} {'PSNR':>7} {'over gray':>9} {'CIEDE':>6} {'wrong-vivid':>11} {'colourf.':>9} {'s/photo':>8}")
    for name, r in res.items():
        print(f"{name:6} {r['psnr']:7.2f} {r['psnr'] - r['gray_psnr']:+9.2f} {r['ciede2000']:6.2f} {100 * r['wrong_vivid']:10.2f}% "
              f"{100 * r['colourfulness'] / r['gt_colourfulness']:8.0f}% {r['median_seconds']:8.3f}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
