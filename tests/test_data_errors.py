"""One test per kind of bad input: each checks the error is a DataError (a UserError) whose message names the
file, the key and what was expected. Inputs are small slices of the real UCI-HAR data, broken on purpose."""

import numpy as np
import pytest
import torch

from unikd.data import DataError, load_dataset
from unikd.data.ucihar_archive import ARCHIVE_DIR
from unikd.errors import UserError


@pytest.fixture
def small(ucihar_arrays):
    """40 real windows: 20 of subject 2, 20 of subject 11."""
    a = ucihar_arrays
    rows = np.concatenate([np.flatnonzero(a["subject"] == d)[:20] for d in (2, 11)])
    return {"X": a["X"][rows].copy(), "y": a["y"][rows].copy(), "subject": a["subject"][rows].copy()}


def _npz(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


def _error(name, data_dir=None) -> str:
    with pytest.raises(DataError) as e:
        load_dataset(str(name), data_dir)
    assert isinstance(e.value, UserError)  # the CLI turns these into one line and exit code 2
    return str(e.value)


# --- missing files ------------------------------------------------------------------------------------------


def test_missing_ucihar_names_both_places_and_how_to_get_it(tmp_path):
    msg = _error("ucihar", tmp_path)
    assert str(tmp_path / "ucihar" / "ucihar.npz") in msg
    assert str(tmp_path / "ucihar" / ARCHIVE_DIR) in msg
    assert "unikd-mcu data download ucihar" in msg and "$UNIKD_DATA_DIR" in msg


def test_missing_adatime_set_names_folders_and_format(tmp_path):
    msg = _error("wisdm", tmp_path)
    assert f"looked for {tmp_path / 'wisdm'} or {tmp_path / 'WISDM'}" in msg
    assert "train_<domain>.pt, test_<domain>.pt" in msg and "AdaTime" in msg


def test_missing_npz_path(tmp_path):
    msg = _error(tmp_path / "nowhere.npz")
    assert f"looked for {tmp_path / 'nowhere.npz'}" in msg and "docs/data.md" in msg


def test_missing_archive_file_names_it_and_how_to_get_it(tmp_path, make_uci_archive):
    root = tmp_path / "ucihar" / ARCHIVE_DIR
    make_uci_archive(root, (2,), max_rows=5)
    (root / "test" / "Inertial Signals" / "body_gyro_y_test.txt").unlink()
    msg = _error("ucihar", tmp_path)
    assert str(root / "test" / "Inertial Signals" / "body_gyro_y_test.txt") in msg
    assert "not found" in msg and "human+activity+recognition+using+smartphones.zip" in msg


def test_adatime_domain_without_its_test_file(tmp_path, make_adatime_folder):
    make_adatime_folder(tmp_path, (2, 7))
    (tmp_path / "test_7.pt").unlink()
    msg = _error(tmp_path)
    assert f"{tmp_path / 'test_7.pt'}: missing" in msg and "both files" in msg


def test_folder_without_data(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    msg = _error(tmp_path)
    assert f"{tmp_path}: not a data folder" in msg and "train_<domain>.pt" in msg


# --- missing keys -------------------------------------------------------------------------------------------


def test_npz_missing_y(tmp_path, small):
    path = _npz(tmp_path, X=small["X"], subject=small["subject"])
    msg = _error(path)
    assert f"{path}: missing key(s) 'y'" in msg and "'X', 'y'" in msg


def test_npz_missing_domain(tmp_path, small):
    path = _npz(tmp_path, X=small["X"], y=small["y"])
    msg = _error(path)
    assert f"{path}: missing key 'domain' (or 'subject')" in msg


def test_packed_ucihar_npz_missing_key(tmp_path, ucihar_arrays):
    a = ucihar_arrays
    keep = {k: a[k][:30] for k in ("X", "y", "subject", "adatime_split")}
    (tmp_path / "ucihar").mkdir()
    path = tmp_path / "ucihar" / "ucihar.npz"
    np.savez(path, channels=a["channels"], class_names=a["class_names"], **keep)
    msg = _error("ucihar", tmp_path)
    assert f"{path}: missing key(s) 'adatime_index'" in msg


def test_adatime_file_missing_labels(tmp_path, small):
    for part in ("train", "test"):
        torch.save({"samples": small["X"].astype(np.float64)}, tmp_path / f"{part}_1.pt")
    msg = _error(tmp_path)
    assert f"{tmp_path / 'train_1.pt'}: missing key(s) 'labels'; expected keys 'samples', 'labels'" in msg


def test_adatime_file_not_a_dict(tmp_path, small):
    for part in ("train", "test"):
        torch.save(torch.from_numpy(small["X"]), tmp_path / f"{part}_1.pt")
    msg = _error(tmp_path)
    assert f"{tmp_path / 'train_1.pt'}: expected a dict with keys 'samples' and 'labels', got a Tensor" in msg


# --- wrong shapes -------------------------------------------------------------------------------------------


def test_x_with_two_dimensions(tmp_path, small):
    path = _npz(tmp_path, X=small["X"][:, 0], y=small["y"], subject=small["subject"])
    msg = _error(path)
    assert f"{path}: key 'X' must have 3 dimension(s), got shape (40, 128)" in msg


def test_y_length_differs_from_x(tmp_path, small):
    path = _npz(tmp_path, X=small["X"], y=small["y"][:-1], subject=small["subject"])
    msg = _error(path)
    assert f"{path}: key 'y' must have shape (40,), one value per window, got (39,)" in msg


def test_channel_names_count_differs(tmp_path, small):
    path = _npz(tmp_path, X=small["X"], y=small["y"], subject=small["subject"], channel_names=np.array(["ax", "ay"]))
    msg = _error(path)
    assert f"{path}: key 'channel_names' must have 9 entries, got 2" in msg


def test_adatime_files_with_different_window_shapes(tmp_path, small):
    x = small["X"].astype(np.float64)
    torch.save({"samples": x, "labels": small["y"].astype(np.float64)}, tmp_path / "train_1.pt")
    torch.save({"samples": x[:, :, :100], "labels": small["y"].astype(np.float64)}, tmp_path / "test_1.pt")
    msg = _error(tmp_path)
    assert f"{tmp_path / 'test_1.pt'}: key 'samples' has windows of 9 channels x 100 samples, expected 9 x 128" in msg


def test_archive_signal_file_with_missing_lines(tmp_path, make_uci_archive):
    root = tmp_path / ARCHIVE_DIR
    make_uci_archive(root, (2,), max_rows=5)
    path = root / "test" / "Inertial Signals" / "total_acc_z_test.txt"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:3]))
    msg = _error(root)
    assert f"{path}: table of shape (3, 128), expected (5, 128)" in msg


def test_stride_longer_than_window(tmp_path, small):
    path = _npz(tmp_path, X=small["X"], y=small["y"], subject=small["subject"], stride=500)
    msg = _error(path)
    assert f"{path}: stride must be in 1..128 samples, got 500" in msg


# --- bad values ---------------------------------------------------------------------------------------------


def test_nan_in_x(tmp_path, small):
    small["X"][7, 2, 30] = np.nan
    path = _npz(tmp_path, **small)
    msg = _error(path)
    assert f"{path}: key 'X' has NaN or inf values (1 of them, first at window 7, channel 2, sample 30)" in msg


def test_inf_in_x(tmp_path, small):
    small["X"][3, 0, 0] = -np.inf
    path = _npz(tmp_path, **small)
    msg = _error(path)
    assert f"{path}: key 'X' has NaN or inf values (1 of them, first at window 3, channel 0, sample 0)" in msg


def test_nan_in_adatime_samples(tmp_path, make_adatime_folder):
    make_adatime_folder(tmp_path, (2,))
    d = torch.load(tmp_path / "test_2.pt", weights_only=False)  # our own file, written just above
    d["samples"][4, 1, 9] = np.nan
    torch.save(d, tmp_path / "test_2.pt")
    msg = _error(tmp_path)
    assert f"{tmp_path / 'test_2.pt'}: key 'samples' has NaN or inf values (first at index (4, 1, 9))" in msg


def test_labels_out_of_range_for_class_names(tmp_path, small):
    y = small["y"] % 3
    y[5] = 4
    path = _npz(tmp_path, class_names=np.array(["a", "b", "c"]), X=small["X"], y=y, subject=small["subject"])
    msg = _error(path)
    assert f"{path}: labels (key 'y') must be in 0..2 (3 classes: a, b, c), found [4] in 1 window(s)" in msg


def test_negative_label(tmp_path, small):
    small["y"][0] = -1
    path = _npz(tmp_path, **small)
    msg = _error(path)
    assert f"{path}: labels (key 'y') must be in 0.." in msg and "found [-1] in 1 window(s)" in msg


def test_fractional_labels(tmp_path, small):
    y = small["y"].astype(np.float64)
    y[2] = 1.5
    path = _npz(tmp_path, X=small["X"], y=y, subject=small["subject"])
    msg = _error(path)
    assert f"{path}: key 'y' must hold whole numbers (class, domain or split ids), found [1.5]" in msg


def test_adatime_labels_out_of_range_for_registered_set(tmp_path, make_adatime_folder):
    make_adatime_folder(tmp_path / "fd", (2,))  # UCI-HAR has 6 classes, FD only 3
    msg = _error("fd", tmp_path)
    assert f"{tmp_path / 'fd'}/" in msg and "key 'labels' must hold class ids 0..2, found [3, 4, 5]" in msg


def test_archive_activity_id_out_of_range(tmp_path, make_uci_archive):
    root = tmp_path / ARCHIVE_DIR
    make_uci_archive(root, (2,), max_rows=5)
    path = root / "test" / "y_test.txt"
    lines = path.read_text().splitlines()
    lines[3] = "7"
    path.write_text("\n".join(lines) + "\n")
    msg = _error(root)
    assert f"{path}: activity ids must be 1..6, found [7] (first at line 4)" in msg


def test_split_values_other_than_0_and_1(tmp_path, small):
    split = np.zeros(40, np.int64)
    split[9] = 2
    path = _npz(tmp_path, split=split, **small)
    msg = _error(path)
    assert f"{path}: key 'split' must hold 0 (train) or 1 (test), found [2]" in msg


def test_both_domain_and_subject(tmp_path, small):
    path = _npz(tmp_path, domain=small["subject"], **small)
    msg = _error(path)
    assert f"{path}: has both 'domain' and 'subject'" in msg


def test_strings_where_numbers_belong(tmp_path, small):
    path = _npz(tmp_path, X=small["X"], y=np.array(["walk"] * 40), subject=small["subject"])
    msg = _error(path)
    assert f"{path}: key 'y' must hold numbers, got dtype <U4" in msg


def test_object_arrays_are_not_unpickled(tmp_path, small):
    path = _npz(tmp_path, X=small["X"], y=small["y"], subject=np.array([{"id": 2}] * 40, dtype=object))
    msg = _error(path)
    assert f"{path}: a key holds Python objects" in msg


def test_unknown_domain(real_data_dir):
    ws = load_dataset("ucihar", real_data_dir)
    with pytest.raises(DataError) as e:
        ws.require_domain(31, "target domain")
    msg = str(e.value)
    assert "unknown target domain 31 in data set ucihar" in msg and "valid domains: 1, 2, 3," in msg
    assert str(real_data_dir / "ucihar" / "ucihar.npz") in msg
    assert ws.require_domain(30) == 30


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("1,2,3\n")
    msg = _error(path)
    assert f"{path}: unsupported file type '.csv'" in msg and "expected a .npz" in msg
