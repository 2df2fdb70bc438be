"""The run directory: everything one training run leaves behind, and how later steps read it back.

    config.json      resolved configuration (data set, scenario, method, seed, hyper-parameters)
    model.json       student architecture + data facts the deploy path needs (window, stride, classes, channels)
    normaliser.json  per-channel constants fitted on training windows (applied on the device too)
    student.pt       student state_dict
    history.csv      per-epoch losses
    metrics.json     accuracy, macro-F1, per-class F1, confusion matrix on the target test split, and the seed
    confusion.png    the confusion matrix as a picture

A run is written into a temporary sibling folder and renamed into place at the end, so an interrupted or failed
run never leaves a half-written run directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from unikd.data.normalise import Normaliser
from unikd.errors import UserError

REQUIRED_FILES = ("config.json", "model.json", "normaliser.json", "student.pt", "metrics.json")


class RunError(UserError):
    """A run directory that is missing or incomplete."""


@contextlib.contextmanager
def atomic_dir(final: Path):
    """Yield a temporary directory beside `final`; on success it replaces `final`, on error it is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_json(path: Path, obj) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


@dataclass
class Run:
    path: Path
    config: dict
    model: dict
    normaliser: Normaliser
    metrics: dict

    def build_student(self):
        """The trained student in eval mode."""
        import torch

        from unikd.models import build_model

        m = self.model
        net = build_model(m["name"], m["in_channels"], m["num_classes"], **m.get("options", {}))
        state = torch.load(self.path / "student.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        return net.eval()

    def scenario_data(self, data_dir=None):
        from unikd.data import load_dataset
        from unikd.data.scenario import scenario_data

        c = self.config
        ws = load_dataset(c["dataset"], data_dir if data_dir is not None else c.get("data_dir"))
        return scenario_data(ws, c["source"], c["target"])


def load_run(path) -> Run:
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"run directory {path} does not exist; train one with `unikd-mcu train` first")
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise RunError(f"run directory {path} is incomplete: missing {', '.join(missing)}")
    read = lambda name: json.loads((path / name).read_text())  # noqa: E731
    return Run(path, read("config.json"), read("model.json"), Normaliser.load(path / "normaliser.json"),
               read("metrics.json"))
