"""`unikd-mcu data ...` through the real entry point (exit codes and one-line errors included)."""

import hashlib
import io
import json
import socket
import time
import zipfile

import numpy as np
import pytest

from unikd_mcu.cli import main
from unikd.data import load_dataset
from unikd.data.ucihar_archive import ARCHIVE_DIR


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def squash(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def _offline() -> bool:
    try:
        socket.getaddrinfo("archive.ics.uci.edu", 443)
        return False
    except OSError:
        return True


# --- list / show --------------------------------------------------------------------------------------------


def test_list_shows_found_and_missing_sets(capsys, real_data_dir):
    code, out, _ = run(capsys, "data", "list", "--data-dir", str(real_data_dir))
    lines = squash(out)
    assert code == 0
    assert lines[0] == f"data dir: {real_data_dir} (--data-dir)"
    i = next(k for k, line in enumerate(lines) if line.startswith("ucihar UCI-HAR"))
    assert lines[i + 1] == f"found at {real_data_dir / 'ucihar' / 'ucihar.npz'}"
    assert lines[i + 2] == "10299 windows, 30 domains, 6 classes, 9 channels x 128 samples, 50 Hz"
    for name in ("fd", "hhar", "ssc", "wisdm"):
        j = next(k for k, line in enumerate(lines) if line.startswith(f"{name} "))
        assert lines[j + 1] == f"not found (looked for {real_data_dir / name})"


def test_list_uses_environment_and_reports_broken_sets(capsys, tmp_path, monkeypatch):
    (tmp_path / "ssc").mkdir()  # present but empty: reported, without hiding the others
    monkeypatch.setenv("UNIKD_DATA_DIR", str(tmp_path))
    code, out, _ = run(capsys, "data", "list")
    lines = squash(out)
    assert code == 0 and lines[0] == f"data dir: {tmp_path} ($UNIKD_DATA_DIR)"
    assert f"found at {tmp_path / 'ssc'} but not usable: {tmp_path / 'ssc'}: no AdaTime files" in out.replace("\n", " ")
    assert any(line.startswith("wisdm ") for line in lines)


def test_show_counts_per_domain_split_and_class(capsys, real_data_dir):
    code, out, _ = run(capsys, "data", "show", "ucihar", "--data-dir", str(real_data_dir))
    lines = squash(out)
    assert code == 0
    assert "split: AdaTime split (train_<subject>.pt / test_<subject>.pt)" in lines
    assert "domain split windows walk upstairs downstairs sit stand lie" in lines
    # README: subject 1 = 95 walk, 53 upstairs, 49 downstairs, 47 sit, 53 stand, 50 lie; 242 + 105 windows
    assert "1 train 242 66 37 34 33 37 35" in lines
    assert "1 test 105 29 16 15 14 16 15" in lines
    assert "all train 7194" in " ".join(lines) and "all test 3105" in " ".join(lines)


def test_show_one_domain_and_unknown_domain(capsys, real_data_dir):
    code, out, _ = run(capsys, "data", "show", "ucihar", "--domain", "11", "--data-dir", str(real_data_dir))
    rows = [line for line in squash(out) if line.split()[:1] in (["11"], ["all"])]
    assert code == 0 and [r.split()[:3] for r in rows] == [["11", "train", "221"], ["11", "test", "95"]]
    code, out, err = run(capsys, "data", "show", "ucihar", "--domain", "99", "--data-dir", str(real_data_dir))
    assert code == 2 and out == ""
    assert err.startswith("error: unknown domain 99 in data set ucihar") and "valid domains: 1, 2," in err


def test_show_a_npz_path(capsys, tmp_path, ucihar_arrays):
    a = ucihar_arrays
    rows = np.flatnonzero(a["subject"] == 9)
    np.savez(tmp_path / "mine.npz", X=a["X"][rows], y=a["y"][rows], subject=a["subject"][rows])
    code, out, _ = run(capsys, "data", "show", str(tmp_path / "mine.npz"))
    assert code == 0
    assert squash(out)[0] == f"mine: {tmp_path / 'mine.npz'}"
    n_test = sum(round(0.3 * c) for c in np.bincount(a["y"][rows]))
    assert f"9 test {n_test}" in " ".join(squash(out))


def test_help_texts(capsys):
    for cmd in ("list", "show", "download"):
        code, out, _ = run(capsys, "data", cmd, "--help")
        assert code == 0 and "--data-dir" in out and "$UNIKD_DATA_DIR" in out
    _, out, _ = run(capsys, "data", "download", "--help")
    out = " ".join(out.split())  # help text wraps with the terminal width
    for text in ("--timeout", "--from-zip", "--sha256", "verify its sha256", "[default: 15.0]"):
        assert text in out
    _, out, _ = run(capsys, "data", "--help")
    assert "list" in out and "show" in out and "download" in out


# --- download -----------------------------------------------------------------------------------------------


@pytest.mark.skipif(not _offline(), reason="archive.ics.uci.edu is reachable; this checks the offline failure")
def test_download_offline_fails_fast_and_leaves_nothing(capsys, tmp_path):
    (tmp_path / "other").mkdir()  # an existing data dir with other content stays as it was
    started = time.monotonic()
    code, out, err = run(capsys, "data", "download", "ucihar", "--data-dir", str(tmp_path), "--timeout", "5")
    assert time.monotonic() - started < 10
    assert code == 2 and out == ""
    msg = err.splitlines()[-1]
    assert msg.startswith("error: cannot reach archive.ics.uci.edu")
    assert "no internet access" in msg
    assert str(tmp_path / "ucihar" / ARCHIVE_DIR / "train" / "Inertial Signals") in msg  # where to put files
    assert "--from-zip FILE" in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other"]  # no ucihar/, no temporary folder


@pytest.mark.skipif(not _offline(), reason="archive.ics.uci.edu is reachable; this checks the offline failure")
def test_download_offline_into_new_data_dir_creates_nothing(capsys, tmp_path):
    code, _, err = run(capsys, "data", "download", "ucihar", "--data-dir", str(tmp_path / "new"))
    assert code == 2 and "cannot reach" in err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def uci_zip(tmp_path, make_uci_archive):
    """A zip shaped like UCI's download (an outer zip holding 'UCI HAR Dataset.zip') with real rows of subject 2."""
    src = tmp_path / "src"
    rows = make_uci_archive(src / ARCHIVE_DIR, (2,), max_rows=20)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted((src / ARCHIVE_DIR).rglob("*")):
            z.write(p, p.relative_to(src))
        z.writestr("__MACOSX/._README.txt", b"resource fork")
    outer = tmp_path / "human+activity+recognition+using+smartphones.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr(f"{ARCHIVE_DIR}.zip", inner.getvalue())
        z.writestr(f"{ARCHIVE_DIR}.names", "notes")
    return outer, hashlib.sha256(outer.read_bytes()).hexdigest(), rows


def test_download_from_zip_rejects_unknown_checksum(capsys, tmp_path, uci_zip):
    zip_path, digest, _ = uci_zip
    data_dir = tmp_path / "data"
    code, _, err = run(capsys, "data", "download", "ucihar", "--from-zip", str(zip_path), "--data-dir", str(data_dir))
    assert code == 2
    assert f"sha256 {digest}" in err and "matches no known UCI-HAR archive" in err
    assert "c00b803081a5c797cd5e4b83700a9810b38d53d9d84e01917e090e1fdbc81031" in err  # the pinned UCI value
    assert not data_dir.exists()


def test_download_from_zip_unpacks_nested_archive(capsys, tmp_path, uci_zip, ucihar_arrays):
    zip_path, digest, rows = uci_zip
    data_dir = tmp_path / "data"
    argv = ("data", "download", "ucihar", "--from-zip", str(zip_path), "--sha256", digest, "--data-dir", str(data_dir))
    code, out, _ = run(capsys, *argv)
    assert code == 0 and out.strip() == f"ucihar: ready at {data_dir / 'ucihar' / ARCHIVE_DIR}"
    assert sorted(p.name for p in (data_dir / "ucihar").iterdir()) == [ARCHIVE_DIR, "download.json"]
    assert json.loads((data_dir / "ucihar" / "download.json").read_text())["sha256"] == digest
    assert not (data_dir / "ucihar" / ARCHIVE_DIR / "__MACOSX").exists()
    ws = load_dataset("ucihar", data_dir)
    assert np.array_equal(ws.X, ucihar_arrays["X"][rows]) and np.array_equal(ws.y, ucihar_arrays["y"][rows])
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "already present" in out and "nothing to do" in out


def test_download_refuses_members_outside_the_target(capsys, tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../escaped.txt", "x")
    digest = hashlib.sha256(evil.read_bytes()).hexdigest()
    data_dir = tmp_path / "a" / "data"
    code, _, err = run(capsys, "data", "download", "ucihar", "--from-zip", str(evil), "--sha256", digest,
                       "--data-dir", str(data_dir))
    assert code == 2 and "refused to unpack member '../../escaped.txt'" in err
    assert not (tmp_path / "a" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert not data_dir.exists()


def test_download_of_a_set_without_download(capsys, tmp_path):
    code, _, err = run(capsys, "data", "download", "wisdm", "--data-dir", str(tmp_path))
    assert code == 2 and "wisdm has no download here (only ucihar)" in err and str(tmp_path / "wisdm") in err
    code, _, err = run(capsys, "data", "download", "pamap2")
    assert code == 2 and "unknown data set 'pamap2'" in err
