"""UCI-HAR (Anguita et al., 2013): 30 subjects, 9 inertial channels at 50 Hz, 128-sample windows, 50 % overlap.

Read from `<data_dir>/ucihar/ucihar.npz` (the project's packed copy, with the AdaTime split; see its README), or,
when that file is absent, from the official UCI archive unpacked at `<data_dir>/ucihar/UCI HAR Dataset/`
(seeded 70/30 split per subject, since the archive has no AdaTime split; see `ucihar_archive`).
"""

from __future__ import annotations

from pathlib import Path

from unikd.data import DATASETS
from unikd.data.base import DataError, WindowSet, validate_windows
from unikd.data.checks import read_npz, require_keys, scalar
from unikd.data.ucihar_archive import ARCHIVE_DIR, read_archive

NPZ_NAME = "ucihar.npz"
REQUIRED_KEYS = ("X", "y", "subject", "adatime_split", "adatime_index", "channels", "class_names")
# Other data sets are stored with the same keys (e.g. an HHAR part), so a file in this format says nothing about
# its timing: rate and stride come from the file's keys or from the caller, never from UCI-HAR's values.
TIMING_KEYS = {"sample_rate_hz": float, "stride": int}
# UCI-HAR's own README: 50 Hz, 2.56 s windows of 128 samples with 50 % overlap. Used only for the registered set.
UCIHAR_TIMING = {"sample_rate_hz": 50.0, "stride": 64}


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


def _timing(path: Path, npz: dict, given: dict) -> dict:
    """sample_rate_hz and stride from the file's keys, else from `given`; a file key that disagrees with a given
    value is an error rather than a silent choice."""
    timing, missing = {}, []
    for key, kind in TIMING_KEYS.items():
        if key in npz:
            timing[key] = scalar(path, key, npz[key], kind)
            if given.get(key) is not None and kind(given[key]) != timing[key]:
                raise DataError(f"{path}: key {key!r} holds {timing[key]}, but {given[key]} was given")
        elif given.get(key) is not None:
            timing[key] = kind(given[key])
        else:
            missing.append(key)
    if missing:
        raise DataError(
            f"{path}: missing key(s) {', '.join(repr(k) for k in missing)}; a file with the packed keys "
            f"({', '.join(REQUIRED_KEYS)}) can hold any data set, so its timing is not assumed. Add "
            f"sample_rate_hz (scalar, Hz) and stride (scalar int, samples between window starts), e.g. "
            f"np.savez(path, **arrays, sample_rate_hz=<Hz>, stride=<samples>), or pass them to load_path(); if it "
            f"is UCI-HAR, load the registered 'ucihar' data set instead"
        )
    if timing["sample_rate_hz"] <= 0:
        raise DataError(f"{path}: key 'sample_rate_hz' must be positive, got {timing['sample_rate_hz']}")
    return timing


def read_packed_npz(path: Path, name: str | None = None, sample_rate_hz: float | None = None,
                    stride: int | None = None) -> WindowSet:
    """A file in the packed format (see docs/data.md). Rate and stride come from its keys `sample_rate_hz` and
    `stride`, else from the arguments; without either it is refused. `name` defaults to the file's stem."""
    path = Path(path)
    npz = read_npz(path, f"the packed arrays {', '.join(REQUIRED_KEYS)}, sample_rate_hz, stride")
    require_keys(path, npz, REQUIRED_KEYS)
    timing = _timing(path, npz, {"sample_rate_hz": sample_rate_hz, "stride": stride})
    ws = WindowSet(
        name=name or path.stem,
        X=npz["X"],
        y=npz["y"],
        domain=npz["subject"],
        split=npz["adatime_split"],
        order=npz["adatime_index"],
        class_names=[str(c) for c in npz["class_names"]],
        channel_names=[str(c) for c in npz["channels"]],
        stride=timing["stride"],
        sample_rate_hz=timing["sample_rate_hz"],
        source=path,
        split_kind="AdaTime split (train_<subject>.pt / test_<subject>.pt)",
    )
    return validate_windows(ws, str(path))


def read_ucihar_npz(path: Path) -> WindowSet:
    """The packed copy of UCI-HAR found by the registered name: its timing is UCI-HAR's when the file has none."""
    return read_packed_npz(path, "ucihar", **UCIHAR_TIMING)


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
        return read_ucihar_npz(path)
