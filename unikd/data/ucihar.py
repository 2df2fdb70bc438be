"""UCI-HAR (Anguita et al., 2013): 30 subjects, 9 inertial channels at 50 Hz, 128-sample windows, 50 % overlap.

Read from `<data_dir>/ucihar/ucihar.npz` (the project's packed copy, with the AdaTime split; see its README), or,
when that file is absent, from the official UCI archive unpacked at `<data_dir>/ucihar/UCI HAR Dataset/`
(seeded 70/30 split per subject, since the archive has no AdaTime split; see `ucihar_archive`).
"""

from __future__ import annotations

from pathlib import Path

from unikd.data import DATASETS
from unikd.data.base import DataError, WindowSet, validate_windows
from unikd.data.checks import read_npz, require_keys
from unikd.data.ucihar_archive import ARCHIVE_DIR, read_archive

NPZ_NAME = "ucihar.npz"
REQUIRED_KEYS = ("X", "y", "subject", "adatime_split", "adatime_index", "channels", "class_names")


def _missing_message(data_dir: Path) -> str:
    folder = data_dir / "ucihar"
    return (
        f"UCI-HAR not found: looked for {folder / NPZ_NAME} and for the official archive folder "
        f"{folder / ARCHIVE_DIR}. Point --data-dir or $UNIKD_DATA_DIR at a folder holding ucihar/{NPZ_NAME}, "
        f"or run `unikd-mcu data download ucihar` (needs internet access) to fetch the official UCI archive into "
        f"that folder."
    )


def is_packed_npz(keys) -> bool:
    """True for files in the packed format (so a path to one loads with its AdaTime split)."""
    return set(REQUIRED_KEYS) <= set(keys)


def read_packed_npz(path: Path) -> WindowSet:
    npz = read_npz(path, f"the packed UCI-HAR arrays {', '.join(REQUIRED_KEYS)}")
    require_keys(path, npz, REQUIRED_KEYS)
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
        split_kind="AdaTime split (train_<subject>.pt / test_<subject>.pt)",
    )
    return validate_windows(ws, str(path))


@DATASETS.register("ucihar")
class UCIHAR:
    summary = "UCI-HAR smartphone IMU, 30 subjects, 6 activities, 9 channels x 128 samples at 50 Hz"

    @staticmethod
    def locate(data_dir: Path) -> Path:
        """The packed npz when present, else the official archive folder when present, else the npz path."""
        npz = data_dir / "ucihar" / NPZ_NAME
        archive = data_dir / "ucihar" / ARCHIVE_DIR
        if not npz.is_file() and archive.is_dir():
            return archive
        return npz

    @classmethod
    def load(cls, data_dir: Path) -> WindowSet:
        path = cls.locate(data_dir)
        if path.is_dir():
            return read_archive(path)
        if not path.is_file():
            raise DataError(_missing_message(data_dir))
        return read_packed_npz(path)
