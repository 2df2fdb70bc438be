"""CORAL (Sun & Saenko, 2016): match second-order statistics of source and target features."""

from __future__ import annotations

import torch


def coral(f_s: torch.Tensor, f_t: torch.Tensor) -> torch.Tensor:
    """||Cov(f_s) - Cov(f_t)||_F^2 / (4 d^2) for features of shape (N, d)."""
    d = f_s.shape[1]

    def cov(f: torch.Tensor) -> torch.Tensor:
        f = f - f.mean(dim=0, keepdim=True)
        return f.T @ f / max(f.shape[0] - 1, 1)

    return ((cov(f_s) - cov(f_t)) ** 2).sum() / (4.0 * d * d)
