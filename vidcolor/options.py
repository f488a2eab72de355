"""What a run is asked to do, and what it reports: the option dataclasses and Result.

This module imports nothing heavy (no torch, no codecs), so the CLI can build its options and show
`vidcolor --help` with the defaults below without loading torch or PyAV.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import re
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from vidcolor.errors import UsageError
from vidcolor.io.formats import FORMAT_EXT

SEGMENT_SECONDS = 10.0  # resumable unit of video encoding

# The ranges the CLI's options take, and the library's checks of the same values (one definition).
STRENGTH = (0.0, 3.0)  # colour strength
TEMPORAL_STRENGTH = (0.0, 0.99)
WORK_SIZE = (64, 2048)  # short side the network sees
BATCH_SIZE = (1, 256)
SEGMENT_RANGE = (0.1, 3600.0)


def in_range(name: str, value, bounds: tuple[float, float], integer: bool = False):
    """`value` if it is a number within `bounds` (an int where `integer`), else UsageError naming the
    option as the CLI does: nan, inf, strings and booleans are refused, not half of them. numpy's numbers
    are taken, as hints take them, and come back as plain ones (np.int64(128) and np.float32(1.5) were
    refused as "not a whole number from 64 to 2048" and "not a number from 0 to 3": a library user's test)."""
    lo, hi = bounds
    number = None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):  # numpy registers its numbers as Real
        with contextlib.suppress(OverflowError):  # an int too large for a float
            number = float(value)
    if number is None or not math.isfinite(number) or (integer and not number.is_integer()) or not lo <= number <= hi:
        kind = "a whole number" if integer else "a number"
        raise UsageError(f"{name} {value!r}: not {kind} from {lo:g} to {hi:g}")
    return int(number) if integer else number


def check_number(opts, name: str, flag: str, bounds: tuple[float, float], integer: bool = False) -> None:
    """`in_range` on an option field, stored back as the plain number where a numpy one was given (a plain
    int or float is kept as given: journal keys hold some of them, and crf=20.0 keeps its key). An int or
    float of another type, taken before numpy's others were, stays an int or a float: np.float64(20.0), a
    float, is crf=20.0 (stored as the int 20 it had changed the key, "crf=20.0" to "crf=20", and a film
    finished with it was redone from the start: a review)."""
    value = getattr(opts, name)
    checked = in_range(flag, value, bounds, integer)
    if type(value) not in (int, float):
        setattr(opts, name, float(value) if isinstance(value, float) else int(value) if isinstance(value, int) else checked)


def check_flags(opts, names: tuple[str, ...]) -> None:
    """UsageError for a flag that is not True or False: `overwrite="no"` is a true string, and it redid and
    replaced outputs (a library user's test)."""
    for name in names:
        value = getattr(opts, name)
        if type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"):  # numpy 2's and 1's
            setattr(opts, name, value := bool(value))  # taken, as hints take numpy numbers (without importing numpy)
        if not isinstance(value, bool):
            raise UsageError(f"{type(opts).__name__}({name}={value!r}): takes True or False")


def run_options(video: VideoOptions, folder: FolderOptions) -> tuple[VideoOptions, FolderOptions]:
    """The two option objects with `dry_run` made the whole run's, whichever one says it, and the folder's
    `overwrite` its videos' too (the CLI sets both): FolderOptions(dry_run=True) colorized and wrote a folder's
    videos, and a lone video, in full, VideoOptions(dry_run=True) a photo, and FolderOptions(overwrite=True)
    left a folder's videos as they were (a library user's test). A VideoOptions' overwrite stays the videos':
    it replaced the user's photos in the output folder (a review)."""
    dry_run = video.dry_run or folder.dry_run
    return (replace(video, dry_run=dry_run, overwrite=video.overwrite or folder.overwrite), replace(folder, dry_run=dry_run))


class Temporal(str, Enum):
    """Temporal smoothing of colour across frames (vidcolor.temporal has one smoother per member)."""

    off = "off"
    ema = "ema"
    flow = "flow"


class Upsample(str, Enum):
    """Chroma upsampling to full size: edge-aware with L as guide, or plain bilinear."""

    guided = "guided"
    bilinear = "bilinear"


# VideoOptions' fields that apply to videos only (a photo given alone with one refuses it), with their flags
VIDEO_ONLY = {"temporal": "--temporal", "temporal_strength": "--temporal-strength", "codec": "--codec", "crf": "--crf",
              "preset": "--preset", "segment_seconds": "--segment-seconds"}
# FolderOptions' fields that apply to photos only, with their flags: a video has no colour test to skip it by
# (the CLI refuses them for a video given alone; the library takes folder= with a video, as the README shows)
PHOTO_ONLY = {"force": "--force", "copy_skipped": "--copy-skipped"}


@dataclass
class VideoOptions:
    temporal: str = "flow"  # chosen by measurement: docs/video.md, "Measured"
    temporal_strength: float | None = None  # None: the mode's own default
    codec: str | None = None  # video encoder; None: the output container's own (libx264, VP9 for WebM)
    crf: int | None = None  # None: the encoder's default (18 for x264/x265, 32 for VP9)
    preset: str | None = None  # None: the encoder's default ("medium" for x264/x265)
    batch_size: int = 4
    segment_seconds: float = SEGMENT_SECONDS  # resumable unit of encoding
    overwrite: bool = False
    dry_run: bool = False

    def __post_init__(self) -> None:  # the CLI's checks, for library callers too
        if isinstance(self.temporal, Temporal):  # the mode's name: f"{Temporal.ema}" is "Temporal.ema" in journal keys
            self.temporal = self.temporal.value
        if self.temporal not in {t.value for t in Temporal}:
            raise UsageError(f"--temporal {self.temporal!r}: choose from {', '.join(t.value for t in Temporal)}")
        if self.temporal_strength is not None:
            check_number(self, "temporal_strength", "--temporal-strength", TEMPORAL_STRENGTH)
            if self.temporal == Temporal.off.value:  # it was taken without effect
                raise UsageError("--temporal-strength: applies to --temporal ema and flow, not off")
        check_number(self, "batch_size", "--batch-size", BATCH_SIZE, integer=True)
        check_number(self, "segment_seconds", "--segment-seconds", SEGMENT_RANGE)
        if self.crf is not None:
            check_number(self, "crf", "--crf", (0, 63), integer=True)  # each encoder's own ceiling: io.plan
        for name in ("codec", "preset"):  # codec=5 raised TypeError from PyAV, preset=5 AttributeError
            if (value := getattr(self, name)) is not None and not isinstance(value, str):
                raise UsageError(f"VideoOptions({name}={value!r}): takes {'an encoder' if name == 'codec' else 'a preset'} name (a string)")
        check_flags(self, ("overwrite", "dry_run"))


@dataclass
class FolderOptions:
    fmt_ext: str | None = None  # ".png", "png", "JPEG" etc. (kept as ".png", ".jpeg"...); None keeps each input's format
    overwrite: bool = False  # redo finished outputs, and replace files that vidcolor did not write
    force: bool = False  # colorize images that are already in colour
    copy_skipped: bool = True  # copy a photo skipped as already in colour to the output, unchanged
    dry_run: bool = False  # list what would be done; touch nothing
    batch_size: int = 4  # images per network batch (grouped by working resolution)

    def __post_init__(self) -> None:
        check_number(self, "batch_size", "--batch-size", BATCH_SIZE, integer=True)
        check_flags(self, ("overwrite", "force", "copy_skipped", "dry_run"))
        if self.fmt_ext is not None:  # "png" raised pathlib's ValueError, ".gif" failed every photo after the model loaded
            key = str(self.fmt_ext).lower().removeprefix(".")  # (a library user's test); ".tiff" stays ".tiff", as the
            if key not in FORMAT_EXT:  # outputs a nightly run journaled were named (".tif" would redo them all: a review)
                raise UsageError(f"--format {self.fmt_ext}: not an image format vidcolor writes ({', '.join(sorted(FORMAT_EXT))})")
            self.fmt_ext = "." + key


@dataclass
class Result:
    input: Path
    output: Path | None
    status: str  # "done", "failed", "skipped" (or "planned" in a dry run)
    seconds: float = 0.0
    frames: int = 0  # frames in the output (1 for a photo)
    error: str | None = None
    note: str | None = None
    notes: list[str] = field(default_factory=list)
    frames_resumed: int = 0  # of `frames`, how many an earlier, interrupted run had already encoded

    @property
    def frames_processed(self) -> int:
        """Frames this run decoded, colorized and encoded itself."""
        return self.frames - self.frames_resumed

    @property
    def fps(self) -> float:
        """Frames per second of the frames this run processed itself (not those it resumed from)."""
        done = self.frames_processed
        return done / self.seconds if done > 0 and self.seconds > 0 else 0.0


_SEGMENT_SECONDS_IN_KEY = re.compile(r"\|seg[0-9.]+(?=\||$)")
# VideoOptions(temporal=Temporal.ema) was stored as the enum, whose f-string (Python 3.11 on) put
# "temporal=Temporal.ema" in the key until 2026-11-28; the mode's name is there since
_TEMPORAL_ENUM_IN_KEY = re.compile(r"\|temporal=Temporal\.(?=[a-z]+:)")


def same_key(recorded: str | None, key: str) -> bool:
    """Whether a recorded key (a journal entry's, a video's segments log) is `key`; one written while
    --segment-seconds was part of it is read without its "|segN": it changes no frame (the journal's since
    2026-11-27), and segments of any length join (the segments' since 2026-11-28: a run resumed with another
    --segment-seconds had thrown the finished ones away, a new user's test). One written with the temporal
    mode as the enum ("temporal=Temporal.ema") is read as its name: storing the name alone would have
    redone a library user's finished films and thrown away their segments (a review)."""
    if recorded is None or recorded == key:
        return recorded is not None
    return _TEMPORAL_ENUM_IN_KEY.sub("|temporal=", _SEGMENT_SECONDS_IN_KEY.sub("", recorded)) == key


# The parts of a resume key (Colorizer.model_id, then "|name=value" parts: the format, hints, a video's smoothing and
# encoding), named as a user set them; what the journal cannot tell apart (an unknown field) is "other settings".
_MODEL_ID_PARTS = ((re.compile(r"ws(\d+)"), "--work-size"), (re.compile(r"[tbc][0-9.-]+"), "the weights' decoding settings"),
                   (re.compile(r"r(\d+)"), "vidcolor rendering"), (re.compile(r"s([0-9.]+)"), "--strength"),
                   (re.compile(r"flip"), "mirror averaging (Colorizer.flip)"), (re.compile(r"bilinear|guided|[a-z_]+"), "upsampler"))
_KEY_PART_NAMES = {"fmt": "--format", "hints": "hints", "temporal": "temporal smoothing"}


def _key_parts(key: str) -> dict[str, str]:
    """A key's parts by what a user would call them: {"weights": "effnet_unet:0123...", "--strength": "1.500", ...};
    the values of a part with several settings (the decoding's temperature, blend, confidence) joined."""
    head, *rest = _TEMPORAL_ENUM_IN_KEY.sub("|temporal=", _SEGMENT_SECONDS_IN_KEY.sub("", key)).split("|")
    fields = head.split(":")
    parts = {"weights": ":".join(fields[:2]), "--strength": "1", "mirror averaging (Colorizer.flip)": "off"}  # absent: the defaults
    for f in fields[2:]:
        for pattern, name in _MODEL_ID_PARTS:
            if m := pattern.fullmatch(f):
                value = m.group(1) if m.groups() else f
                value = f"{float(value):g}" if name == "--strength" else value  # "s1.500" and the default's absence: 1.5, 1
                parts[name] = f"{parts[name]}:{value}" if name in parts and name not in ("--strength", "mirror averaging (Colorizer.flip)") else value
                break
    for part in rest:
        name, _, value = part.partition("=")
        if name in _KEY_PART_NAMES:
            parts[_KEY_PART_NAMES[name]] = value
        else:  # a film's encoding ("libx264:yuv420p:1/25:crf=18,preset=medium")
            parts["video encoding"] = part
    return parts


def key_differences(recorded: str, key: str) -> list[str]:
    """What differs between a recorded key and `key`, in words ("another vidcolor rendering (2, now 3)", "another
    --strength (1, now 1.5)"), for the line that says how many finished outputs a run redoes, and why. Empty where
    the keys are the same (`same_key`)."""
    if same_key(recorded, key):
        return []
    was, now = _key_parts(recorded), _key_parts(key)
    if "vidcolor rendering" not in was:  # keys written before the rendering had a version (2026-11-28): 1
        was["vidcolor rendering"] = "1"
    for parts in (was, now):
        if parts.get("--format") == "None":
            parts["--format"] = "the input's"
    said = []
    for name in dict.fromkeys([*now, *was]):
        if was.get(name) != now.get(name):
            if name in ("weights", "the weights' decoding settings", "hints"):
                said.append(f"other {name}" if name != "the weights' decoding settings" else "other decoding settings")
            else:
                said.append(f"another {name} ({was.get(name, 'none')}, now {now.get(name, 'none')})")
    return said or ["other settings"]
