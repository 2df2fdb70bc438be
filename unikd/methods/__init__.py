"""Training methods behind a registry: source-only, target-supervised, DANN, KD, MobileDA, AAD, UNI-KD.

A method owns its extra modules (discriminators, adapters), its optimisers and one training step. Adding a
method is adding one module that subclasses `Method` and registers itself.
"""

from unikd.registry import Registry

METHODS: Registry = Registry("method")

from unikd.methods.base import Batch, Method, StepInfo, teacher_outputs  # noqa: E402
from unikd.methods import aad, dann, kd, mobileda, supervised, unikd_kd  # noqa: E402,F401

__all__ = ["METHODS", "Batch", "Method", "StepInfo", "teacher_outputs"]
