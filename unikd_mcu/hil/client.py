"""Host side of the HIL protocol over any pyserial object (a real port or QEMU's `socket://` URL).

Every request is accounted for. A request gets its reply (matched by sequence number), or it is sent again
after a timeout or a framing error reported by the device (up to `retries` times), or it is recorded in
`log.unanswered` and NoReply is raised: nothing is dropped silently. A boot hello from the device (sequence
BOOT_SEQ, boot flag) or a changed boot counter means the device was reset: the client records it, checks the
device still runs the same model and resumes (window mode: the interrupted window is sent again; stream mode: the
stream restarts at the first window that has no prediction yet).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from codegen.metadata import ModelMetadata
from unikd.errors import UserError
from unikd_mcu.hil import protocol as P


# Resets one after another with no request answered in between before the client gives up on the device.
MAX_RESETS_IN_A_ROW = 3


class HilError(UserError):
    """The device misbehaved in a way the client cannot recover from."""


class NoReply(HilError):
    """A request got no reply after all retries."""


class ModelMismatch(HilError):
    """The device runs a different model (or shapes, quantisation, classes) than the host is scoring."""


class DeviceReset(Exception):
    """Raised inside a request when the device announces a fresh boot; handled by the client itself."""

    def __init__(self, hello: P.Hello):
        super().__init__(f"device reset (boot {hello.boot_count})")
        self.hello = hello


@dataclass
class Accounting:
    """What happened on the link, for the report."""

    requests: int = 0  # distinct requests (a retry is not a new request)
    transmissions: int = 0  # frames sent, retries included
    retries: int = 0
    timeouts: int = 0
    device_errors: Counter = field(default_factory=Counter)  # ERROR frames by code name
    stray_frames: int = 0  # replies to an earlier attempt or to junk, ignored by sequence number
    host_skipped_bytes: int = 0  # bytes from the device outside frames (e.g. a reply cut by a reset)
    host_bad_frames: int = 0
    resets: list[dict] = field(default_factory=list)  # {"boot_count", "during"}
    resent_after_reset: int = 0  # requests sent again because the device reset before answering
    unanswered: list[dict] = field(default_factory=list)  # {"type", "seq", "what"}
    stream_repairs: int = 0  # stream windows recovered by re-sending their samples
    device_log: list[str] = field(default_factory=list)  # LOG lines the device sent by itself (last 100)
    sensor_results: int = 0  # STREAM_RESULTs of the board's own sensor (sequence BOOT_SEQ), not the host's

    def to_dict(self) -> dict:
        return {"requests": self.requests, "transmissions": self.transmissions, "retries": self.retries,
                "timeouts": self.timeouts, "device_errors": dict(self.device_errors),
                "stray_frames": self.stray_frames, "host_skipped_bytes": self.host_skipped_bytes,
                "host_bad_frames": self.host_bad_frames, "resets": list(self.resets),
                "resent_after_reset": self.resent_after_reset,
                "unanswered": list(self.unanswered), "stream_repairs": self.stream_repairs,
                "device_log": list(self.device_log), "sensor_results": self.sensor_results}


# What must agree between the device's hello and the deployed model's metadata: (Hello field, ModelMetadata field).
HELLO_VS_METADATA = [("model_hash", "model_sha256"), ("window", "window"), ("channels", "channels"),
                     ("stride", "stride"), ("num_classes", "num_classes"), ("input_scale", "input_scale"),
                     ("input_zero_point", "input_zero_point"), ("output_scale", "output_scale"),
                     ("output_zero_point", "output_zero_point"), ("class_names", "class_names"),
                     ("runtime", "runtime")]


def hello_mismatches(hello: P.Hello, metadata: ModelMetadata) -> list[str]:
    """Differences between a device's hello and the model's metadata; floats compare as float32 (exact)."""
    out = []
    for h, m in HELLO_VS_METADATA:
        dev, host = getattr(hello, h), getattr(metadata, m)
        if isinstance(host, float):
            same = np.float32(dev) == np.float32(host)
        else:
            same = dev == host
        if not same:
            out.append(f"{h}: device {dev!r}, host {host!r}")
    if hello.protocol_version != P.PROTOCOL_VERSION:
        out.append(f"protocol_version: device {hello.protocol_version}, host {P.PROTOCOL_VERSION}")
    return out


class HilClient:
    def __init__(self, ser, *, timeout: float = 3.0, retries: int = 3, metadata: ModelMetadata | dict | None = None,
                 chunk_samples: int = 32):
        self.ser = ser
        self.timeout = timeout
        self.retries = retries
        # metadata.json's content as a dict is checked into the typed form once, here, so a missing key fails now
        # rather than at the first handshake
        self.metadata = ModelMetadata.from_dict(metadata) if isinstance(metadata, dict) else metadata
        self.chunk_samples = chunk_samples
        self.parser = P.FrameParser()
        self.pending: list[P.Frame] = []
        self.log = Accounting()
        self.hello: P.Hello | None = None
        self.boot_count: int | None = None
        self._seq = 0
        self._stream_sink: dict[int, P.Result] | None = None
        self._where = "start"  # what the client was doing, for the reset log
        self._resets_in_a_row = 0

    # ---- link ------------------------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % P.BOOT_SEQ  # BOOT_SEQ is the device's own
        return self._seq

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (fault injection in tests)."""
        self.ser.write(data)
        self.ser.flush()

    def _recv(self, deadline: float) -> P.Frame | None:
        while True:
            while not self.pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.ser.timeout = min(left, 0.05)
                data = self.ser.read(max(1, self.ser.in_waiting))
                if data:
                    self.pending.extend(self.parser.feed(data))
                    self.log.host_skipped_bytes = self.parser.skipped_bytes
                    self.log.host_bad_frames = self.parser.bad_frames
            frame = self.pending.pop(0)
            if frame.type != P.Msg.LOG:
                break
            # a line for the board's log (sensor health): kept for the report, never an answer to a request
            try:
                self.log.device_log.append(P.Log.unpack(frame.payload).text)
            except P.PayloadError:
                self.log.device_log.append(f"(garbled LOG frame of {len(frame.payload)} bytes)")
            del self.log.device_log[:-100]
        if frame.type == P.Msg.STREAM_RESULT and frame.seq == P.BOOT_SEQ:
            self.log.sensor_results += 1  # a window of the board's own sensor (sensor mode), never the host's
        elif frame.type == P.Msg.STREAM_RESULT and self._stream_sink is not None:
            r = P.Result.unpack(frame, self.hello)
            self._stream_sink.setdefault(r.end, r)  # attributed by its sample index, whatever request it answers
        if frame.type == P.Msg.HELLO and frame.seq == P.BOOT_SEQ:
            hello = P.Hello.unpack(frame.payload)
            if hello.booted:
                raise DeviceReset(hello)
        return frame

    def _flush(self) -> None:
        """After a timeout: complete any partial frame the device holds (zeros cannot form a start marker), so
        its parser is back between frames, then let it answer."""
        self.ser.write(bytes(P.MAX_FRAME))
        self.ser.flush()

    def request(self, msg_type: int, payload: bytes, reply_type: int, what: str = "") -> P.Frame:
        """Send one request and return its reply frame, retrying as described in the module docstring. However the
        device behaves, this returns or raises within timeout x (retries + 1) seconds: traffic from the device may
        keep one attempt's wait open (results streaming in) but never past that bound."""
        self.log.requests += 1
        name = what or P.Msg(msg_type).name
        bound = time.monotonic() + self.timeout * (self.retries + 1)
        for attempt in range(self.retries + 1):
            if attempt:
                self.log.retries += 1
            seq = self._next_seq()
            self.ser.write(P.encode(msg_type, seq, payload))
            self.ser.flush()
            self.log.transmissions += 1
            deadline = min(time.monotonic() + self.timeout, bound)
            while True:
                frame = self._recv(deadline)
                if frame is None:
                    self.log.timeouts += 1
                    self._flush()
                    break
                if frame.seq != seq:
                    if frame.type == P.Msg.ERROR:
                        self.log.device_errors[_err_name(frame)] += 1
                    self.log.stray_frames += 1
                    continue
                if frame.type == reply_type:
                    self._resets_in_a_row = 0
                    return frame
                if frame.type == P.Msg.ERROR:
                    err = P.Error.unpack(frame.payload)
                    self.log.device_errors[_err_name(frame)] += 1
                    if err.code in (P.Err.BAD_CRC, P.Err.TOO_LONG):
                        break  # damaged on the way in: send again
                    self.log.unanswered.append({"type": int(msg_type), "seq": seq, "what": what, "error": str(err)})
                    raise HilError(f"device refused {name}: {err}")
                if frame.type != P.Msg.STREAM_RESULT or msg_type != P.Msg.SAMPLES:
                    # the request's own sequence number on a frame that cannot answer it: a device bug, not noise
                    self.log.unanswered.append({"type": int(msg_type), "seq": seq, "what": what})
                    raise HilError(f"device answered {name} (sequence {seq}) with a frame of type "
                                   f"{_type_name(frame.type)} ({len(frame.payload)} payload bytes); expected "
                                   f"{_type_name(reply_type)}")
                deadline = min(time.monotonic() + self.timeout, bound)  # results streaming in: let it finish
        self.log.unanswered.append({"type": int(msg_type), "seq": seq, "what": what})
        raise NoReply(f"no reply to {name} after {self.retries + 1} attempts "
                      f"({self.timeout:g} s each, {self.timeout * (self.retries + 1):g} s in all)")

    # ---- handshake and resets ----------------------------------------------------------------------------------

    def _note_reset(self, hello: P.Hello) -> None:
        self.log.resets.append({"boot_count": hello.boot_count, "during": self._where})
        self.boot_count = hello.boot_count
        self._resets_in_a_row += 1
        if self._resets_in_a_row > MAX_RESETS_IN_A_ROW:
            # a device that boots again before it can answer anything is crashing (or a hostile peer replays its
            # boot hello): resuming would go on for ever
            raise HilError(f"the device reset {self._resets_in_a_row} times in a row without answering a request "
                           f"(last boot count {hello.boot_count}, during {self._where}); it is probably crashing")

    def wait_boot(self, timeout: float = 10.0) -> P.Hello | None:
        """Read the hello a device sends when it boots (QEMU holds the CPU until we connect, so it is never lost;
        a real board may have booted before the port opened: then None)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._recv(deadline) is None:
                    return None
            except DeviceReset as e:
                self.boot_count = e.hello.boot_count
                return e.hello

    def handshake(self) -> P.Hello:
        """Ask for the hello; refuse a device whose model differs from `metadata` (ModelMismatch)."""
        while True:
            try:
                hello = P.Hello.unpack(self.request(P.Msg.HELLO_REQ, b"", P.Msg.HELLO, "hello").payload)
                break
            except DeviceReset as e:
                self._note_reset(e.hello)
        if self.boot_count is not None and hello.boot_count != self.boot_count:
            self._note_reset(hello)  # a reset whose boot hello we never saw
        self.boot_count = hello.boot_count
        if self.metadata is not None:
            diff = hello_mismatches(hello, self.metadata)
            if diff:
                raise ModelMismatch("the device runs a different model than the host scores: " + "; ".join(diff))
        if not hello.runtime_ok:
            raise HilError("the device's runtime failed to initialise (unikd_runtime_init != 0)")
        self.hello = hello
        return hello

    def _after_reset(self, e: DeviceReset) -> None:
        self._note_reset(e.hello)
        self.log.resent_after_reset += 1
        self.log.requests -= 1  # the interrupted request is sent again, not a new one
        self.handshake()

    # ---- window mode -----------------------------------------------------------------------------------------

    def infer_window(self, window: np.ndarray) -> P.Result:
        """One int8 window (WINDOW, CHANNELS), time-major -> the device's result."""
        data = np.ascontiguousarray(window, np.int8).tobytes()
        while True:
            try:
                return P.Result.unpack(self.request(P.Msg.WINDOW, data, P.Msg.RESULT, self._where), self.hello)
            except DeviceReset as e:
                self._after_reset(e)

    def infer_windows(self, windows: np.ndarray, progress=None) -> list[P.Result]:
        out = []
        for i, w in enumerate(windows):
            self._where = f"window {i}"
            out.append(self.infer_window(w))
            if progress:
                progress(i + 1)
        return out

    # ---- stream mode -----------------------------------------------------------------------------------------

    def _reset_stream(self, base: int) -> None:
        while True:
            try:
                self.request(P.Msg.STREAM_RESET, P.StreamReset(base).pack(), P.Msg.ACK, f"stream reset at {base}")
                return
            except DeviceReset as e:
                self._after_reset(e)

    def _send_samples(self, samples: np.ndarray, start: int, stop: int, results: dict) -> None:
        """Stream samples[start:stop] (indices of the stream) into the device, whose window was reset at or
        before `start`. Restarts after a device reset from the first window without a prediction."""
        w, s = self.hello.window, self.hello.stride
        pos = start
        while pos < stop:
            n = min(self.chunk_samples, self._samples_per_request(samples.shape[1]), stop - pos)
            self._where = f"stream sample {pos}"
            payload = P.Samples(pos, samples[pos:pos + n]).pack()
            try:
                ack = self.request(P.Msg.SAMPLES, payload, P.Msg.SAMPLES_ACK, self._where)
            except DeviceReset as e:
                self._after_reset(e)
                end = w
                while end in results:
                    end += s
                pos = max(start, end - w)
                self._reset_stream(pos)
                continue
            # the device says where it is (normally pos + n; elsewhere after a refused gap)
            pos = P.SamplesAck.unpack(ack.payload).next

    def _samples_per_request(self, channels: int) -> int:
        """How many samples fit in one SAMPLES payload of at most hello.max_payload bytes."""
        layout = P.PAYLOADS[P.Msg.SAMPLES]
        return (self.hello.max_payload - layout.head_struct.size) // (layout.part("values").elem_bytes * channels)

    def stream_samples(self, samples: np.ndarray) -> dict[int, P.Result]:
        """Stream raw float32 samples (T, CHANNELS) as a sensor would deliver them. Returns {end: result} for
        every window the device inferred, end = exclusive index of the window's last sample. A window whose
        result did not arrive is re-sent on its own (counted in log.stream_repairs); if that fails too, it is
        listed in log.unanswered."""
        if self.hello is None:
            self.handshake()
        w, s = self.hello.window, self.hello.stride
        samples = np.asarray(samples, np.float32)
        results: dict[int, P.Result] = {}
        self._stream_sink = results
        try:
            self._reset_stream(0)
            self._send_samples(samples, 0, len(samples), results)
            for end in range(w, len(samples) + 1, s):
                if end in results:
                    continue
                self.log.stream_repairs += 1
                self._reset_stream(end - w)
                self._send_samples(samples, end - w, end, results)
                if end not in results:
                    self.log.unanswered.append({"type": int(P.Msg.SAMPLES), "seq": None,
                                                "what": f"stream window ending at sample {end}"})
        finally:
            self._stream_sink = None
        return {e: r for e, r in sorted(results.items()) if e <= len(samples)}

    def dump_window(self) -> tuple[int, np.ndarray]:
        """The device's current window as it quantised it: (end sample index, int8 (WINDOW, CHANNELS))."""
        payload = self.request(P.Msg.WINDOW_DUMP, b"", P.Msg.WINDOW_DATA, "window dump").payload
        data = P.WindowData.unpack(payload, self.hello)
        return data.end, np.frombuffer(data.window, np.int8).reshape(self.hello.window, self.hello.channels)

    def ping(self, data: bytes = b"") -> bytes:
        return self.request(P.Msg.PING, data, P.Msg.PONG, "ping").payload

    # ---- modes and calibration -------------------------------------------------------------------------------

    def _status(self, msg_type: int, payload: bytes, what: str) -> P.Status:
        return P.Status.unpack(self.request(msg_type, payload, P.Msg.STATUS, what).payload)

    def status(self) -> P.Status:
        """The device's mode, sensor health, calibration state and sensor counters."""
        return self._status(P.Msg.STATUS_REQ, b"", "status")

    def set_mode(self, mode: P.Mode) -> P.Status:
        """Give the stream window to the board's sensor or to the host (the window restarts either way)."""
        return self._status(P.Msg.MODE, P.ModeRequest(int(mode)).pack(), f"mode {P.Mode(mode).name.lower()}")

    def calibrate(self, action: P.CalibAction, context: P.CalibContext = P.CalibContext.HOST) -> P.Status:
        """Switch, restart or forget an on-device calibration (docs/protocol.md, "Calibration")."""
        return self._status(P.Msg.CALIB, P.CalibRequest(int(action), int(context)).pack(),
                            f"calibration {P.CalibAction(action).name.lower()} ({P.CalibContext(context).name.lower()})")


def _err_name(frame: P.Frame) -> str:
    """The error code's name, for counting; a stray ERROR too short to hold a code is counted, not raised."""
    try:
        code = P.Error.unpack(frame.payload).code
    except P.PayloadError:
        return "malformed"
    try:
        return P.Err(code).name
    except ValueError:
        return f"code_{code}"


def _type_name(msg_type: int) -> str:
    try:
        return f"{P.Msg(msg_type).name} (0x{msg_type:02x})"
    except ValueError:
        return f"unknown (0x{msg_type:02x})"
