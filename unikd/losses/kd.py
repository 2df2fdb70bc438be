"""Logit distillation (Hinton et al., 2015) with optional per-sample weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
          weights: torch.Tensor | None = None) -> torch.Tensor:
    """T^2 * mean_i w_i * KL(softmax(z_t,i / T) || softmax(z_s,i / T)).

    student_logits, teacher_logits: (N, K); weights: (N,) or None (all ones). The T^2 factor keeps gradient
    magnitudes comparable across temperatures. The teacher side receives no gradient.
    """
    t = temperature
    log_p_s = F.log_softmax(student_logits / t, dim=1)
    log_p_t = F.log_softmax(teacher_logits.detach() / t, dim=1)
    per_sample = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)
    if weights is not None:
        per_sample = per_sample * weights
    return (t * t) * per_sample.mean()
