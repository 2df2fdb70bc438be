"""UNI-KD's terms send gradient where the paper says, and the authors' mode departs where documented."""

import math

import pytest
import torch

from unikd.config import resolve_config
from unikd.methods import METHODS, Batch, StepInfo
from unikd.models import build_model


def make(method: str):
    torch.manual_seed(0)
    cfg = resolve_config({"method": method})
    teacher = build_model("cnn-teacher", 9, 6).eval()
    student = build_model("cnn-student", 9, 6).eval()  # eval: no dropout noise in gradient checks
    m = METHODS.get(method)(student, cfg, teacher)
    g = torch.Generator().manual_seed(1)
    xs, xt = torch.randn(8, 9, 128, generator=g), torch.randn(8, 9, 128, generator=g) + 1.0
    ys = torch.randint(0, 6, (8,), generator=g)
    return m, xs, ys, xt


def batch(m, xs, ys, xt):
    return Batch.with_teacher(m.teacher, xs, ys, xt, ys)


def grads(term, params):
    gs = torch.autograd.grad(term, list(params), retain_graph=True, allow_unused=True)
    return sum(0.0 if g is None else g.abs().sum().item() for g in gs)


INFO = StepInfo(epoch=5, epochs=10, step=2, steps_per_epoch=6)


def test_target_kd_term_uses_the_target_batch():
    m, xs, ys, xt = make("unikd")
    xt.requires_grad_(True)
    t = m.losses(batch(m, xs, ys, xt), INFO)
    assert grads(t["kd_tgt"], [xt]) > 0
    m, xs, ys, xt = make("unikd-authors")
    xs.requires_grad_(True)
    t = m.losses(batch(m, xs, ys, xt), INFO)
    # the authors' code distils the target half on the source batch's logits
    assert grads(t["kd_tgt"], [xs]) > 0


def test_adversarial_term_trains_student_and_adapter_in_paper_mode_only():
    m, xs, ys, xt = make("unikd")
    t = m.losses(batch(m, xs, ys, xt), INFO)
    assert grads(t["adv"], m.net.parameters()) > 0
    assert grads(t["adv"], m.adapter.parameters()) > 0
    m, xs, ys, xt = make("unikd-authors")
    t = m.losses(batch(m, xs, ys, xt), INFO)
    assert grads(t["adv"], m.net.parameters()) == 0
    assert grads(t["adv"], m.adapter.parameters()) == 0


def test_joint_weights_are_under_stop_gradient_in_paper_mode():
    m, xs, ys, xt = make("unikd")
    t = m.losses(batch(m, xs, ys, xt), INFO)
    assert grads(t["jkd"], m.domain_disc.parameters()) == 0
    m, xs, ys, xt = make("unikd-authors")
    t = m.losses(batch(m, xs, ys, xt), INFO)
    assert grads(t["jkd"], m.domain_disc.parameters()) > 0


def test_domain_confusion_trains_discriminator_and_student_with_the_ramped_lambda():
    m, xs, ys, xt = make("unikd")
    t = m.losses(batch(m, xs, ys, xt), INFO)
    assert grads(t["dc"], m.domain_disc.parameters()) > 0
    assert grads(t["dc"], m.net.parameters()) > 0  # reversed by the GRL (tested in test_losses)
    assert float(t["lambda"]) == pytest.approx(2 / (1 + math.exp(-10 * INFO.progress)) - 1)


def test_teacher_is_frozen():
    m, xs, ys, xt = make("unikd")
    t = m.losses(batch(m, xs, ys, xt), INFO)
    assert all(not p.requires_grad for p in m.teacher.parameters())
    assert t["total"].requires_grad


def test_paper_and_authors_modes_differ_in_schedules():
    m, *_ = make("unikd")
    a, *_ = make("unikd-authors")
    last = StepInfo(epoch=9, epochs=10, step=0, steps_per_epoch=6)
    assert m.schedules(last)[1] == pytest.approx(0.9)
    assert a.schedules(last)[1] == pytest.approx(0.26, abs=0.005)
    first = StepInfo(epoch=0, epochs=10, step=0, steps_per_epoch=6)
    assert m.schedules(first)[0] == 0.0 and a.schedules(first)[0] > 0.99


def test_single_departures_can_be_switched_on_for_ablation():
    torch.manual_seed(0)
    teacher, student = build_model("cnn-teacher", 9, 6), build_model("cnn-student", 9, 6)
    m = METHODS.get("unikd")(student, resolve_config({"method": "unikd", "departures": ["beta_log10"]}), teacher)
    last = StepInfo(epoch=9, epochs=10, step=0, steps_per_epoch=6)
    assert m.departures.beta_log10 and not m.departures.adv_without_gradient
    assert m.schedules(last)[1] == pytest.approx(0.26, abs=0.005)  # the log10 beta...
    assert m.schedules(StepInfo(0, 10, 0, 6))[0] == 0.0  # ...but the paper's lambda ramp


def test_unknown_departure_is_refused_with_the_valid_names():
    from unikd.errors import UserError

    cfg = resolve_config({"method": "unikd", "departures": ["typo"]})
    with pytest.raises(UserError, match="unknown UNI-KD departure\\(s\\) typo; valid: target_kd_on_source_batch"):
        METHODS.get("unikd")(build_model("cnn-student", 9, 6), cfg, build_model("cnn-teacher", 9, 6))


def test_teacher_information_maximisation_is_a_teacher_setting_and_changes_the_dann_step():
    from unikd.train import TEACHER_FIELDS

    assert "teacher_im_weight" in TEACHER_FIELDS  # a teacher trained with another weight is never reused
    assert resolve_config({"method": "unikd-authors"}).teacher_im_weight == 0.0  # the authors' plain DANN
    steps = {}
    for w in (0.0, 0.3):
        torch.manual_seed(0)
        net = build_model("cnn-teacher", 9, 6)
        m = METHODS.get("dann")(net, resolve_config({"method": "dann", "im_weight": w}))
        g = torch.Generator().manual_seed(1)
        xs, xt = torch.randn(8, 9, 128, generator=g), torch.randn(8, 9, 128, generator=g)
        ys = torch.randint(0, 6, (8,), generator=g)
        torch.manual_seed(2)
        out = m.train_step(Batch(xs, ys, xt, ys), INFO)
        steps[w] = (out, net.head.weight.detach().clone())
    assert "im" not in steps[0.0][0] and "im" in steps[0.3][0]
    assert not torch.equal(steps[0.0][1], steps[0.3][1])  # the term reaches the weights
