/* qemu-m4 board glue: CMSDK UART0 (read by polling; its RX interrupt only wakes the core), SysTick as the timer,
 * CMSDK TIMER0 as the receive-gap wake-up, and the main loop, which sleeps (WFI) while no byte is waiting.
 *
 * Why it sleeps: under -icount shift=0 virtual time is the instruction count while the core runs, and QEMU lets it
 * follow real time only while the core is halted in WFI (-icount sleep=on, QEMU's default, which
 * unikd_mcu/hil/qemu.py passes explicitly). The former busy-polling loop ran about 20 M instructions per real second
 * under icount (it reads the UART's registers over and over), so the core's 500 ms receive gap took 20-30 s of real
 * silence, more on a loaded host. Halted, the board's clock follows the host's, and the gap the core measures with
 * unikd_port_timer() is real silence on the link. Inference never sleeps, so its ticks stay instructions / 40. */
#include <stdint.h>

#include "unikd_app.h"
#include "unikd_port.h"
#include "unikd_rx.h"
#include "sim_imu.h"

/* CMSDK APB UART0 */
#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_INTSTATUS (*(volatile uint32_t *)(UART0_BASE + 0x0Cu)) /* write 1 to clear */
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TX_FULL 0x1u
#define UART_STATE_RX_FULL 0x2u
#define UART_CTRL_TX_EN 0x1u
#define UART_CTRL_RX_EN 0x2u
#define UART_CTRL_RX_INTEN 0x8u
#define UART_INT_RX 0x2u

/* CMSDK APB TIMER0 (25 MHz, the SysTick's clock): counts VALUE down and raises its interrupt going 1 -> 0 */
#define TIMER0_BASE 0x40000000u
#define TIMER0_CTRL (*(volatile uint32_t *)(TIMER0_BASE + 0x00u))
#define TIMER0_RELOAD (*(volatile uint32_t *)(TIMER0_BASE + 0x08u)) /* writing it also loads VALUE */
#define TIMER0_INTCLEAR (*(volatile uint32_t *)(TIMER0_BASE + 0x0Cu))
#define TIMER_CTRL_EN 0x1u
#define TIMER_CTRL_IRQEN 0x8u

/* mps2-an385/an386 interrupt lines (QEMU hw/arm/mps2.c): UART0 RX = IRQ 0 (TX = 1), TIMER0 = IRQ 8 */
#define IRQ_UART0_RX 0u
#define IRQ_TIMER0 8u
#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100u)

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

/* Both only wake the core from WFI and run with interrupts enabled again just after it (idle()): the main loop
 * reads the byte itself. They clear their source, else the level-triggered line would re-enter at once. */
void UART0RX_Handler(void)
{
    UART_INTSTATUS = UART_INT_RX;
}

void TIMER0_Handler(void)
{
    TIMER0_INTCLEAR = 1u;
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

/* Sleep until a byte is waiting, a SysTick wrap, or (wake_ticks > 0) wake_ticks ticks from now.
 *
 * The RX interrupt is enabled only here, so a byte that arrives during an inference neither interrupts it nor is
 * lost: QEMU's UART holds one byte and takes the next from the socket only once DATA was read. It is enabled with
 * interrupts masked (cpsid) before RX_FULL is checked: a byte that arrives after the check sets the UART's
 * interrupt status and leaves its IRQ pending, and WFI returns at once on a pending interrupt even while masked.
 * Without the mask the handler could run between the check and the WFI, and the core would sleep with a byte
 * waiting. The handlers (UART RX, TIMER0, SysTick) run at cpsie, after the RX interrupt and TIMER0 are off again. */
static void idle(uint32_t wake_ticks)
{
    if (wake_ticks) {
        TIMER0_CTRL = 0;
        TIMER0_RELOAD = wake_ticks;
        TIMER0_INTCLEAR = 1u;
        TIMER0_CTRL = TIMER_CTRL_EN | TIMER_CTRL_IRQEN;
    }
    __asm__ volatile("cpsid i" ::: "memory");
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INTEN;
    if (!(UART_STATE & UART_STATE_RX_FULL))
        __asm__ volatile("dsb\n\twfi" ::: "memory");
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN;
    TIMER0_CTRL = 0;
    __asm__ volatile("cpsie i" ::: "memory");
}

int main(void)
{
    uint32_t last_byte = 0;
    int gap_pending = 0; /* a byte arrived less than UNIKD_RX_GAP_TICKS ago: the core may yet drop a partial frame */

    UART_BAUDDIV = 16;
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN; /* RX interrupt: only while asleep (idle) */
    SYST_RVR = SYST_MAX;
    SYST_CVR = 0;
    SYST_CSR = 0x7u; /* enable, interrupt on wrap, core clock */
    NVIC_ISER0 = (1u << IRQ_UART0_RX) | (1u << IRQ_TIMER0);

    qemu_sim_imu_start(); /* test images only (sim_imu.c): the simulated IMU, announced to the app as a sensor */
    unikd_app_init();
    for (;;) {
        unikd_app_poll(); /* readings in the sample ring (none without a sensor): windows, health, idle host */
        int byte_waiting = (UART_STATE & UART_STATE_RX_FULL) != 0;
        uint32_t now = unikd_port_timer();
        if (gap_pending && now - last_byte > UNIKD_RX_GAP_TICKS)
            gap_pending = 0; /* the core has seen (below, or in unikd_rx_byte) the whole gap */
        if (byte_waiting) {
            /* a byte that comes after the gap (the emulator may run the core only once it is there, before
             * TIMER0's wake-up) cannot complete the frame the gap gave up: unikd_rx_byte checks the gap first */
            unikd_rx_byte((uint8_t)UART_DATA, now);
            last_byte = now;
            gap_pending = 1;
            continue;
        }
        unikd_rx_poll(now); /* the core drops a partial frame once more than UNIKD_RX_GAP_TICKS have passed */
        /* wake at the first tick the core counts as past the gap (now - last_byte > UNIKD_RX_GAP_TICKS) */
        idle(gap_pending ? UNIKD_RX_GAP_TICKS + 1u - (now - last_byte) : 0u);
    }
}
