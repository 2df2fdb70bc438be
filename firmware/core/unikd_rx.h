/* The receive path every board shares: the board hands over each byte with the time it arrived and, while no
 * byte is waiting, polls with the current time; the core decides when a partial frame is given up. */
#ifndef UNIKD_RX_H
#define UNIKD_RX_H

#include <stdint.h>

#include "unikd_port.h"

/* The gap (UNIKD_RX_GAP_MS, a board macro of unikd_port.h) in UNIKD_PORT_TIMER_UNIT ticks: the one place that
 * knows how many ticks a millisecond is. */
#if UNIKD_PORT_TIMER_UNIT == UNIKD_TIMER_MICROSECONDS
#define UNIKD_RX_TICKS_PER_MS 1000u
#elif UNIKD_PORT_TIMER_UNIT == UNIKD_TIMER_QEMU_INSTRUCTIONS_DIV40
#define UNIKD_RX_TICKS_PER_MS 25000u /* SysTick at the 25 MHz core clock: one tick per 40 ns of virtual time */
#else
#error "unikd_rx.h: no tick rate for this UNIKD_PORT_TIMER_UNIT"
#endif
#define UNIKD_RX_GAP_TICKS ((uint32_t)UNIKD_RX_GAP_MS * UNIKD_RX_TICKS_PER_MS)

#ifdef __cplusplus
extern "C" {
#endif

/* One received byte and the unikd_port_timer() value when it arrived: passed to unikd_app_feed_byte, after a
 * partial frame older than the gap was dropped (so a board that only looks at the link late still keeps the rule). */
void unikd_rx_byte(uint8_t b, uint32_t now);

/* No byte waiting at time `now`: once more than UNIKD_RX_GAP_TICKS have passed since the last byte, the app drops
 * its partial frame (unikd_app_rx_gap). Returns 1 when it called the app, 0 otherwise. Timer wraps are harmless
 * (the difference is taken modulo 2^32). */
int unikd_rx_poll(uint32_t now);

#ifdef __cplusplus
}
#endif

#endif /* UNIKD_RX_H */
