/* qemu-m4 board glue: CMSDK UART0 (polled), SysTick as the timer, and the main loop. */
#include <stdint.h>

#include "unikd_app.h"
#include "unikd_port.h"
#include "unikd_rx.h"

/* CMSDK APB UART0 */
#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TX_FULL 0x1u
#define UART_STATE_RX_FULL 0x2u

/* SysTick, clocked by the 25 MHz core clock; under -icount shift=0 one tick = 40 guest instructions */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)
#define SYST_MAX 0x00FFFFFFu

static volatile uint32_t systick_wraps;

void SysTick_Handler(void)
{
    systick_wraps++;
}

/* The counter runs RELOAD, ..., 1, 0, RELOAD, ...; the interrupt fires as it reaches 0, so a period starts at
 * count 0 and the tick index within it is (0 - count) mod 2^24 (count 0 -> 0, RELOAD -> 1, 1 -> RELOAD). This
 * also makes the first read after start-up, when the counter still holds 0, read 0. */
uint32_t unikd_port_timer(void)
{
    uint32_t wraps, count;
    __asm__ volatile("cpsid i" ::: "memory");
    wraps = systick_wraps;
    count = SYST_CVR;
    if (SCB_ICSR & ICSR_PENDSTSET) { /* reached 0, interrupt not yet taken: count belongs to the next period */
        count = SYST_CVR;
        wraps++;
    }
    __asm__ volatile("cpsie i" ::: "memory");
    return (wraps << 24) + ((0u - count) & SYST_MAX);
}

void unikd_port_write(const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        while (UART_STATE & UART_STATE_TX_FULL) {
        }
        UART_DATA = data[i];
    }
}

int main(void)
{
    UART_BAUDDIV = 16;
    UART_CTRL = 0x3u; /* TX and RX enabled, no interrupts */
    SYST_RVR = SYST_MAX;
    SYST_CVR = 0;
    SYST_CSR = 0x7u; /* enable, interrupt on wrap, core clock */

    unikd_app_init();
    for (;;) {
        if (UART_STATE & UART_STATE_RX_FULL)
            unikd_rx_byte((uint8_t)UART_DATA, unikd_port_timer());
        else
            unikd_rx_poll(unikd_port_timer()); /* the core drops a partial frame after UNIKD_RX_GAP_MS */
    }
}
