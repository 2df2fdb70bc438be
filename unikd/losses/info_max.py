"""Information maximisation on unlabelled target windows (Krause et al., NeurIPS 2010; used by SHOT, Liang et al.,
ICML 2020): each window's prediction should be confident (low conditional entropy), while the predictions over a
batch should still cover the classes (high entropy of their mean). The second term is what keeps plain entropy
minimisation from collapsing every target window onto one class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_max(logits: torch.Tensor) -> torch.Tensor:
    """mean_i H(p_i) - H(mean_i p_i), p = softmax(logits), in nats; lower is better (minimised)."""
    logp = F.log_softmax(logits, dim=1)
    p = logp.exp()
    conditional = -(p * logp).sum(1).mean()
    marginal = p.mean(0)
    return conditional + (marginal * marginal.clamp_min(1e-12).log()).sum()
