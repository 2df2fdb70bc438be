"""DANN (Ganin et al., JMLR 2016): source cross-entropy plus a domain classifier behind gradient reversal.

Used for the teacher of UNI-KD and as a teacher-free student baseline.
"""

from __future__ import annotations

import torch

from unikd.losses import dann_lambda, grad_reverse, info_max
from unikd.losses.schedules import authors_lambda
from unikd.methods import METHODS
from unikd.methods.base import Method, adam, cross_entropy, domain_labels
from unikd.models.heads import mlp_discriminator


@METHODS.register("dann")
class DANN(Method):
    summary = "domain-adversarial training (gradient reversal), no teacher"

    def __init__(self, net, cfg, teacher=None):
        super().__init__(net, cfg, teacher)
        self.disc = mlp_discriminator(net.feature_dim, 2)
        self.opt_disc = adam(self.disc.parameters(), cfg.lr, cfg.weight_decay)

    def train_step(self, b, info):
        if self.cfg.lambda_schedule == "authors":
            lambd = authors_lambda(info.step, info.epoch, info.steps_per_epoch, info.epochs)
        else:
            lambd = dann_lambda(info.progress)
        f_s, z_s = self.net.forward_with_features(b.xs)
        f_t, z_t = self.net.forward_with_features(b.xt)
        ce = cross_entropy(z_s, b.ys)
        dom = self.disc(grad_reverse(torch.cat([f_s, f_t]), lambd))
        dc = cross_entropy(dom, domain_labels(len(b.xs), len(b.xt)))
        loss = self.cfg.dann_ce_weight * ce + self.cfg.domain_weight * dc
        out = {"ce": ce.item(), "domain": dc.item(), "lambda": lambd}
        if self.cfg.im_weight:  # optional: confident but class-balanced predictions on target windows
            im = info_max(z_t)
            loss = loss + self.cfg.im_weight * im
            out["im"] = im.item()
        self._update(loss, self.opt, self.opt_disc)
        return out
