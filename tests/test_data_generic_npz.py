"""The generic .npz format (docs/data.md), filled with real UCI-HAR rows."""

import numpy as np

from unikd.data import load_dataset


def _rows(a, subjects=(2, 11)):
    return np.flatnonzero(np.isin(a["subject"], subjects))


def test_generic_npz_with_split_and_metadata(tmp_path, ucihar_arrays):
    a, rows = ucihar_arrays, _rows(ucihar_arrays)
    path = tmp_path / "my_imu.npz"
    np.savez(
        path, X=a["X"][rows], y=a["y"][rows], subject=a["subject"][rows], split=a["adatime_split"][rows],
        class_names=a["class_names"], channel_names=a["channels"], stride=np.int64(64), sample_rate_hz=50.0,
    )
    ws = load_dataset(str(path))
    assert ws.name == "my_imu" and ws.source == path
    assert np.array_equal(ws.X, a["X"][rows]) and np.array_equal(ws.y, a["y"][rows])
    assert np.array_equal(ws.domain, a["subject"][rows])
    assert np.array_equal(ws.split, a["adatime_split"][rows])
    assert (len(ws.rows(11, 0)), len(ws.rows(11, 1))) == (221, 95)
    assert ws.class_names == ["walk", "upstairs", "downstairs", "sit", "stand", "lie"]
    assert ws.channel_names[3] == "body_gyro_x"
    assert (ws.stride, ws.sample_rate_hz) == (64, 50.0)
    assert ws.split_kind == "given by the file's 'split' key"


def test_generic_npz_minimal_gets_seeded_stratified_split(tmp_path, ucihar_arrays):
    a, rows = ucihar_arrays, _rows(ucihar_arrays)
    path = tmp_path / "bare.npz"
    np.savez(path, X=a["X"][rows].astype(np.float64), y=a["y"][rows], domain=a["subject"][rows])
    ws = load_dataset(str(path))
    assert ws.X.dtype == np.float32 and np.array_equal(ws.X, a["X"][rows])
    assert ws.class_names == [f"class_{k}" for k in range(6)]
    assert ws.channel_names == [f"ch{k}" for k in range(9)]
    assert (ws.stride, ws.sample_rate_hz) == (128, None)  # unknown hop: one window length
    assert "70/30" in ws.split_kind and "seed 0" in ws.split_kind
    for d in (2, 11):
        for c in range(6):
            in_class = (ws.domain == d) & (ws.y == c)
            assert int((in_class & (ws.split == 1)).sum()) == round(0.3 * int(in_class.sum()))
    assert np.array_equal(load_dataset(str(path)).split, ws.split)


def test_float_labels_that_are_whole_numbers_are_accepted(tmp_path, ucihar_arrays):
    a, rows = ucihar_arrays, _rows(ucihar_arrays, (2,))
    path = tmp_path / "f.npz"
    np.savez(path, X=a["X"][rows], y=a["y"][rows].astype(np.float32), domain=np.full(len(rows), 5.0))
    ws = load_dataset(str(path))
    assert ws.y.dtype == np.int64 and np.array_equal(ws.y, a["y"][rows]) and ws.domains() == [5]
