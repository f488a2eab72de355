import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidcolor.upsample import BilinearUpsampler, GuidedUpsampler, make_upsampler


def upsample(up, l_full, ab_small):
    l_small = F.interpolate(l_full, size=ab_small.shape[-2:], mode="area")
    terms = up.prepare(l_small, ab_small)
    return up.combine(tuple(F.interpolate(t, size=l_full.shape[-2:], mode="bilinear", align_corners=False) for t in terms), l_full)


def sharp_edge(h=64, w=256, edge=130):
    """A dark-left / bright-right step in L with a colour step at the same place; ab seen at 1/8."""
    l_full = torch.full((1, 1, h, w), 30.0)
    l_full[..., edge:] = 80.0
    ab = torch.zeros(1, 2, h, w)
    ab[:, 0, :, :edge], ab[:, 1, :, :edge] = -40.0, 30.0
    ab[:, 0, :, edge:], ab[:, 1, :, edge:] = 50.0, 20.0
    return l_full, ab, F.avg_pool2d(ab, 8)


def test_guided_upsampling_bleeds_less_colour_across_an_edge_than_bilinear():
    l_full, ab_true, ab_small = sharp_edge()
    band = slice(130 - 16, 130 + 16)  # within two low-res cells of the edge
    err_bilinear = (upsample(BilinearUpsampler(), l_full, ab_small) - ab_true)[..., band].abs().mean()
    err_guided = (upsample(GuidedUpsampler(), l_full, ab_small) - ab_true)[..., band].abs().mean()
    assert err_guided < 0.35 * err_bilinear, (float(err_guided), float(err_bilinear))


def test_guided_upsampling_keeps_flat_colour_flat():
    l_full = torch.full((1, 1, 32, 32), 50.0) + torch.randn(1, 1, 32, 32) * 0.1
    ab_small = torch.full((1, 2, 4, 4), 25.0)
    out = upsample(GuidedUpsampler(), l_full, ab_small)
    assert torch.allclose(out, torch.full_like(out, 25.0), atol=0.5)


def test_guided_strips_match_whole_frame(colorizer, monkeypatch):
    import numpy as np
    import vidcolor.colorizer as cz
    from vidcolor.colorizer import Colorizer

    col = Colorizer(colorizer.model, work_size=64, upsampler=GuidedUpsampler())
    rgb = np.random.default_rng(3).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    whole = col.colorize_array(rgb)
    monkeypatch.setattr(cz, "STRIP_PIXELS", 120 * 7)
    assert np.abs(whole.astype(int) - col.colorize_array(rgb).astype(int)).max() <= 1


@pytest.mark.parametrize("kind", ["guided", "bilinear"])
def test_render_on_each_device_matches_the_torch_path_on_the_cpu(kind, device):
    """Colorizer.render goes through OpenCV frame by frame on the CPU and through batched torch and
    kornia on a GPU; both must give the frames of the torch path (upsample, merge, uint8) on the CPU."""
    from vidcolor.color import merge_l_ab, to_uint8
    from vidcolor.colorizer import Colorizer
    from vidcolor.models import create_model

    col = Colorizer(create_model("effnet_unet"), device=device, work_size=64, upsampler=make_upsampler(kind))
    torch.manual_seed(1)
    l_full = torch.rand(3, 1, 45, 77) * 100
    ab_small = (torch.rand(3, 2, 5, 8) - 0.5) * 80
    fast = col.render(l_full.to(device), ab_small.to(device))
    cpu = Colorizer(col.model, work_size=64, upsampler=make_upsampler(kind))
    ref = to_uint8(merge_l_ab(l_full, cpu.upsample(l_full, ab_small))).permute(0, 2, 3, 1).numpy()
    assert fast.shape == (3, 45, 77, 3) and fast.dtype == np.uint8
    assert np.abs(fast.astype(int) - ref.astype(int)).max() <= 1


@pytest.mark.parametrize("shape,r", [((3, 2, 17, 23), 2), ((2, 1, 4, 5), 3), ((300, 2, 6, 7), 2)])
def test_box_filter_on_the_cpu_equals_avg_pool_over_the_shrunken_window(shape, r):
    """The CPU box filter (OpenCV sums divided by the in-frame window size) gives avg_pool2d's means
    without the padding in the count, also past the 128 channels OpenCV takes in one call and for windows larger
    than the frame."""
    from vidcolor.upsample import box

    x = torch.randn(shape) * 50
    ref = F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False) if 2 * r + 1 <= 2 * min(shape[-2:]) + 1 else None
    out = box(x, r)
    assert out.shape == x.shape
    if ref is None:  # avg_pool2d refuses padding > kernel / 2 only for tiny frames; check the definition directly
        ref = torch.stack([torch.stack([x[:, :, max(0, i - r):i + r + 1, max(0, j - r):j + r + 1].mean((-2, -1))
                                        for j in range(shape[-1])], -1) for i in range(shape[-2])], -2)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-5)
