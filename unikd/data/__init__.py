"""Data sets behind a registry. A loader turns files under the data directory into one `WindowSet`.

Registered loaders: see `DATASETS.names()`; `load_dataset(name, data_dir)` is the one entry point. `name` may
also be a path: a generic `.npz` file, the packed `ucihar.npz`, an AdaTime folder or an unpacked UCI-HAR archive.
"""

from pathlib import Path

from unikd.registry import Registry, UnknownNameError

DATASETS: Registry = Registry("data set")

from unikd.data.base import DataError, WindowSet, validate_windows  # noqa: E402
from unikd.data.paths import resolve_data_dir  # noqa: E402
from unikd.data import ucihar  # noqa: E402,F401  (registers the built-in data sets)
from unikd.data import sets  # noqa: E402,F401  (registers every module in unikd/data/sets/)


def load_path(path: Path, sample_rate_hz: float | None = None, stride: int | None = None) -> WindowSet:
    """Load data given by path, choosing the reader by what the path is. `sample_rate_hz` and `stride` fill in
    what a packed-format .npz does not record (it is refused without them)."""
    import numpy as np

    from unikd.data.adatime import AdaTimeDataset, is_adatime_folder, read_adatime_folder
    from unikd.data.checks import NPZ_ERRORS
    from unikd.data.generic_npz import KEYS_DOC, read_generic_npz
    from unikd.data.ucihar_archive import ARCHIVE_DIR, read_archive

    path = Path(path).expanduser()
    if path.is_file():
        if path.suffix != ".npz":
            raise DataError(f"{path}: unsupported file type {path.suffix!r}; expected a .npz ({KEYS_DOC}) or a folder")
        try:
            with np.load(path, allow_pickle=False) as npz:
                packed = ucihar.is_packed_npz(npz.files)
        except NPZ_ERRORS as e:
            raise DataError(f"{path}: not a readable .npz file ({type(e).__name__}: {e}); expected {KEYS_DOC}") from None
        if packed:
            return ucihar.read_packed_npz(path, sample_rate_hz=sample_rate_hz, stride=stride)
        return read_generic_npz(path)
    if path.is_dir():
        if is_adatime_folder(path):
            # a folder of a registered AdaTime set (by its folder name) keeps that set's class names
            for name in DATASETS.names():
                cls = DATASETS.get(name)
                if isinstance(cls, type) and issubclass(cls, AdaTimeDataset) and path.name in cls.folders:
                    return cls.read(path)
            return read_adatime_folder(path)
        for root in (path, path / ARCHIVE_DIR, path / "ucihar" / ARCHIVE_DIR):
            if (root / "train" / "Inertial Signals").is_dir():
                return read_archive(root)
        # a folder holding ucihar.npz (or ucihar/ucihar.npz) is the registered set's layout, so UCI-HAR's timing
        # applies as it does for the name; a .npz given as a file path gets no such assumption
        for npz in (path / ucihar.NPZ_NAME, path / "ucihar" / ucihar.NPZ_NAME):
            if npz.is_file():
                return ucihar.read_ucihar_npz(npz)
        raise DataError(
            f"{path}: not a data folder; expected AdaTime files (train_<domain>.pt, test_<domain>.pt), an unpacked "
            f"UCI-HAR archive ('{ARCHIVE_DIR}/train/Inertial Signals/') or {ucihar.NPZ_NAME}"
        )
    raise DataError(
        f"data not found: looked for {path}; expected a .npz file (docs/data.md) or a folder (AdaTime files, or an "
        f"unpacked UCI-HAR archive)"
    )


def _looks_like_path(name: str) -> bool:
    return any(sep in name for sep in ("/", "\\")) or name.endswith(".npz") or name.startswith(("~", "."))


def load_dataset(name: str, data_dir=None) -> WindowSet:
    """Load data set `name` from `data_dir` (default: $UNIKD_DATA_DIR, see `resolve_data_dir`).

    A name that is not registered but is an existing path (or looks like one) is loaded by `load_path`."""
    if name in DATASETS:
        return DATASETS.get(name).load(resolve_data_dir(data_dir))
    path = Path(name).expanduser()
    if path.exists() or _looks_like_path(name):
        return load_path(path)
    raise UnknownNameError(
        f"unknown data set {name!r}; valid data sets: {', '.join(DATASETS.names())}, or a path to a .npz file "
        f"(docs/data.md) or to an AdaTime folder"
    )


__all__ = ["DATASETS", "DataError", "WindowSet", "load_dataset", "load_path", "resolve_data_dir", "validate_windows"]
