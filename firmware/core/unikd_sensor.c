#include "unikd_sensor.h"

#include <string.h>

float unikd_gravity_alpha(float cutoff_hz, float rate_hz)
{
    float dt = 1.0f / rate_hz;
    float rc = 1.0f / (6.2831853f * cutoff_hz);
    return dt / (rc + dt);
}

void unikd_sensor_init(unikd_sensor *s, const uint8_t *source, float cutoff_hz)
{
    memcpy(s->source, source, sizeof s->source);
    s->alpha = unikd_gravity_alpha(cutoff_hz, UNIKD_SAMPLE_RATE_HZ);
    s->have_gravity = 0;
}

void unikd_sensor_convert(unikd_sensor *s, const float acc[3], const float gyro[3], float *out)
{
    float q[UNIKD_IMU_QUANTITIES];
    int i, c;
    for (i = 0; i < 3; i++) {
        s->gravity[i] = s->have_gravity ? s->gravity[i] + s->alpha * (acc[i] - s->gravity[i]) : acc[i];
        q[i] = acc[i];
        q[3 + i] = acc[i] - s->gravity[i];
        q[6 + i] = gyro[i];
    }
    s->have_gravity = 1;
    for (c = 0; c < UNIKD_CHANNELS; c++)
        out[c] = s->source[c] < UNIKD_IMU_QUANTITIES ? q[s->source[c]] : 0.0f;
}
