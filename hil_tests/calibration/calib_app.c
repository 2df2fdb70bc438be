/* TEST DOUBLE of the application (unikd_app.h) for the timer calibration of the qemu-m4 board: linked with the
 * board's own startup.c and board.c and the core's receive path (unikd_rx.c) instead of the rest of the core
 * (built by firmware/boards/qemu-m4/Makefile like every image). At start-up it times busy loops of exactly
 * known instruction counts with unikd_port_timer() and writes the tick counts (u32 little-endian) to the UART. */
#include <stdint.h>

#include "unikd_app.h"
#include "unikd_port.h"

/* n iterations of "subs; bne" = exactly 2n instructions. */
static uint32_t time_loop(uint32_t n)
{
    uint32_t t0 = unikd_port_timer();
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
    return unikd_port_timer() - t0;
}

void unikd_app_init(void)
{
    /* the last one takes 700 M instructions = 17.5 M ticks: longer than one SysTick period (2^24 ticks) */
    static const uint32_t loops[] = {1000000u, 2000000u, 20000000u, 350000000u};
    uint8_t out[4 * 4];
    unsigned i, k;
    for (i = 0; i < 4; i++) {
        uint32_t t = time_loop(loops[i]);
        for (k = 0; k < 4; k++)
            out[4 * i + k] = (uint8_t)(t >> (8 * k));
    }
    unikd_port_write(out, sizeof out);
}

void unikd_app_feed_byte(uint8_t b)
{
    (void)b;
}

int unikd_app_rx_gap(void)
{
    return 0;
}

int unikd_app_push_sample(const float *sample)
{
    (void)sample;
    return 0;
}

int unikd_app_poll(void)
{
    return 0; /* no sensor in the calibration image */
}
