"""Real training on UCI-HAR: determinism, a short run that must clearly beat chance, the run directory."""

import json

import numpy as np
import pytest
import torch

from unikd.config import resolve_config
from unikd.rundir import DataFacts, load_run
from unikd.train import train_run


def short(real_data_dir, tmp_path, **kw):
    return resolve_config({"data_dir": str(real_data_dir), "progress": False, "epochs": 3, "min_steps": 0, "teacher_epochs": 3,
                           "teacher_cache": str(tmp_path / "teachers")} | kw)


def test_same_seed_gives_bit_identical_weights(real_data_dir, tmp_path):
    a = train_run(short(real_data_dir, tmp_path, method="unikd", out=str(tmp_path / "a")))
    # second run: same seed, teacher taken from the cache this time; the student must not notice
    b = train_run(short(real_data_dir, tmp_path, method="unikd", out=str(tmp_path / "b")))
    sa = torch.load(a / "student.pt", weights_only=True)
    sb = torch.load(b / "student.pt", weights_only=True)
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    c = train_run(short(real_data_dir, tmp_path, method="unikd", seed=1, out=str(tmp_path / "c")))
    sc = torch.load(c / "student.pt", weights_only=True)
    assert not torch.equal(sa["head.weight"], sc["head.weight"])


def test_short_unikd_run_beats_chance_by_a_wide_margin(real_data_dir, tmp_path):
    cfg = short(real_data_dir, tmp_path, method="unikd", epochs=20, teacher_epochs=20, out=str(tmp_path / "run"))
    run = train_run(cfg)
    m = json.loads((run / "metrics.json").read_text())
    assert m["macro_f1"] > 0.70  # chance for 6 balanced classes is about 0.17
    assert m["seed"] == 0 and m["scenario"] == "2->11" and m["num_windows"] == 95
    assert np.asarray(m["confusion_matrix"]).sum() == 95
    assert m["teacher"]["macro_f1"] > 0.70
    for name in ("config.json", "model.json", "normaliser.json", "source_normaliser.json", "student.pt",
                 "history.csv", "confusion.png"):
        assert (run / name).is_file(), name
    history = (run / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,") and len(history) == 21
    resolved = json.loads((run / "config.json").read_text())
    assert resolved["method"] == "unikd" and resolved["epochs"] == 20 and resolved["seed"] == 0


@pytest.mark.parametrize("method", ["source-only", "target-supervised", "dann", "kd", "mobileda", "aad",
                                    "unikd-authors"])
def test_every_method_trains_and_scores(real_data_dir, tmp_path, method):
    run = train_run(short(real_data_dir, tmp_path, method=method, epochs=2, teacher_epochs=2,
                          out=str(tmp_path / method)))
    m = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= m["macro_f1"] <= 1.0 and m["method"] == method


def test_normaliser_is_fitted_on_training_windows_only(real_data_dir, tmp_path):
    from unikd.data import load_dataset
    from unikd.data.normalise import Normaliser
    from unikd.data.scenario import scenario_data

    run = train_run(short(real_data_dir, tmp_path, method="source-only", epochs=1, normalise="zscore",
                          out=str(tmp_path / "n")))
    saved = Normaliser.load(run / "normaliser.json")
    d = scenario_data(load_dataset("ucihar", real_data_dir), 2, 11)
    x = np.concatenate([d.source_train.X, d.target_train.X]).astype(np.float64)
    assert np.allclose(saved.mean, x.mean(axis=(0, 2)), atol=1e-6)
    assert np.allclose(saved.inv_std, 1 / x.std(axis=(0, 2)), rtol=1e-5)
    source = load_run(run).source_normaliser  # one set for both domains: the source windows had it too
    assert np.array_equal(source.mean, saved.mean) and np.array_equal(source.inv_std, saved.inv_std)


def test_per_domain_normalisation_exports_the_targets_constants(real_data_dir, tmp_path):
    from unikd.data import load_dataset
    from unikd.data.normalise import Normaliser
    from unikd.data.scenario import scenario_data

    run = train_run(short(real_data_dir, tmp_path, method="source-only", epochs=1, normalise="per-domain",
                          out=str(tmp_path / "pd")))
    saved = Normaliser.load(run / "normaliser.json")
    d = scenario_data(load_dataset("ucihar", real_data_dir), 2, 11)
    x = d.target_train.X.astype(np.float64)  # the wearer's unlabelled training windows only
    assert np.allclose(saved.mean, x.mean(axis=(0, 2)), atol=1e-6)
    assert np.allclose(saved.inv_std, 1 / x.std(axis=(0, 2)), rtol=1e-5)
    source_mean = d.source_train.X.astype(np.float64).mean(axis=(0, 2))
    assert not np.allclose(saved.mean, source_mean, atol=1e-3)
    # the source's own constants, which standardised the source windows in training, are saved for deployment
    source = load_run(run).source_normaliser
    assert source.kind == "per-domain" and np.allclose(source.mean, source_mean, atol=1e-6)
    assert np.allclose(source.inv_std, 1 / d.source_train.X.astype(np.float64).std(axis=(0, 2)), rtol=1e-5)
    assert load_run(run).facts == DataFacts.of(d.windows)


def test_source_only_student_uses_nothing_of_the_target_not_even_its_statistics(real_data_dir, tmp_path):
    from unikd.data import load_dataset
    from unikd.data.normalise import Normaliser
    from unikd.data.scenario import scenario_data

    # no normalise given: the source-only method's own default applies
    run = train_run(short(real_data_dir, tmp_path, method="source-only", epochs=1, out=str(tmp_path / "so")))
    saved = Normaliser.load(run / "normaliser.json")
    assert saved.kind == "source"
    d = scenario_data(load_dataset("ucihar", real_data_dir), 2, 11)
    x = d.source_train.X.astype(np.float64)
    assert np.allclose(saved.mean, x.mean(axis=(0, 2)), atol=1e-6)
    assert np.allclose(saved.inv_std, 1 / x.std(axis=(0, 2)), rtol=1e-5)


def test_teacher_is_trained_on_rotated_windows_of_the_sensor_triplets(real_data_dir, tmp_path):
    from unikd.errors import UserError

    cfg = short(real_data_dir, tmp_path, method="unikd", epochs=1, teacher_epochs=1, out=str(tmp_path / "r"))
    train_run(cfg)
    (info,) = [json.loads(p.read_text()) for p in (tmp_path / "teachers").glob("*/teacher.json")]
    assert info["augment"] == "random rotation up to 30 degrees of body_acc, body_gyro, total_acc"
    with pytest.raises(UserError, match="teacher_rotate_degrees must be between 0 and 180, got 200"):
        resolve_config({"teacher_rotate_degrees": 200})
