#include "unikd_app.h"

#include <string.h>

#include "unikd_frame.h"
#include "unikd_model_meta.h"
#include "unikd_port.h"
#include "unikd_protocol.h"
#include "unikd_runtime.h"
#include "unikd_window.h"

/* Compile-time checks (a negative array size fails the build). */
/* the largest reply is the window dump: a 4-byte sample index, then the quantised window */
typedef char unikd_window_fits_in_a_frame[(UNIKD_INPUT_BYTES + 4 <= UNIKD_PROTO_MAX_PAYLOAD) ? 1 : -1];
typedef char unikd_classes_fit_in_a_byte[(UNIKD_NUM_CLASSES <= 255 && UNIKD_OUTPUT_BYTES == UNIKD_NUM_CLASSES)
                                             ? 1 : -1];

#define BOOT_MAGIC 0x554B4231u /* "UKB1": the boot counter below holds a value from an earlier boot */
#define TX_MAX 512

static UNIKD_NOINIT uint32_t boot_magic;
static UNIKD_NOINIT uint32_t boot_count;

static unikd_parser parser;
static unikd_window window;
static int8_t input[UNIKD_INPUT_BYTES];
static int8_t output[UNIKD_OUTPUT_BYTES];
static uint8_t tx[TX_MAX];
static int runtime_ok;
static uint32_t stream_base;     /* index of the first sample after the last stream reset */
static uint16_t stream_seq = UNIKD_PROTO_BOOT_SEQ; /* SAMPLES request being handled, else BOOT_SEQ */
static uint16_t stream_results;  /* results sent while handling the current SAMPLES request */
static volatile int32_t invoke_status; /* volatile: keeps the timer reads around the invoke call */

static const char *const class_names[UNIKD_NUM_CLASSES] = UNIKD_CLASS_NAMES_INIT;

static uint8_t *put_u16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    return p + 2;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    p = put_u16(p, v & 0xFFFFu);
    return put_u16(p, v >> 16);
}

static uint8_t *put_f32(uint8_t *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    return put_u32(p, v);
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    if (n > 255)
        n = 255;
    if ((size_t)(p - tx) + 1 + n > TX_MAX)
        return p; /* never overrun the reply buffer; the host sees the missing string */
    *p++ = (uint8_t)n;
    memcpy(p, s, n);
    return p + n;
}

static uint32_t get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static float get_f32(const uint8_t *b)
{
    uint32_t v = get_u32(b);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

static void send_error(uint16_t seq, uint8_t code, uint8_t type, uint16_t detail)
{
    uint8_t *p = tx;
    *p++ = code;
    *p++ = type;
    p = put_u16(p, detail);
    unikd_frame_write(UNIKD_MSG_ERROR, seq, tx, (size_t)(p - tx));
}

static void send_hello(uint16_t seq, uint8_t flags)
{
    uint8_t *p = tx;
    int i;
    *p++ = UNIKD_PROTO_VERSION;
    *p++ = UNIKD_PORT_TIMER_UNIT;
    p = put_u16(p, UNIKD_PROTO_MAX_PAYLOAD);
    p = put_u32(p, boot_count);
    p = put_u16(p, UNIKD_WINDOW);
    p = put_u16(p, UNIKD_CHANNELS);
    p = put_u16(p, UNIKD_STRIDE);
    p = put_u16(p, UNIKD_NUM_CLASSES);
    p = put_f32(p, UNIKD_INPUT_SCALE);
    *p++ = (uint8_t)(int8_t)UNIKD_INPUT_ZERO_POINT;
    p = put_f32(p, UNIKD_OUTPUT_SCALE);
    *p++ = (uint8_t)(int8_t)UNIKD_OUTPUT_ZERO_POINT;
    p = put_f32(p, UNIKD_SAMPLE_RATE_HZ);
    p = put_u32(p, (uint32_t)unikd_runtime_ram_bytes());
    *p++ = (uint8_t)(flags | (runtime_ok ? UNIKD_PROTO_HELLO_FLAG_RUNTIME_OK : 0));
    p = put_str(p, UNIKD_FIRMWARE_VERSION);
    p = put_str(p, UNIKD_RUNTIME_NAME);
    p = put_str(p, UNIKD_MODEL_HASH);
    for (i = 0; i < UNIKD_NUM_CLASSES; i++)
        p = put_str(p, class_names[i]);
    unikd_frame_write(UNIKD_MSG_HELLO, seq, tx, (size_t)(p - tx));
}

/* Run the model on `input`; returns the predicted class (first maximum) and the ticks it took. */
static uint8_t infer(uint32_t *ticks)
{
    uint32_t t0, t1;
    uint8_t best = 0;
    int i;
    t0 = unikd_port_timer();
    invoke_status = unikd_runtime_invoke(input, output);
    t1 = unikd_port_timer();
    *ticks = t1 - t0;
    for (i = 1; i < UNIKD_NUM_CLASSES; i++)
        if (output[i] > output[best])
            best = (uint8_t)i;
    return best;
}

/* RESULT / STREAM_RESULT after an inference. A failed or impossible inference still gets its reply (status =
 * UNIKD_ERR_RUNTIME or UNIKD_ERR_NOT_READY, class 0xFF, ticks = invoke's return code), so the host can account
 * for that window by its sequence number or sample index. */
static void report(uint8_t type, uint16_t seq, int with_end, uint32_t end)
{
    uint32_t ticks = 0;
    uint8_t cls = 0xFFu, status = UNIKD_ERR_NOT_READY;
    uint8_t *p = tx;

    memset(output, 0, sizeof output);
    if (runtime_ok) {
        cls = infer(&ticks);
        status = 0;
        if (invoke_status != 0) {
            cls = 0xFFu;
            status = UNIKD_ERR_RUNTIME;
            ticks = (uint32_t)invoke_status;
        }
    }
    if (with_end)
        p = put_u32(p, end);
    *p++ = cls;
    *p++ = status;
    p = put_u32(p, ticks);
    memcpy(p, output, UNIKD_OUTPUT_BYTES);
    p += UNIKD_OUTPUT_BYTES;
    unikd_frame_write(type, seq, tx, (size_t)(p - tx));
}

static void on_frame(uint8_t type, uint16_t seq, const uint8_t *payload, uint16_t len)
{
    switch (type) {
    case UNIKD_MSG_HELLO_REQ:
        send_hello(seq, 0);
        break;
    case UNIKD_MSG_PING:
        unikd_frame_write(UNIKD_MSG_PONG, seq, payload, len);
        break;
    case UNIKD_MSG_WINDOW:
        if (len != UNIKD_INPUT_BYTES) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        memcpy(input, payload, UNIKD_INPUT_BYTES);
        report(UNIKD_MSG_RESULT, seq, 0, 0);
        break;
    case UNIKD_MSG_SAMPLES: {
        /* u32 index of the first sample, then k samples. Samples the device already holds (a retried request)
         * are skipped and a gap is refused, so every sample enters the window exactly once; the ack tells the
         * host which index the device expects next. */
        float sample[UNIKD_CHANNELS];
        uint32_t first, next, i, n;
        int c;
        uint8_t *p;
        if (len < 4 || (len - 4u) % (4u * UNIKD_CHANNELS) != 0) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        first = get_u32(payload);
        n = (uint32_t)(len - 4u) / (4u * UNIKD_CHANNELS);
        next = stream_base + window.count;
        stream_seq = seq;
        stream_results = 0;
        if (first <= next) {
            for (i = next - first; i < n; i++) {
                for (c = 0; c < UNIKD_CHANNELS; c++)
                    sample[c] = get_f32(payload + 4u + 4u * ((size_t)i * UNIKD_CHANNELS + (size_t)c));
                unikd_app_push_sample(sample);
            }
        }
        stream_seq = UNIKD_PROTO_BOOT_SEQ; /* later results come from the board's own sensor, if any */
        p = put_u32(tx, stream_base + window.count);
        p = put_u16(p, stream_results);
        unikd_frame_write(UNIKD_MSG_SAMPLES_ACK, seq, tx, (size_t)(p - tx));
        break;
    }
    case UNIKD_MSG_WINDOW_DUMP:
        /* the window exactly as the device quantised it: lets the host check quantisation on the target */
        if (len != 0) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        unikd_window_copy(&window, input);
        put_u32(tx, stream_base + window.count);
        unikd_frame_write2(UNIKD_MSG_WINDOW_DATA, seq, tx, 4, (const uint8_t *)input, UNIKD_INPUT_BYTES);
        break;
    case UNIKD_MSG_STREAM_RESET:
        if (len != 4) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        stream_base = get_u32(payload);
        unikd_window_reset(&window);
        put_u32(tx, stream_base);
        unikd_frame_write(UNIKD_MSG_ACK, seq, tx, 4);
        break;
    default:
        send_error(seq, UNIKD_ERR_UNKNOWN_TYPE, type, len);
        break;
    }
}

static void on_frame_error(uint8_t code, uint8_t type, uint16_t seq, uint16_t detail)
{
    send_error(seq, code, type, detail);
}

void unikd_app_init(void)
{
    if (boot_magic != BOOT_MAGIC) {
        boot_magic = BOOT_MAGIC;
        boot_count = 0;
    }
    boot_count++;
    unikd_parser_init(&parser, on_frame, on_frame_error);
    unikd_window_reset(&window);
    stream_base = 0;
    runtime_ok = unikd_runtime_init() == 0;
    send_hello(UNIKD_PROTO_BOOT_SEQ, UNIKD_PROTO_HELLO_FLAG_BOOT);
}

void unikd_app_feed_byte(uint8_t b)
{
    unikd_parser_feed(&parser, b);
}

int unikd_app_rx_gap(void)
{
    return unikd_parser_drop_partial(&parser);
}

int unikd_app_push_sample(const float *sample)
{
    unikd_window_push(&window, sample);
    if (!unikd_window_due(&window))
        return 0;
    unikd_window_copy(&window, input);
    report(UNIKD_MSG_STREAM_RESULT, stream_seq, 1, stream_base + window.count);
    stream_results++;
    return 1;
}
