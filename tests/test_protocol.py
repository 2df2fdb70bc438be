"""unikd_mcu/hil/protocol.py: the one source of truth for host and device (framing, CRC, payloads, the C header)."""

from __future__ import annotations

import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helpers import require_tools
from unikd_mcu.hil import protocol as P

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "firmware" / "core"


def test_committed_c_header_is_generated_from_protocol_py():
    assert P.HEADER_C.read_text() == P.c_header(), \
        "firmware/core/unikd_protocol.h is out of date: run `python -m unikd_mcu.hil.protocol --write`"


def test_committed_payload_tables_are_generated_from_protocol_py():
    doc = P.DOC.read_text()
    assert doc.count(P.DOC_BEGIN) == 1 and doc.count(P.DOC_END) == 1
    assert doc == P.doc_with_tables(doc), \
        "the payload tables of docs/protocol.md are out of date: run `python -m unikd_mcu.hil.protocol --write`"


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


HELLO = P.Hello(1, P.TimerUnit.QEMU_INSTRUCTIONS_DIV40, P.MAX_PAYLOAD, 3, 128, 9, 64, 6, 0.03125, -5, 0.1, 12,
                50.0, 4288, P.HELLO_FLAG_BOOT | P.HELLO_FLAG_RUNTIME_OK, P.Mode.HOST, P.SensorState.LOST,
                P.CalibState.ACTIVE, 70000, "0.1.0", "aot", "ab" * 32,
                ["walk", "upstairs", "downstairs", "sit", "stand", "lie"])


def test_hello_round_trip():
    h = HELLO
    back = P.Hello.unpack(h.pack())
    assert back.booted and back.runtime_ok and back.ticks_scale == 40 and back.timer_label == "instructions (QEMU)"
    assert back.output_scale == np.float32(0.1) and back.class_names == h.class_names
    assert (back.window, back.stride, back.input_zero_point, back.boot_count) == (128, 64, -5, 3)
    assert (back.mode, back.sensor_state, back.calib_state, back.calib_samples) == (1, 5, 2, 70000)


def test_unknown_timer_unit_is_labelled_not_an_error():
    h = P.Hello(1, 7, P.MAX_PAYLOAD, 0, 128, 9, 64, 6, 0.03125, -5, 0.1, 12, 50.0, 4288, 0, 0, 0, 0, 0, "0.1.0", "aot",
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


# ---- payload layouts: one declaration -> Python packing, C header, documentation --------------------------------

CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def sample_values(layout: P.Layout, reply: bool) -> dict:
    """A distinct, exactly representable value for every part. A reply's array tail is empty: the generated C put
    functions write heads and strings, and the firmware sends the array from its own buffer."""
    values = {}
    for i, p in enumerate(layout.parts):
        if p.kind == "scalar":
            values[p.name] = {"u8": 200 - i, "i8": -100 + i, "u16": 60000 - i, "u32": 4_000_000_000 - i,
                              "f32": i + 0.25}[p.type]
        elif p.kind == "str":
            values[p.name] = f"{p.name}-{i}"
        elif p.kind == "strs":
            values[p.name] = [f"{p.name}{k}" for k in range(3)]
        else:
            first = -(i + 1) if p.elem in ("i8", "f32") else i + 1
            values[p.name] = np.array([] if reply else [first, 3, 100], np.dtype("<" + P.SCALARS[p.elem]))
    return values


def _c_literal(p: P.Part, v) -> str:
    return {"f32": f"{v}f", "u32": f"{v}u", "i8": f"(int8_t)({v})"}.get(p.type, str(v))


def c_round_trip_program(layouts: dict) -> str:
    """A host program over the generated header: prints each payload's head size, array offsets and member sizes,
    the bytes each reply's put function writes from sample_values(), and what each request's get function and
    array accessor read from the bytes Python packed."""
    out = ["#include <stdio.h>", "#include <string.h>", '#include "unikd_protocol.h"', "",
           "static void dump(const char *name, const uint8_t *b, const uint8_t *e)", "{", '    printf("%s ", name);',
           "    while (b < e)", '        printf("%02x", *b++);', '    printf("\\n");', "}", "", "int main(void)", "{",
           "    static uint8_t buf[1024];"]
    for layout in layouts.values():
        m, name = layout.msg.name, layout.msg.name.lower()
        macro, reply = f"UNIKD_PL_{m}", bool(layout.msg & 0x80)
        values = sample_values(layout, reply)
        out.append(f'    printf("head {m} %d\\n", (int){macro}_HEAD_BYTES);')
        out += [f'    printf("array {m} {p.name} %d %d\\n", (int){macro}_{p.name.upper()}_OFFSET, '
                f'(int){macro}_{p.name.upper()}_ELEM_BYTES);' for p in layout.tail if p.kind == "array"]
        if reply and layout.parts and layout.parts[0].kind != "array":
            out += ["    {", f"        unikd_pl_{name} v;", "        memset(&v, 0, sizeof v);"]
            for p in layout.parts:
                if p.kind == "scalar":
                    out += [f"        v.{p.name} = {_c_literal(p, values[p.name])};",
                            f'        printf("size {m} {p.name} %d\\n", (int)sizeof v.{p.name});']
                elif p.kind == "str":
                    out.append(f'        v.{p.name} = "{values[p.name]}";')
                elif p.kind == "strs":
                    names = ", ".join(f'"{s}"' for s in values[p.name])
                    out += [f"        static const char *const {p.name}[] = {{{names}}};",
                            f"        v.{p.name} = {p.name};", f"        v.{p.name}_count = {len(values[p.name])};"]
            out += [f'        dump("{m}", buf, unikd_pl_put_{name}(buf, buf + sizeof buf, &v));', "    }"]
        elif not reply and layout.parts:
            payload = ", ".join(f"0x{b:02x}" for b in layout.pack(values))
            out += ["    {", f"        static const uint8_t in[] = {{{payload}}};"]
            if layout.head:
                out += [f"        unikd_pl_{name} v;", f"        unikd_pl_get_{name}(in, &v);"]
                out += [f'        printf("{m} {p.name} %.17g\\n", (double)v.{p.name});' for p in layout.head]
            for p in layout.tail:
                out += [f'        printf("{m} {p.name} %.17g\\n", (double)unikd_pl_{name}_{p.name}_at(in, {k}));'
                        for k in range(len(values[p.name]))]
            out.append("    }")
    return "\n".join(out + ["    return 0;", "}", ""])


def check_c_against_python(layouts: dict, tmp: Path) -> None:
    """Compile the generated header (C99 and C++, warnings as errors) and check, message by message, that the C
    sizes, offsets, put and get functions agree with the Python packing of the same declaration."""
    require_tools("gcc", "g++")
    (tmp / "unikd_protocol.h").write_text(P.c_header(layouts))
    (tmp / "prog.c").write_text(c_round_trip_program(layouts))
    (tmp / "cxx.cpp").write_text('#include "unikd_protocol.h"\nint main() { return 0; }\n')
    for cmd in (["gcc", *CFLAGS, f"-I{CORE}", "prog.c", "-o", "prog"],
                ["g++", "-Wall", "-Wextra", "-Werror", f"-I{CORE}", "cxx.cpp", "-o", "cxx"]):
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    lines = subprocess.run([str(tmp / "prog")], capture_output=True, text=True, check=True).stdout.splitlines()
    heads, arrays, sizes, got_values, dumps = {}, {}, {}, {}, {}
    for line in lines:
        word = line.split()
        if word[0] == "head":
            heads[word[1]] = int(word[2])
        elif word[0] == "array":
            arrays[word[1], word[2]] = (int(word[3]), int(word[4]))
        elif word[0] == "size":
            sizes[word[1], word[2]] = int(word[3])
        elif len(word) == 2:
            dumps[word[0]] = bytes.fromhex(word[1])
        else:
            got_values.setdefault(word[0], {}).setdefault(word[1], []).append(float(word[2]))
    assert heads == {m.name: layout.head_struct.size for m, layout in layouts.items()}
    assert arrays == {(m.name, p.name): (layout.offsets()[p.name], p.elem_bytes)
                      for m, layout in layouts.items() for p in layout.tail if p.kind == "array"}
    assert sizes == {(m.name, p.name): p.elem_bytes for m, layout in layouts.items() if m & 0x80 for p in layout.head}
    assert set(dumps) == {m.name for m, layout in layouts.items()
                          if m & 0x80 and layout.parts and layout.parts[0].kind != "array"}
    assert set(got_values) == {m.name for m, layout in layouts.items() if not m & 0x80 and layout.parts}
    for msg, layout in layouts.items():
        values = sample_values(layout, bool(msg & 0x80))
        if msg.name in dumps:  # a reply: C wrote what Python packs, and Python reads it back
            assert dumps[msg.name] == layout.pack(values), msg.name
            back = layout.unpack(dumps[msg.name])
            assert {k: v for k, v in back.items() if not isinstance(v, bytes)} == \
                {k: v for k, v in values.items() if not isinstance(v, np.ndarray)}
        elif msg.name in got_values:  # a request: C read what Python packed
            expected = {p.name: [float(x) for x in np.atleast_1d(values[p.name])] for p in layout.parts}
            assert got_values[msg.name] == expected, msg.name


def changed_layouts() -> dict:
    """PAYLOADS with its layouts changed: HELLO's stride moved first and its window widened to u32, RESULT with a new
    u16 field after status, ERROR's detail widened to u32."""
    out = dict(P.PAYLOADS)
    hello = P.PAYLOADS[P.Msg.HELLO]
    widened = [replace(p, type="u32") if p.name == "window" else p for p in hello.parts if p.name != "stride"]
    out[P.Msg.HELLO] = replace(hello, parts=(hello.part("stride"), *widened))
    result = list(P.PAYLOADS[P.Msg.RESULT].parts)
    result.insert(2, P.Part("queue", "u16", "requests waiting"))
    out[P.Msg.RESULT] = replace(P.PAYLOADS[P.Msg.RESULT], parts=tuple(result))
    error = P.PAYLOADS[P.Msg.ERROR]
    out[P.Msg.ERROR] = replace(error, parts=tuple(replace(p, type="u32") if p.name == "detail" else p
                                                  for p in error.parts))
    return out


@pytest.mark.parametrize("layouts", [P.PAYLOADS, changed_layouts()], ids=["declared", "changed"])
def test_generated_c_agrees_with_python_packing(layouts, tmp_path):
    check_c_against_python(layouts, tmp_path)


def test_a_layout_change_moves_python_c_and_doc_together():
    changed = changed_layouts()
    hello = changed[P.Msg.HELLO]
    values = sample_values(hello, reply=True)
    packed = hello.pack(values)
    # stride now leads, and window (u32) sits after u8, u8, u16 max_payload, u32 boot_count: offset 2 + 1 + 1 + 2 + 4
    assert struct.unpack_from("<H", packed, 0)[0] == values["stride"]
    assert struct.unpack_from("<I", packed, 10)[0] == values["window"] and hello.head_struct.size == 44
    header, doc = P.c_header(changed), P.doc_tables(changed)
    lines = header.splitlines()
    hello_parts = lines.index("#define UNIKD_PL_HELLO_PARTS(X) \\")
    assert lines[hello_parts + 1] == "    X(scalar, u16, stride) \\"
    error_parts = "X(scalar, u8, code) X(scalar, u8, offending_type) X(scalar, u32, detail)"
    for line in ["    X(scalar, u32, window) \\", "#define UNIKD_PL_HELLO_HEAD_BYTES 44",
                 "    X(scalar, u16, queue) \\", "#define UNIKD_PL_RESULT_OUTPUTS_OFFSET 8",
                 "#define UNIKD_PL_ERROR_HEAD_BYTES 6", f"#define UNIKD_PL_ERROR_PARTS(X) {error_parts}"]:
        assert line in lines and line not in P.c_header().splitlines(), line
    for row in ["| 0 | 2 | u16 | `stride` |", "| 10 | 4 | u32 | `window` |", "| 2 | 2 | u16 | `queue` |",
                "| 8 | num_classes | i8[num_classes] | `outputs` |", "| 2 | 4 | u32 | `detail` |"]:
        assert row in doc and row not in P.doc_tables(), row
    assert "u8 predicted, u8 status, u16 queue, u32 ticks, i8[num_classes] outputs" in doc
    # the committed document carries the declared tables, so it would fail the sync test for the changed ones
    assert P.doc_with_tables(P.DOC.read_text(), changed) != P.DOC.read_text()


def test_declaration_refuses_what_the_generators_cannot_express():
    with pytest.raises(ValueError, match="scalars first"):
        P.Layout(P.Msg.HELLO, "x", parts=[("name", "str", ""), ("n", "u8", "")])
    with pytest.raises(ValueError, match="scalars first"):
        P.Layout(P.Msg.RESULT, "x", parts=[("a", "i8[n]", ""), ("b", "u8[n]", "")])
    with pytest.raises(ValueError, match="unknown type"):
        P.Part("x", "u24", "")
    bad = dict(P.PAYLOADS)
    bad[P.Msg.RESULT] = P.Layout(P.Msg.RESULT, "x", parts=[("outputs", "i8[classes]", "")])
    with pytest.raises(ValueError, match="not HELLO fields"):
        P._check_declaration(bad)
    bad[P.Msg.RESULT] = P.PAYLOADS[P.Msg.RESULT]
    bad[P.Msg.PING] = P.Layout(P.Msg.PING, "x", parts=[("text", "str", "")])
    with pytest.raises(ValueError, match="PING: a request cannot carry strings"):
        P._check_declaration(bad)


# ---- malformed payloads ----------------------------------------------------------------------------------------

def test_short_or_long_payloads_name_the_message_and_the_lengths():
    payload = HELLO.pack()
    with pytest.raises(P.PayloadError, match=r"^HELLO payload of 20 bytes: expected at least 42 bytes \(u8 protocol"):
        P.Hello.unpack(payload[:20])
    with pytest.raises(P.PayloadError, match=r"^HELLO payload of 57 bytes: expected at least 117 bytes \(string "
                                             r"model_hash at offset 52\)"):
        P.Hello.unpack(payload[:57])  # cut inside the 64-digit hash
    with pytest.raises(P.PayloadError, match=r"^HELLO payload of 52 bytes: expected at least 53 bytes \(string "
                                             r"model_hash at offset 52\)"):
        P.Hello.unpack(payload[:52])  # ends before the hash
    result = P.Frame(P.Msg.RESULT, 1, bytes([2, 0, 1, 0, 0, 0]) + bytes(4))
    with pytest.raises(P.PayloadError, match=r"^RESULT payload of 3 bytes: expected at least 6 bytes"):
        P.Result.unpack(P.Frame(P.Msg.RESULT, 1, result.payload[:3]))
    assert P.Result.unpack(result).outputs == bytes(4)  # without a hello, any number of outputs
    with pytest.raises(P.PayloadError, match=r"^RESULT payload of 10 bytes: expected 12 bytes "
                                             r"\(i8\[num_classes\] outputs, num_classes = 6\)"):
        P.Result.unpack(result, HELLO)
    with pytest.raises(P.PayloadError, match=r"^STREAM_RESULT payload of 9 bytes: expected at least 10 bytes"):
        P.Result.unpack(P.Frame(P.Msg.STREAM_RESULT, 1, bytes(9)))
    with pytest.raises(P.PayloadError, match=r"^ERROR payload of 5 bytes: expected 4 bytes"):
        P.Error.unpack(bytes(5))
    with pytest.raises(P.PayloadError, match=r"^SAMPLES payload of 11 bytes: expected 4 \+ a multiple of 36 bytes"):
        P.Samples.unpack(bytes(11), HELLO)


class OneReply:
    """A pyserial stand-in for a device that answers every request with the same reply type and payload."""

    def __init__(self, reply_type: int, payload: bytes):
        self.reply_type, self.payload = reply_type, payload
        self.out = bytearray()
        self.timeout = 0.0

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def write(self, data: bytes) -> int:
        for f in P.FrameParser().feed(data):
            self.out += P.encode(self.reply_type, f.seq, self.payload)
        return len(data)

    def flush(self) -> None:
        pass

    def read(self, n: int = 1) -> bytes:
        data, self.out = bytes(self.out), bytearray()
        return data


def test_client_reports_a_short_hello_or_result_from_the_device():
    from unikd_mcu.hil.client import HilClient

    with pytest.raises(P.PayloadError, match=r"^HELLO payload of 20 bytes: expected at least 42 bytes"):
        HilClient(OneReply(P.Msg.HELLO, HELLO.pack()[:20]), timeout=0.5).handshake()
    client = HilClient(OneReply(P.Msg.RESULT, bytes([1, 0, 9, 0, 0, 0, 5, 6])), timeout=0.5)
    client.hello = HELLO  # 6 classes: two outputs are missing
    with pytest.raises(P.PayloadError, match=r"^RESULT payload of 8 bytes: expected 12 bytes"):
        client.infer_window(np.zeros((HELLO.window, HELLO.channels), np.int8))


def test_docs_state_the_samples_a_request_holds_as_the_client_computes_it():
    """docs/protocol.md states how many samples one SAMPLES request holds (56 for 9 channels, 170 for 3); the client
    derives the same from the hello's max_payload, so neither can drift from the other."""
    from unikd_mcu.hil.client import HilClient

    doc = (ROOT / "docs" / "protocol.md").read_text()
    client = HilClient(None)
    client.hello = HELLO
    most = {c: client._samples_per_request(c) for c in (9, 3)}
    assert most == {9: 56, 3: 170}
    assert f"{most[9]} samples for the 9-channel UCI-HAR models ({4 + most[9] * 36:,} bytes), {most[3]}" in doc
    assert len(P.Samples(0, np.zeros((most[9], 9), np.float32)).pack()) <= P.MAX_PAYLOAD
    assert len(P.Samples(0, np.zeros((most[9] + 1, 9), np.float32)).pack()) > P.MAX_PAYLOAD
