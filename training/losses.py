"""Losses for every head kind: smooth-L1 regression on ab / AB_SCALE, and cross-entropy against
soft-encoded ab bins with class rebalancing (Zhang et al. 2016)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidcolor.color import AB_SCALE
from vidcolor.models.bins import hard_encode, soft_encode

PRIOR_SIGMA = 5.0  # Gaussian smoothing of the empirical prior, in ab units (Zhang et al.)


def empirical_prior(ab_batches, bins: torch.Tensor) -> torch.Tensor:
    """Frequency of each bin (nearest-bin counts) over an iterable of (B, 2, H, W) unscaled ab."""
    counts = torch.zeros(bins.shape[0], dtype=torch.float64)
    for ab in ab_batches:
        idx = hard_encode(ab, bins).ravel()
        counts += torch.bincount(idx, minlength=bins.shape[0]).double()
    return (counts / counts.sum()).float()


def rebalance_weights(prior: torch.Tensor, bins: torch.Tensor, lam: float = 0.5, sigma: float = PRIOR_SIGMA) -> torch.Tensor:
    """Per-bin loss weights w ~ ((1 - lam) * smoothed_prior + lam / Q)^-1, scaled so E_prior[w] = 1.

    lam = 1 gives uniform weights (no rebalancing); Zhang et al. use lam = 0.5.
    """
    d2 = torch.cdist(bins.float(), bins.float()).pow(2)
    kernel = torch.exp(-d2 / (2 * sigma**2))
    smoothed = kernel @ prior.float()
    smoothed = smoothed / smoothed.sum()
    q = bins.shape[0]
    w = 1.0 / ((1.0 - lam) * smoothed + lam / q)
    return w / (smoothed * w).sum()


class ColorLoss(nn.Module):
    """Loss on a head's raw outputs against unscaled target ab at the output resolution."""

    def __init__(self, bins: torch.Tensor | None = None, class_weights: torch.Tensor | None = None,
                 reg_weight: float = 1.0, beta: float = 0.05):
        super().__init__()
        self.register_buffer("bins", bins if bins is not None else torch.zeros(0, 2))
        self.register_buffer("class_weights", class_weights if class_weights is not None else torch.zeros(0))
        self.reg_weight = reg_weight
        self.beta = beta

    def forward(self, out: dict[str, torch.Tensor], ab_target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        parts: dict[str, torch.Tensor] = {}
        if "ab" in out:
            parts["reg"] = self.reg_weight * F.smooth_l1_loss(out["ab"].float(), ab_target / AB_SCALE, beta=self.beta)
        if "logits" in out:
            target = soft_encode(ab_target, self.bins)  # (B, Q, h, w)
            logp = F.log_softmax(out["logits"].float(), dim=1)
            ce = -(target * logp).sum(1)  # (B, h, w)
            if self.class_weights.numel():
                ce = ce * self.class_weights[target.argmax(1)]
            parts["cls"] = ce.mean()
        loss = sum(parts.values())
        return loss, {k: float(v.detach()) for k, v in parts.items()}
