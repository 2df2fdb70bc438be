/* The host board: the portable core built with the host's gcc, for tests and benchmarks. Its serial link is
 * stdin/stdout and its timer is deterministic (it advances 1000 ticks per read), so replies are reproducible.
 *   fw            serial link: stdin bytes -> the core, replies -> stdout
 *   fw timed      stdin: records (u32 time, u32 n, n bytes), little-endian; the board's clock reads `time` while
 *                 those bytes arrive, and before them the core is polled at that time (receive gap policy)
 *   fw push       stdin: float32 samples of UNIKD_CHANNELS; each to unikd_app_push_sample (a sensor's path)
 *   fw imu        stdin: UNIKD_CHANNELS source bytes, float32 cutoff (Hz), then readings of 6 float32 (acc xyz,
 *                 gyro xyz); stdout: the front end's UNIKD_CHANNELS float32 per reading (unikd_sensor.h)
 *   fw quantise   stdin: float32 values, time-major; stdout: unikd_quantise per value, int8
 *   fw sensor S   the sensor path of a board whose IMU started with state S (argv[2], a UNIKD_SENSOR_* number; the
 *                 channels take the front end's quantities 0..UNIKD_CHANNELS-1, gravity cutoff 0.3 Hz). stdin:
 *                 records, each a tag byte then its data:
 *                   'r' u32 when, 6 float32 (acc xyz, gyro xyz): a reading the sensor's clock produced
 *                   'f'   a failed transfer        'm' u32 n: readings the sensor lost
 *                   'b' u32 n, n bytes: serial bytes from the host      'p': one pass of the main loop
 *                 stdout: every frame the device sends */
#define _POSIX_C_SOURCE 200809L /* read(2): a pipe delivers writes separately, fread would merge them */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unikd_app.h"
#include "unikd_model_meta.h"
#include "unikd_port.h"
#include "unikd_rx.h"
#include "unikd_sampler.h"
#include "unikd_sensor.h"
#include "unikd_window.h"

static uint32_t fake_ticks;

/* Storage: the file named by $UNIKD_HOST_STORE, so a test can restart the process as a board reset; none without. */
int unikd_port_store_read(void *data, size_t len)
{
    const char *path = getenv("UNIKD_HOST_STORE");
    FILE *f = path ? fopen(path, "rb") : NULL;
    size_t got;
    if (!f)
        return -1;
    got = fread(data, 1, len, f);
    fclose(f);
    return got == len ? 0 : -1;
}

int unikd_port_store_write(const void *data, size_t len)
{
    const char *path = getenv("UNIKD_HOST_STORE");
    FILE *f = path ? fopen(path, "wb") : NULL;
    size_t put;
    if (!f)
        return -1;
    put = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && put == len) ? 0 : -1;
}

void unikd_port_write(const uint8_t *data, size_t len)
{
    fwrite(data, 1, len, stdout);
}

uint32_t unikd_port_timer(void)
{
    return fake_ticks += 1000u;
}

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static int quantise(void)
{
    float x[UNIKD_CHANNELS];
    int8_t q[UNIKD_CHANNELS];
    int c;
    while (fread(x, sizeof(float), UNIKD_CHANNELS, stdin) == UNIKD_CHANNELS) {
        for (c = 0; c < UNIKD_CHANNELS; c++)
            q[c] = unikd_quantise(x[c], c);
        fwrite(q, 1, sizeof q, stdout);
    }
    return 0;
}

static int imu(void)
{
    uint8_t source[UNIKD_CHANNELS];
    float cutoff, reading[6], out[UNIKD_CHANNELS];
    unikd_sensor sensor;
    if (fread(source, 1, sizeof source, stdin) != sizeof source || fread(&cutoff, sizeof cutoff, 1, stdin) != 1)
        return 1;
    unikd_sensor_init(&sensor, source, cutoff);
    while (fread(reading, sizeof(float), 6, stdin) == 6) {
        unikd_sensor_convert(&sensor, reading, reading + 3, out);
        fwrite(out, sizeof(float), UNIKD_CHANNELS, stdout);
    }
    return 0;
}

static int push(void)
{
    float x[UNIKD_CHANNELS];
    while (fread(x, sizeof(float), UNIKD_CHANNELS, stdin) == UNIKD_CHANNELS)
        unikd_app_push_sample(x);
    return 0;
}

static int timed(void)
{
    unsigned char head[8];
    uint32_t now, n, i;
    int c;
    while (fread(head, 1, sizeof head, stdin) == sizeof head) {
        now = get_u32(head);
        n = get_u32(head + 4);
        unikd_rx_poll(now);
        for (i = 0; i < n; i++) {
            if ((c = getchar()) == EOF)
                return 1;
            unikd_rx_byte((uint8_t)c, now);
        }
    }
    return 0;
}

static int serial(void)
{
    unsigned char buf[4096];
    ssize_t got, i;
    while ((got = read(0, buf, sizeof buf)) > 0) {
        for (i = 0; i < got; i++)
            unikd_rx_byte(buf[i], unikd_port_timer());
        fflush(stdout); /* replies reach a host that waits for them (tests over a pipe) */
    }
    return 0;
}

static int sensor(void)
{
    int tag, c;
    unsigned char b4[4];
    float v[6];
    uint32_t n, i;
    unikd_reading r;
    while ((tag = getchar()) != EOF) {
        switch (tag) {
        case 'r':
            if (fread(b4, 1, 4, stdin) != 4 || fread(v, sizeof(float), 6, stdin) != 6)
                return 1;
            memcpy(r.acc, v, sizeof r.acc);
            memcpy(r.gyro, v + 3, sizeof r.gyro);
            unikd_sampler_put(&r, get_u32(b4));
            break;
        case 'f':
            unikd_sampler_read_failed();
            break;
        case 'm':
            if (fread(b4, 1, 4, stdin) != 4)
                return 1;
            unikd_sampler_missed(get_u32(b4));
            break;
        case 'b':
            if (fread(b4, 1, 4, stdin) != 4)
                return 1;
            for (n = get_u32(b4), i = 0; i < n; i++) {
                if ((c = getchar()) == EOF)
                    return 1;
                unikd_rx_byte((uint8_t)c, unikd_port_timer());
            }
            break;
        case 'p':
            unikd_app_poll();
            break;
        default:
            return 2;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int status;
    if (strcmp(mode, "sensor") == 0) {
        uint8_t source[UNIKD_CHANNELS];
        int c;
        for (c = 0; c < UNIKD_CHANNELS; c++)
            source[c] = (uint8_t)(c % UNIKD_IMU_QUANTITIES);
        unikd_app_sensor_begin((uint8_t)atoi(argc > 2 ? argv[2] : "1"), source, 0.3f);
    }
    if (strcmp(mode, "quantise") == 0)
        return quantise();
    if (strcmp(mode, "imu") == 0)
        return imu();
    unikd_app_init();
    fflush(stdout);
    if (strcmp(mode, "push") == 0)
        status = push();
    else if (strcmp(mode, "sensor") == 0)
        status = sensor();
    else if (strcmp(mode, "timed") == 0)
        status = timed();
    else
        status = serial();
    fflush(stdout);
    return status;
}
