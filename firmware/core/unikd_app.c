#include "unikd_app.h"

#include <string.h>

#include "unikd_calib.h"
#include "unikd_frame.h"
#include "unikd_model_meta.h"
#include "unikd_port.h"
#include "unikd_protocol.h"
#include "unikd_runtime.h"
#include "unikd_rx.h"
#include "unikd_sampler.h"
#include "unikd_sensor.h"
#include "unikd_window.h"

/* Payload layouts come from unikd_protocol.h, generated from PAYLOADS in unikd_mcu/hil/protocol.py: this file
 * fills the generated structs by field name and never restates a field's order, offset or width. */

#define BOOT_MAGIC 0x554B4231u /* "UKB1": the boot counter below holds a value from an earlier boot */
#define TX_MAX 512 /* heads and strings of replies; array tails go out from their own buffers */
#define TX_END (tx + TX_MAX)
#define LOG_PERIOD_MS 10000u       /* sensor counters that changed are logged at most this often */
#define CALIB_SAVE_EVERY 30000u    /* the wearer's statistics are stored again every this many samples (10 min) */
#define HOST_IDLE_TICKS ((uint32_t)UNIKD_HOST_IDLE_MS * UNIKD_RX_TICKS_PER_MS)
#define LOG_PERIOD_TICKS ((uint32_t)LOG_PERIOD_MS * UNIKD_RX_TICKS_PER_MS)

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
/* the hello's fixed head leaves room for its strings; the status fits whole */
typedef char unikd_hello_head_fits[(UNIKD_PL_HELLO_HEAD_BYTES < TX_MAX) ? 1 : -1];
typedef char unikd_status_fits[(UNIKD_PL_STATUS_HEAD_BYTES + 2 * UNIKD_CHANNELS * UNIKD_PL_STATUS_NORM_ELEM_BYTES
                                <= TX_MAX) ? 1 : -1];
#if UNIKD_HOST_IDLE_MS > 4294967295 / UNIKD_RX_TICKS_PER_MS
#error "UNIKD_HOST_IDLE_MS does not fit the 32-bit timer at this board's tick rate"
#endif

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

/* Who feeds the stream window (UNIKD_MODE_*): the board's sensor, or the host's SAMPLES. Switching restarts the
 * window, so no window mixes the two and no host sample index ever counts a sensor reading. */
static uint8_t mode = UNIKD_MODE_SENSOR;
static uint8_t sensor_state = UNIKD_SENSOR_NONE;
static unikd_sensor front_end;
static unikd_calib wearer;       /* the wearer's calibration: sensor mode, stored where the board can */
static unikd_calib host_cal;     /* the host session's: host mode, off when a session starts */
static uint8_t wearer_stored;    /* the wearer's statistics came from or went to storage */
static uint32_t wearer_saved_at; /* wearer.seen when last stored */
static uint32_t sensor_windows;
static uint32_t ignored;         /* sensor readings dropped in host mode */
static uint32_t last_host_frame; /* timer at the last valid host frame */
static uint32_t last_log;
static uint32_t logged_sum;      /* sum of the sensor's loss counters at the last LOG line */

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
        .mode = mode,
        .sensor_state = sensor_state,
        .calib_state = wearer.state,
        .calib_samples = wearer.seen,
        .firmware_version = UNIKD_FIRMWARE_VERSION,
        .runtime = UNIKD_RUNTIME_NAME,
        .model_hash = UNIKD_MODEL_HASH,
        .class_names = class_names,
        .class_names_count = UNIKD_NUM_CLASSES,
    };
    uint8_t *end = unikd_pl_put_hello(tx, TX_END, &h);
    unikd_frame_write(UNIKD_MSG_HELLO, seq, tx, (size_t)(end - tx));
}

/* ---- log lines, status ------------------------------------------------------------------------------------ */

static char *put_text(char *p, const char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

static char *put_u32(char *p, const char *end, uint32_t v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n && p < end)
        *p++ = digits[--n];
    return p;
}

static const char *sensor_state_text(uint8_t s)
{
    switch (s) {
    case UNIKD_SENSOR_NONE: return "none (samples over serial)";
    case UNIKD_SENSOR_OK: return "ok";
    case UNIKD_SENSOR_ABSENT: return "ABSENT: nothing answered on the bus";
    case UNIKD_SENSOR_WRONG_ID: return "WRONG ID: another part or board revision (check the board profile's sensor)";
    case UNIKD_SENSOR_CONFIG_FAILED: return "CONFIG FAILED: the part answered but refused its settings";
    case UNIKD_SENSOR_LOST: return "LOST: reads failing";
    default: return "unknown";
    }
}

/* A LOG frame: "<what>; sensor <state>; samples N, overruns N, missed N, late N, repeated N, read failures N". */
static void send_log(const char *what)
{
    char text[200];
    const char *end = text + sizeof text - 1;
    unikd_sampler_counters k;
    char *p = text;
    int i;
    unikd_sampler_counters_get(&k);
    p = put_text(p, end, what);
    p = put_text(p, end, "; sensor ");
    p = put_text(p, end, sensor_state_text(sensor_state));
    p = put_text(p, end, "; samples ");
    p = put_u32(p, end, k.samples);
    {
        const char *const names[5] = {", overruns ", ", missed ", ", late ", ", repeated ", ", read failures "};
        const uint32_t values[5] = {k.overruns, k.missed, k.late, k.repeated, k.read_failures};
        for (i = 0; i < 5; i++) {
            p = put_text(p, end, names[i]);
            p = put_u32(p, end, values[i]);
        }
    }
    *p = '\0';
    {
        const unikd_pl_log l = {.text = text};
        unikd_frame_write(UNIKD_MSG_LOG, UNIKD_PROTO_BOOT_SEQ, tx, (size_t)(unikd_pl_put_log(tx, TX_END, &l) - tx));
    }
    last_log = unikd_port_timer();
    logged_sum = k.overruns + k.missed + k.late + k.repeated + k.read_failures;
}

static unikd_calib *active_calib(void)
{
    return mode == UNIKD_MODE_HOST ? &host_cal : &wearer;
}

static void send_status(uint16_t seq)
{
    unikd_sampler_counters k;
    const unikd_calib *cal = active_calib();
    uint8_t *p;
    int c;
    unikd_sampler_counters_get(&k);
    {
        const unikd_pl_status st = {
            .mode = mode,
            .sensor_state = sensor_state,
            .calib_state = wearer.state,
            .host_calib_state = host_cal.state,
            .calib_stored = wearer_stored,
            .calib_samples = wearer.seen,
            .host_calib_samples = host_cal.seen,
            .calib_warmup = UNIKD_CALIB_WARMUP,
            .calib_refresh = UNIKD_CALIB_REFRESH,
            .sensor_samples = k.samples,
            .sensor_windows = sensor_windows,
            .overruns = k.overruns,
            .missed = k.missed,
            .late = k.late,
            .repeated = k.repeated,
            .read_failures = k.read_failures,
            .ignored = ignored,
        };
        p = unikd_pl_put_status(tx, TX_END, &st);
    }
    for (c = 0; c < UNIKD_CHANNELS; c++)
        p = unikd_wire_put_f32(p, cal->use_mean[c]);
    for (c = 0; c < UNIKD_CHANNELS; c++)
        p = unikd_wire_put_f32(p, cal->use_inv_std[c]);
    unikd_frame_write(UNIKD_MSG_STATUS, seq, tx, (size_t)(p - tx));
}

static void save_wearer(void)
{
    wearer_saved_at = wearer.seen;
    if (unikd_calib_save(&wearer) == 0)
        wearer_stored = 1;
}

/* Give the window to `m`: the window restarts (no window mixes sensor and host samples), a host session's
 * calibration ends (the next session starts with it off) and, back to the sensor, the front end restarts its
 * gravity estimate after the interruption. */
static void enter_mode(uint8_t m)
{
    mode = m;
    stream_base = 0;
    unikd_window_reset(&window);
    unikd_calib_reset(&host_cal, 0);
    if (m == UNIKD_MODE_SENSOR)
        front_end.have_gravity = 0;
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
    last_host_frame = unikd_port_timer();
    if ((type == UNIKD_MSG_SAMPLES || type == UNIKD_MSG_STREAM_RESET) && mode != UNIKD_MODE_HOST)
        enter_mode(UNIKD_MODE_HOST); /* the host drives the stream from now on: the sensor's window is gone */
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
    case UNIKD_MSG_STATUS_REQ:
        if (len != UNIKD_PL_STATUS_REQ_HEAD_BYTES) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        send_status(seq);
        break;
    case UNIKD_MSG_MODE: {
        unikd_pl_mode req;
        if (len != UNIKD_PL_MODE_HEAD_BYTES) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        unikd_pl_get_mode(payload, &req);
        if (req.mode != UNIKD_MODE_SENSOR && req.mode != UNIKD_MODE_HOST) {
            send_error(seq, UNIKD_ERR_BAD_VALUE, type, req.mode);
            break;
        }
        enter_mode(req.mode);
        send_status(seq);
        break;
    }
    case UNIKD_MSG_CALIB: {
        unikd_pl_calib req;
        unikd_calib *k;
        if (len != UNIKD_PL_CALIB_HEAD_BYTES) {
            send_error(seq, UNIKD_ERR_BAD_LENGTH, type, len);
            break;
        }
        unikd_pl_get_calib(payload, &req);
        if (req.context > UNIKD_CALIB_CTX_HOST) {
            send_error(seq, UNIKD_ERR_BAD_VALUE, type, req.context);
            break;
        }
        k = req.context == UNIKD_CALIB_CTX_HOST ? &host_cal : &wearer;
        if (unikd_calib_action(k, req.action) != 0) {
            send_error(seq, UNIKD_ERR_BAD_VALUE, type, req.action);
            break;
        }
        if (k == &wearer) {
            if (req.action == UNIKD_CALIB_ACTION_RESET) {
                unikd_calib_erase();
                wearer_stored = 0;
                wearer_saved_at = 0;
            } else {
                save_wearer();
            }
        }
        send_status(seq);
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

void unikd_app_sensor_begin(uint8_t state, const uint8_t *channel_source, float gravity_cutoff_hz)
{
    sensor_state = state;
    unikd_sensor_init(&front_end, channel_source, gravity_cutoff_hz);
}

void unikd_app_init(void)
{
    if (boot_magic != BOOT_MAGIC) {
        boot_magic = BOOT_MAGIC;
        boot_count = 0;
    }
    boot_count++;
    unikd_parser_init(&parser, on_frame, on_frame_error);
    unikd_sampler_init();
    mode = UNIKD_MODE_SENSOR;
    unikd_window_reset(&window);
    stream_base = 0;
    unikd_calib_reset(&host_cal, 0);
    /* the wearer's calibration carries on from storage; else it starts (a build without a sensor has nothing
     * to calibrate on until a host turns it on) */
    if (unikd_calib_load(&wearer) == 0) {
        wearer_stored = 1;
        wearer_saved_at = wearer.seen;
    } else {
        unikd_calib_reset(&wearer, UNIKD_CALIB_DEFAULT_ON && sensor_state != UNIKD_SENSOR_NONE);
    }
    runtime_ok = unikd_runtime_init() == 0;
    last_host_frame = last_log = unikd_port_timer();
    send_hello(UNIKD_PROTO_BOOT_SEQ, UNIKD_PROTO_HELLO_FLAG_BOOT);
    if (sensor_state != UNIKD_SENSOR_NONE && sensor_state != UNIKD_SENSOR_OK)
        send_log("boot: the sensor did not start, the board only answers the host");
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
    unikd_calib *cal = active_calib();
    /* quantise with the constants in use, then let the sample update the statistics (codegen/calibration.py) */
    unikd_window_push(&window, sample, cal->use_mean, cal->use_inv_std);
    unikd_calib_add(cal, sample);
    if (!unikd_window_due(&window))
        return 0;
    unikd_window_copy(&window, input);
    report(UNIKD_MSG_STREAM_RESULT, stream_seq, 1, stream_base + window.count);
    stream_results++;
    return 1;
}

/* One reading of the board's sensor, in sensor mode. */
static void sensor_reading(const unikd_reading *r, int gap)
{
    float sample[UNIKD_CHANNELS];
    uint8_t before = wearer.state;
    if (gap) { /* readings were lost: no window may span the hole; `end` keeps counting the readings taken */
        stream_base += window.count;
        unikd_window_reset(&window);
    }
    unikd_sensor_convert(&front_end, r->acc, r->gyro, sample);
    sensor_windows += (uint32_t)unikd_app_push_sample(sample);
    if (wearer.state == UNIKD_CALIB_STATE_ACTIVE
        && (before != UNIKD_CALIB_STATE_ACTIVE || wearer.seen - wearer_saved_at >= CALIB_SAVE_EVERY))
        save_wearer();
}

static void watch_health(uint32_t now)
{
    unikd_sampler_counters k;
    uint32_t sum;
    if (sensor_state == UNIKD_SENSOR_OK && unikd_sampler_failures_in_a_row() >= UNIKD_SENSOR_LOST_AFTER) {
        sensor_state = UNIKD_SENSOR_LOST;
        send_log("sensor stopped answering");
    } else if (sensor_state == UNIKD_SENSOR_LOST && unikd_sampler_failures_in_a_row() == 0u) {
        sensor_state = UNIKD_SENSOR_OK;
        send_log("sensor answers again");
    }
    if (mode == UNIKD_MODE_HOST && sensor_state != UNIKD_SENSOR_NONE && now - last_host_frame > HOST_IDLE_TICKS) {
        enter_mode(UNIKD_MODE_SENSOR);
        send_log("host silent: the window is the sensor's again");
    }
    unikd_sampler_counters_get(&k);
    sum = k.overruns + k.missed + k.late + k.repeated + k.read_failures;
    if (sum != logged_sum && now - last_log > LOG_PERIOD_TICKS)
        send_log("sensor counters changed");
}

int unikd_app_poll(void)
{
    unikd_reading r;
    int gap, n = 0;
    while (unikd_sampler_get(&r, &gap)) {
        n++;
        if (mode == UNIKD_MODE_HOST)
            ignored++; /* the host owns the window: the reading must not enter it */
        else
            sensor_reading(&r, gap);
    }
    if (sensor_state != UNIKD_SENSOR_NONE)
        watch_health(unikd_port_timer());
    return n;
}
