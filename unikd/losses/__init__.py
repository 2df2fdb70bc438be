"""Loss building blocks, each a small function or module testable on hand-made tensors."""

from unikd.losses.coral import coral
from unikd.losses.grl import GradientReversal, grad_reverse
from unikd.losses.info_max import info_max
from unikd.losses.kd import kd_kl
from unikd.losses.memkd import MemoryProjection, draw_pairs, memkd_loss
from unikd.losses.schedules import beta_schedule, dann_lambda
from unikd.losses.weights import joint_weights

__all__ = ["coral", "GradientReversal", "grad_reverse", "info_max", "kd_kl", "beta_schedule", "dann_lambda",
           "joint_weights", "MemoryProjection", "draw_pairs", "memkd_loss"]
