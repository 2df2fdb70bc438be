"""Small heads used by the adaptation and distillation methods: adapter and domain discriminators."""

from __future__ import annotations

from torch import nn


def mlp_discriminator(in_dim: int, out_dim: int, hidden: int = 64) -> nn.Sequential:
    """MLP in_dim -> hidden -> hidden -> out_dim (logits). UNI-KD uses 128->64->64->1 on features (D_f) and
    32->64->64->2 on student features (D_d); DANN uses the latter shape on its own features."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, out_dim),
    )


def adapter(student_dim: int, teacher_dim: int) -> nn.Linear:
    """Maps student features to the teacher's width so they can be compared and discriminated."""
    return nn.Linear(student_dim, teacher_dim)
