"""The data set registry, the real UCI-HAR copy and choosing a loader by name or by path."""

import hashlib

import numpy as np
import pytest

from unikd.data import DATASETS, load_dataset, load_path
from unikd.registry import UnknownNameError

# sha256 of the raw C-order bytes, as published in the data's README
README_SHA256 = {
    "X": "a5d70bc4203fbbcd515513ec074f8b7f3abecf657d5894cea0fa3fc122c39527",
    "y": "a46bfcd9d0cbc607d4319d73e8633377caf7002c0816bb3c7e7f768d70577544",
    "subject": "e27878cc2ce579a674b9a8d438adfbce01d19f316409638470b76152685a4dd2",
}


def _sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_registry_holds_every_data_set_with_the_loader_interface(tmp_path):
    assert DATASETS.names() == ["fd", "hhar", "hhar_sa_part", "ssc", "ucihar", "ucihar_acc", "wisdm"]
    for name in DATASETS.names():
        loader = DATASETS.get(name)
        assert loader.summary
        assert str(loader.locate(tmp_path)).startswith(str(tmp_path))
        assert callable(loader.load)


def test_adatime_sets_carry_adatime_class_names():
    # hhar and wisdm number their classes differently from AdaTime's config: tests/test_data_class_order.py
    assert DATASETS.get("fd").class_names == ["Healthy", "D1", "D2"]
    assert DATASETS.get("ssc").class_names == ["W", "N1", "N2", "N3", "REM"]


def test_real_ucihar_loads_bit_exact_with_adatime_split(real_data_dir):
    ws = load_dataset("ucihar", real_data_dir)
    assert ws.X.shape == (10299, 9, 128) and ws.X.dtype == np.float32
    assert _sha(ws.X) == README_SHA256["X"]
    assert _sha(ws.y) == README_SHA256["y"]
    assert _sha(ws.domain) == README_SHA256["subject"]
    assert ws.domains() == list(range(1, 31))
    assert (ws.stride, ws.sample_rate_hz, ws.num_classes) == (64, 50.0, 6)
    # README table: subject 1 has 242 windows in train_1.pt and 105 in test_1.pt; all: 7194 / 3105
    assert (len(ws.rows(1, 0)), len(ws.rows(1, 1))) == (242, 105)
    assert int((ws.split == 0).sum()) == 7194 and int((ws.split == 1).sum()) == 3105
    assert np.array_equal(ws.order[ws.rows(1, 0)], np.arange(242))


def test_data_dir_from_environment(real_data_dir, monkeypatch):
    monkeypatch.setenv("UNIKD_DATA_DIR", str(real_data_dir))
    assert load_dataset("ucihar").source == real_data_dir / "ucihar" / "ucihar.npz"


def test_path_to_packed_npz_loads_like_the_registered_name(real_data_dir):
    # given by path the file must state its timing (it does not), so it is given here
    by_path = load_path(real_data_dir / "ucihar" / "ucihar.npz", sample_rate_hz=50.0, stride=64)
    assert by_path.name == "ucihar"
    assert _sha(by_path.X) == README_SHA256["X"]
    assert by_path.split_kind.startswith("AdaTime split")
    assert (len(by_path.rows(11, 0)), len(by_path.rows(11, 1))) == (221, 95)


def test_unknown_name_lists_valid_names_and_path_forms():
    with pytest.raises(UnknownNameError) as e:
        load_dataset("uci-har")
    msg = str(e.value)
    assert "unknown data set 'uci-har'" in msg
    assert "fd, hhar, hhar_sa_part, ssc, ucihar, ucihar_acc, wisdm" in msg
    assert ".npz" in msg and "AdaTime folder" in msg
