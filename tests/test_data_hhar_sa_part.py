"""The registered partial HHAR set, read from the real shared copy (../shared/data/hhar_sa_part)."""

from __future__ import annotations

import numpy as np
import pytest

from unikd.data import load_dataset
from unikd.data.scenario import scenario_data

# windows per user, from the file's README
PER_USER = {0: 457, 1: 536, 2: 475, 3: 457, 4: 501, 5: 517, 6: 501, 7: 479, 8: 513}


@pytest.fixture(scope="module")
def hhar(real_data_dir):
    if not (real_data_dir / "hhar_sa_part" / "hhar_sa_part.npz").is_file():
        pytest.fail(f"the partial HHAR copy is missing under {real_data_dir}")
    return load_dataset("hhar_sa_part", real_data_dir)


def test_users_classes_and_channels(hhar):
    assert {d: int((hhar.domain == d).sum()) for d in hhar.domains()} == PER_USER
    assert hhar.class_names == ["bike", "sit", "stairsdown", "stairsup", "stand", "walk"]
    assert hhar.channel_names == ["acc_x", "acc_y", "acc_z"] and hhar.X.shape[1:] == (3, 128)
    assert hhar.stride == 128 and hhar.sample_rate_hz is None


def test_seeded_split_is_70_30_per_user_and_class_and_repeatable(hhar, real_data_dir):
    for d in hhar.domains():
        for c in range(6):
            rows = (hhar.domain == d) & (hhar.y == c)
            test = int(hhar.split[rows].astype(int).sum())
            assert 1 <= test < rows.sum() and abs(test - 0.3 * rows.sum()) <= 0.5 + 1e-9, (d, c)
    again = load_dataset("hhar_sa_part", real_data_dir)
    np.testing.assert_array_equal(again.split, hhar.split)


def test_a_scenario_between_two_users(hhar):
    data = scenario_data(hhar, 0, 1)
    assert len(data.source_train) + int(hhar.split[hhar.domain == 0].astype(int).sum()) == PER_USER[0]
    assert set(np.unique(data.target_test.y)) == set(range(6))
