"""Make tests/golden/tiny_student.tflite, the model behind tests/test_generated_c_golden.py.

    python scripts/make_golden_tflite.py [--out tests/golden/tiny_student.tflite]

A randomly initialised cnn-student with four channels per block, for 16-sample windows of 3 channels and 4
classes, goes through the deploy path's own conversion (codegen.keras_mirror + codegen.convert, calibrated on
seeded random windows), so the file holds the student's ops: CONV_2D, PAD, MAX_POOL_2D, MEAN, FULLY_CONNECTED.
Two RESHAPEs are added around the head so the golden C also covers that lowering both ways: one inside the graph
(its output shares its input's storage) and one as the model output (a copy).

Needs torch and TensorFlow; the golden test itself needs neither. After regenerating, refresh the expected C with
`UNIKD_UPDATE_GOLDEN=1 python3 -m pytest tests/test_generated_c_golden.py` and review the diff.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

WINDOW, CHANNELS, CLASSES, WIDTHS, SEED = 16, 3, 4, (4, 4, 4), 0
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tests" / "golden" / "tiny_student.tflite"


def tiny_student() -> torch.nn.Module:
    """The student's architecture at a few hundred parameters, with BatchNorm statistics far from the defaults
    (so folding changes the weights)."""
    from unikd.models.cnn import Classifier, CNNBackbone

    torch.manual_seed(SEED)
    net = Classifier(CNNBackbone(CHANNELS, WIDTHS, kernel_size=5, dropout=0.5), WIDTHS[-1], CLASSES)
    g = torch.Generator().manual_seed(SEED + 1)
    for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)):
        mean, var, gamma, beta = torch.rand(4, bn.num_features, generator=g)
        bn.running_mean.copy_(mean - 0.5)
        bn.running_var.copy_(var + 0.5)
        bn.weight.data.copy_(gamma + 0.5)
        bn.bias.data.copy_(beta * 0.4 - 0.2)
    return net.eval()


def tiny_tflite() -> bytes:
    import tensorflow as tf

    from codegen.convert import keras_to_int8_tflite
    from codegen.keras_mirror import build_keras_mirror

    mirror = build_keras_mirror(tiny_student(), WINDOW, batch_size=1)
    layers = tf.keras.layers
    pooled = mirror.get_layer(f"pool{len(WIDTHS)}").output  # (1, 1, steps, channels)
    steps = int(pooled.shape[2])
    # the mirror's global average, taken over a (1, steps, channels) view instead: RESHAPE then MEAN
    x = layers.Reshape((steps, WIDTHS[-1]), name="time_major")(pooled)
    x = layers.GlobalAveragePooling1D(name="global_average_1d")(x)
    x = mirror.get_layer("logits")(x)
    out = layers.Reshape((1, CLASSES), name="logits_row")(x)
    model = tf.keras.Model(mirror.input, out, name="tiny_student")
    rep = np.random.default_rng(SEED).normal(size=(64, 1, WINDOW, CHANNELS)).astype(np.float32)
    return keras_to_int8_tflite(model, rep)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    model = tiny_tflite()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(model)

    from codegen.tflite_info import read_tflite

    print(f"{args.out}: {len(model):,} bytes, ops {', '.join(read_tflite(model).ops)}")


if __name__ == "__main__":
    main()
