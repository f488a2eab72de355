"""Training images: folders sampled evenly, grayscale photos filtered out, random crops with scale
jitter and flips. Batches are a pure function of (seed, step), so a resumed run sees exactly the
batches an uninterrupted one would."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidcolor.color import chroma, rgb_to_lab
from vidcolor.io.images import read_rgb8

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def find_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def mean_chroma(path: Path, size: int = 64) -> float:
    """Mean CIELAB chroma of a small thumbnail: near 0 for grayscale photos."""
    with Image.open(path) as im:
        im.draft("RGB", (size, size))
        im = im.convert("RGB")
        im.thumbnail((size, size))
        rgb = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255.0
    return float(chroma(rgb_to_lab(rgb)).mean())


@dataclass
class DataConfig:
    crop: int = 128
    min_scale: float = 0.3  # smallest crop area as a fraction of the image (scale jitter)
    gray_threshold: float = 3.0  # mean chroma below this: a grayscale photo, dropped
    holdout: int = 240  # images per run kept out of training for tuning the decoding, spread over folders


class TrainImages:
    """Images under one or more roots, grouped by their first sub-folder (the source) for even sampling."""

    def __init__(self, roots: list[Path], cfg: DataConfig, cache: Path | None = None, seed: int = 0, log=print):
        self.cfg = cfg
        groups: dict[str, list[Path]] = {}
        for root in roots:
            for p in find_images(Path(root)):
                rel = p.relative_to(root)
                key = f"{Path(root).name}/{rel.parts[0] if len(rel.parts) > 1 else '.'}"
                groups.setdefault(key, []).append(p)
        if not groups:
            raise SystemExit(f"no training images found under {', '.join(map(str, roots))}")
        chromas = self._chromas([p for ps in groups.values() for p in ps], cache)
        kept, dropped = {}, 0
        for key, paths in groups.items():
            colour = [p for p in paths if chromas[str(p)] >= cfg.gray_threshold]
            dropped += len(paths) - len(colour)
            if colour:
                kept[key] = colour
        self.dropped_gray = dropped
        rng = np.random.default_rng(seed)
        self.holdout: list[Path] = []
        per_group = max(1, cfg.holdout // len(kept)) if cfg.holdout else 0
        for key in sorted(kept):
            idx = rng.permutation(len(kept[key]))
            take = set(idx[: min(per_group, len(idx) // 10)].tolist())
            self.holdout += [p for i, p in enumerate(kept[key]) if i in take]
            kept[key] = [p for i, p in enumerate(kept[key]) if i not in take]
        self.groups = [kept[k] for k in sorted(kept)]
        self.group_names = sorted(kept)
        n = sum(len(g) for g in self.groups)
        log(f"data: {n} training images in {len(self.groups)} folders, {len(self.holdout)} held out, "
            f"{dropped} grayscale dropped (mean chroma < {cfg.gray_threshold})")

    @staticmethod
    def _chromas(paths: list[Path], cache: Path | None) -> dict[str, float]:
        known = json.loads(cache.read_text()) if cache and cache.is_file() else {}
        missing = [p for p in paths if str(p) not in known]
        for p in missing:
            known[str(p)] = mean_chroma(p)
        if cache and missing:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known))
        return known

    def load_crop(self, path: Path, rng: np.random.Generator) -> np.ndarray:
        c = self.cfg.crop
        im = Image.fromarray(read_rgb8(path))  # the loader the CLI and eval use (EXIF, 16-bit, CMYK alike)
        w, h = im.size
        area = w * h * rng.uniform(self.cfg.min_scale, 1.0)
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw = int(min(w, round(np.sqrt(area * ratio))))
        ch = int(min(h, round(np.sqrt(area / ratio))))
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
        im = im.resize((c, c), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch), reducing_gap=2.0)
        if rng.random() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        return np.asarray(im)

    def batch(self, seed: int, step: int, batch_size: int) -> torch.Tensor:
        """(B, 3, crop, crop) float RGB in [0, 1]; the same (seed, step) always gives the same batch."""
        rng = np.random.default_rng([seed, step])
        crops = []
        for _ in range(batch_size):
            group = self.groups[int(rng.integers(len(self.groups)))]
            crops.append(self.load_crop(group[int(rng.integers(len(group)))], rng))
        return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0
