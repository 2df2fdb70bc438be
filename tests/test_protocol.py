"""unikd_mcu/hil/protocol.py: the one source of truth for host and device (framing, CRC, payloads, the C header)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from unikd_mcu.hil import protocol as P

ROOT = Path(__file__).resolve().parents[1]


def test_committed_c_header_is_generated_from_protocol_py():
    assert P.HEADER_C.read_text() == P.c_header(), \
        "firmware/core/unikd_protocol.h is out of date: run `python -m unikd_mcu.hil.protocol --write`"


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


def test_unknown_timer_unit_is_labelled_not_an_error():
    h = P.Hello(1, 7, P.MAX_PAYLOAD, 0, 128, 9, 64, 6, 0.03125, -5, 0.1, 12, 50.0, 4288, 0, "0.1.0", "aot",
                "ab" * 32, ["a"] * 6)
    back = P.Hello.unpack(h.pack())
    assert back.timer_label == "unit 7" and back.ticks_scale == 1


def test_crc16_matches_a_bitwise_reference_on_random_frames():
    def bitwise(data, crc=0xFFFF):
        for b in data:
            crc ^= b << 8
            for _ in range(8):
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        return crc

    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 1160):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert P.crc16(data) == bitwise(data)
        assert P.crc16(data, 0x1234) == bitwise(data, 0x1234)


def test_failed_inferences_score_as_errors_not_crashes():
    from unikd_mcu.hil.report import scored
    from unikd.metrics import confusion_matrix, macro_f1

    y = np.array([0, 1, 2, 2])
    dev = scored(y, np.array([0, 255, 2, -1]), 3)  # 255: the device's "inference failed" class
    assert ((dev >= 0) & (dev < 3)).all() and (dev != y)[[1, 3]].all() and (dev == y)[[0, 2]].all()
    assert confusion_matrix(y, dev, 3).sum() == 4 and macro_f1(y, dev, 3) < 1.0
