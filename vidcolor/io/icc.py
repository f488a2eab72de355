"""A photo's ICC profile, where it is a matrix/TRC one (Adobe RGB, ProPhoto, a scanner's RGB, Gray Gamma
2.2, Dot Gain 20%...): its pixels converted into sRGB, the space the network, the colour test and hints'
colours are in, and the result converted back. Read as sRGB, the values of an Adobe RGB scan came out
16% more saturated than vidcolor's colours, a ProPhoto one 44% (an archivist's test), and a hint's colour
was not the colour written; a gray scan's profile was dropped, which changes its tones in a viewer that
honours it.

Curves and matrices only (ICC.1 sections 10.5 curv, 10.16 para, 10.31 XYZ): a LUT profile (A2B0) is
not read here, and `matrix_profile` gives None for it.
"""
from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

import numpy as np

# sRGB's colorants adapted to the PCS's D50 white (Bradford), as sRGB IEC61966-2.1 profiles hold them
SRGB_D50 = np.array([[0.4360747, 0.3850649, 0.1430804],
                     [0.2225045, 0.7168786, 0.0606169],
                     [0.0139322, 0.0971045, 0.7141733]])
GRID = 65536  # a curve is tabulated at 16-bit code values: exact for 16-bit samples, inverted by interpolation
SAME_MATRIX, SAME_CURVE = 0.003, 0.001  # a profile this close to sRGB is sRGB (no conversion)
CHUNK = 1 << 20  # pixels converted at a time: float temporaries of a 100 Mpx scan stay at tens of MB


@dataclass(frozen=True)
class MatrixProfile:
    name: str
    matrix: np.ndarray  # (3, 3) linear RGB -> XYZ (D50); sRGB's for a gray profile
    curves: tuple[np.ndarray, ...]  # per channel, (GRID,) linear value at each code value
    gray: bool
    data: bytes  # the profile as written to the output (a gray one: as RGB, see `_gray_as_rgb`)

    def is_srgb(self) -> bool:
        code = np.linspace(0, 1, GRID)
        srgb = np.where(code <= 0.04045, code / 12.92, ((code + 0.055) / 1.055) ** 2.4)
        return (not self.gray and np.abs(self.matrix - SRGB_D50).max() < SAME_MATRIX
                and all(np.abs(c - srgb).max() < SAME_CURVE for c in self.curves))

    def to_srgb(self, a: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8/uint16 code values in this profile -> sRGB code values of the same dtype."""
        out = np.empty(a.shape, a.dtype)  # C-ordered, whatever view `a` is: `_chunks` writes through its reshape
        top = np.iinfo(a.dtype).max
        to_srgb = np.linalg.solve(SRGB_D50, self.matrix).T.astype(np.float32)
        curves = [c[::(GRID - 1) // top].astype(np.float32) for c in self.curves_3]  # by code value, exactly
        for flat, dst in _chunks(a, out):
            lin = np.einsum("ij,jk->ik", np.stack([c[flat[:, i]] for i, c in enumerate(curves)], axis=1), to_srgb)  # (a BLAS matmul of 3 columns took 7x as long)
            dst[:] = np.rint(_lookup(lin, SRGB_ENCODE) * top)
        return out

    def from_srgb(self, a: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8/uint16 sRGB code values -> float32 code values of this profile in [0, 1]."""
        out = np.empty(a.shape, np.float32)
        to_self = np.linalg.solve(self.matrix, SRGB_D50).T.astype(np.float32)
        decode = _srgb_decode_table(np.iinfo(a.dtype).max)
        for flat, dst in _chunks(a, out):
            lin = np.einsum("ij,jk->ik", decode[flat], to_self)
            dst[:] = np.stack([_lookup(lin[:, i], t) for i, t in enumerate(self.inverse_tables)], axis=1)
        return out

    @property
    def curves_3(self) -> tuple[np.ndarray, ...]:
        return self.curves * 3 if len(self.curves) == 1 else self.curves

    @functools.cached_property
    def inverse_tables(self) -> list[np.ndarray]:
        code = np.linspace(0, 1, GRID)
        return [np.interp(CUBE, c, code).astype(np.float32) for c in self.curves_3]


# Curves of linear light are tabulated by its cube root (as CIELAB's L is): a gamma curve's steep foot, where
# 8-bit shadow levels lie, is smooth there, so a 4096-step table with linear interpolation is exact to well
# under a 16-bit level, and a 12 Mpx photo converts each way in 2.6 s on the 2-core machine (to_srgb, from_srgb;
# docs/archives.md), not the minute that np.interp or np.power over every pixel took
STEPS = 4096
CUBE = np.linspace(0, 1, STEPS + 1) ** 3


def _lookup(lin: np.ndarray, table: np.ndarray) -> np.ndarray:
    pos = np.cbrt(np.clip(lin, 0, 1, out=lin), out=lin)
    pos *= STEPS
    i = np.minimum(pos.astype(np.int32), STEPS - 1)
    pos -= i
    return table[i] + pos * (table[i + 1] - table[i])


def _srgb_encode(lin: np.ndarray) -> np.ndarray:
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055)


SRGB_ENCODE = _srgb_encode(CUBE).astype(np.float32)


@functools.lru_cache(maxsize=2)
def _srgb_decode_table(top: int) -> np.ndarray:
    code = np.arange(top + 1) / top
    return np.where(code <= 0.04045, code / 12.92, ((code + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _chunks(a: np.ndarray, out: np.ndarray):
    flat, dst = a.reshape(-1, 3), out.reshape(-1, 3)
    for i in range(0, len(flat), CHUNK):
        yield flat[i:i + CHUNK], dst[i:i + CHUNK]


def _tags(icc: bytes) -> dict[bytes, bytes]:
    count = struct.unpack(">I", icc[128:132])[0]
    out = {}
    for i in range(count):
        sig, off, size = struct.unpack(">4sII", icc[132 + 12 * i:144 + 12 * i])
        if off + size > len(icc):
            raise ValueError("tag past the end")
        out[sig] = icc[off:off + size]
    return out


def _xyz(body: bytes) -> list[float]:
    if body[:4] != b"XYZ ":
        raise ValueError("not an XYZ tag")
    return [v / 65536 for v in struct.unpack(">3i", body[8:20])]


def _curve(body: bytes) -> np.ndarray:
    """A TRC tag's curve; ValueError for one that is not finite and increasing. A damaged parameter (a gamma
    of -1 or 30000) gave infinities that the conversion turned into an IndexError, with numpy's warnings on
    stderr: the photo failed as a vidcolor defect (a review)."""
    with np.errstate(all="ignore"):  # (such a curve is refused below, not warned about)
        curve = _curve_values(body)
    if not np.all(np.isfinite(curve)) or np.any(np.diff(curve) < 0):
        raise ValueError("a curve that is not finite and increasing")
    return curve


def _curve_values(body: bytes) -> np.ndarray:
    code = np.linspace(0, 1, GRID)
    if body[:4] == b"curv":
        n = struct.unpack(">I", body[8:12])[0]
        if n == 0:
            return code
        if n == 1:
            return code ** (struct.unpack(">H", body[12:14])[0] / 256)
        table = np.frombuffer(body[12:12 + 2 * n], ">u2").astype(np.float64) / 65535
        if len(table) != n:
            raise ValueError("a curve cut short")
        return np.interp(code, np.linspace(0, 1, n), table)
    if body[:4] == b"para":
        kind = struct.unpack(">H", body[8:10])[0]
        n = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}[kind]
        g, a, b, c, d, e, f = [*(v / 65536 for v in struct.unpack(f">{n}i", body[12:12 + 4 * n])), 0, 0, 0, 0, 0, 0][:7]
        if kind == 0:
            return code ** g
        if kind == 1:
            return np.where(code >= -b / a, np.power(np.maximum(a * code + b, 0), g), 0)
        if kind == 2:
            return np.where(code >= -b / a, np.power(np.maximum(a * code + b, 0), g) + c, c)
        if kind == 3:
            return np.where(code >= d, np.power(np.maximum(a * code + b, 0), g), c * code)
        return np.where(code >= d, np.power(np.maximum(a * code + b, 0), g) + e, c * code + f)
    raise ValueError("not a curve")


def matrix_profile(icc: bytes) -> MatrixProfile | None:
    """The profile's matrix and curves, for an RGB or gray display/input profile without LUTs, of XYZ connection
    space; None for another (a LUT profile, CMYK, Lab, a gray profile to Lab) or one that does not parse."""
    try:
        space = icc[16:20]
        if icc[20:24] != b"XYZ ":  # a matrix/TRC profile's colorants and curves are XYZ; a gray profile whose
            return None  # connection space is Lab maps gray to L*, and read as luminance its tones came out wrong
        tags = _tags(icc)
        if any(t in tags for t in (b"A2B0", b"A2B1", b"B2A0", b"B2A1")):
            return None  # a CMM would use the LUT, not a matrix beside it
        name = _description(tags.get(b"desc", b""))
        if space == b"RGB ":
            m = np.array([_xyz(tags[t]) for t in (b"rXYZ", b"gXYZ", b"bXYZ")]).T
            if abs(np.linalg.det(m)) < 1e-6:
                return None
            curves = tuple(_curve(tags[t]) for t in (b"rTRC", b"gTRC", b"bTRC"))
            return MatrixProfile(name, m, curves, False, icc)
        if space == b"GRAY":
            curve = _curve(tags[b"kTRC"])
            return MatrixProfile(name, SRGB_D50, (curve,), True, _gray_as_rgb(icc, tags))
    except (KeyError, ValueError, IndexError, struct.error, ZeroDivisionError, np.linalg.LinAlgError):
        return None
    return None


def _description(body: bytes) -> str:
    """A profile's name from its 'desc' (v2) or 'mluc' (v4) tag; '' where it has none."""
    try:
        if body[:4] == b"desc":
            n = struct.unpack(">I", body[8:12])[0]
            return body[12:12 + n].rstrip(b"\x00").decode("latin-1")
        if body[:4] == b"mluc" and struct.unpack(">I", body[8:12])[0] > 0:
            size, off = struct.unpack(">II", body[20:28])
            return body[off:off + size].decode("utf-16-be").rstrip("\x00")
    except (struct.error, UnicodeDecodeError):
        pass
    return ""


def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def _gray_as_rgb(icc: bytes, tags: dict[bytes, bytes]) -> bytes:
    """An RGB profile of a gray one: its tone curve on each of sRGB's primaries. Gray values mean in it what
    they meant in the gray profile, so a gray scan's tones are kept as they are while the colours vidcolor
    adds are described (a gray profile on an RGB file is invalid: colour-managed viewers refuse it)."""
    body = dict(tags)
    curve = body.pop(b"kTRC")
    for sig, column in zip((b"rXYZ", b"gXYZ", b"bXYZ"), SRGB_D50.T):
        body[sig] = b"XYZ " + b"\x00" * 4 + b"".join(_s15(v) for v in column)
    body.update({b"rTRC": curve, b"gTRC": curve, b"bTRC": curve})
    table, data, offset = b"", b"", 128 + 4 + 12 * len(body)
    for sig, b in body.items():
        b += b"\x00" * (-len(b) % 4)
        table += struct.pack(">4sII", sig, offset + len(data), len(b))
        data += b
    header = bytearray(icc[:128])
    header[0:4] = struct.pack(">I", offset + len(data))
    header[12:16], header[16:20] = b"mntr", b"RGB "
    header[84:100] = bytes(16)  # the profile ID (an MD5 of the profile) no longer holds; zero means none
    return bytes(header) + struct.pack(">I", len(body)) + table + data
