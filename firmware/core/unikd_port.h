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

#ifdef __cplusplus
extern "C" {
#endif

/* Blocking write of len bytes to the host serial link. */
void unikd_port_write(const uint8_t *data, size_t len);

/* Free-running counter in UNIKD_PORT_TIMER_UNIT ticks; wraps modulo 2^32. */
uint32_t unikd_port_timer(void);

#ifdef __cplusplus
}
#endif

#endif /* UNIKD_PORT_H */
