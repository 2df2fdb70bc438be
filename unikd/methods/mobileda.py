"""MobileDA (Yang et al., IEEE IoT-J 2020): distil a source-only teacher on target windows while aligning
source and target student features with CORAL."""

from __future__ import annotations

from unikd.losses import coral, kd_kl
from unikd.methods import METHODS
from unikd.methods.base import Method, cross_entropy


@METHODS.register("mobileda")
class MobileDA(Method):
    summary = "source CE + KL to a source-only teacher on target windows (T=2) + CORAL between domains"
    teacher_kind = "source-only"
    defaults = {"temperature": 2.0}

    def train_step(self, b, info):
        _, z_teacher_t = b.teacher_t
        f_s, z_s = self.net.forward_with_features(b.xs)
        f_t, z_t = self.net.forward_with_features(b.xt)
        ce = cross_entropy(z_s, b.ys)
        kd = kd_kl(z_t, z_teacher_t, self.cfg.temperature)
        cor = coral(f_s, f_t)
        loss = ce + kd + self.cfg.coral_weight * cor
        self._update(loss, self.opt)
        return {"ce": ce.item(), "kd": kd.item(), "coral": cor.item()}
