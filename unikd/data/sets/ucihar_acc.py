"""UCI-HAR, accelerometer only: the three total-acceleration channels of the registered `ucihar` set (the same
windows, subjects, split and timing), which is what a phone or a cheap wrist IMU without a gyroscope gives."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from unikd.data import DATASETS
from unikd.data.base import DataError, WindowSet, validate_windows
from unikd.data.ucihar import UCIHAR

CHANNELS = ("total_acc_x", "total_acc_y", "total_acc_z")


@DATASETS.register("ucihar_acc")
class UCIHARAccelerometer:
    summary = "UCI-HAR, accelerometer only: the 3 total-acceleration channels (30 subjects, 6 activities, 50 Hz)"

    @staticmethod
    def locate(data_dir: Path) -> Path:
        return UCIHAR.locate(data_dir)

    @classmethod
    def load(cls, data_dir: Path) -> WindowSet:
        full = UCIHAR.load(data_dir)
        missing = [c for c in CHANNELS if c not in full.channel_names]
        if missing:
            raise DataError(f"{full.source}: UCI-HAR without the channel(s) {', '.join(missing)}; the "
                            f"accelerometer-only form needs {', '.join(CHANNELS)}")
        keep = [full.channel_names.index(c) for c in CHANNELS]
        ws = dataclasses.replace(full, name="ucihar_acc", X=full.X[:, keep], channel_names=list(CHANNELS))
        return validate_windows(ws, str(full.source))
