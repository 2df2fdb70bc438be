#include "unikd_rx.h"

#include "unikd_app.h"

static uint32_t last_byte;
static int pending; /* bytes arrived since the last gap: there may be a partial frame to drop */

void unikd_rx_byte(uint8_t b, uint32_t now)
{
    /* a byte that arrives after the gap (a board that woke late) must not complete the frame the gap gave up */
    unikd_rx_poll(now);
    unikd_app_feed_byte(b);
    last_byte = now;
    pending = 1;
}

int unikd_rx_poll(uint32_t now)
{
    if (!pending || now - last_byte <= UNIKD_RX_GAP_TICKS)
        return 0;
    pending = 0;
    unikd_app_rx_gap();
    return 1;
}
