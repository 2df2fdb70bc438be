"""What every method shares: the step contract and the optimiser recipe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class StepInfo:
    epoch: int  # 0-based
    epochs: int
    step: int  # 0-based, inside the epoch
    steps_per_epoch: int

    @property
    def global_step(self) -> int:
        return self.epoch * self.steps_per_epoch + self.step

    @property
    def progress(self) -> float:
        """Fraction of training done, 0 -> 1 (what the DANN lambda ramp expects)."""
        return self.global_step / max(self.epochs * self.steps_per_epoch, 1)


def adam(params, lr: float, weight_decay: float) -> torch.optim.Adam:
    """Adam with betas (0.5, 0.99), the recipe of the AdaTime and UNI-KD reference code."""
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.99), weight_decay=weight_decay)


@dataclass
class Batch:
    """One step's data: a labelled source batch, a target batch (labels only for target-supervised), and the
    frozen teacher's (features, logits) on both, computed once per run by the trainer rather than every step."""

    xs: torch.Tensor
    ys: torch.Tensor
    xt: torch.Tensor
    yt: torch.Tensor
    teacher_s: tuple[torch.Tensor, torch.Tensor] | None = None
    teacher_t: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def with_teacher(cls, teacher, xs, ys, xt, yt) -> "Batch":
        return cls(xs, ys, xt, yt, *(teacher_outputs(teacher, x) for x in (xs, xt)) if teacher else (None, None))


@torch.no_grad()
def teacher_outputs(teacher: nn.Module, x: torch.Tensor, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, logits) of a frozen teacher in eval mode."""
    teacher.eval()
    parts = [teacher.forward_with_features(x[i:i + chunk]) for i in range(0, len(x), chunk)]
    return torch.cat([f for f, _ in parts]), torch.cat([z for _, z in parts])


class Method:
    """One training method for one network (`net`), optionally guided by a frozen teacher.

    teacher_kind: None (no teacher), "dann" or "source-only": which teacher the trainer must provide.
    defaults: config values this method needs unless the user sets them (for example the authors' mode
    feeds raw, unnormalised inputs as their code does).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    teacher_kind: ClassVar[str | None] = None
    uses_target_labels: ClassVar[bool] = False
    defaults: ClassVar[dict] = {}

    def __init__(self, net: nn.Module, cfg, teacher: nn.Module | None = None):
        self.net = net
        self.cfg = cfg
        self.teacher = teacher
        if teacher is not None:
            teacher.eval()
            for p in teacher.parameters():
                p.requires_grad_(False)
        self.opt = adam(self.trainable_parameters(), cfg.lr, cfg.weight_decay)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """Every optimiser the method steps (the trainer applies the learning-rate schedule to all of them)."""
        return [o for o in vars(self).values() if isinstance(o, torch.optim.Optimizer)]

    def trainable_parameters(self):
        """Parameters updated by the main optimiser (the network, plus adapters in subclasses)."""
        return list(self.net.parameters())

    def train_step(self, b: Batch, info: StepInfo) -> dict[str, float]:
        raise NotImplementedError

    def _update(self, loss: torch.Tensor, *opts) -> None:
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts:
            o.step()


def domain_labels(n_source: int, n_target: int) -> torch.Tensor:
    """0 for source rows, 1 for target rows."""
    return torch.cat([torch.zeros(n_source, dtype=torch.long), torch.ones(n_target, dtype=torch.long)])


def cross_entropy(logits, y):
    return F.cross_entropy(logits, y)
