"""HHAR, Samsung phones, AdaTime windows, partial (`<data_dir>/hhar_sa_part/hhar_sa_part.npz`; its README): 9 users as
domains, 3 accelerometer channels, 128-sample non-overlapping windows, 6 activities, class ids in the file's
alphabetical order. Only AdaTime's test portion of each user exists, so the train/test split is made here: seeded,
stratified per user and class, 70/30 (unikd.data.split, seed 0). The file records no sampling rate: the windows
train and score, but a build refuses them until the rate is known. Values are z-normalised per user in the file."""

from __future__ import annotations

from pathlib import Path

from unikd.data import DATASETS
from unikd.data.base import DataError, WindowSet, validate_windows
from unikd.data.checks import read_npz, require_keys, string_list
from unikd.data.split import describe, order_within_parts, stratified_split

FOLDER, FILE = "hhar_sa_part", "hhar_sa_part.npz"
KEYS = ("X", "y", "domain", "channels", "class_names")
WINDOW_STRIDE = 128  # non-overlapping windows (the file's README)


@DATASETS.register("hhar_sa_part")
class HHARSamsungPartial:
    summary = "HHAR Samsung phones (AdaTime windows, test portion only), 9 users, 6 activities, 3 channels"

    @staticmethod
    def locate(data_dir: Path) -> Path:
        return Path(data_dir) / FOLDER / FILE

    @classmethod
    def load(cls, data_dir: Path) -> WindowSet:
        path = cls.locate(data_dir)
        if not path.is_file():
            raise DataError(f"HHAR (partial) not found: looked for {path}; point --data-dir or $UNIKD_DATA_DIR at "
                            f"the folder holding {FOLDER}/{FILE}")
        npz = read_npz(path, ", ".join(KEYS))
        require_keys(path, npz, KEYS)
        y, domain = npz["y"], npz["domain"]
        split = stratified_split(y, domain)
        ws = WindowSet(name="hhar_sa_part", X=npz["X"], y=y, domain=domain, split=split,
                       order=order_within_parts(domain, split),
                       class_names=string_list(path, "class_names", npz["class_names"]),
                       channel_names=string_list(path, "channels", npz["channels"]), stride=WINDOW_STRIDE,
                       sample_rate_hz=None, source=path, split_kind=describe())
        return validate_windows(ws, str(path))
