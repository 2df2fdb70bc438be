"""The command line under bad input: one line naming the file, field or value and what is valid, exit code 2, no
traceback; an unexpected failure: a short message, a saved traceback, exit code 1. All in-process (unikd_mcu.cli.main):
a subprocess would add nothing but seconds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from unikd.data.base import DataError
from unikd.data.scenario import scenario_data
from unikd_mcu.cli import main


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_user_error(code: int, text: str, *fragments: str) -> None:
    assert code == 2, text
    assert "Traceback" not in text, text
    for f in fragments:
        assert f in text, f"{f!r} not in {text!r}"


@pytest.fixture(scope="module")
def packed_subset(ucihar_arrays) -> dict:
    """The packed UCI-HAR arrays of subjects 2 and 11 (both AdaTime parts), as a user's copy of the file (which,
    given by path, must state its own timing)."""
    keep = np.isin(ucihar_arrays["subject"], (2, 11))
    subset = {k: (v[keep] if v.shape[:1] == keep.shape else v) for k, v in ucihar_arrays.items()}
    return subset | {"sample_rate_hz": np.float64(50.0), "stride": np.int64(64)}


def save_npz(path, arrays: dict):
    np.savez(path, **arrays)
    return path


# ------------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize("text,fragments", [
    ("epochs: ten\n", ["setting 'epochs' must be a whole number, got 'ten'"]),
    ("lr: yes\n", ["setting 'lr' must be a number, got True"]),
    ("departures: all\n", ["setting 'departures' must be a list"]),
    ("beta_min: 0.95\n", ["beta_min and beta_max must satisfy"]),
    ("weight_decay: -1\n", ["weight_decay must be zero or positive, got -1"]),
    ("", ["is empty; write one setting per line"]),
])
def test_config_file_values_are_checked_by_type_and_range(tmp_path, capsys, text, fragments):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    code, out = run_cli(capsys, "train", "--config", str(cfg), "--out", str(tmp_path / "run"))
    assert_user_error(code, out, *fragments)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv,fragment", [
    (["--seeds", ","], "--seeds names no seeds"),
    (["--seeds", "1,x"], "--seeds takes comma-separated integers"),
    (["--methods", ","], "--methods names no method"),
    (["--jobs", "0"], "0 is not in the range x>=1"),
    (["--methods", "unikd", "--set-nothing"], "No such option '--set-nothing'"),
])
def test_sweep_lists_are_checked_before_any_training(tmp_path, capsys, argv, fragment):
    code, out = run_cli(capsys, "sweep", "--out", str(tmp_path / "sweep"), *argv)
    assert_user_error(code, out, fragment)
    assert not (tmp_path / "sweep").exists()


# ------------------------------------------------------------------------------------------- data files


def test_truncated_npz_names_the_file(tmp_path, capsys, packed_subset):
    whole = save_npz(tmp_path / "whole.npz", packed_subset).read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole[: len(whole) // 2])
    code, out = run_cli(capsys, "train", "--dataset", str(cut), "--source", "2", "--target", "11",
                        "--out", str(tmp_path / "run"))
    assert_user_error(code, out, str(cut), "not a readable .npz file")


def test_empty_file_is_an_error_not_an_abort(tmp_path, capsys):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    code, out = run_cli(capsys, "train", "--dataset", str(empty), "--out", str(tmp_path / "run"))
    assert_user_error(code, out, str(empty), "not a readable .npz file")
    assert "aborted" not in out


def test_packed_npz_with_fractional_labels_is_refused(tmp_path, capsys, packed_subset):
    arrays = dict(packed_subset, y=packed_subset["y"].astype(np.float64))
    arrays["y"][3] = 1.5
    path = save_npz(tmp_path / "frac.npz", arrays)
    code, out = run_cli(capsys, "train", "--dataset", str(path), "--out", str(tmp_path / "run"))
    assert_user_error(code, out, str(path), "key 'y' must hold whole numbers", "[1.5]")


@pytest.mark.parametrize("labels,fragment", [
    (lambda y: np.where(np.arange(len(y)) == 0, np.nan, y), "key 'y' must hold whole numbers"),
    (lambda y: y.astype(str), "key 'y' must hold whole numbers (class, domain or split ids), got dtype <U"),
])
def test_labels_that_are_not_numbers_are_refused(tmp_path, capsys, packed_subset, labels, fragment):
    path = save_npz(tmp_path / "labels.npz", dict(packed_subset, y=labels(packed_subset["y"].astype(np.float64))))
    code, out = run_cli(capsys, "data", "show", str(path))
    assert_user_error(code, out, str(path), fragment)


def test_values_beyond_float32_are_refused(tmp_path, capsys, packed_subset):
    X = packed_subset["X"].astype(np.float64)
    X[5, 2, 7] = 1e39
    path = save_npz(tmp_path / "huge.npz", dict(packed_subset, X=X))
    code, out = run_cli(capsys, "train", "--dataset", str(path), "--out", str(tmp_path / "run"))
    assert_user_error(code, out, str(path), "beyond float32's range", "window 5, channel 2, sample 7")


# ------------------------------------------------------------------------------------------- scenarios


def test_a_domain_with_too_few_windows_is_refused(packed_subset):
    from unikd.data.ucihar import read_packed_npz

    import tempfile
    from pathlib import Path

    a = dict(packed_subset)
    train11 = np.flatnonzero((a["subject"] == 11) & (a["adatime_split"] == 0))
    keep = np.ones(len(a["y"]), bool)
    keep[train11[1:]] = False  # subject 11 keeps one training window
    a = {k: (v[keep] if v.shape[:1] == keep.shape else v) for k, v in a.items()}
    with tempfile.TemporaryDirectory() as tmp:
        ws = read_packed_npz(save_npz(Path(tmp) / "one.npz", a))
    with pytest.raises(DataError, match=r"domain 11 has 1 window\(s\) in its train part; at least 8 are needed"):
        scenario_data(ws, 2, 11)


def test_source_equal_to_target_is_said(packed_subset, tmp_path):
    from unikd.data.ucihar import read_packed_npz

    ws = read_packed_npz(save_npz(tmp_path / "p.npz", packed_subset))
    with pytest.warns(UserWarning, match="source and target are the same domain \\(2\\)"):
        scenario_data(ws, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scenario_data(ws, 2, 11)  # a real scenario: no warning


# ------------------------------------------------------------------------------------------- the last resort


def test_unexpected_exception_prints_a_short_message_and_saves_the_traceback(tmp_path, capsys, monkeypatch):
    """A stand-in fault (named as such): an internal bug cannot be produced on purpose, so training is replaced by
    a function that raises."""
    import unikd.train

    def broken(cfg, data=None):
        raise RuntimeError("stand-in internal fault")

    monkeypatch.setattr(unikd.train, "train_run", broken)
    monkeypatch.setenv("UNIKD_CRASH_DIR", str(tmp_path / "crash"))
    code, out = run_cli(capsys, "train", "--out", str(tmp_path / "run"))
    assert code == 1
    assert "unexpected error: RuntimeError: stand-in internal fault" in out
    assert "Traceback" not in out
    saved = list((tmp_path / "crash").glob("traceback-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in out
    assert "Traceback (most recent call last)" in saved[0].read_text()
    assert "stand-in internal fault" in saved[0].read_text()
