"""Compare checkpoints along the colour trade-off, not at one decoding: each snapshot's raw outputs on
a folder of photos with ground truth, decoded over a grid (temperature, head blend, certainty ramp,
colour strength) through the shipped rendering path, and for each colourfulness floor the best PSNR
and its wrong-vivid share. Two networks at their own default decodings can differ only by where they
sit on the same curve; this shows whether training moved the curve. Analysis only: a decoding chosen
on val would be tuned on the test set (`python -m training tune` chooses on the run's held-out photos).

    python benchmarks/tradeoff.py out.json weights/effnet_unet.pt runs/x/snapshots/step0000500.pt [--val DIR]

A checkpoint given as A.pt+B.pt is the two networks' ensemble: their regression outputs and class
probabilities averaged before the decoding (equal weights; the first one's bins and renderer). It
asks whether distilling two networks into one could move the curve, at twice the inference cost.
"""
import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import torch
from skimage.color import rgb2lab

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ from the checkout
from _paths import refuse_foreign_output, refuse_missing  # noqa: E402
from training.validate import RawOutputs, load_images, score, shipped_colorizer  # noqa: E402
from vidcolor.evaluate import gray_baseline  # noqa: E402
from vidcolor.metrics import colourfulness, psnr  # noqa: E402
from vidcolor.models import load_checkpoint  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("out", type=Path)
ap.add_argument("checkpoints", nargs="+")
ap.add_argument("--val", type=Path, default=Path("../shared/data/val"))
ap.add_argument("--work-size", type=int, default=192)
a = ap.parse_args()
if not 32 <= a.work_size <= 4096:  # 0 scored every decoding on a 1x1 prediction, exit 0 (a researcher's find)
    sys.exit(f"--work-size {a.work_size}: must be from 32 to 4096 (a run's --size range)")
for w in (w for c in a.checkpoints for w in c.split("+")):  # before the photos load
    refuse_missing(folders=[a.val], weights=w)
refuse_foreign_output(a.out, [w for c in a.checkpoints for w in c.split("+")])
torch.set_num_threads(1)
imgs = load_images([a.val])
if not imgs:  # a ZeroDivisionError traceback (a researcher's find)
    sys.exit(f"--val {a.val}: no readable colour photos to score against")
gt_labs = [rgb2lab(gt) for _, gt in imgs]
gt_colour = sum(colourfulness(gt) for _, gt in imgs) / len(imgs)
gray = sum(psnr(gray_baseline(gt), gt) for _, gt in imgs) / len(imgs)


def mean_outputs(outs: list[dict]) -> dict:
    """An ensemble's raw outputs: mean regression, and mean class probabilities as log-probabilities (decode takes logits)."""
    prob = sum(torch.softmax(o["logits"].float(), 1) for o in outs) / len(outs)
    return {"ab": sum(o["ab"].float() for o in outs) / len(outs), "logits": prob.clamp_min(1e-12).log()}


out = {}
for p in a.checkpoints:
    t = time.time()
    raws = [RawOutputs(shipped_colorizer(load_checkpoint(w), torch.device("cpu"), a.work_size), imgs) for w in p.split("+")]
    raw = raws[0]
    if len(raws) > 1:
        if any(not torch.equal(r.col.model.head.bins, raw.col.model.head.bins) for r in raws):
            sys.exit(f"{p}: the networks' colour bins differ; their classes cannot be averaged")
        per_photo = zip(*[[o for _, _, o in r.items] for r in raws])
        raw.items = [(gt, l_full, mean_outputs(outs)) for (gt, l_full, _), outs in zip(raw.items, per_photo)]
    col = raw.col
    res = []
    for T, blend, conf, s in itertools.product((0.2, 0.38, 0.7), (0.25, 0.5, 0.75, 1.0), (None, (0.3, 0.6)), (1.0, 1.25)):
        with torch.inference_mode():
            decoded = [col.model.head.decode(r, temperature=T, blend=blend, confidence=conf) for _, _, r in raw.items]
            outs = [col.merge_image(gt, l_full, s * col.crop_prediction(d, tuple(gt.shape[:2])))
                    for (gt, l_full, _), d in zip(raw.items, decoded)]
        sc = score(outs, imgs, gt_labs)
        res.append({"T": T, "blend": blend, "conf": conf, "s": s, **sc})
    out[p] = res
    a.out.write_text(json.dumps(out, indent=1))
    print(f"{p} ({time.time() - t:.0f} s); gray {gray:.2f} dB, ground truth colourfulness {gt_colour:.1f}")
    for floor in (0.45, 0.58, 0.70):
        ok = [r for r in res if r["colour"] >= floor * gt_colour]
        if ok:
            b = max(ok, key=lambda r: r["psnr"])
            print(f"  colourfulness >= {floor:.0%} of GT: best PSNR {b['psnr']:.2f} dB ({b['psnr'] - gray:+.2f}), wrong-vivid "
                  f"{b['wrong_vivid']:.2%} (T {b['T']}, blend {b['blend']}, certainty {b['conf']}, strength {b['s']})", flush=True)
        else:
            print(f"  colourfulness >= {floor:.0%} of GT: no decoding reaches it", flush=True)
