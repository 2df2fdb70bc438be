"""Scores on the target test split: accuracy, macro-F1 (as scikit-learn computes it), confusion matrix."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) counts, rows = true class, columns = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # predicted + true = 2 tp + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2 * tp / denom, 0.0)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """Mean F1 over the classes that occur in y_true or y_pred (scikit-learn's average='macro'), in [0, 1]."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(per_class_f1(cm)[present].mean())


def scores(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict:
    k = len(class_names)
    cm = confusion_matrix(y_true, y_pred, k)
    return {
        "accuracy": float((np.asarray(y_true) == np.asarray(y_pred)).mean()),
        "macro_f1": macro_f1(y_true, y_pred, k),
        "per_class_f1": dict(zip(class_names, per_class_f1(cm).round(6).tolist())),
        "confusion_matrix": cm.tolist(),
        "num_windows": int(len(y_true)),
    }
