"""Label-free model selection: scores of a trained student that use no target label, so settings can be chosen for
a new wearer, whose labels nobody has (docs/selection.md).

Each run records every rule's score in metrics.json ("label_free"); `unikd-mcu tune` maximises one of them. The
target test macro-F1 is recorded beside them only so that benchmarks can measure how well a rule ranks settings
(rank_correlation); nothing chooses by it.
"""

from __future__ import annotations

import numpy as np

from unikd.errors import UserError
from unikd.metrics import macro_f1

# name -> what it measures; every rule is "higher is better" and lies in [0, 1]
RULES = {
    "teacher-agreement": "macro-F1 of the student's predictions against its teacher's on the target's unlabelled "
                         "training windows (how faithfully the student carries the adapted teacher to the wearer)",
    "source-val": "macro-F1 on the source's own test windows (labelled source data; blind to the target)",
    "agreement+source": "the mean of teacher-agreement and source-val",
}
DEFAULT_RULE = "teacher-agreement"


def label_free_scores(student_pred_target: np.ndarray, teacher_pred_target: np.ndarray | None,
                      source_true: np.ndarray | None, student_pred_source: np.ndarray | None,
                      num_classes: int) -> dict[str, float | None]:
    """Every rule's score for one run (None where a rule does not apply: no teacher, or no source test windows)."""
    agree = (None if teacher_pred_target is None
             else macro_f1(teacher_pred_target, student_pred_target, num_classes))
    source = None if source_true is None or not len(source_true) else macro_f1(source_true, student_pred_source,
                                                                                 num_classes)
    both = None if agree is None or source is None else (agree + source) / 2
    return {"teacher-agreement": agree, "source-val": source, "agreement+source": both}


def check_rule(name: str) -> str:
    if name not in RULES:
        raise UserError(f"unknown selection rule {name!r}; valid: {', '.join(RULES)}")
    return name


def _ranks(values) -> np.ndarray:
    """Ranks 1..n, ties sharing their mean rank (as Spearman's coefficient needs)."""
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    for value in np.unique(v):
        tied = v == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def rank_correlation(rule_scores, true_scores) -> float:
    """Spearman's rank correlation between a rule's scores and the real target scores over candidate settings
    (1: the rule orders the settings exactly as the target labels would; 0: no better than chance). NaN when
    either side is constant or not finite, or fewer than 3 candidates are given."""
    if len(rule_scores) != len(true_scores):
        raise ValueError(f"{len(rule_scores)} rule scores for {len(true_scores)} true scores")
    if not (np.all(np.isfinite(rule_scores)) and np.all(np.isfinite(true_scores))):
        return float("nan")
    a, b = _ranks(rule_scores), _ranks(true_scores)
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])
