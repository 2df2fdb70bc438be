"""The student's step budget (min_steps) and dropout setting: small domains get more epochs, never fewer."""

import types

import pytest
import torch

from unikd.config import resolve_config
from unikd.errors import UserError
from unikd.train import epochs_for, steps_per_epoch


def _prepared(n_source: int, n_target: int):
    return types.SimpleNamespace(ys=torch.zeros(n_source), yt=torch.zeros(n_target))


@pytest.mark.parametrize("ns,nt,epochs,min_steps,want_steps,want_epochs", [
    (230, 221, 40, 0, 6, 40),      # UCI-HAR 2->11: 6 paired steps per epoch, no floor
    (230, 221, 40, 1200, 6, 200),  # the floor raises the epochs to ceil(1200 / 6)
    (351, 345, 40, 1200, 10, 120),
    (80, 75, 40, 1200, 2, 600),    # a WISDM-sized user: 2 steps per epoch
    (400, 400, 200, 1200, 12, 200),  # enough epochs already: never fewer
    (20, 500, 40, 1200, 1, 1200),  # a domain smaller than a batch: one step per epoch
])
def test_epochs_for_meets_the_step_floor(ns, nt, epochs, min_steps, want_steps, want_epochs):
    p = _prepared(ns, nt)
    assert steps_per_epoch(p, 32) == want_steps
    assert epochs_for(p, epochs, 32, min_steps) == want_epochs
    assert epochs_for(p, epochs, 32, min_steps) * want_steps >= min_steps


@pytest.mark.parametrize("setting,value,needle", [
    ("min_steps", -1, "min_steps must be zero or positive, got -1"),
    ("student_dropout", 1.0, "student_dropout must be at least 0 and below 1, got 1.0"),
    ("student_rotate_degrees", 200.0, "student_rotate_degrees must be between 0 and 180, got 200.0"),
    ("feature_kd_weight", -0.5, "feature_kd_weight must be zero or positive, got -0.5"),
])
def test_bad_values_are_refused(setting, value, needle):
    with pytest.raises(UserError, match=needle):
        resolve_config({setting: value})
