"""What the server accepts: bodies under a size limit, files identified by their content.

An upload's file name is never used: it is named by its sha256 and its detected format, in a folder
the server made, so no user-controlled path reaches the filesystem.
"""
from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import struct
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import tifffile
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

from vidcolor.errors import InputError, StorageError, VidcolorError, first_line
from vidcolor.hints import Hints, parse_json_text
from vidcolor.io.formats import still_brand
from vidcolor.io.images import PIL_FORMAT, frames_refused, is_tiff, pil_orientation, pillow_limit, tiff_header
from vidcolor.options import STRENGTH
from vidcolor.serve.gate import refuse

# Detected format -> (extension, media type). The extension is the one read_image/write_image key on.
IMAGE_FORMATS = {"JPEG": (".jpg", "image/jpeg"), "PNG": (".png", "image/png"), "TIFF": (".tif", "image/tiff"),
                 "WEBP": (".webp", "image/webp"), "BMP": (".bmp", "image/bmp")}
MEDIA_TYPE = {ext: media for ext, media in IMAGE_FORMATS.values()} | {".jpeg": "image/jpeg", ".tiff": "image/tiff"}
# What Pillow names a kind of file that read_image reads as one of IMAGE_FORMATS: a phone camera's JPEG with a second
# picture after the first (a depth map, a preview: Multi-Picture Format) is "MPO" to Pillow, and a JPEG to the CLI,
# which colorizes its first picture; the server refused it as "MPO images are not supported" (a web-studio tester's find)
PILLOW_ALIASES = {"MPO": "JPEG"}
NOT_SUPPORTED = "images are not supported (JPEG, PNG, TIFF, WebP, BMP)"
FORM_SLACK = 64 * 1024  # multipart boundaries and the small fields beside the file


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # a full disk or quota, or a file-size limit on the server


def out_of_room(e: BaseException | None) -> bool:
    """Whether a failed write was the server's storage, not the request: its disk, quota or file-size limit."""
    # (a file-size limit is no StorageError to the CLI: an OutputError, its OSError the cause)
    return isinstance(e, StorageError) or any(getattr(x, "errno", None) in NO_ROOM for x in (e, getattr(e, "__cause__", None)))


def no_room(what: str, e: BaseException) -> RequestError:
    """507 for `what` (an upload) that the server had no room to store or colorize. With a full temporary
    folder an upload was answered 400 "There was an error parsing the body", blaming the client, and a photo
    500 naming the server's temporary file (a new user's test)."""
    cause = e if getattr(e, "errno", None) in NO_ROOM else e.__cause__
    reason = os.strerror(cause.errno) if getattr(cause, "errno", None) in NO_ROOM else "its disk or quota is full"
    return RequestError(507, f"{what}: the server has no room to store it ({reason}); try again later, or ask the "
                             "server's operator to free space in its temporary folder")


@contextmanager
def room_for(what: str):
    """A write that found no room on the server (an OSError; write_image's OutputError or StorageError) is
    no_room's 507; any other error goes on as it is."""
    try:
        yield
    except (OSError, VidcolorError) as e:
        if out_of_room(e):
            raise no_room(what, e) from None
        raise


@dataclass(frozen=True)
class ImageUpload:
    data: bytes
    sha256: str
    ext: str  # from the detected format, never from the file name
    width: int  # as stored (before any EXIF rotation)
    height: int
    displayed: tuple[int, int]  # (width, height) as shown, after the EXIF rotation: what hints point at
    orientation: int = 1  # the EXIF (or XMP, or TIFF tag) orientation read_image applies

    @property
    def label(self) -> str:
        return f"upload {self.sha256[:12]}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPE[self.ext]


VIDEO_HEAD_BYTES = 377  # enough for three MPEG-TS packets' sync bytes
PILLOW_VIDEO_FORMATS = {"MPEG"}  # Pillow identifies an MPEG-1 video stream by its sequence header


def starts_like_a_video(head: bytes) -> bool:
    """Whether a file's first bytes are a video container's: an MP4/MOV box, Matroska/WebM's EBML header,
    AVI, FLV, Ogg, an MPEG program stream, or MPEG-TS sync bytes every 188. Tells a damaged video (400,
    like a truncated photo) from something that is no video at all (415), and a video sent as a photo. An
    `ftyp` box branded as a still image is no video: an iPhone's HEIC photo was sent to /api/jobs."""
    return ((head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip") and still_brand(head) is None)
            or head.startswith((b"\x1a\x45\xdf\xa3", b"FLV", b"OggS", b"\x00\x00\x01\xba"))
            or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
            or (len(head) >= VIDEO_HEAD_BYTES and head[0] == head[188] == head[376] == 0x47))


def sniff_image(data: bytes, max_pixels: float) -> ImageUpload:
    """Check an uploaded photo from its header alone (no decoding): a supported format, not too many pixels."""
    sha = hashlib.sha256(data).hexdigest()
    label = f"upload {sha[:12]}"
    if not data:
        raise RequestError(400, f"{label}: empty file (0 bytes)")
    buf = io.BytesIO(data)
    tiff = is_tiff(buf)
    try:
        if tiff:  # by tifffile, as read_image reads TIFFs: Pillow opened no float16 TIFF (a new user's test), and
            head = tiff_header(buf)  # gives a TIFF stored on its side its displayed size already (a reviewer's)
            fmt, (w, h), orientation, refused = "TIFF", head.size, head.orientation, head.refused
            if head.by_pillow and not refused:  # read_image hands it to Pillow: one Pillow cannot open is no image
                with pillow_limit(), Image.open(buf):
                    pass
        else:
            with pillow_limit(), Image.open(buf) as im:
                fmt, (w, h) = PILLOW_ALIASES.get(im.format, im.format), im.size
                orientation = pil_orientation(im)  # as read_image turns it
                refused = frames_refused(im)  # an animation, refused here rather than after a wait in the queue
    except UnidentifiedImageError:
        if brand := still_brand(data[:VIDEO_HEAD_BYTES]):  # a HEIC, or an AVIF where Pillow lacks the codec
            raise RequestError(415, f"{label}: {brand} {NOT_SUPPORTED}") from None
        if starts_like_a_video(data[:VIDEO_HEAD_BYTES]):
            raise RequestError(415, f"{label}: not an image (a video: videos go to /api/jobs)") from None
        raise RequestError(415, f"{label}: not an image (unrecognised format)") from None
    except Image.DecompressionBombError as e:  # past what Pillow opens at all: the header's count is in its message
        raise RequestError(413, f"{label}: image has {bomb_pixels(e)}, {pixels_over_limit(max_pixels)}; {SCALE_DOWN}") from None
    except (OSError, SyntaxError, ValueError, tifffile.TiffFileError, struct.error, zlib.error, KeyError, IndexError,
            TypeError, AttributeError) as e:
        # as read_image says it (io/images.py _reading): a TIFF whose tags hold what tifffile hands back unparsed (a
        # photometric of 99 is an int, not a name) raised AttributeError here, a plain-text 500 and a reset
        # connection, where the CLI refuses it in one line (an IT admin's fuzzing)
        if isinstance(e, (KeyError, IndexError, TypeError, AttributeError)) and tiff:
            raise RequestError(400, f"{label}: corrupt or unsupported TIFF (its tags hold what this reader cannot use: "
                                    f"{type(e).__name__}: {first_line(e)})") from None
        if isinstance(e, AttributeError):  # from Pillow on another format: a defect, as read_image treats it
            raise
        raise RequestError(400, f"{label}: corrupt image header ({first_line(e)})") from None
    if fmt not in IMAGE_FORMATS:
        raise RequestError(415, f"{label}: {fmt} {NOT_SUPPORTED}")
    if refused:  # what read_image refuses from the header: 415, a file of a kind not taken, not a corrupt one
        raise RequestError(415, f"{label}: {refused}")
    if w * h > max_pixels:
        raise RequestError(413, f"{label}: image is {w}x{h}, {pixels_over(w, h, max_pixels)}; {SCALE_DOWN}")
    # an orientation outside 1-8 (0, 9, 65535: a camera's or an editor's bad EXIF) turns nothing in read_image; the
    # header named it all the same, and the page ran the model a second time for a "before" of the server's own
    # (a web-studio tester's find)
    orientation = orientation if 1 <= orientation <= 8 else 1
    turned = orientation in (5, 6, 7, 8)  # displayed a quarter turn from how it is stored
    return ImageUpload(data, sha, IMAGE_FORMATS[fmt][0], w, h, (h, w) if turned else (w, h), orientation)


@dataclass(frozen=True)
class StillOrAnimation:
    format: str  # as Pillow names it, or an ISO-BMFF brand's (HEIC)
    frames: int


def identify_image(path) -> StillOrAnimation | None:
    """What image a file sent as a clip is, None for what is no image (a video). FFmpeg reads a still AVIF or
    a one-frame GIF as a one-frame clip, and a video container's magic outranks Pillow's weaker guesses."""
    with open(path, "rb") as f:
        head = f.read(VIDEO_HEAD_BYTES)
    if brand := still_brand(head):
        return StillOrAnimation(brand, 1)
    if starts_like_a_video(head):
        return None
    try:
        with pillow_limit(), Image.open(path) as im:
            if im.format in PILLOW_VIDEO_FORMATS:
                return None
            if im.format in PILLOW_ALIASES:  # read as one picture, as a photo
                return StillOrAnimation(PILLOW_ALIASES[im.format], 1)
            return StillOrAnimation(im.format, getattr(im, "n_frames", 1))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return None


def not_a_clip(fmt: str, frames: int = 1) -> str:
    """Why /api/jobs refuses an image, sending it to /api/colorize only where that endpoint takes it."""
    if frames > 1:  # FFmpeg reads one picture of it (an animated WebP)
        return f"not a video (a {fmt} of {frames} frames/pages, which vidcolor reads neither as a clip nor as a photo)"
    if fmt in IMAGE_FORMATS:
        return "not a video (a still image: photos go to /api/colorize)"
    return f"not a video (a still image in a format vidcolor does not read: {fmt})"


MAX_HINT_POINTS = 1000  # a person clicks tens; 16,000 took 3.5 s to parse (a colour conversion each)
MAX_PALETTE = 64


def parse_hints(text: str | None) -> Hints:
    """The `hints` form field (the --hints file format) -> Hints; 422 with one line naming the entry.
    Blocking (each colour is converted to Lab): run it in a thread, not on the event loop."""
    if text is None or not text.strip():
        return Hints()
    # a hints file's text sent as the field (a script's open(path).read(), curl -F 'hints=<file') keeps a byte-order
    # mark that Windows Notepad saved, which --hints and a file part read: it was 422 "Unexpected UTF-8 BOM (decode
    # using utf-8-sig)" (a web-studio tester's find)
    text = text.removeprefix("\ufeff")
    try:
        obj = parse_json_text(text, "hints")  # as a hints file is read (an integer of 5,000 digits was a 500)
    except InputError as e:
        raise RequestError(422, str(e)) from None
    for key, most in (("points", MAX_HINT_POINTS), ("palette", MAX_PALETTE)):
        if isinstance(obj, dict) and isinstance(obj.get(key), list) and len(obj[key]) > most:
            raise RequestError(422, f"hints: {len(obj[key])} {key} entries, over this server's limit of {most}")
    try:
        return Hints.from_obj(obj, "hints")
    except InputError as e:
        raise RequestError(422, str(e)) from None


def check_strength(strength: float | None, default: float) -> float:
    if strength is None:
        return default
    # the CLI's range (--strength, 0 to 3): the server's own limit of 2 refused a strength a batch run took, and
    # named 2.0000001 "got 2" (a new user's test)
    lo, hi = STRENGTH
    if not lo <= strength <= hi:
        raise RequestError(422, f"strength must be between {lo:g} and {hi:g} (as --strength), got {strength!r}")
    return float(strength)


def output_ext(fmt: str | None, upload: ImageUpload) -> str:
    """The answer's format: the input's own, or one the request names (the page asks for PNG to show a TIFF)."""
    if fmt is None:
        return upload.ext
    ext = "." + fmt.lower().lstrip(".")
    if ext not in PIL_FORMAT:
        raise RequestError(422, f"unknown format {fmt!r} (jpg, png, tif, webp, bmp)")
    return {"JPEG": ".jpg", "TIFF": ".tif"}.get(PIL_FORMAT[ext], ext)


class BodyLimit:
    """ASGI middleware: refuse a request body over its route's limit while it streams in, before the
    form parser spools it to disk. A declared Content-Length over the limit is refused unread. A
    multipart body that ends before its closing boundary is refused as truncated (400): the form
    parser dropped the cut part without a word, and the answer was 422 "file: Field required"."""

    def __init__(self, app, limit_for: Callable[[str], tuple[int, str]]):
        self.app = app
        self.limit_for = limit_for  # path -> (bytes of the whole body, what they are made of)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, what = self.limit_for(scope["path"])
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await refuse(send, 413, f"request body of {int(declared):,} bytes (Content-Length) is over the limit "
                                           f"of {limit:,} bytes: {what}")
        closing = multipart_closing(headers.get("content-type"))
        seen, tail, closed = 0, b"", False
        started = False

        async def counted():
            nonlocal seen, tail, closed
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                seen += len(body)
                if seen > limit:
                    raise _Refused(413, f"request body passed the limit of {limit:,} bytes: {what}")
                if closing and not closed:  # the boundary never occurs in the parts: once seen, the rest is an epilogue
                    window = tail + body
                    closed, tail = closing in window, window[-len(closing):]
                    if not message.get("more_body", False) and not closed:
                        raise _Refused(400, "truncated upload: the multipart body ends before its closing boundary")
            return message

        async def watch(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except _Refused as e:  # raised outside a route's exception handling (routes answer it themselves)
            if started:
                raise
            await refuse(send, e.status_code, e.detail)


def multipart_closing(content_type: str | None) -> bytes | None:
    """The closing delimiter (--BOUNDARY--) of a multipart/form-data body, None for other bodies."""
    ctype = (content_type or "").strip()
    if not ctype.lower().startswith("multipart/form-data"):
        return None
    for param in ctype.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value.strip('"'):
            return b"--" + value.strip('"').encode("latin-1") + b"--"
    return None


class _Refused(HTTPException):
    # An HTTPException, so that FastAPI's form parsing passes it on (it turns other errors into a 400)
    # and the app's handler answers it with the one-line reason.
    def __init__(self, status: int, detail: str):
        super().__init__(status, detail)


def pixels_over(w: int, h: int, limit: float) -> str:
    """The tail of a refusal for a picture over --max-megapixels, in whole pixels: "(0.1 Mpx), over the
    limit of 0.1 Mpx" read as a contradiction (a new user's test)."""
    return f"{w * h:,} pixels, {pixels_over_limit(limit)}"


def pixels_over_limit(limit: float) -> str:
    return f"over the limit of {limit / 1e6:g} Mpx ({round(limit):,} pixels; --max-megapixels)"


SCALE_DOWN = "send a copy scaled down to fit"


def bomb_pixels(e: Image.DecompressionBombError) -> str:
    """How many pixels an image Pillow would not open declares, from its message ("Image size (N pixels) exceeds
    limit of M pixels, ..."): the page said only "image has too many pixels", giving neither (a web tester's find)."""
    found = re.search(r"\((\d+) pixels\)", str(e))
    return f"{int(found[1]):,} pixels" if found else "too many pixels to open"
