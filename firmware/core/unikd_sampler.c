#include "unikd_sampler.h"

#include <string.h>

#include "unikd_model_meta.h"

/* The nominal sample period in timer ticks, for lateness; 0 where the tick rate is not a time (QEMU icount). */
#if UNIKD_PORT_TIMER_UNIT == UNIKD_TIMER_MICROSECONDS
#define JUDGE_LATENESS 1
#define PERIOD_TICKS ((uint32_t)(1000000.0f / UNIKD_SAMPLE_RATE_HZ + 0.5f))
#else
#define JUDGE_LATENESS 0
#endif

static unikd_reading ring[UNIKD_SAMPLE_RING];
static volatile uint32_t head; /* readings ever put (producer) */
static volatile uint32_t tail; /* readings ever taken (consumer) */
static uint8_t ring_gap[UNIKD_SAMPLE_RING]; /* 1: readings were lost just before this slot's reading */
static int pending_gap;                      /* producer: a loss not yet attached to a stored reading */
static unikd_sampler_counters counters;
static volatile uint32_t failures_in_a_row;
static unikd_reading last;
static int have_last;
#if JUDGE_LATENESS
static uint32_t last_when;
#endif
static int have_when;

void unikd_sampler_init(void)
{
    head = tail = 0;
    pending_gap = 0;
    memset(&counters, 0, sizeof counters);
    failures_in_a_row = 0;
    have_last = have_when = 0;
}

static void mark_gap(void)
{
    if (!pending_gap)
        counters.gaps++;
    pending_gap = 1; /* the next reading stored follows the hole */
}

int unikd_sampler_put(const unikd_reading *r, uint32_t when)
{
    failures_in_a_row = 0;
    if (have_last && memcmp(r, &last, sizeof *r) == 0)
        counters.repeated++;
    last = *r;
    have_last = 1;
#if JUDGE_LATENESS
    if (when != UNIKD_SAMPLER_NO_TIME) {
        if (have_when) {
            uint32_t dt = when - last_when;
            if (dt > PERIOD_TICKS + PERIOD_TICKS / 2u) {
                /* more than half a period late; each further whole period that passed is a reading missed */
                uint32_t periods = (dt + PERIOD_TICKS / 2u) / PERIOD_TICKS;
                counters.late++;
                if (periods > 1u) {
                    counters.missed += periods - 1u;
                    mark_gap();
                }
            }
        }
        last_when = when;
        have_when = 1;
    }
#else
    (void)when;
#endif
    if (head - tail >= (uint32_t)UNIKD_SAMPLE_RING) {
        counters.overruns++;
        mark_gap();
        return 0;
    }
    ring[head % (uint32_t)UNIKD_SAMPLE_RING] = *r;
    ring_gap[head % (uint32_t)UNIKD_SAMPLE_RING] = (uint8_t)pending_gap;
    pending_gap = 0;
    head = head + 1u; /* publish after the copy */
    counters.samples++;
    return 1;
}

void unikd_sampler_missed(uint32_t n)
{
    if (n == 0u)
        return;
    counters.missed += n;
    mark_gap();
}

void unikd_sampler_read_failed(void)
{
    counters.read_failures++;
    failures_in_a_row = failures_in_a_row + 1u;
}

int unikd_sampler_get(unikd_reading *r, int *gap)
{
    uint32_t t = tail;
    if (t == head)
        return 0;
    *r = ring[t % (uint32_t)UNIKD_SAMPLE_RING];
    *gap = ring_gap[t % (uint32_t)UNIKD_SAMPLE_RING];
    tail = t + 1u;
    return 1;
}

uint32_t unikd_sampler_space(void)
{
    return (uint32_t)UNIKD_SAMPLE_RING - (head - tail);
}

uint32_t unikd_sampler_failures_in_a_row(void)
{
    return failures_in_a_row;
}

void unikd_sampler_counters_get(unikd_sampler_counters *out)
{
    *out = counters;
}
