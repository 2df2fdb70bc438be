"""Reader for the official UCI-HAR archive as unpacked from UCI: `UCI HAR Dataset/{train,test}/...`.

Only the raw windows are used: `Inertial Signals/<signal>_<part>.txt` (one window of 128 samples per line),
`y_<part>.txt` (activity 1..6) and `subject_<part>.txt` (1..30). The archive has no AdaTime split, so each
subject gets the seeded stratified 70/30 split of `unikd.data.split` (the UCI train/test subject split is kept
in `extra["uci_split"]`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unikd.data.base import DataError, WindowSet, validate_windows
from unikd.data.checks import require_file
from unikd.data.split import describe, order_within_parts, stratified_split

ARCHIVE_DIR = "UCI HAR Dataset"
# The order AdaTime and the packed npz use: body_acc xyz, body_gyro xyz, total_acc xyz.
SIGNALS = tuple(f"{s}_{a}" for s in ("body_acc", "body_gyro", "total_acc") for a in "xyz")
CLASS_NAMES = ["walk", "upstairs", "downstairs", "sit", "stand", "lie"]
PARTS = ("train", "test")
HOW_TO_GET = (
    "Unpack the official archive so that this file exists (run `unikd-mcu data download ucihar`, or download "
    "https://archive.ics.uci.edu/static/public/240/human+activity+recognition+using+smartphones.zip by hand and "
    "unpack it, with the inner 'UCI HAR Dataset.zip', into <data dir>/ucihar/)."
)


def _load_text(path: Path, dtype, what: str) -> np.ndarray:
    require_file(path, f"UCI-HAR archive file ({what})", HOW_TO_GET)
    try:
        return np.loadtxt(path, dtype=dtype, ndmin=2 if dtype is np.float32 else 1)
    except ValueError as e:
        raise DataError(f"{path}: cannot read as a table of numbers ({e}); expected {what}") from None


def _read_part(root: Path, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(X, y - 1, subject) of one part; None when the part is empty (a hand-made subset may lack one)."""
    folder = root / part
    if (folder / f"y_{part}.txt").is_file() and (folder / f"y_{part}.txt").stat().st_size == 0:
        return None
    y = _load_text(folder / f"y_{part}.txt", np.int64, "one activity id 1..6 per line")
    subject = _load_text(folder / f"subject_{part}.txt", np.int64, "one subject id per line")
    if len(subject) != len(y):
        raise DataError(
            f"{folder / f'subject_{part}.txt'}: {len(subject)} lines, expected {len(y)} "
            f"(one per line of y_{part}.txt)"
        )
    bad = (y < 1) | (y > len(CLASS_NAMES))
    if bad.any():
        raise DataError(
            f"{folder / f'y_{part}.txt'}: activity ids must be 1..{len(CLASS_NAMES)}, "
            f"found {sorted(set(y[bad].tolist()))[:10]} (first at line {int(np.argmax(bad)) + 1})"
        )
    channels = []
    for name in SIGNALS:
        path = folder / "Inertial Signals" / f"{name}_{part}.txt"
        sig = _load_text(path, np.float32, "one window per line, samples separated by spaces")
        if sig.shape[0] != len(y) or (channels and sig.shape != channels[0].shape):
            want = channels[0].shape if channels else (len(y), "L")
            raise DataError(f"{path}: table of shape {sig.shape}, expected {want} (one line per line of y_{part}.txt)")
        if not np.isfinite(sig).all():
            line = int(np.argwhere(~np.isfinite(sig))[0][0]) + 1
            raise DataError(f"{path}: NaN or inf values (first on line {line}); the official files have none")
        channels.append(sig)
    return np.stack(channels, axis=1), y - 1, subject


def read_archive(root: Path, seed: int = 0) -> WindowSet:
    """`root` is the `UCI HAR Dataset` folder."""
    read = {i: _read_part(root, p) for i, p in enumerate(PARTS)}
    read = {i: p for i, p in read.items() if p is not None}
    if not read:
        raise DataError(f"{root}: both y_train.txt and y_test.txt are empty; expected one line per window")
    parts = list(read.values())
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    subject = np.concatenate([p[2] for p in parts])
    split = stratified_split(y, subject, seed=seed)
    ws = WindowSet(
        name="ucihar",
        X=X,
        y=y,
        domain=subject,
        split=split,
        order=order_within_parts(subject, split),
        class_names=list(CLASS_NAMES),
        channel_names=list(SIGNALS),
        stride=64,  # 50 % overlap between consecutive windows
        sample_rate_hz=50.0,
        source=root,
        extra={"uci_split": np.repeat(np.array(list(read), np.int8), [len(p[1]) for p in parts])},
        split_kind=describe(seed),
    )
    return validate_windows(ws, str(root))
