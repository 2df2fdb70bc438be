"""The host side of hardware in the loop reads the deployed model's metadata as a typed ModelMetadata: the model
check compares its fields with the device's hello, quantisation takes its constants, and window mode scores the
first windows asked for without shrinking the deployed data (the device itself: hil_tests/)."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest

from codegen.errors import DeployError
from codegen.metadata import ModelMetadata
from codegen.quantise import quantise_windows
from unikd_mcu.hil import protocol as P
from unikd_mcu.hil.client import HilClient, hello_mismatches
from unikd_mcu.hil.report import Deployed, window_mode


def _hello(meta: ModelMetadata, **changes):
    fields = dict(model_hash=meta.model_sha256, window=meta.window, channels=meta.channels, stride=meta.stride,
                  num_classes=meta.num_classes, input_scale=meta.input_scale, input_zero_point=meta.input_zero_point,
                  output_scale=meta.output_scale, output_zero_point=meta.output_zero_point,
                  class_names=list(meta.class_names), runtime=meta.runtime, protocol_version=P.PROTOCOL_VERSION)
    return types.SimpleNamespace(**(fields | changes))


def test_hello_is_checked_field_by_field_against_the_metadata(student_metadata):
    meta = student_metadata()
    assert hello_mismatches(_hello(meta), meta) == []
    # the device's scale is a float32: one float32 step off is a different model, float64 noise below it is not
    off = float(np.nextafter(np.float32(meta.input_scale), np.float32(1)))
    assert hello_mismatches(_hello(meta, input_scale=meta.input_scale + 1e-12), meta) == []
    diff = hello_mismatches(_hello(meta, input_scale=off, class_names=meta.class_names[::-1]), meta)
    assert [d.split(":")[0] for d in diff] == ["input_scale", "class_names"]


def test_client_takes_metadata_as_typed_fields(student_metadata):
    meta = student_metadata()
    assert HilClient(None, metadata=meta).metadata is meta
    assert HilClient(None, metadata=meta.to_dict()).metadata == meta  # metadata.json as read: checked once, here
    broken = meta.to_dict()
    del broken["stride"]
    with pytest.raises(DeployError, match="missing key\\(s\\) stride"):
        HilClient(None, metadata=broken)


class GoldenDevice:
    """TEST DOUBLE of a device: answers every window with the golden interpreter's outputs (window_mode's
    bookkeeping is under test here, not a device)."""

    hello = types.SimpleNamespace(ticks_scale=40, timer_label="instructions (QEMU)")

    def __init__(self, dep):
        self.dep = dep

    def infer_windows(self, q, progress=None):
        out = self.dep.golden(q)
        return [types.SimpleNamespace(outputs=o.tobytes(), predicted=int(o.argmax()), status=0, ticks=100)
                for o in out]


@pytest.fixture
def deployed(tmp_path, scenario_2to11, student_tflite, student_metadata):
    d = scenario_2to11[0]
    data = dataclasses.replace(d, target_test=dataclasses.replace(d.target_test))  # shrinking it would not leak
    return Deployed(tmp_path, student_metadata(), student_tflite, run=None, data=data)


def test_quantise_uses_the_metadatas_constants(deployed, scenario_2to11):
    meta = deployed.metadata
    X = scenario_2to11[0].target_test.X[:4]
    np.testing.assert_array_equal(deployed.quantise(X), quantise_windows(X, scenario_2to11[1], meta.input_scale,
                                                                          meta.input_zero_point))


def test_window_mode_on_the_first_windows_leaves_the_data_whole(deployed):
    part = deployed.data.target_test
    n, first_label = len(part), part.y[0]
    w = window_mode(GoldenDevice(deployed), deployed, max_windows=7)
    assert w["windows"] == w["identical_outputs"] == w["same_prediction"] == 7
    assert np.asarray(w["confusion_matrix"]).sum() == 7 and w["inference"]["median"] == 4000
    assert len(deployed.data.target_test) == len(deployed.data.target_test.y) == n and part.y[0] == first_label
    assert window_mode(GoldenDevice(deployed), deployed)["windows"] == n
