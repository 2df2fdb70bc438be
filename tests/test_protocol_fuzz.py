"""Fixed-seed property run of the host decoders (unikd_mcu/hil/fuzz.py): a few thousand inputs per test run, the
same ones every time; `python scripts/fuzz_protocol.py` runs many more and reports the states reached."""

from __future__ import annotations

import random
import struct
from collections import Counter

import pytest

from unikd_mcu.hil import fuzz
from unikd_mcu.hil import protocol as P

SEED = 20261202


def test_decoders_hold_their_properties_on_random_streams():
    states = fuzz.run(3000, SEED)
    # the run must have exercised each path, or it proves little
    assert states["frames"] > 1000 and states["bad_frames"] > 500 and states["skipped_bytes"] > 5000
    assert states["partial_held"] > 100 and states["recovered"] == 3000
    for msg, layout in P.PAYLOADS.items():
        if layout.head_struct.size:  # a payload with a fixed head can be too short
            assert states[f"{msg.name}: refused"] > 0, msg.name
    assert sum(v for k, v in states.items() if k.endswith("decoded")) > 100


def test_the_properties_catch_a_parser_that_loses_frames(monkeypatch):
    """The checks can fail: a parser that drops every frame with an odd sequence number breaks recovery."""
    real = P.FrameParser.feed

    def lossy(self, data):
        return [f for f in real(self, data) if f.seq % 2 == 0]

    monkeypatch.setattr(P.FrameParser, "feed", lossy)
    with pytest.raises(AssertionError, match="a good frame after junk was lost"):
        fuzz.check_recovery(b"junk", P.Frame(P.Msg.PING, 3, b"x"), Counter())


def test_the_properties_catch_a_decoder_that_crashes(monkeypatch):
    """A decoder without length checks (struct.error on a short payload, as before payloads were declared) fails
    the property instead of passing as 'refused'."""
    def unchecked(self, payload, hello=None):
        return dict(zip((p.name for p in self.head), self.head_struct.unpack_from(payload)))

    monkeypatch.setattr(P.Layout, "unpack", unchecked)
    with pytest.raises(struct.error):
        fuzz.check_payload(P.Msg.ERROR, b"\x01", None, Counter())


def test_random_inputs_are_reproducible():
    a, b = random.Random(SEED), random.Random(SEED)
    assert fuzz.random_stream(a) == fuzz.random_stream(b)
