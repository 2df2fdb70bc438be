"""Per-channel normalisation, fitted on training windows only and saved with the model.

The same constants are exported to the firmware, which applies y = (x - mean) * inv_std in float32 before
quantising; `apply` does exactly that arithmetic so host and device agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unikd.data.base import DataError

# zscore: one set of constants fitted on both domains' training windows.
# per-domain: each domain standardised with its own training windows' constants (AdaTime's loader does this per
#   subject file); the exported constants are the target's, fitted on its unlabelled training windows, which is
#   what the device of that wearer applies.
# source: one set fitted on the source's training windows only, so nothing of the target domain is used, not even
#   its statistics (the source-only student, the no-adaptation lower bound).
# none: raw values (what the authors' UNI-KD script passes on; `unikd-authors` uses per-domain, docs/benchmarks.md).
KINDS = ("per-domain", "zscore", "source", "none")


@dataclass
class Normaliser:
    mean: np.ndarray  # float32 (C,)
    inv_std: np.ndarray  # float32 (C,)
    kind: str = "zscore"

    @classmethod
    def fit(cls, windows: list[np.ndarray], kind: str = "zscore") -> "Normaliser":
        """Fit on training windows (each N x C x L); never pass test data."""
        if kind not in KINDS:
            raise DataError(f"unknown normalisation {kind!r}; valid: {', '.join(KINDS)}")
        c = windows[0].shape[1]
        if kind == "none":
            return cls(np.zeros(c, np.float32), np.ones(c, np.float32), kind)
        # "per-domain" and "source" fit like "zscore" on the windows they are given (see fit_domains)
        x = np.concatenate([w.transpose(1, 0, 2).reshape(c, -1) for w in windows], axis=1).astype(np.float64)
        std = x.std(axis=1)
        std[std < 1e-8] = 1.0  # a constant channel stays as it is rather than blowing up
        return cls(x.mean(axis=1).astype(np.float32), (1.0 / std).astype(np.float32), kind)

    @classmethod
    def fit_domains(cls, source_X: np.ndarray, target_X: np.ndarray, kind: str) -> tuple["Normaliser", "Normaliser"]:
        """(source's, target's) normalisers for training; the target's is the one exported with the model.
        per-domain: each fitted on its own domain's training windows; source: one set fitted on the source's;
        otherwise one set fitted on both."""
        if kind == "per-domain":
            return cls.fit([source_X], kind), cls.fit([target_X], kind)
        if kind == "source":
            src = cls.fit([source_X], kind)
            return src, src
        both = cls.fit([source_X, target_X], kind)
        return both, both

    def apply(self, X: np.ndarray) -> np.ndarray:
        """X: (N, C, L) float32 -> normalised float32: two separately rounded float32 operations, as the device
        computes them (numpy never fuses them into a multiply-add). Constants given as float64 are rounded to float32
        first, as the device stores them, so the arithmetic never widens to float64."""
        X = np.asarray(X, np.float32)
        mean = np.asarray(self.mean, np.float32)[None, :, None]
        inv_std = np.asarray(self.inv_std, np.float32)[None, :, None]
        return (X - mean) * inv_std

    def to_dict(self) -> dict:
        return {"kind": self.kind, "mean": self.mean.tolist(), "inv_std": self.inv_std.tolist()}

    @classmethod
    def from_dict(cls, d: dict, where: str = "normaliser") -> "Normaliser":
        """From to_dict()'s form; anything else is a DataError naming `where` and what is expected."""
        try:
            mean, inv_std = (np.asarray(d[k], np.float64) for k in ("mean", "inv_std"))
            ok = mean.ndim == 1 and mean.shape == inv_std.shape and np.isfinite(mean).all() \
                and np.isfinite(inv_std).all() and d.get("kind", "zscore") in KINDS
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise DataError(f"{where}: expected {{'kind': one of {', '.join(KINDS)}, 'mean': [numbers], "
                            f"'inv_std': [numbers of the same length]}} with finite values")
        return cls(mean.astype(np.float32), inv_std.astype(np.float32), d.get("kind", "zscore"))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: Path) -> "Normaliser":
        return cls.from_dict(json.loads(Path(path).read_text()), str(path))
