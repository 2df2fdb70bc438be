"""UCI-HAR (Anguita et al., 2013): 30 subjects, 9 inertial channels at 50 Hz, 128-sample windows, 50 % overlap.

Read from `<data_dir>/ucihar/ucihar.npz` (the project's packed copy, with the AdaTime split; see its README).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unikd.data import DATASETS
from unikd.data.base import DataError, WindowSet, validate_windows

NPZ_NAME = "ucihar.npz"
REQUIRED_KEYS = ("X", "y", "subject", "adatime_split", "adatime_index", "channels", "class_names")


def _missing_message(path: Path) -> str:
    return (
        f"UCI-HAR not found: looked for {path}. Point --data-dir or $UNIKD_DATA_DIR at a folder holding "
        f"ucihar/{NPZ_NAME}, or run `unikd-mcu data download ucihar` (needs internet access) to fetch the official "
        f"UCI archive into that folder."
    )


@DATASETS.register("ucihar")
class UCIHAR:
    summary = "UCI-HAR smartphone IMU, 30 subjects, 6 activities, 9 channels x 128 samples at 50 Hz"

    @staticmethod
    def locate(data_dir: Path) -> Path:
        return data_dir / "ucihar" / NPZ_NAME

    @classmethod
    def load(cls, data_dir: Path) -> WindowSet:
        path = cls.locate(data_dir)
        if not path.is_file():
            raise DataError(_missing_message(path))
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in REQUIRED_KEYS if k not in npz.files]
            if missing:
                raise DataError(f"{path}: missing key(s) {', '.join(missing)}; expected {', '.join(REQUIRED_KEYS)}")
            ws = WindowSet(
                name="ucihar",
                X=npz["X"],
                y=npz["y"],
                domain=npz["subject"],
                split=npz["adatime_split"],
                order=npz["adatime_index"],
                class_names=[str(c) for c in npz["class_names"]],
                channel_names=[str(c) for c in npz["channels"]],
                stride=64,  # 50 % overlap between consecutive windows
                sample_rate_hz=50.0,
                source=path,
            )
        return validate_windows(ws, str(path))
