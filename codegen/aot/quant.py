"""TFLM's generation-time quantisation arithmetic, reproduced in Python (double precision, like TFLM's Prepare).

Every constant the generated C uses (fixed-point multipliers and shifts, activation ranges, softmax scaling) is
computed here once, with the same operations in the same order and the same float32/double conversions as TFLM's
kernels do when the interpreter prepares a model. The C code then only does integer arithmetic."""
from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
INT32_MAX = 2**31 - 1

# Fused activation codes of the TFLite schema.
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def round_half_away(x: float) -> int:
    """std::round on a double or float: nearest integer, halves away from zero (exact, no +0.5 error)."""
    r = math.floor(abs(x))
    if abs(x) - r >= 0.5:
        r += 1
    return int(r if x >= 0 else -r)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = q * 2^(shift - 31) with q in [2^30, 2^31); tiny values flush to (0, 0)."""
    if real == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real)
    q = round_half_away(mantissa * 2.0**31)
    if q > 2**31:
        raise ValueError(f"multiplier {real!r} does not fit")
    if q == 2**31:
        q //= 2
        shift += 1
    if shift < -31:
        q, shift = 0, 0
    return q, shift


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    if not real > 1.0:
        raise ValueError(f"multiplier {real!r} must be greater than one")
    q, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError(f"multiplier {real!r} gave a negative left shift")
    return q, shift


def activation_range(activation: int, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8: quantise the bounds in float32, clamp to the int8 range."""
    def quantize(f: float) -> int:
        q = np.float32(f) / np.float32(scale)  # float32 division, as TFLM does
        return zero_point + round_half_away(float(q))

    if activation == ACT_RELU:
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation == ACT_RELU6:
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if activation == ACT_RELU_N1_TO_1:
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    if activation == ACT_NONE:
        return INT8_MIN, INT8_MAX
    raise ValueError(f"fused activation {ACTIVATION_NAMES.get(activation, activation)} is not supported")


def per_channel_multipliers(input_scale: float, filter_scales, output_scale: float, channels: int):
    """Conv (and per-channel fully connected): double(in) * double(filter[c]) / double(out) per channel."""
    scales = np.asarray(filter_scales, dtype=np.float32)
    out = []
    for c in range(channels):
        s = float(scales[c] if len(scales) > 1 else scales[0])
        out.append(quantize_multiplier(float(np.float32(input_scale)) * s / float(np.float32(output_scale))))
    return out


def fully_connected_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """Per-tensor fully connected: the input x filter product is taken in float32 before the double division."""
    product = np.float32(input_scale) * np.float32(filter_scale)
    return quantize_multiplier(float(product) / float(np.float32(output_scale)))


def mean_multiplier(input_scale: float, output_scale: float, num_elements: int) -> tuple[int, int]:
    """MEAN with requantisation: input/output scale, then 1/num_elements folded into the multiplier and shift
    exactly as TFLM's QuantizedMeanOrSum does at run time (integer shift of the multiplier, truncating divide)."""
    multiplier, shift = quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))
    s = num_elements.bit_length() - 1  # 63 - clz64(n)
    s = min(s, 32)
    s = min(s, 31 + shift)
    adjusted = (multiplier << s) // num_elements  # both non-negative: truncation == floor
    return int(np.int32(np.int64(adjusted))), shift - s


SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling and CalculateInputRadius for int8 softmax: (multiplier, left_shift, diff_min)."""
    bits = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * float(1 << (31 - bits)), (1 << 31) - 1.0)
    multiplier, left_shift = quantize_multiplier_greater_than_one(real)
    radius = math.floor(1.0 * ((1 << bits) - 1) * (1 << (31 - bits)) / (1 << left_shift))
    return multiplier, left_shift, -int(radius)


def padding_with_offset(stride: int, dilation: int, in_size: int, filter_size: int, out_size: int) -> int:
    """Padding before the first element (TFLM's ComputePaddingWithOffset; the odd pixel goes after)."""
    effective = (filter_size - 1) * dilation + 1
    total = max((out_size - 1) * stride + effective - in_size, 0)
    return total // 2


def out_size(padding_same: bool, in_size: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    effective = (filter_size - 1) * dilation + 1
    if padding_same:
        return (in_size + stride - 1) // stride
    return (in_size + stride - effective) // stride
