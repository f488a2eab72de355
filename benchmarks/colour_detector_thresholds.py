"""Choose vidcolor.tone's thresholds (SCORE_FLOOR, NET_THRESHOLD, NET_SURE) from a tuning run of the benchmark.

    python benchmarks/colour_detector.py --split tune --seed 1 --colour 2000 --toned 1600 --json tune.json
    python benchmarks/colour_detector_thresholds.py tune.json [--top 10]

Every (floor, threshold, sure) on a grid is scored on the stored (score, logit) pairs with
vidcolor.tone.is_colour. Rules that misjudge a generated toned print or a ../shared/data/bw picture
are ruled out; the rest are ranked by the colour photos colorized (several hues and muted together)
plus the toned prints from photos and the black-and-white photos skipped, then by the faded colour
photos colorized. Prints the best.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidcolor.tone import is_colour  # noqa: E402

FLOORS = np.round(np.arange(0.8, 2.61, 0.1), 2)
THRESHOLDS = np.round(np.arange(-1.0, 6.01, 0.5), 2)
SURE = (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0, 14.0, float("inf"))


def mistakes(sets: dict, floor: float, thr: float, sure: float) -> dict[str, int]:
    """Per set, the pictures the rule gets wrong; each stored as [score, logit, colorizing is right]."""
    return {name: sum(is_colour(s, z, floor, thr, sure) == colorize for s, z, colorize in d["scores"].values())
            for name, d in sets.items() if "scores" in d}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", type=Path)
    ap.add_argument("--top", type=int, default=10)
    a = ap.parse_args()
    sets = json.loads(a.json.read_text())
    ranked = []
    for floor, thr, sure in itertools.product(FLOORS, THRESHOLDS, SURE):
        w = mistakes(sets, floor, thr, sure)
        hard = w.get("generated toned", 0) + sum(v for k, v in w.items() if k.startswith("bw/"))
        if hard:
            continue
        main_cost = sum(v for k, v in w.items() if k.startswith("colour, ")) + w.get("toned", 0) + w.get("train/val, black and white", 0)
        ranked.append((main_cost, sum(v for k, v in w.items() if k.startswith("faded, ")), float(floor), float(thr), sure, w))
    ranked.sort(key=lambda r: r[:2])
    for cost, faded, floor, thr, sure, w in ranked[:a.top]:
        print(f"floor {floor:.1f} threshold {thr:.1f} sure {sure:g}: colour photos colorized + toned skipped {cost}, "
              f"faded colorized {faded}; " + ", ".join(f"{k} {v}" for k, v in w.items()))


if __name__ == "__main__":
    main()
