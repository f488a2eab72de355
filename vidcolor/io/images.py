"""Image files as archives hold them: read into RGB of the file's own depth (8 or 16 bit) with alpha
and metadata, and write the result back in the same format, atomically.

PIL reads and writes 8-bit images with their metadata. PIL silently reduces 16-bit colour PNG and
TIFF to 8 bits, so 16-bit PNGs go through OpenCV (metadata chunks added by hand) and 16-bit TIFFs
through tifffile.
"""
from __future__ import annotations

import contextlib
import io
import threading
import logging
import os
import re
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import tifffile

# PIL warns (UserWarning, to stderr) about damaged EXIF entries it reads past, in places of its own too
# (a JPEG's dpi): those lines broke the run's one line per input. `_metadata` notes what was dropped. A
# filter set once, not a catch_warnings around each read: that swaps process-wide state under the other
# threads (the reader is one of several).
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")
# tifffile logs what it reads past in a damaged TIFF ("missing data ByteCounts tag", "<TiffTag.fromfile> raised
# TiffFileError(...)"), at WARNING and, since 2023, at ERROR: a dozen lines on stderr per broken TIFF, beside the
# run's line for that file, and in `vidcolor serve`'s log for each such upload (a deployer's test). What it cannot
# read past it raises, and that is the one line (an InputError, `_reading`; the server's 400)
logging.getLogger("tifffile").setLevel(logging.CRITICAL)
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from vidcolor.errors import InputError, OutputError, StorageError, first_line, out_of_space
from vidcolor.io.icc import MatrixProfile, matrix_profile
from vidcolor.io.formats import FORMAT_EXT, IMAGE_EXTS, IMAGE_FORMAT, is_image_path  # noqa: F401  (re-exported)
from vidcolor.io.paths import durable_replace, input_problem, stat_key, temp_output_path

PIL_FORMAT = IMAGE_FORMAT
SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}
JPEG_QUALITY = 95
MAX_PIXELS = 1_000_000_000  # archival scans are big; beyond a gigapixel we refuse rather than exhaust memory
CV2_LOG_SILENT = 0  # cv2.utils.logging.LOG_LEVEL_SILENT in 5.0; 4.x has the number alone
_limit_lock = threading.Lock()
_limit_users = 0
_host_limit: int | None = None


@contextlib.contextmanager
def pillow_limit():
    """Pillow's decompression-bomb limit raised (to twice MAX_PIXELS: Pillow warns above its limit, and
    photos above MAX_PIXELS are refused in one line by `_check_memory`, from their header) for vidcolor's
    own reads only, then given back. Hold it over the whole read: Pillow checks again when a TIFF loads.
    Set for good at import, it had turned the protection off for a host application's own Pillow code (a
    library tester's). Other threads of the process see the raised limit while a vidcolor read is under way."""
    global _limit_users, _host_limit
    with _limit_lock:
        if _limit_users == 0:
            _host_limit = Image.MAX_IMAGE_PIXELS
            if _host_limit is not None and _host_limit < PILLOW_LIMIT:
                Image.MAX_IMAGE_PIXELS = PILLOW_LIMIT
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0 and Image.MAX_IMAGE_PIXELS == PILLOW_LIMIT:
                Image.MAX_IMAGE_PIXELS = _host_limit


PILLOW_LIMIT = 2 * MAX_PIXELS
# Pillow warns between its limit and twice it: with ours, a 3-gigapixel header printed a raw warning before
# the one-line refusal. Only a warning naming our limit is hidden; a host's own limit still warns.
warnings.filterwarnings("ignore", message=rf"Image size \(\d+ pixels\) exceeds limit of {PILLOW_LIMIT} pixels",
                        category=Image.DecompressionBombWarning)


EXIF_ORIENTATION = 0x0112
EXIF_SOFTWARE = TIFF_SOFTWARE = 0x0131  # where an output names what made it (`write_image`'s made_by)
EXIF_IFD, EXIF_PIXEL_X, EXIF_PIXEL_Y = 0x8769, 0xA002, 0xA003  # the Exif sub-IFD and its PixelX/YDimension
EXIF_ERRORS = (SyntaxError, ValueError, TypeError, KeyError, OSError, struct.error, UnicodeDecodeError)  # what PIL raises for a bad block
TIFF_ICC, TIFF_XMP = 34675, 700
TIFF_IPTC = 33723  # IPTC-NAA: the caption, credit and keywords block that Photoshop, Bridge and DAM tools write
# An archive's captions and credits: TIFF text tags (DocumentName, ImageDescription, DateTime, Artist,
# Copyright) copied as they are; a new user's scans had lost them, with JPEG comments, IPTC and PNG text. And the
# scanner's or camera's Make and Model, which a TIFF had lost without a word (an archivist's test)
TIFF_TEXT_TAGS = {269: "DocumentName", 270: "ImageDescription", 271: "Make", 272: "Model", 306: "DateTime", 315: "Artist",
                  33432: "Copyright"}
TIFF_EXIF_IFDS = {34665: "EXIF", 34853: "GPS"}  # a TIFF's EXIF and GPS sub-IFDs: not copied, and a note says so
PNG_XMP_KEY = "XML:com.adobe.xmp"


@dataclass
class ImageData:
    pixels: np.ndarray  # (H, W, 3) uint8 or uint16 RGB, as displayed (EXIF orientation applied)
    alpha: np.ndarray | None = None  # (H, W), same dtype as pixels, kept as is
    info: dict = field(default_factory=dict)  # icc_profile, exif, xmp, dpi: copied where the format allows
    source_mode: str = "RGB"
    notes: list[str] = field(default_factory=list)  # what reading had to drop or work around
    stat: dict | None = None  # the file's size and mtime_ns as it was before reading (what the journal records)
    profile: MatrixProfile | None = None  # the ICC profile `pixels` were converted into sRGB from (`_in_srgb`)
    stored: np.ndarray | None = None  # then, the pixels as displayed in that profile, which writing starts from

    @property
    def bits(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8


# -- reading ---------------------------------------------------------------------------------------

def read_image(path: str | os.PathLike) -> ImageData:
    path = Path(path)
    with _reading(path), pillow_limit():  # over the whole read: a TIFF is checked again as it loads
        st = path.stat()  # before reading: a scan replaced while it is read or colorized is not journaled as done
        _check_memory(path)
        ext = path.suffix.lower()
        if ext in (".tif", ".tiff"):
            img = _read_tiff(path)
        elif ext == ".png" and _check_png_pixel_data(path) == 16:
            img = _read_png16(path)
        else:
            img = _read_pil(path)
    img.stat = stat_key(st)
    return _in_srgb(img)


def _in_srgb(img: ImageData) -> ImageData:
    """The pixels in sRGB, the space vidcolor colours in, where the photo's ICC profile is a matrix/TRC one
    other than sRGB; `write_image` converts the result back into it (`vidcolor.io.icc`). A gray profile
    becomes an RGB one of its tone curve. Another profile is kept only where it describes RGB (its
    header's colour space, bytes 16-20): a gray scan's profile copied onto the colour output made it
    invalid ("cannot build transform" in a colour-managed viewer; a new user's test), as a CMYK one would
    (`_from_pil` drops those)."""
    data = img.info.get("icc_profile")
    if not data:
        return img
    profile = matrix_profile(data)
    if profile is None:  # (not `_converted`: what is kept of another profile depends on its kind)
        if data[16:20] != b"RGB ":
            del img.info["icc_profile"]
            space = data[16:20].decode("latin-1", "replace").strip() or "unknown"
            img.notes.append(f"its {space} ICC profile dropped: it does not describe the colour output")
        else:
            img.notes.append("its RGB ICC profile is kept, but vidcolor does not convert it (not a matrix profile, or one "
                             "it cannot read): the colours were computed as sRGB values")
        return img
    if profile.is_srgb():
        return img
    img.stored, img.profile = img.pixels, profile
    img.pixels = profile.to_srgb(img.pixels)
    img.info["icc_profile"] = profile.data
    if profile.gray:
        img.notes.append(f"its GRAY ICC profile{f' ({profile.name})' if profile.name else ''} written as an RGB "
                         "profile of the same tone curve")
    return img


def _converted(data: bytes | None) -> MatrixProfile | None:
    """The profile `_in_srgb` converts a photo's pixels from, given its ICC profile: a matrix one other than sRGB."""
    profile = matrix_profile(data) if data else None
    return None if profile is None or profile.is_srgb() else profile


def _in_profile(rgb: np.ndarray, like: ImageData) -> np.ndarray:
    """A result in sRGB (vidcolor's colours) converted into the photo's own profile: the original's values
    plus the change in the profile's terms, so that what vidcolor left as it was (a gray pixel given no
    colour) is the original's value exactly, not one that went through sRGB's 8 bits and back (dark
    Gray Gamma 2.2 levels 1-13 share sRGB's levels 0-3)."""
    return like.profile.change_from_srgb(rgb, like.pixels, like.stored)


def check_image(path: str | os.PathLike) -> None:
    """Refuse a photo read_image would refuse from its header alone (no decoding), with read_image's
    words: missing, empty, not an image, too large, a corrupt header. A single photo is checked so
    before the model loads; a file cut short in its pixel data still fails when it is read."""
    path = Path(path)
    with _reading(path), pillow_limit():
        _check_memory(path)


# Peak memory of colorizing a photo, per pixel: 13.8-19.3 bytes measured for 8-bit photos from 96 to
# 900 Mpx (benchmarks/huge_scan.py; a new user's 30000 x 30000 PNG of 875 KB peaked at 12.4 GB), 24.6
# for a 16-bit one; and what the process holds besides (torch, the model)
BYTES_PER_PIXEL = {8: 16, 16: 25}
# and where its ICC profile is converted (`_in_srgb`), the copy of its pixels as stored that is kept
PROFILE_COPY_BYTES_PER_PIXEL = {8: 3, 16: 6}
BASE_BYTES = 500_000_000


def displayed_header_size(src) -> tuple[int, int] | None:
    """(width, height) of a photo (a path or a file object) as displayed, EXIF orientation applied, from
    its header alone; None where the header cannot be read (reading the photo then says why). A TIFF's
    from its own tags, as `read_image` reads it: Pillow (13.0) already gives a TIFF stored on its side
    (Orientation 5-8) its displayed size, and turned once more, a hint inside the photo was refused and
    one outside it let through (a reviewer's test)."""
    try:
        if is_tiff(src):
            head = tiff_header(src)
            (w, h), orientation = head.size, head.orientation
        else:
            with pillow_limit(), Image.open(src) as im:
                w, h = im.size
                orientation = pil_orientation(im)
    except Exception:  # noqa: BLE001  (any damage: reading the photo reports it)
        return None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def pil_orientation(im: Image.Image) -> int:
    """The orientation `_read_pil` applies to an opened photo, from its header: EXIF's, else XMP's (Pillow's
    getexif reads both); 1 for a damaged EXIF block, which the photo is read without."""
    try:
        return int(im.getexif().get(EXIF_ORIENTATION, 1) or 1)
    except Exception:  # noqa: BLE001
        return 1


def is_tiff(src) -> bool:
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            head = f.read(4)
    else:
        pos = src.tell()
        head = src.read(4)
        src.seek(pos)
    return head in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


TIFF_DIRECT = ("MINISBLACK", "MINISWHITE", "RGB")  # photometrics whose 16-bit and float samples tifffile reads


@dataclass(frozen=True)
class TiffHeader:
    """What a TIFF's header says about reading it, as `read_image` reads it."""

    size: tuple[int, int]  # (width, height) of the first page, as stored
    orientation: int
    pages: int  # full-size pages (reduced-resolution previews are not counted)
    by_pillow: bool  # read_image hands it to Pillow (8-bit, palette, CMYK, YCbCr, 32-bit integer, ...)
    refused: str | None  # why read_image refuses it, where the header tells: its sample format, several pages


def tiff_header(src) -> TiffHeader:
    """A TIFF's header (a path or a file object), read by tifffile as `read_image` reads TIFFs: Pillow
    opens no float16 or float32 RGB TIFF, which read_image reads."""
    with tifffile.TiffFile(src) as tif:
        pages = _full_pages(tif)
        page = pages[0]
        refused = _multi_page(len(pages)) if len(pages) > 1 else _refused_samples(page)
        return TiffHeader((int(page.imagewidth), int(page.imagelength)), _tiff_orientation(page), len(pages),
                          _by_pillow(page), refused)


def _full_pages(tif) -> list:
    return [p for p in tif.pages if not getattr(p, "is_reduced", False)]


def _multi_page(n: int) -> str:
    return f"multi-page TIFF ({n} pages); only single-page TIFFs are supported (split it first)"


def _photometric(page) -> str:
    return page.photometric.name if page.photometric is not None else ""


def _by_pillow(page) -> bool:
    """Whether `_read_tiff` hands a page to Pillow: all but float samples and 16-bit integer ones of gray or RGB."""
    return not (_photometric(page) in TIFF_DIRECT and (page.sampleformat == 3 or page.bitspersample == 16))


def _refused_samples(page) -> str | None:
    """Why a TIFF page's samples are not read, from its header. 16-bit signed integers reached the network
    as int16 and were refused there in words naming no file (the API answered 500: a new user's test);
    complex and 64-bit integer samples were "not an image" (Pillow opens neither)."""
    kind, bits = int(page.sampleformat), page.bitspersample
    name = {1: "unsigned integer", 2: "signed integer", 5: "complex integer", 6: "complex float"}.get(kind)
    if (kind == 2 and bits == 16) or kind in (5, 6) or (kind in (1, 2) and bits > 32):
        return (f"{bits}-bit {name} samples are not read (8- and 16-bit unsigned, 32-bit integer and float samples "
                "are); convert it to 8 or 16 bits")
    return None


def _header_size(path: Path) -> tuple[int, int, int]:
    """(width, height, bits per sample) from the header alone."""
    return _header(path)[:3]


def _header(path: Path) -> tuple[int, int, int, bytes | None]:
    """(width, height, bits per sample, ICC profile or None) from the header alone."""
    if path.suffix.lower() in (".tif", ".tiff"):
        with tifffile.TiffFile(path) as tif:
            if not tif.pages:
                raise InputError(f"{path}: corrupt or truncated image (a TIFF without pages)")
            page = tif.pages[0]
            icc_tag = page.tags.get(TIFF_ICC)
            icc_data = bytes(icc_tag.value) if icc_tag is not None and isinstance(icc_tag.value, (bytes, tuple)) else None
            return int(page.imagewidth), int(page.imagelength), 16 if page.bitspersample > 8 else 8, icc_data
    with pillow_limit(), Image.open(path) as im:
        deep = im.mode.startswith("I;16") or im.mode == "I" or (im.format == "PNG" and _png_bit_depth(path) == 16)
        # (Pillow opens a 16-bit RGB PNG as RGB; it is read as 16-bit)
        return im.size[0], im.size[1], 16 if deep else 8, im.info.get("icc_profile") or None


def available_memory() -> int | None:
    """Bytes this process can still take: the kernel's MemAvailable, or less where a cgroup (a container,
    a cluster's job) caps it; None where neither is known."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        cap = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cap != "max":
            found.append(int(cap) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def _check_memory(path: Path) -> None:
    """Refuse, from the header, a photo whose colorizing would take more memory than there is: a small
    file can declare a huge picture (a 219 KB PNG of 15000 x 15000 took 3.2 GB; one of 30000 x 30000,
    12.4 GB), and running out of memory would kill a whole folder run, not fail one input."""
    w, h, bits, icc_data = _header(path)
    if w * h > MAX_PIXELS:  # PIL only warns up to twice its limit (a raw DecompressionBombWarning was printed)
        raise InputError(f"{path}: image larger than {MAX_PIXELS} pixels ({w}x{h})")
    per_pixel = BYTES_PER_PIXEL[bits] + (PROFILE_COPY_BYTES_PER_PIXEL[bits] if _converted(icc_data) else 0)
    need = w * h * per_pixel + BASE_BYTES
    have = available_memory()
    if have is not None and need > have:
        raise InputError(f"{path}: a {w}x{h} image needs about {_size(need)} of memory to colorize, more than the "
                         f"{_size(max(have, 0))} available")


def _size(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 10e9 else f"{n / 1e6:,.0f} MB"


@contextlib.contextmanager
def _reading(path: Path):
    """A missing or empty file refused, and what the readers raise for a file that is no readable image
    turned into one InputError naming it (read_image and check_image say the same)."""
    if why := input_problem(path):
        raise InputError(f"{path}: {why}")
    try:
        yield
    except InputError:
        raise
    except UnidentifiedImageError as e:
        raise InputError(f"{path}: not an image (unrecognised format)") from e
    except Image.DecompressionBombError as e:
        raise InputError(f"{path}: image larger than {MAX_PIXELS} pixels") from e
    except PermissionError as e:  # a whole scan this user may not read (a share's ACL) was called corrupt (an archivist's)
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from e
    except (OSError, SyntaxError, ValueError, tifffile.TiffFileError, struct.error, zlib.error) as e:
        raise InputError(f"{path}: corrupt or truncated image ({first_line(e)})") from e
    except (IndexError, TypeError, AttributeError, KeyError) as e:
        # tifffile hands back whatever a damaged or unusual TIFF's tags hold (a tuple of bits per sample, a
        # number where a name was expected): byte flips in TIFFs raised these, called a vidcolor defect (review)
        if path.suffix.lower() not in (".tif", ".tiff"):
            raise
        raise InputError(f"{path}: corrupt or unsupported TIFF (its tags hold what this reader cannot use: "
                         f"{type(e).__name__}: {first_line(e)})") from e


def read_rgb8(path: str | os.PathLike) -> np.ndarray:
    """The one image loader of the CLI, `vidcolor eval` and training: (H, W, 3) uint8 RGB as displayed
    (EXIF orientation applied, 16-bit rounded to 8, gray and CMYK as RGB). InputError if unreadable."""
    return _to_u8(read_image(path).pixels)


def _metadata(im: Image.Image) -> tuple[dict, list[str]]:
    """The metadata worth copying, and notes on what had to be dropped. An EXIF block that does not
    parse (cameras and editors do write such blocks) is dropped: it must not cost the photo."""
    # info["exif"] is a real EXIF block (JPEG, PNG eXIf, WebP); a TIFF's own tags are not copied as EXIF.
    info = {k: im.info[k] for k in ("icc_profile", "exif", "dpi", "xmp") if im.info.get(k)}
    if "dpi" in info and not _sane_dpi(info["dpi"]):
        del info["dpi"]
    if im.format == "TIFF" and 282 not in getattr(im, "tag_v2", {}):  # no XResolution: Pillow gives (1, 1), and a
        info.pop("dpi", None)  # TIFF without resolution came out claiming 1 dpi (an archivist's test)
    info.update(_archive_text(im))
    notes = []
    if "exif" in info:
        try:
            with warnings.catch_warnings(record=True) as warned:
                warnings.simplefilter("always")  # PIL warns about, and skips, entries cut short
                exif = Image.Exif()
                exif.load(info["exif"])
                cleaned = exif.tobytes()
                _upright_exif(exif, *im.size)  # and re-serialised as writing will do (_exif_reset), without a second parse
        except EXIF_ERRORS as e:
            del info["exif"]
            notes.append(f"corrupt EXIF block dropped ({first_line(e)}); the pixels are as stored")
        else:
            warned = [w for w in warned if issubclass(w.category, UserWarning) and "PIL" in w.filename]  # not another thread's
            if warned:  # the entries PIL could read are kept; its warnings had leaked into the run's log
                info["exif"] = (b"Exif\x00\x00" if info["exif"][:6] == b"Exif\x00\x00" and cleaned[:6] != b"Exif\x00\x00" else b"") + cleaned
                notes.append(f"damaged EXIF entries dropped ({first_line(warned[0].message)}); the rest is kept")
    return info, notes


def _archive_text(im: Image.Image) -> dict:
    """Captions, credits and colour tags beside EXIF, ICC and XMP: a JPEG's comment (COM) and IPTC
    (Photoshop APP13) blocks, a PNG's text chunks and gAMA/sRGB, a TIFF's text tags (`TIFF_TEXT_TAGS`)."""
    out: dict = {}
    if im.format == "JPEG":
        # every COM segment (PIL's info keeps the last), less libgd's encoder signature ("CREATOR: gd-jpeg ...
        # quality = 90"), which would be false of our file
        if comments := [d for m, d in getattr(im, "applist", []) if m == "COM" and d and not d.startswith(b"CREATOR: ")]:
            out["comment"] = comments
        if app13 := [b for m, d in getattr(im, "applist", []) if m == "APP13" and (b := _without_thumbnails(d))]:
            out["app13"] = app13
    elif im.format == "PNG":
        # not ImageMagick's "Raw profile type exif/iptc/8bim/xmp" chunks: their EXIF orientation was applied
        # on reading (copied, the photo turned twice), and their 8BIM holds the gray original's thumbnail
        found = _png_text(Path(im.filename)) if im.filename else getattr(im, "text", {})
        if text := {k: v for k, v in found.items()
                    if k != PNG_XMP_KEY and not k.lower().startswith(("raw profile type ", "exif"))}:
            out["text"] = text
        out.update({k: im.info[k] for k in ("gamma", "srgb") if k in im.info})
    elif im.format == "TIFF":
        tags = getattr(im, "tag_v2", {})  # PIL reads ASCII tags as Latin-1 text: its bytes, as stored
        if text := _tiff_text({t: tags[t].encode("latin-1", "replace") if isinstance(tags[t], str) else bytes(tags[t])
                               for t in TIFF_TEXT_TAGS if t in tags and isinstance(tags[t], (str, bytes))}):
            out["tiff_text"] = text
    return out


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk_heads(f):
    """(type, length) of each chunk of a PNG opened at its first chunk, up to IEND, the file left at the
    chunk's data while the caller looks: it reads the data or not, and the walk goes on past it."""
    while len(header := f.read(8)) == 8:
        length, kind = struct.unpack(">I", header[:4])[0], header[4:]
        if kind == b"IEND":
            return
        start = f.tell()
        yield kind, length
        f.seek(start + length + 4)  # past the data and its CRC


def _png_chunks(path: Path, kinds: tuple[bytes, ...]):
    """(type, data) of a PNG's chunks of the given types, in file order, read from the chunks alone
    (the others are skipped unread): PIL decodes the whole image to find those after the pixels."""
    with open(path, "rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            return
        for kind, length in _png_chunk_heads(f):
            if kind in kinds:
                yield kind, f.read(length)


def _png_text(path: Path) -> dict[str, str]:
    """A PNG's tEXt, zTXt and iTXt chunks as PIL's `text` gives them, read from the chunks alone: the
    16-bit path, which decodes with OpenCV, paid for two decodes (a 12-megapixel scan: 1.1 -> 1.7 s a
    read; review)."""
    out: dict[str, str] = {}
    for kind, data in _png_chunks(path, (b"tEXt", b"zTXt", b"iTXt")):
        key, _, rest = data.partition(b"\x00")
        try:
            if kind == b"tEXt":
                value = rest.decode("latin-1")
            elif kind == b"zTXt":
                value = zlib.decompress(rest[1:]).decode("latin-1")
            else:  # flag, method, language\0, translated keyword\0, text
                flag, rest = rest[0], rest[2:]
                rest = rest.split(b"\x00", 2)[2]
                value = (zlib.decompress(rest) if flag else rest).decode("utf-8")
        except (zlib.error, UnicodeDecodeError, IndexError):
            continue  # a damaged chunk: PIL skips it too
        out[key.decode("latin-1")] = value
    return out


def exif_tiff_text(exif: bytes | None) -> dict[int, bytes]:
    """The text tags of an EXIF block's first IFD (`TIFF_TEXT_TAGS`: caption, artist, copyright, date), as a
    TIFF output writes them: a JPEG colorized into `--format tif` lost its caption, artist and copyright,
    which TIFF has tags for (a new user's test). Empty for no block or a damaged one."""
    if not exif:
        return {}
    try:
        tags = Image.Exif()
        tags.load(exif)
        return _tiff_text({t: tags[t].encode("latin-1", "replace") if isinstance(tags[t], str) else bytes(tags[t])  # (PIL decodes as Latin-1)
                           for t in TIFF_TEXT_TAGS if isinstance(tags.get(t), (str, bytes))})
    except Exception:  # noqa: BLE001  (a damaged block: its note is already given when it was read)
        return {}


def _tiff_text(tags: dict[int, bytes]) -> dict[int, bytes]:
    """The text tags worth copying, as their bytes (UTF-8 or Latin-1 as the file has them; a "©" written
    as text came out "?" through PIL's ASCII encoding, and tifffile refused it): not empty, and not a
    tool's description of the array (tifffile's '{"shape": [...]}', ImageJ's 'ImageJ=...'), which says
    nothing of the photo."""
    out = {}
    for t, v in tags.items():
        v = v.rstrip(b"\x00")
        if v.strip() and not (t == 270 and v.lstrip().startswith((b'{"shape"', b"ImageJ="))):
            out[t] = v
    return out


PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"
PHOTOSHOP_THUMBNAILS = {0x0409, 0x040C}  # image resources holding a preview of the (gray) original


def _without_thumbnails(app13: bytes) -> bytes | None:
    """A Photoshop APP13 block (IPTC and other image resources) without its thumbnails, which would show
    the gray original in viewers that use them; None when nothing is left. A block that does not parse
    is kept as it is (it is not ours to judge), one not in Photoshop's format too."""
    if not app13.startswith(PHOTOSHOP_HEADER):
        return app13
    out, i = [PHOTOSHOP_HEADER], len(PHOTOSHOP_HEADER)
    try:
        while i < len(app13):
            if app13[i:i + 4] != b"8BIM":
                return app13
            rid, name_len = struct.unpack(">HB", app13[i + 4:i + 7])
            name_end = i + 6 + (name_len + 1) + (name_len + 1) % 2  # a Pascal string, padded to an even length
            size = struct.unpack(">I", app13[name_end:name_end + 4])[0]
            end = name_end + 4 + size + size % 2
            if end > len(app13) + 1:
                return app13
            if rid not in PHOTOSHOP_THUMBNAILS:
                out.append(app13[i:end])
            i = end
    except struct.error:
        return app13
    return b"".join(out) if len(out) > 1 else None


# XMP's orientation, where EXIF has none: Pillow's own patterns (Image.getexif, ImageOps.exif_transpose)
XMP_ORIENTATION = (re.compile(rb'(tiff:Orientation=")([0-9])(")'), re.compile(rb"(<tiff:Orientation>)([0-9])(</tiff:Orientation>)"))


def _xmp_bytes(xmp) -> bytes:
    return xmp if isinstance(xmp, bytes) else str(xmp).encode()


def xmp_orientation(xmp) -> int:
    """The orientation an XMP packet gives (tiff:Orientation), 1 where it gives none."""
    if xmp:
        for pattern in XMP_ORIENTATION:
            if m := pattern.search(_xmp_bytes(xmp)):
                return int(m[2])
    return 1


def _xmp_reset(xmp) -> bytes:
    """An XMP packet with its orientation set to 1: the pixels were turned on reading, as EXIF's is reset.
    A JPEG whose orientation was in its XMP alone came out turned, with the XMP still saying 6, so
    viewers that read XMP turned it again (a new user's test)."""
    xmp = _xmp_bytes(xmp)
    for pattern in XMP_ORIENTATION:
        xmp = pattern.sub(rb"\g<1>1\g<3>", xmp)
    return xmp


def _orientation(info: dict) -> int:
    """EXIF's orientation, else XMP's (Pillow's rule, which `_read_pil` follows through exif_transpose)."""
    if "exif" in info:
        exif = Image.Exif()
        exif.load(info["exif"])
        if o := int(exif.get(EXIF_ORIENTATION, 0) or 0):
            return o
    return xmp_orientation(info.get("xmp"))


def _tiff_orientation(page) -> int:
    """A TIFF page's Orientation tag, else its XMP's (as Pillow reads the TIFFs it decodes)."""
    if "Orientation" in page.tags:
        return int(page.tags["Orientation"].value)
    return xmp_orientation(page.tags[TIFF_XMP].value if TIFF_XMP in page.tags else None)


def apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Pixels as displayed for an EXIF orientation (the same transposes as PIL's exif_transpose)."""
    ops = {
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: np.swapaxes(x, 0, 1),
        6: lambda x: np.rot90(x, -1),
        7: lambda x: np.rot90(x, 2).swapaxes(0, 1),
        8: lambda x: np.rot90(x, 1),
    }
    return np.ascontiguousarray(ops[orientation](a)) if orientation in ops else a


def _read_pil(path: Path) -> ImageData:
    with pillow_limit(), Image.open(path) as im:
        if refused := frames_refused(im):
            raise InputError(f"{path}: {refused}")
        im.load()
        info, notes = _metadata(im)
        if "exif" in info or "exif" not in im.info:  # a dropped EXIF block gives no orientation: pixels as stored
            im = ImageOps.exif_transpose(im)
        return _from_pil(im, info, notes)


def frames_refused(im: Image.Image) -> str | None:
    """Why an animated PNG or WebP, or a TIFF of several pages, opened by Pillow is not read (None: one image)."""
    if getattr(im, "n_frames", 1) > 1 and im.format in ("TIFF", "WEBP", "PNG"):
        return f"has {im.n_frames} frames/pages; only single-image files are supported (split it first)"
    return None


def _from_pil(im: Image.Image, info: dict, notes: list[str]) -> ImageData:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "I;16N"):
        g = np.asarray(im)
        g = g.astype(np.uint16) if g.max(initial=0) <= 65535 else (g.astype(np.float64) * 65535 / g.max()).astype(np.uint16)
        return ImageData(np.repeat(g[..., None], 3, axis=2), None, info, mode, notes)
    # a gray or RGB PNG's transparent colour (tRNS: what optipng and oxipng make of an alpha that is all 0 or 255)
    # came out opaque without a word (an archivist's test), as a palette's would have
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode in ("P", "L", "RGB") and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"))
        return ImageData(np.ascontiguousarray(rgba[..., :3]), rgba[..., 3].copy(), info, mode, notes)
    if mode == "CMYK":
        info.pop("icc_profile", None)  # a CMYK profile does not describe the RGB we write
    return ImageData(np.asarray(im.convert("RGB")).copy(), None, info, mode, notes)


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type: gray, RGB, palette, gray + alpha, RGBA
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))  # x0, y0, dx, dy
DEFLATE_MAX_RATIO = 1032  # the most deflate can compress: a PNG whose pixel data is smaller than this allows is cut short
PNG_COUNT_LIMIT = 64 << 20  # pixel data up to this many bytes is inflated and counted (0.2-0.3 s); beyond, the bound alone


def _png_raw_size(w: int, h: int, depth: int, colour: int, interlace: int) -> int:
    """The bytes a PNG's pixel data inflates to: each row's filter byte and its packed samples, per Adam7 pass."""
    bits = depth * PNG_CHANNELS.get(colour, 4)

    def rows(pw: int, ph: int) -> int:
        return ph * (1 + (pw * bits + 7) // 8) if pw > 0 and ph > 0 else 0

    if not interlace:
        return rows(w, h)
    return sum(rows((w - x0 + dx - 1) // dx, (h - y0 + dy - 1) // dy) for x0, y0, dx, dy in ADAM7)


def _check_png_pixel_data(path: Path) -> int:
    """A PNG's bit depth, once its pixel data is found to hold every row its header promises: Pillow decodes a
    PNG whose (complete) zlib stream ends rows early without a word, the missing rows black, and a new user's
    400x300 PNG holding one row was "done"; a 2 KB one whose header says 30000 x 30000 took 161 s and 12.5 GB
    before it was "done" too. The compressed size is checked against deflate's largest ratio (free), and
    pixel data up to PNG_COUNT_LIMIT bytes is inflated and counted. InputError, named, for one that falls short;
    an unreadable header is left to the decoder, which says why."""
    with open(path, "rb") as f:
        head = f.read(33)
        if len(head) < 33 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
            return 8  # let PIL produce the error
        f.seek(len(PNG_SIGNATURE))
        stored = sum(length for kind, length in _png_chunk_heads(f) if kind == b"IDAT")
    w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", head[16:29])
    need = _png_raw_size(w, h, depth, colour, interlace)
    short = f"{path}: corrupt or truncated image (its header says {w}x{h}, and its pixel data "
    if stored * DEFLATE_MAX_RATIO < need:
        raise InputError(short + f"is {stored} bytes, too little to hold it)")
    if need <= PNG_COUNT_LIMIT:
        inflate, got = zlib.decompressobj(), 0
        try:
            for _, data in _png_chunks(path, (b"IDAT",)):
                while data and got < need:
                    got += len(inflate.decompress(data, 1 << 20))
                    data = inflate.unconsumed_tail
                if got >= need or inflate.eof:
                    break
            if got < need:
                got += len(inflate.flush())  # what zlib still holds after the last chunk's input (a review)
        except zlib.error:
            return depth  # damaged: the decoder says how
        if got < need:
            raise InputError(short + f"holds {got * 100 // need}% of its rows)")
    return depth


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != PNG_SIGNATURE:
        return 8  # let PIL produce the error
    return head[24]


def _read_png16(path: Path) -> ImageData:
    with pillow_limit(), Image.open(path) as im:  # header and metadata only
        if "exif" not in im.info:  # an eXIf chunk after the pixels, which PIL reads only on decoding: such a
            for _, data in _png_chunks(path, (b"eXIf",)):  # photo was written on its side (a reviewer's test)
                im.info["exif"] = b"Exif\x00\x00" + data  # as PIL's own chunk reader keeps it
                break
        info, notes = _metadata(im)
        key = im.info.get("transparency")  # a tRNS colour, as stored: OpenCV drops it
    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if a is None:
        raise InputError(f"{path}: corrupt or truncated image (16-bit PNG could not be decoded)")
    pixels, alpha, mode = _split_channels(a, bgr=True)
    if alpha is None and key is not None:  # the pixels of that gray or colour transparent, the rest opaque
        match = pixels[..., 0] == key if isinstance(key, int) else np.all(pixels == np.array(key, np.uint16)[:3], axis=2)
        alpha = np.where(match, 0, 65535).astype(np.uint16)
    o = _orientation(info)
    return ImageData(apply_orientation(pixels, o), None if alpha is None else apply_orientation(alpha, o), info, mode, notes)


def _split_channels(a: np.ndarray, bgr: bool) -> tuple[np.ndarray, np.ndarray | None, str]:
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2), None, "L"
    c = a.shape[2]
    if c == 2:
        return np.repeat(a[..., :1], 3, axis=2), a[..., 1].copy(), "LA"
    rgb = a[..., 2::-1] if bgr else a[..., :3]
    return np.ascontiguousarray(rgb), (a[..., 3].copy() if c >= 4 else None), "RGBA" if c >= 4 else "RGB"


def _read_tiff(path: Path) -> ImageData:
    """A TIFF as `_read_tiff_pixels` reads it, with its IPTC block (tag 33723), read by tifffile for every kind of
    TIFF: a scan's IPTC caption and credits were dropped without a note (an archivist's test), and Pillow
    gives the first 4 bytes alone of one stored as LONG, as Photoshop stores it."""
    img = _read_tiff_pixels(path)
    with tifffile.TiffFile(path) as tf:
        tags = _full_pages(tf)[0].tags
        tag = tags.get(TIFF_IPTC)
        value = None if tag is None else tag.value
        sub = [name for code, name in TIFF_EXIF_IFDS.items() if code in tags]
    if sub:  # what `lost_in` says is dropped
        img.info["tiff_ifds"] = sub
    if isinstance(value, np.ndarray):
        value = value.tobytes()
    if isinstance(value, bytes) and value.strip(b"\x00"):
        img.info["iptc"] = value
    return img


def _read_tiff_pixels(path: Path) -> ImageData:
    with tifffile.TiffFile(path) as tf:
        pages = _full_pages(tf)
        if len(pages) > 1:
            raise InputError(f"{path}: {_multi_page(len(pages))}")
        page = pages[0]
        bits = page.bitspersample
        photometric = _photometric(page)
        if refused := _refused_samples(page):
            raise InputError(f"{path}: {refused}")
        _refuse_int32(path, page)
        notes = []
        if page.sampleformat == 3 and photometric in TIFF_DIRECT:
            a = _float_samples(path, page)  # PIL read them as 0-255: a 0-1 scan came out black, "done"
            notes.append(f"{bits}-bit float samples (0 to 1) written as 16-bit")
        elif (bits == 8 and photometric in TIFF_DIRECT and page.compression == 1
              and int(page.sampleformat) == 1 and tuple(int(x) for x in page.extrasamples) in ((), (2,))
              and _tiff_orientation(page) in (5, 6, 7, 8)):
            # Pillow (13.0) decodes an uncompressed 8-bit TIFF stored on its side (Orientation 5-8) with its width
            # and height swapped: a portrait scanned lying down came out as diagonal stripes, "done" (a new user's
            # test; tiled ones too). Its pixels come from tifffile, its metadata from Pillow, as for a 16-bit PNG;
            # only unsigned samples with no extra one or a straight alpha, which need no conversion Pillow makes
            # (an infrared 4th sample, a premultiplied alpha: a review)
            with pillow_limit(), Image.open(path) as im:  # header and metadata only
                info, notes = _metadata(im)
            a = _interleaved(page, page.asarray())  # uncompressed: no codec needed
            if photometric == "MINISWHITE":
                a = 255 - a
            pixels, alpha, mode = _split_channels(a, bgr=False)
            o = _tiff_orientation(page)
            return ImageData(apply_orientation(pixels, o), None if alpha is None else apply_orientation(alpha, o), info, mode, notes)
        elif _by_pillow(page):
            img = _read_pil(path)  # PIL handles 8-bit, palette, CMYK and YCbCr TIFFs with their metadata
            if bits == 16 and img.pixels.dtype == np.uint8:  # a 16-bit CMYK scan came out 8-bit without a word
                img.notes.append(f"16-bit {({'SEPARATED': 'CMYK', 'YCBCR': 'YCbCr'}).get(photometric, photometric.lower())} samples read as 8 bits")  # (a new user's test)
            if note := _unspecified_extras_note(page):  # Pillow reads past them
                img.notes.append(note)
            return img
        else:
            a = _tiff_pixels(path, page, photometric)
        info = {}
        for tag, key in ((TIFF_ICC, "icc_profile"), (TIFF_XMP, "xmp")):
            if tag in page.tags:
                v = page.tags[tag].value
                info[key] = bytes(v) if not isinstance(v, bytes) else v
        orientation = _tiff_orientation(page)
        if dpi := _tiff_dpi(page):
            info["dpi"] = dpi
        # kept as bytes, written back as they came (tifffile reads ASCII tags as text, from UTF-8 where it can)
        # (only text: a tag written with a numeric type, (1000, 2000) or 1,500,000,000, is no caption; bytes()
        # of it failed the photo, or made a buffer of that many bytes)
        text = {t: page.tags[t].value for t in TIFF_TEXT_TAGS if t in page.tags}
        if text := _tiff_text({t: v.encode("utf-8") if isinstance(v, str) else v for t, v in text.items()
                               if isinstance(v, (str, bytes))}):
            info["tiff_text"] = text
    if photometric == "MINISWHITE":
        a = np.iinfo(a.dtype).max - a
    if note := _unspecified_extras_note(page):
        a = _without_unspecified_extras(page, a, photometric)
        notes.append(note)
    pixels, alpha, mode = _split_channels(a, bgr=False)
    return ImageData(apply_orientation(pixels, orientation), None if alpha is None else apply_orientation(alpha, orientation),
                     info, f"{mode};16", notes)


def _unspecified_extras_note(page) -> str | None:
    """The note for a TIFF's extra samples of unspecified meaning (ExtraSamples 0), which are not alpha: a film
    scanner's infrared (dust) channel, as VueScan and SilverFast save RGBI and gray+I scans. A 16-bit one was
    kept as the output's alpha, so the colorized scan showed through to the background wherever the infrared
    was low (an archivist's test); Pillow reads past them in 8-bit ones. They are left out, with this note."""
    n = sum(1 for x in page.extrasamples if int(x) == 0)
    if not n:
        return None
    return (f"{'an extra sample' if n == 1 else f'{n} extra samples'} of unspecified meaning (not alpha: a scanner's "
            "infrared channel?) left out")


def _without_unspecified_extras(page, a: np.ndarray, photometric: str) -> np.ndarray:
    """A page's samples without its unspecified extra ones; colour and alpha (ExtraSamples 1 or 2) kept."""
    base = 3 if photometric == "RGB" else 1
    if a.ndim != 3 or a.shape[2] <= base:
        return a
    keep = list(range(base)) + [base + i for i, x in enumerate(page.extrasamples) if int(x) in (1, 2)][:1]
    return np.ascontiguousarray(a[..., keep[0]] if len(keep) == 1 else a[..., keep])


def _float_samples(path: Path, page) -> np.ndarray:
    """A float TIFF's samples as 16-bit, where they run from 0 to 1 (as image tools write float images);
    refused otherwise: what other ranges mean is not known. Converted in place, in float32 (float64
    copies had peaked at 60 bytes a pixel, past what the memory check budgets)."""
    try:
        a = _interleaved(page, page.asarray()).astype(np.float32, copy=False)
    except ValueError as e:
        raise InputError(f"{path}: cannot decode its float samples ({first_line(e)}); convert it to 16 bits") from None
    lo, hi = float(a.min(initial=0.0)), float(a.max(initial=0.0))  # nan and inf carry through min and max
    if not (np.isfinite(lo) and np.isfinite(hi) and lo >= 0.0 and hi <= 1.0):
        raise InputError(f"{path}: float samples from {lo:g} to {hi:g}: only 0 to 1 is read (what else they mean is "
                         "not known); convert it to 8 or 16 bits")
    if not a.flags.writeable:
        a = a.copy()
    np.multiply(a, 65535, out=a)
    np.rint(a, out=a)
    return a.astype(np.uint16)


def _interleaved(page, a: np.ndarray) -> np.ndarray:
    """(H, W, S) samples of a TIFF page stored planar ("separate": tifffile gives (S, H, W); read as
    interleaved, a planar RGB scan came out a 3-pixel-high strip, reported done; a review)."""
    if a.ndim == 3 and page.planarconfig is not None and page.planarconfig.name == "SEPARATE" and a.shape[0] == page.samplesperpixel:
        return np.ascontiguousarray(np.moveaxis(a, 0, -1))
    return a


def _cv2_tiff_as_stored(path: Path, page) -> np.ndarray | None:
    """OpenCV's decoding of a TIFF, as stored: OpenCV applies the Orientation tag itself (5.0; and failed
    on 5-8 with 16-bit data), while the caller applies it from the tag, so the bytes are decoded from
    memory with the tag set to 1. OpenCV's log is quieted for the call (its TIFF warnings went to stderr)."""
    data = bytearray(path.read_bytes())
    tag = page.tags.get("Orientation")
    if tag is not None and tag.value != 1:
        struct.pack_into(page.parent.byteorder + "H", data, tag.valueoffset, 1)
    log = _cv2_log()
    level = log.getLogLevel()
    log.setLogLevel(CV2_LOG_SILENT)
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    finally:
        log.setLogLevel(level)


def _cv2_log():
    """OpenCV's log-level functions: `cv2.utils.logging` from 5.0, `cv2` itself in 4.x (pyproject allows 4.8;
    every 16-bit TIFF was refused as "corrupt or unsupported" on 4.x, a packager's find)."""
    return getattr(cv2.utils, "logging", cv2)


def _refuse_int32(path: Path, page) -> None:
    """32-bit integer samples are read as 16-bit (as PIL's mode I), which is right for 16-bit data kept in
    32 bits (ImageJ and scientific tools save such files); refused where that reading would be wrong:
    values that all fit 8 bits (a new user's 0-239 file came out almost black, reported done), negative
    ones, or ones past 16 bits."""
    if page.bitspersample != 32 or page.sampleformat not in (1, 2):
        return
    try:
        a = page.asarray()
    except ValueError:  # a codec tifffile lacks: PIL reads it, as before
        return
    lo, hi = int(a.min(initial=0)), int(a.max(initial=0))
    if lo < 0 or hi > 65535 or hi <= 255:
        raise InputError(f"{path}: 32-bit integer samples from {lo} to {hi}: not 16-bit data, and what they mean "
                         "is not known (8-bit, 16-bit and float images are read); convert it to 8 or 16 bits")


def _tiff_pixels(path: Path, page, photometric: str) -> np.ndarray:
    """A 16-bit TIFF page's samples, (H, W) or (H, W, C) in RGB(A) order. tifffile decodes LZW, JPEG and
    the other codecs only with the `imagecodecs` package (26 MB, not a dependency): a new user's 16-bit
    LZW scans, as OpenCV and many scanners write them, were refused as corrupt. OpenCV's libtiff, which
    vidcolor already has, decodes those."""
    try:
        return _interleaved(page, page.asarray())
    except ValueError as e:
        if "imagecodecs" not in str(e):
            raise
        codec = page.compression.name if page.compression is not None else "its"
    if photometric == "MINISWHITE":  # libtiff may or may not invert it: not guessed
        raise InputError(f"{path}: a 16-bit white-is-zero TIFF with {codec} compression; re-save it uncompressed or "
                         "install imagecodecs (pip install imagecodecs)")
    a = _cv2_tiff_as_stored(path, page)
    if a is None or a.dtype != np.uint16 or a.shape[:2] != (page.imagelength, page.imagewidth):
        raise InputError(f"{path}: cannot decode its 16-bit {codec} compression; re-save it uncompressed or "
                         "install imagecodecs (pip install imagecodecs)")
    if a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_BGRA2RGBA if a.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return a


def _tiff_dpi(page) -> tuple[float, float] | None:
    """A TIFF page's resolution in dots per inch (None without one, or with no unit)."""
    try:
        x, y = (page.tags[t].value for t in ("XResolution", "YResolution"))
        unit = int(page.tags["ResolutionUnit"].value) if "ResolutionUnit" in page.tags else 2
        per_inch = {2: 1.0, 3: 2.54}[unit]  # inch, centimetre (1: no unit)
        dpi = x[0] / x[1] * per_inch, y[0] / y[1] * per_inch
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    return dpi if _sane_dpi(dpi) else None


def _sane_dpi(dpi) -> bool:
    """A resolution worth copying, checked where it is read (so the writers copy what they get): 1 to a
    million dots per inch each way (a TIFF's 4294967295 per centimetre made the writers fail, and
    stopped a folder run: review)."""
    try:
        return all(1 <= float(d) <= 1e6 for d in dpi[:2])
    except (TypeError, ValueError):
        return False


# -- writing ---------------------------------------------------------------------------------------

def write_image(path: str | os.PathLike, rgb: np.ndarray, like: ImageData, made_by: str | None = None) -> None:
    """Write (H, W, 3) RGB (the dtype of like.pixels) to `path` in the format its extension names, atomically.

    16-bit data stays 16-bit in PNG and TIFF; alpha is kept where the format has it; ICC, EXIF (with
    the orientation reset, since pixels were rotated on reading) and XMP are copied where allowed.
    `made_by` (a colorized photo's `Colorizer.provenance`) is written as its Software: EXIF's in a JPEG,
    PNG or WebP (an EXIF block made for it where the photo had none), the Software tag in a TIFF.
    """
    path = Path(path)
    fmt = PIL_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(f"{path}: unsupported output format {path.suffix!r}")
    if like.profile is not None and fmt != "BMP":  # (a BMP, which holds no profile, is written in sRGB)
        rgb = _in_profile(rgb, like)
    tmp = temp_output_path(path)
    try:
        if rgb.dtype == np.uint16 and fmt in SIXTEEN_BIT_FORMATS:
            (_write_png16 if fmt == "PNG" else _write_tiff16)(tmp, rgb, like, made_by)
        else:
            _write_pil(tmp, fmt, _to_u8(rgb), None if like.alpha is None else _to_u8(like.alpha), like.info, made_by)
        durable_replace(tmp, path)  # on disk before the journal's line
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if out_of_space(e):  # every photo after it would fail the same way (a new user's 300 KB disk)
            raise StorageError(f"{path}: cannot write: {e.strerror}; the run stops (what it finished is kept)") from e
        raise OutputError(f"{path}: cannot write ({e.strerror or first_line(e)})") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


JPEG_SEGMENT_MAX = {"exif": 65527, "xmp": 65504}  # what one APP1 segment holds after its header (PIL raises past it)
# what an EXIF block may grow by on the way out: an orientation entry (12 bytes) and the Software entry (12) with
# the provenance mark's text (`write_image`'s made_by, about 70 characters; 128 allowed) where the source had none
EXIF_MARK_ROOM = 12 + 12 + 128


def _too_long_for(fmt: str | None, key: str, info: dict) -> bool:
    """Whether `info[key]` (EXIF or XMP) is too long for a JPEG's one segment: PIL raised ValueError and
    the whole folder run stopped on a 70 KB XMP packet (a review). EXIF as written (`EXIF_MARK_ROOM`): a
    block that fitted as read but not with the provenance mark added stopped a folder run the same way."""
    v = info.get(key)
    room = EXIF_MARK_ROOM if key == "exif" else 0
    return (fmt == "JPEG" and key in JPEG_SEGMENT_MAX and v is not None
            and len(v if isinstance(v, bytes) else str(v).encode()) + room > JPEG_SEGMENT_MAX[key])


def lost_in(like: ImageData, path: str | os.PathLike) -> list[str]:
    """Notes for what writing `like`'s photo to `path`'s format drops: transparency where the format has
    no alpha, 16-bit depth where it holds 8 (a PNG with alpha written as JPEG lost it without a word)."""
    fmt = PIL_FORMAT.get(Path(path).suffix.lower())
    notes = []
    if like.alpha is not None and fmt not in ("PNG", "TIFF", "WEBP"):
        notes.append(f"transparency dropped: {fmt} has no alpha channel")
    if like.pixels.dtype == np.uint16 and fmt not in SIXTEEN_BIT_FORMATS:
        notes.append(f"16-bit depth written as 8 bits: {fmt} holds 8")
    carried = {"JPEG": {"comment", "app13", "iptc", "exif", "xmp", "icc_profile"}, "PNG": {"text", "exif", "xmp", "icc_profile"},
               "WEBP": {"exif", "xmp", "icc_profile"}, "TIFF": {"tiff_text", "iptc", "xmp", "icc_profile"}}.get(fmt, set())
    # (what `_write_pil` writes for each format: BMP holds none of them, and a BMP output had lost a scan's
    # EXIF, XMP and ICC profile without a word; a TIFF's own tags are not written as EXIF)
    named = {"comment": "JPEG comment", "app13": "IPTC block", "iptc": "IPTC block", "text": "PNG text", "tiff_text": "TIFF text tags",
             "exif": "EXIF", "xmp": "XMP", "icc_profile": "ICC profile"}
    if dropped := [name for key, name in named.items() if like.info.get(key) and key not in carried]:
        them = len(dropped) > 1 or dropped[0].endswith("tags")
        kept = (f"; its {', '.join(TIFF_TEXT_TAGS[t] for t in text)} kept as TIFF tags"
                if fmt == "TIFF" and not like.info.get("tiff_text") and (text := exif_tiff_text(like.info.get("exif"))) else "")
        notes.append(f"{', '.join(dropped)} dropped: vidcolor does not copy {'them' if them else 'it'} into a {fmt} output "
                     f"(an output in the input's format keeps its metadata){kept}")  # it said the format could not hold a caption
    if too_long := [named[key] for key in ("exif", "xmp") if key in carried and _too_long_for(fmt, key, like.info)]:
        notes.append(f"{', '.join(too_long)} dropped: the {fmt} output does not carry {'them' if len(too_long) > 1 else 'it'} "
                     "(longer than one JPEG segment holds)")
    if sub := like.info.get("tiff_ifds"):  # a camera TIFF's date taken and place were dropped without a word (an archivist's test)
        notes.append(f"its {' and '.join(sub)} data (date taken, exposure{', location' if 'GPS' in sub else ''}) dropped: "
                     "vidcolor does not copy a TIFF's EXIF or GPS sub-IFD")
    if like.info.get("dpi") and fmt == "WEBP":  # dropped without a word (an archivist's test)
        notes.append("resolution (DPI) dropped: vidcolor writes WebP without it")
    return notes


def _to_u8(a: np.ndarray) -> np.ndarray:
    return a if a.dtype == np.uint8 else ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _exif_reset(exif_bytes: bytes | None, width: int, height: int, made_by: str | None = None) -> bytes:
    """The EXIF block for the pixels written upright at width x height (`_upright_exif`), with `made_by` as its
    Software where given (the source's camera, dates, artist and copyright are left as they are)."""
    exif = Image.Exif()
    if exif_bytes:
        exif.load(exif_bytes)
    if made_by:
        exif[EXIF_SOFTWARE] = made_by
    return _upright_exif(exif, width, height)


def _upright_exif(exif: Image.Exif, width: int, height: int) -> bytes:
    """`exif` serialised for pixels turned upright on reading (orientation 1), at width x height: the Exif
    IFD's PixelXDimension and PixelYDimension, where it has them, give that size. A phone's portrait photo
    (orientation 6) came out 3024 wide and 4032 tall with EXIF still saying 4032 x 3024."""
    exif[EXIF_ORIENTATION] = 1
    ifd = exif.get_ifd(EXIF_IFD)
    for tag, value in ((EXIF_PIXEL_X, width), (EXIF_PIXEL_Y, height)):
        if tag in ifd:
            ifd[tag] = value
    return exif.tobytes()


def _write_pil(tmp: Path, fmt: str, rgb8: np.ndarray, alpha8: np.ndarray | None, info: dict, made_by: str | None = None) -> None:
    if alpha8 is not None and fmt in ("PNG", "TIFF", "WEBP"):
        im = Image.fromarray(np.dstack([rgb8, alpha8]), "RGBA")
    else:
        im = Image.fromarray(rgb8, "RGB")
    opts: dict = {}
    if "icc_profile" in info and fmt != "BMP":
        opts["icc_profile"] = info["icc_profile"]
    if "dpi" in info:
        opts["dpi"] = info["dpi"]
    kept_exif = None if _too_long_for(fmt, "exif", info) else info.get("exif")  # (too long: `lost_in` says so)
    if fmt in ("JPEG", "PNG", "WEBP") and (kept_exif or made_by):  # the mark, in a block of its own where the source's is dropped
        opts["exif"] = _exif_reset(kept_exif, rgb8.shape[1], rgb8.shape[0], made_by)
    if "xmp" in info and not _too_long_for(fmt, "xmp", info):
        xmp = _xmp_reset(info["xmp"])
        if fmt in ("JPEG", "WEBP"):
            opts["xmp"] = xmp
        elif fmt == "PNG":
            pnginfo = PngImagePlugin.PngInfo()
            pnginfo.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
            opts["pnginfo"] = pnginfo
        elif fmt == "TIFF":
            opts["tiffinfo"] = {TIFF_XMP: xmp}
    if fmt == "JPEG":  # APP13 and COM segments written as they came (PIL's raw `extra` markers: it has one comment)
        app13 = info.get("app13") or ([_iptc_app13(info["iptc"])] if info.get("iptc") else [])  # a TIFF's IPTC, as Photoshop puts it
        segments = [(b"\xff\xed", d) for d in app13] + [(b"\xff\xfe", d) for d in info.get("comment") or []]
        if segments:
            opts["extra"] = b"".join(m + struct.pack(">H", len(d) + 2) + d for m, d in segments if len(d) <= 65533)
    elif fmt == "PNG" and (chunks := _png_text_chunks(info, made_by)):
        pnginfo = opts.get("pnginfo") or PngImagePlugin.PngInfo()
        for kind, data in chunks:
            pnginfo.add(kind, data)
        opts["pnginfo"] = pnginfo
    elif fmt == "TIFF" and (text := info.get("tiff_text") or exif_tiff_text(info.get("exif"))):
        opts["tiffinfo"] = {**opts.get("tiffinfo", {}), **text}
    if fmt == "TIFF" and info.get("iptc"):
        opts["tiffinfo"] = {**opts.get("tiffinfo", {}), TIFF_IPTC: info["iptc"]}
    if fmt == "TIFF" and made_by:
        opts["tiffinfo"] = {**opts.get("tiffinfo", {}), TIFF_SOFTWARE: made_by}
    if fmt == "JPEG":
        opts.update(quality=JPEG_QUALITY, subsampling=0)
    elif fmt == "WEBP":
        opts.update(quality=JPEG_QUALITY)
    elif fmt == "TIFF":
        opts.update(compression="tiff_deflate")
    # Written through Python's file: given a path (or a file with a descriptor), PIL's encoders (JPEG, PNG,
    # BMP, TIFF) write to the descriptor in C and take a short write (a disk filling up, a quota) for success,
    # so a photo cut short at the disk's last bytes was renamed into place and journaled as done, and every
    # later run skipped it (an operator's find); Python's write finishes a short write or raises (ENOSPC, EFBIG).
    with open(tmp, "wb") as f:
        im.save(_WithoutDescriptor(f), format=fmt, **opts)


class _WithoutDescriptor:
    """A file that hides its descriptor, so that PIL writes to it chunk by chunk with write() (see _write_pil)."""

    def __init__(self, f):
        self._f = f

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fileno")

    def __getattr__(self, name: str):
        return getattr(self._f, name)


def _iptc_app13(iptc: bytes) -> bytes:
    """A JPEG's APP13 block holding an IPTC-NAA stream (Photoshop's image resource 0x0404), as a TIFF's tag 33723
    becomes in a JPEG output."""
    return PHOTOSHOP_HEADER + b"8BIM" + struct.pack(">HHI", 0x0404, 0, len(iptc)) + iptc + b"\x00" * (len(iptc) % 2)


def _needs_itxt(text: str) -> bool:
    try:
        text.encode("latin-1")
        return False
    except UnicodeEncodeError:
        return True


def _png_text_chunks(info: dict, made_by: str | None = None) -> list[tuple[bytes, bytes]]:
    """(type, data) of the chunks for a PNG's text (tEXt, or iTXt beyond Latin-1, as PIL's add_text
    writes them) and its gAMA and sRGB: PIL's PngInfo takes them on the 8-bit path, `_png_chunk` on the
    16-bit one. The text's Software (PNG's own keyword for it) reads `made_by` where given, as EXIF's does:
    a scan saved by GIMP or a scanner's tool still named that tool there beside vidcolor's mark."""
    out = []
    for k, v in (info.get("text") or {}).items():
        if k == "Software" and made_by:
            v = made_by
        key = k.encode("latin-1", "replace")[:79]
        out.append((b"iTXt", key + b"\x00\x00\x00\x00\x00" + v.encode("utf-8")) if _needs_itxt(v)
                   else (b"tEXt", key + b"\x00" + v.encode("latin-1")))
    if "gamma" in info:
        out.append((b"gAMA", struct.pack(">I", round(float(info["gamma"]) * 100000))))
    if "srgb" in info:
        out.append((b"sRGB", bytes([int(info["srgb"])])))
    return out


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _write_png16(tmp: Path, rgb: np.ndarray, like: ImageData, made_by: str | None = None) -> None:
    a = rgb[..., ::-1] if like.alpha is None else np.dstack([rgb[..., ::-1], like.alpha.astype(np.uint16)])
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(a))
    if not ok:
        raise OSError("PNG encoder failed")
    data = buf.tobytes()
    extra = b""
    if "icc_profile" in like.info:
        extra += _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(like.info["icc_profile"]))
    if "exif" in like.info or made_by:
        exif = _exif_reset(like.info.get("exif"), rgb.shape[1], rgb.shape[0], made_by)
        extra += _png_chunk(b"eXIf", exif[6:] if exif[:6] == b"Exif\x00\x00" else exif)
    if "xmp" in like.info:
        xmp = _xmp_reset(like.info["xmp"])
        extra += _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp)
    if "dpi" in like.info:  # pixels per metre, unit 1 (a new user's 600 dpi scan lost it at 16 bits)
        extra += _png_chunk(b"pHYs", struct.pack(">IIB", *(round(float(d) / 0.0254) for d in like.info["dpi"][:2]), 1))
    extra += b"".join(_png_chunk(kind, data) for kind, data in _png_text_chunks(like.info, made_by))
    ihdr_end = 8 + 8 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
    tmp.write_bytes(data[:ihdr_end] + extra + data[ihdr_end:])


def _write_tiff16(tmp: Path, rgb: np.ndarray, like: ImageData, made_by: str | None = None) -> None:
    extratags = []
    if "icc_profile" in like.info:
        extratags.append((TIFF_ICC, "B", len(like.info["icc_profile"]), like.info["icc_profile"], True))
    if "xmp" in like.info:
        xmp = _xmp_reset(like.info["xmp"])
        extratags.append((TIFF_XMP, "B", len(xmp), xmp, True))
    for tag, text in (like.info.get("tiff_text") or {}).items():
        extratags.append((tag, "s", 0, text, True))
    if iptc := like.info.get("iptc"):
        extratags.append((TIFF_IPTC, 7, len(iptc), iptc, True))
    # the scan's resolution kept; no tifffile shape description, and no Software tag naming tifffile (a new user's
    # 2400 dpi scan came out with resolution 1 and no unit, described as '{"shape": [296, 220, 3]}'): vidcolor's own
    opts = {"extratags": extratags, "compression": "zlib", "metadata": None, "software": made_by or False}
    if "dpi" in like.info:
        opts.update(resolution=tuple(float(d) for d in like.info["dpi"][:2]), resolutionunit="INCH")
    if like.alpha is None:
        tifffile.imwrite(tmp, rgb, photometric="rgb", **opts)
    else:
        tifffile.imwrite(tmp, np.dstack([rgb, like.alpha.astype(np.uint16)]), photometric="rgb", extrasamples=["unassalpha"], **opts)
