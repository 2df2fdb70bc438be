/* unikd aot runtime: int8 kernels that reproduce TFLM's reference integer arithmetic bit for bit.
 * Fixed C99 source copied next to every generated model; the generated code passes constant parameter
 * structs (shapes, offsets, activation range) and per-channel multiplier/shift arrays computed at
 * generation time. Tensors are NHWC, batch first; weights are OHWI (conv) and [out][in] (fully connected). */
#ifndef UNIKD_AOT_KERNELS_H
#define UNIKD_AOT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
    int32_t input_offset;  /* -input zero point */
    int32_t output_offset; /* output zero point */
    int32_t act_min, act_max;
} unikd_aot_conv_params;

typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t f_h, f_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} unikd_aot_pool_params;

typedef struct {
    int32_t batches, in_depth, out_depth;
    int32_t input_offset, filter_offset, output_offset;
    int32_t act_min, act_max;
} unikd_aot_fc_params;

/* Input seen as [outer][reduced][inner]; the mean runs over the middle dimension. The multiplier and
 * shift already hold input_scale / output_scale / reduced, adjusted as TFLM does at run time. */
typedef struct {
    int32_t outer, reduced, inner;
    int32_t input_zero_point, output_zero_point, multiplier, shift;
} unikd_aot_mean_params;

/* Input and output as 4-D [d0][d1][d2][d3]; before/after are the paddings of each dimension. */
typedef struct {
    int32_t in_dims[4];
    int32_t before[4];
    int32_t after[4];
    int32_t pad_value;
} unikd_aot_pad_params;

typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier, input_left_shift, diff_min;
} unikd_aot_softmax_params;

/* TFLM's MultiplyByQuantizedMultiplier (double rounding, gemmlowp semantics). */
int32_t unikd_aot_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);

/* bias may be NULL; window_bias[c] = bias[c] + input_offset * (sum of filter c), for windows inside the image. */
void unikd_aot_conv2d(const unikd_aot_conv_params *p, const int8_t *input, const int8_t *filter,
                      const int32_t *bias, const int32_t *window_bias, const int32_t *multipliers,
                      const int32_t *shifts, int8_t *output);
void unikd_aot_fully_connected(const unikd_aot_fc_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, const int32_t *multipliers, const int32_t *shifts,
                               int8_t *output);
void unikd_aot_max_pool(const unikd_aot_pool_params *p, const int8_t *input, int8_t *output);
void unikd_aot_average_pool(const unikd_aot_pool_params *p, const int8_t *input, int8_t *output);
void unikd_aot_mean(const unikd_aot_mean_params *p, const int8_t *input, int8_t *output);
void unikd_aot_pad(const unikd_aot_pad_params *p, const int8_t *input, int8_t *output);
void unikd_aot_softmax(const unikd_aot_softmax_params *p, const int8_t *input, int8_t *output);
void unikd_aot_copy(const int8_t *input, int8_t *output, size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* UNIKD_AOT_KERNELS_H */
