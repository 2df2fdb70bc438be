"""Shared pytest fixtures (plain helpers without data: tests/helpers.py).

Real data: the UCI-HAR copy under $UNIKD_DATA_DIR, or ../shared/data next to the repository (where CI and the
development machines keep it). A missing copy fails the tests that need it instead of skipping them, so a
misconfigured CI cannot pass by testing nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def real_data_dir_path() -> Path:
    env = os.environ.get("UNIKD_DATA_DIR")
    return Path(env).expanduser().resolve() if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The data directory that holds the real ucihar/ucihar.npz."""
    d = real_data_dir_path()
    if not (d / "ucihar" / "ucihar.npz").is_file():
        pytest.fail(
            f"real UCI-HAR data not found at {d / 'ucihar' / 'ucihar.npz'}; set UNIKD_DATA_DIR to the folder "
            f"holding ucihar/ucihar.npz (CI: ../shared/data)"
        )
    return d


@pytest.fixture(scope="session")
def ucihar_arrays(real_data_dir) -> dict:
    """Every array of the real ucihar.npz, read once per test session (about 50 MB)."""
    with np.load(real_data_dir / "ucihar" / "ucihar.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


# --- builders of small real-data folders in other formats, from rows of the real npz -----------------------


def _uci_text(values: np.ndarray) -> str:
    """Rows in the layout of the official text files: space-padded, 3-digit exponents (e.g. ' 2.5717778e-001').
    Nine significant digits, so every float32 value reads back bit for bit."""
    values = np.atleast_2d(values)
    fmt = " ".join(["%15.8e"] * values.shape[1])
    text = "\n".join(fmt % tuple(row) for row in values.tolist()) + "\n"
    return text.replace("e-", "e-0").replace("e+", "e+0")  # Python writes 2 exponent digits, UCI 3


@pytest.fixture(scope="session")
def make_uci_archive(ucihar_arrays):
    """Function (root, subjects, max_rows=None) -> row indices into the npz: writes `root/{train,test}/...` in the
    official format for those subjects (each subject in its original UCI part, rows in npz order)."""
    from unikd.data.ucihar_archive import SIGNALS

    def build(root: Path, subjects, max_rows: int | None = None) -> np.ndarray:
        a = ucihar_arrays
        chosen = np.isin(a["subject"], list(subjects))
        if max_rows is not None:  # keep only the first rows of each part (small files for error tests)
            for s in (0, 1):
                chosen[np.flatnonzero(chosen & (a["split"] == s))[max_rows:]] = False
        for s, part in enumerate(("train", "test")):
            rows = np.flatnonzero(chosen & (a["split"] == s))
            (root / part / "Inertial Signals").mkdir(parents=True)
            (root / part / f"y_{part}.txt").write_text("".join(f"{v + 1}\n" for v in a["y"][rows]))
            (root / part / f"subject_{part}.txt").write_text("".join(f"{v}\n" for v in a["subject"][rows]))
            for c, name in enumerate(SIGNALS):
                (root / part / "Inertial Signals" / f"{name}_{part}.txt").write_text(_uci_text(a["X"][rows, c]))
        return np.flatnonzero(chosen)  # npz order = original train file, then test file

    return build


@pytest.fixture(scope="session")
def make_adatime_folder(ucihar_arrays):
    """Function (folder, subjects, layout="NCL", as_tensor=False) -> {(subject, split): npz rows in file order}:
    writes AdaTime's train_<s>.pt / test_<s>.pt (float64 samples and labels, as AdaTime ships them)."""
    import torch

    def build(folder: Path, subjects, layout: str = "NCL", as_tensor: bool = False) -> dict:
        a = ucihar_arrays
        folder.mkdir(parents=True, exist_ok=True)
        parts = {}
        for d in subjects:
            for s, part in enumerate(("train", "test")):
                rows = np.flatnonzero((a["subject"] == d) & (a["adatime_split"] == s))
                rows = rows[np.argsort(a["adatime_index"][rows])]
                samples = a["X"][rows].astype(np.float64)
                if layout == "NLC":
                    samples = samples.transpose(0, 2, 1).copy()
                labels = a["y"][rows].astype(np.float64)
                if as_tensor:
                    samples, labels = torch.from_numpy(samples), torch.from_numpy(labels)
                torch.save({"samples": samples, "labels": labels}, folder / f"{part}_{d}.pt")
                parts[(d, s)] = rows
        return parts

    return build


@pytest.fixture(scope="session")
def uci_archive_dir(tmp_path_factory, make_uci_archive):
    """(data dir holding ucihar/UCI HAR Dataset for subjects 1, 2, 3, npz rows it holds); built once, read only."""
    data_dir = tmp_path_factory.mktemp("uci_archive")
    rows = make_uci_archive(data_dir / "ucihar" / "UCI HAR Dataset", (1, 2, 3))
    return data_dir, rows


# --- the codegen tests' models, each built once per session (loading UCI-HAR, importing TensorFlow and converting
# are the expensive parts) -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def scenario_2to11(real_data_dir):
    """(ScenarioData UCI-HAR 2->11, a zscore Normaliser fitted on both domains' train windows)."""
    from helpers import SOURCE, TARGET
    from unikd.data import load_dataset
    from unikd.data.normalise import Normaliser
    from unikd.data.scenario import scenario_data

    data = scenario_data(load_dataset("ucihar", real_data_dir), SOURCE, TARGET)
    return data, Normaliser.fit([data.source_train.X, data.target_train.X])


@pytest.fixture(scope="session")
def student_tflite(scenario_2to11) -> bytes:
    """helpers.random_net() converted to int8, calibrated on the scenario's representative windows."""
    from codegen.convert import convert_student, representative_windows
    from helpers import random_net

    data, norm = scenario_2to11
    return convert_student(random_net(), representative_windows(data, norm))


@pytest.fixture(scope="session")
def student_metadata(scenario_2to11, student_tflite):
    """Function (runtime="aot", **changes) -> the ModelMetadata build makes for student_tflite (changes override
    fields)."""
    import dataclasses
    import types

    from codegen.metadata import metadata_for
    from codegen.tflite_info import read_tflite
    from helpers import SOURCE, TARGET
    from unikd.rundir import DataFacts

    data, norm = scenario_2to11
    run = types.SimpleNamespace(normaliser=norm, config={"dataset": "ucihar", "source": SOURCE, "target": TARGET,
                                                         "method": "unikd"})
    facts = DataFacts.of(data.windows)

    def make(runtime: str = "aot", **changes):
        meta = metadata_for(student_tflite, read_tflite(student_tflite), run, facts, runtime)
        return dataclasses.replace(meta, **changes)

    return make


@pytest.fixture(scope="session")
def tflite_with_tanh(scenario_2to11) -> bytes:
    """A real int8 model whose last op is TANH, which the aot runtime does not implement."""
    import tensorflow as tf

    from codegen.convert import keras_to_int8_tflite, representative_windows
    from codegen.keras_mirror import build_keras_mirror
    from helpers import random_net

    data, norm = scenario_2to11
    mirror = build_keras_mirror(random_net(), 128, batch_size=1)
    out = tf.keras.layers.Activation("tanh", name="squash")(mirror.output)
    return keras_to_int8_tflite(tf.keras.Model(mirror.input, out), representative_windows(data, norm)[:64])


# --- toolchains and the firmware core on the host board -----------------------------------------------------------


@pytest.fixture(scope="session")
def require_tools():
    """The toolchain gate as a function, require_tools("gcc", "make"): skips naming what is missing, fails under
    CI=true. A fixture rather than an import, since `conftest` names another module when tests/ and hil_tests/ run
    together."""
    from helpers import require_tools as check

    return check


@pytest.fixture(scope="session")
def host_device(tmp_path_factory, require_tools) -> Path:
    """The whole core with a fake model and the TEST DOUBLE runtime, built once per session for the host board
    (firmware/boards/host: serial link on stdin/stdout, deterministic timer; modes in its board.c)."""
    from fake_device import build_fake_device

    require_tools("make", "gcc")
    return build_fake_device(tmp_path_factory.mktemp("host_device"))
