"""The fast CPU colour paths agree with the reference conversions."""
import numpy as np
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
