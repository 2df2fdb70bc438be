"""torch -> Keras mirror -> int8 TFLite: the mirror equals torch in float on real windows, the conversion is
all-int8 with the expected graph, and converting twice gives the same bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from helpers import random_net

torch.set_num_threads(1)


@pytest.mark.parametrize("name, tol", [("cnn-student", 1e-5), ("cnn-teacher", 1e-5)])
def test_keras_mirror_equals_torch_float(scenario_2to11, name, tol):
    from codegen.keras_mirror import build_keras_mirror, to_keras_layout

    sd, norm = scenario_2to11
    net = random_net(name, seed=3)
    X = norm.apply(np.concatenate([sd.target_test.X[:48], sd.source_train.X[:16]]))
    with torch.no_grad():
        expected = net(torch.from_numpy(X)).numpy()
    got = build_keras_mirror(net, 128)(to_keras_layout(X)).numpy()
    assert got.shape == expected.shape == (64, 6)
    # the logits are far from zero: a wrong fold, padding or layout shows up as O(1e-1) differences
    assert np.abs(expected).max() > 0.05
    assert np.abs(got - expected).max() < tol


def test_batchnorm_fold_matches_eval_batchnorm():
    from codegen.keras_mirror import fold_batchnorm

    net = random_net(seed=5)
    block = net.backbone.blocks[1]
    x = torch.randn(4, block.conv.in_channels, 40, generator=torch.Generator().manual_seed(0))
    w, b = fold_batchnorm(block.conv, block.bn)
    with torch.no_grad():
        expected = block.bn(block.conv(x)).numpy()
        got = torch.nn.functional.conv1d(x, torch.from_numpy(w), torch.from_numpy(b), padding=4).numpy()
    assert np.abs(got - expected).max() < 1e-5


def test_mirror_refuses_pools_it_cannot_reproduce():
    from codegen.errors import ModelStructureError
    from codegen.keras_mirror import describe_blocks

    net = random_net()
    net.backbone.blocks[2].pool = torch.nn.MaxPool1d(kernel_size=3, stride=2, padding=1)
    with pytest.raises(ModelStructureError, match=r"block 3: the mirror reproduces MaxPool1d\(2, 2, padding=1\)"):
        describe_blocks(net)


def test_int8_model_graph_and_quantisation(student_tflite):
    from codegen.tflite_info import read_tflite

    model = student_tflite
    info = read_tflite(model)
    assert info.ops == ["CONV_2D", "PAD", "MAX_POOL_2D", "PAD", "CONV_2D", "PAD", "MAX_POOL_2D",
                        "PAD", "CONV_2D", "PAD", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED"]
    assert info.op_kinds == ["CONV_2D", "PAD", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED"]
    assert info.input_shape == [1, 1, 128, 9] and info.output_shape == [1, 6]
    assert 18_000 < len(model) < 24_000  # 13,366 int8 weights + int32 biases + flatbuffer structure
    assert -128 <= info.input_zero_point <= 127 and 0 < info.input_scale < 1


def test_weights_are_per_channel_int8(student_tflite):
    from tflite_micro.python.tflite_micro import runtime

    m = runtime.convert_bytearray_to_object(bytearray(student_tflite))
    g = m.subgraphs[0]
    conv_weights = [g.tensors[op.inputs[1]] for op in g.operators
                    if runtime.get_builtin_code_from_operator_code(m.operatorCodes[op.opcodeIndex]) == 3]  # CONV_2D
    assert [len(t.quantization.scale) for t in conv_weights] == [16, 32, 32]  # one scale per output channel
    assert all(t.type == 9 for t in conv_weights)  # INT8
    assert {g.tensors[i].type for op in g.operators for i in op.outputs} == {9}  # every activation int8


def test_conversion_is_deterministic(scenario_2to11, student_tflite):
    from codegen.convert import convert_student, representative_windows

    sd, norm = scenario_2to11
    again = convert_student(random_net(), representative_windows(sd, norm))
    first = student_tflite
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(first).hexdigest()


def test_representative_set_is_target_train_then_source_train_normalised(scenario_2to11):
    from codegen.convert import representative_windows

    sd, norm = scenario_2to11
    rep = representative_windows(sd, norm)
    n_t, n_s = len(sd.target_train), len(sd.source_train)
    assert rep.shape == (n_t + n_s, 1, 128, 9) and rep.dtype == np.float32
    np.testing.assert_array_equal(rep[0, 0], norm.apply(sd.target_train.X[:1])[0].T)
    np.testing.assert_array_equal(rep[n_t, 0], norm.apply(sd.source_train.X[:1])[0].T)
    # never the target test windows
    test_first = norm.apply(sd.target_test.X[:1])[0].T
    assert not any(np.array_equal(r[0], test_first) for r in rep)


def test_representative_set_under_per_domain_normalises_each_domain_with_its_own_constants(scenario_2to11):
    from codegen.convert import representative_windows
    from unikd.data.normalise import Normaliser

    sd, _ = scenario_2to11
    src, tgt = Normaliser.fit_domains(sd.source_train.X, sd.target_train.X, "per-domain")
    rep = representative_windows(sd, tgt, src)
    n_t = len(sd.target_train)
    np.testing.assert_array_equal(rep[0, 0], tgt.apply(sd.target_train.X[:1])[0].T)
    np.testing.assert_array_equal(rep[n_t, 0], src.apply(sd.source_train.X[:1])[0].T)
    # each half is standardised: per-channel mean ~0 and std ~1 over its own windows
    for part in (rep[:n_t, 0], rep[n_t:, 0]):
        assert np.allclose(part.mean(axis=(0, 1)), 0, atol=1e-3) and np.allclose(part.std(axis=(0, 1)), 1, atol=1e-3)
