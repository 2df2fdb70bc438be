"""The run directory is the one contract between training and deployment: what write_run writes, load_run reads
back unchanged, and a run written before a part of the contract existed is refused with a request to retrain."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import random_net
from unikd.data.normalise import Normaliser
from unikd.rundir import SOURCE_NORMALISER, DataFacts, RunError, load_run, write_run

FACTS = DataFacts(window=128, stride=64, channels=9, class_names=["walk", "upstairs", "downstairs", "sit", "stand",
                                                                   "lie"],
                  channel_names=[f"ch{i}" for i in range(9)], sample_rate_hz=50.0)


def _write(path, **changes):
    rng = np.random.default_rng(0)
    target = Normaliser(rng.normal(size=9).astype(np.float32), rng.uniform(0.5, 2, 9).astype(np.float32), "per-domain")
    source = Normaliser(rng.normal(size=9).astype(np.float32), rng.uniform(0.5, 2, 9).astype(np.float32), "per-domain")
    args = dict(config={"dataset": "ucihar", "source": 2, "target": 11, "method": "unikd", "seed": 0},
                model_name="cnn-student", facts=FACTS, student=random_net(seed=4), normaliser=target,
                source_normaliser=source, metrics={"macro_f1": 0.5, "confusion_matrix": np.eye(6, dtype=int).tolist()},
                history=[{"epoch": 1, "ce": 1.5}]) | changes
    return write_run(path, **args), args


def test_what_write_run_writes_load_run_reads_back(tmp_path):
    path, args = _write(tmp_path / "run", confusion_title="a title")
    run = load_run(path)
    assert run.facts == FACTS and run.config == args["config"] and run.metrics == args["metrics"]
    for got, wrote in ((run.normaliser, args["normaliser"]), (run.source_normaliser, args["source_normaliser"])):
        assert got.kind == wrote.kind
        np.testing.assert_array_equal(got.mean, wrote.mean)
        np.testing.assert_array_equal(got.inv_std, wrote.inv_std)
    student = run.build_student()
    assert all(torch.equal(a, b) for a, b in zip(student.state_dict().values(),
                                                 args["student"].state_dict().values()))
    assert run.model["name"] == "cnn-student" and run.model["parameters"] == 13_366
    assert (path / "history.csv").read_text() == "epoch,ce\n1,1.5\n"
    assert (path / "confusion.png").stat().st_size > 0


def test_history_and_picture_are_optional_the_rest_is_not(tmp_path):
    path, _ = _write(tmp_path / "run", history=None)
    assert not (path / "history.csv").exists() and not (path / "confusion.png").exists()
    (path / "student.pt").unlink()
    with pytest.raises(RunError, match="is incomplete: missing student.pt"):
        load_run(path)


@pytest.mark.parametrize("age", ["no source normaliser", "no data facts"])
def test_a_run_from_before_the_contract_is_refused_with_a_request_to_retrain(tmp_path, age):
    path, _ = _write(tmp_path / "run")
    if age == "no source normaliser":
        (path / SOURCE_NORMALISER).unlink()
        missing = "no source_normaliser.json"
    else:
        model = json.loads((path / "model.json").read_text())
        for key in ("window", "sample_rate_hz"):
            del model[key]
        (path / "model.json").write_text(json.dumps(model))
        missing = "no model.json key window, no model.json key sample_rate_hz"
    with pytest.raises(RunError, match=f"written by an older unikd-mcu \\({missing}\\); retrain it with "):
        load_run(path)


def test_facts_are_those_of_the_windows(scenario_2to11):
    ws = scenario_2to11[0].windows
    facts = DataFacts.of(ws)
    assert (facts.window, facts.channels, facts.stride, facts.sample_rate_hz) == (128, 9, 64, 50.0)
    assert (facts.channels, facts.window) == ws.X.shape[1:]
    assert facts.class_names == FACTS.class_names and facts.channel_names[0] == "body_acc_x"
