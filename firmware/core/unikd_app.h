/* The device application: serial protocol on one side, runtime on the other. Called by the board glue. */
#ifndef UNIKD_APP_H
#define UNIKD_APP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Once at start-up, after the port is ready: initialises the runtime and sends the boot hello. */
void unikd_app_init(void);

/* Every byte received from the host. */
void unikd_app_feed_byte(uint8_t b);

/* The board saw no received byte for a while: drop any partial frame. Returns 1 if one was dropped. */
int unikd_app_rx_gap(void);

/* One raw sensor sample of UNIKD_CHANNELS floats (the IMU path, also used for SAMPLES frames). Runs an
 * inference every UNIKD_STRIDE samples once the window is full, reports it, returns 1 when it inferred. */
int unikd_app_push_sample(const float *sample);

#ifdef __cplusplus
}
#endif

#endif /* UNIKD_APP_H */
