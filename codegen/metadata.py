"""ModelMetadata: everything host and device must agree on about one deployed model, saved as metadata.json.

metadata.json is the single source of truth: `unikd_model_meta.h` is generated from it, and the HIL host compares
the device's handshake against it. Floats are the exact float32 values the device uses (JSON keeps them exactly,
the C header prints them with %.9g, which round-trips float32).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from codegen.errors import DeployError
from codegen.runtimes import runtime_names

FORMAT_VERSION = 1


@dataclass
class ModelMetadata:
    model_sha256: str  # sha256 of the .tflite bytes, 64 lowercase hex digits
    model_bytes: int
    input_shape: list[int]  # the .tflite input tensor, e.g. [1, 1, 128, 9] (batch, 1, window, channels)
    output_shape: list[int]  # e.g. [1, 6]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    window: int  # samples per window
    channels: int
    stride: int  # samples between inferences on a stream
    num_classes: int
    class_names: list[str]
    channel_names: list[str]
    sample_rate_hz: float
    norm_kind: str
    norm_mean: list[float]  # float32 values, one per channel
    norm_inv_std: list[float]
    runtime: str  # a registered runtime (codegen.runtimes)
    dataset: str
    source: int
    target: int
    method: str
    # on-device calibration (codegen/calibration.py): warm-up and refresh in samples; 0 = the defaults
    calib_warmup: int = 0
    calib_refresh: int = 0
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        if self.runtime not in runtime_names():
            raise DeployError(f"unknown runtime {self.runtime!r}; valid runtimes: {', '.join(runtime_names())}")
        if len(self.norm_mean) != self.channels or len(self.norm_inv_std) != self.channels:
            raise DeployError(f"normaliser has {len(self.norm_mean)} constants for {self.channels} channels")
        if len(self.class_names) != self.num_classes or len(self.channel_names) != self.channels:
            raise DeployError("class or channel names do not match the model's classes or channels")
        if self.input_shape[-2:] != [self.window, self.channels]:
            raise DeployError(f"model input {self.input_shape} does not hold {self.window} x {self.channels} windows")
        if self.output_shape[-1] != self.num_classes:
            raise DeployError(f"model output {self.output_shape} does not hold {self.num_classes} classes")
        for name in ("input_scale", "output_scale", "sample_rate_hz"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) <= 0:
                raise DeployError(f"{name} must be a positive finite number, got {getattr(self, name)}")
        from codegen.calibration import WARMUP_SECONDS, warmup_samples

        if self.calib_refresh <= 0:
            self.calib_refresh = int(self.stride)
        if self.calib_warmup <= 0:
            self.calib_warmup = warmup_samples(WARMUP_SECONDS, self.sample_rate_hz, self.calib_refresh)

    @property
    def input_bytes(self) -> int:
        return self.window * self.channels

    @property
    def output_bytes(self) -> int:
        return self.num_classes

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    def normaliser(self):
        """The normalisation the device applies, as a unikd.data.normalise.Normaliser (float32 constants)."""
        from unikd.data.normalise import Normaliser

        return Normaliser(np.asarray(self.norm_mean, np.float32), np.asarray(self.norm_inv_std, np.float32),
                          self.norm_kind)

    @classmethod
    def from_dict(cls, d: dict, where: str = "metadata") -> "ModelMetadata":
        known = {f.name for f in fields(cls)}
        missing = sorted(known - set(d) - {"format_version", "calib_warmup", "calib_refresh"})
        if missing:
            raise DeployError(f"{where}: missing key(s) {', '.join(missing)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def load(cls, path: Path) -> "ModelMetadata":
        return cls.from_dict(json.loads(Path(path).read_text()), str(path))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _f32(v) -> float:
    return float(np.float32(v))


def metadata_for(model: bytes, info, run, facts, runtime: str) -> ModelMetadata:
    """Build the metadata of `model` (its TfliteInfo `info`) deployed from `run` (a unikd.rundir.Run) whose data
    facts (a unikd.rundir.DataFacts) are `facts`."""
    return ModelMetadata(
        model_sha256=sha256_hex(model),
        model_bytes=len(model),
        input_shape=list(info.input_shape),
        output_shape=list(info.output_shape),
        input_scale=_f32(info.input_scale),
        input_zero_point=int(info.input_zero_point),
        output_scale=_f32(info.output_scale),
        output_zero_point=int(info.output_zero_point),
        window=int(facts.window),
        channels=int(facts.channels),
        stride=int(facts.stride),
        num_classes=facts.num_classes,
        class_names=[str(c) for c in facts.class_names],
        channel_names=[str(c) for c in facts.channel_names],
        sample_rate_hz=float(facts.sample_rate_hz),
        norm_kind=run.normaliser.kind,
        norm_mean=[_f32(v) for v in run.normaliser.mean],
        norm_inv_std=[_f32(v) for v in run.normaliser.inv_std],
        runtime=runtime,
        dataset=str(run.config.get("dataset", "")),
        source=int(run.config.get("source", -1)),
        target=int(run.config.get("target", -1)),
        method=str(run.config.get("method", "")),
    )
