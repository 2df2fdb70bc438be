/* unikd aot runtime: int8 kernels, bit-exact with TFLM's reference integer kernels.
 *
 * The arithmetic follows TFLM (TFLITE_SINGLE_ROUNDING off) and gemmlowp's fixed-point conventions:
 * int32 accumulation of (input + input_offset) * weight, plus bias, scaled by a Q31 multiplier and a
 * power-of-two shift (saturating rounding doubling high multiply, then rounding divide by a power of two),
 * plus the output zero point, clamped to the activation range.
 * Assumes two's complement and an arithmetic right shift of negative values (GCC, Clang, Arm and Xtensa
 * compilers all do this), as TFLM itself does. */
#include "unikd_aot_kernels.h"

#include <string.h>

static int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Wrapping left shift without signed-overflow undefined behaviour (TFLM wraps in practice). */
static int32_t shift_left_wrap(int32_t x, int32_t s) {
    return (int32_t)((uint32_t)x << s);
}

/* (a * b * 2) / 2^32 rounded to nearest, -1 * -1 saturated to the largest value (ARM VQRDMULH). */
static int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
    int64_t ab;
    int64_t nudge;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C99 division truncates toward zero */
}

/* x / 2^exponent rounded to nearest, ties away from zero. */
static int32_t rounding_divide_by_pot(int32_t x, int32_t exponent) {
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t unikd_aot_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift) {
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(shift_left_wrap(x, left_shift), multiplier), right_shift);
}

/* Dot products of two filter rows w0, w1 with the same n int8 inputs x, added to *acc0 and *acc1: nearly all of
 * the work. Two output channels share each input load. Integer sums do not depend on their order, so both
 * versions give TFLM's result exactly. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP == 1
#include <arm_acle.h>

/* Cortex-M4/M7/M33 with the DSP extension: four bytes per load, two 16x16 multiply-accumulates per SMLAD
 * (SXTB16 sign-extends bytes 0 and 2, or 1 and 3 after a rotation by 8). */
static int32_t load4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v); /* unaligned word load, well defined in C */
    return v;
}

static int32_t rotate8(int32_t v) {
    return (int32_t)(((uint32_t)v >> 8) | ((uint32_t)v << 24));
}

static void dot2(const int8_t *w0, const int8_t *w1, const int8_t *x, int32_t n, int32_t *acc0, int32_t *acc1) {
    int32_t a0 = 0;
    int32_t a1 = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int32_t xv = load4(x + i);
        const int32_t x_even = __sxtb16(xv);
        const int32_t x_odd = __sxtb16(rotate8(xv));
        const int32_t w0v = load4(w0 + i);
        const int32_t w1v = load4(w1 + i);
        a0 = __smlad(__sxtb16(w0v), x_even, a0);
        a0 = __smlad(__sxtb16(rotate8(w0v)), x_odd, a0);
        a1 = __smlad(__sxtb16(w1v), x_even, a1);
        a1 = __smlad(__sxtb16(rotate8(w1v)), x_odd, a1);
    }
    for (; i < n; ++i) {
        a0 += (int32_t)w0[i] * x[i];
        a1 += (int32_t)w1[i] * x[i];
    }
    *acc0 += a0;
    *acc1 += a1;
}
#else
/* Portable C, unrolled by two. */
static void dot2(const int8_t *w0, const int8_t *w1, const int8_t *x, int32_t n, int32_t *acc0, int32_t *acc1) {
    int32_t a0 = 0;
    int32_t a1 = 0;
    int32_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const int32_t x0 = x[i];
        const int32_t x1 = x[i + 1];
        a0 += w0[i] * x0 + w0[i + 1] * x1;
        a1 += w1[i] * x0 + w1[i + 1] * x1;
    }
    if (i < n) {
        a0 += w0[i] * x[i];
        a1 += w1[i] * x[i];
    }
    *acc0 += a0;
    *acc1 += a1;
}
#endif

static int32_t sum(const int8_t *w, int32_t n) {
    int32_t s = 0;
    int32_t i;
    for (i = 0; i < n; ++i) {
        s += w[i];
    }
    return s;
}

/* First and one-past-last tap k with 0 <= origin + dilation * k < size. */
static void valid_taps(int32_t origin, int32_t dilation, int32_t size, int32_t taps, int32_t *first, int32_t *end) {
    const int32_t lo = origin < 0 ? (-origin + dilation - 1) / dilation : 0;
    const int32_t hi = size - origin <= 0 ? 0 : (size - origin - 1) / dilation + 1;
    *first = lo;
    *end = hi < taps ? hi : taps;
}

/* TFLM sums w * (x + input_offset) over the taps inside the image, plus the bias. The same integer is computed
 * as sum(w * x) + bias + input_offset * sum(w): window_bias holds bias + input_offset * sum(w) over the whole
 * filter (computed at generation time), so a window with every tap inside costs one dot product; a window
 * that overhangs the image adds bias + input_offset * sum(w) over its inside taps only. With dilation 1 a row
 * of taps is one contiguous run of k * in_c values in both the input and the filter. Output channels go in
 * pairs (an odd last channel is computed twice and written once). */
void unikd_aot_conv2d(const unikd_aot_conv_params *p, const int8_t *input, const int8_t *filter,
                      const int32_t *bias, const int32_t *window_bias, const int32_t *multipliers,
                      const int32_t *shifts, int8_t *output) {
    int32_t b, oy, ox, oc, ky, kx, j;
    const int32_t filter_row = p->k_w * p->in_c;
    const int32_t filter_size = p->k_h * filter_row;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            int32_t ky_first, ky_end;
            valid_taps(y0, p->dil_h, p->in_h, p->k_h, &ky_first, &ky_end);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                int32_t kx_first, kx_end, whole;
                valid_taps(x0, p->dil_w, p->in_w, p->k_w, &kx_first, &kx_end);
                whole = ky_first == 0 && ky_end == p->k_h && kx_first == 0 && kx_end == p->k_w;
                for (oc = 0; oc < p->out_c; oc += 2) {
                    const int32_t count = p->out_c - oc >= 2 ? 2 : 1;
                    const int8_t *f[2];
                    int32_t acc[2] = {0, 0};
                    int32_t wsum[2] = {0, 0};
                    f[0] = filter + (size_t)oc * filter_size;
                    f[1] = count == 2 ? f[0] + filter_size : f[0];
                    for (ky = ky_first; ky < ky_end; ++ky) {
                        const int8_t *in_row = in_batch + (size_t)(y0 + p->dil_h * ky) * p->in_w * p->in_c;
                        const int32_t run = p->dil_w == 1 ? (kx_end - kx_first) * p->in_c : p->in_c;
                        for (kx = kx_first; kx < kx_end; kx += p->dil_w == 1 ? p->k_w : 1) {
                            const int32_t f_off = ky * filter_row + kx * p->in_c;
                            const int8_t *x = in_row + (size_t)(x0 + p->dil_w * kx) * p->in_c;
                            dot2(f[0] + f_off, f[1] + f_off, x, run, &acc[0], &acc[1]);
                            if (!whole) {
                                wsum[0] += sum(f[0] + f_off, run);
                                wsum[1] += sum(f[1] + f_off, run);
                            }
                        }
                    }
                    for (j = 0; j < count; ++j) {
                        int32_t v = acc[j];
                        if (whole) {
                            v += window_bias[oc + j];
                        } else {
                            v += p->input_offset * wsum[j] + (bias != NULL ? bias[oc + j] : 0);
                        }
                        v = unikd_aot_multiply_by_quantized_multiplier(v, multipliers[oc + j], shifts[oc + j]);
                        v += p->output_offset;
                        *output++ = (int8_t)clamp_i32(v, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

void unikd_aot_fully_connected(const unikd_aot_fc_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, const int32_t *multipliers, const int32_t *shifts,
                               int8_t *output) {
    int32_t b, o, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in = input + (size_t)b * p->in_depth;
        for (o = 0; o < p->out_depth; ++o) {
            const int8_t *f = filter + (size_t)o * p->in_depth;
            int32_t acc = 0;
            for (d = 0; d < p->in_depth; ++d) {
                acc += ((int32_t)f[d] + p->filter_offset) * ((int32_t)in[d] + p->input_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            acc = unikd_aot_multiply_by_quantized_multiplier(acc, multipliers[o], shifts[o]);
            acc += p->output_offset;
            output[(size_t)b * p->out_depth + o] = (int8_t)clamp_i32(acc, p->act_min, p->act_max);
        }
    }
}

/* Pooling window clipped to the image, as TFLM's reference pooling does (padding never enters the window). */
static void pool(const unikd_aot_pool_params *p, const int8_t *input, int8_t *output, int average) {
    int32_t b, oy, ox, c, fy, fx;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t fy_start = y0 < 0 ? -y0 : 0;
            const int32_t fy_end = p->f_h < p->in_h - y0 ? p->f_h : p->in_h - y0;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t fx_start = x0 < 0 ? -x0 : 0;
                const int32_t fx_end = p->f_w < p->in_w - x0 ? p->f_w : p->in_w - x0;
                for (c = 0; c < p->channels; ++c) {
                    int32_t acc = average ? 0 : -128;
                    int32_t count = 0;
                    for (fy = fy_start; fy < fy_end; ++fy) {
                        for (fx = fx_start; fx < fx_end; ++fx) {
                            const int32_t v =
                                in_batch[((size_t)(y0 + fy) * p->in_w + (x0 + fx)) * p->channels + c];
                            if (average) {
                                acc += v;
                            } else if (v > acc) {
                                acc = v;
                            }
                            ++count;
                        }
                    }
                    if (average && count > 0) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    *output++ = (int8_t)clamp_i32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void unikd_aot_max_pool(const unikd_aot_pool_params *p, const int8_t *input, int8_t *output) {
    pool(p, input, output, 0);
}

void unikd_aot_average_pool(const unikd_aot_pool_params *p, const int8_t *input, int8_t *output) {
    pool(p, input, output, 1);
}

void unikd_aot_mean(const unikd_aot_mean_params *p, const int8_t *input, int8_t *output) {
    int32_t o, r, i;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->inner; ++i) {
            const int8_t *in = input + (size_t)o * p->reduced * p->inner + i;
            int32_t sum = 0;
            int32_t v;
            for (r = 0; r < p->reduced; ++r) {
                sum += in[(size_t)r * p->inner];
            }
            v = unikd_aot_multiply_by_quantized_multiplier(sum - p->input_zero_point * p->reduced, p->multiplier,
                                                           p->shift);
            output[(size_t)o * p->inner + i] = (int8_t)clamp_i32(v + p->output_zero_point, -128, 127);
        }
    }
}

void unikd_aot_pad(const unikd_aot_pad_params *p, const int8_t *input, int8_t *output) {
    const int32_t out1 = p->before[1] + p->in_dims[1] + p->after[1];
    const int32_t out2 = p->before[2] + p->in_dims[2] + p->after[2];
    const int32_t out3 = p->before[3] + p->in_dims[3] + p->after[3];
    const int32_t out0 = p->before[0] + p->in_dims[0] + p->after[0];
    const int8_t value = (int8_t)p->pad_value;
    int32_t i0, i1, i2;
    for (i0 = 0; i0 < out0; ++i0) {
        const int32_t s0 = i0 - p->before[0];
        for (i1 = 0; i1 < out1; ++i1) {
            const int32_t s1 = i1 - p->before[1];
            for (i2 = 0; i2 < out2; ++i2) {
                const int32_t s2 = i2 - p->before[2];
                if (s0 < 0 || s0 >= p->in_dims[0] || s1 < 0 || s1 >= p->in_dims[1] || s2 < 0 ||
                    s2 >= p->in_dims[2]) {
                    memset(output, value, (size_t)out3);
                } else {
                    const int8_t *row =
                        input + (((size_t)s0 * p->in_dims[1] + s1) * p->in_dims[2] + s2) * p->in_dims[3];
                    memset(output, value, (size_t)p->before[3]);
                    memcpy(output + p->before[3], row, (size_t)p->in_dims[3]);
                    memset(output + p->before[3] + p->in_dims[3], value, (size_t)p->after[3]);
                }
                output += out3;
            }
        }
    }
}

/* ---- int8 softmax: gemmlowp fixed point, as in TFLM's reference quantized softmax ---- */

/* Saturating multiply by 2^exponent (exponent > 0). */
static int32_t saturating_shift_left(int32_t x, int32_t exponent) {
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return shift_left_wrap(x, exponent);
}

static int32_t rounding_half_sum(int32_t a, int32_t b) {
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(a) for a in [-1/4, 0), input and result Q0.31. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t one_third = 715827883;
    const int32_t x = a + (1 << 28); /* Taylor expansion around -1/8 */
    const int32_t x2 = saturating_rounding_doubling_high_mul(x, x);
    const int32_t x3 = saturating_rounding_doubling_high_mul(x2, x);
    const int32_t x4 = saturating_rounding_doubling_high_mul(x2, x2);
    const int32_t x4_over_4 = rounding_divide_by_pot(x4, 2);
    const int32_t poly = rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x4_over_4 + x3, one_third) + x2, 1);
    return constant_term + saturating_rounding_doubling_high_mul(constant_term, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26; result Q0.31. */
static int32_t exp_on_negative_values_q5(int32_t a) {
    static const int32_t multipliers[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1) */
        290630308,  /* exp(-2) */
        39332535,   /* exp(-4) */
        720401,     /* exp(-8) */
        242         /* exp(-16) */
    };
    const int32_t fractional_bits = 26;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter;
    int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_shift_left(a_mod_quarter_minus_one_quarter, 5));
    const int32_t remainder = a_mod_quarter_minus_one_quarter - a;
    int32_t k;
    for (k = 0; k < 7; ++k) {
        if (remainder & ((int32_t)1 << (fractional_bits - 2 + k))) {
            result = saturating_rounding_doubling_high_mul(result, multipliers[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + x) for x in [0, 1), Newton-Raphson in Q2.29; input and result Q0.31. */
static int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a) {
    const int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = 1515870810 + saturating_rounding_doubling_high_mul(half_denominator, -1010580540);
    int32_t i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x);
        const int32_t one_minus = one_q2 - half_denominator_times_x;
        x = x + saturating_shift_left(saturating_rounding_doubling_high_mul(x, one_minus), 2);
    }
    return saturating_shift_left(x, 1);
}

static int32_t count_leading_zeros(uint32_t x) {
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

void unikd_aot_softmax(const unikd_aot_softmax_params *p, const int8_t *input, int8_t *output) {
    const int32_t accumulation_integer_bits = 12;
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int8_t *in = input + (size_t)i * p->depth;
        int8_t *out = output + (size_t)i * p->depth;
        int32_t max_in_row = -128;
        int32_t sum_of_exps = 0; /* Q12.19 */
        int32_t headroom_plus_one, num_bits_over_unit, shifted_scale, exponent;
        for (c = 0; c < p->depth; ++c) {
            if (in[c] > max_in_row) {
                max_in_row = in[c];
            }
        }
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = saturating_rounding_doubling_high_mul(
                    shift_left_wrap(diff, p->input_left_shift), p->input_multiplier);
                sum_of_exps += rounding_divide_by_pot(exp_on_negative_values_q5(scaled), accumulation_integer_bits);
            }
        }
        headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
        num_bits_over_unit = accumulation_integer_bits - headroom_plus_one;
        shifted_scale = one_over_one_plus_x_for_x_in_0_1(
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31)));
        exponent = num_bits_over_unit + 31 - 8;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = saturating_rounding_doubling_high_mul(
                    shift_left_wrap(diff, p->input_left_shift), p->input_multiplier);
                const int32_t e = exp_on_negative_values_q5(scaled);
                const int32_t unsat =
                    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted_scale, e), exponent);
                out[c] = (int8_t)clamp_i32(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}

void unikd_aot_copy(const int8_t *input, int8_t *output, size_t bytes) {
    if (input != output) {
        memmove(output, input, bytes);
    }
}
