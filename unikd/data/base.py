"""The in-memory form every data set loader produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unikd.errors import UserError


class DataError(UserError):
    """Bad or missing data. The message names the file, the key or value, and what was expected."""


@dataclass
class WindowSet:
    """All windows of one data set.

    X: float32 (N, C, L) windows, channels first (as the torch models take them).
    y: int64 (N,) class index in [0, num_classes).
    domain: int64 (N,) domain id (subject for HAR).
    split: int8 (N,) 0 = train part, 1 = test part of its domain (the AdaTime split where the data has one).
    order: int64 (N,) position of the row inside its (domain, split) part, so scenario parts keep a stable order.
    stride: samples between the starts of consecutive windows in the recording (window length if unknown).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    domain: np.ndarray
    split: np.ndarray
    order: np.ndarray
    class_names: list[str]
    channel_names: list[str]
    stride: int
    sample_rate_hz: float | None = None
    source: Path | None = None
    extra: dict = field(default_factory=dict)
    # How `split` was made, shown by `unikd-mcu data show` (e.g. "AdaTime split", "seeded 70/30 ...").
    split_kind: str = "given"
    # Original domain labels when they are not integers (AdaTime file suffixes such as "a"): domain id i is
    # domain_names[i]. Empty when the ids are the data set's own numbers.
    domain_names: list[str] = field(default_factory=list)

    @property
    def num_channels(self) -> int:
        return int(self.X.shape[1])

    @property
    def window(self) -> int:
        return int(self.X.shape[2])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def domains(self) -> list[int]:
        return sorted(int(d) for d in np.unique(self.domain))

    def domain_label(self, domain: int) -> str:
        return self.domain_names[domain] if self.domain_names else str(domain)

    def require_domain(self, domain: int, role: str = "domain") -> int:
        """`domain` if the data set has it, else a DataError listing the valid ones."""
        valid = self.domains()
        if domain not in valid:
            raise DataError(
                f"unknown {role} {domain} in data set {self.name} ({self.source}); valid domains: "
                f"{', '.join(str(d) for d in valid)}"
            )
        return domain

    def rows(self, domain: int, split: int) -> np.ndarray:
        """Row indices of one domain's train (0) or test (1) part, in their stable order."""
        idx = np.flatnonzero((self.domain == domain) & (self.split == split))
        return idx[np.argsort(self.order[idx], kind="stable")]


def whole_numbers(where: str, key: str, arr: np.ndarray) -> np.ndarray:
    """`arr` as int64, refusing anything that is not a whole number (AdaTime stores labels as float64, so
    whole-valued floats are accepted; 1.5 is not silently truncated to 1)."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{where}: key {key!r} must hold whole numbers (class, domain or split ids), got dtype "
                        f"{arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr)) | (np.abs(arr) >= 2**62)
        if bad.any():
            raise DataError(f"{where}: key {key!r} must hold whole numbers (class, domain or split ids), found "
                            f"{arr[bad][:5].tolist()} in {int(bad.sum())} window(s)")
    return arr.astype(np.int64)


F32_MAX = float(np.finfo(np.float32).max)


def validate_windows(ws: WindowSet, where: str) -> WindowSet:
    """Check the arrays of a WindowSet; raise DataError naming `where` and what is wrong."""
    X = ws.X
    if X.ndim != 3:
        raise DataError(f"{where}: key 'X' must have 3 dimensions (N x C x L), got shape {X.shape}")
    n = X.shape[0]
    if n == 0:
        raise DataError(f"{where}: key 'X' holds no windows (shape {X.shape})")
    for key in ("y", "domain", "split", "order"):
        arr = getattr(ws, key)
        if arr.shape != (n,):
            raise DataError(f"{where}: {key} must have shape ({n},), one value per window of X, got {arr.shape}")
        setattr(ws, key, whole_numbers(where, key, arr))
    if X.dtype.kind not in "biuf":
        raise DataError(f"{where}: key 'X' must hold real numbers, got dtype {X.dtype}")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise DataError(
            f"{where}: key 'X' has NaN or inf values ({int((~np.isfinite(X)).sum())} of them, "
            f"first at window {bad[0]}, "
            f"channel {bad[1]}, sample {bad[2]}); clean or drop those windows first"
        )
    if X.dtype.itemsize > 4 and np.abs(X).max() > F32_MAX:
        # training, the model and the device all work in float32: such a value would become inf there
        bad = np.argwhere(np.abs(X) > F32_MAX)[0]
        raise DataError(
            f"{where}: key 'X' has values beyond float32's range (+-{F32_MAX:.4g}), first {X[tuple(bad)]:.6g} at "
            f"window {bad[0]}, channel {bad[1]}, sample {bad[2]}; rescale the data (e.g. to SI units)"
        )
    k = len(ws.class_names)
    if k < 2:
        raise DataError(f"{where}: need at least 2 classes, got {k}")
    if ws.y.min() < 0 or ws.y.max() >= k:
        bad = ws.y[(ws.y < 0) | (ws.y >= k)]
        raise DataError(
            f"{where}: labels (key 'y') must be in 0..{k - 1} ({k} classes: {', '.join(ws.class_names)}), "
            f"found {sorted(set(bad.tolist()))[:10]} in {len(bad)} window(s)"
        )
    if not set(np.unique(ws.split).tolist()) <= {0, 1}:
        raise DataError(f"{where}: split must be 0 (train) or 1 (test), found {sorted(np.unique(ws.split).tolist())}")
    if len(ws.channel_names) != X.shape[1]:
        raise DataError(f"{where}: {len(ws.channel_names)} channel names for {X.shape[1]} channels")
    if not (1 <= ws.stride <= X.shape[2]):
        raise DataError(f"{where}: stride must be in 1..{X.shape[2]} samples, got {ws.stride}")
    if len(ws.domain_names) not in (0, len(np.unique(ws.domain))):
        raise DataError(f"{where}: {len(ws.domain_names)} domain names for {len(np.unique(ws.domain))} domains")
    ws.X = np.ascontiguousarray(X, dtype=np.float32)
    ws.y = ws.y.astype(np.int64)
    ws.domain = ws.domain.astype(np.int64)
    ws.split = ws.split.astype(np.int8)
    ws.order = ws.order.astype(np.int64)
    return ws
