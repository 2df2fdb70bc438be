/* The sensor side of the stream: a ring of raw IMU readings filled at the sensor's clock and emptied by the main
 * loop, with the counters that say what the sensor path lost.
 *
 * The producer is whatever the sensor's clock drives: a data-ready or timer interrupt that reads the sensor, or a
 * driver that drains the sensor's own FIFO. It only copies a reading into the ring, so it never waits for an
 * inference; the consumer (unikd_app_poll, in the main loop) converts, normalises, windows and classifies. An
 * inference longer than a sample period therefore loses nothing as long as the ring holds the readings taken
 * meanwhile (UNIKD_SAMPLE_RING of them); beyond that a reading is dropped and counted as an overrun, and the
 * window restarts so that no window spans the hole.
 *
 * One producer, one consumer: `head` is written by the producer only, `tail` by the consumer only, so no lock is
 * needed on a single core (the indices are volatile and naturally aligned 32-bit words). */
#ifndef UNIKD_SAMPLER_H
#define UNIKD_SAMPLER_H

#include <stdint.h>

#include "unikd_port.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float acc[3];  /* g, gravity included, sensor axes */
    float gyro[3]; /* rad/s */
} unikd_reading;

typedef struct {
    uint32_t samples;       /* readings put into the ring */
    uint32_t overruns;      /* readings dropped: ring full */
    uint32_t missed;        /* readings the sensor never delivered (clock gaps, FIFO overflow) */
    uint32_t late;          /* readings more than half a period late */
    uint32_t repeated;      /* readings identical to the previous one in all six axes */
    uint32_t read_failures; /* failed bus transfers */
    uint32_t gaps;          /* times the stream lost continuity (overrun or missed): the window restarts */
} unikd_sampler_counters;

/* Empty the ring and zero the counters (start-up). */
void unikd_sampler_init(void);

/* Producer. One reading the sensor took. `when` is the unikd_port_timer() time it was taken or signalled, or
 * UNIKD_SAMPLER_NO_TIME when the driver cannot tell (a FIFO drained later): then lateness is not judged. Returns 1
 * when stored, 0 when the ring was full (counted as an overrun). */
#define UNIKD_SAMPLER_NO_TIME 0xFFFFFFFFu
int unikd_sampler_put(const unikd_reading *r, uint32_t when);

/* Producer: the sensor lost `n` readings it should have delivered (e.g. its FIFO overflowed). */
void unikd_sampler_missed(uint32_t n);

/* Producer: a transfer with the sensor failed (the reading, if any, is lost and counted here, not as missed). */
void unikd_sampler_read_failed(void);

/* Consumer. The oldest reading: returns 1 and fills *r, 0 when the ring is empty. *gap is set to 1 when readings
 * were lost just before this one (overrun or missed), so the consumer restarts its window. */
int unikd_sampler_get(unikd_reading *r, int *gap);

/* Producer: readings the ring can take now (a FIFO driver moves at most this many, leaving the rest in the
 * sensor's own FIFO). */
uint32_t unikd_sampler_space(void);

/* Failed transfers in a row since the last good reading (sensor health). */
uint32_t unikd_sampler_failures_in_a_row(void);

/* A copy of the counters (each word read once; the producer may be counting on). */
void unikd_sampler_counters_get(unikd_sampler_counters *out);

#ifdef __cplusplus
}
#endif

#endif /* UNIKD_SAMPLER_H */
