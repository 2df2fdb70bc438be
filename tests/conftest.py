"""Shared pytest fixtures.

Real data: the UCI-HAR copy under $UNIKD_DATA_DIR, or ../shared/data next to the repository (where CI and the
development machines keep it). A missing copy fails the tests that need it instead of skipping them, so a
misconfigured CI cannot pass by testing nothing.
"""

from __future__ import annotations

import os
import shutil
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


# --- toolchains --------------------------------------------------------------------------------------------------


def tool_exists(name: str) -> bool:
    return shutil.which(name) is not None


REQUIRE_ENV = "UNIKD_REQUIRE_TOOLCHAINS"


def require_tools(*names: str) -> None:
    """Skip (loudly, naming the tools) when a toolchain is missing. Under CI (CI=true, as .ci/run runs) or with
    $UNIKD_REQUIRE_TOOLCHAINS=1 fail instead, so a machine without compilers cannot pass by skipping: every tool
    named here is one that scripts/setup.sh installs."""
    missing = [n for n in names if not tool_exists(n)]
    if missing:
        msg = f"not installed: {', '.join(missing)} (Debian: bash scripts/setup.sh)"
        if os.environ.get("CI") == "true" or os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{msg}; CI=true or ${REQUIRE_ENV}=1 requires every toolchain")
        pytest.skip(msg)


# --- the firmware core on the host board (firmware/boards/host) with a TEST DOUBLE runtime ------------------------
# Shared by test_firmware_core.py (raw bytes through stdin/stdout) and test_protocol_client.py (the HIL client over
# a pipe). The double (tests/firmware/test_double_runtime.c) is mirrored by double_runtime() below.

DEVICE_W, DEVICE_C, DEVICE_STRIDE, DEVICE_K = 128, 9, 64, 6
DEVICE_SEED = 1234
_rng0 = np.random.default_rng(DEVICE_SEED)
# Channel 1 has mean 0, inv_std 1 and the scale is a power of two, so exact halves (ties) are easy to produce.
DEVICE_MEAN = np.r_[0.3, 0.0, _rng0.normal(0, 0.5, DEVICE_C - 2)].astype(np.float32)
DEVICE_INV_STD = np.r_[2.7, 1.0, _rng0.uniform(0.5, 4.0, DEVICE_C - 2)].astype(np.float32)
DEVICE_SCALE = np.float32(0.0625)
DEVICE_ZP = -3
DEVICE_CLASSES = ["walk", "upstairs", "downstairs", "sit", "stand", "lie"]
TEST_DOUBLE_RUNTIME = REPO_ROOT / "tests" / "firmware" / "test_double_runtime.c"


def fake_metadata(**changes):
    """Metadata of a model that does not exist (no .tflite is needed to test the core)."""
    from codegen.metadata import ModelMetadata

    W, C = DEVICE_W, DEVICE_C
    fields = dict(
        model_sha256="ab" * 32, model_bytes=0, input_shape=[1, 1, W, C], output_shape=[1, DEVICE_K],
        input_scale=float(DEVICE_SCALE), input_zero_point=DEVICE_ZP, output_scale=0.125, output_zero_point=7,
        window=W, channels=C, stride=DEVICE_STRIDE, num_classes=DEVICE_K, class_names=DEVICE_CLASSES,
        channel_names=[f"ch{i}" for i in range(C)], sample_rate_hz=50.0, norm_kind="zscore",
        norm_mean=[float(v) for v in DEVICE_MEAN], norm_inv_std=[float(v) for v in DEVICE_INV_STD], runtime="aot",
        dataset="test", source=0, target=1, method="none")
    fields.update(changes)
    return ModelMetadata(**fields)


def build_test_device(out: Path, board: str = "host", make_vars: dict | None = None) -> Path:
    """The whole core with the fake model's metadata and the test double runtime, built for `board` by its own
    Makefile (unikd_mcu.hil.images, the recipe of every image)."""
    from codegen.carrays import model_meta_header
    from unikd_mcu.hil.images import build_image, core_sources

    require_tools("make", "gcc" if board == "host" else "arm-none-eabi-gcc")
    return build_image(board, out, {"core": core_sources(),
                                    "model": {"unikd_model_meta.h": model_meta_header(fake_metadata())},
                                    "runtime": [TEST_DOUBLE_RUNTIME]}, make_vars=make_vars)


@pytest.fixture(scope="session")
def host_device(tmp_path_factory) -> Path:
    """The host board's executable (modes: firmware/boards/host/board.c), built once per session."""
    return build_test_device(tmp_path_factory.mktemp("host_device"))


def double_runtime(window: np.ndarray) -> np.ndarray:
    """Python mirror of the test double runtime: window int8 (W, C) -> int8 (K,)."""
    s = window.astype(np.int64)
    out = []
    for k in range(DEVICE_K):
        t = int(s[:, k % DEVICE_C].sum())
        v = (abs(t) // 64) * (1 if t >= 0 else -1) + k
        out.append(min(127, max(-128, v)))
    return np.array(out, np.int8)


def random_windows(n, rng):
    """int8 windows with no -128 (so none triggers the double's failure)."""
    return rng.integers(-127, 128, size=(n, DEVICE_W, DEVICE_C), dtype=np.int8)


def stream_expectations(stream: np.ndarray, base: int) -> dict:
    """stream (T, C) raw float32 -> {end index: expected outputs} for every window the device must infer."""
    from codegen.quantise import quantise_windows
    from unikd.data.normalise import Normaliser

    norm = Normaliser(DEVICE_MEAN, DEVICE_INV_STD)
    out = {}
    for end in range(DEVICE_W, len(stream) + 1, DEVICE_STRIDE):
        q = quantise_windows(stream[end - DEVICE_W : end].T[None], norm, float(DEVICE_SCALE), DEVICE_ZP)[0]
        out[base + end] = double_runtime(q)
    return out
