"""A learnt alternative to vidcolor.tone's single score, measured and not adopted (kept for the
record; ToneNet, vidcolor/models/tone_net.py, took its place): 17 features of the same thumbnail (the tone-curve residual's percentiles and areas with 3x3
tiles and with one curve, chroma percentiles and shares, hue concentration overall and per lightness
band), a logistic model fitted on the sets of benchmarks/colour_detector.py drawn with the training
seeds, its threshold set just above every monochrome print there, then scored on the test seed's sets.

    python benchmarks/colour_detector_model.py [--data ../shared/data] [--train-seeds 1] [--test-seed 0]

Measured 2026-11-26 (train seed 1, test seed 0): 20 of 350 several-hue colour photos colorized (the
single score: 15), 3 of 400 photo-based toned prints skipped (the single score: 2), none of the 300
generated ones, and 1 of old_photos' 12 misjudged (the single score: none). Features take about 2.5
minutes a seed on one core.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vidcolor.tone as tone  # noqa: E402
from benchmarks.colour_detector import gray01, rgb8, kind_of_photo, sample_across_folders  # noqa: E402
from training.toned_corpus import colour_photo, corpus, toned_print  # noqa: E402
from vidcolor.folder import find_images  # noqa: E402
from vidcolor.io.images import read_image  # noqa: E402


def _concentration(ab: np.ndarray) -> float:
    """Chroma-weighted mean resultant length of the hue directions: 1 for one hue, near 0 for many."""
    ch = np.hypot(ab[:, 0], ab[:, 1]) + 1e-6
    return float(np.linalg.norm((ab / ch[:, None] * ch[:, None]).sum(0)) / ch.sum())


def features(rgb: np.ndarray) -> dict[str, float]:
    lab = tone.crop_border(tone.thumbnail_lab(rgb))
    lum, ab = lab[..., 0], lab[..., 1:]
    mid = (lum >= tone.L_RANGE[0]) & (lum <= tone.L_RANGE[1])
    out: dict[str, float] = {}
    for name, tiles in (("tiled", 3), ("one_curve", 1)):
        saved, tone.TILES = tone.TILES, tiles
        try:
            e = tone.tone_residual(lab)
        finally:
            tone.TILES = saved
        e[~mid] = 0
        o = cv2.morphologyEx(e, cv2.MORPH_OPEN, np.ones((tone.OPEN, tone.OPEN), np.uint8))
        out.update({f"{name}_p90": float(np.percentile(o, 90)), f"{name}_p75": float(np.percentile(o, 75)),
                    f"{name}_area3": float((o > 3).mean()), f"{name}_area6": float((o > 6).mean())})
    ch = np.hypot(ab[..., 0], ab[..., 1])
    for q in (50, 90, 99):
        out[f"chroma_p{q}"] = float(np.percentile(ch[mid] if mid.any() else ch, q))
    out["share_chroma10"], out["share_chroma20"] = float((ch > 10).mean()), float((ch > 20).mean())
    flat, c = ab.reshape(-1, 2), ch.reshape(-1)
    out["hue_conc6"] = _concentration(flat[c > 6]) if (c > 6).sum() > 20 else 1.0
    out["hue_conc15"] = _concentration(flat[c > 15]) if (c > 15).sum() > 20 else 1.0
    band = np.clip((lum.reshape(-1) / 100 * 16).astype(int), 0, 15)
    spreads = [(1 - _concentration(flat[m]), m.sum()) for k in range(16) if (m := (band == k) & (c > 6)).sum() >= 20]
    out["band_spread_mean"] = float(np.average([s for s, _ in spreads], weights=[w for _, w in spreads])) if spreads else 0.0
    out["band_spread_max"] = float(max(s for s, _ in spreads)) if spreads else 0.0
    return out


def labelled(data: Path, seed: int, with_val: bool) -> list[dict]:
    """The sets of benchmarks/colour_detector.py for one seed; y = 1 for a print that needs colorizing."""
    rng = np.random.default_rng(seed)
    paths = sample_across_folders(data / "train", 900, rng)
    colour, toned = paths[:500] + (find_images(data / "val") if with_val else []), paths[500:]
    rows = []
    for p in colour:
        rgb = rgb8(p)
        kind = "several hues" if kind_of_photo(rgb) == "several hues" else "muted"
        rows.append({"set": f"colour, {kind}", "y": 0, **features(colour_photo(rng, rgb, fade=False))})
        rows.append({"set": f"faded, {kind}", "y": 0, **features(colour_photo(rng, rgb, fade=True))})
    for p in toned:
        rows.append({"set": "toned from photos", "y": 1, **features(toned_print(rng, gray01(rgb8(p)))[0])})
    for _, img, is_colour in corpus(rng, 300, 150):
        rows.append({"set": "generated colour" if is_colour else "generated toned", "y": 0 if is_colour else 1, **features(img)})
    for p in find_images(data / "bw"):
        is_colour = p.parent.name == "old_photos" and not p.stem.startswith("scratched")
        rows.append({"set": f"bw/{p.parent.name}", "y": 0 if is_colour else 1, **features(read_image(p).pixels)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--train-seeds", default="1")
    ap.add_argument("--test-seed", type=int, default=0)
    a = ap.parse_args()
    train = [r for s in map(int, a.train_seeds.split(",")) for r in labelled(a.data, s, False)
             if not r["set"].endswith("muted")]  # muted photos are no loss either way: left out of the fit
    test = labelled(a.data, a.test_seed, True)
    names = [k for k in train[0] if k not in ("set", "y")]

    def matrix(rows):
        x = np.array([[r[k] for k in names] for r in rows])
        scale = [i for i, k in enumerate(names) if not k.startswith(("hue_conc", "band_spread"))]
        x[:, scale] = np.log1p(x[:, scale] * np.array([100.0 if "area" in names[i] or "share" in names[i] else 1.0 for i in scale]))
        return x

    xt, yt = matrix(train), np.array([r["y"] for r in train], float)
    mu, sd = xt.mean(0), xt.std(0) + 1e-9
    lin = torch.nn.Linear(len(names), 1).double()
    w = torch.tensor(np.where(yt == 1, 3.0, 1.0))
    x_t, y_t = torch.tensor((xt - mu) / sd), torch.tensor(yt)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=500)

    def closure():
        opt.zero_grad()
        loss = (w * torch.nn.functional.binary_cross_entropy_with_logits(lin(x_t)[:, 0], y_t, reduction="none")).mean()
        loss = loss + 1e-3 * (lin.weight ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    colour_score = lambda rows: -lin(torch.tensor((matrix(rows) - mu) / sd))[:, 0].detach().numpy()  # noqa: E731
    threshold = colour_score(train)[yt == 1].max() + 0.05  # above every monochrome print of the training seeds
    scores = colour_score(test)
    print(f"fitted on seeds {a.train_seeds} ({len(train)} images), threshold {threshold:.3f}; test seed {a.test_seed}:")
    for name in dict.fromkeys(r["set"] for r in test):
        idx = [i for i, r in enumerate(test) if r["set"] == name]
        wrong = sum((scores[i] >= threshold) == (test[i]["y"] == 1) for i in idx)
        verb = "skipped (false skip)" if test[idx[0]]["y"] else "colorized by mistake"
        print(f"  {name:>24}: {wrong:3d} of {len(idx):3d} {verb}")


if __name__ == "__main__":
    main()
