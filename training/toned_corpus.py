"""A generated corpus for the "already in colour?" detector (vidcolor.tone): toned monochrome prints as
archives hold them, and colour and faded colour photographs beside them.

Toned prints: a monochrome picture mapped through a toning curve (sepia, selenium, cyanotype, gold,
albumen, platinum, split toning), then what real scans add around and on it: a card mount or paper
border of another tint, handwritten captions in coloured ink, studio stamps, foxing, uneven fading from
one edge, and a scanner colour cast. Each is drawn at random, seeded, so a corpus is reproducible.

The monochrome picture comes from `procedural_scene` (tests) or from real photographs reduced to gray
(benchmarks/colour_detector.py); colour photographs likewise from `colourful_scene` or real ones.
"""
from __future__ import annotations

import string

import cv2
import numpy as np

# Toning curves: the colour (sRGB 0-255) of the print's deepest shadow, its mid-tone and its paper white.
TONINGS = {
    "sepia": ((45, 28, 16), (150, 108, 70), (242, 228, 200)),
    "sepia_warm": ((60, 30, 15), (170, 110, 60), (245, 225, 185)),
    "selenium": ((38, 26, 32), (118, 98, 104), (236, 230, 226)),
    "cyanotype": ((12, 34, 92), (58, 108, 170), (222, 233, 245)),
    "gold": ((22, 25, 42), (104, 110, 128), (234, 234, 240)),
    "gold_albumen": ((45, 25, 40), (140, 100, 115), (240, 228, 215)),
    "albumen": ((52, 32, 24), (165, 125, 82), (236, 216, 162)),
    "platinum": ((40, 36, 32), (128, 120, 110), (238, 234, 226)),
    "split": ((30, 30, 45), (130, 112, 95), (245, 232, 205)),  # cool shadows, warm highlights
}
MOUNTS = {
    "beige": (218, 203, 168), "cream": (238, 230, 205), "gray_blue": (168, 178, 190), "green": (150, 166, 138),
    "white_border": (243, 241, 234), "black_album": (32, 30, 30), "brown_card": (150, 112, 80), "pink_card": (222, 190, 185),
}
INKS = {"blue": (30, 50, 150), "black": (25, 25, 30), "brown": (95, 55, 30), "violet": (100, 40, 130), "red": (170, 30, 30)}


def procedural_scene(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w) float32 gray in [0, 1] that reads like a photograph: a lit backdrop, a horizon, figures
    (ellipses with shading), fine texture (foliage, fabric) and film grain."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    g = 0.35 + 0.4 * (1 - y / h) * rng.uniform(0.3, 1.0) + 0.15 * np.sin(x / w * rng.uniform(1, 6) + rng.uniform(0, 6))
    horizon = rng.uniform(0.4, 0.8) * h
    g = np.where(y > horizon + 10 * np.sin(x / rng.uniform(10, 60)), g * rng.uniform(0.4, 0.8), g)
    for _ in range(int(rng.integers(2, 7))):  # figures and objects, lit from one side
        cy, cx = rng.uniform(0.2, 0.9) * h, rng.uniform(0.1, 0.9) * w
        ry, rx = rng.uniform(0.05, 0.3) * h, rng.uniform(0.03, 0.2) * w
        d = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2
        shade = rng.uniform(0.1, 0.9) + 0.25 * (x - cx) / rx
        g = np.where(d < 1, np.clip(shade - 0.2 * d, 0, 1), g)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), rng.uniform(0.8, 3))
    g = g + rng.uniform(0.03, 0.12) * noise / (noise.std() + 1e-6) + rng.normal(0, 0.015, (h, w))
    return np.clip(g, 0, 1).astype(np.float32)


def colourful_scene(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) uint8: a procedural scene whose regions have different hues (sky, ground, objects)."""
    gray = procedural_scene(rng, h, w)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    hue = np.full((h, w), rng.uniform(190, 230), np.float32)  # sky
    hue = np.where(y > rng.uniform(0.4, 0.8) * h, rng.uniform(60, 140), hue)  # ground: grass or earth
    for _ in range(int(rng.integers(3, 9))):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.05, 0.3) * min(h, w)
        hue = np.where((y - cy) ** 2 + (x - cx) ** 2 < r * r, rng.uniform(0, 360), hue)
    sat = np.full((h, w), rng.uniform(0.35, 0.9), np.float32)
    hsv = np.dstack([hue / 2, sat * 255, gray * 255]).astype(np.uint8)  # OpenCV 8-bit hue is degrees / 2
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def faded_colour(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """A colour photograph as decades fade it: less saturation, lifted blacks, a red-magenta or yellow shift."""
    f = rgb.astype(np.float32) / 255
    gray = f @ np.array([0.299, 0.587, 0.114], np.float32)
    f = gray[..., None] + rng.uniform(0.3, 0.6) * (f - gray[..., None])
    shift = np.array([[1.08, 0.95, 0.88], [1.05, 1.0, 0.82], [1.1, 0.92, 1.0]][int(rng.integers(3))], np.float32)
    f = 0.08 + 0.9 * f * shift
    return (np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8)


def tone(gray: np.ndarray, toning: str, rng: np.random.Generator) -> np.ndarray:
    """(h, w) gray in [0, 1] -> (h, w, 3) float RGB in [0, 1] through a toning curve, its anchors jittered."""
    anchors = np.array(TONINGS[toning], np.float32) / 255
    anchors = np.clip(anchors * rng.uniform(0.93, 1.07, (3, 3)), 0, 1)
    t = np.clip(gray, 0, 1)[..., None] ** rng.uniform(0.8, 1.25)
    low = anchors[0] + (anchors[1] - anchors[0]) * np.clip(2 * t, 0, 1)
    high = anchors[1] + (anchors[2] - anchors[1]) * np.clip(2 * t - 1, 0, 1)
    return np.where(t < 0.5, low, high).astype(np.float32)


def _mount(rng, print_rgb: np.ndarray, tint: str) -> np.ndarray:
    h, w = print_rgb.shape[:2]
    top, left, right = (int(rng.uniform(0.04, 0.18) * s) for s in (h, w, w))
    bottom = int(rng.uniform(0.08, 0.35) * h)  # room for the studio's imprint
    colour = np.array(MOUNTS[tint], np.float32) / 255 * rng.uniform(0.95, 1.05, 3)
    H, W = h + top + bottom, w + left + right
    grain = cv2.GaussianBlur(rng.normal(0, 1, (H, W)).astype(np.float32), (0, 0), 1.5)[..., None]
    card = np.clip(colour + 0.015 * grain + 0.04 * np.linspace(-1, 1, H)[:, None, None] * rng.uniform(-1, 1), 0, 1)
    if rng.random() < 0.5:  # a printed frame line round the print, gold or dark
        line = np.array((185, 150, 70) if rng.random() < 0.5 else (60, 45, 35), np.float32) / 255
        m = max(3, min(top, left, right) // 3)
        cv2.rectangle(card, (left - m, top - m), (left + w + m, top + h + m), line.tolist(), 1)  # float images: fine for shapes
    card[top:top + h, left:left + w] = print_rgb
    return card


def _text(rng, k: int) -> str:
    return "".join(rng.choice(list(string.ascii_letters + "  .,1890")) for _ in range(k)).strip() or "Anna"


def _caption(rng, img: np.ndarray, ink: str) -> None:
    """Handwritten ink below (or across the bottom of) the picture, in place."""
    h, w = img.shape[:2]
    scale = max(0.4, w / 500 * rng.uniform(0.6, 1.2))
    y0 = int(h * rng.uniform(0.82, 0.95))
    font = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX if rng.random() < 0.7 else cv2.FONT_HERSHEY_SIMPLEX
    mask = np.zeros((h, w), np.uint8)  # OpenCV draws text on 8-bit images only
    cv2.putText(mask, _text(rng, int(rng.integers(6, 22))), (int(w * rng.uniform(0.05, 0.3)), y0), font, scale, 255,
                max(1, int(scale * 1.6)), cv2.LINE_AA)
    a = (mask.astype(np.float32) / 255 * rng.uniform(0.7, 0.95))[..., None]
    img[:] = img * (1 - a) + np.array(INKS[ink], np.float32) / 255 * a


def _stamp(rng, img: np.ndarray) -> None:
    """A studio's rubber stamp: a ring with a name, in violet, red or blue, partly transparent."""
    h, w = img.shape[:2]
    ink = np.array(INKS[rng.choice(["violet", "red", "blue"])], np.float32) / 255
    layer = np.zeros((h, w), np.uint8)
    c = (int(w * rng.uniform(0.1, 0.9)), int(h * rng.uniform(0.7, 0.95)))
    r = max(6, int(min(h, w) * rng.uniform(0.05, 0.1)))
    cv2.circle(layer, c, r, 255, max(1, r // 12))
    cv2.putText(layer, _text(rng, 6), (c[0] - r // 2 - r // 3, c[1] + r // 8), cv2.FONT_HERSHEY_SIMPLEX, r / 40, 255, max(1, r // 20))
    a = (layer.astype(np.float32) / 255 * rng.uniform(0.5, 0.9))[..., None]
    img[:] = img * (1 - a) + ink * a


def _foxing(rng, img: np.ndarray) -> None:
    h, w = img.shape[:2]
    spots = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(10, 60))):
        cv2.circle(spots, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, max(2, min(h, w) // 60))), 1.0, -1)
    spots = cv2.GaussianBlur(spots, (0, 0), 1.5)[..., None] * rng.uniform(0.3, 0.7)
    img[:] = img * (1 - spots) + np.array((0.62, 0.42, 0.22), np.float32) * spots


def _fading(rng, img: np.ndarray, paper: np.ndarray) -> None:
    """Uneven fading: towards one edge the image fades towards its paper colour, and the paper yellows."""
    h, w = img.shape[:2]
    ramp = np.linspace(0, 1, [h, w][int(rng.integers(2))], dtype=np.float32) ** rng.uniform(1, 3)
    ramp = ramp[::-1] if rng.random() < 0.5 else ramp
    a = (ramp[:, None] if len(ramp) == h else ramp[None, :])[..., None] * rng.uniform(0.15, 0.5)
    faded = 0.7 * paper + 0.3 * np.array((0.93, 0.86, 0.62), np.float32)
    img[:] = img * (1 - a) + faded * a


def toned_print(rng: np.random.Generator, gray: np.ndarray, toning: str | None = None) -> tuple[np.ndarray, dict]:
    """A toned monochrome print made from `gray` (h, w) in [0, 1], with the defects of a real scan drawn at
    random: (uint8 RGB, what was drawn)."""
    toning = toning or str(rng.choice(list(TONINGS)))
    img = tone(gray, toning, rng)
    paper = img.reshape(-1, 3)[np.argmax(gray.reshape(-1))]  # the toning's white: its lightest pixel
    what = {"toning": toning}
    if rng.random() < 0.35:
        _foxing(rng, img)
        what["foxing"] = True
    if rng.random() < 0.4:
        _fading(rng, img, paper)
        what["fading"] = True
    if rng.random() < 0.6:
        what["mount"] = str(rng.choice(list(MOUNTS)))
        img = _mount(rng, img, what["mount"])
    if rng.random() < 0.5:
        what["caption"] = str(rng.choice(list(INKS)))
        _caption(rng, img, what["caption"])
    if rng.random() < 0.3:
        _stamp(rng, img)
        what["stamp"] = True
    return _scan(rng, img, what), what


def _scan(rng, img: np.ndarray, what: dict) -> np.ndarray:
    """A scanner's colour cast (a gain per channel), noise (mostly grain, the same in every channel),
    and often JPEG compression (4:2:0 chroma, which bleeds colour across edges)."""
    if rng.random() < 0.5:
        img = img * rng.uniform(0.93, 1.07, 3).astype(np.float32)
        what["cast"] = True
    grain = rng.normal(0, 0.008, img.shape[:2]).astype(np.float32)[..., None]
    img = img + grain + rng.normal(0, 0.003, img.shape).astype(np.float32)
    rgb = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    if rng.random() < 0.6:
        quality = int(rng.integers(80, 96))
        ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        rgb = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
        what["jpeg"] = quality
    return rgb


def colour_photo(rng: np.random.Generator, rgb: np.ndarray, fade: bool) -> np.ndarray:
    """A colour photograph as scanned: optionally faded, sometimes with a white border or on a mount."""
    if fade:
        rgb = faded_colour(rng, rgb)
    img = rgb.astype(np.float32) / 255
    what: dict = {}
    if rng.random() < 0.3:
        img = _mount(rng, img, str(rng.choice(["white_border", "cream", "black_album"])))
    return _scan(rng, img, what)


def corpus(rng: np.random.Generator, n_toned: int, n_colour: int, size: tuple[int, int] = (320, 448),
           grays=None, colours=None):
    """Yields (name, uint8 RGB, is_colour). `grays` / `colours` are optional iterators of real pictures
    ((h, w) gray in [0, 1] and (h, w, 3) uint8); procedural scenes stand in when they are not given."""
    h, w = size
    for i in range(n_toned):
        gray = next(grays) if grays is not None else procedural_scene(rng, *((h, w) if i % 2 else (w, h)))
        img, what = toned_print(rng, gray, list(TONINGS)[i % len(TONINGS)])
        yield f"toned_{i:04d}_{'_'.join(k if v is True else v if isinstance(v, str) else f'{k}{v}' for k, v in what.items())}", img, False
    for i in range(n_colour):
        rgb = next(colours) if colours is not None else colourful_scene(rng, *((h, w) if i % 2 else (w, h)))
        fade = i % 3 == 2
        yield f"colour_{i:04d}{'_faded' if fade else ''}", colour_photo(rng, rgb, fade), True
