/* Host build of the portable firmware core for unit tests: the "serial link" is stdin/stdout.
 *   host_core            feed stdin bytes to unikd_app_feed_byte; replies go to stdout
 *   host_core quantise   stdin: float32 values, time-major (N * WINDOW * CHANNELS); stdout: int8 per value
 *   host_core push       stdin: float32 samples; calls unikd_app_push_sample per sample (the IMU path)
 *   host_core gap        stdin: chunks (u32 little-endian length, bytes); a receive gap after every chunk
 * The timer counts calls, so tick values are deterministic. */
#define _POSIX_C_SOURCE 200809L /* read(2): a pipe delivers writes separately, fread would merge them */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unikd_app.h"
#include "unikd_model_meta.h"
#include "unikd_port.h"
#include "unikd_window.h"

static uint32_t fake_ticks;

void unikd_port_write(const uint8_t *data, size_t len)
{
    fwrite(data, 1, len, stdout);
}

uint32_t unikd_port_timer(void)
{
    return fake_ticks += 1000u;
}

int main(int argc, char **argv)
{
    unsigned char buf[4096];
    size_t n, i;


    if (argc > 1 && strcmp(argv[1], "quantise") == 0) {
        float x[UNIKD_CHANNELS];
        while (fread(x, sizeof(float), UNIKD_CHANNELS, stdin) == UNIKD_CHANNELS) {
            int8_t q[UNIKD_CHANNELS];
            int c;
            for (c = 0; c < UNIKD_CHANNELS; c++)
                q[c] = unikd_quantise(x[c], c);
            fwrite(q, 1, sizeof q, stdout);
        }
        return 0;
    }
    unikd_app_init();
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "push") == 0) {
        float x[UNIKD_CHANNELS];
        while (fread(x, sizeof(float), UNIKD_CHANNELS, stdin) == UNIKD_CHANNELS)
            unikd_app_push_sample(x);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "gap") == 0) {
        unsigned char len4[4];
        while (fread(len4, 1, 4, stdin) == 4) {
            size_t len = (size_t)len4[0] | ((size_t)len4[1] << 8) | ((size_t)len4[2] << 16) | ((size_t)len4[3] << 24);
            for (i = 0; i < len; i++) {
                int c = getchar();
                if (c == EOF)
                    return 1;
                unikd_app_feed_byte((uint8_t)c);
            }
            unikd_app_rx_gap();
        }
        fflush(stdout);
        return 0;
    }
    for (;;) {
        ssize_t got = read(0, buf, sizeof buf);
        if (got <= 0)
            break;
        n = (size_t)got;
        for (i = 0; i < n; i++)
            unikd_app_feed_byte(buf[i]);
        fflush(stdout); /* replies reach a host that waits for them (tests over a pipe) */
    }
    fflush(stdout);
    return 0;
}
