"""The generic `.npz` format for bringing your own sensor windows (documented in docs/data.md).

Required: X (N x C x L numbers, stored as float32), y (N class ids), and `domain` or `subject` (N integer ids).
Optional: split (N, 0 train / 1 test; without it a seeded stratified 70/30 per domain is made), class_names,
channel_names, stride, sample_rate_hz.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unikd.data.base import DataError, WindowSet, validate_windows
from unikd.data.checks import integer_labels, numeric_array, read_npz, require_keys, scalar, string_list
from unikd.data.split import describe, order_within_parts, stratified_split

KEYS_DOC = (
    "X (N x C x L), y (N), domain or subject (N); optional split, class_names, channel_names, stride, sample_rate_hz"
)


def read_generic_npz(path: Path, name: str | None = None) -> WindowSet:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: looked for {path} (a .npz with {KEYS_DOC}; see docs/data.md)")
    npz = read_npz(path, f"numpy.savez output: {KEYS_DOC}")
    keys = set(npz)
    require_keys(path, keys, ("X", "y"))
    if not keys & {"domain", "subject"}:
        raise DataError(f"{path}: missing key 'domain' (or 'subject'): one integer domain id per window")
    if {"domain", "subject"} <= keys:
        raise DataError(f"{path}: has both 'domain' and 'subject'; keep one (it names the domain of each window)")
    X = numeric_array(path, "X", npz["X"], 3)
    n = len(X)
    y = integer_labels(path, "y", npz["y"], n)
    dkey = "domain" if "domain" in keys else "subject"
    domain = integer_labels(path, dkey, npz[dkey], n)
    if "split" in keys:
        split = integer_labels(path, "split", npz["split"], n)
        if not np.isin(split, (0, 1)).all():
            found = sorted(set(split[~np.isin(split, (0, 1))].tolist()))[:10]
            raise DataError(f"{path}: key 'split' must hold 0 (train) or 1 (test), found {found}")
        split_kind = "given by the file's 'split' key"
    else:
        split = stratified_split(y, domain)
        split_kind = describe()
    if "class_names" in keys:
        class_names = string_list(path, "class_names", npz["class_names"])
    else:
        class_names = [f"class_{k}" for k in range(max(int(y.max()) + 1, 2))]
    if "channel_names" in keys:
        channel_names = string_list(path, "channel_names", npz["channel_names"], X.shape[1])
    else:
        channel_names = [f"ch{k}" for k in range(X.shape[1])]
    stride = scalar(path, "stride", npz["stride"], int) if "stride" in keys else X.shape[2]
    rate = scalar(path, "sample_rate_hz", npz["sample_rate_hz"], float) if "sample_rate_hz" in keys else None
    if rate is not None and rate <= 0:
        raise DataError(f"{path}: key 'sample_rate_hz' must be positive, got {rate}")
    ws = WindowSet(
        name=name or path.stem,
        X=X,
        y=y,
        domain=domain,
        split=split,
        order=order_within_parts(domain, split),
        class_names=class_names,
        channel_names=channel_names,
        stride=stride,
        sample_rate_hz=rate,
        source=path,
        split_kind=split_kind,
    )
    return validate_windows(ws, str(path))
