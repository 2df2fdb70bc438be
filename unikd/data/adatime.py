"""AdaTime-format folders: `train_<domain>.pt` and `test_<domain>.pt`, each a dict with `samples` and `labels`.

`samples` is N x C x L, N x L x C or N x L (one channel), as float arrays or tensors; `labels` holds class ids
(AdaTime stores them as floats). Window length and channel count come from the files. The train/test files give
the split, and a row's position inside its file gives `order`, so scenarios see AdaTime's exact data.

`AdaTimeDataset` is the base of the registered AdaTime data sets (see `unikd/data/sets/`); `read_adatime_folder`
reads any such folder, e.g. one given by path.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from unikd.data.base import DataError, WindowSet, validate_windows
from unikd.data.checks import integer_labels, numeric_array, require_keys
from unikd.data.torchfile import load_pt

FILE_RE = re.compile(r"^(train|test)_(.+)\.pt$")
KEYS = ("samples", "labels")


def is_adatime_folder(folder: Path) -> bool:
    return folder.is_dir() and any(FILE_RE.match(p.name) for p in folder.iterdir())


def _channels_first(samples: np.ndarray, channels_hint: int | None) -> np.ndarray:
    """N x C x L. Like AdaTime, a 3-D array whose middle axis is not the expected channel count but whose last
    axis is, is N x L x C. Without an expected count the shorter axis is taken as channels (sensor windows are
    longer than they are wide)."""
    if samples.ndim == 2:
        return samples[:, None, :]
    _, a, b = samples.shape
    if channels_hint is not None and a != channels_hint and b == channels_hint:
        return samples.transpose(0, 2, 1)
    if (channels_hint is None or channels_hint not in (a, b)) and b < a:
        return samples.transpose(0, 2, 1)
    return samples


def _read_file(path: Path, channels_hint: int | None, num_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    obj = load_pt(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict with keys 'samples' and 'labels', got a {type(obj).__name__}")
    require_keys(path, obj.keys(), KEYS)
    samples = numeric_array(path, "samples", obj["samples"], (2, 3))
    labels = integer_labels(path, "labels", obj["labels"], len(samples))
    if len(samples) == 0:
        raise DataError(f"{path}: key 'samples' holds no windows (shape {samples.shape})")
    if not np.isfinite(samples).all():
        first = np.argwhere(~np.isfinite(samples))[0]
        raise DataError(f"{path}: key 'samples' has NaN or inf values (first at index {tuple(int(i) for i in first)})")
    bad = (labels < 0) if num_classes is None else ((labels < 0) | (labels >= num_classes))
    if bad.any():
        want = "non-negative class ids" if num_classes is None else f"class ids 0..{num_classes - 1}"
        raise DataError(f"{path}: key 'labels' must hold {want}, found {sorted(set(labels[bad].tolist()))[:10]}")
    return np.asarray(_channels_first(samples, channels_hint), np.float32), labels


def _domain_sort_key(d: str):
    return (0, int(d), "") if d.isdigit() else (1, 0, d)


def read_adatime_folder(
    folder: Path,
    name: str | None = None,
    class_names: list[str] | None = None,
    channels_hint: int | None = None,
    channel_names: list[str] | None = None,
    sample_rate_hz: float | None = None,
) -> WindowSet:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"AdaTime folder not found: looked for {folder} (expected train_<domain>.pt, test_<domain>.pt)")
    files: dict[tuple[str, str], Path] = {}
    for p in folder.iterdir():
        m = FILE_RE.match(p.name)
        if m:
            files[(m.group(2), m.group(1))] = p
    if not files:
        seen = ", ".join(sorted(p.name for p in folder.iterdir())[:10]) or "nothing"
        raise DataError(f"{folder}: no AdaTime files; expected train_<domain>.pt and test_<domain>.pt, found {seen}")
    domains = sorted({d for d, _ in files}, key=_domain_sort_key)
    for d in domains:
        for part in ("train", "test"):
            if (d, part) not in files:
                other = files[(d, "test" if part == "train" else "train")]
                raise DataError(
                    f"{folder / f'{part}_{d}.pt'}: missing; every domain needs both files (found {other.name})"
                )
    numeric = all(d.isdigit() for d in domains)
    num_classes = len(class_names) if class_names else None
    Xs, ys, dom, split, order = [], [], [], [], []
    for i, d in enumerate(domains):
        for s, part in enumerate(("train", "test")):
            path = files[(d, part)]
            X, y = _read_file(path, channels_hint, num_classes)
            if Xs and X.shape[1:] != Xs[0].shape[1:]:
                raise DataError(
                    f"{path}: key 'samples' has windows of {X.shape[1]} channels x {X.shape[2]} samples, expected "
                    f"{Xs[0].shape[1]} x {Xs[0].shape[2]} like the other files of {folder}"
                )
            Xs.append(X)
            ys.append(y)
            dom.append(np.full(len(y), int(d) if numeric else i, np.int64))
            split.append(np.full(len(y), s, np.int8))
            order.append(np.arange(len(y), dtype=np.int64))
    y = np.concatenate(ys)
    c = Xs[0].shape[1]
    if not class_names:
        class_names = [f"class_{k}" for k in range(int(y.max()) + 1)]
    ws = WindowSet(
        name=name or folder.name,
        X=np.concatenate(Xs),
        y=y,
        domain=np.concatenate(dom),
        split=np.concatenate(split),
        order=np.concatenate(order),
        class_names=list(class_names),
        channel_names=list(channel_names) if len(channel_names or []) == c else [f"ch{k}" for k in range(c)],
        stride=Xs[0].shape[2],  # AdaTime files do not record the hop between windows
        sample_rate_hz=sample_rate_hz,
        source=folder,
        split_kind="AdaTime split (train_<domain>.pt / test_<domain>.pt)",
        domain_names=[] if numeric else domains,
    )
    return validate_windows(ws, str(folder))


class AdaTimeDataset:
    """Base for registered AdaTime-format data sets: subclass, fill in the attributes, register with DATASETS."""

    name: str = ""
    summary: str = ""
    folders: tuple[str, ...] = ()  # tried in order under the data dir; the first is where it is looked for
    class_names: list[str] = []
    channels_hint: int | None = None  # only decides N x L x C vs N x C x L; the files give the real count
    channel_names: list[str] = []
    sample_rate_hz: float | None = None
    source_hint: str = ""  # where users get the files

    @classmethod
    def locate(cls, data_dir: Path) -> Path:
        for f in cls.folders:
            if (data_dir / f).is_dir():
                return data_dir / f
        return data_dir / cls.folders[0]

    @classmethod
    def load(cls, data_dir: Path) -> WindowSet:
        folder = cls.locate(data_dir)
        if not folder.is_dir():
            tried = " or ".join(str(data_dir / f) for f in cls.folders)
            raise DataError(
                f"{cls.name} not found: looked for {tried} (AdaTime format: train_<domain>.pt, test_<domain>.pt). "
                f"{cls.source_hint} Point --data-dir or $UNIKD_DATA_DIR at the folder that holds it."
            )
        return cls.read(folder)

    @classmethod
    def read(cls, folder: Path) -> WindowSet:
        return read_adatime_folder(
            folder, cls.name, cls.class_names, cls.channels_hint, cls.channel_names, cls.sample_rate_hz
        )
