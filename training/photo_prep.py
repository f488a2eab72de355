"""One photo of the v2 data recipe: decode, crop a uniform padding border, shrink, measure (chroma,
perceptual hash, scene) and re-encode. A pure function of the bytes and the rules, so worker
processes can run it and its result can be cached by content id."""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from training.data import DataConfig, mean_chroma
from training.sources import ADE_PAD_RGB

MAX_SIDE = 384  # short side of the written photos; larger ones are shrunk, smaller ones kept as they are
JPEG_QUALITY = 90
GRAY_CHROMA = DataConfig.gray_threshold  # the training loader's own gray filter: the same photos are gray here
PAD_TOLERANCE = 12  # per channel, for JPEG noise in a padding border
PAD_SHARE = 0.98  # a row or column is padding when this share of its pixels has the padding colour
SEG_SIZE = 512  # the ADE20K segmenter's fixed input: the picture top-left, padded with ADE_PAD_RGB

# ADE20K-150 class ids (1-based, 0 = unlabelled) as the segmenter outputs them.
SKY = 3
WALL = 1
NATURE = [5, 10, 14, 17, 18, 22, 27, 30, 35, 47, 61, 69, 95, 114, 129]  # tree, grass, earth, mountain, plant, water, ...
BUILT = [2, 26, 49, 85]  # building, house, skyscraper, tower
STREET = [7, 12, 44, 87, 88, 94, 137]  # road, sidewalk, signboard, awning, streetlight, pole, traffic light
VEHICLES = [21, 81, 84, 103, 117, 128]  # car, bus, truck, van, minibike, bicycle
INDOOR = [4, 6, 8, 11, 19, 24, 25, 29, 31, 36, 37, 38, 40, 45, 46, 48, 50, 51, 57, 58, 63, 64, 65, 66, 71, 72,
          74, 75, 76, 86, 90, 119, 125, 130, 146, 147]  # floor, ceiling, bed, cabinet, curtain, sofa, shelf, ...


@dataclass(frozen=True)
class PrepRules:
    max_side: int = MAX_SIDE
    min_short: int = 96
    pad_rgb: tuple[tuple[int, int, int], ...] = ()
    classify: bool = False


def _border(share: np.ndarray, share_luma: np.ndarray) -> int:
    """How many leading rows (or columns, from one edge) are padding: those of the padding colour, and
    the next one if only its lightness is (JPEG's subsampled chroma smears the picture's hue into it)."""
    pad = share >= PAD_SHARE
    n = len(pad) if pad.all() else int(np.argmin(pad))
    return n + 1 if 0 < n < len(pad) and share_luma[n] >= PAD_SHARE else n


def crop_padding(rgb: np.ndarray, colours) -> np.ndarray:
    """Trim whole rows and columns of each uniform border colour from all four sides; the size is
    measured, never assumed. May return an empty array when the image is all padding."""
    for colour in colours:
        diff = rgb.astype(np.int16) - np.asarray(colour, np.int16)  # (H, W, 3)
        near = np.abs(diff).max(-1) <= PAD_TOLERANCE
        near_luma = np.abs(diff @ np.array([0.299, 0.587, 0.114])) <= PAD_TOLERANCE
        r, rl, c, cl = near.mean(1), near_luma.mean(1), near.mean(0), near_luma.mean(0)
        top, bottom = _border(r, rl), _border(r[::-1], rl[::-1])
        left, right = _border(c, cl), _border(c[::-1], cl[::-1])
        rgb = rgb[top:max(top, rgb.shape[0] - bottom), left:max(left, rgb.shape[1] - right)]
        if rgb.size == 0:
            break
    return rgb


def phash(rgb: np.ndarray) -> int:
    """64-bit DCT perceptual hash of the gray 32x32 thumbnail: near duplicates differ in a few bits."""
    small = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small.astype(np.float32))[:8, :8].ravel()
    return int.from_bytes(np.packbits(low > np.median(low[1:])).tobytes(), "big")


def class_shares(labels: np.ndarray) -> dict[int, float]:
    """{ADE20K class id: share of the pixels} for the classes covering at least 0.5% of a label map."""
    share = np.bincount(labels.ravel(), minlength=151) / max(labels.size, 1)
    return {int(c): round(float(share[c]), 4) for c in np.flatnonzero(share >= 0.005)}


def scene_from_shares(shares: dict) -> str:
    """'indoor', 'city' (buildings, streets) or 'other', from ADE20K class shares (JSON keys may be strings)."""
    share = np.zeros(151)
    for c, v in shares.items():
        share[int(c)] = v
    built, street, indoor = share[BUILT].sum(), share[STREET].sum(), share[INDOOR].sum()
    if share[SKY] < 0.02 and built + street < 0.05 and share[NATURE].sum() < 0.10 and \
            (indoor >= 0.15 or indoor + share[WALL] >= 0.35):  # no sky, no facades, no nature: walls and rooms
        return "indoor"
    if (built >= 0.10 or (street >= 0.15 and built >= 0.02)) and share[VEHICLES].sum() < 0.25:  # not a vehicle's portrait
        return "city"
    return "other"


class SceneClassifier:
    """DeepLabv3 MobileNetV2 trained on ADE20K (an ONNX file in one of the source repositories): an
    image's class shares (scene_from_shares reads them, so its rule can change without a re-run). Picklable: each worker process opens its own session on first use."""

    def __init__(self, model: bytes):
        self.model, self._session = model, None

    def __getstate__(self):
        return {"model": self.model, "_session": None}

    def __call__(self, rgb: np.ndarray) -> dict[int, float]:
        if self._session is None:
            import onnxruntime as ort  # only the recipe needs it: pip install -e '.[train]'
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1  # one per worker process
            self._session = ort.InferenceSession(self.model, opts)
        h, w = rgb.shape[:2]
        s = SEG_SIZE / max(h, w)
        nh, nw = min(SEG_SIZE, round(h * s)), min(SEG_SIZE, round(w * s))
        canvas = np.empty((SEG_SIZE, SEG_SIZE, 3), np.uint8)
        canvas[:] = ADE_PAD_RGB
        canvas[:nh, :nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        labels = self._session.run(None, {self._session.get_inputs()[0].name: canvas[None]})[0][0]
        return class_shares(labels[:nh, :nw])


def prepare(data: bytes, rules: PrepRules, classifier=None) -> tuple[dict, bytes | None]:
    """(record, JPEG bytes or None). The record's `status` is 'ok' or the reason the photo is dropped:
    'unreadable', 'small' (short side below rules.min_short) or 'gray'."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        # PIL names the in-memory buffer it read from ("<_io.BytesIO object at 0x...>"): said plainly instead
        why = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-f]+>", "", str(e)) or type(e).__name__
        return {"status": "unreadable", "error": f"{type(e).__name__}: {why}"}, None
    rgb = crop_padding(rgb, rules.pad_rgb) if rules.pad_rgb else rgb
    h, w = rgb.shape[:2]
    if min(h, w) < rules.min_short:
        return {"status": "small", "w": w, "h": h}, None
    s = rules.max_side / min(h, w)
    if s < 1:  # never upscale
        w, h = max(1, round(w * s)), max(1, round(h * s))
        rgb = np.asarray(Image.fromarray(rgb).resize((w, h), Image.LANCZOS, reducing_gap=3.0))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=JPEG_QUALITY)
    jpeg = buf.getvalue()
    rec = {"w": w, "h": h, "chroma": round(mean_chroma(io.BytesIO(jpeg)), 3), "phash": f"{phash(rgb):016x}"}
    if rec["chroma"] < GRAY_CHROMA:
        return {"status": "gray", **rec}, None
    if rules.classify:
        rec["classes"] = classifier(rgb)
    return {"status": "ok", **rec}, jpeg


def write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
