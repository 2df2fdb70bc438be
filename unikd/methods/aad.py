"""AAD, adversarial adaptation with distillation (Ryu et al., 2020, as used as a baseline by UNI-KD).

A source-only teacher. The student learns the source labels and the teacher's source logits, and an adversarial
game on features: a discriminator tells the teacher's source features (real) from the adapted student features
on target windows (fake); the student and adapter learn to fool it, which pulls target features towards the
teacher's source feature distribution. Loss: CE + T^2 KD + 0.1 adversarial.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unikd.losses import kd_kl
from unikd.methods import METHODS
from unikd.methods.base import Method, adam, cross_entropy
from unikd.models.heads import adapter, mlp_discriminator


@METHODS.register("aad")
class AAD(Method):
    summary = "source CE + KD from a source-only teacher + adversarial feature alignment (target -> teacher's source)"
    teacher_kind = "source-only"

    def __init__(self, net, cfg, teacher=None):
        self.adapter = adapter(net.feature_dim, teacher.feature_dim)
        super().__init__(net, cfg, teacher)
        self.disc = mlp_discriminator(teacher.feature_dim, 1)
        self.opt_disc = adam(self.disc.parameters(), cfg.lr, cfg.weight_decay)

    def trainable_parameters(self):
        return list(self.net.parameters()) + list(self.adapter.parameters())

    def train_step(self, b, info):
        f_teacher_s, z_teacher_s = b.teacher_s
        z_s = self.net(b.xs)
        a_t = self.adapter(self.net.features(b.xt))

        # discriminator: teacher source features are real, adapted student target features fake
        real, fake = self.disc(f_teacher_s), self.disc(a_t.detach())
        d_loss = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
            F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        self._update(d_loss, self.opt_disc)

        ce = cross_entropy(z_s, b.ys)
        kd = kd_kl(z_s, z_teacher_s, self.cfg.temperature)
        fooled = self.disc(a_t)
        adv = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        loss = ce + kd + self.cfg.adv_weight * adv
        self._update(loss, self.opt)
        self.disc.zero_grad(set_to_none=True)  # the student's step must not leak into the next disc step
        return {"ce": ce.item(), "kd": kd.item(), "adv": adv.item(), "disc": d_loss.item()}
