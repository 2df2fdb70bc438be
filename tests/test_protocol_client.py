"""unikd_mcu.hil.client against the real firmware core built for the host board (firmware/boards/host, with the
TEST DOUBLE runtime; conftest.host_device), over a pipe: handshake and model check, window and stream mode,
retries and accounting. The same client against the real aot runtime in QEMU is hil_tests/."""

from __future__ import annotations

import os
import select
import subprocess

import numpy as np
import pytest

from codegen.quantise import quantise_windows
from fake_device import (INV_STD, MEAN, SCALE, SEED, ZP, double_runtime, fake_metadata, random_windows,
                         stream_expectations)
from unikd.data.normalise import Normaliser
from unikd_mcu.hil import protocol as P
from unikd_mcu.hil.client import HilClient, ModelMismatch


class PipeLink:
    """The host-built device as a pyserial-like object: write -> its stdin, read <- its stdout."""

    def __init__(self, exe):
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.timeout = 1.0

    @property
    def in_waiting(self) -> int:
        return 1 if select.select([self.proc.stdout], [], [], 0)[0] else 0

    def read(self, n: int = 1) -> bytes:
        if not select.select([self.proc.stdout], [], [], self.timeout)[0]:
            return b""
        return os.read(self.proc.stdout.fileno(), max(n, 4096))

    def write(self, data: bytes) -> int:
        self.proc.stdin.write(data)
        return len(data)

    def flush(self) -> None:
        self.proc.stdin.flush()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


@pytest.fixture
def link(host_device):
    pipe = PipeLink(host_device)
    yield pipe
    pipe.close()


def make_client(link, **kw) -> HilClient:
    c = HilClient(link, timeout=0.5, metadata=fake_metadata().to_dict(), **kw)
    assert c.wait_boot(timeout=5).booted
    c.handshake()
    return c


def test_handshake_accepts_the_same_model_and_refuses_another(link):
    c = make_client(link)
    assert c.hello.model_hash == fake_metadata().model_sha256 and c.boot_count == 1
    other = HilClient(link, timeout=0.5, metadata=fake_metadata(output_zero_point=8).to_dict())
    with pytest.raises(ModelMismatch, match="output_zero_point: device 7, host 8"):
        other.handshake()


def test_window_mode_results_in_order(link):
    c = make_client(link)
    wins = random_windows(8, np.random.default_rng(SEED))
    results = c.infer_windows(wins)
    assert [np.frombuffer(r.outputs, np.int8).tolist() for r in results] == \
        [double_runtime(w).tolist() for w in wins]
    assert c.log.retries == 0 and c.log.unanswered == [] and c.log.requests == 9


def test_stream_mode_every_window_once(link):
    c = make_client(link, chunk_samples=23)
    stream = np.random.default_rng(SEED).normal(0, 1.5, size=(500, 9)).astype(np.float32)
    got = c.stream_samples(stream)
    expected = stream_expectations(stream, 0)
    assert sorted(got) == sorted(expected)
    assert all(np.frombuffer(got[e].outputs, np.int8).tolist() == expected[e].tolist() for e in expected)
    assert c.log.stream_repairs == 0
    end, window = c.dump_window()
    norm = Normaliser(MEAN, INV_STD)
    assert end == 500 and np.array_equal(window, quantise_windows(stream[None, -128:].transpose(0, 2, 1), norm,
                                                                  float(SCALE), ZP)[0])


def test_truncated_frame_before_a_request_costs_no_retry(link):
    c = make_client(link)
    wins = random_windows(2, np.random.default_rng(SEED))
    c.send_raw(P.encode(P.Msg.WINDOW, 999, wins[0].tobytes())[:400])  # the device waits for the rest
    r = c.infer_window(wins[1])
    assert np.frombuffer(r.outputs, np.int8).tolist() == double_runtime(wins[1]).tolist()
    # The truncated frame swallows the head of the request; when its length is reached its CRC fails (an error
    # for sequence 999, stray to the client) and the rescan finds the request's start marker among the held
    # bytes; the rest of the request follows, so it is answered at the first attempt.
    assert (c.log.timeouts, c.log.retries, c.log.unanswered) == (0, 0, [])
    assert c.log.device_errors["BAD_CRC"] == 1 and c.log.stray_frames == 1


def test_unanswered_request_is_reported_not_dropped(link):
    c = make_client(link, retries=1)
    # FAULT (a dead link, which a working pipe cannot produce): bytes written from now on never reach the device
    link.write = lambda data: len(data)  # noqa: E731
    from unikd_mcu.hil.client import NoReply
    with pytest.raises(NoReply):
        c.infer_window(random_windows(1, np.random.default_rng(SEED))[0])
    assert c.log.unanswered and c.log.unanswered[0]["type"] == P.Msg.WINDOW
    assert c.log.timeouts == 2 and c.log.retries == 1


def test_frame_claiming_more_bytes_than_follow_costs_one_timeout_and_one_retry(link):
    c = make_client(link)
    win = random_windows(1, np.random.default_rng(SEED))[0]
    c.send_raw(P.START + bytes([P.Msg.WINDOW]) + (998).to_bytes(2, "little") + P.MAX_PAYLOAD.to_bytes(2, "little"))
    r = c.infer_window(win)  # swallowed whole by the 2048-byte frame: no reply until the client's zero flush
    assert np.frombuffer(r.outputs, np.int8).tolist() == double_runtime(win).tolist()
    assert (c.log.timeouts, c.log.retries, c.log.unanswered) == (1, 1, [])
    # the flush completes the long frame (CRC error), the rescan then finds the swallowed request whole and
    # answers it late (stray: its attempt had timed out); the retry is answered too
    assert c.log.device_errors["BAD_CRC"] == 1 and c.log.stray_frames >= 1
