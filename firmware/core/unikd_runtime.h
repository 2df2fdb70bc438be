/* The one interface every inference runtime implements (aot: generated C; tflm: TFLM MicroInterpreter).
 * Input: one int8 window, time-major (input[t * UNIKD_CHANNELS + c]), normalised and quantised.
 * Output: UNIKD_NUM_CLASSES int8 logits. */
#ifndef UNIKD_RUNTIME_H
#define UNIKD_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Prepare the runtime (plan memory, check the model). Returns 0 on success. */
int unikd_runtime_init(void);

/* Run one inference. Returns 0 on success. */
int unikd_runtime_invoke(const int8_t *input, int8_t *output);

/* Working memory the runtime uses (static plan or arena), in bytes. */
size_t unikd_runtime_ram_bytes(void);

#ifdef __cplusplus
}
#endif

#endif /* UNIKD_RUNTIME_H */
