"""The work the model thread does for a request: one photo, or one video job.

A photo goes through the same read_image -> Colorizer.colorize_array -> write_image path as
`vidcolor PHOTO -o OUT`, so a download from the page is the image a batch run with the same hints
file gives, format, size, bit depth and metadata included.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from vidcolor.tone import ColourScores, colour_photo_score
from vidcolor.colorizer import Colorizer
from vidcolor.errors import InputError
from vidcolor.hints import Hints
from vidcolor.io.images import lost_in, read_image, write_image
from vidcolor.serve.uploads import MEDIA_TYPE, ImageUpload, RequestError, room_for

TEMP_PREFIX = "vidcolor-serve-"


@dataclass
class PhotoResult:
    data: bytes
    media_type: str
    width: int
    height: int
    seconds: float
    colour: ColourScores | None  # set when the input is already a colour photo (a batch run skips it without --force)
    notes: list[str]  # what `vidcolor PHOTO -o OUT` prints after "done": what reading or the answer's format changed or dropped


def at_strength(colorizer: Colorizer, strength: float) -> Colorizer:
    return colorizer if strength == colorizer.strength else colorizer.with_strength(strength)


def colorize_upload(colorizer: Colorizer, up: ImageUpload, hints: Hints, strength: float, out_ext: str,
                    root: Path | None = None) -> PhotoResult:
    """Decode, colorize and encode one uploaded photo in a private temporary folder (under `root`, the
    server's own, removed at shutdown even while a photo still runs), removed afterwards."""
    t0 = time.perf_counter()
    with room_for(up.label), tempfile.TemporaryDirectory(prefix=TEMP_PREFIX, dir=root) as tmp:
        img, data = _colorize_in(Path(tmp), colorizer, up, hints, strength, out_ext)
        # the CLI's notes (folder._written's): the server dropped them, so a PNG's transparency lost to format=jpg or a
        # float TIFF answered in 16 bits went without a word (a web-studio tester's find)
        notes = [str(n).replace(str(Path(tmp) / f"{up.sha256}{up.ext}"), up.label) for n in [*img.notes, *lost_in(img, f"x{out_ext}")]]
    h, w = img.pixels.shape[:2]
    scores = colour_photo_score(img.pixels)  # on a 256 px thumbnail: cheap
    return PhotoResult(data, MEDIA_TYPE[out_ext], w, h, time.perf_counter() - t0, scores, notes)


def _colorize_in(tmp: Path, colorizer: Colorizer, up: ImageUpload, hints: Hints, strength: float, out_ext: str):
    """(the image read, the encoded answer), made in the folder `tmp`."""
    src = tmp / f"{up.sha256}{up.ext}"
    src.write_bytes(up.data)
    try:
        img = read_image(src)
    except InputError as e:  # corrupt or truncated: say so about the upload, not our temporary file
        raise RequestError(400, str(e).replace(str(src), up.label)) from None
    h, w = img.pixels.shape[:2]
    if hints:
        try:
            hints.check_inside(w, h, "hints")
        except InputError as e:
            raise RequestError(422, str(e)) from None
    out = at_strength(colorizer, strength).colorize_array(img.pixels, hints or None)
    dst = tmp / f"{up.sha256}.colorized{out_ext}"
    write_image(dst, out, img, colorizer.provenance)
    return img, dst.read_bytes()
