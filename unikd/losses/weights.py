"""UNI-KD's joint-knowledge sample weights."""

from __future__ import annotations

import torch


def joint_weights(domain_logits: torch.Tensor, detach: bool = True) -> torch.Tensor:
    """w = 1 - |p_0 - p_1| with p = softmax(domain_logits) (N, 2) -> (N,).

    Near 1 where the data-domain discriminator cannot tell source from target (knowledge both domains share),
    near 0 where it can. The paper treats w as a fixed weight (stop-gradient); `detach=False` reproduces the
    authors' code, where the distillation loss also trains the discriminator through w.
    """
    if detach:
        domain_logits = domain_logits.detach()
    p = torch.softmax(domain_logits, dim=1)
    return 1.0 - (p[:, 0] - p[:, 1]).abs()
