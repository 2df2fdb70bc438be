"""AdaTime-format folders, built from real UCI-HAR rows the way AdaTime ships them (float64 samples and labels,
one train_<subject>.pt / test_<subject>.pt pair per subject)."""

import io
import zipfile

import numpy as np
import pytest
import torch

from unikd.data import DataError, load_dataset
from unikd.data.torchfile import load_pt

SUBJECTS = (2, 11, 13)


def _check_equal(ws, parts, a):
    for (d, s), rows in parts.items():
        mine = ws.rows(d, s)
        assert np.array_equal(ws.X[mine], a["X"][rows]), (d, s)  # bit for bit, in AdaTime file order
        assert np.array_equal(ws.y[mine], a["y"][rows]), (d, s)
        assert np.array_equal(ws.order[mine], np.arange(len(rows)))
    assert ws.domains() == sorted(SUBJECTS)
    assert len(ws.y) == sum(len(r) for r in parts.values())


def test_adatime_folder_by_path_equals_npz_rows(tmp_path, make_adatime_folder, ucihar_arrays):
    parts = make_adatime_folder(tmp_path / "HAR", SUBJECTS)
    ws = load_dataset(str(tmp_path / "HAR"))
    _check_equal(ws, parts, ucihar_arrays)
    assert (len(ws.rows(2, 0)), len(ws.rows(2, 1))) == (211, 91)  # README counts for subject 2
    assert (ws.num_channels, ws.window, ws.X.dtype) == (9, 128, np.float32)
    assert ws.class_names == [f"class_{k}" for k in range(6)]  # not known for an unregistered folder
    assert ws.split_kind.startswith("AdaTime split")


def test_samples_stored_n_x_l_x_c_as_tensors_are_transposed(tmp_path, make_adatime_folder, ucihar_arrays):
    parts = make_adatime_folder(tmp_path / "HAR", SUBJECTS, layout="NLC", as_tensor=True)
    assert torch.load(tmp_path / "HAR" / "train_2.pt", weights_only=True)["samples"].shape[1:] == (128, 9)
    ws = load_dataset(str(tmp_path / "HAR"))
    _check_equal(ws, parts, ucihar_arrays)


def test_registered_adatime_set_found_under_data_dir(tmp_path, make_adatime_folder, ucihar_arrays):
    # UCI-HAR rows placed where the hhar loader looks: its 6 class names apply, sizes come from the data
    parts = make_adatime_folder(tmp_path / "hhar", SUBJECTS, layout="NLC")
    ws = load_dataset("hhar", tmp_path)
    _check_equal(ws, parts, ucihar_arrays)
    assert ws.name == "hhar" and ws.class_names[0] == "bike"
    assert (ws.num_channels, ws.window) == (9, 128)  # not the 3 channels HHAR usually has


def test_adatime_own_folder_name_is_found(tmp_path, make_adatime_folder):
    make_adatime_folder(tmp_path / "HHAR_SA", (2,))
    assert load_dataset("hhar", tmp_path).source == tmp_path / "HHAR_SA"


def test_single_channel_n_x_l_samples(tmp_path, ucihar_arrays):
    # FD and SSC files may hold N x L; that is one channel
    x = ucihar_arrays["X"][:40, 0].astype(np.float64)
    y = (ucihar_arrays["y"][:40] % 3).astype(np.float64)
    (tmp_path / "fd").mkdir()
    for d in ("0", "1"):
        torch.save({"samples": x[:30], "labels": y[:30]}, tmp_path / "fd" / f"train_{d}.pt")
        torch.save({"samples": x[30:], "labels": y[30:]}, tmp_path / "fd" / f"test_{d}.pt")
    ws = load_dataset("fd", tmp_path)
    assert (ws.num_channels, ws.window) == (1, 128)
    assert np.array_equal(ws.X[ws.rows(0, 0), 0], x[:30].astype(np.float32))
    assert np.array_equal(ws.y[ws.rows(1, 1)], y[30:].astype(np.int64))
    assert ws.class_names == ["Healthy", "D1", "D2"] and ws.channel_names == ["vibration"]


def test_non_numeric_domain_names_are_kept(tmp_path, make_adatime_folder):
    make_adatime_folder(tmp_path, (2, 11))
    (tmp_path / "train_11.pt").rename(tmp_path / "train_b.pt")
    (tmp_path / "test_11.pt").rename(tmp_path / "test_b.pt")
    (tmp_path / "train_2.pt").rename(tmp_path / "train_a.pt")
    (tmp_path / "test_2.pt").rename(tmp_path / "test_a.pt")
    ws = load_dataset(str(tmp_path))
    assert ws.domains() == [0, 1] and ws.domain_names == ["a", "b"]
    assert (len(ws.rows(1, 0)), len(ws.rows(1, 1))) == (221, 95)  # subject 11, now domain "b"


def test_numpy1_pickles_load_without_unpickling_code(tmp_path, make_adatime_folder):
    # AdaTime's files were written with numpy 1.x, whose arrays pickle as numpy.core.multiarray._reconstruct
    make_adatime_folder(tmp_path, (2,))
    src = zipfile.ZipFile(tmp_path / "train_2.pt")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("data.pkl"):
                assert b"numpy._core.multiarray" in data
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            out.writestr(name, data)
    (tmp_path / "old.pt").write_bytes(buf.getvalue())
    assert "numpy.core.multiarray._reconstruct" in torch.serialization.get_unsafe_globals_in_checkpoint(
        tmp_path / "old.pt"
    )
    old, new = load_pt(tmp_path / "old.pt"), load_pt(tmp_path / "train_2.pt")
    assert np.array_equal(old["samples"], new["samples"]) and old["samples"].dtype == np.float64


class _RunsCode:
    """Unpickling this would call open(marker, 'w'): the kind of payload weights_only must refuse."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_is_refused_not_run(tmp_path):
    marker = tmp_path / "was_run"
    torch.save({"samples": _RunsCode(marker), "labels": np.zeros(3)}, tmp_path / "train_0.pt")
    with pytest.raises(DataError) as e:
        load_pt(tmp_path / "train_0.pt")
    assert not marker.exists()
    msg = str(e.value)
    assert str(tmp_path / "train_0.pt") in msg
    assert "refused to load" in msg and "(io.open)" in msg  # names only the object that is not allowed
    assert "'samples', 'labels'" in msg
