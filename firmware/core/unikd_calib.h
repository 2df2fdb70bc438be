/* On-device calibration of the input normalisation (codegen/calibration.py has the rule and its exact host twin).
 *
 * The build's constants fit the wearer the model was built for. A context collects the per-channel mean and
 * population standard deviation of the raw model inputs it sees (Welford, float32), and once UNIKD_CALIB_WARMUP
 * samples are in, replaces the constants in use with its own every UNIKD_CALIB_REFRESH samples. Each sample is
 * quantised with the constants in use before it is added. After UNIKD_CALIB_MAX_SAMPLES the statistics stay
 * fixed until a reset. */
#ifndef UNIKD_CALIB_H
#define UNIKD_CALIB_H

#include <stdint.h>

#include "unikd_model_meta.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint8_t state;                     /* UNIKD_CALIB_STATE_OFF / _WARMUP / _ACTIVE (unikd_protocol.h) */
    uint32_t seen;                     /* samples added since the last reset */
    float mean[UNIKD_CHANNELS];        /* running statistics */
    float m2[UNIKD_CHANNELS];
    float use_mean[UNIKD_CHANNELS];    /* constants in use: the build's, or the statistics' at the last refresh */
    float use_inv_std[UNIKD_CHANNELS];
} unikd_calib;

/* Build constants, no statistics; WARMUP when `on`, else OFF. */
void unikd_calib_reset(unikd_calib *k, int on);
/* UNIKD_CALIB_ACTION_OFF / _ON / _RESET. Returns 0, or -1 for an unknown action. */
int unikd_calib_action(unikd_calib *k, uint8_t action);
/* Add one sample of UNIKD_CHANNELS raw values (after it was quantised). Returns 1 when the constants in use
 * changed (warm-up done, or a refresh). */
int unikd_calib_add(unikd_calib *k, const float *x);

/* Saving and restoring a context (the wearer's) through the board's storage (unikd_port.h). The record carries the
 * model's hash, so a new model never starts from another model's statistics. Return 0 on success. */
int unikd_calib_save(const unikd_calib *k);
int unikd_calib_load(unikd_calib *k);
int unikd_calib_erase(void);

#ifdef __cplusplus
}
#endif

#endif /* UNIKD_CALIB_H */
