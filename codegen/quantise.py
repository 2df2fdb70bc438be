"""Host side of the device's input quantisation, bit for bit (the rule in firmware/README.md):

    n = (x - mean[c]) * inv_std[c]                        float32, no fused multiply-add (Normaliser.apply)
    q = lroundf(n / scale) + zero_point, clamped to [-128, 127]

`lroundf` rounds halves away from zero. Doing that as floor(v + 0.5) in float32 is wrong twice: 0.49999997 + 0.5
rounds up to 1.0 in float32, and negative halves go the wrong way. Here the rounding is exact: v - trunc(v) is
computed without error in float32, and the half comparison is exact.

A NaN sample becomes -128, as on the device. This is the one function the host int8 evaluation and the
hardware-in-the-loop comparison quantise with.
"""

from __future__ import annotations

import numpy as np


def round_half_away(v: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest integer, halves away from zero (C's lroundf), exactly. Returns float64
    holding integers (|v| may exceed the int8 range; clamp afterwards)."""
    v = np.asarray(v, np.float32)
    t = np.trunc(v)
    frac = np.abs(v - t)  # exact: v and trunc(v) share sign and exponent range
    return t.astype(np.float64) + np.sign(v).astype(np.float64) * (frac >= np.float32(0.5))


def quantise_windows(X_raw: np.ndarray, normaliser, scale: float, zero_point: int) -> np.ndarray:
    """Raw windows (N, C, L) float32 -> int8 (N, L, C), time-major, as the device quantises them."""
    X = np.asarray(X_raw, np.float32)
    if X.ndim != 3:
        raise ValueError(f"expected windows of shape (N, C, L), got {X.shape}")
    # the normalisation training applied is the device's too: one implementation (unikd.data.normalise.Normaliser)
    return np.ascontiguousarray(quantise_normalised(normaliser.apply(X), scale, zero_point).transpose(0, 2, 1))


def quantise_normalised(n: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Normalised float32 values (any shape) -> int8: the device's step after normalising."""
    v = np.asarray(n, np.float32) / np.float32(scale)
    q = round_half_away(v) + int(zero_point)
    q[np.isnan(v)] = -128  # as the device: a NaN sample quantises to the lowest code
    return np.clip(q, -128, 127).astype(np.int8)


def dequantise(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 -> float32 real values: (q - zero_point) * scale, in float32."""
    return (np.asarray(q).astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
