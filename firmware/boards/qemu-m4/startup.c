/* Cortex-M4 start-up for QEMU mps2-an386: vector table, reset handler (FPU on, .data copied, .bss zeroed). */
#include <stdint.h>

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
extern int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void UART0RX_Handler(void);
void TIMER0_Handler(void);
void TIMER1_Handler(void);

#define CPACR (*(volatile uint32_t *)0xE000ED88u)

void Default_Handler(void)
{
    for (;;) {
    }
}

/* Runs before the FPU is enabled and before .data/.bss exist: plain integer loops only. */
void Reset_Handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;

    CPACR |= 0xFu << 20; /* CP10 and CP11 full access: the code is built for the hard-float ABI */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    while (dst < &_edata)
        *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
    main();
    for (;;) {
    }
}

typedef void (*vector)(void);

__attribute__((section(".vectors"), used)) static const vector vectors[16 + 32] = {
    (vector)(uintptr_t)&_estack, /* initial stack pointer */
    Reset_Handler,
    Default_Handler, /* NMI */
    Default_Handler, /* HardFault */
    Default_Handler, /* MemManage */
    Default_Handler, /* BusFault */
    Default_Handler, /* UsageFault */
    0, 0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMon */
    0,
    Default_Handler, /* PendSV */
    SysTick_Handler,
    /* external interrupts (mps2-an386 numbering, QEMU hw/arm/mps2.c); board.c enables only these two */
    [16 + 0] = UART0RX_Handler,
    [16 + 8] = TIMER0_Handler,
    [16 + 9] = TIMER1_Handler, /* the simulated IMU of test images (sim_imu.c) */
};
