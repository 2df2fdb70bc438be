"""The named scenario sets: drawn as documented, report and development sets apart, every domain real; and the
accelerometer-only form of UCI-HAR."""

import numpy as np
import pytest

from unikd.data import load_dataset
from unikd.data.scenario import PAPER_SCENARIOS, SCENARIO_SETS, draw_pairs

UCI_SUBJECTS = list(range(1, 31))


def test_drawn_sets_are_what_their_seeds_give():
    paper = PAPER_SCENARIOS["ucihar"]
    outside = SCENARIO_SETS["ucihar-outside"][2]
    heldout, drawn = outside[:10], outside[10:]
    assert drawn == draw_pairs(UCI_SUBJECTS, 10, paper + heldout, 2026)
    assert SCENARIO_SETS["ucihar-dev"][2] == draw_pairs(UCI_SUBJECTS, 10, paper + heldout + drawn, 7)
    adatime_hhar = [(0, 6), (1, 6), (2, 7), (3, 8), (4, 5), (5, 0), (6, 1), (7, 4), (8, 3), (0, 2)]
    assert SCENARIO_SETS["hhar"][2] == adatime_hhar[:5]
    assert SCENARIO_SETS["hhar-dev"][2] == draw_pairs(list(range(9)), 5, adatime_hhar, 7)


def test_no_pair_is_both_reported_and_developed_on():
    for data in ("ucihar", "hhar_sa_part", "ucihar_acc"):
        report = {p for d, role, pairs in SCENARIO_SETS.values() if d == data and role == "report" for p in pairs}
        dev = {p for d, role, pairs in SCENARIO_SETS.values() if d == data and role == "dev" for p in pairs}
        assert report and dev and not report & dev, data
    # the accelerometer-only data are UCI-HAR's subjects: its dev pairs are UCI-HAR dev pairs too
    assert set(SCENARIO_SETS["ucihar-acc-dev"][2]) <= set(SCENARIO_SETS["ucihar-dev"][2])
    assert not set(SCENARIO_SETS["ucihar-acc"][2]) & set(SCENARIO_SETS["ucihar-dev"][2])
    for _, _, pairs in SCENARIO_SETS.values():
        assert len(set(pairs)) == len(pairs) and all(s != t for s, t in pairs)


@pytest.mark.parametrize("name", list(SCENARIO_SETS))
def test_every_domain_exists(name, real_data_dir):
    dataset, _, pairs = SCENARIO_SETS[name]
    domains = set(load_dataset(dataset, real_data_dir).domains())
    assert {d for pair in pairs for d in pair} <= domains


def test_ucihar_acc_is_the_total_acceleration_channels(real_data_dir):
    full, acc = load_dataset("ucihar", real_data_dir), load_dataset("ucihar_acc", real_data_dir)
    assert acc.channel_names == ["total_acc_x", "total_acc_y", "total_acc_z"]
    assert np.array_equal(acc.X, full.X[:, 6:9])
    for field in ("y", "domain", "split", "order"):
        assert np.array_equal(getattr(acc, field), getattr(full, field))
    assert (acc.sample_rate_hz, acc.stride, acc.class_names) == (full.sample_rate_hz, full.stride, full.class_names)
