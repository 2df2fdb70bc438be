/* Serial payloads, the hand-written half: little-endian scalars and length-prefixed strings, and the macros that
 * turn the part lists of unikd_protocol.h (generated from PAYLOADS in unikd_mcu/hil/protocol.py) into each
 * payload's struct and put or get function. Nothing here knows a layout: field order and widths live only in the
 * generated lists, whose entries are X(category, type, name) with category scalar, str, strs (strings up to the
 * end of the payload) or array (sent or read by the caller through the generated _OFFSET and _ELEM_BYTES). */
#ifndef UNIKD_WIRE_H
#define UNIKD_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t unikd_wire_u8;
typedef int8_t unikd_wire_i8;
typedef uint16_t unikd_wire_u16;
typedef uint32_t unikd_wire_u32;
typedef float unikd_wire_f32;
/* an f32 travels as the bit pattern of an IEEE-754 single; each scalar's C size is its width on the wire */
typedef char unikd_wire_float_is_32_bits[(sizeof(float) == 4) ? 1 : -1];

/* Byte by byte, so the target's own byte order and alignment never matter. */
static inline uint8_t *unikd_wire_put_u8(uint8_t *p, uint8_t v)
{
    *p = v;
    return p + 1;
}
static inline uint8_t *unikd_wire_put_i8(uint8_t *p, int8_t v)
{
    return unikd_wire_put_u8(p, (uint8_t)v);
}
static inline uint8_t *unikd_wire_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}
static inline uint8_t *unikd_wire_put_u32(uint8_t *p, uint32_t v)
{
    p = unikd_wire_put_u16(p, (uint16_t)(v & 0xFFFFu));
    return unikd_wire_put_u16(p, (uint16_t)(v >> 16));
}
static inline uint8_t *unikd_wire_put_f32(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return unikd_wire_put_u32(p, u);
}
/* u8 length, then the bytes (at most 255). A string that does not fit before `end` is left out rather than
 * overrunning the buffer: the host then sees it missing. */
static inline uint8_t *unikd_wire_put_str(uint8_t *p, const uint8_t *end, const char *s)
{
    size_t n = strlen(s);
    if (n > 255)
        n = 255;
    if ((size_t)(end - p) < 1 + n)
        return p;
    *p++ = (uint8_t)n;
    memcpy(p, s, n);
    return p + n;
}
static inline uint8_t *unikd_wire_put_strs(uint8_t *p, const uint8_t *end, const char *const *s, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++)
        p = unikd_wire_put_str(p, end, s[i]);
    return p;
}

static inline uint8_t unikd_wire_get_u8(const uint8_t *b)
{
    return b[0];
}
static inline int8_t unikd_wire_get_i8(const uint8_t *b)
{
    return (int8_t)(b[0] < 128 ? b[0] : b[0] - 256); /* no implementation-defined conversion */
}
static inline uint16_t unikd_wire_get_u16(const uint8_t *b)
{
    return (uint16_t)(b[0] | (b[1] << 8));
}
static inline uint32_t unikd_wire_get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}
static inline float unikd_wire_get_f32(const uint8_t *b)
{
    uint32_t u = unikd_wire_get_u32(b);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* One struct member per part; an array has none (it stays in the caller's buffer). */
#define UNIKD_WIRE_MEMBER(cat, type, name) UNIKD_WIRE_MEMBER_##cat(type, name)
#define UNIKD_WIRE_MEMBER_scalar(type, name) unikd_wire_##type name;
#define UNIKD_WIRE_MEMBER_str(type, name) const char *name;
#define UNIKD_WIRE_MEMBER_strs(type, name) const char *const *name; size_t name##_count;
#define UNIKD_WIRE_MEMBER_array(type, name)

/* Writing a reply, in the list's order. */
#define UNIKD_WIRE_PUT(cat, type, name) UNIKD_WIRE_PUT_##cat(type, name)
#define UNIKD_WIRE_PUT_scalar(type, name) p = unikd_wire_put_##type(p, v->name);
#define UNIKD_WIRE_PUT_str(type, name) p = unikd_wire_put_str(p, end, v->name);
#define UNIKD_WIRE_PUT_strs(type, name) p = unikd_wire_put_strs(p, end, v->name, v->name##_count);
#define UNIKD_WIRE_PUT_array(type, name)

/* Reading a request's head, in the list's order (requests carry no strings: protocol.py refuses them). */
#define UNIKD_WIRE_GET(cat, type, name) UNIKD_WIRE_GET_##cat(type, name)
#define UNIKD_WIRE_GET_scalar(type, name)                                                                         \
    v->name = unikd_wire_get_##type(payload);                                                                     \
    payload += sizeof(unikd_wire_##type);
#define UNIKD_WIRE_GET_array(type, name)

/* unikd_pl_<name> and unikd_pl_put_<name>(p, end, v) -> p past the written bytes: head and strings; the array
 * tail, if any, goes out as the frame's second part (unikd_frame_write2). */
#define UNIKD_WIRE_REPLY(name, PARTS)                                                                             \
    typedef struct {                                                                                              \
        PARTS(UNIKD_WIRE_MEMBER)                                                                                  \
    } unikd_pl_##name;                                                                                            \
    static inline uint8_t *unikd_pl_put_##name(uint8_t *p, const uint8_t *end, const unikd_pl_##name *v)          \
    {                                                                                                             \
        (void)end; /* only strings need it */                                                                     \
        PARTS(UNIKD_WIRE_PUT)                                                                                     \
        return p;                                                                                                 \
    }

/* unikd_pl_<name> and unikd_pl_get_<name>(payload, v): the request's head; check its length first. */
#define UNIKD_WIRE_REQUEST(name, PARTS)                                                                           \
    typedef struct {                                                                                              \
        PARTS(UNIKD_WIRE_MEMBER)                                                                                  \
    } unikd_pl_##name;                                                                                            \
    static inline void unikd_pl_get_##name(const uint8_t *payload, unikd_pl_##name *v)                            \
    {                                                                                                             \
        PARTS(UNIKD_WIRE_GET)                                                                                     \
    }

/* unikd_pl_<name>_<part>_at(payload, i): element i of a request's array. */
#define UNIKD_WIRE_ARRAY_AT(name, part, type, offset)                                                             \
    static inline unikd_wire_##type unikd_pl_##name##_##part##_at(const uint8_t *payload, size_t i)               \
    {                                                                                                             \
        return unikd_wire_get_##type(payload + (offset) + sizeof(unikd_wire_##type) * i);                         \
    }

#endif /* UNIKD_WIRE_H */
