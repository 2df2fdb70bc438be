"""On-device calibration of the input normalisation, and its exact host twin.

A build carries the normalisation constants of the wearer it was trained for (the per-domain normaliser fitted on
that subject's unlabelled windows). Another wearer's signals sit elsewhere (posture, mounting, gait), so the
firmware re-fits the same statistics, per channel mean and population standard deviation of the model's raw
inputs, on the wearer's own stream (firmware/core/unikd_calib.c):

    for each sample x (UNIKD_CHANNELS float32 raw inputs, after the sensor front end):
        quantise x with the constants in use                       (build constants until the warm-up is done)
        if seen < MAX_N: seen += 1; n = seen (float32)
            d = x - mean;  mean = mean + d / n;  m2 = m2 + d * (x - mean)        (Welford, float32, no FMA)
        if seen >= warmup and seen % refresh == 0 (and seen <= MAX_N):
            mean_in_use = mean;  std = sqrt(m2 / n);  inv_std_in_use = 1 / std  (1 where std < 1e-8)

so sample i is quantised with the statistics of samples 0 .. r-1, r the last refresh point at or before i. After
MAX_N samples the statistics stay fixed (about 87 minutes at 50 Hz), until a CALIB reset.

`RunningCalibration` below repeats that arithmetic in float32 step by step, so the host can re-compute exactly
what the device quantised (hil_tests compare the device's window dump with it). The warm-up and refresh figures
are build options rendered into unikd_model_meta.h and reported by the device in STATUS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Default warm-up: the first three minutes of wear (chosen on development students, docs/calibration.md).
WARMUP_SECONDS = 180.0
#: Statistics stop changing after this many samples (2**18: about 87 minutes at 50 Hz).
MAX_SAMPLES = 1 << 18
#: std below this is treated as a constant channel (inverse std 1), as unikd.data.normalise does.
MIN_STD = np.float32(1e-8)


def warmup_samples(seconds: float, sample_rate_hz: float, refresh: int) -> int:
    """Warm-up in samples: `seconds` of the sample rate, rounded up to a whole number of refresh periods."""
    n = int(np.ceil(seconds * sample_rate_hz))
    return max(refresh, -(-n // refresh) * refresh)


@dataclass
class CalibSettings:
    warmup: int  # samples before the wearer's constants replace the build's
    refresh: int  # constants recomputed every this many samples (the model's stride)
    max_samples: int = MAX_SAMPLES


class RunningCalibration:
    """The device's calibration arithmetic, in float32, one sample at a time (see the module docstring)."""

    def __init__(self, build_mean, build_inv_std, settings: CalibSettings):
        self.s = settings
        self.mean_in_use = np.asarray(build_mean, np.float32).copy()
        self.inv_std_in_use = np.asarray(build_inv_std, np.float32).copy()
        c = len(self.mean_in_use)
        self.mean = np.zeros(c, np.float32)
        self.m2 = np.zeros(c, np.float32)
        self.seen = 0

    @property
    def active(self) -> bool:
        return self.seen >= self.s.warmup

    def add(self, x: np.ndarray) -> None:
        if self.seen >= self.s.max_samples:
            return
        x = np.asarray(x, np.float32)
        self.seen += 1
        n = np.float32(self.seen)
        d = (x - self.mean).astype(np.float32)
        self.mean = (self.mean + (d / n).astype(np.float32)).astype(np.float32)
        self.m2 = (self.m2 + (d * (x - self.mean).astype(np.float32)).astype(np.float32)).astype(np.float32)
        if self.seen >= self.s.warmup and self.seen % self.s.refresh == 0:
            self.refresh()

    def refresh(self) -> None:
        n = np.float32(min(self.seen, self.s.max_samples))
        std = np.sqrt((self.m2 / n).astype(np.float32)).astype(np.float32)
        self.mean_in_use = self.mean.copy()
        self.inv_std_in_use = np.where(std < MIN_STD, np.float32(1), (np.float32(1) / std)).astype(np.float32)

    def run(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """samples (T, C) float32 -> (normalised (T, C) float32 exactly as the device computes them before
        quantising, seen count before each sample (T,)). The state carries on from earlier calls."""
        samples = np.asarray(samples, np.float32)
        out = np.empty_like(samples)
        before = np.empty(len(samples), np.int64)
        for t, x in enumerate(samples):
            out[t] = (x - self.mean_in_use).astype(np.float32) * self.inv_std_in_use
            before[t] = self.seen
            self.add(x)
        return out, before
