import numpy as np
import pytest
from skimage.color import rgb2lab

from vidcolor import metrics


def test_psnr_of_known_error():
    a = np.full((8, 8, 3), 100, np.uint8)
    assert metrics.psnr(a, a) == float("inf")
    assert metrics.psnr(a + 10, a) == pytest.approx(10 * np.log10(255**2 / 100), abs=1e-9)


def test_ssim_of_identical_is_one():
    a = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert metrics.ssim(255 - a, a) < 0.5


def test_colourfulness_of_gray_and_pure_red():
    gray = np.full((4, 4, 3), 77, np.uint8)
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    assert metrics.colourfulness(gray) == 0.0
    assert metrics.colourfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5))


def test_auc_counts_thresholds_0_to_150():
    gt = np.zeros((4, 4, 3))
    out = gt.copy()
    assert metrics.ab_error_auc(out, gt) == 1.0
    out[..., 1] = 75.5  # every pixel 75.5 off: within t for t = 76..150
    assert metrics.ab_error_auc(out, gt) == pytest.approx(75 / 151)
    out[..., 1] = 200.0
    assert metrics.ab_error_auc(out, gt) == 0.0


def test_ciede2000_zero_for_identical_and_positive_otherwise():
    rgb = np.random.default_rng(1).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    lab = rgb2lab(rgb)
    assert metrics.ciede2000(lab, lab) == 0.0
    lab2 = lab.copy()
    lab2[..., 1] += 10
    assert metrics.ciede2000(lab2, lab) > 1.0


def test_gray_baseline_scores_zero_colourfulness():
    from vidcolor.evaluate import gray_baseline

    rgb = np.random.default_rng(2).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    m = metrics.image_metrics(gray_baseline(rgb), rgb)
    assert m["colourfulness"] < 0.5 and m["gt_colourfulness"] > 10


def test_wrong_vivid_counts_only_confident_and_wrong_pixels():
    gt = np.zeros((2, 2, 3))
    gt[..., 0] = 50
    out = gt.copy()
    out[0, 0, 1:] = [40, 0]  # chroma 40, error 40: wrong and vivid
    out[0, 1, 1:] = [15, 0]  # chroma 15: too pale to count, although 15 off
    out[1, 0, 1:] = [25, 0]  # vivid, but only 25 off
    gt[1, 1, 1:] = [60, 0]
    out[1, 1, 1:] = [60, 35]  # vivid and 35 off
    assert metrics.wrong_vivid_share(out, gt) == pytest.approx(0.5)


def test_mean_ab_shows_a_cast():
    lab = np.zeros((4, 4, 3))
    lab[..., 1], lab[..., 2] = 6.0, -2.0
    assert metrics.mean_ab(lab) == (6.0, -2.0)
