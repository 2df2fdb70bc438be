"""aot runtime pieces on hand-made inputs: TFLM's generation-time arithmetic, the memory planner, the C
fixed-point primitives at their edges, the flatbuffer reader's errors, and a light package import."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codegen.aot import planner, quant
from codegen.aot.generator import KERNEL_DIR
from unikd.errors import UserError


# ---------------------------------------------------------------- generation-time arithmetic

@pytest.mark.parametrize("real, expected", [
    (0.5, (1 << 30, 0)),
    (1.0, (1 << 30, 1)),
    (0.75, (3 << 29, 0)),
    (0.0, (0, 0)),
    (2.0**-40, (0, 0)),  # shift below -31 flushes to zero
    (1.0 - 2.0**-40, (1 << 30, 1)),  # mantissa rounds up to 2^31: halved, shift + 1
    (3.0 * 2.0**-33, (3 << 29, -32 + 1)),
])
def test_quantize_multiplier(real, expected):
    assert quant.quantize_multiplier(real) == expected


def test_quantize_multiplier_reconstructs_the_real_value():
    rng = np.random.default_rng(7)
    for real in rng.uniform(1e-6, 4.0, 200):
        q, shift = quant.quantize_multiplier(float(real))
        assert 2**30 <= q < 2**31
        assert abs(q * 2.0 ** (shift - 31) - real) <= real * 2.0**-30


def test_round_half_away_from_zero():
    assert [quant.round_half_away(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5, 2.4999999)] == [1, 2, 3, -1, -3, 2]


def test_activation_range():
    assert quant.activation_range(quant.ACT_NONE, 0.1, 5) == (-128, 127)
    assert quant.activation_range(quant.ACT_RELU, 0.1, -20) == (-20, 127)
    assert quant.activation_range(quant.ACT_RELU6, 0.05, -128) == (-128, -8)  # 6 / 0.05 = 120
    assert quant.activation_range(quant.ACT_RELU6, 0.01, -128) == (-128, 127)  # clamped to int8
    with pytest.raises(ValueError):
        quant.activation_range(4, 0.1, 0)  # TANH is not a clamp


def test_mean_multiplier_folds_the_element_count():
    m, s = quant.mean_multiplier(0.02, 0.01, 18)  # x2 then /18: 16 = 2^4 folded into the shift
    q, shift = quant.quantize_multiplier(2.0)
    assert (m, s) == ((q << 4) // 18, shift - 4)
    assert abs(m * 2.0 ** (s - 31) - 2.0 / 18) < 1e-8


def test_softmax_params():
    mult, left_shift, diff_min = quant.softmax_params(1.0, 1.0 / 16)
    assert (mult, left_shift) == quant.quantize_multiplier(2.0**22)
    assert diff_min == -((31 << 26) >> left_shift)
    with pytest.raises(ValueError):
        quant.quantize_multiplier_greater_than_one(0.5)


def test_padding():
    # SAME, kernel 8, stride 1: 7 pixels of padding, 3 before and 4 after (TFLM puts the odd one after)
    assert quant.padding_with_offset(1, 1, 128, 8, quant.out_size(True, 128, 8, 1)) == 3
    assert quant.out_size(False, 73, 8, 1) == 66
    assert quant.out_size(True, 128, 6, 2) == 64
    assert quant.padding_with_offset(2, 1, 128, 6, 64) == 2
    assert quant.padding_with_offset(1, 3, 64, 3, 64) == 3  # dilation 3: effective kernel 7


# ---------------------------------------------------------------- memory planner

def test_planner_reuses_memory_of_dead_buffers():
    chain = [planner.Buffer(i, size, i, i + 1) for i, size in enumerate([1000, 800, 600, 400])]
    arena = planner.plan(chain)
    planner.check(chain)
    assert arena == 1800  # at most two neighbours alive at once: 1000 + 800
    assert sum(b.size for b in chain) == 2800


def test_planner_keeps_long_lived_buffers_apart():
    bufs = [planner.Buffer(0, 100, 0, 5), planner.Buffer(1, 100, 1, 2), planner.Buffer(2, 100, 3, 4),
            planner.Buffer(3, 10, 2, 3)]
    arena = planner.plan(bufs)
    planner.check(bufs)
    assert arena == 210  # 100 + 100 + 10: the small buffer starts at a 4-byte boundary
    assert all(b.offset % planner.ALIGNMENT == 0 for b in bufs)


def test_planner_check_detects_overlap():
    bufs = [planner.Buffer(0, 8, 0, 1, offset=0), planner.Buffer(1, 8, 1, 2, offset=4)]
    with pytest.raises(AssertionError):
        planner.check(bufs)


# ---------------------------------------------------------------- C fixed-point primitives

def _srdhm(a: int, b: int) -> int:
    if a == b == -(2**31):
        return 2**31 - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    v = ab + nudge
    return int(abs(v) // (1 << 31)) * (1 if v >= 0 else -1)  # C division truncates toward zero


def _rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


def _mbqm(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    x = ((x << left) + 2**31) % 2**32 - 2**31  # the C code wraps like TFLM's int32 multiply
    return _rdbpot(_srdhm(x, m), right)


def test_c_multiply_by_quantized_multiplier_matches_gemmlowp_semantics(tmp_path):
    """The C primitive against a direct transcription of its definition, on edge and random values."""
    rng = np.random.default_rng(3)
    xs = [0, 1, -1, 2**31 - 1, -(2**31), 12345, -12345, 1 << 20, -(1 << 20)] + \
        [int(v) for v in rng.integers(-(2**31), 2**31, 40)]
    cases = []
    for x in xs:
        for m, s in ((1 << 30, 0), (2**31 - 1, -31), (1 << 30, 1), (1518500250, -7), (1073741825, 3),
                     (int(rng.integers(1 << 30, 2**31)), int(rng.integers(-31, 1)))):
            cases.append((x, m, s))
    table = ",\n".join(f"{{{x if x != -(2**31) else 'INT32_MIN'}, {m}, {s}}}" for x, m, s in cases)
    (tmp_path / "t.c").write_text(f"""#include <stdio.h>
#include "unikd_aot_kernels.h"
static const int32_t cases[][3] = {{{table}}};
int main(void) {{
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {{
        printf("%ld\\n", (long)unikd_aot_multiply_by_quantized_multiplier(cases[i][0], cases[i][1], cases[i][2]));
    }}
    return 0;
}}
""")
    exe = tmp_path / "t"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-fsanitize=undefined",
                    "-fno-sanitize-recover", "-I", str(KERNEL_DIR), str(tmp_path / "t.c"),
                    str(KERNEL_DIR / "unikd_aot_kernels.c"), "-o", str(exe)], check=True)
    got = [int(v) for v in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()]
    assert got == [_mbqm(x, m, s) for x, m, s in cases]


# ---------------------------------------------------------------- reader and package

def test_reader_rejects_bytes_that_are_not_tflite():
    from codegen.aot.tflite_reader import read_model
    with pytest.raises(UserError, match="TFL3"):
        read_model(b"\x00" * 64)


def test_importing_the_package_loads_neither_tensorflow_nor_tflite_micro():
    code = ("import sys, codegen.aot; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tflite_micro', 'torch')]; "
            "assert not bad, bad; print(len(codegen.aot.SUPPORTED_OPS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) >= 8


# ---------------------------------------------------------------- the lowering table

def test_supported_ops_are_the_lowering_tables_keys():
    from codegen.aot import SUPPORTED_OPS
    from codegen.aot.generator import LOWERINGS

    assert SUPPORTED_OPS == tuple(sorted(LOWERINGS))
    assert "RESHAPE" in SUPPORTED_OPS and LOWERINGS["RESHAPE"].aliases_input


@pytest.mark.parametrize("op", ["MEAN", "RESHAPE"])
def test_an_op_without_a_lowering_is_refused_by_name(op, monkeypatch, tmp_path):
    """The table alone decides what is supported: take an op's entry out and the committed golden model (which
    uses it) is refused, naming it, before any file is written."""
    from codegen.aot import UnsupportedOpError, generate
    from codegen.aot import generator

    model = (Path(__file__).resolve().parent / "golden" / "tiny_student.tflite").read_bytes()
    monkeypatch.delitem(generator.LOWERINGS, op)
    with pytest.raises(UnsupportedOpError, match=f"does not support operator\\(s\\) {op}; supported: ") as e:
        generate(model, tmp_path / "out")
    assert e.value.ops == [op] and op not in str(e.value).split("supported: ")[1]
    assert not (tmp_path / "out").exists()
