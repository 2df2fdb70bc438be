/* The device application: serial protocol on one side, runtime on the other. Called by the board glue. */
#ifndef UNIKD_APP_H
#define UNIKD_APP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Boards with an IMU, before unikd_app_init: the sensor's state after its driver started it (UNIKD_SENSOR_OK, or
 * why not), the model channel -> front-end quantity map (codegen.sensors.channel_sources) and the gravity
 * low-pass cutoff. Without this call the board has no sensor (UNIKD_SENSOR_NONE). */
void unikd_app_sensor_begin(uint8_t sensor_state, const uint8_t *channel_source, float gravity_cutoff_hz);

/* Once at start-up, after the port is ready: initialises the runtime, restores the wearer's calibration where
 * the board stores it and sends the boot hello (and a LOG line when the sensor did not start). */
void unikd_app_init(void);

/* Often, from the main loop (never from an interrupt): takes the readings the sensor's producer put into the
 * sample ring (unikd_sampler.h) and, in sensor mode, windows and classifies them; watches the sensor's health and
 * the host session's idle time; sends LOG lines. Returns the readings it took. */
int unikd_app_poll(void);

/* Every byte received from the host. */
void unikd_app_feed_byte(uint8_t b);

/* The board saw no received byte for a while: drop any partial frame. Returns 1 if one was dropped. */
int unikd_app_rx_gap(void);

/* One raw sample of UNIKD_CHANNELS floats into the stream window of the current mode, quantised with that mode's
 * calibration (the path of SAMPLES frames; the sensor's readings go through unikd_app_poll). Runs an inference
 * every UNIKD_STRIDE samples once the window is full, reports it, returns 1 when it inferred. */
int unikd_app_push_sample(const float *sample);

#ifdef __cplusplus
}
#endif

#endif /* UNIKD_APP_H */
