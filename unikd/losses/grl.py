"""Gradient reversal (Ganin & Lempitsky, ICML 2015): identity forward, gradient times -lambda backward.

Lets one optimiser step train a domain discriminator to tell domains apart while the features feeding it
learn to make them indistinguishable.
"""

from __future__ import annotations

import torch
from torch import nn


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lambd: float) -> torch.Tensor:
        ctx.lambd = lambd
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.lambd * grad, None


def grad_reverse(x: torch.Tensor, lambd: float = 1.0) -> torch.Tensor:
    return _ReverseGrad.apply(x, float(lambd))


class GradientReversal(nn.Module):
    """Module form; set `.lambd` from a schedule (see `dann_lambda`) before each step."""

    def __init__(self, lambd: float = 1.0):
        super().__init__()
        self.lambd = lambd

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.lambd)
