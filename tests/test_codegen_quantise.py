"""codegen.quantise against a C program that applies firmware/README.md's rule literally (float32, lroundf,
-ffp-contract=off): bit-exact on real UCI-HAR windows and on values built to sit on rounding edges."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from codegen.quantise import dequantise, quantise_windows, round_half_away
from helpers import require_tools
from unikd.data.normalise import Normaliser

C_RULE = r"""
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
/* stdin: n c l, scale, zero point, mean[c], inv_std[c], then n*c*l raw float32 (N, C, L);
   stdout: n*l*c int8 (N, L, C) */
int main(void) {
    int n, c, l, zp;
    float scale;
    if (fread(&n, 4, 1, stdin) != 1 || fread(&c, 4, 1, stdin) != 1 || fread(&l, 4, 1, stdin) != 1) return 1;
    if (fread(&scale, 4, 1, stdin) != 1 || fread(&zp, 4, 1, stdin) != 1) return 1;
    float *mean = malloc(4 * (size_t)c), *inv = malloc(4 * (size_t)c), *x = malloc(4 * (size_t)n * c * l);
    int8_t *q = malloc((size_t)n * c * l);
    if (fread(mean, 4, (size_t)c, stdin) != (size_t)c || fread(inv, 4, (size_t)c, stdin) != (size_t)c) return 1;
    if (fread(x, 4, (size_t)n * c * l, stdin) != (size_t)n * c * l) return 1;
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch)
            for (int t = 0; t < l; ++t) {
                float v = (x[((size_t)i * c + ch) * l + t] - mean[ch]) * inv[ch];
                float s = v / scale;
                long r = (s > 1e6f) ? 1000000L : (s < -1e6f) ? -1000000L : lroundf(s);
                r += zp;
                q[((size_t)i * l + t) * c + ch] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
            }
    fwrite(q, 1, (size_t)n * c * l, stdout);
    return 0;
}
"""


@pytest.fixture(scope="module")
def c_rule(tmp_path_factory):
    require_tools("gcc")
    d = tmp_path_factory.mktemp("qrule")
    (d / "rule.c").write_text(C_RULE)
    subprocess.run(["gcc", "-O2", "-std=c99", "-ffp-contract=off", "-Wall", "-Werror", "-o", str(d / "rule"),
                    str(d / "rule.c"), "-lm"], check=True)

    def run(X, norm, scale, zp):
        X = np.ascontiguousarray(X, np.float32)
        n, c, l = X.shape
        payload = (np.array([n, c, l], np.int32).tobytes() + np.float32(scale).tobytes()
                   + np.int32(zp).tobytes() + norm.mean.astype(np.float32).tobytes()
                   + norm.inv_std.astype(np.float32).tobytes() + X.tobytes())
        out = subprocess.run([str(d / "rule")], input=payload, capture_output=True, check=True).stdout
        return np.frombuffer(out, np.int8).reshape(n, l, c)

    return run


def test_round_half_away_exact_on_edges():
    v = np.array([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, -0.49999997, 1.4999999, 2.5000002, 0.0, -0.0,
                  8388607.5, -8388607.5], np.float32)
    expected = [1, -1, 2, -2, 3, -3, 0, 0, 1, 3, 0, 0, 8388608, -8388608]
    assert round_half_away(v).tolist() == expected
    # the float32 floor(x + 0.5) shortcut gets 0.49999997 wrong; this is why the rule is implemented exactly
    assert np.floor(np.float32(0.49999997) + np.float32(0.5)) == 1.0


def test_bit_exact_with_c_rule_on_real_windows(c_rule, scenario_2to11):
    data, norm = scenario_2to11
    X = np.concatenate([data.target_test.X, data.source_train.X[:40]])
    for scale, zp in ((0.0725756660, -4), (0.03125, 5), (0.1, 0)):
        got = quantise_windows(X, norm, scale, zp)
        assert got.shape == (len(X), 128, 9) and got.dtype == np.int8
        np.testing.assert_array_equal(got, c_rule(X, norm, scale, zp))


def test_bit_exact_with_c_rule_on_rounding_edges_and_clamps(c_rule):
    # scale 0.25 and identity normalisation: x / 0.25 lands exactly on .5 for these x
    norm = Normaliser(np.zeros(3, np.float32), np.ones(3, np.float32), "none")
    edges = np.array([0.125, -0.125, 0.375, -0.375, 0.625, -0.625, 31.875, -32.125, 1e7, -1e7, 0.0, 40.0],
                     np.float32)
    rng = np.random.default_rng(7)
    X = np.stack([edges, -edges, rng.normal(0, 20, edges.size).astype(np.float32)])[None]
    got = quantise_windows(X, norm, 0.25, -1)
    np.testing.assert_array_equal(got, c_rule(X, norm, 0.25, -1))
    assert got[0, :, 0].tolist() == [0, -2, 1, -3, 2, -4, 127, -128, 127, -128, -1, 127]


def test_normalisation_is_float32_sub_then_mul(scenario_2to11):
    data, norm = scenario_2to11
    X = data.target_test.X[:5]
    q = quantise_windows(X, norm, 0.05, 3)
    n = ((X - norm.mean[None, :, None]) * norm.inv_std[None, :, None]).astype(np.float32)
    ref = np.clip(np.round(n.astype(np.float64) / np.float64(np.float32(0.05))) + 3, -128, 127)
    # float64 rounding differs only on exact float32 halves; on real windows the codes agree within one step
    assert np.abs(q.transpose(0, 2, 1).astype(int) - ref).max() <= 1


def test_nan_sample_becomes_lowest_code():
    norm = Normaliser(np.zeros(1, np.float32), np.ones(1, np.float32), "none")
    X = np.array([[[np.nan, 1.0]]], np.float32)
    assert quantise_windows(X, norm, 0.5, 0)[0, :, 0].tolist() == [-128, 2]


def test_dequantise_inverts_on_the_grid():
    q = np.arange(-128, 128, dtype=np.int8)
    x = dequantise(q, 0.0725756660, -4)
    assert x.dtype == np.float32
    norm = Normaliser(np.zeros(1, np.float32), np.ones(1, np.float32), "none")
    back = quantise_windows(x[None, None, :], norm, 0.0725756660, -4)[0, :, 0]
    np.testing.assert_array_equal(back, q)


def test_constants_given_as_float64_act_as_the_float32_values_the_device_holds(c_rule, scenario_2to11):
    # quantise_windows normalises through Normaliser.apply, so both must stay in float32 arithmetic even when a
    # normaliser was built from float64 arrays (float64 arithmetic rounds differently from the device)
    data, norm = scenario_2to11
    wide = Normaliser(norm.mean.astype(np.float64), norm.inv_std.astype(np.float64), norm.kind)
    X = data.target_test.X
    n = wide.apply(X)
    assert n.dtype == np.float32
    np.testing.assert_array_equal(n, norm.apply(X))
    np.testing.assert_array_equal(quantise_windows(X, wide, 0.03125, 5), c_rule(X, norm, 0.03125, 5))
