#include "unikd_calib.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "unikd_frame.h"
#include "unikd_port.h"
#include "unikd_protocol.h"
#include "unikd_window.h"

/* below this the channel is constant: inverse std 1, as unikd.data.normalise does */
#define MIN_STD 1e-8f

static void use_build(unikd_calib *k)
{
    memcpy(k->use_mean, unikd_build_mean, sizeof k->use_mean);
    memcpy(k->use_inv_std, unikd_build_inv_std, sizeof k->use_inv_std);
}

static void use_statistics(unikd_calib *k)
{
    uint32_t n = k->seen < UNIKD_CALIB_MAX_SAMPLES ? k->seen : UNIKD_CALIB_MAX_SAMPLES;
    float nf = (float)n;
    int c;
    for (c = 0; c < UNIKD_CHANNELS; c++) {
        float sd = sqrtf(k->m2[c] / nf);
        k->use_mean[c] = k->mean[c];
        k->use_inv_std[c] = sd < MIN_STD ? 1.0f : 1.0f / sd;
    }
}

void unikd_calib_reset(unikd_calib *k, int on)
{
    memset(k, 0, sizeof *k);
    k->state = on ? UNIKD_CALIB_STATE_WARMUP : UNIKD_CALIB_STATE_OFF;
    use_build(k);
}

int unikd_calib_action(unikd_calib *k, uint8_t action)
{
    switch (action) {
    case UNIKD_CALIB_ACTION_OFF:
        k->state = UNIKD_CALIB_STATE_OFF;
        use_build(k);
        return 0;
    case UNIKD_CALIB_ACTION_ON:
        if (k->seen >= UNIKD_CALIB_WARMUP) {
            k->state = UNIKD_CALIB_STATE_ACTIVE;
            use_statistics(k);
        } else {
            k->state = UNIKD_CALIB_STATE_WARMUP;
        }
        return 0;
    case UNIKD_CALIB_ACTION_RESET:
        unikd_calib_reset(k, 1);
        return 0;
    default:
        return -1;
    }
}

int unikd_calib_add(unikd_calib *k, const float *x)
{
    float nf;
    int c;
    if (k->state == UNIKD_CALIB_STATE_OFF || k->seen >= UNIKD_CALIB_MAX_SAMPLES)
        return 0;
    k->seen++;
    nf = (float)k->seen;
    for (c = 0; c < UNIKD_CHANNELS; c++) {
        float d = x[c] - k->mean[c];
        k->mean[c] = k->mean[c] + d / nf;
        k->m2[c] = k->m2[c] + d * (x[c] - k->mean[c]);
    }
    if (k->seen >= UNIKD_CALIB_WARMUP && k->seen % UNIKD_CALIB_REFRESH == 0u) {
        k->state = UNIKD_CALIB_STATE_ACTIVE;
        use_statistics(k);
        return 1;
    }
    return 0;
}

/* ---- storage --------------------------------------------------------------------------------------------- */

#define RECORD_MAGIC 0x554B4331u /* "UKC1" */
#define HASH_BYTES 16            /* the first 16 hex digits of the model hash identify the model well enough */

typedef struct {
    uint32_t magic;
    uint16_t channels;
    uint16_t crc; /* CRC-16 of everything after this field */
    char model[HASH_BYTES];
    uint32_t seen;
    uint8_t state;
    uint8_t pad[3];
    float mean[UNIKD_CHANNELS];
    float m2[UNIKD_CHANNELS];
} calib_record;

static uint16_t record_crc(const calib_record *r)
{
    const uint8_t *p = (const uint8_t *)r;
    size_t skip = offsetof(calib_record, model);
    return unikd_crc16(0xFFFFu, p + skip, sizeof *r - skip);
}

int unikd_calib_save(const unikd_calib *k)
{
    calib_record r;
    memset(&r, 0, sizeof r);
    r.magic = RECORD_MAGIC;
    r.channels = UNIKD_CHANNELS;
    memcpy(r.model, UNIKD_MODEL_HASH, HASH_BYTES);
    r.seen = k->seen;
    r.state = k->state;
    memcpy(r.mean, k->mean, sizeof r.mean);
    memcpy(r.m2, k->m2, sizeof r.m2);
    r.crc = record_crc(&r);
    return unikd_port_store_write(&r, sizeof r);
}

int unikd_calib_load(unikd_calib *k)
{
    calib_record r;
    if (unikd_port_store_read(&r, sizeof r) != 0 || r.magic != RECORD_MAGIC || r.channels != UNIKD_CHANNELS
        || memcmp(r.model, UNIKD_MODEL_HASH, HASH_BYTES) != 0 || r.crc != record_crc(&r)
        || r.state > UNIKD_CALIB_STATE_ACTIVE)
        return -1;
    unikd_calib_reset(k, r.state != UNIKD_CALIB_STATE_OFF);
    k->seen = r.seen;
    memcpy(k->mean, r.mean, sizeof k->mean);
    memcpy(k->m2, r.m2, sizeof k->m2);
    if (r.state != UNIKD_CALIB_STATE_OFF)
        unikd_calib_action(k, UNIKD_CALIB_ACTION_ON); /* ACTIVE (constants from the statistics) once warmed up */
    return 0;
}

int unikd_calib_erase(void)
{
    calib_record r;
    memset(&r, 0, sizeof r);
    return unikd_port_store_write(&r, sizeof r);
}
