"""`unikd-mcu train` / `sweep` from the command line: help, bad input, nothing half-written. The commands run
in-process through unikd_mcu.cli.main (the entry point's own error handling and exit codes); only --help goes
through a fresh interpreter, to check that `python -m unikd_mcu.cli` starts at all."""

import subprocess
import sys
import types

import pytest

from unikd_mcu.cli import main


@pytest.fixture
def cli(capsys, monkeypatch):
    """Function (*args, env_data=None) -> (returncode, stdout, stderr) of `unikd-mcu *args`, run in-process."""

    def run(*args, env_data=None):
        if env_data:
            monkeypatch.setenv("UNIKD_DATA_DIR", str(env_data))
        capsys.readouterr()  # only this command's output
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return types.SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return run


def test_help_lists_commands():
    r = subprocess.run([sys.executable, "-m", "unikd_mcu.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for cmd in ("train", "sweep", "data", "build", "boards", "flash", "hil"):
        assert cmd in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["--method", "fancy"], "unknown method 'fancy'; valid methods: aad, dann, kd, mobileda, source-only"),
    (["--source", "99"], "unknown source domain 99 in data set ucihar; valid domains: [1, 2, 3,"),
    (["--dataset", "nope"], "unknown data set 'nope'"),
])
def test_bad_input_names_the_value_and_lists_valid_ones(cli, real_data_dir, tmp_path, args, needle):
    r = cli("train", "--quiet", "--out", str(tmp_path / "run"), *args, env_data=real_data_dir)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert not (tmp_path / "run").exists()
    assert list(tmp_path.iterdir()) == [] or all(p.name == "teachers" for p in tmp_path.iterdir())


def test_missing_data_names_the_path_and_how_to_get_it(cli, tmp_path):
    r = cli("train", "--quiet", "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "empty"))
    assert r.returncode == 2
    assert str(tmp_path / "empty" / "ucihar" / "ucihar.npz") in r.stderr
    assert "unikd-mcu data download ucihar" in r.stderr
    assert not (tmp_path / "run").exists()


def test_config_file_with_unknown_setting_is_refused(cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("method: unikd\nepoch: 3\n")
    r = cli("train", "--config", str(cfg), "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    assert "unknown setting(s) epoch" in r.stderr and "epochs" in r.stderr


def test_non_positive_learning_rate_is_refused(cli, tmp_path):
    r = cli("train", "--quiet", "--out", str(tmp_path / "run"), "--lr", "-1")
    assert r.returncode == 2 and "lr must be positive, got -1.0" in r.stderr
    assert not (tmp_path / "run").exists()


def test_sweep_writes_markdown_csv_and_plot(cli, real_data_dir, tmp_path):
    r = cli("sweep", "--scenarios", "2->11", "--seeds", "0", "--methods", "source-only,dann", "--epochs", "2", "--min-steps", "0",
            "--jobs", "1", "--out", str(tmp_path / "sw"), env_data=real_data_dir)
    assert r.returncode == 0, r.stderr
    assert "| source-only |" in r.stdout and "| dann |" in r.stdout
    s = tmp_path / "sw" / "summary"
    for name in ("results.csv", "summary.md", "summary.json", "summary.png"):
        assert (s / name).is_file()
    first_csv = (s / "results.csv").read_text()
    assert len((s / "results.csv").read_text().splitlines()) == 3
    # the same sweep again resumes: finished runs with the same settings are scored, not retrained
    student = tmp_path / "sw" / "runs" / "ucihar_2to11_dann_s0" / "student.pt"
    stamp = student.stat().st_mtime_ns
    again = cli("sweep", "--scenarios", "2->11", "--seeds", "0", "--methods", "source-only,dann", "--epochs", "2", "--min-steps", "0",
                "--jobs", "1", "--out", str(tmp_path / "sw"), env_data=real_data_dir)
    assert again.returncode == 0 and student.stat().st_mtime_ns == stamp
    assert (s / "results.csv").read_text() == first_csv


def test_setting_parser_reads_values_as_a_config_file_does_and_names_bad_keys():
    from unikd.config import parse_setting
    from unikd.errors import UserError

    assert parse_setting("teacher_im_weight=.3") == ("teacher_im_weight", 0.3)
    assert parse_setting("departures=[beta_log10]") == ("departures", ["beta_log10"])
    assert parse_setting("normalise=zscore") == ("normalise", "zscore")
    with pytest.raises(UserError, match="unknown setting 'epoch'.*epochs"):
        parse_setting("epoch=3")
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_setting("epochs")


def test_sweep_does_not_reuse_a_run_that_predates_a_setting_or_another_data_set(tmp_path, scenario_2to11):
    import json

    from helpers import random_net, write_run_dir
    from unikd.config import resolve_config
    from unikd.sweep import _finished_with

    data, norm = scenario_2to11
    cfg = resolve_config({})
    write_run_dir(tmp_path / "run", random_net(), norm, data)
    saved = json.loads(json.dumps(cfg.to_dict()))
    metrics = {"macro_f1": 0.0, "data_fingerprint": data.fingerprint()}
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    (tmp_path / "run" / "metrics.json").write_text(json.dumps(metrics))
    assert _finished_with(tmp_path / "run", cfg, data.fingerprint())
    assert not _finished_with(tmp_path / "run", cfg, "another data set")
    del saved["teacher_im_weight"]  # a run trained before the setting existed (its teacher had no such term)
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    assert not _finished_with(tmp_path / "run", cfg, data.fingerprint())


def test_sweep_does_not_take_a_run_missing_a_file_as_finished(tmp_path, scenario_2to11):
    import json

    from helpers import random_net, write_run_dir
    from unikd.config import resolve_config
    from unikd.sweep import _finished_with

    data, norm = scenario_2to11
    cfg = resolve_config({})
    write_run_dir(tmp_path / "run", random_net(), norm, data)
    (tmp_path / "run" / "config.json").write_text(json.dumps(cfg.to_dict()))
    (tmp_path / "run" / "metrics.json").write_text(json.dumps({"data_fingerprint": data.fingerprint()}))
    assert _finished_with(tmp_path / "run", cfg, data.fingerprint())
    (tmp_path / "run" / "student.pt").unlink()
    assert not _finished_with(tmp_path / "run", cfg, data.fingerprint())


def test_a_cached_teacher_is_keyed_by_the_data_not_only_the_settings(scenario_2to11):
    import dataclasses

    from unikd.config import resolve_config
    from unikd.data.scenario import Part
    from unikd.train import teacher_key

    data, _ = scenario_2to11
    cfg = resolve_config({})
    y = data.source_train.y.copy()
    y[0] = (y[0] + 1) % len(data.class_names)  # one label of the source changed: another data set
    other = dataclasses.replace(data, source_train=Part(data.source_train.X, y, data.source_train.rows))
    assert teacher_key(cfg, "dann", data) == teacher_key(cfg, "dann", data)
    assert teacher_key(cfg, "dann", data) != teacher_key(cfg, "dann", other)


def test_worker_pool_keeps_the_order_and_its_workers_across_maps():
    import os

    from unikd.sweep import WorkerPool

    with WorkerPool(2) as pool:
        assert pool.map(pow, [(2, i) for i in range(8)], progress=False) == [2 ** i for i in range(8)]
        first = set(pool.map(os.getpid, [()] * 6, progress=False))
        again = set(pool.map(os.getpid, [()] * 6, progress=False))
    # the same two worker processes served both maps (a pool per map would show up to four)
    assert os.getpid() not in first and len(first | again) <= 2
    with WorkerPool(1) as inline:  # no workers: everything in this process
        assert inline.map(os.getpid, [()] * 2, progress=False) == [os.getpid()] * 2
