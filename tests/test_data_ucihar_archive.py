"""UCI-HAR from the official archive layout, written (once per session, see conftest) from real npz rows of
subjects 1 and 3 (original train part) and 2 (original test part)."""

import os

import numpy as np

from unikd.data import load_dataset
from unikd.data.split import stratified_split
from unikd.data.ucihar_archive import ARCHIVE_DIR

SUBJECTS = (1, 2, 3)


def test_archive_gives_back_the_npz_rows(uci_archive_dir, ucihar_arrays):
    data_dir, rows = uci_archive_dir
    ws = load_dataset("ucihar", data_dir)
    assert ws.source == data_dir / "ucihar" / ARCHIVE_DIR
    assert len(rows) == 347 + 302 + 341  # README: windows of subjects 1, 2, 3
    assert np.array_equal(ws.X, ucihar_arrays["X"][rows])  # bit for bit
    assert np.array_equal(ws.y, ucihar_arrays["y"][rows])
    assert np.array_equal(ws.domain, ucihar_arrays["subject"][rows])
    assert np.array_equal(ws.extra["uci_split"], ucihar_arrays["split"][rows])
    assert ws.channel_names[:3] == ["body_acc_x", "body_acc_y", "body_acc_z"]
    assert ws.channel_names[6:] == ["total_acc_x", "total_acc_y", "total_acc_z"]
    assert ws.class_names == [str(c) for c in ucihar_arrays["class_names"]]
    assert (ws.stride, ws.sample_rate_hz) == (64, 50.0)


def test_archive_split_is_seeded_stratified_70_30_per_subject(uci_archive_dir):
    data_dir, _ = uci_archive_dir
    ws = load_dataset("ucihar", data_dir)
    assert "seed 0" in ws.split_kind and "not the AdaTime split" in ws.split_kind
    for d in SUBJECTS:
        for c in range(6):
            in_class = (ws.domain == d) & (ws.y == c)
            n, n_test = int(in_class.sum()), int((in_class & (ws.split == 1)).sum())
            assert n_test == round(0.3 * n), (d, c, n, n_test)
    # order numbers each (subject, split) part 0..n-1 in file order
    part = ws.rows(2, 1)
    assert np.array_equal(ws.order[part], np.arange(len(part)))
    assert np.all(np.diff(part) > 0)
    # same files, same split: deterministic
    assert np.array_equal(load_dataset("ucihar", data_dir).split, ws.split)


def test_a_domains_split_does_not_depend_on_the_other_domains(ucihar_arrays):
    y, subject = ucihar_arrays["y"], ucihar_arrays["subject"]
    all_subjects = stratified_split(y, subject)
    only_7 = subject == 7
    assert np.array_equal(stratified_split(y[only_7], subject[only_7]), all_subjects[only_7])
    assert not np.array_equal(stratified_split(y, subject, seed=1), all_subjects)  # the seed matters


def test_npz_is_preferred_when_both_exist(tmp_path, uci_archive_dir, real_data_dir):
    (tmp_path / "ucihar").mkdir()
    os.symlink(uci_archive_dir[0] / "ucihar" / ARCHIVE_DIR, tmp_path / "ucihar" / ARCHIVE_DIR)
    os.symlink(real_data_dir / "ucihar" / "ucihar.npz", tmp_path / "ucihar" / "ucihar.npz")
    ws = load_dataset("ucihar", tmp_path)
    assert ws.source == tmp_path / "ucihar" / "ucihar.npz"
    assert len(ws.y) == 10299 and ws.split_kind.startswith("AdaTime split")


def test_archive_folder_given_by_path(uci_archive_dir, ucihar_arrays):
    data_dir, rows = uci_archive_dir
    for path in (data_dir / "ucihar", data_dir / "ucihar" / ARCHIVE_DIR):
        ws = load_dataset(str(path))
        assert np.array_equal(ws.X, ucihar_arrays["X"][rows])


def test_archive_with_only_one_part(tmp_path, make_uci_archive, ucihar_arrays):
    rows = make_uci_archive(tmp_path / "ucihar" / ARCHIVE_DIR, (2,))  # subject 2: test part only
    ws = load_dataset("ucihar", tmp_path)
    assert np.array_equal(ws.X, ucihar_arrays["X"][rows])
    assert set(ws.extra["uci_split"].tolist()) == {1}
