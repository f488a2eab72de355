"""Image files: read any common format into float RGB (keeping bit depth, alpha and metadata) and
write the colorized result in the same format, atomically."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vidcolor.errors import InputError, OutputError
from vidcolor.io.paths import temp_output_path

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}
FORMAT_EXT = {"jpg": ".jpg", "jpeg": ".jpg", "png": ".png", "tif": ".tif", "tiff": ".tif", "webp": ".webp", "bmp": ".bmp"}
PIL_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".bmp": "BMP"}
JPEG_QUALITY = 95


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS


@dataclass
class ImageData:
    pixels: np.ndarray  # (H, W, 3) uint8 or uint16 RGB: kept in its own depth, converted strip by strip
    alpha: np.ndarray | None = None  # (H, W), same dtype as pixels, kept as is
    info: dict = field(default_factory=dict)  # exif, icc_profile, ... to copy where the format allows
    source_mode: str = "RGB"


def read_image(path: str | os.PathLike) -> ImageData:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    try:
        with Image.open(path) as im:
            im.load()
            info = {k: im.info[k] for k in ("icc_profile", "exif", "dpi", "xmp") if k in im.info}
            im = ImageOps.exif_transpose(im)  # pixels as displayed; the orientation tag is reset below
            return _to_data(im, info)
    except UnidentifiedImageError as e:
        raise InputError(f"{path}: not an image (unrecognised format)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"{path}: corrupt or truncated image ({str(e).splitlines()[0][:120]})") from e


def _to_data(im: Image.Image, info: dict) -> ImageData:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        g = np.asarray(im).astype(np.uint16)
        return ImageData(np.repeat(g[..., None], 3, axis=2), None, info, mode)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"))
        return ImageData(np.ascontiguousarray(rgba[..., :3]), rgba[..., 3].copy(), info, mode)
    if mode == "CMYK":
        info.pop("icc_profile", None)  # a CMYK profile does not describe the RGB output
    return ImageData(np.asarray(im.convert("RGB")).copy(), None, info, mode)


def output_path_for(src: Path, dst: Path, fmt: str | None) -> Path:
    return dst.with_suffix(FORMAT_EXT[fmt]) if fmt else dst


def write_image(path: str | os.PathLike, rgb: np.ndarray, like: ImageData) -> None:
    """Write (H, W, 3) RGB (the dtype of like.pixels) to `path` in the format its extension names, atomically."""
    path = Path(path)
    ext = path.suffix.lower()
    fmt = PIL_FORMAT.get(ext)
    if fmt is None:
        raise OutputError(f"{path}: unsupported output format {ext!r}")
    arr8 = rgb if rgb.dtype == np.uint8 else (rgb.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if like.alpha is not None and fmt in ("PNG", "TIFF", "WEBP"):
        a8 = like.alpha if like.alpha.dtype == np.uint8 else (like.alpha / 257.0 + 0.5).astype(np.uint8)
        im = Image.fromarray(np.dstack([arr8, a8]), "RGBA")
    else:
        im = Image.fromarray(arr8, "RGB")
    opts = {k: v for k, v in like.info.items() if k in ("icc_profile", "dpi")}
    if fmt == "JPEG":
        opts.update(quality=JPEG_QUALITY, subsampling=0)
    if fmt == "WEBP":
        opts.update(quality=JPEG_QUALITY)
    if "exif" in like.info and fmt in ("JPEG", "PNG", "TIFF", "WEBP"):
        exif = Image.Exif()
        exif.load(like.info["exif"])
        exif[0x0112] = 1  # pixels were rotated on reading: orientation is now "normal"
        opts["exif"] = exif.tobytes()
    tmp = temp_output_path(path)
    try:
        im.save(tmp, format=fmt, **opts)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
