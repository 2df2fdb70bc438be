/* Serial frames (layout in unikd_protocol.h and docs/protocol.md): CRC, encoder and a resynchronising parser. */
#ifndef UNIKD_FRAME_H
#define UNIKD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "unikd_protocol.h"

#define UNIKD_FRAME_MAX_BYTES (UNIKD_PROTO_HEADER_BYTES + UNIKD_PROTO_MAX_PAYLOAD + UNIKD_PROTO_CRC_BYTES)

uint16_t unikd_crc16(uint16_t crc, const uint8_t *data, size_t len);

/* Write one frame through unikd_port_write (header, payload, CRC); no buffer of the whole frame is needed. */
void unikd_frame_write(uint8_t type, uint16_t seq, const uint8_t *payload, size_t len);
/* The same with the payload in two parts (head then body), sent as one frame. */
void unikd_frame_write2(uint8_t type, uint16_t seq, const uint8_t *head, size_t head_len, const uint8_t *body,
                        size_t body_len);

/* Called for every good frame; payload stays valid until the callback returns. */
typedef void (*unikd_frame_handler)(uint8_t type, uint16_t seq, const uint8_t *payload, uint16_t len);
/* Called for every frame that is dropped (UNIKD_ERR_BAD_CRC or UNIKD_ERR_TOO_LONG) with its header fields. */
typedef void (*unikd_frame_error_handler)(uint8_t code, uint8_t type, uint16_t seq, uint16_t detail);

typedef struct {
    uint8_t buf[UNIKD_FRAME_MAX_BYTES];
    size_t len;
    unikd_frame_handler on_frame;
    unikd_frame_error_handler on_error;
} unikd_parser;

void unikd_parser_init(unikd_parser *p, unikd_frame_handler on_frame, unikd_frame_error_handler on_error);
/* Feed one received byte. Bytes outside frames are skipped; after a bad frame the parser rescans the bytes it
 * holds from just after that frame's start marker, so a frame that arrived inside a truncated one is kept. */
void unikd_parser_feed(unikd_parser *p, uint8_t b);
/* Drop a partial frame (the board calls this after a gap in the received bytes); complete frames held behind it
 * are handled as after a bad frame. Returns 1 if one was dropped. */
int unikd_parser_drop_partial(unikd_parser *p);

#endif /* UNIKD_FRAME_H */
