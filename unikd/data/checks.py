"""Small checks shared by the loaders. Each raises DataError naming the file, the key and what was expected,
so a user with a malformed file learns what to change without reading our code."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Iterable

import numpy as np

from unikd.data.base import DataError, whole_numbers

# What numpy raises for a file that is not a complete .npz: not a zip, truncated (EOFError, zlib), a member that
# is not an array, an object array without pickle (ValueError).
NPZ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def read_npz(path: Path, expected: str) -> dict[str, np.ndarray]:
    """Every array of the .npz at `path`, read now, so a corrupt or truncated file fails here with its name and
    not later inside training. `expected` says what the file should hold."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except NPZ_ERRORS as e:
        if "allow_pickle" in str(e):  # numpy refuses object arrays without pickle
            raise DataError(f"{path}: a key holds Python objects ({e}); store plain numeric or string arrays, "
                            f"expected {expected}") from None
        raise DataError(f"{path}: not a readable .npz file ({type(e).__name__}: {e}); the file may be truncated "
                        f"or corrupt: re-create or re-download it. Expected {expected}") from None


def require_file(path: Path, what: str, how_to_get: str) -> Path:
    if not path.is_file():
        raise DataError(f"{what} not found: looked for {path}. {how_to_get}")
    return path


def require_keys(where: Path | str, present: Iterable[str], required: Iterable[str]) -> None:
    present = set(present)
    missing = [k for k in required if k not in present]
    if missing:
        raise DataError(
            f"{where}: missing key(s) {', '.join(repr(k) for k in missing)}; expected keys "
            f"{', '.join(repr(k) for k in required)} (found: {', '.join(repr(k) for k in sorted(present)) or 'none'})"
        )


def numeric_array(where: Path | str, key: str, value, ndim: int | tuple[int, ...]) -> np.ndarray:
    """`value` as a real-valued numpy array with the given number of dimensions (torch tensors accepted)."""
    if hasattr(value, "detach"):  # a torch tensor; avoid importing torch here
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{where}: key {key!r} must hold numbers, got dtype {arr.dtype}")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in dims:
        want = " or ".join(str(d) for d in dims)
        raise DataError(f"{where}: key {key!r} must have {want} dimension(s), got shape {arr.shape}")
    return arr


def integer_labels(where: Path | str, key: str, arr: np.ndarray, n: int) -> np.ndarray:
    """Labels as int64. AdaTime stores them as float64, so whole-valued floats are accepted."""
    arr = numeric_array(where, key, arr, 1)
    if arr.shape != (n,):
        raise DataError(f"{where}: key {key!r} must have shape ({n},), one value per window, got {arr.shape}")
    return whole_numbers(where, key, arr)


def string_list(where: Path | str, key: str, value, n: int | None = None) -> list[str]:
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.dtype.kind not in "US":
        raise DataError(f"{where}: key {key!r} must be a 1-D array of strings, got dtype {arr.dtype} shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise DataError(f"{where}: key {key!r} must have {n} entries, got {len(arr)}")
    return [str(s) for s in arr]


def scalar(where: Path | str, key: str, value, kind: type):
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        raise DataError(f"{where}: key {key!r} must be a single number, got dtype {arr.dtype} shape {arr.shape}")
    v = arr.reshape(()).item()
    if kind is int and float(v) != int(v):
        raise DataError(f"{where}: key {key!r} must be a whole number, got {v}")
    return kind(v)
