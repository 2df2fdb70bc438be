"""Full-integer int8 TFLite from a torch student, through the Keras mirror.

int8 input and output, per-channel int8 weights, int32 biases, only TFLITE_BUILTINS_INT8 ops. The activation
ranges are calibrated on a representative set: the scenario's target-domain TRAIN windows (unlabelled; the domain
the model will run on) followed by the source-domain train windows, normalised by the run's Normaliser exactly as
the device normalises. Target TEST windows are never used, so the reported int8 accuracy is not tuned on itself.

Same weights + same representative set => same bytes: layer names are fixed and calibration is deterministic.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings

import numpy as np

from codegen.capture import capture_fd
from codegen.keras_mirror import build_keras_mirror, to_keras_layout


def representative_windows(data, normaliser, source_normaliser=None) -> np.ndarray:
    """Calibration windows for a scenario: target train then source train, each normalised as in training (the
    source with its own constants under per-domain normalisation), in the mirror's layout (N, 1, L, C) float32.
    `data` is a unikd.data.scenario.ScenarioData."""
    source = (source_normaliser or normaliser).apply(data.source_train.X)
    return to_keras_layout(np.concatenate([normaliser.apply(data.target_train.X), source]))


@contextlib.contextmanager
def _quiet_tensorflow():
    """TensorFlow prints a screenful while importing and converting (absl and C++ log lines on fd 2, saved-model
    endpoints and converter notes on fd 1); keep the user's terminal for our own progress lines. If conversion
    fails, what TensorFlow printed is shown with the error."""
    old = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    err: list[str] = []
    try:
        with capture_fd(2) as err, capture_fd(1), contextlib.redirect_stdout(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except BaseException:
        if err:
            sys.stderr.write(err[0][-5000:])
        raise
    finally:
        if old is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = old


def keras_to_int8_tflite(model, representative: np.ndarray, per_tensor_dense: bool = False) -> bytes:
    """Convert a Keras model to full-integer int8 TFLite, calibrating on `representative` (N, ...) float32, one
    window at a time. `per_tensor_dense` quantises Dense weights per tensor instead of per output channel (the
    converter's default; the deploy path keeps it, the aot tests use both)."""
    with _quiet_tensorflow():
        import tensorflow as tf

        rep = np.asarray(representative, np.float32)

        def samples():
            for i in range(rep.shape[0]):
                yield [rep[i:i + 1]]

        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        if per_tensor_dense:
            converter._experimental_disable_per_channel_quantization_for_dense_layers = True
        return bytes(converter.convert())


def convert_student(net, representative: np.ndarray) -> bytes:
    """torch student (eval mode) -> int8 TFLite bytes. `representative` is (N, 1, L, C) float32, normalised."""
    window = int(representative.shape[2])
    with _quiet_tensorflow():
        mirror = build_keras_mirror(net.eval(), window, batch_size=1)
    return keras_to_int8_tflite(mirror, representative)
