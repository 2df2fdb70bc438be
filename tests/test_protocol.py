"""unikd/hil/protocol.py: the one source of truth for host and device (framing, CRC, payloads, the C header)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from unikd.hil import protocol as P

ROOT = Path(__file__).resolve().parents[1]


def test_committed_c_header_is_generated_from_protocol_py():
    assert P.HEADER_C.read_text() == P.c_header(), \
        "firmware/core/unikd_protocol.h is out of date: run `python -m unikd.hil.protocol --write`"


def test_docs_name_every_message_and_error():
    doc = (ROOT / "docs" / "protocol.md").read_text()
    for name in [m.name for m in P.Msg] + [e.name for e in P.Err]:
        assert f"`{name}`" in doc, f"docs/protocol.md does not describe {name}"
    assert f"0x{P.START[0]:02X} 0x{P.START[1]:02X}" in doc and str(P.MAX_PAYLOAD) in doc.replace(",", "")


def test_crc16_ccitt_false_check_value():
    assert P.crc16(b"123456789") == 0x29B1  # the catalogued check value of CRC-16/CCITT-FALSE
    assert P.crc16(b"") == 0xFFFF


def test_encode_layout():
    f = P.encode(P.Msg.PING, 0x1234, b"ab")
    assert f[:2] == P.START and f[2] == P.Msg.PING
    assert struct.unpack_from("<HH", f, 3) == (0x1234, 2) and f[7:9] == b"ab"
    assert struct.unpack_from("<H", f, 9)[0] == P.crc16(f[2:9]) and len(f) == P.OVERHEAD + 2
    with pytest.raises(ValueError):
        P.encode(P.Msg.WINDOW, 1, bytes(P.MAX_PAYLOAD + 1))


def test_parser_byte_by_byte_and_across_garbage():
    rng = np.random.default_rng(0)
    frames = [P.encode(P.Msg.WINDOW, i, rng.bytes(int(rng.integers(0, 200)))) for i in range(30)]
    stream = b"".join(rng.bytes(int(rng.integers(0, 50))).replace(P.START, b"") + f for f in frames)
    parser, got = P.FrameParser(), []
    for b in stream:
        got += parser.feed(bytes([b]))
    assert [(g.seq, P.encode(g.type, g.seq, g.payload)) for g in got] == list(enumerate(frames))
    assert parser.skipped_bytes == len(stream) - sum(map(len, frames))


def test_parser_drops_bad_crc_oversized_and_truncated_frames_and_resyncs():
    good1, good2, good3 = (P.encode(P.Msg.RESULT, i, bytes([i]) * 20) for i in (1, 2, 3))
    bad_crc = bytearray(P.encode(P.Msg.RESULT, 9, b"x" * 20))
    bad_crc[-2] ^= 1
    oversized = P.START + struct.pack("<BHH", P.Msg.RESULT, 8, P.MAX_PAYLOAD + 1)
    truncated = P.encode(P.Msg.RESULT, 7, b"y" * 30)[:15]
    parser = P.FrameParser()
    got = parser.feed(good1 + bytes(bad_crc) + oversized + good2 + truncated + good3 + bytes(40))
    assert [g.seq for g in got] == [1, 2, 3]
    assert parser.bad_frames == 3


def test_hello_round_trip():
    h = P.Hello(1, P.TimerUnit.QEMU_INSTRUCTIONS_DIV40, P.MAX_PAYLOAD, 3, 128, 9, 64, 6, 0.03125, -5, 0.1, 12,
                50.0, 4288, P.HELLO_FLAG_BOOT | P.HELLO_FLAG_RUNTIME_OK, "0.1.0", "aot", "ab" * 32,
                ["walk", "upstairs", "downstairs", "sit", "stand", "lie"])
    back = P.Hello.unpack(h.pack())
    assert back.booted and back.runtime_ok and back.ticks_scale == 40 and back.timer_label == "instructions (QEMU)"
    assert back.output_scale == np.float32(0.1) and back.class_names == h.class_names
    assert (back.window, back.stride, back.input_zero_point, back.boot_count) == (128, 64, -5, 3)
