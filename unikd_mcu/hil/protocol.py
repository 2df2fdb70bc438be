"""The hardware-in-the-loop serial protocol: the one source of truth for host and device.

Every constant the device needs and the layout of every payload (PAYLOADS: fields, order, widths) are declared
here. From them come the Python pack/unpack below, `firmware/core/unikd_protocol.h` (`c_header()`) and the payload
tables of docs/protocol.md (`doc_tables()`): run `python -m unikd_mcu.hil.protocol --write` after a change; a unit
test fails while the committed header or document differs. The prose description is docs/protocol.md.

Frame (all integers little-endian):

    offset  size  field
    0       2     start marker 0xA5 0x5A
    2       1     type
    3       2     sequence number (u16; a reply echoes the request's)
    5       2     payload length (u16, at most MAX_PAYLOAD)
    7       n     payload
    7+n     2     CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor)
                  over bytes 2 .. 7+n-1 (type, sequence, length, payload)
"""

from __future__ import annotations

import argparse
import binascii
import math
import re
import struct
import sys
import textwrap
from dataclasses import dataclass, field, make_dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np

from unikd import __version__ as FIRMWARE_VERSION
from unikd.errors import UserError

PROTOCOL_VERSION = 2  # 2: MODE, STATUS_REQ, CALIB, STATUS, LOG; sensor and calibration fields in HELLO
START = b"\xa5\x5a"
HEADER_BYTES = 7  # start marker, type, sequence, length
CRC_BYTES = 2
OVERHEAD = HEADER_BYTES + CRC_BYTES
MAX_PAYLOAD = 2048  # device receive buffer; a 9 x 128 int8 window is 1,152 bytes
MAX_FRAME = OVERHEAD + MAX_PAYLOAD
BOOT_SEQ = 0xFFFF  # sequence number of the hello a device sends by itself when it boots
HEADER_C = Path(__file__).resolve().parents[2] / "firmware" / "core" / "unikd_protocol.h"


class Msg(IntEnum):
    """Frame types. Host requests have the high bit clear; device replies have it set."""

    HELLO_REQ = 0x01  # payloads and replies: PAYLOADS below
    WINDOW = 0x02
    SAMPLES = 0x03
    STREAM_RESET = 0x04
    PING = 0x05
    WINDOW_DUMP = 0x06
    MODE = 0x07
    STATUS_REQ = 0x08
    CALIB = 0x09
    HELLO = 0x81
    RESULT = 0x82
    SAMPLES_ACK = 0x83
    STREAM_RESULT = 0x84
    ACK = 0x85
    PONG = 0x86
    WINDOW_DATA = 0x87
    STATUS = 0x88
    LOG = 0x89
    ERROR = 0x8F


class Err(IntEnum):
    """Codes carried by an ERROR frame, and the status of a failed RESULT / STREAM_RESULT."""

    BAD_CRC = 1  # detail: the CRC that was received
    TOO_LONG = 2  # length field above MAX_PAYLOAD; detail: that length
    UNKNOWN_TYPE = 3
    BAD_LENGTH = 4  # payload length wrong for the type; detail: the length received
    RUNTIME = 5  # result status: unikd_runtime_invoke failed (the result's ticks field holds its return code)
    NOT_READY = 6  # result status: the runtime failed to initialise
    BAD_VALUE = 7  # a field holds a value the device does not know; detail: that value


class TimerUnit(IntEnum):
    """What one tick of unikd_port_timer() is (UNIKD_PORT_TIMER_UNIT, reported in the hello)."""

    MICROSECONDS = 0
    QEMU_INSTRUCTIONS_DIV40 = 1  # SysTick at 25 MHz under -icount shift=0: ticks x 40 = guest instructions


TIMER_UNIT_LABEL = {TimerUnit.MICROSECONDS: "microseconds", TimerUnit.QEMU_INSTRUCTIONS_DIV40: "instructions (QEMU)"}
TIMER_TICK_SCALE = {TimerUnit.MICROSECONDS: 1, TimerUnit.QEMU_INSTRUCTIONS_DIV40: 40}

HELLO_FLAG_BOOT = 0x01  # set in the hello a device sends by itself at start-up
HELLO_FLAG_RUNTIME_OK = 0x02  # unikd_runtime_init returned 0


class Mode(IntEnum):
    """Who owns the device's stream window (docs/protocol.md, "Modes")."""

    SENSOR = 0  # the board's own sensor feeds the window; SAMPLES from the host switch to HOST first
    HOST = 1  # the host's SAMPLES feed the window; sensor readings are counted and dropped


class SensorState(IntEnum):
    """Health of the board's IMU, in the hello and STATUS."""

    NONE = 0  # built without a sensor (samples come over the serial link only)
    OK = 1
    ABSENT = 2  # nothing answered on the bus at start-up
    WRONG_ID = 3  # a device answered but its identity register is not the part the build expects
    CONFIG_FAILED = 4  # identified, but configuring it failed
    LOST = 5  # it answered at start-up, then reads failed SENSOR_LOST_AFTER times in a row


class CalibState(IntEnum):
    """The on-device input calibration of one context (the wearer's, or the host session's)."""

    OFF = 0  # the build's constants are in use, statistics are not collected
    WARMUP = 1  # collecting statistics; the build's constants are still in use
    ACTIVE = 2  # the constants in use are the running statistics' (refreshed every `calib_refresh` samples)


class CalibAction(IntEnum):
    OFF = 0  # back to the build's constants; the statistics are kept, not updated
    ON = 1  # collect (again); ACTIVE at once if the warm-up was already done
    RESET = 2  # forget the statistics (and the stored copy) and start a new warm-up


#: Failed reads in a row after which a sensor that started is reported LOST (it is OK again at its next reading).
SENSOR_LOST_AFTER = 10


class CalibContext(IntEnum):
    WEARER = 0  # the statistics of the board's own sensor stream (sensor mode), kept across resets where possible
    HOST = 1  # the statistics of the current host session's SAMPLES (host mode); off when a session starts


ENUMS_C = (("MODE", Mode), ("SENSOR", SensorState), ("CALIB_STATE", CalibState), ("CALIB_ACTION", CalibAction),
           ("CALIB_CTX", CalibContext))


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF); crc16(b"123456789") == 0x29B1. The standard library's
    CRC-CCITT is this CRC when started at 0xFFFF, and runs in C: it is on every frame sent and parsed."""
    return binascii.crc_hqx(data, crc)


def encode(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds MAX_PAYLOAD={MAX_PAYLOAD}")
    body = struct.pack("<BHH", msg_type, seq & 0xFFFF, len(payload)) + payload
    return START + body + struct.pack("<H", crc16(body))


@dataclass
class Frame:
    type: int
    seq: int
    payload: bytes


class FrameParser:
    """Byte-stream -> frames, the host twin of the device parser (firmware/core/unikd_frame.c).

    Skips bytes outside frames, drops frames whose CRC or length is wrong and resynchronises by scanning for
    the next start marker after the bad frame's marker. Counts what it skipped so a report can show it."""

    def __init__(self):
        self.buf = bytearray()
        self.skipped_bytes = 0
        self.bad_frames = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        frames = []
        while True:
            i = self.buf.find(START)
            if i < 0:
                keep = 1 if self.buf.endswith(START[:1]) else 0
                self.skipped_bytes += len(self.buf) - keep
                del self.buf[: len(self.buf) - keep]
                return frames
            if i:
                self.skipped_bytes += i
                del self.buf[:i]
            if len(self.buf) < HEADER_BYTES:
                return frames
            msg_type, seq, length = struct.unpack_from("<BHH", self.buf, 2)
            if length > MAX_PAYLOAD:
                self._drop_marker()
                continue
            end = HEADER_BYTES + length + CRC_BYTES
            if len(self.buf) < end:
                return frames
            (crc,) = struct.unpack_from("<H", self.buf, end - CRC_BYTES)
            if crc != crc16(bytes(self.buf[2 : end - CRC_BYTES])):
                self._drop_marker()
                continue
            frames.append(Frame(msg_type, seq, bytes(self.buf[HEADER_BYTES : end - CRC_BYTES])))
            del self.buf[:end]

    def _drop_marker(self):
        self.bad_frames += 1
        self.skipped_bytes += 1
        del self.buf[:1]


# ---- payloads: every layout declared once -------------------------------------------------------------------
#
# PAYLOADS below is the only place that says which fields a payload has, in which order and how wide. The Python
# pack/unpack (Layout, and the dataclasses Hello, Result, ... built from it), the part lists and size macros of
# unikd_protocol.h (which firmware/core/unikd_wire.h expands into C structs and put/get functions) and the payload
# tables of docs/protocol.md all come from it.
#
# A part's type is one of
#   u8 i8 u16 u32 f32          a little-endian scalar; scalars come first and form the payload's fixed head
#   str                        u8 length, then that many bytes of UTF-8 (at most 255)
#   str[]                      such strings up to the end of the payload
#   T[count]                   scalars of type T up to the end of the payload; count is a product of HELLO
#                              fields (the device announces them) and free letters (any number), e.g.
#                              i8[window * channels], f32[k * channels]
# Strings follow the head; a part that runs to the end of the payload (str[] or an array) can only be the last.

SCALARS = {"u8": "B", "i8": "b", "u16": "H", "u32": "I", "f32": "f"}  # struct codes; in C: unikd_wire.h
_ARRAY = re.compile(r"^(u8|i8|u16|u32|f32)\[([a-z_ *]+)\]$")


class PayloadError(UserError):
    """A well-framed payload (its CRC is right) whose length does not fit its message's layout."""


@dataclass(frozen=True)
class Part:
    name: str
    type: str
    doc: str

    def __post_init__(self):
        if self.type not in SCALARS and self.type not in ("str", "str[]") and not _ARRAY.match(self.type):
            raise ValueError(f"part {self.name}: unknown type {self.type!r}")

    @property
    def kind(self) -> str:
        """scalar, str, strs (str[]) or array."""
        if self.type in SCALARS:
            return "scalar"
        return {"str": "str", "str[]": "strs"}.get(self.type, "array")

    @property
    def elem(self) -> str:
        """The scalar type of a scalar or of an array's elements."""
        return self.type if self.kind == "scalar" else _ARRAY.match(self.type).group(1)

    @property
    def count(self) -> list[str]:
        """An array's count as factors (HELLO field names or free letters)."""
        return [f.strip() for f in _ARRAY.match(self.type).group(2).split("*")]

    @property
    def elem_bytes(self) -> int:
        return struct.calcsize("<" + SCALARS[self.elem])

    @property
    def py_type(self) -> str:
        if self.kind == "scalar":
            return "float" if self.type == "f32" else "int"
        return {"str": "str", "strs": "list[str]", "array": "bytes"}[self.kind]


@dataclass(frozen=True)
class Layout:
    """One message's payload: the parts in wire order, and what the message is for (for the docs)."""

    msg: Msg
    summary: str
    parts: tuple[Part, ...] = ()
    reply: str = ""  # requests: what the device answers

    def __post_init__(self):
        object.__setattr__(self, "parts", tuple(p if isinstance(p, Part) else Part(*p) for p in self.parts))
        order = {"scalar": 0, "str": 1, "strs": 2, "array": 2}
        ranks = [order[p.kind] for p in self.parts]
        if ranks != sorted(ranks) or ranks.count(2) > 1:
            raise ValueError(f"{self.msg.name}: scalars first, then strings, then at most one part to the end")

    @property
    def head(self) -> list[Part]:
        return [p for p in self.parts if p.kind == "scalar"]

    @property
    def tail(self) -> list[Part]:
        return [p for p in self.parts if p.kind != "scalar"]

    @property
    def head_struct(self) -> struct.Struct:
        return struct.Struct("<" + "".join(SCALARS[p.type] for p in self.head))

    def part(self, name: str) -> Part:
        return next(p for p in self.parts if p.name == name)

    def offsets(self) -> dict[str, int]:
        """Byte offset of every part whose offset does not depend on the strings before it."""
        out, pos = {}, 0
        for p in self.parts:
            out[p.name] = pos
            if p.kind != "scalar":
                break
            pos += p.elem_bytes
        return out

    def describe(self) -> str:
        """One line, e.g. `u32 end, u8 predicted, ..., i8[num_classes] outputs`."""
        return ", ".join(f"{p.type} {p.name}" for p in self.parts) or "empty"

    def pack(self, values) -> bytes:
        """values: a mapping (or an object with attributes) holding every part's value by name."""
        get = values.__getitem__ if isinstance(values, dict) else lambda n: getattr(values, n)
        out = bytearray(self.head_struct.pack(*(get(p.name) for p in self.head)))
        for p in self.tail:
            v = get(p.name)
            if p.kind == "str":
                out += _pack_str(v)
            elif p.kind == "strs":
                out += b"".join(_pack_str(s) for s in v)
            elif isinstance(v, (bytes, bytearray, memoryview)):
                out += v
            else:  # a numpy array or a sequence of numbers: as the declared element type, little-endian
                out += np.ascontiguousarray(v, np.dtype("<" + SCALARS[p.elem])).tobytes()
        return bytes(out)

    def unpack(self, payload: bytes, hello: "Hello | None" = None) -> dict:
        """payload -> {part name: value}. With the device's hello, array lengths are checked against it too.
        Raises PayloadError, naming the message and the expected and received lengths, when they do not fit."""
        head = self.head_struct
        n = len(payload)
        if n < head.size or (not self.tail and n != head.size):
            self._error(n, f"{'at least ' if self.tail else ''}{head.size} bytes ({self.describe()})")
        values = dict(zip((p.name for p in self.head), head.unpack_from(payload)))
        pos = head.size
        for p in self.tail:
            if p.kind == "str":
                values[p.name], pos = self._unpack_str(payload, pos, p.name)
            elif p.kind == "strs":
                values[p.name] = []
                while pos < n:
                    s, pos = self._unpack_str(payload, pos, p.name)
                    values[p.name].append(s)
            else:
                values[p.name] = bytes(payload[pos:])
                self._check_array(p, n - pos, pos, hello)
        return values

    def _unpack_str(self, payload: bytes, pos: int, name: str) -> tuple[str, int]:
        if pos >= len(payload) or pos + 1 + payload[pos] > len(payload):
            need = pos + 1 + (payload[pos] if pos < len(payload) else 0)
            self._error(len(payload), f"at least {need} bytes (string {name} at offset {pos})")
        end = pos + 1 + payload[pos]
        return payload[pos + 1 : end].decode("utf-8", "replace"), end

    def _check_array(self, p: Part, got: int, pos: int, hello) -> None:
        known = [f for f in p.count if hello is not None and hasattr(hello, f)]
        unit = p.elem_bytes * math.prod(getattr(hello, f) for f in known)
        exact = len(known) == len(p.count)
        if (got != unit) if exact else (not unit or got % unit):
            dims = ", ".join(f"{f} = {getattr(hello, f)}" for f in known)
            what = f"{pos + unit}" if exact else f"{pos} + a multiple of {unit}"
            self._error(pos + got, f"{what} bytes ({p.type} {p.name}{', ' + dims if dims else ''})")

    def _error(self, got: int, expected: str):
        raise PayloadError(f"{self.msg.name} payload of {got} bytes: expected {expected}")


def _pack_str(s: str) -> bytes:
    b = s.encode("utf-8")[:255]
    return bytes([len(b)]) + b


_RESULT = [("predicted", "u8", "index of the first maximum of the outputs; 0xFF when status is not 0"),
           ("status", "u8", "0: the inference ran; else `RUNTIME` or `NOT_READY` (see below)"),
           ("ticks", "u32", "timer ticks of the invoke call alone; with status `RUNTIME`, its return code"),
           ("outputs", "i8[num_classes]", "the model's int8 outputs (zero when status is not 0)")]
_END = ("end", "u32", "index just past the window's last sample: the window is samples end - window .. end - 1")

PAYLOADS: dict[Msg, Layout] = {layout.msg: layout for layout in [
    Layout(Msg.HELLO_REQ, "ask the device to describe itself", reply="`HELLO`"),
    Layout(Msg.WINDOW, "one window to classify", reply="`RESULT`", parts=[
        ("input", "i8[window * channels]", "time-major (`x[t * channels + c]`), already normalised and quantised")]),
    Layout(Msg.SAMPLES, "raw samples for the device to window, quantise and classify itself",
           reply="zero or more `STREAM_RESULT`, then `SAMPLES_ACK`", parts=[
               ("first", "u32", "index of the first sample in this request"),
               ("values", "f32[k * channels]", "k samples of `channels` values each, time-major")]),
    Layout(Msg.STREAM_RESET, "empty the device's window", reply="`ACK`", parts=[
        ("next", "u32", "index the next sample will have")]),
    Layout(Msg.PING, "link check", reply="`PONG`", parts=[("data", "u8[n]", "any bytes")]),
    Layout(Msg.WINDOW_DUMP, "read back the device's current window", reply="`WINDOW_DATA`"),
    Layout(Msg.MODE, "give the stream window to the board's sensor or to the host", reply="`STATUS`", parts=[
        ("mode", "u8", "`Mode`: 0 sensor, 1 host; either way the window and the host session's calibration "
                       "restart")]),
    Layout(Msg.STATUS_REQ, "ask for the sensor, calibration and mode state", reply="`STATUS`"),
    Layout(Msg.CALIB, "switch, restart or forget an on-device calibration", reply="`STATUS`", parts=[
        ("action", "u8", "`CalibAction`: 0 off, 1 on, 2 reset"),
        ("context", "u8", "`CalibContext`: 0 the wearer's (sensor stream), 1 the host session's (SAMPLES)")]),
    Layout(Msg.HELLO, "what the device runs; sent on request and by itself at every boot", parts=[
        ("protocol_version", "u8", "`PROTOCOL_VERSION`"),
        ("timer_unit", "u8", "what one tick is (`TimerUnit`)"),
        ("max_payload", "u16", "the largest payload the device receives"),
        ("boot_count", "u32", "boots counted in RAM that survives a reset (1 on boards without such RAM)"),
        ("window", "u16", "samples per window"),
        ("channels", "u16", "values per sample"),
        ("stride", "u16", "samples between two stream windows"),
        ("num_classes", "u16", "model outputs"),
        ("input_scale", "f32", "input quantisation"),
        ("input_zero_point", "i8", ""),
        ("output_scale", "f32", "output quantisation"),
        ("output_zero_point", "i8", ""),
        ("sample_rate_hz", "f32", "sample rate the model was trained for"),
        ("runtime_ram_bytes", "u32", "RAM the inference runtime uses"),
        ("flags", "u8", f"`0x{HELLO_FLAG_BOOT:02x}` boot: sent by the device itself at start-up; "
                        f"`0x{HELLO_FLAG_RUNTIME_OK:02x}` the runtime initialised"),
        ("mode", "u8", "`Mode`: who feeds the stream window now"),
        ("sensor_state", "u8", "`SensorState` of the board's IMU"),
        ("calib_state", "u8", "`CalibState` of the wearer's calibration"),
        ("calib_samples", "u32", "samples in the wearer's calibration statistics"),
        ("firmware_version", "str", ""),
        ("runtime", "str", "`aot` or `tflm`"),
        ("model_hash", "str", "sha256 of the `.tflite`, 64 hex digits"),
        ("class_names", "str[]", "one per class")]),
    Layout(Msg.RESULT, "the answer to one `WINDOW`", parts=_RESULT),
    Layout(Msg.SAMPLES_ACK, "the end of the answer to one `SAMPLES` request", parts=[
        ("next", "u32", "index of the next sample the device expects"),
        ("results", "u16", "`STREAM_RESULT` frames sent for this request")]),
    Layout(Msg.STREAM_RESULT, "the answer for one window of the stream", parts=[_END, *_RESULT]),
    Layout(Msg.ACK, "the answer to `STREAM_RESET`", parts=[("next", "u32", "the index the request gave")]),
    Layout(Msg.PONG, "the answer to `PING`", parts=[("data", "u8[n]", "the ping's bytes")]),
    Layout(Msg.WINDOW_DATA, "the device's current window exactly as it quantised it", parts=[
        ("end", "u32", "as in `STREAM_RESULT`"),
        ("window", "i8[window * channels]", "time-major, oldest sample first")]),
    Layout(Msg.STATUS, "the sensor, calibration and mode state, and the counters of the sensor path", parts=[
        ("mode", "u8", "`Mode`"),
        ("sensor_state", "u8", "`SensorState`"),
        ("calib_state", "u8", "`CalibState` of the wearer's calibration"),
        ("host_calib_state", "u8", "`CalibState` of the host session's calibration"),
        ("calib_stored", "u8", "1: the wearer's statistics were restored from or saved to non-volatile storage"),
        ("calib_samples", "u32", "samples in the wearer's statistics"),
        ("host_calib_samples", "u32", "samples in the host session's statistics"),
        ("calib_warmup", "u32", "samples before a calibration becomes ACTIVE"),
        ("calib_refresh", "u32", "an ACTIVE calibration's constants are recomputed every this many samples"),
        ("sensor_samples", "u32", "readings the sensor delivered into the device's sample ring"),
        ("sensor_windows", "u32", "windows of the sensor stream classified"),
        ("overruns", "u32", "readings lost because the sample ring was full (the sensor path fell behind)"),
        ("missed", "u32", "readings the sensor never delivered: gaps in its clock, or its FIFO overflowed"),
        ("late", "u32", "readings that arrived more than half a period late (timer- or interrupt-clocked drivers)"),
        ("repeated", "u32", "readings identical to the one before in every axis (a sensor that held its output)"),
        ("read_failures", "u32", "bus transfers with the sensor that failed"),
        ("ignored", "u32", "sensor readings dropped because the host owned the window (host mode)"),
        ("norm", "f32[n]", "the constants in use in the current mode: `channels` means, then `channels` inverse "
                           "standard deviations")]),
    Layout(Msg.LOG, "a line for the board's log, sent by the device itself (sequence `BOOT_SEQ`)", parts=[
        ("text", "str", "e.g. a sensor that failed its identity check, or the sensor counters when they change")]),
    Layout(Msg.ERROR, "a request or frame the device could not take", parts=[
        ("code", "u8", "an error code (table below)"),
        ("offending_type", "u8", "type of the frame it is about"),
        ("detail", "u16", "per code (table below)")]),
]}


def _check_declaration(payloads: dict[Msg, Layout]) -> None:
    """Array counts may only name HELLO fields (what the host learns from the device) or free letters; requests
    carry no strings (the device reads fixed offsets only)."""
    known = {p.name for p in payloads[Msg.HELLO].head}
    for layout in payloads.values():
        if not layout.msg & 0x80 and any(p.kind in ("str", "strs") for p in layout.parts):
            raise ValueError(f"{layout.msg.name}: a request cannot carry strings")
        for p in layout.parts:
            if p.kind == "array":
                bad = [f for f in p.count if f not in known and not re.fullmatch(r"[a-z]", f)]
                if bad:
                    raise ValueError(f"{layout.msg.name}.{p.name}: count factors {bad} are not HELLO fields")


_check_declaration(PAYLOADS)


class _Payload:
    """pack/unpack of the dataclasses below; their fields are the declared parts of `layout`."""

    layout: Layout

    def pack(self) -> bytes:
        return self.layout.pack(self)

    @classmethod
    def unpack(cls, payload: bytes, hello: "Hello | None" = None):
        return cls(**cls.layout.unpack(payload, hello))


def _payload_class(msg: Msg, *extra):
    """Decorator: the dataclass of msg's payload, fields in wire order (then `extra`), methods from the class."""

    def wrap(methods: type) -> type:
        layout = PAYLOADS[msg]
        own = "layout" in methods.__dict__  # Result picks RESULT or STREAM_RESULT itself
        cls = make_dataclass(methods.__name__, [(p.name, p.py_type) for p in layout.parts] + list(extra),
                             bases=(methods, _Payload), namespace={} if own else {"layout": layout})
        cls.__module__, cls.__doc__ = methods.__module__, methods.__doc__
        return cls

    return wrap


@_payload_class(Msg.HELLO)
class Hello:
    """A HELLO payload."""

    @property
    def booted(self) -> bool:
        return bool(self.flags & HELLO_FLAG_BOOT)

    @property
    def runtime_ok(self) -> bool:
        return bool(self.flags & HELLO_FLAG_RUNTIME_OK)

    @property
    def timer_label(self) -> str:
        return TIMER_UNIT_LABEL.get(self.timer_unit, f"unit {self.timer_unit}")

    @property
    def ticks_scale(self) -> int:
        """Multiply ticks by this to get microseconds or instructions (QEMU)."""
        return TIMER_TICK_SCALE.get(self.timer_unit, 1)


# A STREAM_RESULT is a RESULT with its end first (both are declared from _RESULT): one class serves both.
@_payload_class(Msg.RESULT, ("end", "int | None", field(default=None)))
class Result:
    """A RESULT (window mode, end is None) or a STREAM_RESULT (end = exclusive index of the window's last sample)."""

    @property
    def layout(self) -> Layout:
        return PAYLOADS[Msg.RESULT if self.end is None else Msg.STREAM_RESULT]

    @classmethod
    def unpack(cls, frame: Frame, hello: "Hello | None" = None) -> "Result":
        if frame.type not in (Msg.RESULT, Msg.STREAM_RESULT):
            raise ValueError(f"frame type 0x{frame.type:02x} is not a RESULT or STREAM_RESULT")
        return cls(**PAYLOADS[Msg(frame.type)].unpack(frame.payload, hello))


@_payload_class(Msg.ERROR)
class Error:
    """An ERROR payload."""

    def __str__(self) -> str:
        try:
            name = Err(self.code).name
        except ValueError:
            name = f"code {self.code}"
        return f"{name} (type 0x{self.offending_type:02x}, detail {self.detail})"


@_payload_class(Msg.SAMPLES)
class Samples:
    """A SAMPLES request (values: raw float32 samples, or bytes already packed)."""


@_payload_class(Msg.SAMPLES_ACK)
class SamplesAck:
    """A SAMPLES_ACK payload."""


@_payload_class(Msg.STREAM_RESET)
class StreamReset:
    """A STREAM_RESET request."""


@_payload_class(Msg.ACK)
class Ack:
    """An ACK payload."""


@_payload_class(Msg.WINDOW_DATA)
class WindowData:
    """A WINDOW_DATA payload (window: int8 bytes, time-major)."""


@_payload_class(Msg.MODE)
class ModeRequest:
    """A MODE request."""


@_payload_class(Msg.CALIB)
class CalibRequest:
    """A CALIB request."""


@_payload_class(Msg.STATUS)
class Status:
    """A STATUS payload (norm: float32 bytes, means then inverse standard deviations)."""

    def constants(self) -> tuple[np.ndarray, np.ndarray]:
        v = np.frombuffer(self.norm, "<f4")
        c = len(v) // 2
        return v[:c].copy(), v[c:].copy()


@_payload_class(Msg.LOG)
class Log:
    """A LOG payload."""


# ---- generated C and documentation ----------------------------------------------------------------------------


def c_payload(layout: Layout, earlier: list[Layout] = ()) -> list[str]:
    """C for one payload: its part list, which firmware/core/unikd_wire.h expands into a struct and a put function
    (device replies) or get function (host requests), and the size and offset macros of its head and array. A
    list that ends with an earlier payload's whole list names that list (STREAM_RESULT is a RESULT after its end),
    as the declaration shares it."""
    name, macro = layout.msg.name.lower(), f"UNIKD_PL_{layout.msg.name}"
    reply = layout.msg & 0x80
    lines = textwrap.wrap(f"/* {layout.msg.name} (0x{layout.msg.value:02X}, "
                          f"{'device -> host' if reply else 'host -> device'}): {layout.summary} */",
                          width=116, subsequent_indent=" * ")
    with_struct = layout.head or (reply and layout.tail and layout.tail[0].kind != "array")
    if with_struct:
        parts, shared = list(layout.parts), None
        for other in earlier:
            n = len(other.parts)
            if n > 1 and n < len(parts) and tuple(parts[-n:]) == other.parts:
                parts, shared = parts[:-n], f"UNIKD_PL_{other.msg.name}_PARTS(X)"
        entries = [f"X({p.kind}, {p.elem if p.kind in ('scalar', 'array') else 'str'}, {p.name})" for p in parts]
        entries += [shared] if shared else []
        one_line = f"#define {macro}_PARTS(X) " + " ".join(entries)
        if len(one_line) <= 120:
            lines.append(one_line)
        else:
            lines += [f"#define {macro}_PARTS(X) \\", *[f"    {e} \\" for e in entries[:-1]], f"    {entries[-1]}"]
    lines.append(f"#define {macro}_HEAD_BYTES {layout.head_struct.size}")
    offsets = layout.offsets()
    for p in layout.tail:
        if p.kind == "array":
            if p.name in offsets:
                lines.append(f"#define {macro}_{p.name.upper()}_OFFSET {offsets[p.name]}")
            lines.append(f"#define {macro}_{p.name.upper()}_ELEM_BYTES {p.elem_bytes}")
    if with_struct:
        lines.append(f"UNIKD_WIRE_{'REPLY' if reply else 'REQUEST'}({name}, {macro}_PARTS)")
    if not reply:
        lines += [f"UNIKD_WIRE_ARRAY_AT({name}, {p.name}, {p.elem}, {macro}_{p.name.upper()}_OFFSET)"
                  for p in layout.tail if p.kind == "array"]
    return lines + [""]


def doc_tables(payloads: dict[Msg, Layout] = PAYLOADS) -> str:
    """The generated part of docs/protocol.md: the message table and one offset table per payload."""
    lines = ["| type | name | payload | reply |", "|---|---|---|---|"]
    for layout in payloads.values():
        m = layout.msg
        lines.append(f"| 0x{m.value:02X} | `{m.name}` | {layout.summary}: {layout.describe()} | {layout.reply} |")
    for layout in payloads.values():
        if not layout.parts:
            continue
        lines += ["", f"**`{layout.msg.name}`**", "", "| offset | bytes | type | field | meaning |",
                  "|---:|---:|---|---|---|"]
        offsets = layout.offsets()
        for p in layout.parts:
            lines.append(f"| {offsets.get(p.name, '...')} | {_doc_size(p)} | {p.type} | `{p.name}` | {p.doc} |")
    return "\n".join(lines) + "\n\n"  # the blank line ends the last table before the end marker


def _doc_size(p: Part) -> str:
    if p.kind == "scalar":
        return str(p.elem_bytes)
    if p.kind == "array":
        return " * ".join([str(p.elem_bytes)] * (p.elem_bytes > 1) + p.count)
    return "1 + length" if p.kind == "str" else "to the end"


DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
DOC_BEGIN = "<!-- BEGIN payloads: generated from PAYLOADS in unikd_mcu/hil/protocol.py (--write); do not edit -->\n"
DOC_END = "<!-- END payloads -->\n"


def doc_with_tables(doc: str, payloads: dict[Msg, Layout] = PAYLOADS) -> str:
    """docs/protocol.md with the text between its markers replaced by doc_tables()."""
    head, rest = doc.split(DOC_BEGIN)
    _, tail = rest.split(DOC_END)
    return head + DOC_BEGIN + doc_tables(payloads) + DOC_END + tail


def c_header(payloads: dict[Msg, Layout] = PAYLOADS) -> str:
    """The text of firmware/core/unikd_protocol.h."""
    lines = [
        "/* GENERATED by unikd_mcu/hil/protocol.py (python -m unikd_mcu.hil.protocol --write). Do not edit: change",
        " * protocol.py and regenerate; tests/test_protocol.py checks that this file is in sync. */",
        "#ifndef UNIKD_PROTOCOL_H",
        "#define UNIKD_PROTOCOL_H",
        "",
        '#include "unikd_wire.h"',
        "",
        f"#define UNIKD_PROTO_VERSION {PROTOCOL_VERSION}",
        f'#define UNIKD_FIRMWARE_VERSION "{FIRMWARE_VERSION}"',
        f"#define UNIKD_PROTO_START0 0x{START[0]:02X}",
        f"#define UNIKD_PROTO_START1 0x{START[1]:02X}",
        f"#define UNIKD_PROTO_HEADER_BYTES {HEADER_BYTES}",
        f"#define UNIKD_PROTO_CRC_BYTES {CRC_BYTES}",
        f"#define UNIKD_PROTO_MAX_PAYLOAD {MAX_PAYLOAD}",
        f"#define UNIKD_PROTO_BOOT_SEQ 0x{BOOT_SEQ:04X}",
        f"#define UNIKD_PROTO_HELLO_FLAG_BOOT 0x{HELLO_FLAG_BOOT:02X}",
        f"#define UNIKD_PROTO_HELLO_FLAG_RUNTIME_OK 0x{HELLO_FLAG_RUNTIME_OK:02X}",
        "",
        "/* frame types */",
        *[f"#define UNIKD_MSG_{m.name} 0x{m.value:02X}" for m in Msg],
        "",
        "/* ERROR codes */",
        *[f"#define UNIKD_ERR_{e.name} {e.value}" for e in Err],
        "",
        "/* timer units (UNIKD_PORT_TIMER_UNIT) */",
        *[f"#define UNIKD_TIMER_{u.name} {u.value}" for u in TimerUnit],
        "",
        "/* modes, sensor states, calibration states, actions and contexts */",
        *[f"#define UNIKD_{prefix}_{v.name} {v.value}" for prefix, enum in ENUMS_C for v in enum],
        f"#define UNIKD_SENSOR_LOST_AFTER {SENSOR_LOST_AFTER}",
        "",
        "/* Payloads (PAYLOADS in protocol.py): each one's parts in wire order, expanded by unikd_wire.h. */",
        "",
        *[line for i, layout in enumerate(payloads.values())
          for line in c_payload(layout, list(payloads.values())[:i])],
        "#endif /* UNIKD_PROTOCOL_H */",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Print firmware/core/unikd_protocol.h, or write it and the payload "
                                             "tables of docs/protocol.md")
    ap.add_argument("--write", action="store_true", help=f"write {HEADER_C} and the tables in {DOC}")
    args = ap.parse_args(argv)
    if args.write:
        HEADER_C.write_text(c_header())
        DOC.write_text(doc_with_tables(DOC.read_text()))
        print(f"wrote {HEADER_C} and {DOC}")
    else:
        sys.stdout.write(c_header())
    return 0


if __name__ == "__main__":
    sys.exit(main())
