#include "unikd_window.h"

#include <math.h>
#include <string.h>

const float unikd_build_mean[UNIKD_CHANNELS] = UNIKD_NORM_MEAN_INIT;
const float unikd_build_inv_std[UNIKD_CHANNELS] = UNIKD_NORM_INV_STD_INIT;

/* Beyond this magnitude the clamp decides anyway; keeps lroundf inside the range of long. */
#define QUANT_LIMIT 1.0e6f

int8_t unikd_quantise(float x, int channel)
{
    return unikd_quantise_with(x, unikd_build_mean[channel], unikd_build_inv_std[channel]);
}

int8_t unikd_quantise_with(float x, float mean, float inv_std)
{
    float n = (x - mean) * inv_std;
    float s = n / UNIKD_INPUT_SCALE;
    long q;

    if (!(s > -QUANT_LIMIT)) /* also catches NaN */
        s = -QUANT_LIMIT;
    if (s > QUANT_LIMIT)
        s = QUANT_LIMIT;
    q = lroundf(s) + UNIKD_INPUT_ZERO_POINT;
    if (q < -128)
        q = -128;
    if (q > 127)
        q = 127;
    return (int8_t)q;
}

void unikd_window_reset(unikd_window *w)
{
    memset(w->ring, 0, sizeof w->ring);
    w->count = 0;
}

void unikd_window_push(unikd_window *w, const float *sample, const float *mean, const float *inv_std)
{
    int8_t *slot = w->ring + (size_t)(w->count % UNIKD_WINDOW) * UNIKD_CHANNELS;
    int c;
    for (c = 0; c < UNIKD_CHANNELS; c++)
        slot[c] = unikd_quantise_with(sample[c], mean[c], inv_std[c]);
    w->count++;
}

int unikd_window_due(const unikd_window *w)
{
    return w->count >= UNIKD_WINDOW && (w->count - UNIKD_WINDOW) % UNIKD_STRIDE == 0;
}

void unikd_window_copy(const unikd_window *w, int8_t *out)
{
    size_t oldest = (size_t)(w->count % UNIKD_WINDOW) * UNIKD_CHANNELS; /* slot written next = oldest held */
    size_t total = (size_t)UNIKD_WINDOW * UNIKD_CHANNELS;
    memcpy(out, w->ring + oldest, total - oldest);
    memcpy(out + (total - oldest), w->ring, oldest);
}
