"""Pictures people would rather look at than read. matplotlib with the Agg backend (no screen needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(cm: np.ndarray, class_names: list[str], title: str, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=110)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if frac[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_sweep(table: dict, path: Path) -> None:
    """Grouped bars: one group per scenario (and the mean), one bar per method, seed std as error bars."""
    plt = _pyplot()
    methods = list(table)
    scenarios = list(next(iter(table.values())))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(scenarios) * max(1, len(methods)) / 3), 4), dpi=110)
    width = 0.8 / max(len(methods), 1)
    for i, m in enumerate(methods):
        means = [table[m].get(s, (np.nan, 0))[0] for s in scenarios]
        stds = [table[m].get(s, (np.nan, 0))[1] for s in scenarios]
        ax.bar(np.arange(len(scenarios)) + i * width - 0.4 + width / 2, means, width, yerr=stds, label=m,
               capsize=2)
    ax.set_xticks(range(len(scenarios)), scenarios, rotation=30)
    ax.set_ylabel("macro-F1 (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7, ncol=min(4, len(methods)), loc="lower left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_tune(numbers: list[int], rule: list[float], truth: list[float], rule_name: str, rho: float, path: Path,
              title: str) -> None:
    """Left: the rule's score per trial and the best so far. Right (when target labels exist, as a diagnostic):
    each trial's rule score against its target macro-F1, with Spearman's rank correlation."""
    plt = _pyplot()
    have_truth = any(np.isfinite(truth))
    fig, axes = plt.subplots(1, 2 if have_truth else 1, figsize=(10 if have_truth else 5.5, 4), dpi=110,
                             squeeze=False)
    ax = axes[0, 0]
    ax.plot(numbers, rule, "o", ms=4, label="trial")
    ax.plot(numbers, np.maximum.accumulate(rule), "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{rule_name} (label-free)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if have_truth:
        ax = axes[0, 1]
        ax.plot(rule, 100 * np.asarray(truth), "o", ms=4)
        ax.set_xlabel(f"{rule_name} (label-free)")
        ax.set_ylabel("target macro-F1 (%) (diagnostic, not used)")
        ax.set_title(f"Spearman rank correlation {rho:.2f}", fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
