#include "unikd_app.h"

#include <string.h>

#include "unikd_frame.h"
#include "unikd_model_meta.h"
#include "unikd_port.h"
#include "unikd_protocol.h"
#include "unikd_runtime.h"
#include "unikd_window.h"

/* Payload layouts come from unikd_protocol.h, generated from PAYLOADS in unikd_mcu/hil/protocol.py: this file
 * fills the generated structs by field name and never restates a field's order, offset or width. */

#define BOOT_MAGIC 0x554B4231u /* "UKB1": the boot counter below holds a value from an earlier boot */
#define TX_MAX 512 /* heads and strings of replies; array tails go out from their own buffers */
#define TX_END (tx + TX_MAX)

/* Compile-time checks (a negative array size fails the build). */
/* the largest reply is the window dump: its head, then the quantised window */
typedef char unikd_window_fits_in_a_frame[
    (UNIKD_PL_WINDOW_DATA_HEAD_BYTES + UNIKD_INPUT_BYTES * UNIKD_PL_WINDOW_DATA_WINDOW_ELEM_BYTES
     <= UNIKD_PROTO_MAX_PAYLOAD) ? 1 : -1];
typedef char unikd_classes_fit_in_a_byte[(UNIKD_NUM_CLASSES <= 255 && UNIKD_OUTPUT_BYTES == UNIKD_NUM_CLASSES)
                                             ? 1 : -1];
/* int8 arrays (a window in, the outputs and the window dump out) are copied as bytes: one byte per value */
typedef char unikd_int8_arrays[(UNIKD_PL_WINDOW_INPUT_ELEM_BYTES == 1 && UNIKD_PL_RESULT_OUTPUTS_ELEM_BYTES == 1
                                && UNIKD_PL_STREAM_RESULT_OUTPUTS_ELEM_BYTES == 1
                                && UNIKD_PL_WINDOW_DATA_WINDOW_ELEM_BYTES == 1) ? 1 : -1];
/* the hello's fixed head leaves room for its strings */
typedef char unikd_hello_head_fits[(UNIKD_PL_HELLO_HEAD_BYTES < TX_MAX) ? 1 : -1];

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

static void send_error(uint16_t seq, uint8_t code, uint8_t type, uint16_t detail)
{
    const unikd_pl_error e = {.code = code, .offending_type = type, .detail = detail};
    unikd_frame_write(UNIKD_MSG_ERROR, seq, tx, (size_t)(unikd_pl_put_error(tx, TX_END, &e) - tx));
}

static void send_hello(uint16_t seq, uint8_t flags)
{
    const unikd_pl_hello h = {
        .protocol_version = UNIKD_PROTO_VERSION,
        .timer_unit = UNIKD_PORT_TIMER_UNIT,
        .max_payload = UNIKD_PROTO_MAX_PAYLOAD,
        .boot_count = boot_count,
        .window = UNIKD_WINDOW,
        .channels = UNIKD_CHANNELS,
        .stride = UNIKD_STRIDE,
        .num_classes = UNIKD_NUM_CLASSES,
        .input_scale = UNIKD_INPUT_SCALE,
        .input_zero_point = (int8_t)UNIKD_INPUT_ZERO_POINT,
        .output_scale = UNIKD_OUTPUT_SCALE,
        .output_zero_point = (int8_t)UNIKD_OUTPUT_ZERO_POINT,
        .sample_rate_hz = UNIKD_SAMPLE_RATE_HZ,
        .runtime_ram_bytes = (uint32_t)unikd_runtime_ram_bytes(),
        .flags = (uint8_t)(flags | (runtime_ok ? UNIKD_PROTO_HELLO_FLAG_RUNTIME_OK : 0)),
        .firmware_version = UNIKD_FIRMWARE_VERSION,
        .runtime = UNIKD_RUNTIME_NAME,
        .model_hash = UNIKD_MODEL_HASH,
        .class_names = class_names,
        .class_names_count = UNIKD_NUM_CLASSES,
    };
    uint8_t *end = unikd_pl_put_hello(tx, TX_END, &h);
    unikd_frame_write(UNIKD_MSG_HELLO, seq, tx, (size_t)(end - tx));
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
    uint8_t *p;

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
    if (with_end) {
        const unikd_pl_stream_result r = {.end = end, .predicted = cls, .status = status, .ticks = ticks};
        p = unikd_pl_put_stream_result(tx, TX_END, &r);
    } else {
        const unikd_pl_result r = {.predicted = cls, .status = status, .ticks = ticks};
        p = unikd_pl_put_result(tx, TX_END, &r);
    }
    /* the outputs are the payload's tail, sent from their own buffer */
    unikd_frame_write2(type, seq, tx, (size_t)(p - tx), (const uint8_t *)output, UNIKD_OUTPUT_BYTES);
}

static void on_frame(uint8_t type, uint16_t seq, const uint8_t *payload, uint16_t len)
{
    switch (type) {
    case UNIKD_MSG_HELLO_REQ:
        if (len != UNIKD_PL_HELLO_REQ_HEAD_BYTES) { /* declared empty: a payload means a garbled request */
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        send_hello(seq, 0);
        break;
    case UNIKD_MSG_PING:
        unikd_frame_write(UNIKD_MSG_PONG, seq, payload, len);
        break;
    case UNIKD_MSG_WINDOW:
        if (len != UNIKD_PL_WINDOW_HEAD_BYTES + UNIKD_INPUT_BYTES * UNIKD_PL_WINDOW_INPUT_ELEM_BYTES) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        memcpy(input, payload + UNIKD_PL_WINDOW_INPUT_OFFSET, UNIKD_INPUT_BYTES);
        report(UNIKD_MSG_RESULT, seq, 0, 0);
        break;
    case UNIKD_MSG_SAMPLES: {
        /* u32 index of the first sample, then k samples. Samples the device already holds (a retried request)
         * are skipped and a gap is refused, so every sample enters the window exactly once; the ack tells the
         * host which index the device expects next. */
        const size_t sample_bytes = (size_t)UNIKD_PL_SAMPLES_VALUES_ELEM_BYTES * UNIKD_CHANNELS;
        float sample[UNIKD_CHANNELS];
        unikd_pl_samples req;
        unikd_pl_samples_ack ack;
        uint32_t next, i, n;
        int c;
        if (len < UNIKD_PL_SAMPLES_HEAD_BYTES || (len - UNIKD_PL_SAMPLES_HEAD_BYTES) % sample_bytes != 0) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        unikd_pl_get_samples(payload, &req);
        n = (uint32_t)((len - UNIKD_PL_SAMPLES_HEAD_BYTES) / sample_bytes);
        next = stream_base + window.count;
        stream_seq = seq;
        stream_results = 0;
        if (req.first <= next) {
            for (i = next - req.first; i < n; i++) {
                for (c = 0; c < UNIKD_CHANNELS; c++)
                    sample[c] = unikd_pl_samples_values_at(payload, (size_t)i * UNIKD_CHANNELS + (size_t)c);
                unikd_app_push_sample(sample);
            }
        }
        stream_seq = UNIKD_PROTO_BOOT_SEQ; /* later results come from the board's own sensor, if any */
        ack.next = stream_base + window.count;
        ack.results = stream_results;
        unikd_frame_write(UNIKD_MSG_SAMPLES_ACK, seq, tx, (size_t)(unikd_pl_put_samples_ack(tx, TX_END, &ack) - tx));
        break;
    }
    case UNIKD_MSG_WINDOW_DUMP: {
        /* the window exactly as the device quantised it: lets the host check quantisation on the target */
        unikd_pl_window_data head;
        uint8_t *p;
        if (len != UNIKD_PL_WINDOW_DUMP_HEAD_BYTES) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        unikd_window_copy(&window, input);
        head.end = stream_base + window.count;
        p = unikd_pl_put_window_data(tx, TX_END, &head);
        unikd_frame_write2(UNIKD_MSG_WINDOW_DATA, seq, tx, (size_t)(p - tx), (const uint8_t *)input,
                           UNIKD_INPUT_BYTES);
        break;
    }
    case UNIKD_MSG_STREAM_RESET: {
        unikd_pl_stream_reset req;
        unikd_pl_ack ack;
        if (len != UNIKD_PL_STREAM_RESET_HEAD_BYTES) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        unikd_pl_get_stream_reset(payload, &req);
        stream_base = req.next;
        unikd_window_reset(&window);
        ack.next = stream_base;
        unikd_frame_write(UNIKD_MSG_ACK, seq, tx, (size_t)(unikd_pl_put_ack(tx, TX_END, &ack) - tx));
        break;
    }
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
