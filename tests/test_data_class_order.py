"""Class-id order of the registered AdaTime-style sets, and the timing of packed-format .npz files."""

import numpy as np
import pytest

from unikd.data import DATASETS, DataError, load_dataset, load_path

HHAR_PART = "hhar_sa_part/hhar_sa_part.npz"


@pytest.mark.parametrize("name, order", [
    # UCI-HAR (AdaTime "HAR"): UCI activity ids 1..6 minus 1; AdaTime's configs/data_model_configs.py (HAR) lists
    # the same order, and the packed file's class_names key carries it
    ("ucihar", ["walk", "upstairs", "downstairs", "sit", "stand", "lie"]),
    # HHAR_SA: alphabetical order of HHAR's 'gt' labels, as found in the real AdaTime files (test below);
    # AdaTime's config order (bike, sit, stand, walk, stairs_up, stairs_down) does not fit those files
    ("hhar", ["bike", "sit", "stairs_down", "stairs_up", "stand", "walk"]),
    # WISDM: alphabetical order of WISDM's labels, assumed like HHAR (no AdaTime WISDM files to check here);
    # AdaTime's config lists walk, jog, sit, stand, upstairs, downstairs
    ("wisdm", ["downstairs", "jog", "sit", "stand", "upstairs", "walk"]),
])
def test_class_order_is_pinned(name, order, real_data_dir):
    names = load_dataset(name).class_names if name == "ucihar" else DATASETS.get(name).class_names
    assert names == order


def test_hhar_order_fits_the_real_windows(real_data_dir):
    """Only sit and stand keep a phone still: their ids must be the two classes with almost no motion."""
    with np.load(real_data_dir / HHAR_PART) as npz:
        X, y = npz["X"], npz["y"]
    motion = np.array([X[y == k].std(axis=2).mean() for k in range(6)])
    still = sorted(np.argsort(motion)[:2].tolist())
    names = DATASETS.get("hhar").class_names
    assert [names[k] for k in still] == ["sit", "stand"]
    assert motion[still].max() < 0.2 < np.delete(motion, still).min()


def _hhar_part_copy(real_data_dir, path, **timing):
    """The real HHAR part (packed keys, no timing keys) saved as a user's own file, plus `timing` keys."""
    with np.load(real_data_dir / HHAR_PART) as npz:
        np.savez(path, **{k: npz[k] for k in npz.files}, **timing)
    return path


def test_packed_npz_without_timing_is_refused(real_data_dir, tmp_path):
    path = _hhar_part_copy(real_data_dir, tmp_path / "mine.npz")
    with pytest.raises(DataError) as e:
        load_dataset(str(path))
    msg = str(e.value)
    assert msg.startswith(f"{path}: missing key(s) 'sample_rate_hz', 'stride'")
    assert "Add sample_rate_hz (scalar, Hz) and stride (scalar int, samples between window starts)" in msg


def test_packed_npz_timing_comes_from_the_file_or_the_caller(real_data_dir, tmp_path):
    path = _hhar_part_copy(real_data_dir, tmp_path / "mine.npz", sample_rate_hz=np.float64(100.0),
                           stride=np.int64(128))
    ws = load_dataset(str(path))
    assert (ws.name, ws.sample_rate_hz, ws.stride) == ("mine", 100.0, 128)
    assert ws.class_names == ["bike", "sit", "stairsdown", "stairsup", "stand", "walk"]  # the file's own names
    bare = _hhar_part_copy(real_data_dir, tmp_path / "bare.npz")
    ws = load_path(bare, sample_rate_hz=120.0, stride=128)
    assert (ws.sample_rate_hz, ws.stride) == (120.0, 128)
    with pytest.raises(DataError, match="key 'stride' holds 128, but 64 was given"):
        load_path(path, stride=64)


def test_the_registered_ucihar_copy_keeps_uci_hars_timing(real_data_dir):
    with np.load(real_data_dir / "ucihar" / "ucihar.npz") as npz:
        assert not {"sample_rate_hz", "stride"} & set(npz.files)  # the shared copy records no timing
    for ws in (load_dataset("ucihar", real_data_dir), load_path(real_data_dir / "ucihar")):
        assert (ws.name, ws.sample_rate_hz, ws.stride) == ("ucihar", 50.0, 64)
