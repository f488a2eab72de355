"""Can a learnt per-pixel gate between the two heads move the colour trade-off? Analysis only.

The shipped decoding weighs the classification estimate against the regression one by the
classification's certainty (1 - H/log Q, `certainty_weight`). This trains a small gate instead, on the
frozen network: the head's input features, both estimates and the certainty -> a weight in [0, 1].
Two targets are tried:
- `l2`: the blend (1 - w) reg + w cls closest to the truth's ab (the PSNR-best blend);
- `bce`: whether the classification estimate is within 30 ab units of the truth (the wrong-vivid test);
- `gain`: not a gate but a chroma gain in [0, GAIN_MAX] on the shipped decoding, the one closest to the truth's
  ab (`benchmarks/oracle_gain.py` gives this family's best case, with the truth as oracle).
Each gate is then decoded over a grid (temperature, colour strength, a ramp on w) through the shipped
rendering path, and scored on a folder with ground truth as `benchmarks/tradeoff.py` scores the
shipped decodings: the best PSNR at each colourfulness floor, with its wrong-vivid share.

    python benchmarks/learned_gate.py --weights weights/effnet_unet.pt --data /root/vidcolor-data/v2 \
        --holdout /root/vidcolor-runs/hints_ema/holdout.txt --photos 800 --json gate.json

The gate is trained on --holdout's photos (those the network's last run did not train on) and random
others from --data up to --photos, read with their long side at most 384 as the training set is.
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from skimage.color import rgb2lab

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ from the checkout
from training.data import find_images  # noqa: E402
from training.validate import load_images, score, shipped_colorizer  # noqa: E402
from vidcolor.color import AB_SCALE, rgb_to_lab  # noqa: E402
from vidcolor.colorizer import working_size  # noqa: E402
from vidcolor.evaluate import gray_baseline  # noqa: E402
from vidcolor.metrics import WRONG_AB, colourfulness, psnr  # noqa: E402
from vidcolor.models import load_checkpoint  # noqa: E402
from vidcolor.models.bins import annealed_mean  # noqa: E402
from vidcolor.models.heads import certainty_weight  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--weights", default="weights/effnet_unet.pt")
ap.add_argument("--data", type=Path, required=True, help="training photos to draw the gate's photos from")
ap.add_argument("--holdout", type=Path, help="a run's holdout.txt: these photos first")
ap.add_argument("--photos", type=int, default=800)
ap.add_argument("--val", type=Path, default=Path("../shared/data/val"))
ap.add_argument("--work-size", type=int, default=192)
ap.add_argument("--epochs", type=int, default=6)
ap.add_argument("--kinds", default="l2,bce", help="comma-separated: l2, bce, gain")
ap.add_argument("--json", type=Path)
a = ap.parse_args()
kinds = a.kinds.split(",")
if set(kinds) - {"l2", "bce", "gain"}:
    raise SystemExit(f"--kinds: unknown {sorted(set(kinds) - {'l2', 'bce', 'gain'})}")
GAIN_MAX = 2.0
torch.set_num_threads(1)
torch.manual_seed(0)
random.seed(1)

col = shipped_colorizer(load_checkpoint(a.weights), torch.device("cpu"), a.work_size)
head = col.model.head
stride = col.model.stride
captured = {}
head.register_forward_hook(lambda mod, inp, out: captured.__setitem__("feat", inp[0].detach().float().contiguous()))


def network(gt: np.ndarray):
    l_full = col.full_l(gt)
    with torch.inference_mode():
        raw = col.model(col.network_input(l_full))
    reg, cls = raw["ab"].float(), annealed_mean(raw["logits"], head.bins, 0.2) / AB_SCALE
    x = torch.cat([captured["feat"], reg, cls, certainty_weight(raw["logits"], 0.0, 1.0), head.decode(raw).float()], 1)
    return l_full, raw, x, reg


def target(gt: np.ndarray, grid_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The truth's ab / AB_SCALE on the head's grid, and a mask of the cells inside the picture (not padding)."""
    rh, rw = working_size(*gt.shape[:2], a.work_size)
    lab = rgb_to_lab(torch.from_numpy(gt).permute(2, 0, 1)[None].float() / 255)
    ab = F.interpolate(lab[:, 1:], size=(rh, rw), mode="bilinear", antialias=True, align_corners=False)
    ab = F.avg_pool2d(F.pad(ab, [0, grid_hw[1] * stride - rw, 0, grid_hw[0] * stride - rh]), stride) / AB_SCALE
    inside = torch.zeros(1, 1, *grid_hw)
    inside[..., : rh // stride, : rw // stride] = 1
    return ab, inside


held = [Path(p) for p in a.holdout.read_text().split()] if a.holdout else []
rest = sorted(set(find_images(a.data)) - set(held))
files = (held + random.sample(rest, max(0, a.photos - len(held))))[: a.photos]
t0 = time.time()
samples = []
for _, gt in load_images(files, max_side=384):
    _, raw, x, reg = network(gt)
    ab, inside = target(gt, tuple(reg.shape[-2:]))
    samples.append((x.half(), ab.half(), inside))
print(f"{len(samples)} photos through the network in {time.time() - t0:.0f} s", flush=True)


def train_gate(kind: str) -> nn.Module:
    torch.manual_seed(0)
    gate = nn.Sequential(nn.Conv2d(samples[0][0].shape[1], 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1),
                         nn.ReLU(), nn.Conv2d(32, 1, 1), nn.Sigmoid())
    opt = torch.optim.Adam(gate.parameters(), 2e-3)
    order = list(range(len(samples)))
    for epoch in range(a.epochs):
        random.shuffle(order)
        total = 0.0
        for i in order:
            x, gt, inside = (t.float() for t in samples[i])
            reg, cls, shipped = x[:, -7:-5], x[:, -5:-3], x[:, -2:]
            w = gate(x)
            if kind == "gain":
                per_cell = ((GAIN_MAX * w * shipped - gt) ** 2).sum(1, keepdim=True)
            elif kind == "l2":
                per_cell = (((1 - w) * reg + w * cls - gt) ** 2).sum(1, keepdim=True)
            else:
                right = ((cls - gt) * AB_SCALE).norm(dim=1, keepdim=True) < WRONG_AB
                per_cell = F.binary_cross_entropy(w.clamp(1e-5, 1 - 1e-5), right.float(), reduction="none")
            loss = (per_cell * inside).sum() / inside.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        print(f"gate {kind}: epoch {epoch} loss {total / len(order):.5f}", flush=True)
    return gate.eval()


gates = {kind: train_gate(kind) for kind in kinds}
imgs = load_images([a.val])
gt_labs = [rgb2lab(gt) for _, gt in imgs]
gt_colour = float(np.mean([colourfulness(gt) for _, gt in imgs]))
gray = float(np.mean([psnr(gray_baseline(gt), gt) for _, gt in imgs]))
items = [(gt, *network(gt)) for _, gt in imgs]
res = []
for kind, gate in gates.items():
    for t, s, ramp in itertools.product((0.2, 0.38), (0.8, 1.0, 1.2, 1.4, 1.6), ((0.0, 1.0), (0.2, 0.8), (0.4, 0.9))):
        outs = []
        with torch.inference_mode():
            for gt, l_full, raw, x, reg in items:
                if kind == "gain":  # the temperature and ramp of the shipped decoding it was trained on
                    if (t, ramp) != (0.2, (0.0, 1.0)):
                        break
                    ab = GAIN_MAX * gate(x) * x[:, -2:]
                else:
                    w = ((gate(x) - ramp[0]) / (ramp[1] - ramp[0])).clamp(0, 1)
                    ab = (1 - w) * reg + w * annealed_mean(raw["logits"], head.bins, t) / AB_SCALE
                outs.append(col.merge_image(gt, l_full, s * col.crop_prediction(ab, tuple(gt.shape[:2]))))
        if len(outs) < len(items):
            continue
        res.append({"gate": kind, "T": t, "s": s, "ramp": ramp, **score(outs, imgs, gt_labs)})
if a.json:
    a.json.write_text(json.dumps({"gray": gray, "gt_colour": gt_colour, "grid": res}, indent=1))
print(f"{a.val}: gray {gray:.2f} dB, ground truth colourfulness {gt_colour:.1f}")
for kind in gates:
    for floor in (0.45, 0.58, 0.70):
        ok = [r for r in res if r["gate"] == kind and r["colour"] >= floor * gt_colour]
        if not ok:
            print(f"  gate {kind}, colourfulness >= {floor:.0%} of GT: no decoding reaches it")
            continue
        b = max(ok, key=lambda r: r["psnr"])
        print(f"  gate {kind}, colourfulness >= {floor:.0%} of GT: best PSNR {b['psnr']:.2f} dB ({b['psnr'] - gray:+.2f}), "
              f"wrong-vivid {b['wrong_vivid']:.2%} (T {b['T']}, strength {b['s']}, ramp {b['ramp']})")
