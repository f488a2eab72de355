"""Overall colour cast: the mean a*, b* of vidcolor's outputs on real black-and-white material, against
the mean a*, b* of the training photos. An output mean far warmer (a*, b* > 0) than the photos the
network learnt from is a red or warm drift, a defect rather than a style.

Photos already in colour (the autochromes among ../shared/data/bw) are left out, as a folder run copies
them unchanged; --force colours them too, as this benchmark did before.

    python benchmarks/colour_cast.py --weights W.pt --bw ../shared/data/bw --video ../shared/data/video/abomb_bw_1952.mp4 \
        --examples examples --train ../shared/data/train --json cast.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from skimage.color import rgb2lab

from _paths import refuse_missing
from vidcolor.io.images import read_rgb8
from vidcolor.io.video import VideoSource
from vidcolor.metrics import mean_ab
from vidcolor.tone import is_colour_image
from vidcolor.folder import find_images
from vidcolor.weights import load_colorizer


def _mean(pairs: list[tuple[float, float]]) -> list[float]:
    return [float(np.mean([p[0] for p in pairs])), float(np.mean([p[1] for p in pairs]))]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--bw", type=Path, action="append", default=[])
    ap.add_argument("--video", type=Path, action="append", default=[])
    ap.add_argument("--examples", type=Path, default=None)
    ap.add_argument("--train", type=Path, default=None, help="training photos: their mean a/b is the reference")
    ap.add_argument("--train-sample", type=int, default=600)
    ap.add_argument("--every", type=int, default=10, help="video: every Nth frame")
    ap.add_argument("--force", action="store_true", help="also colour photos already in colour (a folder run copies them)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    refuse_missing(a.video, [*a.bw, *filter(None, (a.examples, a.train))], a.weights)  # it printed 'mean a* +nan', exit 0
    col = load_colorizer(weights=a.weights, device="cpu")
    res: dict[str, dict] = {"model": col.model_id}
    sets = {str(d): find_images(d) for d in a.bw}
    if a.examples:
        sets[str(a.examples)] = find_images(a.examples)
    for name, files in sets.items():
        photos = [read_rgb8(f) for f in files]
        kept = [rgb for rgb in photos if a.force or not is_colour_image(rgb)]
        per = [mean_ab(rgb2lab(col.colorize_array(rgb))) for rgb in kept]
        res[name] = {"images": len(per), "left_out_in_colour": len(photos) - len(kept), "mean_ab": _mean(per)}
    for clip in a.video:
        per = []
        with VideoSource(clip) as src:
            for f in src.frames():
                if f.index % a.every == 0:
                    per.append(mean_ab(rgb2lab(col.colorize_array(f.rgb))))
        res[str(clip)] = {"frames": len(per), "mean_ab": _mean(per)}
    if a.train:
        files = find_images(a.train)
        pick = np.random.default_rng(0).choice(len(files), size=min(a.train_sample, len(files)), replace=False)
        res["training photos"] = {"images": len(pick), "mean_ab": _mean([mean_ab(rgb2lab(read_rgb8(files[i]))) for i in pick])}
    for name, r in res.items():
        if name != "model":
            skipped = f", {r['left_out_in_colour']} already in colour left out" if r.get("left_out_in_colour") else ""
            print(f"{name}: mean a* {r['mean_ab'][0]:+.2f}, b* {r['mean_ab'][1]:+.2f} ({r.get('images', r.get('frames'))}{skipped})")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
