"""Training configuration: defaults < method defaults < config file < command-line flags."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from unikd.errors import UserError


@dataclass
class TrainConfig:
    dataset: str = "ucihar"
    source: int = 2
    target: int = 11
    method: str = "unikd"
    seed: int = 0
    data_dir: str | None = None
    out: str | None = None  # run directory; default runs/<scenario>_<method>_s<seed>
    teacher_cache: str | None = None  # default: <out's parent>/teachers
    # optimisation (Adam, betas 0.5/0.99, as the reference code)
    epochs: int = 40
    # the student trains at least this many optimisation steps: its epochs are raised on small domains, where
    # an epoch is a few steps (0 = exactly `epochs`)
    min_steps: int = 600  # chosen on the development scenarios (docs/selection.md)
    teacher_epochs: int = 40
    batch_size: int = 32
    lr: float = 1e-3
    teacher_lr: float = 1e-3
    weight_decay: float = 1e-4
    lr_schedule: str = "cosine"  # or "constant"; cosine lets the last epoch (the one scored) settle
    normalise: str = "per-domain"  # chosen by the benchmark (docs/benchmarks.md)
    # losses
    temperature: float = 4.0
    beta_min: float = 0.1
    beta_max: float = 0.9
    ce_weight: float = 1.0
    dann_ce_weight: float = 1.0  # DANN's source cross-entropy weight (teacher and dann student)
    domain_weight: float = 1.0  # DANN's domain-classifier weight
    im_weight: float = 0.0  # DANN student: information maximisation on target windows (0 = plain DANN)
    teacher_im_weight: float = 0.3  # the same for the DANN teacher; chosen by the benchmark (docs/benchmarks.md)
    # teacher training windows turned by a random device rotation of up to this many degrees (0 = off); applied to
    # the data set's x/y/z channel triplets (unikd/augment.py); chosen by the benchmark (docs/benchmarks.md)
    teacher_rotate_degrees: float = 30.0
    # the same for the student's training windows (the teacher then scores each turned batch afresh)
    student_rotate_degrees: float = 0.0
    coral_weight: float = 1.0
    adv_weight: float = 0.1
    # UNI-KD: weight of the universal feature knowledge (L_adv + L_hint; the paper's 1)
    feature_kd_weight: float = 1.0
    lambda_schedule: str = "ramp"  # or "authors"
    # UNI-KD: which of the authors' code departures from the paper to switch on (ablation); see unikd_kd.Departures
    departures: list = field(default_factory=list)
    # models
    teacher_model: str = "cnn-teacher"
    student_model: str = "cnn-student"
    # dropout after each of the student's conv blocks while training (inference has none)
    student_dropout: float = 0.1  # 0.5 (AdaTime's) left the student far below its teacher (docs/selection.md)
    # machine
    threads: int = 1
    progress: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def run_name(self) -> str:
        # a data set given as a path (my_sensor.npz, an AdaTime folder) is named by its file or folder name
        name = Path(self.dataset).stem if ("/" in self.dataset or self.dataset.endswith(".npz")) else self.dataset
        return f"{name}_{self.source}to{self.target}_{self.method}_s{self.seed}"

    def run_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / self.run_name()

    def teacher_cache_dir(self) -> Path:
        return Path(self.teacher_cache) if self.teacher_cache else self.run_dir().parent / "teachers"


FIELD_NAMES = {f.name for f in fields(TrainConfig)}
FIELD_TYPES = typing.get_type_hints(TrainConfig)
_TYPE_WORDS = {str: "text", int: "a whole number", float: "a number", bool: "true or false", list: "a list",
               type(None): "null"}


def _fits(value, kind) -> bool:
    """Is `value` (as read from YAML/JSON or a flag) acceptable for a field annotated `kind`? bool is not taken
    for a number (YAML reads `yes` as true), and a whole number is taken for a float."""
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_types(values: dict, where: str = "setting") -> None:
    """Refuse a value of the wrong type with a message naming the setting, the value and what is expected
    (`epochs: ten` in a config file would otherwise surface as a TypeError deep inside training)."""
    for name, value in values.items():
        hint = FIELD_TYPES[name]
        kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (typing.get_origin(hint) or hint,)
        if not any(_fits(value, k) for k in kinds):
            want = " or ".join(_TYPE_WORDS.get(k, k.__name__) for k in kinds)
            raise UserError(f"{where} {name!r} must be {want}, got {value!r} ({type(value).__name__})")


def read_config_file(path) -> dict:
    """A YAML or JSON file of TrainConfig fields."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) if path.suffix in (".yaml", ".yml") else json.loads(path.read_text())
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise UserError(f"config file {path} is not valid {'YAML' if path.suffix != '.json' else 'JSON'}: {e}")
    if data is None:
        raise UserError(f"config file {path} is empty; write one setting per line, e.g. `epochs: 40`")
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of settings (`key: value` lines), got "
                        f"{type(data).__name__}")
    return data


def parse_setting(text: str) -> tuple[str, object]:
    """'key=value' -> (key, value) with the value read as YAML (numbers, true/false, lists, strings), as in a
    config file; the key must be a TrainConfig field."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(f"setting {text!r} must be KEY=VALUE, e.g. epochs=60")
    if key not in FIELD_NAMES:
        raise UserError(f"unknown setting {key!r}; valid settings: {', '.join(sorted(FIELD_NAMES))}")
    return key, yaml.safe_load(value)


def resolve_config(overrides: dict) -> TrainConfig:
    """Build the config: dataclass defaults, then the chosen method's defaults, then `overrides` (file + flags)."""
    from unikd.methods import METHODS

    unknown = sorted(set(overrides) - FIELD_NAMES)
    if unknown:
        raise UserError(f"unknown setting(s) {', '.join(unknown)}; valid settings: {', '.join(sorted(FIELD_NAMES))}")
    check_types(overrides)
    method = overrides.get("method", TrainConfig.method)
    values = dict(METHODS.get(method).defaults)
    values.update({k: v for k, v in overrides.items() if v is not None})
    cfg = TrainConfig(**values)
    if cfg.lr_schedule not in ("cosine", "constant"):
        raise UserError(f"lr_schedule must be 'cosine' or 'constant', got {cfg.lr_schedule!r}")
    if cfg.lambda_schedule not in ("ramp", "authors"):
        raise UserError(f"lambda_schedule must be 'ramp' or 'authors', got {cfg.lambda_schedule!r}")
    if cfg.min_steps < 0:
        raise UserError(f"min_steps must be zero or positive, got {cfg.min_steps}")
    for name in ("epochs", "teacher_epochs", "batch_size", "threads"):
        if getattr(cfg, name) < 1:
            raise UserError(f"{name} must be at least 1, got {getattr(cfg, name)}")
    for name in ("teacher_rotate_degrees", "student_rotate_degrees"):
        if not 0 <= getattr(cfg, name) <= 180:
            raise UserError(f"{name} must be between 0 and 180, got {getattr(cfg, name)}")
    for name in ("lr", "teacher_lr", "temperature"):
        if not getattr(cfg, name) > 0:
            raise UserError(f"{name} must be positive, got {getattr(cfg, name)}")
    for name in ("weight_decay", "ce_weight", "dann_ce_weight", "domain_weight", "im_weight", "teacher_im_weight",
                 "coral_weight", "adv_weight", "feature_kd_weight"):
        if getattr(cfg, name) < 0:
            raise UserError(f"{name} must be zero or positive, got {getattr(cfg, name)}")
    if not 0 <= cfg.student_dropout < 1:
        raise UserError(f"student_dropout must be at least 0 and below 1, got {cfg.student_dropout}")
    if not 0 <= cfg.beta_min <= cfg.beta_max <= 1:
        raise UserError(f"beta_min and beta_max must satisfy 0 <= beta_min <= beta_max <= 1, got "
                        f"{cfg.beta_min} and {cfg.beta_max}")
    return cfg
