"""User colour hints (Zhang et al. 2017): points that say "this is the colour here", and an optional
palette the whole picture should lean toward. Parsed from a JSON file, checked against the image,
and turned into the network's extra inputs at its working resolution.

Photo hints file:   {"points": [{"x": 120, "y": 64, "color": "#3a6ea5", "radius": 3}], "palette": ["#aa3322"]}
Video hints file:   {"frames": {"0": {"points": [...]}, "120": {"points": [...], "palette": [...]}}}

Coordinates are pixels of the input image (x right, y down, origin at the top-left pixel's centre
0, 0); `radius` (default 0: one pixel) is in input pixels and makes the hint a square patch. Only the
a/b of `color` is used: the lightness always comes from the photo.
"""
from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import re
from collections.abc import Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidcolor.errors import InputError
from vidcolor.io.formats import SIDECAR_SUFFIX, sidecar_path  # noqa: F401  (re-exported)

_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")  # fullmatch: "$" let a trailing newline through
_POINT_KEYS = {"x", "y", "color", "radius"}
_PHOTO_KEYS = {"points", "palette"}
HINT_CHANNELS = 3  # a / AB_SCALE, b / AB_SCALE, mask
# Points (and palette colours) one photo or keyframe may hold, and one video hints file in all. Each colour is
# converted on its own (0.2 ms: see srgb_to_ab), so a file of a million points held a run for minutes before it
# said anything (a library user's test); at the shipped working size the hints' grid has about 3,500 cells.
MAX_POINTS = 10_000
MAX_VIDEO_POINTS = 100_000

if TYPE_CHECKING:
    import torch
# torch is imported where a colour is converted or a network input made, not with this module: a bad
# hints file is refused before it loads (1.3 s; the refusal took 1.9 s, a new-user test)


def srgb_to_ab(rgb: tuple[float, float, float]) -> tuple[float, float]:
    """An sRGB colour in [0, 255] -> its CIELAB (a*, b*). The float32 values are part of every hinted
    output's journal key: a conversion that moved them in the last digits (a plain-Python one, tried)
    made every finished hinted photo and video be colorized again. Checking a hints file needs no
    conversion (`Hints.check_obj`, `video_hints_outline`), so a bad one is still refused without torch."""
    import torch

    from vidcolor.color import rgb_to_lab

    px = torch.tensor(rgb, dtype=torch.float32).reshape(1, 3, 1, 1) / 255.0
    lab = rgb_to_lab(px)[0, :, 0, 0]
    return float(lab[1]), float(lab[2])


def parse_colour(value, where: str) -> tuple[float, float]:
    """'#rgb', '#rrggbb' or [r, g, b] (0-255) -> (a*, b*)."""
    return srgb_to_ab(colour_rgb(value, where))


def colour_rgb(value, where: str) -> tuple[float, float, float]:
    """A colour checked and read as sRGB in [0, 255] (no torch: a bad file is refused before it loads)."""
    if isinstance(value, str) and _HEX.fullmatch(value):
        h = value[1:]
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return tuple(float(int(h[i:i + 2], 16)) for i in (0, 2, 4))
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(_finite(v) and 0 <= v <= 255 for v in value):
        # [1.0, 0.5, 0.0] pinned the point to gray, and so did [1.0, 0.0, 0.0] or [0, 0, 1]: read in 0-255, a mix of 0s
        # and 1s is a near-black whose a*b* is next to nothing (a gray [0, 0, 0] or [1, 1, 1] is gray either way)
        if all(v <= 1 for v in value) and (any(v != int(v) for v in value) or len(set(value)) > 1):
            raise InputError(f"{where}: colour {list(value)!r} looks like 0-1 values; [r, g, b] is in 0-255 "
                             f"(that is {[round(v * 255) for v in value]!r})")
        return tuple(float(v) for v in value)
    raise InputError(f"{where}: bad colour {_short(value)} (use '#rrggbb', '#rgb' or [r, g, b] in 0-255)")


def _finite(v) -> bool:
    """A JSON number that is finite as a float: not a bool (True read as 1), not NaN or infinity, and
    not an integer too large for a float (a 330-digit x raised OverflowError, a traceback that stopped a
    whole folder run; a reviewer's test)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):  # numpy's numbers are Real too
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _short(value) -> str:
    """repr(value) cut to 60 characters, for a one-line refusal."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def refuse_palette(hints, what: str | None, arch: str) -> None:
    """UsageError for a palette in `hints` (Hints, VideoHints or a list of them; `what` names them: a
    file) given to a network without hint inputs, rather than ignoring it. Hint points need no hint
    inputs: they are spread over their objects with any network."""
    from vidcolor.errors import UsageError

    items = hints if isinstance(hints, (list, tuple)) else [hints]
    frames = [f for h in items if h is not None for f in (h.frames.values() if hasattr(h, "frames") else [h])]
    if any(f.palette for f in frames):
        raise UsageError(f"{what + ': ' if what else ''}model {arch} has no hint inputs for a palette; "
                         "use weights trained with hints (hint points work with any weights)")


@dataclass(frozen=True)
class HintPoint:
    x: float
    y: float
    ab: tuple[float, float]
    radius: float = 0.0


@dataclass(frozen=True)
class Hints:
    """The hints for one image. Empty hints give exactly the automatic colorization."""

    points: tuple[HintPoint, ...] = ()
    palette: tuple[tuple[float, float], ...] = ()  # ab of the colours the picture should lean toward

    def __bool__(self) -> bool:
        return bool(self.points or self.palette)

    @classmethod
    def from_obj(cls, obj, where: str, inside: tuple[int, int] | None = None) -> "Hints":
        """`inside`: the (width, height) every point must lie in, checked before the colours are converted
        (which imports torch: a point outside the photo was refused 2.5-3 s in, a bad file in 0.5 s)."""
        points, palette = cls.check_obj(obj, where)
        if inside:
            _check_inside([(x, y) for x, y, _, _ in points], *inside, where)
        return cls(tuple(HintPoint(x, y, srgb_to_ab(rgb), r) for x, y, rgb, r in points), tuple(map(srgb_to_ab, palette)))

    @staticmethod
    def check_obj(obj, where: str) -> tuple[list[tuple], list[tuple]]:
        """Every entry checked, colours read as sRGB but not yet converted: ([(x, y, rgb, radius)], [rgb])."""
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected an object with 'points' and/or 'palette'")
        if "frames" in obj and not set(obj) & _PHOTO_KEYS:  # "unknown key 'frames'" told a new user nothing
            raise InputError(f"{where}: a video's hints file (keyframes under 'frames'); a photo's hints file "
                             "holds 'points' and/or 'palette'")
        if unknown := set(obj) - _PHOTO_KEYS:
            raise InputError(f"{where}: unknown key {sorted(unknown)[0]!r} (allowed: points, palette)")
        points = obj.get("points", [])
        if not isinstance(points, list):
            raise InputError(f"{where}: 'points' must be a list")
        _check_count(len(points), "points", where)
        parsed = []
        for i, p in enumerate(points):
            at = f"{where}: points[{i}]"
            if not isinstance(p, dict):
                raise InputError(f"{at}: expected an object with x, y and color")
            if unknown := set(p) - _POINT_KEYS:
                raise InputError(f"{at}: unknown key {sorted(unknown)[0]!r} (allowed: x, y, color, radius)")
            for k in ("x", "y", "color"):
                if k not in p:
                    raise InputError(f"{at}: missing {k!r}")
            for k in ("x", "y", "radius"):
                if k in p and not _finite(p[k]):
                    raise InputError(f"{at}: {k} must be a number, got {_short(p[k])}")
            if p.get("radius", 0) < 0:
                raise InputError(f"{at}: radius must be >= 0")
            parsed.append((float(p["x"]), float(p["y"]), colour_rgb(p["color"], at), float(p.get("radius", 0))))
        palette = obj.get("palette", [])
        if not isinstance(palette, list):
            raise InputError(f"{where}: 'palette' must be a list of colours")
        _check_count(len(palette), "palette colours", where)
        return parsed, [colour_rgb(c, f"{where}: palette[{i}]") for i, c in enumerate(palette)]

    def check_inside(self, width: int, height: int, where: str) -> None:
        """Refuse a point outside a width x height image (one line naming the entry)."""
        _check_inside([(p.x, p.y) for p in self.points], width, height, where)

    def to_obj(self) -> dict:
        """The parsed hints (colours as a/b) as plain JSON types: for digests and to send to workers."""
        return {"points": [{"x": p.x, "y": p.y, "ab": list(p.ab), "radius": p.radius} for p in self.points],
                "palette": [list(c) for c in self.palette]}

    @classmethod
    def from_parsed(cls, obj: dict) -> "Hints":
        """The inverse of to_obj."""
        return cls(tuple(HintPoint(float(p["x"]), float(p["y"]), (float(p["ab"][0]), float(p["ab"][1])), float(p["radius"]))
                         for p in obj["points"]), tuple((float(a), float(b)) for a, b in obj["palette"]))

    @property
    def key(self) -> str:
        """A short digest of the parsed hints, for journals: an edited hints file redoes its photo."""
        if not self:
            return "none"
        return hashlib.sha256(json.dumps(self.to_obj(), sort_keys=True).encode()).hexdigest()[:16]

    def scaled(self, sx: float, sy: float) -> "Hints":
        """The same hints on an image resized by (sx, sy)."""
        pts = tuple(HintPoint((p.x + 0.5) * sx - 0.5, (p.y + 0.5) * sy - 0.5, p.ab, p.radius * (sx + sy) / 2) for p in self.points)
        return Hints(pts, self.palette)

    def flipped(self, width: int) -> "Hints":
        return Hints(tuple(HintPoint(width - 1 - p.x, p.y, p.ab, p.radius) for p in self.points), self.palette)


def check_built(hints, where: str = "hints"):
    """Hints or VideoHints made in code (not read from a file, whose reader checks every entry), checked
    the way a file is, and returned with plain floats (numpy numbers are taken); InputError naming the
    entry. A NaN a* made 98% of a photo white; a keyframe -1 was reported applied and never was; a string
    key or a dict for a Hints raised TypeError or AttributeError from deep inside (a reviewer's tests)."""
    if isinstance(hints, VideoHints):
        if not isinstance(hints.frames, dict):
            raise InputError(f"{where}: VideoHints.frames must be a dict of frame index -> Hints")
        frames = {}
        _check_count(sum(len(h.points) + len(h.palette) for h in hints.frames.values() if isinstance(h, Hints)
                         and isinstance(h.points, Sized) and isinstance(h.palette, Sized)),
                     "points and palette colours on its keyframes", where, MAX_VIDEO_POINTS)
        for k, h in hints.frames.items():
            if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
                raise InputError(f"{where}: keyframe {_short(k)} is not a frame index (an int: 0, 1, 2, ...)")
            if not isinstance(h, Hints):
                raise InputError(f"{where}: frames[{k}] must be a Hints, got {type(h).__name__}")
            frames[int(k)] = check_built(h, f"{where}: frames[{k}]")
        return VideoHints(frames)
    if not isinstance(hints, Hints):
        raise InputError(f"{where}: expected a vidcolor.hints.Hints, got {type(hints).__name__}")
    try:  # a generator was taken before the count (a review)
        given, given_palette = tuple(hints.points), tuple(hints.palette)
    except TypeError:
        raise InputError(f"{where}: points and palette must be sequences (of HintPoint, of colours)") from None
    _check_count(len(given), "points", where)
    _check_count(len(given_palette), "palette colours", where)
    points = []
    for i, p in enumerate(given):
        at = f"{where}: points[{i}]"
        if not isinstance(p, HintPoint):
            raise InputError(f"{at}: expected a HintPoint, got {type(p).__name__}")
        if not (_finite(p.x) and _finite(p.y) and _finite(p.radius) and p.radius >= 0):
            raise InputError(f"{at}: x, y and radius must be finite numbers (radius >= 0), got "
                             f"{_short(p.x)}, {_short(p.y)}, {_short(p.radius)}")
        if (ab := _ab_pair(p.ab)) is None:
            raise InputError(f"{at}: ab must be two finite numbers (a*, b*), got {_short(p.ab)}")
        points.append(HintPoint(float(p.x), float(p.y), ab, float(p.radius)))
    palette = []
    for i, c in enumerate(given_palette):
        if (ab := _ab_pair(c)) is None:
            raise InputError(f"{where}: palette[{i}] must be two finite numbers (a*, b*), got {_short(c)}")
        palette.append(ab)
    return Hints(tuple(points), tuple(palette))


def _check_count(count: int, what: str, where: str, limit: int = MAX_POINTS) -> None:
    if count > limit:
        raise InputError(f"{where}: {count:,} {what}; at most {limit:,} are taken")


def _ab_pair(ab) -> tuple[float, float] | None:
    """(a*, b*) as plain floats from a pair of finite numbers (a tuple, a list, a 1-D numpy array), else
    None (a set would have swapped a* and b* without a word)."""
    if not (isinstance(ab, (tuple, list)) or (isinstance(ab, np.ndarray) and ab.ndim == 1)) or len(ab) != 2:
        return None
    a, b = ab
    return (float(a), float(b)) if _finite(a) and _finite(b) else None


def _check_inside(points: list[tuple[float, float]], width: int, height: int, where: str) -> None:
    for i, (x, y) in enumerate(points):
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            raise InputError(f"{where}: points[{i}] at ({x:g}, {y:g}) is outside the {width}x{height} image")


def load_hints(path: str | os.PathLike, inside: tuple[int, int] | None = None) -> Hints:
    """A photo hints file -> Hints; InputError with one line naming the file and the bad entry (a point
    outside the (width, height) `inside`, where given)."""
    return Hints.from_obj(_read_json(Path(path)), str(path), inside)


@dataclass(frozen=True)
class VideoHints:
    """Hints on keyframes of a video: frame index -> Hints. A keyframe's hints hold until the next
    keyframe or scene cut, carried along the motion (vidcolor.hint_tracking); an empty keyframe ends them."""

    frames: dict[int, Hints] = field(default_factory=dict)

    def __bool__(self) -> bool:
        """Whether any keyframe has hints (an empty keyframe only ends the hints carried to it)."""
        return any(self.frames.values())

    @property
    def key(self) -> str:
        if not self.frames:
            return "none"
        blob = json.dumps({str(k): v.to_obj() for k, v in sorted(self.frames.items())}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_video_hints(path: str | os.PathLike) -> VideoHints:
    path = Path(path)
    obj = _video_hints_obj(path)
    return VideoHints({int(k): Hints.from_obj(v, f"{path}: frames[{k}]") for k, v in obj["frames"].items()})


def video_hints_outline(path: str | os.PathLike) -> VideoHints:
    """A video hints file checked and read without converting its colours (no torch): its keyframes, points
    and palettes with every a*b* left at 0, for checking them against the video before the model loads (a
    keyframe past the end took 5.5 s and 300 MB to refuse, torch loading to convert one colour)."""
    path = Path(path)
    frames = {}
    for k, v in _video_hints_obj(path)["frames"].items():
        points, palette = Hints.check_obj(v, f"{path}: frames[{k}]")
        frames[int(k)] = Hints(tuple(HintPoint(x, y, (0.0, 0.0), r) for x, y, _, r in points), tuple((0.0, 0.0) for _ in palette))
    return VideoHints(frames)


def _video_hints_obj(path: Path) -> dict:
    obj = _read_json(path)
    if not isinstance(obj, dict) or set(obj) != {"frames"} or not isinstance(obj["frames"], dict):
        raise InputError(f"{path}: a video hints file is {{\"frames\": {{\"<frame index>\": {{\"points\": [...]}}}}}}")
    seen: dict[int, str] = {}
    _check_count(sum(len(v.get(k)) for v in obj["frames"].values() if isinstance(v, dict)
                     for k in ("points", "palette") if isinstance(v.get(k), list)),
                 "points and palette colours on its keyframes", str(path), MAX_VIDEO_POINTS)
    for k, v in obj["frames"].items():  # every keyframe checked before any colour is converted (torch)
        if not re.fullmatch(r"\d+", str(k)):
            raise InputError(f"{path}: frames key {_short(k)} is not a frame index (0, 1, 2, ...)")
        if int(k) in seen:  # "0" and "00": one was dropped without a word (a reviewer's test)
            raise InputError(f"{path}: frames keys {seen[int(k)]!r} and {k!r} are the same frame")
        seen[int(k)] = k
        Hints.check_obj(v, f"{path}: frames[{k}]")
    return obj


def displayed_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) of a photo as displayed (EXIF orientation applied), from its header alone;
    None where the header cannot be read (reading the photo then reports why)."""
    from vidcolor.io.images import displayed_header_size

    return displayed_header_size(path)


def decode_hints(raw: bytes) -> str:
    """A hints file's bytes -> its text: UTF-8, with or without a byte-order mark (Windows Notepad's UTF-8), or
    UTF-16 or UTF-32 (json's own detection, as json.loads does for bytes). PowerShell 5's `echo ... > h.json`
    writes UTF-16 with a byte-order mark, and such a file was refused with "'utf-8' codec can't decode byte 0xff"
    (a hints user's find). UnicodeDecodeError for anything else."""
    return raw.decode(json.detect_encoding(raw))


def _read_json(path: Path):
    try:
        text = decode_hints(path.read_bytes())
    except FileNotFoundError:
        link = f" (a link to {os.readlink(path)}, which is missing)" if path.is_symlink() else ""
        raise InputError(f"{path}: hints file not found{link}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: cannot read hints file (not UTF-8 or UTF-16 text)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read hints file ({e.strerror or e})") from None
    return parse_json_text(text, str(path))


def parse_json_text(text: str, where: str):
    """Hints JSON text -> its object; InputError with one line naming `where` (a file, or the web page's
    `hints` field) for bad JSON, a key written twice in one object (json keeps the last without a word:
    the first one's points were dropped), an integer of over 4300 digits or nesting deeper than Python's
    stack (tracebacks, a reviewer's tests)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        raise InputError(f"{where}: bad JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except _DuplicateKey as e:
        raise InputError(f"{where}: key {e.args[0]!r} appears twice in one object") from None
    except (ValueError, RecursionError) as e:
        what = "nested too deeply" if isinstance(e, RecursionError) else str(e).split(";")[0]
        raise InputError(f"{where}: cannot read hints ({what})") from None


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


# -- network inputs ---------------------------------------------------------------------------------

def hint_map(hints: Hints | None, full_hw: tuple[int, int], work_hw: tuple[int, int], padded_hw: tuple[int, int]) -> torch.Tensor:
    """(1, 3, Hp, Wp) network hint input: a / AB_SCALE, b / AB_SCALE and the mask, at the working
    resolution (the image is work_hw there, padded at the bottom/right to padded_hw)."""
    import torch

    from vidcolor.color import AB_SCALE

    out = torch.zeros(1, HINT_CHANNELS, *padded_hw)
    if not hints or not hints.points:
        return out
    (h, w), (wh, ww) = full_hw, work_hw
    for p in hints.scaled(ww / w, wh / h).points:
        r = int(round(p.radius))
        cx, cy = int(round(min(max(p.x, 0), ww - 1))), int(round(min(max(p.y, 0), wh - 1)))
        ys, xs = slice(max(0, cy - r), min(wh, cy + r + 1)), slice(max(0, cx - r), min(ww, cx + r + 1))
        out[0, 0, ys, xs] = p.ab[0] / AB_SCALE
        out[0, 1, ys, xs] = p.ab[1] / AB_SCALE
        out[0, 2, ys, xs] = 1.0
    return out


def palette_vector(hints: Hints | None, bins: torch.Tensor) -> torch.Tensor:
    """(Q,) the palette as a distribution over the ab bins (soft-encoded, equal weight per colour);
    all zeros without a palette."""
    import torch

    from vidcolor.models.bins import soft_encode

    q = bins.shape[0]
    if not hints or not hints.palette:
        return torch.zeros(q)
    ab = torch.tensor(hints.palette, dtype=torch.float32).T[None, :, :, None]  # (1, 2, K, 1)
    return soft_encode(ab, bins)[0, :, :, 0].mean(1)


# -- sampling from ground truth (training, and the hints benchmark) ----------------------------------

def sample_hints(ab: np.ndarray, rng: np.random.Generator, n: int, max_half: int = 4, centre_sigma: float = 0.25) -> Hints:
    """n hints drawn from ground-truth ab (H, W, 2) as Zhang et al. 2017 do: locations from a 2-D
    Gaussian around the centre (sigma a quarter of each side), each the mean colour of a square patch
    of half-size 0..max_half pixels, which also becomes the hint's radius."""
    h, w = ab.shape[:2]
    pts = []
    for _ in range(n):
        cx = int(np.clip(round(rng.normal((w - 1) / 2, centre_sigma * w)), 0, w - 1))
        cy = int(np.clip(round(rng.normal((h - 1) / 2, centre_sigma * h)), 0, h - 1))
        r = int(rng.integers(0, max_half + 1))
        patch = ab[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1].reshape(-1, 2).mean(0)
        pts.append(HintPoint(float(cx), float(cy), (float(patch[0]), float(patch[1])), float(r)))
    return Hints(tuple(pts))


def sample_palette(ab: np.ndarray, rng: np.random.Generator, k: int) -> Hints:
    """A global palette of k colours picked from the image's own pixels, weighted by chroma."""
    flat = ab.reshape(-1, 2)
    c = np.hypot(flat[:, 0], flat[:, 1]) + 1e-3
    idx = rng.choice(len(flat), size=k, p=c / c.sum())
    return Hints((), tuple((float(flat[i, 0]), float(flat[i, 1])) for i in idx))
