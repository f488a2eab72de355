"""Training images: folders sampled evenly, grayscale photos filtered out, and batches of whole
pictures (or large crops of them) at the working resolution with their aspect ratio kept, the way the
network sees frames at inference; with colour hints sampled from the ground truth for a share of them.
Batches are a pure function of (seed, step), so a resumed run sees exactly the batches an
uninterrupted one would."""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidcolor.color import chroma, rgb_to_lab
from vidcolor.errors import InputError, first_line
from vidcolor.hints import hint_map, palette_vector, sample_hints, sample_palette
from vidcolor.io.images import read_rgb8
from vidcolor.models.bins import ab_bins

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


def _stamp(p: Path) -> list[int]:
    try:
        st = p.stat()
        return [st.st_size, st.st_mtime_ns]
    except OSError:
        return [-1, -1]


def _found(saved: list[str], tails: dict[tuple[str, ...], Path | None], photos: list[Path]) -> set[Path]:
    """The photos a run's holdout.txt names: by their resolved path (as written; links resolved), else by
    their root folder's name and path within it, so that a run copied to another machine or folder
    (absolute paths changed) keeps them, as does an older holdout.txt of relative paths. A name and path
    that two roots share (`None` in `tails`: two folders named `photos`) matches nothing rather than the
    wrong photo (a reviewer's test)."""
    exact = {str(p.resolve()): p for p in photos}
    depths = sorted({len(k) for k in tails}, reverse=True)  # the longest match first
    found = set()
    for line in saved:
        hit = exact.get(line)
        if hit is None:
            parts = Path(line).parts
            hit = next((tails[t] for d in depths if len(parts) >= d and (t := tuple(parts[-d:])) in tails), None)
        if hit is not None:
            found.add(hit)
    return found


class DataError(Exception):
    """The training data cannot go on (a plain exception: SystemExit in a DataLoader worker killed the
    worker, and the main process showed a traceback); `python -m training train` says it in one line."""


ASPECTS = (1.0, 4 / 3, 3 / 4, 3 / 2, 2 / 3, 16 / 9)  # width / height of the batch shapes


@dataclass
class DataConfig:
    size: int = 192  # short side of every training picture: the working resolution the weights ship with
    min_scale: float = 0.6  # smallest crop, as a fraction of the largest one of the batch's aspect (area)
    gray_threshold: float = 3.0  # mean chroma below this: a grayscale photo, dropped
    holdout: int = 240  # images per run kept out of training for tuning the decoding, spread over folders
    hint_share: float = 0.0  # share of pictures given point hints (the rest get none: the automatic task)
    hint_mean: float = 8.0  # mean number of points when hinted (geometric, as Zhang et al. 2017)
    palette_share: float = 0.1  # share of hinted pictures that also get a global palette


@dataclass
class TrainBatch:
    rgb: torch.Tensor  # (B, 3, H, W) float RGB in [0, 1]
    hint_map: torch.Tensor | None = None  # (B, 3, H, W) a/AB_SCALE, b/AB_SCALE, mask
    palette: torch.Tensor | None = None  # (B, Q)

    def __len__(self) -> int:
        return self.rgb.shape[0]

    def pin_memory(self) -> "TrainBatch":
        """Page-locked copies, for asynchronous copies to a GPU (DataLoader calls this with pin_memory=True)."""
        pin = lambda t: None if t is None else t.pin_memory()  # noqa: E731
        return TrainBatch(pin(self.rgb), pin(self.hint_map), pin(self.palette))


def batch_shape(size: int, aspect: float, multiple: int = 32) -> tuple[int, int]:
    """(h, w) with the short side `size` and about `aspect` = w / h, both multiples of `multiple`."""
    long = max(multiple, round(size * max(aspect, 1 / aspect) / multiple) * multiple)
    return (size, long) if aspect >= 1 else (long, size)


class TrainImages:
    """Images under one or more roots, grouped by their first sub-folder (the source) for even sampling."""

    def __init__(self, roots: list[Path], cfg: DataConfig, cache: Path | None = None, seed: int = 0, log=print,
                 holdout_paths: list[str] | None = None):
        """`holdout_paths`: a resumed run's own held-out photos (its holdout.txt), kept as they were drawn
        (photos added to --data had redrawn them, putting photos trained on into `tune`'s set); None, or
        none of them found, draws them (`cfg.holdout`, spread over the folders, by `seed`)."""
        self.cfg = cfg
        groups: dict[str, list[Path]] = {}
        tails: dict[tuple[str, ...], Path | None] = {}  # (root folder's name, path within it) -> photo, None where shared
        for root in roots:
            for p in find_images(Path(root)):
                rel = p.relative_to(root)
                key = (Path(root).resolve().name, *rel.parts)
                tails[key] = None if key in tails else p
                key = f"{Path(root).name}/{rel.parts[0] if len(rel.parts) > 1 else '.'}"
                groups.setdefault(key, []).append(p)
        if not groups:
            raise SystemExit(f"no training images found under {', '.join(map(str, roots))}")
        chromas = self._chromas([p for ps in groups.values() for p in ps], cache)
        # a file that cannot be read is left out, named (it stopped the run with a traceback, a new user's test)
        unreadable = [p for ps in groups.values() for p in ps if chromas[str(p)] is None]
        if unreadable:
            log(f"data: {len(unreadable)} unreadable file(s) left out, first {unreadable[0]}")
        kept, dropped = {}, 0
        for key, paths in groups.items():
            colour = [p for p in paths if chromas[str(p)] is not None and chromas[str(p)] >= cfg.gray_threshold]
            dropped += sum(chromas[str(p)] is not None for p in paths) - len(colour)
            if colour:
                kept[key] = colour
        self.dropped_gray = dropped
        self._failed: set[str] = set()
        if not kept:  # a ZeroDivisionError, or "high <= 0" at the first batch (a researcher's test)
            raise SystemExit(f"no usable colour images under {', '.join(map(str, roots))}: {len(unreadable)} unreadable, "
                             f"{dropped} grayscale (mean chroma < {cfg.gray_threshold}) left out")
        self.holdout: list[Path] = []
        held = _found(holdout_paths, tails, [p for ps in kept.values() for p in ps]) if holdout_paths else set()
        if holdout_paths and len(held) < len(holdout_paths):  # a run moved, or its data: said, never emptied unsaid
            log(f"data: {len(held)} of the run's {len(holdout_paths)} held-out photos are under --data now"
                + ("; the held-out photos are drawn again by the seed" if not held else ""))
        if held:
            for key in sorted(kept):
                self.holdout += [p for p in kept[key] if p in held]
                kept[key] = [p for p in kept[key] if p not in held]
            kept = {k: v for k, v in kept.items() if v}
        else:
            rng = np.random.default_rng(seed)
            per_group = max(1, cfg.holdout // len(kept)) if cfg.holdout else 0
            for key in sorted(kept):
                idx = rng.permutation(len(kept[key]))
                take = set(idx[: min(per_group, len(idx) // 10)].tolist())
                self.holdout += [p for i, p in enumerate(kept[key]) if i in take]
                kept[key] = [p for i, p in enumerate(kept[key]) if i not in take]
        self.groups = [kept[k] for k in sorted(kept)]
        self.group_names = sorted(kept)
        n = sum(len(g) for g in self.groups)
        if not held and cfg.holdout and len(self.holdout) < cfg.holdout:  # at most a tenth of each folder (unsaid)
            log(f"data: --holdout {cfg.holdout}: {len(self.holdout)} held out, at most a tenth of each folder")
        log(f"data: {n} training images in {len(self.groups)} folders, {len(self.holdout)} held out, "
            f"{dropped} grayscale dropped (mean chroma < {cfg.gray_threshold})")

    @staticmethod
    def _chromas(paths: list[Path], cache: Path | None) -> dict[str, float]:
        """Each photo's mean chroma (None: unreadable), cached by path with the file's size and mtime: a
        photo replaced after the first start (with text, say) was still taken as readable, and its first
        batch crashed the run (a researcher's test). A cache written before holds chroma alone: trusted,
        and stamped with the file as it is now."""
        saved = json.loads(cache.read_text()) if cache and cache.is_file() else {}
        stamps = {str(p): _stamp(p) for p in paths}
        known = {k: (v[2] if isinstance(v, list) else v) for k, v in saved.items()
                 if not isinstance(v, list) or (k in stamps and v[:2] == stamps[k])}
        missing = [p for p in paths if str(p) not in known]

        def one(p: Path) -> tuple[float | None, str | None]:
            try:
                return mean_chroma(p), None
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:  # UnidentifiedImageError is an OSError
                return None, f"{p}: unreadable ({type(e).__name__}: {first_line(e, 100, default='')})"

        # in threads (PIL's decoding releases the GIL): a lent GPU machine's 16 cores scan a fresh
        # run's photos in a fraction of one core's time, and its start-up is device time
        with ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1)) as pool:
            for p, (value, problem) in zip(missing, pool.map(one, missing)):
                known[str(p)] = value  # unreadable: JSON null; the reason goes with the log line
                if problem:
                    print(problem)
        if cache and (missing or any(not isinstance(v, list) for v in saved.values())):
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({k: [*stamps[k], v] if k in stamps else v for k, v in known.items()}))
        return known

    def load_picture(self, path: Path, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """The largest region of the image with the aspect of `shape` (h, w), shrunk by the scale jitter
        and placed at random, resized to `shape`; flipped half the time."""
        h_out, w_out = shape
        im = Image.fromarray(read_rgb8(path))  # the loader the CLI and eval use (EXIF, 16-bit, CMYK alike)
        w, h = im.size
        aspect = w_out / h_out
        cw, ch = (w, w / aspect) if w / h <= aspect else (h * aspect, h)
        s = np.sqrt(rng.uniform(self.cfg.min_scale, 1.0))
        cw, ch = cw * s, ch * s
        x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
        im = im.resize((w_out, h_out), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch), reducing_gap=2.0)
        if rng.random() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        return np.asarray(im)

    def batch(self, seed: int, step: int, batch_size: int) -> TrainBatch:
        """A batch of pictures of one shape; the same (seed, step) always gives the same batch."""
        rng = np.random.default_rng([seed, step])
        shape = batch_shape(self.cfg.size, ASPECTS[int(rng.integers(len(ASPECTS)))])
        pics = []
        for _ in range(batch_size):
            for attempt in range(20):  # a photo that became unreadable since the scan: another one, said once
                group = self.groups[int(rng.integers(len(self.groups)))]
                path = group[int(rng.integers(len(group)))]
                try:
                    pics.append(self.load_picture(path, shape, rng))
                    break
                except InputError as e:
                    if str(path) not in self._failed:
                        self._failed.add(str(path))
                        print(f"data: {e}; another photo taken in its place")
            else:
                raise DataError(f"data: 20 unreadable photos in a row at step {step} (last {path}): check the --data folders")
        rgb = torch.from_numpy(np.stack(pics)).permute(0, 3, 1, 2).float() / 255.0
        if self.cfg.hint_share <= 0:
            return TrainBatch(rgb)
        return TrainBatch(rgb, *self.sample_hint_inputs(rgb, rng))

    def sample_hint_inputs(self, rgb: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Hints drawn from the ground truth: for `hint_share` of the pictures a geometric number of
        points (mean `hint_mean`), and for `palette_share` of those a palette of 1 to 6 colours."""
        ab = rgb_to_lab(rgb)[:, 1:].permute(0, 2, 3, 1).numpy()  # (B, H, W, 2)
        b, _, h, w = rgb.shape
        bins = ab_bins()
        maps, pals = torch.zeros(b, 3, h, w), torch.zeros(b, bins.shape[0])
        for i in range(b):
            if rng.random() >= self.cfg.hint_share:
                continue
            n = int(rng.geometric(1.0 / self.cfg.hint_mean))
            hints = sample_hints(ab[i], rng, n)
            maps[i] = hint_map(hints, (h, w), (h, w), (h, w))[0]
            if rng.random() < self.cfg.palette_share:
                pals[i] = palette_vector(sample_palette(ab[i], rng, int(rng.integers(1, 7))), bins)
        return maps, pals
