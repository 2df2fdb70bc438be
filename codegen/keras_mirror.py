"""A Keras copy of the torch CNN (unikd/models/cnn.py) that converts to a small, all-int8 TFLite graph.

Mapping, block by block (each one becomes CONV_2D [+PAD] + PAD + MAX_POOL_2D in TFLite):

- Conv1d(no bias) + BatchNorm1d -> one Conv2D of height 1 with the BatchNorm folded into its kernel and bias
  (s = gamma / sqrt(var + eps); W' = W * s per output channel; b' = beta - mean * s) and the ReLU fused.
  Conv2D(H=1) rather than Conv1D, because Conv1D converts with extra RESHAPE ops around every conv.
- Padding: torch pads p on both sides. Keras 'same' pads (k-1)//2 left and the rest right, which equals torch only
  when 2p == k - 1 (k=5, p=2). Otherwise (k=8, p=4: length grows by one) an explicit ZeroPadding then 'valid'.
- MaxPool1d(2, 2, padding=1) pads with -inf. It follows a ReLU, so every value is >= 0 and padding with zeros
  gives the same maximum: ZeroPadding(1) + MaxPool 'valid'. Checked here, refused for other pools.
- AdaptiveAvgPool1d(1) -> GlobalAveragePooling2D (TFLite MEAN); Linear -> Dense (kernel = weight.T).
- Dropout is the identity at inference and disappears.

Layout: the torch model takes (N, C, L); the mirror takes (N, 1, L, C), channels last and time-major, which is
how the device's ring buffer holds a window. `to_keras_layout` converts.

Every layer has a fixed name, so converting the same weights twice gives the same bytes.
"""

from __future__ import annotations

import numpy as np

from codegen.errors import ModelStructureError


def to_keras_layout(X: np.ndarray) -> np.ndarray:
    """(N, C, L) windows -> (N, 1, L, C) float32 (the mirror's and the TFLite model's input layout)."""
    X = np.asarray(X, np.float32)
    return np.ascontiguousarray(X.transpose(0, 2, 1)[:, None, :, :])


def _single(v) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


def fold_batchnorm(conv, bn) -> tuple[np.ndarray, np.ndarray]:
    """Fold an eval-mode BatchNorm1d into the Conv1d before it: returns (W' (out, in, k), b' (out,)), float32.

    Computed in float64 so the fold itself adds no rounding beyond the final cast."""
    w = conv.weight.detach().double().numpy()
    b = conv.bias.detach().double().numpy() if conv.bias is not None else np.zeros(w.shape[0])
    gamma = bn.weight.detach().double().numpy()
    beta = bn.bias.detach().double().numpy()
    mean = bn.running_mean.detach().double().numpy()
    var = bn.running_var.detach().double().numpy()
    s = gamma / np.sqrt(var + bn.eps)
    return (w * s[:, None, None]).astype(np.float32), ((b - mean) * s + beta).astype(np.float32)


def describe_blocks(net) -> list[dict]:
    """The conv blocks of a unikd Classifier as plain numbers (kernel, padding, folded weights), checked against
    what the mirror can reproduce exactly."""
    blocks = []
    for i, block in enumerate(net.backbone.blocks):
        conv, pool = block.conv, block.pool
        where = f"block {i + 1}"
        if _single(conv.stride) != 1 or _single(conv.dilation) != 1 or conv.groups != 1:
            raise ModelStructureError(f"{where}: only stride-1, undilated, ungrouped convolutions are mirrored")
        if (_single(pool.kernel_size), _single(pool.stride), _single(pool.padding)) != (2, 2, 1):
            raise ModelStructureError(
                f"{where}: the mirror reproduces MaxPool1d(2, 2, padding=1) only, got kernel "
                f"{pool.kernel_size}, stride {pool.stride}, padding {pool.padding}")
        if getattr(pool, "ceil_mode", False):
            raise ModelStructureError(f"{where}: MaxPool1d with ceil_mode is not mirrored")
        w, b = fold_batchnorm(conv, block.bn)
        blocks.append({"kernel": _single(conv.kernel_size), "padding": _single(conv.padding), "weight": w, "bias": b})
    return blocks


def build_keras_mirror(net, window: int, batch_size: int | None = None, name: str = "unikd_student"):
    """Keras model equal to `net` (a unikd Classifier, eval mode) for windows of `window` samples.

    Input (N, 1, window, C) float32; output (N, num_classes) logits. `batch_size=1` fixes the batch dimension,
    which the converter then writes as a static shape (what a microcontroller runs)."""
    import tensorflow as tf

    keras = tf.keras
    layers = keras.layers
    blocks = describe_blocks(net)
    in_ch = blocks[0]["weight"].shape[1]

    inp = keras.Input(shape=(1, window, in_ch), batch_size=batch_size, name="window")
    x = inp
    weights = []
    for i, blk in enumerate(blocks, start=1):
        k, p = blk["kernel"], blk["padding"]
        out_ch = blk["weight"].shape[0]
        if 2 * p == k - 1:
            padding = "same"
        else:
            x = layers.ZeroPadding2D(((0, 0), (p, p)), name=f"conv{i}_pad")(x)
            padding = "valid"
        conv = layers.Conv2D(out_ch, (1, k), padding=padding, activation="relu", name=f"conv{i}")
        x = conv(x)
        # torch (out, in, k) -> Keras (1, k, in, out)
        weights.append((conv, [blk["weight"].transpose(2, 1, 0)[None], blk["bias"]]))
        x = layers.ZeroPadding2D(((0, 0), (1, 1)), name=f"pool{i}_pad")(x)
        x = layers.MaxPooling2D((1, 2), strides=(1, 2), padding="valid", name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(name="global_average")(x)
    head = layers.Dense(net.head.out_features, name="logits")
    out = head(x)
    weights.append((head, [net.head.weight.detach().numpy().T.astype(np.float32),
                           net.head.bias.detach().numpy().astype(np.float32)]))

    model = keras.Model(inp, out, name=name)
    for layer, w in weights:
        layer.set_weights(w)
    return model
