"""Is a scan a colour photograph, or a monochrome print (gray or toned) that needs colorizing?

A toned print (sepia, selenium, cyanotype, gold) gives every lightness one colour: its a*b* is a
function of L*. A colour photograph has colours that its lightness does not explain. The test:

1. Judge the photograph, not its surroundings: a uniform border on three sides, or on two opposite
   ones (a card mount, a paper border, an album page), is cropped off first.
2. Fit the print's tone curve, a*b* as a function of L* (medians per lightness band, linear between
   them), allowed to vary smoothly over the picture: one curve per tile of a 3x3 grid, blended
   bilinearly between tile centres as CLAHE blends its tiles. Uneven fading and scanner casts are
   then part of the tone, not colour.
3. Take what the curve leaves (pixels too dark or too bright to carry colour left out) and open it
   with a 5x5 window: thin strokes (ink captions, stamps, cracks) and specks (foxing) vanish, the
   coloured regions of a photograph stay.
4. The score is that residual's 90th percentile in CIELAB units: a colour photograph has colour off
   the tone over more than a tenth of the picture.
5. The score alone cannot tell colour that follows lightness in a colour photograph (a blue sky over
   gray buildings, a moonlit night, a steel valve on blue) from a cyanotype or a split-toned print.
   ToneNet (vidcolor.models.tone_net), a small CNN, looks at the same picture (CIELAB and the residual,
   96 x 96) and was trained on thousands of photos that ../shared/data does not hold, each shown both
   as a colour scan and as a toned print of its gray (training/detector.py). A photo is in colour when
   ToneNet is sure (its logit reaches NET_SURE), or when the score reaches SCORE_FLOOR and the logit
   reaches NET_THRESHOLD (is_colour). The floor keeps out the toned prints the network is unsure of;
   the sure logit keeps colour photos whose colour follows their lightness, which the score misses.

Measured with benchmarks/colour_detector.py (docs/archives.md, "Photos already in colour, measured"); the thresholds were chosen
on the "tune" half of its photos and are reported on the "test" half. COLOUR_THRESHOLD is the score's own
threshold, as it was used before ToneNet: above the procedural toned prints and the real toned prints
of ../shared/data/bw, below its faintest early colour photograph (old_photos/b, 2.33).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import cv2
import numpy as np

COLOUR_THRESHOLD = 2.2  # CIELAB units of the score below: the hand-made test alone (benchmarks compare it)
SCORE_FLOOR = 1.3  # with ToneNet: the score a colour photo needs at least, unless ToneNet is sure
NET_THRESHOLD = -0.5  # ToneNet's logit a colour photo needs at least, with the score at the floor
NET_SURE = 3.0  # ToneNet's logit that makes a photo colour whatever its (finite) score
# (the three chosen together by benchmarks/colour_detector_thresholds.py on the benchmark's tune half)
THUMB = 256  # the test runs on a thumbnail of this long side: colour is low-frequency
TILES = 3
L_BANDS = 16
MIN_BAND_PIXELS = 4
L_RANGE = (8.0, 97.0)  # outside it a pixel's a*b* is mostly noise (near black) or clipping (near white)
OPEN = 5  # pixels (of the thumbnail): residual structures thinner than this are ink and specks
BORDER_DELTA_E = 12.0  # how close to the border colour a pixel must be to count as border


def thumbnail_lab(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 or uint16 RGB -> (h, w, 3) float32 CIELAB (L in 0..100), long side THUMB."""
    h, w = rgb.shape[:2]
    s = min(1.0, THUMB / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else rgb
    peak = 65535.0 if small.dtype == np.uint16 else 255.0
    return cv2.cvtColor(np.ascontiguousarray(small, dtype=np.float32) / peak, cv2.COLOR_RGB2Lab)


def crop_border(lab: np.ndarray) -> np.ndarray:
    """The picture without a uniform border (mount, paper border, album page) around it, if it has one."""
    h, w = lab.shape[:2]
    lum = lab[..., 0]
    flat = cv2.blur(lum * lum, (5, 5)) - cv2.blur(lum, (5, 5)) ** 2 < 6.0  # local L* std below about 2.5
    k = max(2, round(0.02 * min(h, w)))
    strips = {"t": np.s_[:k], "b": np.s_[-k:], "l": np.s_[:, :k], "r": np.s_[:, -k:]}
    colour = {s: np.median(lab[sl].reshape(-1, 3)[flat[sl].reshape(-1)], axis=0) for s, sl in strips.items() if flat[sl].mean() > 0.5}
    if not colour:
        return lab
    ref = np.median(np.array(list(colour.values())), axis=0)
    agree = {s: c for s, c in colour.items() if np.linalg.norm(c - ref) < BORDER_DELTA_E}
    if len(agree) < 3 and not ({"t", "b"} <= agree.keys() or {"l", "r"} <= agree.keys()):
        return lab  # one flat side, or two adjacent ones, is sky or a backdrop, not a mount

    def depth(side: str, lines) -> int:
        """How many lines in from this side are still border (captions and stamps on it are sparse)."""
        d = 0
        for line in lines:
            if side not in agree or np.mean(np.linalg.norm(line - agree[side], axis=-1) < BORDER_DELTA_E) < 0.5:
                break
            d += 1
        return d

    t = depth("t", lab[:int(0.45 * h)])
    b = depth("b", lab[::-1][:int(0.45 * h)])
    left = depth("l", lab.transpose(1, 0, 2)[:int(0.45 * w)])
    r = depth("r", lab.transpose(1, 0, 2)[::-1][:int(0.45 * w)])
    m = max(1, round(0.03 * min(h, w)))  # and the print's own edge
    y0, y1 = (t + m if t else 0), (h - b - m if b else h)
    x0, x1 = (left + m if left else 0), (w - r - m if r else w)
    if y1 - y0 < 0.2 * h or x1 - x0 < 0.2 * w:
        return lab
    return lab[y0:y1, x0:x1]


def _curve(lum: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lightness bands with enough pixels, and in each the median L* and the median a*b*."""
    band = np.clip((lum / 100 * L_BANDS).astype(int), 0, L_BANDS - 1)
    ks = np.nonzero(np.bincount(band, minlength=L_BANDS) >= MIN_BAND_PIXELS)[0]
    centres = np.array([np.median(lum[band == k]) for k in ks])
    values = np.array([np.median(ab[band == k], axis=0) for k in ks]).reshape(-1, 2)
    return ks, centres, values


def _interp(lum: np.ndarray, centres: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(lum, centres, values[:, c]) for c in (0, 1)], axis=-1)


def tone_residual(lab: np.ndarray) -> np.ndarray:
    """(h, w) CIELAB distance of each pixel's a*b* from the smoothly varying tone curve (step 2)."""
    h, w = lab.shape[:2]
    lum, ab = lab[..., 0].reshape(-1), lab[..., 1:].reshape(-1, 2)
    _, g_centres, g_values = _curve(lum, ab)
    if len(g_centres) == 0:
        return np.zeros((h, w), np.float32)
    ys, xs = np.linspace(0, h, TILES + 1).astype(int), np.linspace(0, w, TILES + 1).astype(int)
    grid = (np.arange(L_BANDS) + 0.5) * 100 / L_BANDS
    fits = np.empty((TILES, TILES, h * w, 2), np.float32)  # every tile's curve, evaluated at every pixel
    for i in range(TILES):
        for j in range(TILES):
            t_lum, t_ab = lab[ys[i]:ys[i + 1], xs[j]:xs[j + 1], 0].reshape(-1), lab[ys[i]:ys[i + 1], xs[j]:xs[j + 1], 1:].reshape(-1, 2)
            # bands the tile lacks follow the whole picture's curve, shifted as this tile is
            shift = np.median(t_ab - _interp(t_lum, g_centres, g_values), axis=0)
            centres, values = grid.copy(), _interp(grid, g_centres, g_values) + shift
            ks, c, v = _curve(t_lum, t_ab)
            centres[ks], values[ks] = c, v
            order = np.argsort(centres)
            fits[i, j] = _interp(lum, centres[order], values[order])
    cy, cx = (ys[:-1] + ys[1:]) / 2, (xs[:-1] + xs[1:]) / 2
    yy, xx = np.mgrid[0:h, 0:w]
    fy, fx = np.interp(yy.reshape(-1), cy, np.arange(TILES)), np.interp(xx.reshape(-1), cx, np.arange(TILES))
    y0, x0 = fy.astype(int), fx.astype(int)
    y1, x1 = np.minimum(y0 + 1, TILES - 1), np.minimum(x0 + 1, TILES - 1)
    wy, wx, px = (fy - y0)[:, None], (fx - x0)[:, None], np.arange(h * w)
    fit = (fits[y0, x0, px] * (1 - wy) * (1 - wx) + fits[y0, x1, px] * (1 - wy) * wx
           + fits[y1, x0, px] * wy * (1 - wx) + fits[y1, x1, px] * wy * wx)
    return np.linalg.norm(ab - fit, axis=1).reshape(h, w).astype(np.float32)


def _is_sliver(lab: np.ndarray) -> bool:
    """A few pixels across once the mount is off: no tone curve to fit, nothing to judge."""
    return min(lab.shape[:2]) < 2 * TILES


def _thumbnail_residual(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The picture without its mount (CIELAB) and its tone residual, zero where L* carries no colour."""
    lab = crop_border(thumbnail_lab(rgb))
    if _is_sliver(lab):  # no colour counted
        return lab, np.zeros(lab.shape[:2], np.float32)
    e = tone_residual(lab)
    e[(lab[..., 0] < L_RANGE[0]) | (lab[..., 0] > L_RANGE[1])] = 0
    return lab, e


def _score(e: np.ndarray) -> float:
    return float(np.percentile(cv2.morphologyEx(e, cv2.MORPH_OPEN, np.ones((OPEN, OPEN), np.uint8)), 90))


def colour_score(rgb: np.ndarray) -> float:
    """How much of the photograph has colour that its tone does not explain (module docstring, steps
    1-4); `rgb` is (H, W, 3) uint8 or uint16. Near 0 for gray and toned prints."""
    return _score(_thumbnail_residual(rgb)[1])


def _net_input(lab: np.ndarray, e: np.ndarray) -> np.ndarray:
    from vidcolor.models.tone_net import SIDE

    return cv2.resize(np.concatenate([lab, e[..., None]], -1), (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(np.float16)


def tone_net_input(rgb: np.ndarray) -> np.ndarray:
    """(SIDE, SIDE, 4) float16: what ToneNet sees (L*, a*, b*, tone residual of the picture without its
    mount); training/detector.py stores exactly this."""
    return _net_input(*_thumbnail_residual(rgb))


DETECTOR = "colour-photo detector"  # how refusals name ToneNet's weights


def check_tone_net() -> None:
    """WeightsError (one line: the file, and how to get it back) unless ToneNet's shipped weights are there and
    whole; hashlib only, no torch: runs that judge photos call it before they decode or load anything."""
    from vidcolor.weights import check_shipped

    check_shipped("tone_net", DETECTOR)


@functools.lru_cache(maxsize=1)
def load_tone_net():
    """The shipped ToneNet (weights/manifest.json's "tone_net", sha256 checked), on the CPU; loaded once a
    process (a folder run loads it before its first photo, so a broken install fails at the start)."""
    from vidcolor.models.checkpoint import read_checkpoint_file
    from vidcolor.models.tone_net import ToneNet
    from vidcolor.weights import shipped_file

    return ToneNet.from_checkpoint(read_checkpoint_file(*shipped_file("tone_net", DETECTOR))[0])


def detector_scores(rgb: np.ndarray) -> tuple[float, float]:
    """(the score, ToneNet's logit) of `rgb`; benchmarks/colour_detector.py tries other thresholds on them."""
    lab, e = _thumbnail_residual(rgb)
    if _is_sliver(lab):  # colorized: is_colour needs a finite logit
        return 0.0, float("-inf")
    return _score(e), _net_logit(_net_input(lab, e))


def _net_logit(x: np.ndarray) -> float:
    import torch

    return float(load_tone_net().score(torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)[None])[0])


def is_colour(score: float, logit: float, floor: float = SCORE_FLOOR, net_threshold: float = NET_THRESHOLD,
              net_sure: float = NET_SURE) -> bool:
    """The decision on (score, logit): ToneNet sure, or the score at the floor and ToneNet over its threshold."""
    if not (np.isfinite(score) and np.isfinite(logit)):
        return False
    return logit >= net_sure or (score >= floor and logit >= net_threshold)


class ColourScores(NamedTuple):
    """Why a photo counts as already in colour: the hand-made score and ToneNet's logit."""
    score: float
    logit: float

    def __str__(self) -> str:
        return f"colour score {self.score:.1f}, ToneNet {self.logit:.1f}"


def colour_photo_score(rgb: np.ndarray) -> ColourScores | None:
    """The scores of a photograph already in colour, else None: the one test the folder loop, the Ray
    workers and the web API apply (is_colour on detector_scores; module docstring)."""
    scores = ColourScores(*detector_scores(rgb))
    return scores if is_colour(*scores) else None


def is_colour_image(rgb: np.ndarray) -> bool:
    return colour_photo_score(rgb) is not None
