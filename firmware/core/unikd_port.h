/* Board port: the few functions each board's glue implements for the portable core. */
#ifndef UNIKD_PORT_H
#define UNIKD_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "unikd_protocol.h"

/* What one tick of unikd_port_timer() is; a board that counts something else defines it on the command line. */
#ifndef UNIKD_PORT_TIMER_UNIT
#define UNIKD_PORT_TIMER_UNIT UNIKD_TIMER_MICROSECONDS
#endif

/* A pause this long (milliseconds) after the last received byte means the host gave up on a frame: the core's
 * receive path (unikd_rx.h) drops it. A board whose link or clock needs another figure defines it on the command
 * line (qemu-m4: 500, see its Makefile). */
#ifndef UNIKD_RX_GAP_MS
#define UNIKD_RX_GAP_MS 100
#endif

/* Placement of variables that must survive a reset (boot counter). A board whose linker script keeps an
 * uninitialised RAM section defines it, e.g. __attribute__((section(".noinit"))); elsewhere the counter
 * restarts at 1 and the host still sees the reset through the boot hello. */
#ifndef UNIKD_NOINIT
#define UNIKD_NOINIT
#endif

/* Readings the sensor's sample ring holds (unikd_sampler.h): how long the main loop may be busy (an inference,
 * a burst of serial traffic) before a reading is lost, in sample periods. 32 is 0.64 s at 50 Hz. */
#ifndef UNIKD_SAMPLE_RING
#define UNIKD_SAMPLE_RING 32
#endif

/* A host session that sent nothing for this long (milliseconds) is over: a board with a live sensor gives the
 * window back to it (unikd_app.c). */
#ifndef UNIKD_HOST_IDLE_MS
#define UNIKD_HOST_IDLE_MS 60000
#endif

/* Whether the wearer's calibration starts on at first boot (it is then kept across resets where the board can
 * store it). A build without a sensor has nothing to calibrate on and ignores it. */
#ifndef UNIKD_CALIB_DEFAULT_ON
#define UNIKD_CALIB_DEFAULT_ON 1
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Blocking write of len bytes to the host serial link. */
void unikd_port_write(const uint8_t *data, size_t len);

/* Free-running counter in UNIKD_PORT_TIMER_UNIT ticks; wraps modulo 2^32. */
uint32_t unikd_port_timer(void);

/* Non-volatile storage of one small record (the wearer's calibration, unikd_calib.c), len <= 256 bytes. Return 0 on
 * success; a board without storage returns -1 from both, and the wearer's calibration restarts at every boot. */
int unikd_port_store_read(void *data, size_t len);
int unikd_port_store_write(const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* UNIKD_PORT_H */
