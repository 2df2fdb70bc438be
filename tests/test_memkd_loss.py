"""MemKD's memory-discrepancy loss on hand-made tensors (issue 13's loss tests): normalisation by each model's own
memory norm, the width projection, zero loss for matching memory changes, gradients to the student only, pairs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from unikd.losses.memkd import NORM_EPS, MemoryProjection, draw_pairs, memkd_loss, memory_changes


def identity_projection(width: int) -> MemoryProjection:
    p = MemoryProjection(width, width)
    with torch.no_grad():
        p.linear.weight.copy_(torch.eye(width))
    return p


def states(batch=2, length=8, width=3, seed=0) -> torch.Tensor:
    return torch.randn(batch, length, width, generator=torch.Generator().manual_seed(seed))


def test_a_hand_computed_value():
    # one sample, one pair (t=0, z=1), widths 2 -> 2 with the identity projection
    teacher = torch.tensor([[[3.0, 4.0], [3.0, 6.0]]])  # ||h_T(0)|| = 5, dh_T = (0, 2) -> (0, 0.4)
    student = torch.tensor([[[0.0, 1.0], [1.0, 1.0]]])  # ||h_S(0)|| = 1, dh_S = (1, 0) -> (1, 0)
    loss = memkd_loss(teacher, student, torch.tensor([[0, 1]]), identity_projection(2))
    # SmoothL1 (beta 1) per unit: |1 - 0| >= 1 -> 1 - 0.5; |0 - 0.4| < 1 -> 0.5 * 0.4^2; mean over the 2 units
    d0 = 1.0 / (1.0 + NORM_EPS)  # each change over its own memory norm (plus the guard)
    d1 = 2.0 / (5.0 + NORM_EPS)
    expected = ((d0 - 0.5) + 0.5 * d1 * d1) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_each_model_is_normalised_by_its_own_memory_norm():
    teacher, student = states(width=5, seed=1), states(width=3, seed=2)
    pairs = draw_pairs(8, 6, generator=torch.Generator().manual_seed(0))
    proj = MemoryProjection(3, 5)
    base = memkd_loss(teacher, student, pairs, proj)
    # scaling either model's hidden states changes neither side of the comparison
    assert memkd_loss(teacher * 7.0, student, pairs, proj).item() == pytest.approx(base.item(), rel=1e-4)
    assert memkd_loss(teacher, student * 0.01, pairs, proj).item() == pytest.approx(base.item(), rel=1e-4)
    # and without the normalisation it would have: the raw discrepancy moves with the scale
    dt, _ = memory_changes(teacher, pairs)
    ds, _ = memory_changes(student, pairs)
    assert F.smooth_l1_loss(proj(ds), 7.0 * dt).item() != pytest.approx(F.smooth_l1_loss(proj(ds), dt).item(), rel=1e-2)


def test_the_projection_maps_the_student_width_to_the_teachers():
    student = states(width=2, seed=3)
    pairs = draw_pairs(8, 5, generator=torch.Generator().manual_seed(1))
    # P with orthonormal columns keeps norms, so a teacher whose memory is P applied to the student's has the same
    # normalised changes in the teacher's 4 units: zero loss
    isometry = MemoryProjection(2, 4)
    with torch.no_grad():
        isometry.linear.weight.copy_(torch.tensor([[0.6, 0.0], [0.8, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    teacher = student @ isometry.linear.weight.T
    assert memkd_loss(teacher, student, pairs, isometry).item() == pytest.approx(0.0, abs=1e-10)
    # the same teacher seen through another P: the comparison happens after the projection, so the loss is not zero
    other = MemoryProjection(2, 4)
    with torch.no_grad():
        other.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]]))
    assert memkd_loss(teacher, student, pairs, other).item() > 1e-3
    with pytest.raises(ValueError, match="different batches or lengths"):
        memkd_loss(teacher[:, :7], student, pairs, isometry)


def test_zero_loss_when_the_students_memory_changes_match_the_teachers():
    teacher = states(width=4, seed=4)
    student = 0.25 * teacher  # the same memory path at another scale: the normalised changes are equal
    pairs = draw_pairs(8, 10, generator=torch.Generator().manual_seed(2))
    loss = memkd_loss(teacher, student, pairs, identity_projection(4))
    assert loss.item() == pytest.approx(0.0, abs=1e-10)
    other = memkd_loss(teacher, states(width=4, seed=5), pairs, identity_projection(4))
    assert other.item() > 1e-3


def test_gradients_reach_the_student_and_the_projection_only():
    teacher = states(width=5, seed=6).requires_grad_(True)
    student = states(width=3, seed=7).requires_grad_(True)
    proj = MemoryProjection(3, 5)
    memkd_loss(teacher, student, draw_pairs(8, 4, generator=torch.Generator().manual_seed(3)), proj).backward()
    assert teacher.grad is None
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert proj.linear.weight.grad is not None and proj.linear.weight.grad.abs().sum() > 0


def test_pairs_are_seeded_within_the_sequence_and_use_the_spans():
    a = draw_pairs(128, 500, generator=torch.Generator().manual_seed(9))
    b = draw_pairs(128, 500, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)
    t, z = a[:, 0], a[:, 1]
    assert set(z.tolist()) == {16, 32, 64}  # 1/8, 1/4, 1/2 of 128
    assert int(t.min()) == 0 and bool(((t + z) <= 127).all())
    assert int((t + z).max()) >= 120  # the whole sequence is reachable
    with pytest.raises(ValueError, match=r"spans \[0.001\] give subsequences outside 1 .. 127 steps"):
        draw_pairs(128, 4, spans=(0.001,))
    with pytest.raises(ValueError, match="at least one"):
        draw_pairs(128, 0)
