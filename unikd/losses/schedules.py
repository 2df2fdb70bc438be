"""Schedules for the adversarial weight (lambda) and the UNI-KD trade-off (beta)."""

from __future__ import annotations

import math


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """DANN ramp 2 / (1 + exp(-gamma p)) - 1 for training progress p in [0, 1]: 0 at the start, ~1 at the end,
    so the reversed gradient does not disturb the features before the classifier has learnt anything."""
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


def authors_lambda(step: int, epoch: int, steps_per_epoch: int, epochs: int) -> float:
    """The lambda of the authors' code: its p counts steps without dividing by the steps per epoch (and counts
    epochs from 1), so p >= 1 from the first step and lambda is ~1 at once."""
    return dann_lambda((step + (epoch + 1) * steps_per_epoch) / epochs)


def beta_schedule(epoch: int, epochs: int, beta_min: float = 0.1, beta_max: float = 0.9) -> float:
    """UNI-KD's beta_e, rising exponentially from beta_min at epoch 0 to beta_max at the last epoch:
    beta_e = beta_min * exp(e / (E - 1) * ln(beta_max / beta_min)). Knowledge distillation gains weight over
    domain confusion as the student's features settle."""
    if epochs <= 1:
        return beta_max
    frac = min(max(epoch / (epochs - 1), 0.0), 1.0)
    return beta_min * math.exp(frac * math.log(beta_max / beta_min))


def beta_schedule_authors(epoch: int, epochs: int) -> float:
    """The authors' code: 0.1 * exp(e * log10(9) / E). With log10 in place of ln it only reaches ~0.26."""
    return 0.1 * math.exp(epoch * math.log10(9) / epochs)
