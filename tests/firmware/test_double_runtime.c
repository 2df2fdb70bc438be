/* TEST DOUBLE of the inference runtime, for host unit tests of the firmware core only (the HIL suite uses the
 * real aot runtime). output[k] = clamp(trunc(sum_t input[t][k % CHANNELS] / 64) + k); mirrored in Python by
 * tests/fake_device.py::double_runtime. An input that starts with -128, -128, -128, 127 makes invoke fail
 * (returns 7), to exercise the failed-inference reply. */
#include "unikd_model_meta.h"
#include "unikd_runtime.h"

int unikd_runtime_init(void)
{
    return 0;
}

int unikd_runtime_invoke(const int8_t *input, int8_t *output)
{
    int k, t;
    if (input[0] == -128 && input[1] == -128 && input[2] == -128 && input[3] == 127)
        return 7;
    for (k = 0; k < UNIKD_NUM_CLASSES; k++) {
        long s = 0, v;
        for (t = 0; t < UNIKD_WINDOW; t++)
            s += input[t * UNIKD_CHANNELS + (k % UNIKD_CHANNELS)];
        v = s / 64 + k;
        output[k] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
    }
    return 0;
}

size_t unikd_runtime_ram_bytes(void)
{
    return 0;
}
