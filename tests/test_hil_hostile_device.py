"""The HIL client against a device that misbehaves on purpose: a fake device on a loopback TCP socket, reached through
pyserial's real `socket://` transport exactly as the emulated board is. Every case must end within the client's
bound (timeout x (retries + 1), plus scheduling slack) with an error that says what the device sent.

The fake device is a stand-in by necessity: the real firmware never sends these frames, and that is the point."""

from __future__ import annotations

import socket
import struct
import threading
import time

import numpy as np
import pytest
import serial

from unikd_mcu.hil import protocol as P
from unikd.errors import UserError
from unikd_mcu.hil.client import HilClient, HilError, NoReply

TIMEOUT, RETRIES = 0.3, 2
BOUND = TIMEOUT * (RETRIES + 1)
SLACK = 1.0  # thread start-up and socket scheduling on a busy 2-core machine


def good_hello(**changes) -> P.Hello:
    fields = dict(protocol_version=P.PROTOCOL_VERSION, timer_unit=0, max_payload=P.MAX_PAYLOAD, boot_count=1,
                  window=128, channels=9, stride=64, num_classes=6, input_scale=0.05, input_zero_point=0,
                  output_scale=1 / 256, output_zero_point=-128, sample_rate_hz=50.0, runtime_ram_bytes=4288,
                  flags=P.HELLO_FLAG_RUNTIME_OK, mode=P.Mode.SENSOR, sensor_state=P.SensorState.NONE,
                  calib_state=P.CalibState.OFF, calib_samples=0, firmware_version="0.1.0", runtime="aot", model_hash="0" * 64,
                  class_names=[f"c{i}" for i in range(6)])
    return P.Hello(**(fields | changes))


class FakeDevice:
    """A TCP server speaking frames; `behaviour(frame, send)` decides what it answers to each request frame."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.server.settimeout(5)
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        conn.settimeout(0.05)
        parser = P.FrameParser()
        send = lambda data: conn.sendall(data)  # noqa: E731
        with conn:
            while not self.stop.is_set():
                try:
                    data = conn.recv(4096)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                for frame in parser.feed(data):
                    try:
                        self.behaviour(frame, send, self.stop)
                    except OSError:
                        return

    def close(self):
        self.stop.set()
        self.server.close()
        self.thread.join(timeout=5)


@pytest.fixture
def device_with():
    made = []

    def start(behaviour) -> HilClient:
        dev = FakeDevice(behaviour)
        ser = serial.serial_for_url(f"socket://127.0.0.1:{dev.port}", timeout=TIMEOUT)
        made.append((dev, ser))
        return HilClient(ser, timeout=TIMEOUT, retries=RETRIES)

    yield start
    for dev, ser in made:
        ser.close()
        dev.close()


def timed(call):
    start = time.monotonic()
    try:
        call()
    except Exception as e:  # noqa: BLE001 (the test asserts on what was raised)
        return e, time.monotonic() - start
    return None, time.monotonic() - start


def flood(frame_for):
    """A behaviour that answers every request with an endless stream of frames until the link closes."""
    def behaviour(frame, send, stop):
        while not stop.is_set():
            send(frame_for(frame))
            time.sleep(0.01)
    return behaviour


def test_same_sequence_wrong_type_forever_is_an_error_not_a_hang(device_with):
    """The hang found by the review: the device keeps echoing the request's sequence number with another type."""
    client = device_with(flood(lambda f: P.encode(P.Msg.RESULT, f.seq, bytes(12))))
    err, took = timed(client.handshake)
    assert isinstance(err, HilError) and took < BOUND + SLACK, (err, took)
    assert "answered hello (sequence 1) with a frame of type RESULT (0x82)" in str(err)
    assert "expected HELLO (0x81)" in str(err)


def test_stream_results_forever_cannot_extend_the_wait_past_the_bound(device_with):
    """STREAM_RESULT frames with the request's sequence number are legitimate for SAMPLES (the device infers while
    it takes the samples), so they keep the wait open, but only up to timeout x attempts."""
    result = P.PAYLOADS[P.Msg.STREAM_RESULT]
    payload = struct.pack("<IBBI", 128, 0, 0, 1000) + bytes(6)
    assert len(payload) == result.head_struct.size + 6
    client = device_with(flood(lambda f: P.encode(P.Msg.STREAM_RESULT, f.seq, payload)))
    client.hello = good_hello()
    err, took = timed(lambda: client.request(P.Msg.SAMPLES, struct.pack("<I", 0) + bytes(36), P.Msg.SAMPLES_ACK,
                                             "samples"))
    assert isinstance(err, NoReply) and BOUND - 0.1 < took < BOUND + SLACK, (err, took)
    assert f"{TIMEOUT * (RETRIES + 1):g} s in all" in str(err)


def test_silent_device_is_reported_after_every_retry(device_with):
    client = device_with(lambda frame, send, stop: None)
    err, took = timed(client.handshake)
    assert isinstance(err, NoReply) and BOUND - 0.1 < took < BOUND + SLACK, (err, took)
    assert client.log.transmissions == RETRIES + 1 and client.log.timeouts == RETRIES + 1
    assert client.log.unanswered == [{"type": int(P.Msg.HELLO_REQ), "seq": RETRIES + 1, "what": "hello"}]


def test_a_flood_of_strays_and_garbage_does_not_hold_the_client(device_with):
    def behaviour(frame, send, stop):
        while not stop.is_set():
            send(b"\x00\xa5garbage" + P.encode(P.Msg.PONG, (frame.seq + 7) % 0xFFFF, b"x"))
            time.sleep(0.005)
    client = device_with(behaviour)
    err, took = timed(client.ping)
    assert isinstance(err, NoReply) and took < BOUND + SLACK, (err, took)
    assert client.log.stray_frames > 10 and client.log.host_skipped_bytes > 10


def test_endless_boot_hellos_end_with_a_clear_error(device_with):
    """A device that answers every request by booting again (a crash loop)."""
    boots = iter(range(1, 1000))

    def behaviour(frame, send, stop):
        hello = good_hello(boot_count=next(boots), flags=P.HELLO_FLAG_BOOT | P.HELLO_FLAG_RUNTIME_OK)
        send(P.encode(P.Msg.HELLO, P.BOOT_SEQ, hello.pack()))
    client = device_with(behaviour)
    err, took = timed(client.handshake)
    assert isinstance(err, HilError) and took < BOUND + SLACK, (err, took)
    assert "reset 4 times in a row without answering a request" in str(err)


@pytest.mark.parametrize("payload,fragment", [
    (good_hello().pack()[:20], "HELLO payload of 20 bytes: expected at least"),
    (good_hello().pack()[:34], "HELLO payload of 34 bytes: expected at least"),
])
def test_short_hello_names_the_message_and_the_lengths(device_with, payload, fragment):
    client = device_with(lambda f, send, stop: send(P.encode(P.Msg.HELLO, f.seq, payload)))
    err, took = timed(client.handshake)
    assert isinstance(err, UserError) and took < BOUND + SLACK, (err, took)
    assert fragment in str(err)


def test_short_result_names_the_message_and_the_lengths(device_with):
    client = device_with(lambda f, send, stop: send(P.encode(P.Msg.RESULT, f.seq, b"\x01\x00\x00")))
    client.hello = good_hello()
    err, took = timed(lambda: client.infer_window(np.zeros((128, 9), np.int8)))
    assert isinstance(err, UserError) and took < BOUND + SLACK, (err, took)
    assert "RESULT payload of 3 bytes" in str(err)


def test_unknown_error_code_is_named_not_a_crash(device_with):
    client = device_with(lambda f, send, stop: send(P.encode(P.Msg.ERROR, f.seq, struct.pack("<BBH", 99, 5, 7))))
    err, took = timed(client.ping)
    assert isinstance(err, HilError) and took < BOUND + SLACK, (err, took)
    assert "device refused ping: code 99 (type 0x05, detail 7)" in str(err)
