"""One build, every wearer: a subject's whole recording as the device sees it, under three normalisations.

    fixed        the build's constants (the subject the model was built for)
    calibrated   the device's on-device calibration (codegen.calibration), re-computed exactly on the host
    own          the subject's own constants (what a build made for that subject would carry: the per-domain
                 normaliser fitted on the subject's training windows)

`subject_stream` gives the recording (its continuous segments, as stream mode sends them one after another with
the device's calibration carrying on across them); `host_windows` quantises every stream window under one of the
normalisations; scripts/bench_calibration.py and the HIL tests score and compare them with the device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen.calibration import CalibSettings, RunningCalibration
from codegen.quantise import quantise_normalised
from unikd.data.normalise import Normaliser
from unikd_mcu.hil.report import Segment, stitch_segments


@dataclass
class SubjectStream:
    subject: int
    segments: list[Segment]
    labels: np.ndarray  # (N,) label of every stream window, in stream order
    starts: np.ndarray  # (N,) index of each window's first sample in the whole stream (segments back to back)
    seg_of: np.ndarray  # (N,) segment of each window

    @property
    def samples(self) -> np.ndarray:
        return np.concatenate([s.samples for s in self.segments])


def subject_stream(windows, subject: int, window: int, stride: int) -> SubjectStream:
    """All of `subject`'s windows (train and test parts) stitched into its continuous recordings."""
    rows = np.flatnonzero(windows.domain == subject)
    if rows.size == 0:
        raise ValueError(f"subject {subject} has no windows")
    segments = stitch_segments(windows.X, rows, stride)
    labels, starts, seg_of, pos = [], [], [], 0
    for si, seg in enumerate(segments):
        for i, end in enumerate(range(window, len(seg.samples) + 1, stride)):
            labels.append(int(windows.y[seg.rows[i]]))
            starts.append(pos + end - window)
            seg_of.append(si)
        pos += len(seg.samples)
    return SubjectStream(subject, segments, np.asarray(labels), np.asarray(starts), np.asarray(seg_of))


def own_normaliser(windows, subject: int) -> Normaliser:
    """The constants a build for `subject` would carry: fitted on the subject's training windows only."""
    return Normaliser.fit([windows.X[(windows.domain == subject) & (windows.split == 0)]], "per-domain")


def _cut(stream: SubjectStream, normalised: np.ndarray, window: int, stride: int) -> np.ndarray:
    out, pos = [], 0
    for seg in stream.segments:
        part = normalised[pos:pos + len(seg.samples)]
        out += [part[end - window:end] for end in range(window, len(seg.samples) + 1, stride)]
        pos += len(seg.samples)
    return np.stack(out)


def host_windows(stream: SubjectStream, meta, kind: str, own: Normaliser | None = None) -> np.ndarray:
    """int8 (N, window, channels) stream windows, quantised as the device does under `kind` (fixed, calibrated
    or own). The calibrated ones follow a host-session calibration started (CALIB reset) at the first sample."""
    x = stream.samples
    if kind == "fixed":
        normalised = meta.normaliser().apply(x.T[None])[0].T
    elif kind == "own":
        normalised = own.apply(x.T[None])[0].T
    elif kind == "calibrated":
        cal = RunningCalibration(meta.norm_mean, meta.norm_inv_std,
                                 CalibSettings(meta.calib_warmup, meta.calib_refresh))
        normalised, _ = cal.run(x)
    else:
        raise ValueError(f"unknown normalisation {kind!r}")
    return quantise_normalised(_cut(stream, normalised, meta.window, meta.stride), meta.input_scale,
                               meta.input_zero_point)
