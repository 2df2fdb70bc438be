"""Property checks of the host's frame and payload decoders, shared by the fixed-seed test (tests/test_protocol_fuzz.py)
and the longer run (scripts/fuzz_protocol.py), which also reports how many inputs ran and which states were reached.

The properties, for any bytes whatever:
- FrameParser.feed never raises; every frame it returns re-encodes to bytes that were in the stream (so its CRC
  and length are right); feeding the same bytes in any chunking gives the same frames and the same counts;
- a valid frame placed after arbitrary junk is always recovered;
- every payload decoder either returns values that re-pack to the same bytes, or raises PayloadError (a clear
  message), never another exception.
"""

from __future__ import annotations

import random
from collections import Counter

from unikd_mcu.hil import protocol as P


def check_stream(data: bytes, cuts: list[int], states: Counter) -> None:
    """Parse `data` whole and in the chunks given by `cuts`; both must agree and every frame must be genuine."""
    whole = P.FrameParser()
    frames = whole.feed(data)
    chunked = P.FrameParser()
    got, start = [], 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(data))) + [len(data)]:
        got += chunked.feed(data[start:cut])
        start = cut
    assert got == frames, "chunking changed the frames"
    assert (chunked.skipped_bytes, chunked.bad_frames) == (whole.skipped_bytes, whole.bad_frames)
    for f in frames:
        assert P.encode(f.type, f.seq, f.payload) in data, "a frame that was not in the stream"
    states["frames"] += len(frames)
    states["bad_frames"] += whole.bad_frames
    states["skipped_bytes"] += whole.skipped_bytes
    states["partial_held"] += bool(whole.buf)


def check_recovery(junk: bytes, frame: P.Frame, states: Counter) -> None:
    """A good frame after junk (which may end in half a start marker or a bogus header) is found again."""
    wire = P.encode(frame.type, frame.seq, frame.payload)
    parser = P.FrameParser()
    found = parser.feed(junk + wire)
    found += parser.feed(bytes(P.MAX_FRAME))  # zeros complete whatever partial frame the junk began
    assert P.Frame(frame.type, frame.seq, frame.payload) in found, "a good frame after junk was lost"
    states["recovered"] += 1


def check_payload(msg: P.Msg, payload: bytes, hello: P.Hello | None, states: Counter) -> None:
    layout = P.PAYLOADS[msg]
    try:
        values = layout.unpack(payload, hello)
    except P.PayloadError as e:
        assert msg.name in str(e) and "bytes" in str(e)
        states[f"{msg.name}: refused"] += 1
        return
    repacked = layout.pack(values)
    # strings are decoded with replacement, so a payload with bad UTF-8 need not re-pack to the same bytes
    if all(p.kind not in ("str", "strs") for p in layout.parts):
        assert repacked == payload, f"{msg.name}: decoded values re-pack to other bytes"
    states[f"{msg.name}: decoded"] += 1


def random_frame(rng: random.Random) -> P.Frame:
    return P.Frame(rng.choice(list(P.Msg)), rng.randrange(0x10000), rng.randbytes(rng.choice((0, 1, 5, 12, 60))))


def random_stream(rng: random.Random) -> bytes:
    """Junk, genuine frames, frames with a flipped bit or a cut, lone start markers and huge length fields."""
    parts = []
    for _ in range(rng.randrange(1, 8)):
        kind = rng.randrange(6)
        wire = P.encode(*vars(random_frame(rng)).values())
        if kind == 0:
            parts.append(rng.randbytes(rng.randrange(20)))
        elif kind == 1:
            parts.append(wire)
        elif kind == 2:
            i = rng.randrange(len(wire))
            parts.append(wire[:i] + bytes([wire[i] ^ (1 << rng.randrange(8))]) + wire[i + 1:])
        elif kind == 3:
            parts.append(wire[: rng.randrange(len(wire))])
        elif kind == 4:
            parts.append(P.START * rng.randrange(1, 4))
        else:
            parts.append(P.START + bytes([rng.randrange(256)]) + rng.randbytes(2) + b"\xff\xff")
    return b"".join(parts)


def run(iterations: int, seed: int) -> Counter:
    """`iterations` rounds of every property on inputs drawn from `seed`; returns the states reached."""
    rng = random.Random(seed)
    states: Counter = Counter()
    hello = P.Hello(**{**{p.name: 0 for p in P.PAYLOADS[P.Msg.HELLO].head}, "window": 4, "channels": 3,
                       "num_classes": 6, "firmware_version": "x", "runtime": "aot", "model_hash": "0",
                       "class_names": ["a"] * 6})
    for _ in range(iterations):
        data = random_stream(rng)
        check_stream(data, [rng.randrange(len(data) + 1) for _ in range(rng.randrange(4))], states)
        check_recovery(rng.randbytes(rng.randrange(12)) + rng.choice((b"", P.START[:1], P.START)),
                       random_frame(rng), states)
        msg = rng.choice(list(P.PAYLOADS))
        n = rng.choice((0, 1, 3, 4, 6, 12, 35, 40, 80, rng.randrange(300)))
        check_payload(msg, rng.randbytes(n), rng.choice((None, hello)), states)
        states["inputs"] += 3
    return states
