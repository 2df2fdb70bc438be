"""The hardware-in-the-loop serial protocol: the one source of truth for host and device.

Every constant the device needs is defined here and written into `firmware/core/unikd_protocol.h` by
`c_header()` (run `python -m unikd_mcu.hil.protocol --write` after a change; a unit test fails while the committed
header differs). The prose description is docs/protocol.md.

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
import struct
import sys
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from unikd import __version__ as FIRMWARE_VERSION

PROTOCOL_VERSION = 1
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

    HELLO_REQ = 0x01  # empty -> HELLO
    WINDOW = 0x02  # one int8 window (WINDOW * CHANNELS bytes, time-major) -> RESULT
    SAMPLES = 0x03  # u32 first sample index, k * CHANNELS float32 -> 0..k/stride STREAM_RESULT, then SAMPLES_ACK
    STREAM_RESET = 0x04  # u32 index of the next sample -> ACK; empties the device's window
    PING = 0x05  # any bytes -> PONG with the same bytes
    WINDOW_DUMP = 0x06  # empty -> WINDOW_DATA: the device's current window as it quantised it
    HELLO = 0x81
    RESULT = 0x82
    SAMPLES_ACK = 0x83
    STREAM_RESULT = 0x84
    ACK = 0x85
    PONG = 0x86
    WINDOW_DATA = 0x87  # u32 end sample index (exclusive), WINDOW * CHANNELS int8, oldest sample first
    ERROR = 0x8F


class Err(IntEnum):
    """Codes carried by an ERROR frame (u8 code, u8 type of the offending frame, u16 detail)."""

    BAD_CRC = 1  # detail: the CRC that was received
    TOO_LONG = 2  # length field above MAX_PAYLOAD; detail: that length
    UNKNOWN_TYPE = 3
    BAD_LENGTH = 4  # payload length wrong for the type; detail: the length received
    RUNTIME = 5  # result status: unikd_runtime_invoke failed (the result's ticks field holds its return code)
    NOT_READY = 6  # result status: the runtime failed to initialise


class TimerUnit(IntEnum):
    """What one tick of unikd_port_timer() is (UNIKD_PORT_TIMER_UNIT, reported in the hello)."""

    MICROSECONDS = 0
    QEMU_INSTRUCTIONS_DIV40 = 1  # SysTick at 25 MHz under -icount shift=0: ticks x 40 = guest instructions


TIMER_UNIT_LABEL = {TimerUnit.MICROSECONDS: "microseconds", TimerUnit.QEMU_INSTRUCTIONS_DIV40: "instructions (QEMU)"}
TIMER_TICK_SCALE = {TimerUnit.MICROSECONDS: 1, TimerUnit.QEMU_INSTRUCTIONS_DIV40: 40}

HELLO_FLAG_BOOT = 0x01  # set in the hello a device sends by itself at start-up
HELLO_FLAG_RUNTIME_OK = 0x02  # unikd_runtime_init returned 0

# Fixed-size parts of the payloads (struct formats, little-endian).
HELLO_FIXED = struct.Struct("<BBHIHHHHfbfbfI")  # see Hello below, in this order
RESULT_FIXED = struct.Struct("<BBI")  # class, status (0 or an Err code), ticks; then NUM_CLASSES int8 outputs
STREAM_RESULT_FIXED = struct.Struct("<IBBI")  # end sample index (exclusive), class, status, ticks; then outputs
SAMPLES_ACK_FIXED = struct.Struct("<IH")  # next sample index, results sent for this request
ERROR_FIXED = struct.Struct("<BBH")  # code, offending type, detail
U32 = struct.Struct("<I")


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


# ---- payloads -------------------------------------------------------------------------------------------------


@dataclass
class Hello:
    protocol_version: int
    timer_unit: int
    max_payload: int
    boot_count: int
    window: int
    channels: int
    stride: int
    num_classes: int
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    sample_rate_hz: float
    runtime_ram_bytes: int
    flags: int
    firmware_version: str
    runtime: str
    model_hash: str
    class_names: list[str]

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

    def pack(self) -> bytes:
        fixed = HELLO_FIXED.pack(self.protocol_version, self.timer_unit, self.max_payload, self.boot_count,
                                 self.window, self.channels, self.stride, self.num_classes, self.input_scale,
                                 self.input_zero_point, self.output_scale, self.output_zero_point,
                                 self.sample_rate_hz, self.runtime_ram_bytes)
        strings = [self.firmware_version, self.runtime, self.model_hash, *self.class_names]
        return fixed + bytes([self.flags]) + b"".join(_pack_str(s) for s in strings)

    @classmethod
    def unpack(cls, payload: bytes) -> "Hello":
        fixed = HELLO_FIXED.unpack_from(payload, 0)
        pos = HELLO_FIXED.size
        flags = payload[pos]
        pos += 1
        strings = []
        while pos < len(payload):
            n = payload[pos]
            strings.append(payload[pos + 1 : pos + 1 + n].decode("utf-8", "replace"))
            pos += 1 + n
        if len(strings) < 3:
            raise ValueError("hello payload too short")
        fw, runtime, model_hash, *names = strings
        return cls(*fixed, flags, fw, runtime, model_hash, names)


def _pack_str(s: str) -> bytes:
    b = s.encode("utf-8")[:255]
    return bytes([len(b)]) + b


@dataclass
class Result:
    """A RESULT (window mode, end is None) or a STREAM_RESULT (end = exclusive index of the window's last sample)."""

    predicted: int
    status: int
    ticks: int
    outputs: bytes  # int8 values as raw bytes
    end: int | None = None

    @classmethod
    def unpack(cls, frame: Frame) -> "Result":
        if frame.type == Msg.RESULT:
            cls_, status, ticks = RESULT_FIXED.unpack_from(frame.payload)
            return cls(cls_, status, ticks, frame.payload[RESULT_FIXED.size :])
        end, cls_, status, ticks = STREAM_RESULT_FIXED.unpack_from(frame.payload)
        return cls(cls_, status, ticks, frame.payload[STREAM_RESULT_FIXED.size :], end)


@dataclass
class Error:
    code: int
    offending_type: int
    detail: int

    @classmethod
    def unpack(cls, payload: bytes) -> "Error":
        return cls(*ERROR_FIXED.unpack_from(payload))

    def __str__(self) -> str:
        try:
            name = Err(self.code).name
        except ValueError:
            name = f"code {self.code}"
        return f"{name} (type 0x{self.offending_type:02x}, detail {self.detail})"


# ---- the C header -------------------------------------------------------------------------------------------


def c_header() -> str:
    """The text of firmware/core/unikd_protocol.h."""
    lines = [
        "/* GENERATED by unikd_mcu/hil/protocol.py (python -m unikd_mcu.hil.protocol --write). Do not edit: change",
        " * protocol.py and regenerate; tests/test_protocol.py checks that this file is in sync. */",
        "#ifndef UNIKD_PROTOCOL_H",
        "#define UNIKD_PROTOCOL_H",
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
        "#endif /* UNIKD_PROTOCOL_H */",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Print or write firmware/core/unikd_protocol.h")
    ap.add_argument("--write", action="store_true", help=f"write {HEADER_C}")
    args = ap.parse_args(argv)
    if args.write:
        HEADER_C.write_text(c_header())
        print(f"wrote {HEADER_C}")
    else:
        sys.stdout.write(c_header())
    return 0


if __name__ == "__main__":
    sys.exit(main())
