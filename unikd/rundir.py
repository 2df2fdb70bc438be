"""The run directory: everything one training run leaves behind, how it is written and how later steps read it.
Training and deployment meet here and nowhere else: `write_run` is the only writer (training and the tests use
it), `load_run` the only reader.

    config.json             resolved configuration (data set, scenario, method, seed, hyper-parameters)
    model.json              student architecture + the data facts deployment needs (window, stride, channels,
                            class and channel names, sample rate; `DataFacts`)
    normaliser.json         per-channel constants fitted on training windows (the target's: applied on the device)
    source_normaliser.json  the constants training applied to the source windows (the same as normaliser.json
                            unless normalisation is per-domain); the int8 conversion calibrates the source windows
                            with them
    student.pt              student state_dict
    history.csv             per-epoch losses
    metrics.json            accuracy, macro-F1, per-class F1, confusion matrix on the target test split, and the seed
    confusion.png           the confusion matrix as a picture

A run is written into a temporary sibling folder and renamed into place at the end, so an interrupted or failed
run never leaves a half-written run directory.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

from unikd.data.normalise import Normaliser
from unikd.errors import UserError
from unikd.outputs import atomic_dir, verify_complete

REQUIRED_FILES = ("config.json", "model.json", "normaliser.json", "student.pt", "metrics.json")
# Runs written before this file and model.json's data facts existed lack them. They are refused with a request to
# retrain rather than deployment re-deriving the content from the data set: a re-derived copy is how training and
# deployment drift apart, and retraining with the same settings and seed gives the same student anyway.
SOURCE_NORMALISER = "source_normaliser.json"
FACT_KEYS = ("window", "stride", "in_channels", "num_classes", "class_names", "channel_names", "sample_rate_hz")


class RunError(UserError):
    """A run directory that is missing or incomplete."""


def write_json(path: Path, obj) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


@dataclass(frozen=True)
class DataFacts:
    """What deployment must know about the windows the student was trained on, as model.json stores it."""

    window: int  # samples per window
    stride: int  # samples between windows of a recording
    channels: int
    class_names: list[str]
    channel_names: list[str]
    sample_rate_hz: float | None  # None where the data set does not say; deployment then refuses the run

    @classmethod
    def of(cls, windows) -> "DataFacts":
        """The facts of a unikd.data.base.WindowSet."""
        return cls(windows.window, windows.stride, windows.num_channels, list(windows.class_names),
                   list(windows.channel_names), windows.sample_rate_hz)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    # model.json spells `channels` as in_channels (the model builder's argument) and also holds num_classes
    def to_model_json(self) -> dict:
        return {"in_channels": self.channels, "num_classes": self.num_classes, "window": self.window,
                "stride": self.stride, "sample_rate_hz": self.sample_rate_hz, "class_names": self.class_names,
                "channel_names": self.channel_names}

    @classmethod
    def from_model_json(cls, m: dict) -> "DataFacts":
        return cls(int(m["window"]), int(m["stride"]), int(m["in_channels"]), [str(c) for c in m["class_names"]],
                   [str(c) for c in m["channel_names"]],
                   None if m["sample_rate_hz"] is None else float(m["sample_rate_hz"]))


@dataclass
class Run:
    path: Path
    config: dict
    model: dict
    normaliser: Normaliser  # the target's constants: what the device applies
    source_normaliser: Normaliser  # what training applied to the source windows
    metrics: dict

    @property
    def facts(self) -> DataFacts:
        return DataFacts.from_model_json(self.model)

    def build_student(self):
        """The trained student in eval mode."""
        import torch

        from unikd.models import build_model

        m = self.model
        try:
            net = build_model(m["name"], m["in_channels"], m["num_classes"], **m.get("options", {}))
            net.load_state_dict(torch.load(self.path / "student.pt", map_location="cpu", weights_only=True))
        except (RuntimeError, KeyError, ValueError, TypeError, OSError, EOFError, pickle.UnpicklingError) as e:
            raise RunError(f"run directory {self.path}: student.pt does not load into the model model.json "
                           f"describes ({type(e).__name__}: {str(e)[:300]}); train the run again") from None
        return net.eval()

    def scenario_data(self, data_dir=None):
        from unikd.data import load_dataset
        from unikd.data.scenario import scenario_data

        c = self.config
        ws = load_dataset(c["dataset"], data_dir if data_dir is not None else c.get("data_dir"))
        return scenario_data(ws, c["source"], c["target"])


def write_run(final: Path, *, config: dict, model_name: str, facts: DataFacts, student, normaliser: Normaliser,
              source_normaliser: Normaliser, metrics: dict, history: list[dict] | None = None,
              confusion_title: str | None = None) -> Path:
    """Write a complete run directory atomically: `student` is the trained net (its state_dict is saved and its
    parameters counted), `normaliser` the target's constants, `source_normaliser` those training applied to the
    source windows. history.csv and confusion.png (from metrics["confusion_matrix"]) only when given."""
    import torch

    from unikd.models import count_parameters

    final = Path(final)
    model = {"name": model_name, "options": {}, **facts.to_model_json(), "parameters": count_parameters(student)}
    with atomic_dir(final, "run") as tmp:
        write_json(tmp / "config.json", config)
        write_json(tmp / "model.json", model)
        normaliser.save(tmp / "normaliser.json")
        source_normaliser.save(tmp / SOURCE_NORMALISER)
        torch.save(student.state_dict(), tmp / "student.pt")
        if history is not None:
            write_history(tmp / "history.csv", history)
        write_json(tmp / "metrics.json", metrics)
        if confusion_title is not None:
            import numpy as np

            from unikd.plots import plot_confusion

            plot_confusion(np.asarray(metrics["confusion_matrix"]), facts.class_names, confusion_title,
                           tmp / "confusion.png")
    return final


def write_history(path: Path, history: list[dict]) -> None:
    keys = list(dict.fromkeys(k for row in history for k in row))
    lines = [",".join(keys)] + [",".join(f"{row.get(k, '')}" for k in keys) for row in history]
    Path(path).write_text("\n".join(lines) + "\n")


def load_run(path) -> Run:
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"run directory {path} does not exist; train one with `unikd-mcu train` first")
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise RunError(f"run directory {path} is incomplete: missing {', '.join(missing)}")
    def read(name: str) -> dict:
        try:
            return json.loads((path / name).read_text())
        except (OSError, ValueError) as e:
            raise RunError(f"run directory {path}: {name} cannot be read as JSON ({e}); train the run again") \
                from None
    model = read("model.json")
    stale = [] if (path / SOURCE_NORMALISER).is_file() else [SOURCE_NORMALISER]
    stale += [f"model.json key {k}" for k in FACT_KEYS if k not in model]
    if stale:
        raise RunError(f"run directory {path} was written by an older unikd-mcu (no {', no '.join(stale)}); "
                       f"retrain it with `unikd-mcu train` (the same settings and seed give the same student)")
    problem = verify_complete(path, "run")
    if problem:
        raise RunError(f"run directory {path} is not a complete run: {problem}; train it again")
    return Run(path, read("config.json"), model, Normaliser.from_dict(read("normaliser.json"), str(path / "normaliser.json")),
               Normaliser.from_dict(read(SOURCE_NORMALISER), str(path / SOURCE_NORMALISER)), read("metrics.json"))
