"""Supervised references: source-only (lower bound) and target-supervised (upper bound, uses target labels)."""

from __future__ import annotations

from unikd.methods import METHODS
from unikd.methods.base import Method, cross_entropy


@METHODS.register("source-only")
class SourceOnly(Method):
    summary = "cross-entropy on labelled source windows only; no adaptation (lower bound)"
    # The lower bound uses nothing of the target domain, not even its statistics: per-domain normalisation is
    # itself an adaptation (it alone lifts this student by ~11 points, docs/benchmarks.md).
    defaults = {"normalise": "source"}

    def train_step(self, b, info):
        loss = cross_entropy(self.net(b.xs), b.ys)
        self._update(loss, self.opt)
        return {"ce": loss.item()}


@METHODS.register("target-supervised")
class TargetSupervised(Method):
    summary = "cross-entropy on the target's labelled training windows (reference upper bound; uses target labels)"
    uses_target_labels = True

    def train_step(self, b, info):
        loss = cross_entropy(self.net(b.xt), b.yt)
        self._update(loss, self.opt)
        return {"ce": loss.item()}
