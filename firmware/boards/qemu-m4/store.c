/* qemu-m4 storage for the wearer's calibration: RAM the start-up code never clears (.noinit, as the boot counter),
 * so the record survives a reset of the emulated board (QEMU keeps RAM across a system reset), not a new QEMU. */
#include <string.h>

#include "unikd_port.h"

#define STORE_BYTES 256

static __attribute__((section(".noinit"))) unsigned char store[STORE_BYTES];

int unikd_port_store_read(void *data, size_t len)
{
    if (len > STORE_BYTES)
        return -1;
    memcpy(data, store, len);
    return 0; /* the caller checks the record (magic, CRC): RAM never written holds no valid one */
}

int unikd_port_store_write(const void *data, size_t len)
{
    if (len > STORE_BYTES)
        return -1;
    memcpy(store, data, len);
    return 0;
}
