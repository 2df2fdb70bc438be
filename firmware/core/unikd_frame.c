#include "unikd_frame.h"

#include <string.h>

#include "unikd_port.h"

uint16_t unikd_crc16(uint16_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    int bit;
    for (i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

void unikd_frame_write2(uint8_t type, uint16_t seq, const uint8_t *head, size_t head_len, const uint8_t *body,
                        size_t body_len)
{
    uint8_t start[UNIKD_PROTO_HEADER_BYTES];
    uint8_t tail[UNIKD_PROTO_CRC_BYTES];
    size_t len = head_len + body_len;
    uint16_t crc;

    start[0] = UNIKD_PROTO_START0;
    start[1] = UNIKD_PROTO_START1;
    start[2] = type;
    start[3] = (uint8_t)(seq & 0xFFu);
    start[4] = (uint8_t)(seq >> 8);
    start[5] = (uint8_t)(len & 0xFFu);
    start[6] = (uint8_t)(len >> 8);
    crc = unikd_crc16(0xFFFFu, start + 2, UNIKD_PROTO_HEADER_BYTES - 2);
    crc = unikd_crc16(crc, head, head_len);
    crc = unikd_crc16(crc, body, body_len);
    tail[0] = (uint8_t)(crc & 0xFFu);
    tail[1] = (uint8_t)(crc >> 8);
    unikd_port_write(start, sizeof start);
    if (head_len)
        unikd_port_write(head, head_len);
    if (body_len)
        unikd_port_write(body, body_len);
    unikd_port_write(tail, sizeof tail);
}

void unikd_frame_write(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len)
{
    unikd_frame_write2(type, seq, payload, len, NULL, 0);
}

void unikd_parser_init(unikd_parser *p, unikd_frame_handler on_frame, unikd_frame_error_handler on_error)
{
    p->len = 0;
    p->on_frame = on_frame;
    p->on_error = on_error;
}

static uint16_t get_u16(const uint8_t *b)
{
    return (uint16_t)(b[0] | (b[1] << 8));
}

/* Remove the first n held bytes, then everything up to the next possible start marker. */
static void drop(unikd_parser *p, size_t n)
{
    while (n < p->len && p->buf[n] != UNIKD_PROTO_START0)
        n++;
    if (n >= p->len) {
        p->len = 0;
        return;
    }
    memmove(p->buf, p->buf + n, p->len - n);
    p->len -= n;
}

/* Consume as many complete frames as the held bytes allow. */
static void process(unikd_parser *p)
{
    for (;;) {
        uint16_t plen, crc;
        size_t total;

        if (p->len == 0)
            return;
        if (p->buf[0] != UNIKD_PROTO_START0 || (p->len >= 2 && p->buf[1] != UNIKD_PROTO_START1)) {
            drop(p, 1);
            continue;
        }
        if (p->len < UNIKD_PROTO_HEADER_BYTES)
            return;
        plen = get_u16(p->buf + 5);
        if (plen > UNIKD_PROTO_MAX_PAYLOAD) {
            p->on_error(UNIKD_ERR_TOO_LONG, p->buf[2], get_u16(p->buf + 3), plen);
            drop(p, 1);
            continue;
        }
        total = (size_t)UNIKD_PROTO_HEADER_BYTES + plen + UNIKD_PROTO_CRC_BYTES;
        if (p->len < total)
            return;
        crc = unikd_crc16(0xFFFFu, p->buf + 2, total - 2 - UNIKD_PROTO_CRC_BYTES);
        if (crc != get_u16(p->buf + total - UNIKD_PROTO_CRC_BYTES)) {
            p->on_error(UNIKD_ERR_BAD_CRC, p->buf[2], get_u16(p->buf + 3),
                        get_u16(p->buf + total - UNIKD_PROTO_CRC_BYTES));
            drop(p, 1);
            continue;
        }
        p->on_frame(p->buf[2], get_u16(p->buf + 3), p->buf + UNIKD_PROTO_HEADER_BYTES, plen);
        drop(p, total);
    }
}

void unikd_parser_feed(unikd_parser *p, uint8_t b)
{
    if (p->len == 0 && b != UNIKD_PROTO_START0)
        return; /* the common case between frames: skip without touching the buffer */
    p->buf[p->len++] = b;
    process(p);
}

int unikd_parser_drop_partial(unikd_parser *p)
{
    int had = p->len != 0;
    /* Give up the frame the held bytes begin with, then rescan the rest as after a bad frame: a frame that arrived
     * whole behind a truncated one is still answered, and any partial frame left after it goes too. */
    while (p->len != 0) {
        drop(p, 1);
        process(p);
    }
    return had;
}
