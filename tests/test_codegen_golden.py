"""The golden runtime (TFLM's interpreter from the tflite-micro wheel) and the arena measurement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codegen.golden import ARENA_MARGIN_MIN_BYTES, GoldenModel, measure_arena
from codegen.quantise import dequantise, quantise_windows
from codegen.tflite_info import read_tflite
from helpers import random_net

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model(student_tflite):
    return student_tflite


def test_batch_run_equals_one_interpreter_per_window(model, scenario_2to11):
    data, norm = scenario_2to11
    info = read_tflite(model)
    q = quantise_windows(data.target_test.X[:12], norm, info.input_scale, info.input_zero_point)
    batch = GoldenModel(model).run(q)
    assert batch.shape == (12, 6) and batch.dtype == np.int8
    for i in (0, 5, 11):  # a fresh interpreter per window: no state carried between windows
        np.testing.assert_array_equal(GoldenModel(model).run(q[i:i + 1])[0], batch[i])


def test_int8_outputs_track_float_logits(model, scenario_2to11):
    data, norm = scenario_2to11
    info = read_tflite(model)
    X = data.target_test.X
    out = dequantise(GoldenModel(model).run(quantise_windows(X, norm, info.input_scale, info.input_zero_point)),
                     info.output_scale, info.output_zero_point)
    with torch.no_grad():
        ref = random_net()(torch.from_numpy(norm.apply(X))).numpy()
    err = np.abs(out - ref)
    # int8 through three conv layers: a handful of output steps at most, and far below the logits' spread
    assert err.max() < 8 * info.output_scale
    assert err.max() < 0.1 * (ref.max() - ref.min())


def test_refuses_float_windows(model):
    with pytest.raises(TypeError, match="int8 windows"):
        GoldenModel(model).run(np.zeros((1, 128, 9), np.float32))


def test_arena_measure_is_tight_and_recommended_has_margin(model):
    m = measure_arena(model)
    assert m.head_bytes + m.tail_bytes == m.recorded_bytes
    assert 4_000 < m.recorded_bytes < 16_000
    # the bisection found a working size, 16 bytes less fails
    assert abs(m.smallest_working_bytes - m.recorded_bytes) <= 64
    probe = np.zeros((1, 128, 9), np.int8)
    GoldenModel(model, arena_size=m.smallest_working_bytes).run(probe)
    with pytest.raises(RuntimeError):
        GoldenModel(model, arena_size=m.smallest_working_bytes - 16).run(probe)
    assert m.recommended_bytes % 16 == 0
    assert m.recommended_bytes - max(m.recorded_bytes, m.smallest_working_bytes) >= ARENA_MARGIN_MIN_BYTES
