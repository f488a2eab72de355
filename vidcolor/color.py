"""Colour maths on tensors: sRGB <-> CIELAB, L/ab scaling, and the merge of full-resolution L with ab.

Everything here takes and returns (B, C, H, W) float tensors on any device (D65, 2 degree observer).
On a GPU the conversions are kornia's, batched; on the CPU Lab -> RGB is OpenCV's and 8-bit RGB -> L
goes through lookup tables, because those are where a CPU run spends its non-network time. A 16-bit
output's Lab -> RGB is `lab_to_rgb(exact=True)`: OpenCV's is accurate to 8 bits, not 16.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
import torch.nn.functional as F

L_SCALE = 100.0  # L* in [0, 100]   -> l_norm = L / L_SCALE in [0, 1]
AB_SCALE = 110.0  # a*, b* in about [-110, 110] for sRGB -> ab_norm = ab / AB_SCALE in about [-1, 1]

_RGB_TO_Y = (0.2126729, 0.7151522, 0.0721750)  # sRGB primaries, D65: the Y row of the RGB->XYZ matrix
_LAB_EPS, _LAB_KAPPA = 216.0 / 24389.0, 24389.0 / 27.0  # CIE 1976: the linear segment near black


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> (B, 3, H, W) L* in [0, 100], a*b* in about [-110, 110]."""
    from kornia.color import rgb_to_lab as _rgb_to_lab  # here: kornia's import took 0.12 s of every start, and a CPU video run never calls it

    return _rgb_to_lab(rgb)


def lab_to_rgb(lab: torch.Tensor, exact: bool = False) -> torch.Tensor:
    """(B, 3, H, W) CIELAB -> sRGB in [0, 1]. A colour sRGB cannot show at its L* has its a*b* scaled towards
    gray first (`fit_chroma`: L* and hue kept), as an output's must be; with autograd (training) it is
    clipped channel by channel instead, lightness and all.

    On the CPU (without autograd) OpenCV's vectorised conversion does it, several times faster than
    kornia's there; on a GPU, kornia's batched one. OpenCV's is good to 8 bits, not to 16 (its gamma is a
    table): up to 5 levels of 65,535 off for a gray, so a 16-bit gray photo at --strength 0 came back with 2,278
    of its levels changed, and 16 for a colour of a random sample. `exact=True`, for 16-bit outputs, writes the
    CIE and sRGB formulas out instead (`_lab_planes_to_srgb`; on a GPU `_lab_to_srgb` in float64): a gray's
    level comes back as it was, and a colour within 0.22 of a 16-bit level of the float64 formula.
    """
    if lab.requires_grad:
        from kornia.color import lab_to_rgb as _lab_to_rgb

        return _lab_to_rgb(lab, clip=True)
    if lab.device.type != "cpu":
        from kornia.color import lab_to_rgb as _lab_to_rgb

        lab = lab.float().clone()
        fit_chroma(lab[:, 0], lab[:, 1], lab[:, 2])
        return _lab_to_srgb(lab.double()).float() if exact else _lab_to_rgb(lab, clip=True)
    hwc = lab.detach().float().permute(0, 2, 3, 1).contiguous().numpy()
    for img in hwc:
        l, a, b = cv2.split(img)
        fit_chroma_planes(l, a, b)
        if exact:
            _lab_planes_to_srgb(l, a, b, img)
        else:
            img[:] = cv2.cvtColor(cv2.merge([l, a, b]), cv2.COLOR_Lab2RGB)
    np.clip(hwc, 0.0, 1.0, out=hwc)
    return torch.from_numpy(hwc).permute(0, 3, 1, 2)


_XYZ_TO_LINEAR_RGB = np.array([[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560],
                               [0.0556434, -0.2040259, 1.0572252]])  # sRGB primaries, D65
_D65 = np.array([0.95047, 1.0, 1.08883])


_LAB_TO_LINEAR_RGB = _XYZ_TO_LINEAR_RGB * _D65  # (f(X / Xn), f(Y), f(Z / Zn)) cubed -> linear sRGB
_F_KNEE = 6.0 / 29.0  # CIE 1976's inverse: f^3 above, below the tangent to f^3 there, 3 * knee^2 * (f - 4/29)
_SRGB_KNEE = 0.0031308  # sRGB's encoding: 12.92 * linear below, 1.055 * linear^(1/2.4) - 0.055 above


def _lab_planes_to_srgb(l: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(H, W) float32 L*, a*, b* -> (H, W, 3) float32 sRGB, unclipped, into `out`: CIE 1976's inverse and sRGB's
    encoding written out, in float32 (0.02 of a 16-bit level from the float64 formula for a gray, 0.22 at most
    for a colour, where a channel near 0 is a difference of larger terms). Each piecewise function is taken as
    g(max(x, knee)) + h(min(x, knee)) - the knee's value, which needs no mask; in place where it can be (fresh
    full-size buffers cost page faults): 0.10 s a 4 Mpx strip against cv2.cvtColor's 0.045 (loaded 2-core
    machine, best of 15), most of it cv2.pow."""
    h, w = l.shape
    f32 = np.float32
    fy = l * f32(1 / 116)
    fy += f32(16 / 116)
    cv2.merge([cv2.scaleAdd(a, 1 / 500, fy), fy, cv2.scaleAdd(b, -1 / 200, fy)], out)
    f = out.reshape(h, w * 3)  # one channel to OpenCV: a scalar is applied to every value, not the first channel's
    xyz = np.maximum(f, f32(_F_KNEE))
    cv2.pow(xyz, 3, dst=xyz)
    np.minimum(f, f32(_F_KNEE), out=f)
    f *= f32(3 * _F_KNEE ** 2)
    f -= f32(3 * _F_KNEE ** 3)  # the tangent's value at the knee, and the cube's there
    xyz += f
    cv2.transform(xyz.reshape(h, w, 3), _LAB_TO_LINEAR_RGB.astype(np.float32), dst=out)
    lin, enc = f, xyz
    np.maximum(lin, f32(_SRGB_KNEE), out=enc)
    cv2.pow(enc, 1 / 2.4, dst=enc)
    enc *= f32(1.055)
    enc -= f32(0.055 + 12.92 * _SRGB_KNEE)
    np.minimum(lin, f32(_SRGB_KNEE), out=lin)
    lin *= f32(12.92)
    lin += enc
    return out


def _cie_finv(f):
    """CIE 1976's inverse of f (X / Xn, Y / Yn or Z / Zn from f), on a torch tensor or a NumPy array at its dtype."""
    where = torch.where if isinstance(f, torch.Tensor) else np.where
    return where(f > _F_KNEE, f * f * f, (3 * _F_KNEE * _F_KNEE) * (f - 4.0 / 29.0))


def _lab_to_srgb(lab: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) CIELAB -> sRGB in [0, 1], the formulas of `_lab_planes_to_srgb` in torch at lab's dtype
    (float64 where a 16-bit output's values are made on a GPU)."""
    l, a, b = lab.unbind(1)
    fy = (l + 16.0) / 116.0
    xyz = (_cie_finv(fy + a / 500.0), _cie_finv(fy), _cie_finv(fy - b / 200.0))
    lin = torch.stack([sum(float(m) * c for m, c in zip(row, xyz)) for row in _LAB_TO_LINEAR_RGB], 1)
    enc = torch.where(lin > _SRGB_KNEE, 1.055 * lin.clamp_min(_SRGB_KNEE).pow(1 / 2.4) - 0.055, 12.92 * lin)
    return enc.clamp_(0.0, 1.0)


def _lab_to_linear_rgb(l: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """(n,) L* and (n, 2) a*b* -> (n, 3) linear sRGB, unclipped (CIE 1976 inverse, float64)."""
    fy = (l + 16.0) / 116.0
    f = np.stack([fy + ab[:, 0] / 500.0, fy, fy - ab[:, 1] / 200.0], axis=1)
    xyz = np.where(f > 6.0 / 29.0, f ** 3, 3 * (6.0 / 29.0) ** 2 * (f - 4.0 / 29.0)) * _D65
    return xyz @ _XYZ_TO_LINEAR_RGB.T


def in_gamut_ab(l: np.ndarray, ab: np.ndarray, steps: int = 14) -> np.ndarray:
    """(n,) L* and (n, 2) a*b* -> the a*b* scaled towards gray (hue and L* kept) as little as keeps each
    colour inside sRGB at its lightness. A hint of saturated blue on a white dress asks for what no
    white can show: rendered, it was clipped (and lightness with it), while the correction it made,
    spread onto the skin beside it, turned that purple, more strongly than the dress (a new user's test)."""
    l = np.asarray(l, np.float64)
    ab = np.asarray(ab, np.float64)

    def inside(k: np.ndarray) -> np.ndarray:
        rgb = _lab_to_linear_rgb(l, ab * k[:, None])
        return np.all((rgb >= -1e-4) & (rgb <= 1 + 1e-4), axis=1)

    lo, hi = np.zeros(len(l)), np.ones(len(l))
    ok = inside(hi)
    lo[ok] = 1.0
    for _ in range(steps):  # bisection on the scale of the pixels outside: 2^-14 of their chroma
        mid = (lo + hi) / 2
        good = inside(mid)
        lo, hi = np.where(good, mid, lo), np.where(good, hi, mid)
    return (ab * lo[:, None]).astype(np.float32)


DARK_FIT = (10.0, 20.0)  # L*: dark cells' a*b* are fitted into sRGB fully below the first, not at all above the second


def _rgb_inside(l: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Whether L*a*b* (1-D tensors) lies inside sRGB (linear RGB in [0, 1], to float rounding; a slack of
    1e-4 let a black cell keep chroma that rendered one level of red and blue, as the other channels scale it up):
    `_lab_to_linear_rgb`, written out for the few ops a bisection step can afford. Torch tensors or NumPy arrays
    (the CPU renderers': a frame's few pixels near the boundary, where torch's per-op cost made the fit's ten
    steps about 2.5 ms of each frame of the 1952 film; the constants are Python floats, so NumPy keeps float32)."""
    fy = (l + 16.0) / 116.0
    x, y, z = _cie_finv(fy + a / 500.0) * float(_D65[0]), _cie_finv(fy), _cie_finv(fy - b / 200.0) * float(_D65[2])
    ok = None
    for row in _XYZ_TO_LINEAR_RGB:
        c = float(row[0]) * x + float(row[1]) * y + float(row[2]) * z
        inside = (c >= -1e-6) & (c <= 1.0 + 1e-6)
        ok = inside if ok is None else ok & inside
    return ok


def fit_dark_chroma(l: torch.Tensor, ab: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """(B, 1, h, w) L* and (B, 2, h, w) a*b* on the ab grid -> the a*b* of its dark cells scaled towards
    gray (hue and L* kept) as little as keeps them inside sRGB: fully below L* 10, fading out by 20
    (`DARK_FIT`); other cells unchanged. Near black sRGB holds almost no chroma (at L* 0.5 at most 0.6
    to 10 units, by hue), so colour the smoother carried into a fade, or the network's guess on a dark
    background, was clipped at render channel by channel: a black frame came out RGB (35, 0, 25). The
    renderers call it on the ab grid, before upsampling (`Colorizer.upsample_terms`, `render_yuv420`).
    Per cell, from its mean L*: a uniformly dark area is fitted; a pixel darker than its cell's mean (grain,
    a dark line in a lighter cell) can still ask for more than sRGB shows at its lightness, and clip."""
    lo_l, hi_l = DARK_FIT
    dark = (l < hi_l).flatten()
    if not bool(dark.any()):
        return ab
    flat_l = l.float().flatten()
    ab_flat = ab.float().permute(1, 0, 2, 3).reshape(2, -1).clone()  # (2, B*h*w), in step with flat_l; ab untouched
    idx = dark.nonzero()[:, 0]
    ls, a, b = flat_l[idx], ab_flat[0, idx], ab_flat[1, idx]
    outside = ~_rgb_inside(ls, a, b)
    if not bool(outside.any()):
        return ab
    idx, ls, a, b = idx[outside], ls[outside], a[outside], b[outside]
    lo = _inside_scale(ls, a, b, steps)
    k = 1.0 - ((hi_l - ls) / (hi_l - lo_l)).clamp(0.0, 1.0) * (1.0 - lo)
    ab_flat[0, idx], ab_flat[1, idx] = a * k, b * k
    return ab_flat.reshape(2, ab.shape[0], *ab.shape[2:]).permute(1, 0, 2, 3).to(ab.dtype)


def _inside_scale(l: torch.Tensor, a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """The largest k in [0, 1] (to 2^-steps, from below) that keeps L*, k a*, k b* (1-D tensors, each
    outside sRGB at k = 1) inside sRGB: a bisection, gray (k = 0) being inside at every L* in [0, 100]. Torch
    tensors or NumPy arrays, as `_rgb_inside`."""
    where = torch.where if isinstance(l, torch.Tensor) else np.where
    lo, hi = l * 0, l * 0 + 1
    for _ in range(steps):
        mid = (lo + hi) / 2
        good = _rgb_inside(l, a * mid, b * mid)
        lo, hi = where(good, mid, lo), where(good, hi, mid)
    return lo


GAMUT_L_STEP, GAMUT_HUES = 0.5, 360  # `_gamut_chroma`'s grid: L* 0, 0.5, ..., 100 by each degree of hue
GAMUT_TEST = 0.9  # of the chroma `_gamut_chroma` interpolates at a pixel: above it, the pixel is tested exactly
FIT_STEPS = 10  # bisection steps of `fit_chroma`: to 2^-10 of a colour's chroma


@functools.cache
def _gamut_chroma() -> np.ndarray:
    """(201, 361) float32: at L* = i * GAMUT_L_STEP and hue j degrees (hue 360 repeats 0), the least of the most
    chroma sRGB holds at that grid point and its eight neighbours (each to 200 * 2^-12 from below); about 0.1 s,
    once, at the first render. The least of the neighbours, because interpolated between grid points the table
    itself ran over the boundary near the yellow cusp (L* 94-96, hue 99-103 degrees), where sRGB's chroma peaks:
    11 of 2 million random colours were never tested there, and clipped, their L* moved (a review)."""
    l = torch.arange(0, 100 + GAMUT_L_STEP / 2, GAMUT_L_STEP, dtype=torch.float64)
    hue = torch.arange(GAMUT_HUES, dtype=torch.float64) * (2 * torch.pi / GAMUT_HUES)
    ll = l[:, None].expand(-1, GAMUT_HUES).reshape(-1)
    a, b = (200.0 * hue.cos()).repeat(len(l)), (200.0 * hue.sin()).repeat(len(l))
    top = (200.0 * _inside_scale(ll, a, b, 12).reshape(len(l), GAMUT_HUES)).float().numpy()
    wrapped = np.concatenate([top[:, -1:], top, top[:, :1]], axis=1)  # hue wraps around; L* does not
    least = cv2.erode(wrapped, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)[:, 1:-1]
    return np.ascontiguousarray(np.concatenate([least, least[:, :1]], axis=1))


@functools.cache
def _gamut_chroma_on(device: torch.device) -> torch.Tensor:
    """`_gamut_chroma` as a tensor on `device`, made once: `fit_chroma` had copied it to the GPU at every strip."""
    return torch.from_numpy(_gamut_chroma()).to(device)


def _fit_tested(l, a, b):
    """1-D float32 L*, a*, b* (torch tensors or NumPy arrays) -> a*, b* with those outside sRGB scaled towards gray
    as little as brings them inside."""
    outside = ~_rgb_inside(l, a, b)
    if bool(outside.any()):
        k = _inside_scale(l[outside], a[outside], b[outside], FIT_STEPS)
        a, b = (a.clone(), b.clone()) if isinstance(a, torch.Tensor) else (a.copy(), b.copy())
        a[outside] *= k
        b[outside] *= k
    return a, b


def fit_chroma(l: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """L*, a*, b* (tensors of one shape, views of one Lab image allowed): in place, the a*b* of each pixel that
    sRGB cannot show at its L* scaled towards gray, hue and L* kept, as little as brings it inside (to
    2^-FIT_STEPS of its chroma); a colour sRGB shows is kept as it is. Clipped channel by channel instead, a
    vivid colour on a bright or dark pixel changed its lightness: at --strength 3, 22% of
    `examples/rocket_bw.jpg`'s pixels came out more than 2 L* units off, up to 18; at strength 1, up to 4.4
    here and there. Only pixels near or beyond the boundary `_gamut_chroma` tabulates are tested."""
    table = _gamut_chroma_on(l.device)
    x = l.float().clamp(0.0, 100.0) * (1.0 / GAMUT_L_STEP)
    y = torch.atan2(b.float(), a.float()).remainder_(2 * torch.pi) * (GAMUT_HUES / (2 * torch.pi))
    x0, y0 = x.long().clamp_(max=table.shape[0] - 2), y.long().clamp_(max=GAMUT_HUES - 1)
    tx, ty = x - x0, y - y0
    top = ((table[x0, y0] * (1 - ty) + table[x0, y0 + 1] * ty) * (1 - tx)
           + (table[x0 + 1, y0] * (1 - ty) + table[x0 + 1, y0 + 1] * ty) * tx)
    test = torch.hypot(a.float(), b.float()) > top * GAMUT_TEST
    if bool(test.any()):
        a[test], b[test] = (t.to(a.dtype) for t in _fit_tested(l[test].float(), a[test].float(), b[test].float()))


def fit_chroma_planes(l: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """`fit_chroma` on (H, W) float32 L*, a* and b* planes (a* and b* changed in place), the table's part by
    OpenCV: the CPU renderers' frames, where torch's ops took 25 ms of a 640x360 frame."""
    c, hue = cv2.cartToPolar(a, b, angleInDegrees=True)  # hue in degrees: the table's column
    top = cv2.remap(_gamut_chroma(), hue, l * np.float32(1.0 / GAMUT_L_STEP), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    test = c > top * np.float32(GAMUT_TEST)
    if test.any():
        a[test], b[test] = _fit_tested(l[test], a[test], b[test])  # NumPy: its per-op cost is a fraction of torch's here


def _srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    return torch.where(c > 0.04045, ((c + 0.055) / 1.055).pow(2.4), c / 12.92)


def rgb_to_l(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> (B, 1, H, W) L* in [0, 100].

    L* depends on Y alone, so this skips the a*b* work of a full Lab conversion.
    """
    lin = _srgb_to_linear(rgb.float())
    y = lin[:, 0:1] * _RGB_TO_Y[0] + lin[:, 1:2] * _RGB_TO_Y[1] + lin[:, 2:3] * _RGB_TO_Y[2]
    return gray_y_to_l(y)


@functools.cache
def gray_levels_l(bits: int) -> np.ndarray:
    """(2**bits,) float32 L* of each gray level (R = G = B) of 8- or 16-bit sRGB, as rgb_to_l computes it on the
    CPU: a black-and-white photo's L* is a lookup, and the same values as converting each pixel."""
    peak = (1 << bits) - 1
    levels = torch.arange(peak + 1, dtype=torch.float32).expand(1, 3, peak + 1)[..., None]  # (1, 3, levels, 1)
    return rgb_to_l(levels / peak).reshape(-1).numpy()


_LUT_CACHE: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}


def _lut(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """256-entry tables on `device`: 8-bit sRGB value -> linear value, and gray value -> L*."""
    if device not in _LUT_CACHE:
        lin = _srgb_to_linear(torch.arange(256, dtype=torch.float64) / 255.0)
        _LUT_CACHE[device] = lin.float().to(device), gray_y_to_l(lin).float().to(device)
    return _LUT_CACHE[device]


def rgb8_to_l(rgb: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 sRGB, as decoded -> (B, 1, H, W) L* in [0, 100], equal to rgb_to_l(rgb / 255).

    Linearisation is a table lookup per channel; a gray frame (R = G = B, as black-and-white video
    decodes) needs a single lookup, with no arithmetic at all. On the CPU the lookups and the cube root
    are OpenCV's, frame by frame.
    """
    if rgb.device.type == "cpu":
        return _rgb8_to_l_cpu(np.ascontiguousarray(rgb.numpy()))
    lin, gray_l = _lut(rgb.device)
    r, g, b = rgb.unbind(-1)
    if bool(torch.equal(r, g) and torch.equal(g, b)):
        return gray_l[r.int()][:, None]
    y = lin[r.int()] * _RGB_TO_Y[0] + lin[g.int()] * _RGB_TO_Y[1] + lin[b.int()] * _RGB_TO_Y[2]
    return gray_y_to_l(y)[:, None]


@functools.cache
def _cpu_tables() -> tuple[np.ndarray, np.ndarray]:
    """OpenCV LUTs: (1, 256, 3) linear value times each channel's Y weight, and (1, 256) gray -> L*."""
    lin, gray_l = (t.numpy() for t in _lut(torch.device("cpu")))
    return (lin[:, None] * np.array(_RGB_TO_Y, np.float32)).reshape(1, 256, 3), gray_l.reshape(1, 256)


def _rgb8_to_l_cpu(rgb: np.ndarray) -> torch.Tensor:
    weighted, gray_l = _cpu_tables()
    out = torch.empty((rgb.shape[0], 1, *rgb.shape[1:3]), dtype=torch.float32)
    dst = out.numpy()
    for img, d in zip(rgb, dst):
        g = cv2.extractChannel(img, 0)
        if np.array_equal(g, cv2.extractChannel(img, 1)) and np.array_equal(g, cv2.extractChannel(img, 2)):
            d[0] = cv2.LUT(g, gray_l)
            continue
        y = cv2.transform(cv2.LUT(img, weighted), np.ones((1, 3), np.float32))  # relative luminance Y
        fy = cv2.pow(y, 1.0 / 3.0)
        low = y <= _LAB_EPS
        if low.any():
            fy[low] = (_LAB_KAPPA * y[low] + 16.0) / 116.0
        np.multiply(fy, 116.0, out=fy)
        np.subtract(fy, 16.0, out=d[0])
    return out


@functools.cache
def luma_table() -> np.ndarray:
    """(1, 256) float32 OpenCV LUT: limited-range 8-bit Y' -> L* of the gray it stands for (R' = G' = B' =
    (Y' - 16) / 219, clipped to [0, 1]; a gray frame's chroma is neutral, so every matrix agrees)."""
    gray = (torch.arange(256, dtype=torch.float64) - 16.0).div_(219.0).clamp_(0.0, 1.0)
    return gray_to_l(gray).float().numpy().reshape(1, 256)


def luma8_to_l(luma: np.ndarray) -> torch.Tensor:
    """(B, H, W) uint8 limited-range Y' (a video's luma planes) -> (B, 1, H, W) float32 L* on the CPU:
    one table lookup a pixel. Where the source is gray this is the L* of its RGB decode (within that
    decode's rounding); for a colour source it is the L* of its luma alone, the gray picture a
    black-and-white set would show."""
    table = luma_table()
    out = torch.empty((luma.shape[0], 1, *luma.shape[1:]), dtype=torch.float32)
    for y, d in zip(luma, out.numpy()):
        cv2.LUT(y, table, dst=d[0])
    return out


def gray_y_to_l(y: torch.Tensor) -> torch.Tensor:
    """Relative luminance Y in [0, 1] -> L* in [0, 100] (CIE 1976)."""
    fy = torch.where(y > _LAB_EPS, y.clamp_min(_LAB_EPS).pow(1.0 / 3.0), (_LAB_KAPPA * y + 16.0) / 116.0)
    return 116.0 * fy - 16.0


def gray_to_l(gray: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) gray sRGB value in [0, 1] (R = G = B) -> L* in [0, 100]."""
    return gray_y_to_l(_srgb_to_linear(gray.float()))


def resize_ab(ab: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (B, 2, h, w) ab to size (H, W)."""
    if tuple(ab.shape[-2:]) == tuple(size):
        return ab
    return F.interpolate(ab, size=size, mode="bilinear", align_corners=False)


def merge_l_ab(l_full: torch.Tensor, ab_full: torch.Tensor, exact: bool = False) -> torch.Tensor:
    """Join (B, 1, H, W) L* with (B, 2, H, W) a*b* (both unscaled) -> (B, 3, H, W) sRGB in [0, 1];
    `exact` for a 16-bit output (`lab_to_rgb`)."""
    return lab_to_rgb(torch.cat([l_full.float(), ab_full.float()], dim=1), exact)


def to_uint8(rgb: torch.Tensor) -> torch.Tensor:
    """[0, 1] float -> uint8 with rounding."""
    return (rgb * 255.0 + 0.5).clamp_(0, 255).to(torch.uint8)


def chroma(lab: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) Lab -> (B, 1, H, W) CIELAB chroma sqrt(a^2 + b^2)."""
    return torch.linalg.vector_norm(lab[:, 1:3], dim=1, keepdim=True)
