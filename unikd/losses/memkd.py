"""MemKD's memory-discrepancy loss (docs: ../shared/docs/method.md, "MemKD"; Udayangani et al., arXiv 2601.04264).

A recurrent model's hidden state h(t) is its memory; what the subsequence t+1 .. t+z does to it is the change
dh(t, z) = h(t + z) - h(t). The student learns to change its memory the way the teacher does:

    L_Mem = mean over (t, z) pairs, samples and teacher units of
            SmoothL1( P(dh_S(t, z)) / ||h_S(t)||,  dh_T(t, z) / ||h_T(t)|| )

Each change is divided by the norm of its own model's memory at t, so the two models' hidden scales need not agree;
P is a learned linear map from the student's width to the teacher's (no bias: a zero change maps to zero). Only the
student and P receive gradients. The recurrent student and the method that uses this (issue 13) come later; this
module is the loss and the choice of pairs, each testable on hand-made tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Default subsequence lengths, as fractions of the window (the paper leaves them open; method.md suggests these).
DEFAULT_SPANS = (1 / 8, 1 / 4, 1 / 2)
#: Added to a memory norm so that a zero state (e.g. before any input) never divides by zero.
NORM_EPS = 1e-6


class MemoryProjection(nn.Module):
    """P: the student's memory change (width S) -> the teacher's width T, linear without bias."""

    def __init__(self, student_width: int, teacher_width: int):
        super().__init__()
        self.linear = nn.Linear(student_width, teacher_width, bias=False)

    def forward(self, dh: torch.Tensor) -> torch.Tensor:
        return self.linear(dh)


def draw_pairs(length: int, count: int, spans=DEFAULT_SPANS, generator: torch.Generator | None = None) -> torch.Tensor:
    """`count` (t, z) pairs for sequences of `length` steps, as a (count, 2) long tensor: z = round(span * length)
    for a span drawn uniformly from `spans`, t uniform in 0 .. length - 1 - z (so t + z is a step of the sequence).
    Seeded through `generator`. Refuses spans that give z < 1 or z >= length, naming them."""
    zs = [int(round(s * length)) for s in spans]
    bad = [s for s, z in zip(spans, zs) if not 1 <= z < length]
    if bad:
        raise ValueError(f"MemKD spans {bad} give subsequences outside 1 .. {length - 1} steps for sequences of "
                         f"{length}; give fractions of the window between {1 / length:.3g} and {1 - 1 / length:.3g}")
    if count < 1:
        raise ValueError(f"MemKD needs at least one (t, z) pair per batch, got {count}")
    z = torch.tensor(zs)[torch.randint(len(zs), (count,), generator=generator)]
    t = (torch.rand(count, generator=generator) * (length - z)).long()  # 0 .. length - 1 - z
    return torch.stack([t, z], dim=1)


def memory_changes(hidden: torch.Tensor, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """hidden (B, L, H): the state after each step. Returns (dh (B, P, H), ||h(t)|| (B, P, 1)) for the pairs."""
    t, z = pairs[:, 0], pairs[:, 1]
    start = hidden[:, t]
    return hidden[:, t + z] - start, start.norm(dim=2, keepdim=True)


def memkd_loss(teacher_hidden: torch.Tensor, student_hidden: torch.Tensor, pairs: torch.Tensor,
               projection: MemoryProjection, beta: float = 1.0) -> torch.Tensor:
    """L_Mem for hidden states teacher (B, L, T) and student (B, L, S) of the same windows; SmoothL1 with `beta`."""
    if teacher_hidden.shape[:2] != student_hidden.shape[:2]:
        raise ValueError(f"teacher and student hidden states cover different batches or lengths: "
                         f"{tuple(teacher_hidden.shape)} vs {tuple(student_hidden.shape)}")
    dt, nt = memory_changes(teacher_hidden.detach(), pairs)
    ds, ns = memory_changes(student_hidden, pairs)
    target = dt / (nt + NORM_EPS)
    return F.smooth_l1_loss(projection(ds) / (ns + NORM_EPS), target, beta=beta)
