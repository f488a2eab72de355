"""How well vidcolor.tone tells colour photographs from toned monochrome prints, on real photographs.

    python benchmarks/colour_detector.py [--data ../shared/data] [--split test] [--colour 500] [--toned 400] [--seed 0]
    python benchmarks/colour_detector_thresholds.py TUNE.json   # the thresholds, from a --split tune --json run

The photos of DATA/train and DATA/val are cut into two fixed halves by a hash of their paths: the
thresholds of vidcolor.tone are chosen on a draw from the "tune" half (--split tune --seed 1 --colour
2000 --toned 1600), and the figures reported come from the "test" half, so no such photo serves both.
DATA/bw is not split: the same 31 pictures are in both, and the threshold search keeps them right.

Four sets, each scored by the shipped test (vidcolor.tone.is_colour on the score and ToneNet's logit)
and by the hand-made score alone (its threshold COLOUR_THRESHOLD), side by side:
  - real colour photographs: --colour photos sampled evenly across the folders of DATA/train, plus the
    half's share of DATA/val; each one also faded (training/toned_corpus.faded_colour). Colorizing one of these is a
    mistake (target: at most 2%). They are split by a simple count that does not involve the detector
    (kind_of_photo): "black and white" when 99% of the picture has CIELAB chroma under 5 (the training
    folders hold some; colorizing them is right, and they are counted apart), "several hues" when at
    least 2% of the picture has chroma 10 or more in each of two hue sectors (of 30 degrees) at least
    60 degrees apart, and "muted or one hue" for the others (a black sweater on a white floor, a gray
    street), listed apart since colorizing them loses little; a last line counts both together.
  - toned prints: --toned photos of DATA/train (not those above) reduced to gray and printed through
    training/toned_corpus.toned_print (toning, mounts, captions, stamps, foxing, fading, casts). Skipping
    one is a mistake (target: none).
  - DATA/bw: ddcolor and rni6 are gray and old_photos/scratched_* toned prints (colorize them);
    old_photos a-h are early colour photographs (skip them).
  - the procedural corpus of the tests, larger: --generated toned prints and half as many colourful
    scenes (training/toned_corpus.corpus), no photographs involved.
Prints the counts, the mistakes by name, and the score distributions; --json writes them.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ holds the corpus generator

from training.detector import gray01, load_rgb8  # noqa: E402
from training.toned_corpus import colour_photo, corpus, toned_print  # noqa: E402
from vidcolor import tone  # noqa: E402
from vidcolor.folder import find_images  # noqa: E402
from vidcolor.io.images import read_image  # noqa: E402
from vidcolor.tone import COLOUR_THRESHOLD, NET_SURE, NET_THRESHOLD, SCORE_FLOOR, detector_scores, is_colour, thumbnail_lab  # noqa: E402

MAX_SIDE = 640  # real photos are shrunk to this before the corpus is made (the detector works at 256 anyway)


def rgb8(path: Path) -> np.ndarray:
    return load_rgb8(path, MAX_SIDE)


def in_split(path: Path, root: Path, split: str) -> bool:
    """Two fixed halves of DATA by a hash of the path: thresholds are chosen on "tune", reported on "test"."""
    return split == "all" or (zlib.crc32(str(path.relative_to(root)).encode()) % 2 == 0) == (split == "tune")


def sample_across_folders(root: Path, n: int, rng: np.random.Generator, split: str = "all") -> list[Path]:
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    per = {f: list(rng.permutation([p for p in find_images(f) if in_split(p, root, split)])) for f in folders}
    out: list[Path] = []
    while len(out) < n and any(per.values()):
        for f in folders:
            if per[f] and len(out) < n:
                out.append(per[f].pop())
    return out


def kind_of_photo(rgb: np.ndarray, min_chroma: float = 10.0, min_share: float = 0.02, gray_chroma: float = 5.0) -> str:
    """"black and white" when 99% of the picture has CIELAB chroma under `gray_chroma`; "several hues" when
    at least `min_share` of it has chroma `min_chroma` or more in each of two 30-degree hue sectors at
    least 60 degrees apart; else "muted or one hue". Counted without the detector."""
    lab = thumbnail_lab(rgb)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    if np.percentile(chroma, 99) < gray_chroma:
        return "black and white"
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360
    share = np.bincount((hue[chroma >= min_chroma] // 30).astype(int), minlength=12) / chroma.size
    big = np.nonzero(share >= min_share)[0]
    return "several hues" if any(min(abs(i - j), 12 - abs(i - j)) >= 2 for i in big for j in big) else "muted or one hue"


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIELAB distance (Delta E 1976) between two 8-bit RGB pictures of one size."""
    lab = [cv2.cvtColor(x.astype(np.float32) / 255, cv2.COLOR_RGB2LAB) for x in (a, b)]
    return float(np.linalg.norm(lab[0] - lab[1], axis=2).mean())


def colorizing_cost(paths: list[str]) -> list[tuple[float, float]]:
    """For colour photos colorized by mistake: how far the shipped colorizer's output is from the photo,
    and (for scale) how far the photo's own gray is from it, in mean Delta E."""
    from vidcolor.weights import load_colorizer

    colorizer = load_colorizer()
    out = []
    for p in paths:
        rgb = rgb8(Path(p))
        gray = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
        out.append((delta_e(rgb, colorizer.colorize_array(rgb)), delta_e(rgb, gray)))
    return out


@functools.lru_cache(maxsize=1)
def load_candidate(path: Path):
    """A ToneNet checkpoint that is not (yet) the shipped one, as `python -m training detector train` writes it."""
    from vidcolor.models.checkpoint import read_checkpoint_file
    from vidcolor.models.tone_net import ToneNet

    return ToneNet.from_checkpoint(read_checkpoint_file(path)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--colour", type=int, default=500)
    ap.add_argument("--toned", type=int, default=400)
    ap.add_argument("--generated", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", choices=("test", "tune", "all"), default="test",
                    help="which fixed half of DATA's photos to draw from (thresholds are chosen on tune)")
    ap.add_argument("--tone-net", type=Path, help="measure another ToneNet checkpoint than the shipped one")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--cost", action="store_true",
                    help="colorize the colour photos colorized by mistake and say how far the result is from them")
    ap.add_argument("--score-floor", type=float, default=SCORE_FLOOR, help="try another floor (choose it on --split tune)")
    ap.add_argument("--net-threshold", type=float, default=NET_THRESHOLD)
    ap.add_argument("--net-sure", type=float, default=NET_SURE)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    t0 = time.time()
    if a.tone_net:
        tone.load_tone_net = functools.partial(load_candidate, a.tone_net)
    paths = sample_across_folders(a.data / "train", a.colour + a.toned, rng, a.split)
    val = [p for p in find_images(a.data / "val") if in_split(p, a.data / "val", a.split)]
    colour_paths, toned_paths = paths[:a.colour] + val, paths[a.colour:]
    rows = []  # (set, name, score, logit, should_colorize)
    for p in colour_paths:
        rgb = rgb8(p)
        kind = kind_of_photo(rgb)
        if kind == "black and white":  # a gray photo among the colour ones: colorizing it is right
            rows.append(("train/val, black and white", str(p), *detector_scores(colour_photo(rng, rgb, fade=False)), True))
            continue
        rows.append((f"colour, {kind}", str(p), *detector_scores(colour_photo(rng, rgb, fade=False)), False))
        rows.append((f"faded, {kind}", str(p), *detector_scores(colour_photo(rng, rgb, fade=True)), False))
    for p in toned_paths:
        img, what = toned_print(rng, gray01(rgb8(p)))
        rows.append(("toned", f"{p} {what}", *detector_scores(img), True))
    for name, img, colour in corpus(rng, a.generated, a.generated // 2):
        rows.append(("generated colour" if colour else "generated toned", name, *detector_scores(img), not colour))
    for p in find_images(a.data / "bw"):
        colour = p.parent.name == "old_photos" and not p.stem.startswith("scratched")
        rows.append((f"bw/{p.parent.name}", str(p), *detector_scores(read_image(p).pixels), not colour))
    print(f"{len(rows)} images in {time.time() - t0:.0f} s; shipped test: ToneNet >= {a.net_sure}, or score >= {a.score_floor} "
          f"and ToneNet >= {a.net_threshold}; "
          f"the hand-made score alone (right-hand column): score >= {COLOUR_THRESHOLD}")
    summary = {}
    for name in dict.fromkeys(r[0] for r in rows):
        rs = [r for r in rows if r[0] == name]
        wrong = [r for r in rs if is_colour(r[2], r[3], a.score_floor, a.net_threshold, a.net_sure) == r[4]]
        wrong_hand = [r for r in rs if (r[2] >= COLOUR_THRESHOLD) == r[4]]
        verb = "skipped (false skip)" if rs[0][4] else "colorized by mistake"
        q = np.percentile(np.array([r[3] for r in rs]), [0, 1, 5, 50, 95, 99, 100])
        print(f"{name:>24}: {len(wrong):3d} of {len(rs):3d} {verb} ({100 * len(wrong) / len(rs):.1f}%) | hand-made alone "
              f"{len(wrong_hand):3d} ({100 * len(wrong_hand) / len(rs):.1f}%); ToneNet min/p1/p5/median/p95/p99/max "
              f"{' / '.join(f'{v:.1f}' for v in q)}")
        for r in sorted(wrong, key=lambda r: r[3])[:12]:
            print(f"{'':26}score {r[2]:5.2f} ToneNet {r[3]:6.2f}  {r[1]}")
        summary[name] = {"n": len(rs), "wrong": len(wrong), "wrong_hand": len(wrong_hand), "mistakes": [r[1] for r in wrong],
                         "scores": {r[1]: [round(r[2], 3), round(r[3], 3), r[4]] for r in rs}}  # r[4]: colorizing is right
    colour = [summary[name] for name in summary if name.startswith("colour, ")]
    n, wrong = (sum(c[k] for c in colour) for k in ("n", "wrong"))
    print(f"{'all colour photos':>24}: {wrong:3d} of {n:3d} colorized by mistake ({100 * wrong / n:.1f}%) "
          f"| hand-made alone {sum(c['wrong_hand'] for c in colour):3d}")
    summary["all colour photos"] = {"n": n, "wrong": wrong}
    for name in ("colour, several hues", "colour, muted or one hue") if a.cost else ():
        mistaken = summary.get(name, {}).get("mistakes", [])
        if mistaken:
            cost = np.array(colorizing_cost(mistaken))
            print(f"{name:>24}: colorizing the {len(mistaken)} mistaken photos moves them by Delta E {np.median(cost[:, 0]):.1f} "
                  f"(median; p90 {np.percentile(cost[:, 0], 90):.1f}); their own gray is {np.median(cost[:, 1]):.1f} "
                  f"(p90 {np.percentile(cost[:, 1], 90):.1f}) from them")
            summary[name]["cost"] = {"colorized": cost[:, 0].tolist(), "gray": cost[:, 1].tolist()}
    if a.json:
        a.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
