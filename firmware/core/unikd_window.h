/* The sensor side: normalise + quantise one raw sample, and a ring buffer of the last UNIKD_WINDOW samples. */
#ifndef UNIKD_WINDOW_H
#define UNIKD_WINDOW_H

#include <stdint.h>

#include "unikd_model_meta.h"

/* Raw float32 value of channel c -> int8 model input, exactly as codegen.quantise.quantise_windows:
 * n = (x - mean[c]) * inv_std[c]; q = lroundf(n / UNIKD_INPUT_SCALE) + UNIKD_INPUT_ZERO_POINT, clamped to int8.
 * All float32, no fused multiply-add (build with -ffp-contract=off). NaN maps to -128. */
int8_t unikd_quantise(float x, int channel);
/* The same with given constants (an on-device calibration's, unikd_calib.h). */
int8_t unikd_quantise_with(float x, float mean, float inv_std);

/* The build's constants (unikd_model_meta.h). */
extern const float unikd_build_mean[UNIKD_CHANNELS];
extern const float unikd_build_inv_std[UNIKD_CHANNELS];

typedef struct {
    int8_t ring[UNIKD_WINDOW * UNIKD_CHANNELS]; /* time-major, slot (count % WINDOW) is written next */
    uint32_t count;                             /* samples pushed since the last reset */
} unikd_window;

void unikd_window_reset(unikd_window *w);
/* Quantise (with the constants mean[c], inv_std[c]) and store one sample of UNIKD_CHANNELS raw values. */
void unikd_window_push(unikd_window *w, const float *sample, const float *mean, const float *inv_std);
/* 1 when the window is full and the newest sample ends a stride (an inference is due). */
int unikd_window_due(const unikd_window *w);
/* Copy the last UNIKD_WINDOW samples, oldest first, into out (UNIKD_INPUT_BYTES). */
void unikd_window_copy(const unikd_window *w, int8_t *out);

#endif /* UNIKD_WINDOW_H */
