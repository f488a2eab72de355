"""Other tools' colorizations, scored by `vidcolor eval --pred NAME=DIR` with the same metrics as vidcolor's.

A prediction is found by its ground truth's path relative to GT_DIR, less the extension (a tool that writes
PNG for a JPEG truth is matched); where two truths share that (a.jpg, a.png), by the truth's extension too.
Every prediction is checked before anything is scored or loaded: one missing, unreadable, ambiguous (two
files of one stem) or of another shape is refused in one line naming it.
A prediction of another size but the truth's shape (within ASPECT_TOLERANCE) is resized to the truth's size
with a note, as published comparisons score at the truth's size; one of another shape (cropped, padded,
rotated) is refused, as resizing it would distort it. A prediction is scored as the tool wrote it, lightness
included, the rule vidcolor's own output is scored by (docs/quality.md)."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from vidcolor.errors import InputError, UsageError
from vidcolor.io.formats import find_media, refuse_unlisted
from vidcolor.io.images import read_rgb8
from vidcolor.metrics import SSIM_WINDOW, is_gray

ASPECT_TOLERANCE = 0.02  # a tool rounding its size to a multiple of 8 to 32 stays within this on a photo
RESIZE_FILTER = Image.BICUBIC
NAME_RE = re.compile(r"[^=/\\]+")  # NAME in NAME=DIR: no '=', no path separator
# the keys of eval.json's rows and summaries beside the tools' (a tool named "image" would overwrite the name)
RESERVED = {"ours", "vidcolor", "gray", "gt", "input", "image", "group", "seconds", "thumbs", "top1", "notes"}


@dataclass
class PredictionSet:
    """One tool's colorizations: `name` labels its row in the table; `files` maps a ground truth's path
    (relative to GT_DIR) to its prediction; `notes` maps it to what was done to the prediction."""
    name: str
    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def load(self, rel: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """The prediction for `rel` as (H, W, 3) uint8 RGB, at the truth's `shape` where given; InputError (that photo is
        left out) where it was not checked, or no longer reads."""
        if rel not in self.files:
            raise InputError(f"{self.root}: --pred {self.name} was not checked for {rel}")
        try:
            return fit(read_rgb8(self.files[rel]), shape)
        except InputError as e:
            raise InputError(f"{e} (--pred {self.name}'s prediction for {rel})") from None


def parse_pred(text: str) -> tuple[str, Path]:
    """`NAME=DIR` or `DIR` (named after the folder) -> (name, folder). UsageError for a bad name."""
    name, sep, folder = text.partition("=")
    if not sep or not NAME_RE.fullmatch(name):  # a folder whose name holds '=' is a folder
        name, folder = Path(text).resolve().name, text
    if not folder:
        raise UsageError(f"--pred {text}: no folder; give NAME=DIR or DIR")
    if name.lower() in RESERVED or not name.isprintable() or name.strip() != name:
        why = "is taken by eval's own rows and fields" if name.lower() in RESERVED else "is not a plain name"
        raise UsageError(f"--pred {text}: the name '{name}' {why}; give another as NAME=DIR")
    return name, Path(folder)


def fit(rgb: np.ndarray, shape: tuple[int, ...] | None) -> np.ndarray:
    """`rgb` resized (bicubic) to `shape`'s height and width where they differ."""
    if not shape or rgb.shape[:2] == tuple(shape[:2]):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((shape[1], shape[0]), RESIZE_FILTER))


def same_shape(pred: tuple[int, ...], gt: tuple[int, ...]) -> bool:
    return abs((pred[1] / pred[0]) / (gt[1] / gt[0]) - 1) <= ASPECT_TOLERANCE


def scoreable(gt: np.ndarray) -> bool:
    """Whether eval scores this ground truth (it leaves out a gray or too small one, saying why)."""
    return not is_gray(gt) and min(gt.shape[:2]) >= SSIM_WINDOW


def _index(name: str, root: Path) -> dict[str, list[Path]]:
    """Every image under `root` by its relative path less the extension."""
    unlisted: list[tuple[Path, str]] = []
    found = find_media(root, unreadable=unlisted)[0]
    refuse_unlisted(root, unlisted, InputError)
    if unlisted:
        raise InputError(f"{unlisted[0][0]}: cannot list the folder ({unlisted[0][1]}) of --pred {name}")
    index: dict[str, list[Path]] = {}
    for p in found:
        index.setdefault(p.relative_to(root).with_suffix("").as_posix(), []).append(p)
    return index


def check_predictions(gt_root: Path, gt_files: list[Path], preds: list[tuple[str, Path]]) -> list[PredictionSet]:
    """Each tool's prediction for every ground truth eval will score, found and checked: InputError in one
    line naming the first that is missing, ambiguous, unreadable or of another shape, or a folder whose
    predictions are all black and white (the tool's input, not its output?). Decodes every image once."""
    if not preds:
        return []
    names = [n for n, _ in preds]
    for n in names:
        if names.count(n) > 1:
            raise UsageError(f"--pred: the name '{n}' is given twice; name each folder (NAME=DIR)")
    for name, root in preds:
        if not root.is_dir():
            raise UsageError(f"{root}: --pred {name}: {'not a folder' if root.exists() else 'folder not found'}")
        if root.resolve() == gt_root.resolve() or root.resolve().is_relative_to(gt_root.resolve()):
            raise UsageError(f"{root}: --pred {name} is (inside) the ground-truth folder {gt_root}; its files would be "
                             "scored as ground truth")
    sets = [PredictionSet(name, root) for name, root in preds]
    indexes = [_index(s.name, s.root) for s in sets]
    # truths of one stem (a.jpg and a.png): each needs a prediction of its own extension; by stem alone, one
    # tool's a.png had been scored as the colorization of both. Over the whole folder, --limit or not
    shared = Counter(p.relative_to(gt_root).with_suffix("").as_posix() for p in find_media(gt_root)[0])
    gray: list[list[str]] = [[] for _ in sets]
    for path in gt_files:
        rel = path.relative_to(gt_root).as_posix()
        try:
            gt = read_rgb8(path)
        except InputError:  # eval leaves it out, saying why; no prediction is needed for it
            continue
        if not scoreable(gt):
            continue
        gt_shape = gt.shape
        key = Path(rel).with_suffix("").as_posix()
        for s, index, grays in zip(sets, indexes, gray):
            found = index.get(key, [])
            if shared[key] > 1:
                found = [p for p in found if p.suffix.lower() == path.suffix.lower()]
                if not found:
                    raise InputError(f"{s.root / rel}: --pred {s.name} has no prediction for {rel}, whose name less the "
                                     f"extension another truth shares: its prediction must keep the extension "
                                     f"{path.suffix}")
            if not found:
                raise InputError(f"{s.root / key}.*: --pred {s.name} has no prediction for {rel}")
            if len(found) > 1:
                raise InputError(f"{found[0]}: --pred {s.name} has {len(found)} files for {rel} "
                                 f"({', '.join(p.name for p in found)}); keep one")
            s.files[rel] = found[0]
            pred = s.load(rel)
            ph, pw, gh, gw = *pred.shape[:2], *gt_shape[:2]
            if (ph, pw) != (gh, gw):
                if not same_shape(pred.shape, gt_shape):
                    raise InputError(f"{found[0]}: {pw}x{ph} against the truth's {gw}x{gh} ({rel}): another shape, "
                                     "cropped, padded or turned; not resized, which would distort it")
                s.notes[rel] = f"resized from {pw}x{ph} to {gw}x{gh}"
            if is_gray(pred):
                grays.append(rel)
                s.notes[rel] = "; ".join(filter(None, (s.notes.get(rel), "black and white: scored as it is")))
    for s, grays in zip(sets, gray):
        if grays and len(grays) == len(s.files):
            raise InputError(f"{s.root}: all {len(grays)} prediction(s) of --pred {s.name} are black and white: "
                             "the tool's input rather than its output?")
    return sets
