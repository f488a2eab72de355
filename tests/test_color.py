"""The fast CPU colour paths agree with the reference conversions."""
import numpy as np
import pytest
import torch
from kornia.color import lab_to_rgb as kornia_lab_to_rgb
from skimage.color import rgb2lab

from vidcolor.color import lab_to_rgb, merge_l_ab, rgb8_to_l, rgb_to_l, rgb_to_lab


def test_rgb8_to_l_matches_the_float_conversion_and_skimage():
    rgb = torch.randint(0, 256, (2, 17, 23, 3), dtype=torch.uint8)
    fast = rgb8_to_l(rgb)
    ref = rgb_to_l(rgb.permute(0, 3, 1, 2).float() / 255)
    assert fast.shape == (2, 1, 17, 23)
    assert torch.allclose(fast, ref, atol=1e-3)
    sk = rgb2lab(rgb[0].numpy())[..., 0]
    assert np.abs(fast[0, 0].numpy() - sk).max() < 0.01


def test_rgb8_to_l_gray_shortcut_is_exact():
    g = torch.randint(0, 256, (3, 9, 11, 1), dtype=torch.uint8).expand(-1, -1, -1, 3).contiguous()
    assert torch.allclose(rgb8_to_l(g), rgb_to_l(g.permute(0, 3, 1, 2).float() / 255), atol=1e-3)
    assert rgb8_to_l(torch.zeros(1, 2, 2, 3, dtype=torch.uint8)).abs().max() < 1e-4
    assert torch.allclose(rgb8_to_l(torch.full((1, 2, 2, 3), 255, dtype=torch.uint8)), torch.tensor(100.0), atol=1e-3)


def test_cpu_lab_to_rgb_matches_kornia_in_gamut_and_round_trips():
    rgb = torch.rand(2, 3, 20, 30)
    lab = rgb_to_lab(rgb)
    back = lab_to_rgb(lab)
    assert back.shape == rgb.shape and back.dtype == torch.float32
    assert (back - rgb).abs().max() < 1e-3
    assert (back - kornia_lab_to_rgb(lab, clip=True)).abs().max() < 1e-3


def test_cpu_lab_to_rgb_clips_out_of_gamut_and_keeps_autograd_on_kornia():
    lab = torch.tensor([50.0, 120.0, -120.0]).view(1, 3, 1, 1).expand(1, 3, 4, 4).contiguous()
    out = lab_to_rgb(lab)
    assert out.min() >= 0 and out.max() <= 1
    ab = torch.zeros(1, 2, 4, 4, requires_grad=True)
    merge_l_ab(torch.full((1, 1, 4, 4), 50.0), ab).sum().backward()  # the kornia path: differentiable
    assert ab.grad is not None


def test_dark_cells_are_fitted_into_srgb_hue_kept_and_the_rest_untouched():
    from vidcolor.color import DARK_FIT, _lab_to_linear_rgb, fit_dark_chroma, in_gamut_ab

    torch.manual_seed(0)
    l = torch.rand(2, 1, 12, 20) * 40
    ab = (torch.rand(2, 2, 12, 20) - 0.5) * 120
    out = fit_dark_chroma(l, ab)
    light = (l >= DARK_FIT[1]).expand_as(ab)
    assert torch.equal(out[light], ab[light])  # above the fade, as predicted
    lf, abf = l.permute(0, 2, 3, 1).reshape(-1).numpy(), ab.permute(0, 2, 3, 1).reshape(-1, 2).numpy()
    of = out.permute(0, 2, 3, 1).reshape(-1, 2).numpy()
    full = lf < DARK_FIT[0]
    assert full.sum() > 50
    rgb = _lab_to_linear_rgb(lf[full], of[full])
    assert rgb.min() >= -2e-6 and rgb.max() <= 1 + 2e-6  # inside sRGB
    changed = ~np.all(of[full] == abf[full], axis=1)
    assert changed.sum() > 20
    more = _lab_to_linear_rgb(lf[full][changed], of[full][changed] + abf[full][changed] * (2 / 256))  # bisection: 2^-8
    assert not np.any(np.all((more >= 0) & (more <= 1), axis=1))  # as little chroma taken as that needs
    scale = np.linalg.norm(of[full], axis=1) / np.maximum(np.linalg.norm(abf[full], axis=1), 1e-6)
    np.testing.assert_allclose(of[full], abf[full] * scale[:, None], atol=1e-4)  # hue kept: a/b scaled alike
    inside = np.all((_lab_to_linear_rgb(lf, abf) >= 0) & (_lab_to_linear_rgb(lf, abf) <= 1), axis=1)
    np.testing.assert_array_equal(of[inside], abf[inside])  # a colour sRGB can show is kept
    half = torch.tensor([[[[15.0]]]])  # halfway through the fade: half the fitted scale's reduction
    far = torch.tensor([60.0, -60.0]).view(1, 2, 1, 1)
    k = float(in_gamut_ab(np.array([15.0]), np.array([[60.0, -60.0]]))[0, 0]) / 60.0  # (its slack: 1e-4)
    assert float(fit_dark_chroma(half, far)[0, 0]) == pytest.approx(60.0 * (1 - 0.5 * (1 - k)), abs=0.5)


def test_a_black_frame_renders_black_on_every_path():
    """A fade to black came out RGB (35, 0, 25): the colour carried into it was clipped channel by channel."""
    from vidcolor.colorizer import Colorizer
    from vidcolor.models.registry import create_model

    col = Colorizer(create_model("effnet_unet"), work_size=64)
    ab = torch.tensor([30.0, -25.0]).view(1, 2, 1, 1).expand(2, 2, 8, 12).contiguous()
    rgb = col.render(torch.zeros(2, 1, 64, 96), ab)
    assert rgb.max() == 0
    yuv = col.render_yuv420([np.full((64, 96), 16, np.uint8)] * 2, ab)  # limited-range black luma
    assert np.abs(yuv[:, 64:].astype(int) - 128).max() == 0  # neutral chroma
    assert col.with_strength(3.0).colorize_array(np.zeros((64, 96, 3), np.uint8)).max() == 0  # a photo's path
    dark = col.render(torch.full((2, 1, 64, 96), 40.0), ab)  # not dark: the colour stays
    assert np.ptp(dark[0, 0, 0].astype(int)) > 20


def _vivid_lab(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n,) L* across the range and (n, 2) a*b* of every hue, chroma 0 to 150: most outside sRGB."""
    rng = np.random.default_rng(seed)
    l = rng.uniform(0.0, 100.0, n).astype(np.float32)
    hue, c = rng.uniform(0, 2 * np.pi, n), rng.uniform(0.0, 150.0, n)
    return l, np.stack([c * np.cos(hue), c * np.sin(hue)], 1).astype(np.float32)


def test_a_colour_srgb_cannot_show_loses_chroma_not_lightness_on_every_path():
    """Clipped channel by channel, a vivid colour on a bright or dark pixel changed the output's L*: up to 18
    units, and at --strength 3 a fifth of a photo's pixels were more than 2 off (the README says the lightness
    is never touched)."""
    from vidcolor.colorizer import Colorizer
    from vidcolor.models.registry import create_model

    l, ab = _vivid_lab()
    lab = torch.from_numpy(np.concatenate([l[:, None], ab], 1).T.reshape(1, 3, 40, 100).copy())
    rgb_u8 = (lab_to_rgb(lab)[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)  # photos' merge, CPU
    out = rgb2lab(rgb_u8).reshape(-1, 3)
    assert np.abs(out[:, 0] - l).max() < 0.5  # 8-bit rounding's
    inside = np.hypot(*out[:, 1:].T) > 10  # hue kept, where 8-bit rounding leaves it one
    cos = (out[inside, 1:] * ab[inside]).sum(1) / np.hypot(*out[inside, 1:].T) / np.hypot(*ab[inside].T)
    assert cos.min() > 0.99
    col = Colorizer(create_model("effnet_unet"), work_size=64)  # the CPU video renderer, the same colours held flat
    for li, (a, b) in zip(l[:40], ab[:40]):
        frame = col.render(torch.full((1, 1, 16, 16), float(li)), torch.tensor([a, b]).view(1, 2, 1, 1).expand(1, 2, 4, 4))
        assert abs(rgb2lab(frame[0])[8, 8, 0] - li) < 0.5


def test_fitting_keeps_colours_srgb_shows_and_brings_the_rest_to_its_boundary():
    from vidcolor.color import _lab_to_linear_rgb, fit_chroma, fit_chroma_planes

    l, ab = _vivid_lab(20000, seed=1)
    a, b = torch.from_numpy(ab[:, 0].copy()), torch.from_numpy(ab[:, 1].copy())
    fit_chroma(torch.from_numpy(l), a, b)  # torch: the GPU's path
    pa, pb = ab[:, 0].copy()[None], ab[:, 1].copy()[None]
    fit_chroma_planes(l[None], pa, pb)  # OpenCV: the CPU's
    np.testing.assert_allclose(pa[0], a.numpy(), atol=1e-3)
    np.testing.assert_allclose(pb[0], b.numpy(), atol=1e-3)
    fitted = np.stack([pa[0], pb[0]], 1)
    rgb = _lab_to_linear_rgb(l, fitted)
    assert rgb.min() > -1e-5 and rgb.max() < 1 + 1e-5  # inside sRGB
    was_inside = np.all((_lab_to_linear_rgb(l, ab) >= 0) & (_lab_to_linear_rgb(l, ab) <= 1), axis=1)
    scale = np.hypot(*fitted.T) / np.maximum(np.hypot(*ab.T), 1e-6)
    assert was_inside.sum() > 1000
    np.testing.assert_array_equal(fitted[was_inside], ab[was_inside])  # a colour sRGB shows is kept
    outside = ~was_inside
    assert np.all(scale[outside] < 1)
    beyond = _lab_to_linear_rgb(l[outside], fitted[outside] + ab[outside] * 2.0 ** -9)  # at the boundary: the bisection's step more leaves
    assert np.all(np.any((beyond < 0) | (beyond > 1), axis=1))


def test_no_colour_escapes_the_fit_near_the_yellow_cusp():
    """Interpolated between its grid points, the table of sRGB's chroma ran over the boundary near the yellow cusp
    (L* 94-96, hue 99-103 degrees): colours there were never tested, and were clipped channel by channel, their L*
    moved (11 of 2 million random colours; a review). The table keeps the least of each point's neighbours now."""
    from vidcolor.color import _lab_to_linear_rgb, fit_chroma, fit_chroma_planes

    rng = np.random.default_rng(0)
    n = 200_000
    l = rng.uniform(94.0, 96.5, n).astype(np.float32)
    hue = np.radians(rng.uniform(99.5, 103.0, n))
    c = rng.uniform(40.0, 80.0, n)  # where the escapes were found: 45 to 76 units at L* 94-96
    a, b = (c * np.cos(hue)).astype(np.float32), (c * np.sin(hue)).astype(np.float32)
    pa, pb = a.copy().reshape(400, -1), b.copy().reshape(400, -1)
    fit_chroma_planes(l.reshape(400, -1), pa, pb)  # OpenCV: the CPU's
    ta, tb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
    fit_chroma(torch.from_numpy(l), ta, tb)  # torch: the GPU's
    for fa, fb in ((pa.ravel(), pb.ravel()), (ta.numpy(), tb.numpy())):
        rgb = _lab_to_linear_rgb(l, np.stack([fa, fb], 1))
        assert rgb.min() > -1e-5 and rgb.max() < 1 + 1e-5


def test_a_sixteen_bit_merge_gives_back_every_gray_level_and_keeps_lightness_to_its_rounding():
    """OpenCV's float Lab -> RGB (its gamma a table) is good to 8 bits, not 16: a 16-bit gray photo at --strength 0
    came back up to 5 levels off (2,278 of the 65,536 gray levels changed), and each 16-bit output's L* carried
    that error (0.0055 L* units, 8 times the 16-bit rounding's). `exact=True`, which a 16-bit photo's merge
    takes, writes the formulas out; the 8-bit path is OpenCV's still."""
    import cv2

    from vidcolor.color import _lab_to_srgb, fit_chroma_planes, gray_levels_l

    l = torch.from_numpy(gray_levels_l(16)).view(1, 1, 256, 256)  # each level's L*, as a gray photo's is looked up
    gray = torch.cat([l, torch.zeros(1, 2, 256, 256)], 1)
    levels = np.stack([np.arange(65536)] * 3)
    for rgb in (lab_to_rgb(gray, exact=True), _lab_to_srgb(gray.double())):  # the CPU's; the formula a GPU runs in float64
        assert np.array_equal(np.rint(rgb[0].numpy() * 65535).reshape(3, -1), levels)
    l, ab = _vivid_lab(20000, seed=2)  # fitted into sRGB at their L* first, as always
    lab = torch.from_numpy(np.concatenate([l[:, None], ab], 1).T.reshape(1, 3, 100, 200).copy())
    rgb16 = np.rint(lab_to_rgb(lab, exact=True)[0].permute(1, 2, 0).numpy() * 65535)
    assert np.abs(rgb2lab(rgb16 / 65535)[..., 0].reshape(-1) - l).max() < 0.0015  # 16-bit rounding: up to 0.0007
    planes = [p.reshape(100, 200).copy() for p in (l, ab[:, 0], ab[:, 1])]
    fit_chroma_planes(*planes)
    opencv = np.clip(cv2.cvtColor(cv2.merge(planes), cv2.COLOR_Lab2RGB), 0, 1)
    assert np.array_equal(lab_to_rgb(lab)[0].permute(1, 2, 0).numpy(), opencv)  # 8 bits: as before, bit for bit


def test_a_sixteen_bit_gray_photo_at_strength_0_comes_back_as_it_was_on_each_device(colorizer, device):
    from vidcolor.colorizer import Colorizer

    col = Colorizer(colorizer.model, device=device, work_size=64, strength=0.0)
    g = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    assert np.array_equal(col.colorize_array(g), np.dstack([g] * 3))
    rgb = np.dstack([g.T] * 3)  # stored as RGB
    assert np.array_equal(col.colorize_array(rgb), rgb)
