"""`unikd-mcu tune` end to end on a tiny budget (real UCI-HAR windows, 1-epoch runs): the study in SQLite, the best
setting as a config file that train accepts, resume, and refusals."""

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from unikd.config import resolve_config
from unikd.tune import SEARCH_SPACES
from unikd_mcu.cli import main

TINY = {"epochs": 1, "min_steps": 0, "teacher_epochs": 1, "teacher_rotate_degrees": 0.0}


def _trials_in(db) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("select number, state from trials order by number").fetchall()


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _tune(tmp_path, tiny_config, real_data_dir, trials, *extra):
    return main(["tune", "--config", str(tiny_config), "--data-dir", str(real_data_dir), "--scenarios", "2->11",
                 "--trials", str(trials), "--jobs", "1", "--out", str(tmp_path / "tune"), "--quiet", *extra])


def test_tune_end_to_end_writes_a_config_train_accepts_and_resumes(tmp_path, tiny_config, real_data_dir, capsys):
    assert _tune(tmp_path, tiny_config, real_data_dir, 2) == 0
    out = capsys.readouterr().out
    assert "best of 2 trials (rule teacher-agreement)" in out
    db = tmp_path / "tune" / "study.db"
    assert [state for _, state in _trials_in(db)] == ["COMPLETE", "COMPLETE"]
    result = tmp_path / "tune" / "result"
    summary = json.loads((result / "summary.json").read_text())
    assert summary["trials"] == 2 and summary["rule"] == "teacher-agreement"
    best = yaml.safe_load((result / "best.yaml").read_text())
    # every searched setting is in the file, with the shared settings, and train's config reader accepts it
    assert set(SEARCH_SPACES["unikd"]) <= set(best)
    assert best["epochs"] == 1 and best["method"] == "unikd"
    cfg = resolve_config(best)
    assert cfg.temperature == summary["best_params"]["temperature"]
    # the best trial's value is the mean rule score of its run, as recorded in that run's metrics.json
    trial_runs = [json.loads(p.read_text()) for p in (tmp_path / "tune" / "trials").glob("*/runs/*/metrics.json")]
    assert len(trial_runs) == 2
    assert summary["best_rule_score"] == pytest.approx(max(m["label_free"]["teacher-agreement"] for m in trial_runs))
    assert (result / "tune.png").stat().st_size > 1000
    lines = (result / "trials.csv").read_text().splitlines()
    assert lines[0].startswith("trial,rule_score,target_macro_f1,") and len(lines) == 3
    # trial 0 is the current setting (the defaults under the config file), so the search can only improve on it
    first = dict(zip(lines[0].split(","), lines[1].split(",")))
    defaults = resolve_config(TINY)
    assert all(float(first[name]) == getattr(defaults, name) for name in SEARCH_SPACES["unikd"])
    # one teacher for the scenario, shared by both trials
    assert len(list((tmp_path / "tune" / "teachers").iterdir())) == 1

    # resumed with a larger budget: only the missing trial runs
    assert _tune(tmp_path, tiny_config, real_data_dir, 3) == 0
    assert [n for n, _ in _trials_in(db)] == [0, 1, 2]
    assert "best of 3 trials" in capsys.readouterr().out


def test_tune_refuses_a_study_started_with_other_settings(tmp_path, tiny_config, real_data_dir, capsys):
    assert _tune(tmp_path, tiny_config, real_data_dir, 1) == 0
    capsys.readouterr()
    assert _tune(tmp_path, tiny_config, real_data_dir, 2, "--rule", "source-val") == 2
    err = capsys.readouterr().err
    assert "study 'tune_ucihar_unikd'" in err and "rule differ" in err and "--study-name" in err


@pytest.mark.parametrize("args,needle", [
    (["--rule", "oracle"], "unknown selection rule 'oracle'; valid: teacher-agreement, source-val"),
    (["--method", "dann"], "no search space for method 'dann'; tune knows: unikd, kd"),
    (["--scenarios", "nonsense"], "--scenarios 'nonsense' is neither a scenario set"),
    (["--scenarios", "hhar", "--dataset", "ucihar"], "scenario set 'hhar' is for data set 'hhar_sa_part'"),
    (["--storage", "nosuchdb://x"], "cannot open the Optuna storage 'nosuchdb://x'"),
])
def test_tune_bad_input(tmp_path, args, needle, capsys):
    assert main(["tune", "--quiet", "--out", str(tmp_path / "t"), *args]) == 2
    assert needle in capsys.readouterr().err


def test_two_processes_share_one_study_through_the_storage_url(tmp_path, tiny_config, real_data_dir):
    """Two tune processes (as on two machines) pointed at one storage URL and study name work on one search: the
    study ends with the budget of trials (each process may finish the one trial it had started when the other
    reached the budget), and both write the same best setting."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    procs = [subprocess.Popen([sys.executable, "-m", "unikd_mcu.cli", "tune", "--config", str(tiny_config),
                               "--data-dir", str(real_data_dir), "--scenarios", "2->11", "--trials", "4",
                               "--jobs", "1", "--storage", url, "--study-name", "shared", "--quiet",
                               "--out", str(tmp_path / name)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for name in ("a", "b")]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    states = [state for _, state in _trials_in(tmp_path / "shared.db")]
    assert 4 <= states.count("COMPLETE") <= 5 and set(states) == {"COMPLETE"}
    a, b = (json.loads((tmp_path / n / "result" / "summary.json").read_text()) for n in ("a", "b"))
    assert a["storage"] == b["storage"] == url
    # the process that finished last saw every trial, its own and the other's: its best is the study's best
    last = a if a["trials"] >= b["trials"] else b
    assert last["trials"] == states.count("COMPLETE")
    with sqlite3.connect(tmp_path / "shared.db") as con:
        (study_best,) = con.execute("select max(value) from trial_values").fetchone()
    assert last["best_rule_score"] == pytest.approx(study_best)


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs" / "tuned").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_shipped_tuned_configs_are_what_train_accepts(path):
    from unikd.config import read_config_file
    from unikd.data import DATASETS

    values = read_config_file(path)
    cfg = resolve_config(values)
    assert cfg.dataset == path.stem and cfg.dataset in DATASETS.names()
    assert set(SEARCH_SPACES["unikd"]) <= set(values)  # a whole tune result, not a hand-edited subset
