"""Each loss block on hand-made tensors."""

import math

import pytest
import torch

from unikd.losses import beta_schedule, coral, dann_lambda, grad_reverse, info_max, joint_weights, kd_kl
from unikd.losses.schedules import authors_lambda, beta_schedule_authors


def test_gradient_reversal_is_identity_forward_and_flips_and_scales_gradient():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = grad_reverse(x, 0.25)
    assert torch.equal(y, x)
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.25, -0.5, -0.75]))


def test_joint_weights_values_and_stop_gradient():
    logits = torch.tensor([[0.0, 0.0], [10.0, -10.0], [math.log(3.0), 0.0]], requires_grad=True)
    w = joint_weights(logits)
    # p = (0.5, 0.5) -> 1; p ~ (1, 0) -> ~0; p = (0.75, 0.25) -> 0.5
    assert torch.allclose(w, torch.tensor([1.0, 0.0, 0.5]), atol=1e-6)
    assert not w.requires_grad  # the paper's stop-gradient: no loss weighted by w trains the discriminator
    w_authors = joint_weights(logits, detach=False)
    w_authors.sum().backward()
    assert logits.grad.abs().sum() > 0


def test_kd_kl_matches_hand_computation_and_weights():
    zs = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    zt = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    t = 2.0
    ps = torch.softmax(zs[0] / t, 0)
    kl0 = (0.5 * (torch.log(torch.tensor(0.5)) - torch.log(ps))).sum()
    assert torch.isclose(kd_kl(zs, zt, t), t * t * kl0 / 2)  # second row: identical distributions, KL 0
    w = torch.tensor([0.0, 1.0])
    assert kd_kl(zs, zt, t, w).item() == pytest.approx(0.0, abs=1e-7)


def test_kd_kl_sends_no_gradient_to_the_teacher():
    zs = torch.randn(4, 3, requires_grad=True)
    zt = torch.randn(4, 3, requires_grad=True)
    kd_kl(zs, zt, 4.0).backward()
    assert zs.grad.abs().sum() > 0 and zt.grad is None


def test_coral_is_zero_for_equal_statistics_and_positive_otherwise():
    f = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    assert coral(f, f.clone()).item() == pytest.approx(0.0, abs=1e-9)
    assert coral(f, 3 * f).item() > 0.01


def test_dann_lambda_ramps_from_zero_to_one():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_lambda(1.0) > 0.999


def test_authors_lambda_is_saturated_from_the_first_step():
    assert authors_lambda(0, 0, 6, 10) > 0.99


def test_beta_schedule_has_the_documented_range():
    betas = [beta_schedule(e, 40) for e in range(40)]
    assert betas[0] == pytest.approx(0.1) and betas[-1] == pytest.approx(0.9)
    assert all(b2 > b1 for b1, b2 in zip(betas, betas[1:]))  # rises every epoch
    ratios = [b2 / b1 for b1, b2 in zip(betas, betas[1:])]
    assert max(ratios) - min(ratios) < 1e-9  # exponential: a constant ratio
    assert beta_schedule(3, 10, 0.2, 0.5) == pytest.approx(0.2 * (0.5 / 0.2) ** (3 / 9))


def test_authors_beta_only_reaches_about_a_quarter():
    assert beta_schedule_authors(1, 10) == pytest.approx(0.1 * math.exp(math.log10(9) / 10))
    assert beta_schedule_authors(10, 10) == pytest.approx(0.26, abs=0.005)


def test_info_max_rewards_confident_balanced_and_penalises_collapse():
    big = 50.0
    balanced = torch.eye(3) * big  # each window sure of a different class
    collapsed = torch.zeros(3, 3)
    collapsed[:, 0] = big  # every window sure of class 0
    uniform = torch.zeros(3, 3)  # every window unsure
    # confident + balanced: H(p_i) ~ 0, H(mean p) = log 3
    assert info_max(balanced).item() == pytest.approx(-math.log(3), abs=1e-6)
    # collapsed: both entropies ~ 0; unsure: both log 3
    assert info_max(collapsed).item() == pytest.approx(0.0, abs=1e-6)
    assert info_max(uniform).item() == pytest.approx(0.0, abs=1e-6)
    # hand computation on a mixed batch
    z = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    p = torch.softmax(z, 1)
    cond = -(p * p.log()).sum(1).mean()
    m = p.mean(0)
    assert info_max(z).item() == pytest.approx((cond + (m * m.log()).sum()).item(), rel=1e-6)


def test_info_max_gradient_pushes_a_collapsed_batch_apart():
    z = torch.tensor([[3.0, 0.0], [2.5, 0.0]], requires_grad=True)
    info_max(z).backward()
    # descending the loss raises the minority class for at least one window
    assert (-z.grad[:, 1]).max() > 0
