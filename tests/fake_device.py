"""A device that needs no trained model: the portable core with fake model metadata and the TEST DOUBLE runtime
(tests/firmware/test_double_runtime.c, mirrored by double_runtime below). Shared by test_firmware_core.py (raw
bytes through stdin/stdout), test_protocol_client.py (the HIL client over a pipe) and test_aot.py (the metadata
layout); conftest.host_device builds it once per session. A plain module with a name of its own, so test files
can import it whichever conftest is loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]

W, C, STRIDE, K = 128, 9, 64, 6
SEED = 1234
_rng0 = np.random.default_rng(SEED)
# Channel 1 has mean 0, inv_std 1 and the scale is a power of two, so exact halves (ties) are easy to produce.
MEAN = np.r_[0.3, 0.0, _rng0.normal(0, 0.5, C - 2)].astype(np.float32)
INV_STD = np.r_[2.7, 1.0, _rng0.uniform(0.5, 4.0, C - 2)].astype(np.float32)
SCALE = np.float32(0.0625)
ZP = -3
CLASSES = ["walk", "upstairs", "downstairs", "sit", "stand", "lie"]
TEST_DOUBLE_RUNTIME = REPO_ROOT / "tests" / "firmware" / "test_double_runtime.c"


def fake_metadata(**changes):
    """Metadata of a model that does not exist (no .tflite is needed to test the core)."""
    from codegen.metadata import ModelMetadata

    fields = dict(
        model_sha256="ab" * 32, model_bytes=0, input_shape=[1, 1, W, C], output_shape=[1, K],
        input_scale=float(SCALE), input_zero_point=ZP, output_scale=0.125, output_zero_point=7,
        window=W, channels=C, stride=STRIDE, num_classes=K, class_names=CLASSES,
        channel_names=[f"ch{i}" for i in range(C)], sample_rate_hz=50.0, norm_kind="zscore",
        norm_mean=[float(v) for v in MEAN], norm_inv_std=[float(v) for v in INV_STD], runtime="aot",
        dataset="test", source=0, target=1, method="none")
    fields.update(changes)
    return ModelMetadata(**fields)


def build_fake_device(out: Path, board: str = "host", make_vars: dict | None = None, object_cache: Path | None = None,
                      core=None, **meta_changes) -> Path:
    """The whole core with the fake model's metadata (fake_metadata(**meta_changes)) and the test double runtime,
    built for `board` by its own Makefile (unikd_mcu.hil.images.build_image, the recipe of every image). core: the
    core's files as build_image takes a part (default firmware/core as it is; a test may break one on purpose)."""
    from codegen.carrays import model_meta_header
    from unikd_mcu.hil.images import build_image, core_sources

    return build_image(board, out, {"core": core if core is not None else core_sources(),
                                    "model": {"unikd_model_meta.h": model_meta_header(fake_metadata(**meta_changes))},
                                    "runtime": [TEST_DOUBLE_RUNTIME]}, make_vars=make_vars, object_cache=object_cache)


def double_runtime(window: np.ndarray) -> np.ndarray:
    """Python mirror of the test double runtime: window int8 (W, C) -> int8 (K,)."""
    s = window.astype(np.int64)
    out = []
    for k in range(K):
        t = int(s[:, k % C].sum())
        v = (abs(t) // 64) * (1 if t >= 0 else -1) + k
        out.append(min(127, max(-128, v)))
    return np.array(out, np.int8)


def random_windows(n, rng):
    """int8 windows with no -128 (so none triggers the double's failure)."""
    return rng.integers(-127, 128, size=(n, W, C), dtype=np.int8)


def stream_expectations(stream: np.ndarray, base: int) -> dict:
    """stream (T, C) raw float32 -> {end index: expected outputs} for every window the device must infer."""
    from codegen.quantise import quantise_windows
    from unikd.data.normalise import Normaliser

    norm = Normaliser(MEAN, INV_STD)
    out = {}
    for end in range(W, len(stream) + 1, STRIDE):
        q = quantise_windows(stream[end - W : end].T[None], norm, float(SCALE), ZP)[0]
        out[base + end] = double_runtime(q)
    return out
