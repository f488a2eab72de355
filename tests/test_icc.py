"""A photo's ICC profile: its pixels converted into sRGB, where vidcolor colours, and the result back into it."""
import io
import struct

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from tests.media import ADOBE_RGB_D50, PROPHOTO_D50, icc_profile
from vidcolor.io.images import read_image, write_image

AB = (25, 30)  # the a/b vidcolor "adds" to the left half
SRGB = ImageCms.createProfile("sRGB")
# the ramp's columns from level 16 up: below, sRGB's 8 bits hold fewer levels than the scan's profile, and the
# output keeps the scan's finer shadow tones, which the expected colour (from 8-bit sRGB) has lost
LIT = slice(4, 32)


def _ramp(bits: int) -> np.ndarray:
    """(16, 64) gray ramp over the whole range, dark levels included."""
    top = 65535 if bits == 16 else 255
    return np.tile(np.linspace(0, top, 64).round().astype(np.uint16 if bits == 16 else np.uint8), (16, 1))


def _as_displayed(path) -> np.ndarray:
    """An 8-bit output as a colour-managed viewer shows it, in sRGB (LittleCMS, through Pillow)."""
    im = Image.open(path)
    profile = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
    return np.asarray(ImageCms.profileToProfile(im.convert("RGB"), profile, SRGB, outputMode="RGB")).astype(int)


def _paint(img) -> tuple[np.ndarray, np.ndarray]:
    """The photo with colour given to its left half as vidcolor gives it: its lightness kept, a/b set (CIELAB,
    sRGB); and that half in 8-bit sRGB, as it should be displayed."""
    top = np.iinfo(img.pixels.dtype).max
    lab = cv2.cvtColor(img.pixels.astype(np.float32) / top, cv2.COLOR_RGB2Lab)
    lab[:, :32, 1:] = AB
    rgb = img.pixels.copy()
    rgb[:, :32] = np.rint(np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)[:, :32], 0, 1) * top).astype(rgb.dtype)
    return rgb, np.rint(rgb[:, :32] / (top / 255)).astype(int)


@pytest.mark.parametrize("primaries, gamma", [(ADOBE_RGB_D50, 563 / 256), (PROPHOTO_D50, 1.8)], ids=["adobe", "prophoto"])
def test_colours_added_to_a_wide_gamut_scan_are_written_in_its_profile(tmp_path, primaries, gamma):
    """An RGB-stored black-and-white scan in Adobe RGB or ProPhoto kept its profile, but vidcolor's sRGB values
    were written into it as they were: shown through the profile, the colours were 16% (Adobe RGB) to 44%
    (ProPhoto) more saturated and hue-shifted, and a hint's colour was not the one asked for."""
    profile = icc_profile("RGB", gamma, primaries)
    gray = _ramp(8)
    Image.fromarray(np.dstack([gray] * 3)).save(tmp_path / "scan.tif", icc_profile=profile)
    img = read_image(tmp_path / "scan.tif")
    rgb, colour = _paint(img)
    write_image(tmp_path / "out.tif", rgb, img)
    out = np.asarray(Image.open(tmp_path / "out.tif"))
    assert Image.open(tmp_path / "out.tif").info["icc_profile"] == profile  # kept
    assert np.array_equal(out[:, 32:], np.dstack([gray] * 3)[:, 32:])  # what vidcolor left alone: as stored, exactly
    shown = _as_displayed(tmp_path / "out.tif")[:, :32]
    assert np.abs(shown - colour)[:, LIT].max() <= 2, (shown - colour)[0]

    # 16-bit: the same values, in 16 bits, and the untouched half exact
    gray16 = _ramp(16)
    tifffile.imwrite(tmp_path / "scan16.tif", np.dstack([gray16] * 3), photometric="rgb",
                     extratags=[(34675, "B", len(profile), profile, True)])
    img16 = read_image(tmp_path / "scan16.tif")
    write_image(tmp_path / "out16.tif", _paint(img16)[0], img16)
    out16 = tifffile.imread(tmp_path / "out16.tif")
    assert out16.dtype == np.uint16 and np.array_equal(out16[:, 32:], np.dstack([gray16] * 3)[:, 32:])
    assert np.abs(out16[:, :32].astype(int) / 257 - out[:, :32])[:, LIT].max() <= 2  # (8 bits rounded twice)


@pytest.mark.parametrize("ext", [".png", ".tif", ".jpg"])
def test_a_gray_scans_profile_becomes_an_rgb_profile_of_its_tone_curve(tmp_path, ext):
    """A gray scan's Gray Gamma 2.2 profile was dropped from the colour output (an RGB file with a gray profile
    is invalid), so a viewer showed its tones as sRGB's, not as scanned. It is written as an RGB profile of the
    same curve on sRGB's primaries: gray values unchanged, colours as vidcolor made them."""
    gray = _ramp(8)
    Image.fromarray(gray, "L").save(tmp_path / f"scan{ext}", icc_profile=icc_profile("GRAY", 2.2, name="Gray Gamma 2.2"),
                                    **({"quality": 100, "subsampling": 0} if ext == ".jpg" else {}))
    img = read_image(tmp_path / f"scan{ext}")
    assert any("GRAY ICC profile (Gray Gamma 2.2) written as an RGB profile" in n for n in img.notes), img.notes
    stored = np.asarray(Image.open(tmp_path / f"scan{ext}").convert("RGB"))
    rgb, colour = _paint(img)
    write_image(tmp_path / f"out{ext}", rgb, img)
    written = Image.open(tmp_path / f"out{ext}")
    assert written.info["icc_profile"][16:20] == b"RGB "
    tol = 2 if ext == ".jpg" else 0
    assert np.abs(np.asarray(written).astype(int)[:, 32:] - stored[:, 32:]).max() <= tol
    assert np.abs(_as_displayed(tmp_path / f"out{ext}")[:, :32] - colour)[:, LIT].max() <= 2 + tol


def test_an_srgb_scan_is_not_converted(tmp_path):
    srgb = ImageCms.ImageCmsProfile(SRGB).tobytes()
    Image.fromarray(np.dstack([_ramp(8)] * 3)).save(tmp_path / "s.png", icc_profile=srgb)
    img = read_image(tmp_path / "s.png")
    assert img.profile is None and img.info["icc_profile"] == srgb and np.array_equal(img.pixels[..., 0], _ramp(8))


def _lab_gray() -> bytes:
    """Gray Gamma 2.2 whose connection space is Lab: its curve gives L*, not luminance."""
    profile = bytearray(icc_profile("GRAY", 2.2, name="Lab gray"))
    profile[20:24] = b"Lab "
    return bytes(profile)


def _damaged_rgb() -> bytes:
    """Adobe RGB whose curves are a parametric one of gamma -1: infinite at black."""
    curv = b"curv" + bytes(4) + struct.pack(">IH", 1, 563) + bytes(2)
    para = b"para" + bytes(4) + struct.pack(">HHi", 0, 0, -65536)
    return icc_profile("RGB", 563 / 256, ADOBE_RGB_D50).replace(curv, para)


@pytest.mark.parametrize("profile, mode, note", [(_lab_gray, "L", "its GRAY ICC profile dropped"),
                                                 (_damaged_rgb, "RGB", "its RGB ICC profile is kept, but vidcolor does not convert it")],
                         ids=["gray-to-lab", "infinite-curve"])
def test_a_profile_whose_curves_are_not_luminance_is_not_converted(tmp_path, profile, mode, note):
    """A matrix profile is read only where its curves give luminance (XYZ) and are finite: a gray profile of Lab
    connection space was read as luminance (level 64 of 255 shown as 99 where LittleCMS shows 33, and written back
    as an invalid RGB profile of Lab connection space); a curve of gamma -1 raised an IndexError from the
    conversion, and the photo failed as a vidcolor defect. Either is left unconverted now, as before the change."""
    gray = _ramp(8)
    Image.fromarray(gray if mode == "L" else np.dstack([gray] * 3), mode).save(tmp_path / "s.png", icc_profile=profile())
    img = read_image(tmp_path / "s.png")
    assert img.profile is None and np.array_equal(img.pixels[..., 0], gray)
    assert any(n.startswith(note) for n in img.notes), img.notes


def test_a_profiles_conversion_takes_a_view_of_pixels(tmp_path):
    """to_srgb wrote into np.empty_like(a), which for a turned or sliced view (np.rot90, an RGBA array's [..., :3])
    is no C-ordered array: the chunks it wrote went into copies, and it returned uninitialised memory."""
    from vidcolor.io.icc import matrix_profile

    profile = matrix_profile(icc_profile("RGB", 563 / 256, ADOBE_RGB_D50))
    a = np.random.default_rng(0).integers(0, 256, (12, 20, 4), dtype=np.uint8)
    for view in (np.rot90(a[..., :3]), a[..., :3], a[::2, ::-1, :3]):
        assert np.array_equal(profile.to_srgb(view), profile.to_srgb(np.ascontiguousarray(view)))


def test_the_generated_profiles_header_is_an_icc_header():
    """tests.media.icc_profile wrote the PCS illuminant at bytes 76-88, not 68-80 (libpng warned 'PCS illuminant
    is not D50' on every PNG these tests wrote), and a part of it into the profile ID (84-100), which must be an
    MD5 of the profile or zero: the tests ran on invalid profiles, which a stricter reader refuses."""
    for profile in (icc_profile("GRAY", 2.2), icc_profile("RGB", 2.2, ADOBE_RGB_D50)):
        assert [v / 65536 for v in struct.unpack(">3i", profile[68:80])] == pytest.approx([0.9642, 1.0, 0.8249], abs=1e-4)
        assert profile[84:100] == bytes(16) and profile[36:40] == b"acsp"


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("gray_share", [0.0, 0.9], ids=["colour", "mostly_gray"])
def test_a_scan_read_in_srgb_and_written_back_keeps_what_was_left_alone(tmp_path, bits, gray_share):
    """Gray pixels are converted through a table of their levels and the others pixel by pixel: either way a
    pixel that vidcolor left as read is written as stored, exactly, wherever it lies in the picture, and what
    was read is LittleCMS's sRGB (within rounding)."""
    dtype, top = (np.uint16, 65535) if bits == 16 else (np.uint8, 255)
    rng = np.random.default_rng(bits)
    stored = rng.integers(0, top + 1, (61, 67, 3)).astype(dtype)  # odd sizes: pixels at every place of a SIMD lane
    gray = rng.random((61, 67)) < gray_share
    stored[gray] = stored[gray][:, :1]
    profile = icc_profile("RGB", 563 / 256, ADOBE_RGB_D50)
    tifffile.imwrite(tmp_path / "scan.tif", stored, photometric="rgb", extratags=[(34675, "B", len(profile), profile, True)])
    img = read_image(tmp_path / "scan.tif")
    if bits == 8:
        cms = ImageCms.profileToProfile(Image.fromarray(stored), ImageCms.ImageCmsProfile(io.BytesIO(profile)), SRGB,
                                        outputMode="RGB")
        assert np.abs(img.pixels.astype(int) - np.asarray(cms)).max() <= 1
    rgb = img.pixels.copy()
    rgb[:, :30] = _paint(img)[0][:, :30]
    write_image(tmp_path / "out.tif", rgb, img)
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif")[:, 32:], stored[:, 32:])


@pytest.mark.parametrize("bits", [8, 16])
def test_the_memory_check_counts_the_copy_a_converted_profile_keeps(tmp_path, monkeypatch, bits):
    """A photo whose profile is converted keeps its pixels as stored besides the sRGB ones it is colorized from
    (3 bytes a pixel, 6 at 16 bits), which the check before decoding did not count: a scan that fitted in memory
    without its profile was let through with it as well."""
    from vidcolor.errors import InputError
    from vidcolor.io import images

    dtype = np.uint16 if bits == 16 else np.uint8
    gray = np.zeros((400, 500, 3), dtype)
    profile = icc_profile("RGB", 563 / 256, ADOBE_RGB_D50)
    for name, icc in (("plain", None), ("srgb", ImageCms.ImageCmsProfile(SRGB).tobytes()), ("adobe", profile)):
        tifffile.imwrite(tmp_path / f"{name}.tif", gray, photometric="rgb",
                         extratags=[(34675, "B", len(icc), icc, True)] if icc else [])
    pixels = 500 * 400
    monkeypatch.setattr(images, "available_memory",
                        lambda: images.BASE_BYTES + pixels * (images.BYTES_PER_PIXEL[bits] + 1))
    images.check_image(tmp_path / "plain.tif")
    images.check_image(tmp_path / "srgb.tif")  # (not converted: no copy)
    need = (images.BASE_BYTES + pixels * (images.BYTES_PER_PIXEL[bits] + 3 * bits // 8)) / 1e6
    for call in (images.check_image, images.read_image):
        with pytest.raises(InputError, match=rf"adobe\.tif: a 500x400 image needs about {need:,.0f} MB of memory"):
            call(tmp_path / "adobe.tif")
