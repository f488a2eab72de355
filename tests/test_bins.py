from pathlib import Path

import torch

from training.losses import rebalance_weights
from vidcolor.models.bins import ab_bins, annealed_mean, hard_encode, soft_encode


def test_bins_are_the_in_gamut_grid_of_10():
    bins = ab_bins()
    assert bins.shape == (262, 2)
    assert torch.all(bins % 10 == 0)
    assert bins[:, 0].min() == -90 and bins[:, 0].max() == 100 and bins[:, 1].min() == -110 and bins[:, 1].max() == 90
    assert {(0.0, 0.0), (80.0, 70.0)} <= {tuple(b.tolist()) for b in bins}  # gray, and a saturated red


def test_bins_are_those_the_shipped_network_was_trained_with_in_the_same_order():
    """The bin computation was rewritten for start-up speed (a count instead of torch.unique over 2M
    rows); every trained checkpoint carries the bins it was trained with, in order."""
    state = torch.load(Path(__file__).parents[1] / "weights" / "effnet_unet.pt", map_location="cpu", weights_only=True)
    assert torch.equal(state["state_dict"]["head.bins"].float(), ab_bins())


def test_soft_encoding_spreads_over_the_five_nearest_bins():
    bins = ab_bins()
    ab = torch.tensor([[12.0, -33.0], [0.0, 0.0], [61.0, 44.0]]).T.reshape(1, 2, 1, 3)
    t = soft_encode(ab, bins)
    assert t.shape == (1, 262, 1, 3)
    assert torch.allclose(t.sum(1), torch.ones(1, 1, 3))
    assert ((t > 0).sum(1) == 5).all()
    nearest = hard_encode(ab, bins)
    assert torch.equal(t.argmax(1), nearest)
    assert bins[nearest[0, 0, 0]].tolist() == [10.0, -30.0]


def test_soft_encoding_then_mean_decoding_recovers_ab():
    bins = ab_bins()
    ab = torch.tensor([[12.0, -33.0], [0.0, 0.0], [61.0, 44.0], [-40.0, 25.0]]).T.reshape(1, 2, 1, 4)
    logits = soft_encode(ab, bins).clamp_min(1e-12).log()
    assert (annealed_mean(logits, bins, temperature=1.0) - ab).abs().max() < 3.0


def test_low_temperature_moves_towards_the_mode():
    bins = ab_bins()
    i_red = int(((bins - torch.tensor([70.0, 60.0])).norm(dim=1)).argmin())
    i_gray = int(bins.norm(dim=1).argmin())
    logits = torch.full((1, len(bins), 1, 1), -20.0)
    logits[0, i_red], logits[0, i_gray] = 0.2, 0.0  # red slightly more likely than gray
    plain = annealed_mean(logits, bins, 1.0)[0, :, 0, 0]
    sharp = annealed_mean(logits, bins, 0.02)[0, :, 0, 0]
    assert plain.norm() < sharp.norm()
    assert torch.allclose(sharp, bins[i_red], atol=0.5)


def test_rebalancing_weights():
    bins = ab_bins()
    prior = torch.zeros(len(bins))
    common = int(bins.norm(dim=1).argmin())
    prior[common] = 0.9
    prior[(torch.arange(len(bins)) != common)] = 0.1 / (len(bins) - 1)
    w_half = rebalance_weights(prior, bins, lam=0.5)
    w_none = rebalance_weights(prior, bins, lam=1.0)
    assert torch.allclose(w_none, torch.ones_like(w_none), atol=1e-5)
    far = int(bins.norm(dim=1).argmax())
    assert w_half[far] > 5 * w_half[common]
    smoothed = torch.exp(-torch.cdist(bins, bins).pow(2) / 50) @ prior
    smoothed /= smoothed.sum()
    assert torch.isclose((smoothed * w_half).sum(), torch.tensor(1.0), atol=1e-4)


def test_annealed_mean_is_the_expectation_over_the_bins_in_either_memory_layout():
    torch.manual_seed(0)
    bins = ab_bins()
    logits = torch.randn(2, bins.shape[0], 5, 7) * 3
    p = torch.softmax(logits / 0.38, dim=1)
    ref = (p[:, :, None] * bins[None, :, :, None, None]).sum(1)  # sum over q of p_q * bin_q: (B, 2, h, w)
    for x in (logits, logits.contiguous(memory_format=torch.channels_last)):
        assert torch.allclose(annealed_mean(x, bins, 0.38), ref, atol=1e-4)


def test_bins_are_those_the_shipped_weights_were_trained_with():
    """The fast unique in _gamut_bins gives the same bins in the same order as the checkpoint carries."""
    from vidcolor.weights import shipped_weights

    path, _ = shipped_weights("effnet_unet")
    sd = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    assert torch.equal(ab_bins(), sd["head.bins"].float())


def test_a_checkpoint_is_built_with_its_own_bins_without_computing_the_gamut(tmp_path):
    """Loading the shipped weights computed the gamut bins (0.2-0.5 s of every start-up) only for the
    checkpoint's own buffer to replace them; the network is now built with the checkpoint's bins."""
    from vidcolor.models import load_checkpoint
    from vidcolor.models.bins import _gamut_bins

    _gamut_bins.cache_clear()
    net = load_checkpoint(Path(__file__).parents[1] / "weights" / "effnet_unet.pt")
    assert _gamut_bins.cache_info().misses == 0
    assert torch.equal(net.head.bins, ab_bins())  # the gamut computed now, for the comparison
    # a checkpoint whose bins differ (another grid, or an older recipe) keeps its own, in its order
    from vidcolor.models import create_model
    from vidcolor.models.checkpoint import save_checkpoint

    small = create_model("cunet", base=4)
    own = torch.tensor([[0.0, 0.0], [20.0, -20.0], [-30.0, 40.0]])
    small.head.bins = own
    small.head.cls = torch.nn.Conv2d(small.head.cls.in_channels, 3, 1)
    save_checkpoint(small, tmp_path / "three_bins.pt")
    again = load_checkpoint(tmp_path / "three_bins.pt")
    assert torch.equal(again.head.bins, own) and again.head.cls.out_channels == 3
    assert ab_bins().shape == (262, 2)  # outside the load, the gamut as before
