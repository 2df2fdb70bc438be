"""Hinton KD from a source-only teacher: compression without adaptation."""

from __future__ import annotations

from unikd.losses import kd_kl
from unikd.methods import METHODS
from unikd.methods.base import Method, cross_entropy


@METHODS.register("kd")
class HintonKD(Method):
    summary = "Hinton logit distillation on source windows from a source-only teacher (no adaptation)"
    teacher_kind = "source-only"

    def train_step(self, b, info):
        _, z_t = b.teacher_s
        z_s = self.net(b.xs)
        ce = cross_entropy(z_s, b.ys)
        kd = kd_kl(z_s, z_t, self.cfg.temperature)
        loss = ce + kd
        self._update(loss, self.opt)
        return {"ce": ce.item(), "kd": kd.item()}
