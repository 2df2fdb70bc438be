"""The label-free selection rules (unikd/selection.py) and Spearman's rank correlation: a case where the right
ranking is known, ties, and what a run records."""

import math

import numpy as np
import pytest

from unikd.selection import RULES, label_free_scores, rank_correlation


def test_rank_correlation_known_values():
    assert rank_correlation([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties share their mean rank: ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4)
    assert rank_correlation([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505139)
    # a monotone but non-linear relation is still a perfect ranking
    assert rank_correlation([0.1, 0.2, 0.3, 0.9], [1, 8, 27, 1000]) == pytest.approx(1.0)


def test_rank_correlation_undefined_cases_are_nan():
    assert math.isnan(rank_correlation([1, 2], [1, 2]))  # too few candidates
    assert math.isnan(rank_correlation([1, 1, 1], [1, 2, 3]))  # a constant rule ranks nothing
    assert math.isnan(rank_correlation([1, float("nan"), 3], [1, 2, 3]))  # a rule that did not apply
    with pytest.raises(ValueError, match="3 rule scores for 2 true scores"):
        rank_correlation([1, 2, 3], [1, 2])


def test_teacher_agreement_ranks_students_as_the_target_labels_would():
    """Synthetic case with a known answer: the teacher is right on 90 % of the target windows; each candidate
    student copies the teacher except on a growing share of windows, where it answers at random. Copying the
    teacher more faithfully must score higher under both the rule and the (hidden) labels."""
    rng = np.random.default_rng(0)
    k, n = 6, 600
    y = rng.integers(0, k, n)
    teacher = np.where(rng.random(n) < 0.9, y, rng.integers(0, k, n))
    rule, truth = [], []
    for noise in (0.0, 0.1, 0.2, 0.35, 0.5, 0.7):
        student = np.where(rng.random(n) < noise, rng.integers(0, k, n), teacher)
        s = label_free_scores(student, teacher, y[:50], student[:50], k)
        rule.append(s["teacher-agreement"])
        f1 = np.mean([2 * np.sum((student == c) & (y == c)) / (np.sum(student == c) + np.sum(y == c))
                      for c in range(k)])
        truth.append(f1)
    assert rule[0] == 1.0  # a perfect copy agrees on every window
    assert rank_correlation(rule, truth) == pytest.approx(1.0)
    assert sorted(rule, reverse=True) == rule


def test_rules_that_do_not_apply_are_none():
    s = label_free_scores(np.array([0, 1]), None, None, None, 2)
    assert s == {"teacher-agreement": None, "source-val": None, "agreement+source": None}
    s = label_free_scores(np.array([0, 1]), np.array([0, 0]), np.array([1, 1]), np.array([1, 1]), 2)
    assert s["source-val"] == 1.0
    assert s["teacher-agreement"] == pytest.approx((2 / 3 + 0) / 2)  # class 0: F1 2/3; class 1: 0
    assert s["agreement+source"] == pytest.approx((s["teacher-agreement"] + 1.0) / 2)
    assert set(s) == set(RULES)
