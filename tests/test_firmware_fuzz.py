"""Fixed-seed property run of the device's frame handling (unikd_mcu/hil/fuzz_device.py): the fake device's core
built with sanitizers, fed the same few thousand pieces of stream every time, over the serial link and in the
`timed` mode (receive gaps); `python scripts/fuzz_protocol.py --c` runs many more and reports the states reached."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from fake_device import build_fake_device
from unikd_mcu.hil import fuzz_device as F
from unikd_mcu.hil import protocol as P
from unikd_mcu.hil.images import core_sources

SEED = 20261202
LENGTH_CHECK = "if (plen > UNIKD_PROTO_MAX_PAYLOAD) {"


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    """Objects shared by this module's builds: the broken build recompiles only the file it changes."""
    return tmp_path_factory.mktemp("fuzz_objects")


def build(tmp_path_factory, require_tools, objects, core=None):
    require_tools("make", "gcc")
    return build_fake_device(tmp_path_factory.mktemp("fuzz_device"), make_vars=F.BUILD_VARS,
                             object_cache=objects, core=core)


@pytest.fixture(scope="module")
def checked_device(tmp_path_factory, require_tools, objects):
    return build(tmp_path_factory, require_tools, objects)


def test_device_holds_its_properties_on_random_streams(checked_device):
    states = F.run(checked_device, SEED, serial_parts=3000, timed_runs=4, timed_parts=300)
    assert states["inputs"] == 4200 and states["device runs"] == 5
    # the run must have reached every state, or it proves little
    assert not [s for s in F.EXPECTED_STATES if not states[s]], states


def test_the_checks_catch_a_missing_reply(checked_device):
    """A stream whose expected replies include one the device was never asked for fails the check."""
    stream = F.Generator(random.Random(SEED), F.device_hello(checked_device)).stream(50, timed=False)
    taken, dropped = F.expect(stream, False, Counter())
    out = F.run_device(checked_device, stream, False)
    F.check_replies(out, taken, dropped, Counter())
    with pytest.raises(AssertionError, match="no reply to type 0x05 seq 7"):
        F.check_replies(out, taken + [P.Frame(P.Msg.PING, 7, b"")], dropped, Counter())


def test_the_checks_catch_a_parser_without_its_length_check(tmp_path_factory, require_tools, objects):
    """The parser built without its MAX_PAYLOAD check (from a copy of its source; the product has no such switch)
    waits for frames longer than its buffer: the run fails."""
    core = {p.name: p.read_text() for p in core_sources()}
    assert LENGTH_CHECK in core["unikd_frame.c"]
    core["unikd_frame.c"] = core["unikd_frame.c"].replace(LENGTH_CHECK, "if (0) {")
    broken = build(tmp_path_factory, require_tools, objects, core)
    with pytest.raises(AssertionError, match=r"runtime error: index \d+ out of bounds"):  # UBSan's bounds check
        F.run(broken, SEED, serial_parts=300, timed_runs=0, timed_parts=0)


def test_a_gap_keeps_a_frame_that_arrived_whole_behind_a_partial_one(checked_device):
    """Regression (found by this fuzzing): unikd_parser_drop_partial emptied the whole buffer, so a request received
    complete behind a truncated frame was lost when the line then went quiet; now it is answered at the gap."""
    cut = P.encode(P.Msg.PING, 1, bytes(200))[:50]
    stream = F.Stream([(0, cut + P.encode(P.Msg.PING, 2, b"kept")), (F.GAP_TICKS + 1, P.encode(P.Msg.PING, 3))])
    replies = P.FrameParser().feed(F.run_device(checked_device, stream, timed=True))[1:]
    assert [(f.type, f.seq, f.payload) for f in replies] == [(P.Msg.PONG, 2, b"kept"), (P.Msg.PONG, 3, b"")]
