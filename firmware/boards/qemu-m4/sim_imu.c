/* A SIMULATED IMU for the emulated board, for tests only: built in with -DUNIKD_QEMU_SIM_IMU=1 (make
 * CPPFLAGS=-DUNIKD_QEMU_SIM_IMU=1), absent otherwise. CMSDK TIMER1 interrupts at UNIKD_SAMPLE_RATE_HZ of the board's
 * clock and its handler puts one synthetic reading into the core's sample ring, as a real IMU's data-ready
 * interrupt would. It lets hil_tests/test_modes.py feed "sensor" readings while a host session streams, to show that
 * they never enter the host's window. The readings are a deterministic pattern, not a recording. */
#include "sim_imu.h"

#if UNIKD_QEMU_SIM_IMU
#include "unikd_app.h"
#include "unikd_model_meta.h"
#include "unikd_protocol.h"
#include "unikd_sampler.h"

#define TIMER1_BASE 0x40001000u
#define TIMER1_CTRL (*(volatile uint32_t *)(TIMER1_BASE + 0x00u))
#define TIMER1_RELOAD (*(volatile uint32_t *)(TIMER1_BASE + 0x08u))
#define TIMER1_INTCLEAR (*(volatile uint32_t *)(TIMER1_BASE + 0x0Cu))
#define IRQ_TIMER1 9u /* QEMU hw/arm/mps2.c: TIMER0 = 8, TIMER1 = 9 */
#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100u)
#define CORE_HZ 25000000.0f

static uint32_t k;

void TIMER1_Handler(void)
{
    unikd_reading r;
    int i;
    TIMER1_INTCLEAR = 1u;
    k++;
    for (i = 0; i < 3; i++) { /* a slow saw-tooth per axis, gravity on z: never two equal readings in a row */
        r.acc[i] = (float)((k * (uint32_t)(7 + 2 * i)) % 101u) * 0.004f - 0.2f + (i == 2 ? 1.0f : 0.0f);
        r.gyro[i] = (float)((k * (uint32_t)(3 + i)) % 89u) * 0.01f - 0.44f;
    }
    unikd_sampler_put(&r, UNIKD_SAMPLER_NO_TIME);
}

int qemu_sim_imu_start(void)
{
    uint8_t source[UNIKD_CHANNELS]; /* model channel c takes front-end quantity c % 9 */
    int c;
    for (c = 0; c < UNIKD_CHANNELS; c++)
        source[c] = (uint8_t)(c % 9);
    unikd_app_sensor_begin(UNIKD_SENSOR_OK, source, 0.3f);
    TIMER1_CTRL = 0;
    TIMER1_RELOAD = (uint32_t)(CORE_HZ / UNIKD_SAMPLE_RATE_HZ);
    TIMER1_INTCLEAR = 1u;
    TIMER1_CTRL = 0x1u | 0x8u; /* enable, interrupt */
    NVIC_ISER0 = 1u << IRQ_TIMER1;
    return 1;
}
#else
void TIMER1_Handler(void) /* never enabled in an image without the simulated IMU */
{
}

int qemu_sim_imu_start(void)
{
    return 0;
}
#endif
