/* The IMU front end: one raw reading (acceleration in g with gravity, angular rate in rad/s) -> the model's
 * UNIKD_CHANNELS raw inputs, in UCI-HAR's nine quantities:
 *   0-2 total acceleration x/y/z, 3-5 body acceleration x/y/z (total minus a gravity estimate), 6-8 gyro x/y/z.
 * The gravity estimate is a causal first-order low-pass of the total acceleration (UCI-HAR used an offline
 * 3rd-order Butterworth at 0.3 Hz; this approximates it). */
#ifndef UNIKD_SENSOR_H
#define UNIKD_SENSOR_H

#include <stdint.h>

#include "unikd_model_meta.h"

#define UNIKD_IMU_QUANTITIES 9

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint8_t source[UNIKD_CHANNELS]; /* model channel c takes quantity source[c] */
    float alpha;                    /* low-pass step: dt / (RC + dt) */
    float gravity[3];
    int have_gravity;               /* the first reading starts the estimate */
} unikd_sensor;

/* Filter coefficient of a first-order low-pass at cutoff_hz sampled at rate_hz: dt / (RC + dt), RC = 1/(2 pi fc),
 * in float32. */
float unikd_gravity_alpha(float cutoff_hz, float rate_hz);

/* source: UNIKD_CHANNELS indices below UNIKD_IMU_QUANTITIES (codegen.sensors.channel_sources; an index out of
 * range feeds 0 rather than reading past the quantities); the filter runs at UNIKD_SAMPLE_RATE_HZ. */
void unikd_sensor_init(unikd_sensor *s, const uint8_t *source, float cutoff_hz);

/* One reading -> out[UNIKD_CHANNELS], ready for unikd_app_push_sample. */
void unikd_sensor_convert(unikd_sensor *s, const float acc[3], const float gyro[3], float *out);

#ifdef __cplusplus
}
#endif

#endif /* UNIKD_SENSOR_H */
