"""Property checks of the device's frame handling: the C parser (firmware/core/unikd_frame.c), the receive gap
(unikd_rx.c) and the dispatch (unikd_app.c's on_frame), run on the host board built with sanitizers (SANITIZE).
Shared by the fixed-seed test (tests/test_firmware_fuzz.py) and the longer run (scripts/fuzz_protocol.py --c).

The oracle is the host twin of the device parser (protocol.FrameParser; at a receive gap it gives up its first
marker and rescans, as unikd_parser_drop_partial does): fed the same bytes, it says which frames the device must
take and which it must drop. The properties, for any stream:
- the device exits 0 with nothing on stderr (with -fno-sanitize-recover a sanitizer report ends it with an error);
- all it writes is well-formed frames (the boot hello, then replies; no byte skipped, no bad frame), each payload
  fitting its declared layout;
- each frame the twin drops gets one ERROR BAD_CRC or TOO_LONG with that frame's header fields, in order;
- each frame the twin takes gets exactly one reply with its sequence number, in order: the reply its type owes it
  (REPLY, as PAYLOADS' `reply` texts say), or ERROR BAD_LENGTH when the payload does not fit the declared layout,
  or ERROR UNKNOWN_TYPE; a SAMPLES request first gets as many STREAM_RESULTs as its ack counts (the two orders
  are checked apart: how the device interleaves framing errors with replies is not);
- every well-formed frame the generator placed, after whatever junk, is among those taken (junk that happens to
  carry a right CRC can swallow one: the twin shows it, and it is counted rather than failed).
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from unikd_mcu.hil import protocol as P

#: Compile and link flags of the checked build (the host Makefile's SANITIZE). float-cast-overflow is not part of
#: -fsanitize=undefined in gcc, and raw SAMPLES values (NaN, 1e38) go through float -> integer conversions.
SANITIZE = "-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -g"
#: The receive gap the checked build is given (UNIKD_RX_GAP_MS), in the host board's ticks (microseconds): set
#: here and passed to the build (BUILD_VARS), so the checker and the device cannot disagree on it.
GAP_MS = 100
GAP_TICKS = GAP_MS * 1000
#: make variables of the checked build (the host board's Makefile).
BUILD_VARS = {"SANITIZE": SANITIZE, "CPPFLAGS": f"-DUNIKD_RX_GAP_MS={GAP_MS}"}
#: Each request and the reply it is owed when its payload fits its layout.
REPLY = {P.Msg.HELLO_REQ: P.Msg.HELLO, P.Msg.WINDOW: P.Msg.RESULT, P.Msg.SAMPLES: P.Msg.SAMPLES_ACK,
         P.Msg.STREAM_RESET: P.Msg.ACK, P.Msg.PING: P.Msg.PONG, P.Msg.WINDOW_DUMP: P.Msg.WINDOW_DATA,
         P.Msg.MODE: P.Msg.STATUS, P.Msg.STATUS_REQ: P.Msg.STATUS, P.Msg.CALIB: P.Msg.STATUS}
FRAMING = (P.Err.BAD_CRC, P.Err.TOO_LONG)  # errors of the parser, about frames on_frame never saw
#: What a complete check must have reached at least once (the fixed-seed test asserts it).
EXPECTED_STATES = ([f"{m.name} -> {r.name}" for m, r in REPLY.items()]
                   + [f"{m.name} -> ERROR BAD_LENGTH" for m in REPLY if m != P.Msg.PING]
                   + ["MODE -> ERROR BAD_VALUE", "CALIB -> ERROR BAD_VALUE"]
                   + ["other type -> ERROR UNKNOWN_TYPE", "ERROR BAD_CRC", "ERROR TOO_LONG", "STREAM_RESULT",
                      "RESULT of a failed inference", "partial frame dropped at a gap", "frame split across records",
                      "frame kept from behind a partial at a gap"])


@dataclass
class Stream:
    """Input for one device run: records of (arrival time, bytes), and the well-formed frames placed in them."""

    records: list[tuple[int, bytes]] = field(default_factory=list)
    placed: list[P.Frame] = field(default_factory=list)

    def stdin(self, timed: bool) -> bytes:
        """The serial link's bytes, or the `timed` mode's records (u32 time, u32 n, n bytes)."""
        if not timed:
            return b"".join(b for _, b in self.records)
        return b"".join(struct.pack("<II", t % 2**32, len(b)) + b for t, b in self.records)


class Generator:
    """Seeded streams for a device that announced `hello`: requests of every type with right and wrong lengths,
    unknown types, junk, flipped bits, cut frames, lone markers and length fields over MAX_PAYLOAD."""

    def __init__(self, rng: random.Random, hello: P.Hello):
        self.rng = rng
        self.window_bytes = hello.window * hello.channels
        self.sample_bytes = 4 * hello.channels
        self.cursor = 0  # the sample index the device probably expects next, so that SAMPLES fill its window
        self.seq = 0

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) % P.BOOT_SEQ  # never BOOT_SEQ, which marks the device's own frames
        return self.seq

    def _samples(self, k: int) -> bytes:
        if self.rng.random() < 0.2:  # raw bit patterns: NaN, infinities, denormals, 1e38
            return self.rng.randbytes(k * self.sample_bytes)
        n = k * self.sample_bytes // 4
        return struct.pack(f"<{n}f", *(self.rng.gauss(0, 2) for _ in range(n)))

    def right_payload(self, msg: P.Msg) -> bytes:
        rng = self.rng
        if msg == P.Msg.WINDOW:
            body = rng.randbytes(self.window_bytes)
            # the test double runtime fails on this prefix (tests/firmware/test_double_runtime.c)
            return b"\x80\x80\x80\x7f" + body[4:] if rng.random() < 0.1 else body
        if msg == P.Msg.SAMPLES:
            most = (P.MAX_PAYLOAD - 4) // self.sample_bytes
            k = rng.choice((0, 1, most, most, most, rng.randrange(most + 1)))  # full frames fill windows sooner
            first = self.cursor if rng.random() < 0.8 else rng.choice((0, rng.randrange(2**32)))
            if first <= self.cursor:
                self.cursor = max(self.cursor, first + k) % 2**32  # the device's indices are u32 too
            return struct.pack("<I", first) + self._samples(k)
        if msg == P.Msg.STREAM_RESET:
            self.cursor = rng.choice((0, 0, rng.randrange(2**32)))  # also near 2^32: the indices wrap
            return struct.pack("<I", self.cursor)
        if msg == P.Msg.PING:
            return rng.randbytes(rng.choice((0, 1, 17, rng.randrange(P.MAX_PAYLOAD + 1), P.MAX_PAYLOAD)))
        if msg == P.Msg.MODE:  # now and then a mode the device does not know (BAD_VALUE)
            return bytes([rng.choice((0, 1, 1, 1, rng.randrange(2, 256)))])
        if msg == P.Msg.CALIB:
            return bytes([rng.choice((0, 1, 2, 2, rng.randrange(3, 256))), rng.choice((0, 1, 1, 1, 2, 255))])
        return b""  # HELLO_REQ, WINDOW_DUMP, STATUS_REQ

    def wrong_payload(self, msg: P.Msg) -> bytes:
        """A payload whose length does not fit msg's layout (PING fits any length)."""
        rng = self.rng
        if msg == P.Msg.WINDOW:
            n = self.window_bytes + rng.choice((-1, 1, -self.window_bytes, P.MAX_PAYLOAD - self.window_bytes))
        elif msg == P.Msg.SAMPLES:
            n = rng.choice((rng.randrange(4), 4 + self.sample_bytes * rng.randrange(3) + rng.randrange(1, 4)))
        elif msg == P.Msg.STREAM_RESET:
            n = rng.choice((0, 3, 5, 8))
        elif msg in (P.Msg.MODE, P.Msg.CALIB):
            right = P.PAYLOADS[msg].head_struct.size
            n = rng.choice([k for k in (0, 1, 2, 3, 7) if k != right])
        else:
            n = rng.choice((1, 2, rng.randrange(1, P.MAX_PAYLOAD + 1)))
        return rng.randbytes(n)

    def part(self) -> tuple[bytes, P.Frame | None]:
        """One piece of stream, and the frame in it if it is a well-formed frame."""
        rng = self.rng
        kind = rng.choices(range(9), weights=(8, 3, 1, 2, 2, 2, 1, 1, 1))[0]
        # SAMPLES often and STREAM_RESET seldom, so that runs of SAMPLES fill the window and STREAM_RESULTs come
        msg = rng.choices(list(REPLY), weights=[{P.Msg.SAMPLES: 4}.get(m, 1) for m in REPLY])[0]
        if kind <= 2:
            if kind == 0:
                frame = P.Frame(msg, self._next_seq(), self.right_payload(msg))
            elif kind == 1:
                frame = P.Frame(msg if msg != P.Msg.PING else P.Msg.WINDOW_DUMP, self._next_seq(),
                                self.wrong_payload(msg))
            else:
                unknown = rng.choice([t for t in range(256) if t not in REPLY])
                frame = P.Frame(unknown, self._next_seq(), rng.randbytes(rng.randrange(20)))
            return P.encode(frame.type, frame.seq, frame.payload), frame
        cursor = self.cursor
        wire = P.encode(msg, rng.randrange(0x10000), self.right_payload(msg)[:200])
        self.cursor = cursor  # a frame the device will not take moves no sample index
        if kind == 3:  # junk, now and then with start markers in it
            junk = bytearray(rng.randbytes(rng.randrange(1, 40)))
            for _ in range(rng.randrange(3)):
                junk[rng.randrange(len(junk))] = P.START[0]
            return bytes(junk), None
        if kind == 4:  # one bit flipped anywhere: marker, header, payload or CRC
            i = rng.randrange(len(wire))
            return wire[:i] + bytes([wire[i] ^ (1 << rng.randrange(8))]) + wire[i + 1:], None
        if kind == 5:  # cut short
            return wire[: rng.randrange(1, len(wire))], None
        if kind == 6:
            return P.START[:1] * rng.randrange(1, 3) + P.START * rng.randrange(3), None
        if kind == 7:  # a header announcing more than MAX_PAYLOAD
            return P.START + struct.pack("<BHH", msg, rng.randrange(0x10000),
                                         rng.choice((P.MAX_PAYLOAD + 1, 0xFFFF, rng.randrange(P.MAX_PAYLOAD + 1,
                                                                                              0x10000)))), None
        return P.START + bytes(rng.randrange(256) for _ in range(rng.randrange(6))), None  # a header cut short

    def stream(self, n_parts: int, timed: bool) -> Stream:
        """n_parts pieces. timed: each in one or more records, with pauses shorter than the gap inside a piece
        (a frame split across reads) and pauses of any length, GAP_TICKS exactly included, between pieces."""
        rng = self.rng
        s, now = Stream(), rng.choice((0, 2**32 - 3 * GAP_TICKS))  # some runs see the 32-bit timer wrap
        for _ in range(n_parts):
            data, frame = self.part()
            if frame is not None:
                s.placed.append(frame)
            if not timed:
                s.records.append((0, data))
                continue
            now += rng.choice((0, 1, GAP_TICKS, GAP_TICKS + 1, rng.randrange(3 * GAP_TICKS)))
            cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randrange(3))))
            for a, b in zip([0, *cuts], [*cuts, len(data)]):
                s.records.append((now, data[a:b]))
                now += rng.choice((0, 1, GAP_TICKS))  # up to the gap itself, which drops nothing
        # zeros complete whatever frame the last pieces left open (a cut header may announce 2 KB) and are then
        # skipped, so every frame placed before can be answered; a last ping shows the device still listens
        last = P.Frame(P.Msg.PING, self._next_seq(), b"end")
        s.placed.append(last)
        s.records.append((now, bytes(P.MAX_FRAME) + P.encode(last.type, last.seq, last.payload)))
        return s


class _Twin(P.FrameParser):
    """FrameParser that records each frame it drops with the header fields the device's ERROR carries."""

    def __init__(self):
        super().__init__()
        self.dropped: list[tuple[int, int, int, int]] = []

    def _drop_marker(self):
        msg_type, seq, length = struct.unpack_from("<BHH", self.buf, 2)
        if length > P.MAX_PAYLOAD:
            self.dropped.append((P.Err.TOO_LONG, msg_type, seq, length))
        else:  # the device reports the CRC it received
            (crc,) = struct.unpack_from("<H", self.buf, P.HEADER_BYTES + length)
            self.dropped.append((P.Err.BAD_CRC, msg_type, seq, crc))
        super()._drop_marker()


def expect(stream: Stream, timed: bool, states: Counter) -> tuple[list[P.Frame], list[tuple]]:
    """What the device must take and drop: the twin fed the stream, its partial frame dropped after a pause of more
    than GAP_TICKS since the last byte (unikd_rx_poll; only in the timed mode, the serial mode never polls)."""
    twin, taken, last, pending = _Twin(), [], 0, False
    for t, data in stream.records:
        if timed and pending and (t - last) % 2**32 > GAP_TICKS:
            states["partial frame dropped at a gap"] += bool(twin.buf)
            while twin.buf:  # unikd_parser_drop_partial: the first marker goes, the rest is scanned again
                del twin.buf[:1]
                kept = twin.feed(b"")
                states["frame kept from behind a partial at a gap"] += len(kept)
                taken += kept
            pending = False
        states["frame split across records"] += bool(twin.buf)  # a partial frame that the next bytes continue
        taken += twin.feed(data)
        if data:
            last, pending = t, True
    placed, took = ({(f.type, f.seq, f.payload) for f in frames} for frames in (stream.placed, taken))
    missing, chance = placed - took, took - placed
    assert not missing or chance, f"the twin lost {len(missing)} well-formed frames, e.g. {min(missing)[:2]}"
    states["frames swallowed by junk with a right CRC"] += len(missing)
    return taken, twin.dropped


def owed(frame: P.Frame, hello: P.Hello) -> tuple[int, P.Err | None, int]:
    """(reply type, error code or None, the error's detail) the device owes a frame it took."""
    if frame.type not in REPLY:
        return P.Msg.ERROR, P.Err.UNKNOWN_TYPE, len(frame.payload)
    try:
        values = P.PAYLOADS[frame.type].unpack(frame.payload, hello)
    except P.PayloadError:
        return P.Msg.ERROR, P.Err.BAD_LENGTH, len(frame.payload)
    # fields with a closed set of values, in the order the device checks them; the detail is the value refused
    closed = {P.Msg.MODE: [("mode", P.Mode)], P.Msg.CALIB: [("context", P.CalibContext), ("action", P.CalibAction)]}
    for name, enum in closed.get(frame.type, []):
        if values[name] not in enum._value2member_map_:
            return P.Msg.ERROR, P.Err.BAD_VALUE, values[name]
    return REPLY[frame.type], None, 0


def run_device(exe: Path, stream: Stream, timed: bool, timeout: float = 120) -> bytes:
    """The device's stdout for the stream; a crash, a sanitizer report or a hang fails the property."""
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "print_stacktrace=1"}  # leaks: moot
    args = [str(exe), *(["timed"] if timed else [])]
    try:
        proc = subprocess.run(args, input=stream.stdin(timed), capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the device hung: no exit within {timeout} s") from None
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0 and not err, f"the device exited {proc.returncode}:\n{err[-3000:]}"
    return proc.stdout


def _first_difference(got: list, want: list) -> str:
    i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return f"item {i}: device {got[i:i + 2]}, twin {[tuple(map(int, w)) for w in want[i:i + 2]]} " \
           f"({len(got)} and {len(want)} in all)"


def check_replies(out: bytes, taken: list[P.Frame], dropped: list[tuple], states: Counter) -> None:
    """The device's output against the twin's verdicts (properties in the module docstring)."""
    parser = P.FrameParser()
    frames = parser.feed(out)
    assert (parser.skipped_bytes, parser.bad_frames, len(parser.buf)) == (0, 0, 0), \
        f"malformed output: {parser.skipped_bytes} bytes skipped, {parser.bad_frames} bad frames, " \
        f"{len(parser.buf)} bytes left over"
    assert frames and (frames[0].type, frames[0].seq) == (P.Msg.HELLO, P.BOOT_SEQ), "no boot hello first"
    hello = P.Hello.unpack(frames[0].payload)
    framing, replies = [], []
    for f in frames[1:]:
        assert f.type in P.PAYLOADS, f"a frame of unknown type 0x{f.type:02x} (seq {f.seq})"
        try:
            P.PAYLOADS[f.type].unpack(f.payload, hello)
        except P.PayloadError as e:  # a broken property, reported with its seed like the others
            raise AssertionError(f"a reply that does not fit its layout: {e}") from None
        e = P.Error.unpack(f.payload) if f.type == P.Msg.ERROR else None
        if e is not None and e.code in FRAMING:
            framing.append((e.code, e.offending_type, f.seq, e.detail))
        else:
            replies.append(f)
    assert framing == dropped, f"framing errors (code, type, seq, detail) differ from the twin's drops at " \
                               f"{_first_difference(framing, dropped)}"
    for code, *_ in dropped:
        states[f"ERROR {P.Err(code).name}"] += 1
    i = 0
    for req in taken:
        want, code, detail = owed(req, hello)
        results = 0
        while want == P.Msg.SAMPLES_ACK and i < len(replies) and replies[i].type == P.Msg.STREAM_RESULT \
                and replies[i].seq == req.seq:
            results, i = results + 1, i + 1
        what = f"type 0x{req.type:02x} seq {req.seq} with {len(req.payload)} bytes"
        assert i < len(replies), f"no reply to {what} (and {len(taken) - taken.index(req) - 1} more)"
        r = replies[i]
        i += 1
        assert (r.type, r.seq) == (want, req.seq), f"{what} got 0x{r.type:02x} seq {r.seq}, not {want!r}"
        if code is not None:
            e = P.Error.unpack(r.payload)
            assert (e.code, e.offending_type, e.detail) == (code, req.type, detail), f"{what}: {e}"
        elif want == P.Msg.PONG:
            assert r.payload == req.payload, f"{what}: the pong is not the ping's bytes"
        elif want == P.Msg.SAMPLES_ACK:
            assert P.SamplesAck.unpack(r.payload).results == results, f"{what}: ack counts other STREAM_RESULTs"
            states["STREAM_RESULT"] += results
        elif want == P.Msg.RESULT and P.Result.unpack(r, hello).status == P.Err.RUNTIME:
            states["RESULT of a failed inference"] += 1
        name = P.Msg(req.type).name if req.type in REPLY else "other type"
        states[f"{name} -> {P.Msg(want).name}{' ' + code.name if code else ''}"] += 1
    assert i == len(replies), f"{len(replies) - i} replies to no request, first {replies[i]}"


def device_hello(exe: Path) -> P.Hello:
    """The boot hello of a device with nothing to read."""
    return P.Hello.unpack(P.FrameParser().feed(run_device(exe, Stream(), timed=False))[0].payload)


def run(exe: Path, seed: int, serial_parts: int, timed_runs: int, timed_parts: int) -> Counter:
    """One serial run of serial_parts pieces and timed_runs runs of timed_parts pieces in the `timed` mode, drawn
    from `seed`; returns the states reached (and "inputs": pieces fed). AssertionError on a broken property."""
    gen = Generator(random.Random(seed), device_hello(exe))
    states: Counter = Counter()
    for timed, parts in [(False, serial_parts)] + [(True, timed_parts)] * timed_runs:
        stream = gen.stream(parts, timed)
        taken, dropped = expect(stream, timed, states)
        check_replies(run_device(exe, stream, timed), taken, dropped, states)
        states["inputs"] += parts
        states["device runs"] += 1
    return states
