"""The portable firmware core (firmware/core/) built for the host board (firmware/boards/host: serial link on
stdin/stdout, deterministic timer) by its Makefile, and driven through its serial protocol. The inference runtime
here is a TEST DOUBLE (tests/firmware/test_double_runtime.c, mirrored by conftest.double_runtime): these tests are
about framing, resynchronisation, the receive gap, windowing, quantisation and the IMU front end, not about the
model. The real runtime is checked on the emulated board by hil_tests/."""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest

from codegen.quantise import quantise_windows
from codegen.sensors import GRAVITY_CUTOFF_HZ, IMU_QUANTITIES, channel_sources, front_end
from fake_device import (CLASSES, INV_STD, MEAN, SCALE, SEED, STRIDE, ZP, C, K, W, build_fake_device,
                         double_runtime, random_windows, stream_expectations)
from unikd.data.normalise import Normaliser
from unikd_mcu.hil import protocol as P
from unikd_mcu.hil.images import BOARDS_DIR

HASH = "ab" * 32


@pytest.fixture(scope="module")
def core(host_device) -> Path:
    return host_device


def run_core(exe: Path, data: bytes, mode: str | None = None) -> bytes:
    args = [str(exe)] + ([mode] if mode else [])
    return subprocess.run(args, input=data, capture_output=True, check=True, timeout=60).stdout


def frames_of(out: bytes) -> list[P.Frame]:
    parser = P.FrameParser()
    frames = parser.feed(out)
    assert parser.skipped_bytes == 0 and not parser.buf, "the device wrote bytes outside frames"
    return frames


def window_frames(windows, first_seq=1) -> list[bytes]:
    return [P.encode(P.Msg.WINDOW, first_seq + i, w.tobytes()) for i, w in enumerate(windows)]


def check_result(frame, seq, window):
    assert frame.type == P.Msg.RESULT and frame.seq == seq
    r = P.Result.unpack(frame)
    expected = double_runtime(window)
    assert np.frombuffer(r.outputs, np.int8).tolist() == expected.tolist()
    assert r.predicted == int(np.argmax(expected)) and r.status == 0
    assert r.ticks == 1000  # the host board's timer advances 1000 per read


# ---- builds -------------------------------------------------------------------------------------------------

def test_core_builds_warning_free_for_cortex_m4(tmp_path, require_tools):
    """The whole core (strict ISO C99: -pedantic -Werror), the qemu-m4 board glue and the test double link into an
    image for the emulated board, by the board's own Makefile."""
    require_tools("make", "arm-none-eabi-gcc")
    elf = build_fake_device(tmp_path, "qemu-m4")
    head = elf.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[4] == 1 and int.from_bytes(head[18:20], "little") == 40  # 32-bit ARM


def test_object_cache_reuses_exactly_the_objects_whose_inputs_are_unchanged(tmp_path, host_device):
    log = tmp_path / "compiled.log"
    cc = tmp_path / "cc"  # gcc that notes each source it compiles
    cc.write_text(f'#!/bin/sh\nfor a; do case "$a" in *.c) echo "$a" >> {log};; esac; done\nexec gcc "$@"\n')
    cc.chmod(0o755)
    cache, make_vars = tmp_path / "objects", {"CC": str(cc)}
    first = build_fake_device(tmp_path / "a", make_vars=make_vars, object_cache=cache)
    assert len(log.read_text().split()) == len(list(cache.iterdir())) == 9
    log.unlink()
    second = build_fake_device(tmp_path / "b", make_vars=make_vars, object_cache=cache, output_zero_point=9)

    def hello(exe):
        return P.Hello.unpack(frames_of(run_core(exe, b""))[0].payload)

    assert (hello(first).output_zero_point, hello(second).output_zero_point) == (7, 9)
    # Another model header: what includes it is compiled again; the frame and receive code include none (reused).
    assert sorted(log.read_text().split()) == ["board.c", "core/unikd_app.c", "core/unikd_calib.c",
                                               "core/unikd_sampler.c", "core/unikd_sensor.c",
                                               "core/unikd_window.c", "runtime/test_double_runtime.c"]


# ---- quantisation -------------------------------------------------------------------------------------------

def test_quantisation_bit_exact_with_host_quantiser(core):
    rng = np.random.default_rng(SEED)
    X = rng.normal(0, 2.0, size=(40, C, W)).astype(np.float32)  # (N, C, L) as the data sets hold windows
    X[0, 1, :] = (np.arange(W) - 64 + 0.5) * SCALE  # exact halves on channel 1: ties round away from zero
    X[1, 1, :] = np.float32(0.49999997) * SCALE  # just below a half
    X[2, :, :] = 1e9  # far beyond the int8 range: clamps
    X[3, :, :] = -1e9
    X[4, :, :] = rng.choice(np.float32([0.0, -0.0, 1e-30, -1e-30]), size=(C, W))
    norm = Normaliser(MEAN, INV_STD)
    expected = quantise_windows(X, norm, float(SCALE), ZP)  # (N, L, C)
    device = np.frombuffer(run_core(core, np.ascontiguousarray(X.transpose(0, 2, 1)).tobytes(), "quantise"),
                           np.int8).reshape(expected.shape)
    assert (X[0, 1] / SCALE % 1 == 0.5).sum() > 0
    mismatch = np.argwhere(device != expected)
    assert mismatch.size == 0, f"{len(mismatch)} values differ, first at {mismatch[:3].tolist()}"
    assert expected[2].min() == 127 and expected[3].max() == -128


# ---- window mode and hello ----------------------------------------------------------------------------------

def test_boot_hello_and_requested_hello_describe_the_model(core):
    frames = frames_of(run_core(core, P.encode(P.Msg.HELLO_REQ, 42)))
    assert [(f.type, f.seq) for f in frames] == [(P.Msg.HELLO, P.BOOT_SEQ), (P.Msg.HELLO, 42)]
    boot, asked = (P.Hello.unpack(f.payload) for f in frames)
    assert boot.booted and not asked.booted and asked.runtime_ok
    assert (asked.window, asked.channels, asked.stride, asked.num_classes) == (W, C, STRIDE, K)
    assert asked.input_scale == SCALE and asked.input_zero_point == ZP
    assert asked.output_scale == 0.125 and asked.output_zero_point == 7
    assert asked.model_hash == HASH and asked.class_names == CLASSES and asked.runtime == "aot"
    assert asked.protocol_version == P.PROTOCOL_VERSION and asked.firmware_version == P.FIRMWARE_VERSION
    assert asked.max_payload == P.MAX_PAYLOAD and asked.boot_count == 1 and asked.sample_rate_hz == 50.0


def test_window_mode_answers_every_window_in_order(core):
    rng = np.random.default_rng(SEED)
    wins = random_windows(20, rng)
    frames = frames_of(run_core(core, b"".join(window_frames(wins, first_seq=65530))))[1:]
    assert len(frames) == 20
    for i, (f, w) in enumerate(zip(frames, wins)):
        check_result(f, (65530 + i) & 0xFFFF, w)  # sequence numbers wrap modulo 2^16


def test_ping_echoes_payload(core):
    frames = frames_of(run_core(core, P.encode(P.Msg.PING, 9, b"\xa5\x5a hello")))[1:]
    assert [(f.type, f.seq, f.payload) for f in frames] == [(P.Msg.PONG, 9, b"\xa5\x5a hello")]


# ---- faults -------------------------------------------------------------------------------------------------

def test_garbage_between_frames_is_skipped(core):
    rng = np.random.default_rng(SEED)
    wins = random_windows(12, rng)
    stream = bytearray()
    for f in window_frames(wins):
        junk = rng.integers(0, 256, size=int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
        stream += junk.replace(P.START, b"")  # marker-free garbage: every window must come back, nothing else
        stream += f
    frames = frames_of(run_core(core, bytes(stream)))[1:]
    assert [f.seq for f in frames] == list(range(1, 13))
    for i, (f, w) in enumerate(zip(frames, wins)):
        check_result(f, i + 1, w)


def test_garbage_with_start_markers_never_loses_a_window(core):
    """Garbage that holds start markers and plausible headers: a fake header may swallow the next frame, which
    the rescan recovers once the fake frame's length is complete (the host's zero flush guarantees that)."""
    rng = np.random.default_rng(SEED + 1)
    wins = random_windows(12, rng)
    stream = bytearray()
    for i, f in enumerate(window_frames(wins)):
        junk = bytearray(rng.integers(0, 256, size=40, dtype=np.uint8).tobytes())
        if i % 3 == 0:  # a fake header: marker, type, seq, a small length, then no valid CRC
            junk[5:12] = P.START + bytes([0x02, 0x99, 0x00]) + struct.pack("<H", int(rng.integers(0, 300)))
        stream += junk + f
    stream += bytes(P.MAX_FRAME)  # the host's flush after a timeout
    frames = frames_of(run_core(core, bytes(stream)))[1:]
    results = {f.seq: f for f in frames if f.type == P.Msg.RESULT}
    errors = [P.Error.unpack(f.payload) for f in frames if f.type == P.Msg.ERROR]
    assert sorted(results) == list(range(1, 13))
    for i, w in enumerate(wins):
        check_result(results[i + 1], i + 1, w)
    assert errors and all(e.code in (P.Err.BAD_CRC, P.Err.TOO_LONG) for e in errors)


def test_corrupted_crc_gets_error_and_session_carries_on(core):
    rng = np.random.default_rng(SEED)
    wins = random_windows(3, rng)
    f1, f2, f3 = window_frames(wins)
    bad = bytearray(f2)
    bad[-1] ^= 0x40
    flipped = bytearray(f3)
    flipped[100] ^= 0x01  # a payload bit flip: also a CRC failure
    frames = frames_of(run_core(core, f1 + bytes(bad) + bytes(flipped) + f3))[1:]
    assert [(f.type, f.seq) for f in frames] == [(P.Msg.RESULT, 1), (P.Msg.ERROR, 2), (P.Msg.ERROR, 3),
                                                 (P.Msg.RESULT, 3)]
    assert P.Error.unpack(frames[1].payload).code == P.Err.BAD_CRC
    assert P.Error.unpack(frames[1].payload).offending_type == P.Msg.WINDOW
    check_result(frames[3], 3, wins[2])


def test_oversized_length_gets_error_and_resyncs(core):
    rng = np.random.default_rng(SEED)
    wins = random_windows(2, rng)
    f1, f2 = window_frames(wins)
    oversized = P.START + struct.pack("<BHH", P.Msg.WINDOW, 77, P.MAX_PAYLOAD + 1) + bytes(50)
    frames = frames_of(run_core(core, f1 + oversized + f2))[1:]
    assert [(f.type, f.seq) for f in frames] == [(P.Msg.RESULT, 1), (P.Msg.ERROR, 77), (P.Msg.RESULT, 2)]
    e = P.Error.unpack(frames[1].payload)
    assert (e.code, e.detail) == (P.Err.TOO_LONG, P.MAX_PAYLOAD + 1)
    check_result(frames[2], 2, wins[1])


def test_truncated_frame_followed_by_new_frames(core):
    """The truncated frame's length swallows the next frame; when it completes, the CRC fails and the rescan
    finds the next frame's start marker inside the held bytes, so no window is lost."""
    rng = np.random.default_rng(SEED)
    wins = random_windows(3, rng)
    f1, f2, f3 = window_frames(wins)
    frames = frames_of(run_core(core, f1[:500] + f2 + f3))[1:]
    assert [(f.type, f.seq) for f in frames] == [(P.Msg.ERROR, 1), (P.Msg.RESULT, 2), (P.Msg.RESULT, 3)]
    assert P.Error.unpack(frames[0].payload).code == P.Err.BAD_CRC
    check_result(frames[1], 2, wins[1])
    check_result(frames[2], 3, wins[2])


def timed(*records) -> bytes:
    """Input of the host board's `timed` mode: (time, bytes) records; the bytes arrive at that time."""
    return b"".join(struct.pack("<II", t, len(data)) + data for t, data in records)


def qemu_m4_port_defines() -> str:
    """The board macros the qemu-m4 Makefile sets for its timer unit and receive gap."""
    text = (BOARDS_DIR / "qemu-m4" / "Makefile").read_text()
    return " ".join(re.findall(r"-DUNIKD_(?:PORT_TIMER_UNIT|RX_GAP_MS)=\w+", text))


@pytest.fixture(scope="module")
def core_timed_as_qemu_m4(tmp_path_factory, host_device) -> Path:
    """The host board built with qemu-m4's timer unit and gap, so the core decides gaps as on that board."""
    defines = qemu_m4_port_defines()
    assert "UNIKD_TIMER_QEMU_INSTRUCTIONS_DIV40" in defines and "UNIKD_RX_GAP_MS" in defines, defines
    return build_fake_device(tmp_path_factory.mktemp("host_as_qemu_m4"), make_vars={"CPPFLAGS": defines})


# 100 ms in microseconds (the default port); 500 ms in 25 MHz SysTick ticks on qemu-m4 (its RX_GAP_TICKS before
# the gap moved into the core)
@pytest.mark.parametrize("device, gap_ticks", [("core", 100_000), ("core_timed_as_qemu_m4", 12_500_000)])
def test_receive_gap_drops_a_partial_frame_after_exactly_the_gap(device, gap_ticks, request):
    exe = request.getfixturevalue(device)
    wins = random_windows(2, np.random.default_rng(SEED))
    f1, f2 = window_frames(wins)

    def replies(t_partial, t_next):
        frames = frames_of(run_core(exe, timed((t_partial, f1[:300]), (t_next, f2)), "timed"))[1:]
        return [(f.type, f.seq) for f in frames], frames

    # Kept, the partial frame swallows the head of the next one (its CRC then fails and the rescan recovers the
    # next frame); dropped, the next frame is answered alone and nothing is said about the partial one.
    kept, dropped = [(P.Msg.ERROR, 1), (P.Msg.RESULT, 2)], [(P.Msg.RESULT, 2)]
    assert replies(0, gap_ticks)[0] == kept
    got, frames = replies(0, gap_ticks + 1)
    assert got == dropped
    check_result(frames[0], 2, wins[1])
    # across the wrap of the 32-bit timer
    assert replies(2**32 - 10, gap_ticks - 10)[0] == kept
    assert replies(2**32 - 10, gap_ticks - 9)[0] == dropped


def test_wrong_length_unknown_type_and_runtime_failure_are_reported(core):
    bad_window = np.zeros((W, C), np.int8)
    bad_window.reshape(-1)[:4] = [-128, -128, -128, 127]  # the test double fails on this input
    data = (P.encode(P.Msg.WINDOW, 1, bytes(10)) + P.encode(0x33, 2, b"x") + P.encode(P.Msg.SAMPLES, 3, bytes(11))
            + P.encode(P.Msg.STREAM_RESET, 5, b"\x00") + P.encode(P.Msg.WINDOW, 4, bad_window.tobytes()))
    frames = frames_of(run_core(core, data))[1:]
    got = [(f.seq, P.Error.unpack(f.payload).code, P.Error.unpack(f.payload).detail) for f in frames[:4]]
    assert all(f.type == P.Msg.ERROR for f in frames[:4])
    assert got == [(1, P.Err.BAD_LENGTH, 10), (2, P.Err.UNKNOWN_TYPE, 1), (3, P.Err.BAD_LENGTH, 11),
                   (5, P.Err.BAD_LENGTH, 1)]
    # a failed inference still answers its request, with a status and no class
    assert (frames[4].type, frames[4].seq) == (P.Msg.RESULT, 4)
    r = P.Result.unpack(frames[4])
    assert (r.status, r.predicted, r.ticks) == (P.Err.RUNTIME, 0xFF, 7)


# ---- stream mode --------------------------------------------------------------------------------------------

def test_stream_mode_infers_every_stride_with_sample_index(core):
    rng = np.random.default_rng(SEED)
    T = 700
    stream = rng.normal(0, 1.5, size=(T, C)).astype(np.float32)
    data = bytearray(P.encode(P.Msg.STREAM_RESET, 1, P.StreamReset(1000).pack()))
    pos, seq, chunks = 0, 2, []
    while pos < T:
        n = int(rng.integers(1, 50))  # chunk sizes unrelated to the stride
        data += P.encode(P.Msg.SAMPLES, seq, P.Samples(1000 + pos, stream[pos : pos + n]).pack())
        chunks.append((seq, pos, min(pos + n, T)))
        pos, seq = pos + n, seq + 1
    frames = frames_of(run_core(core, bytes(data)))[1:]
    assert (frames[0].type, frames[0].seq, frames[0].payload) == (P.Msg.ACK, 1, P.Ack(1000).pack())
    expected = stream_expectations(stream, 1000)
    results = [f for f in frames if f.type == P.Msg.STREAM_RESULT]
    acks = [f for f in frames if f.type == P.Msg.SAMPLES_ACK]
    assert [P.Result.unpack(f).end for f in results] == sorted(expected)
    for f in results:
        r = P.Result.unpack(f)
        assert np.frombuffer(r.outputs, np.int8).tolist() == expected[r.end].tolist()
        # tagged with the request whose samples completed the window
        s = next(s for s, a, b in chunks if a < r.end - 1000 <= b)
        assert f.seq == s
    assert [(a.seq, *astuple(P.SamplesAck.unpack(a.payload))) for a in acks] == [
        (s, 1000 + b, sum(1 for e in expected if a < e - 1000 <= b)) for s, a, b in chunks]


def test_sensor_path_push_sample_uses_the_same_windowing(core):
    rng = np.random.default_rng(SEED + 2)
    stream = rng.normal(0, 1.0, size=(300, C)).astype(np.float32)
    frames = frames_of(run_core(core, stream.tobytes(), "push"))[1:]
    expected = stream_expectations(stream, 0)
    assert [P.Result.unpack(f).end for f in frames] == [128, 192, 256]
    for f in frames:
        assert f.seq == P.BOOT_SEQ
        assert np.frombuffer(P.Result.unpack(f).outputs, np.int8).tolist() == expected[P.Result.unpack(f).end].tolist()


def test_retried_samples_enter_the_window_once_and_gaps_are_refused(core):
    rng = np.random.default_rng(SEED + 3)
    stream = rng.normal(0, 1.0, size=(200, C)).astype(np.float32)
    samples = lambda seq, a, b: P.encode(P.Msg.SAMPLES, seq, P.Samples(a, stream[a:b]).pack())  # noqa
    data = (samples(1, 0, 50) + samples(2, 50, 100) + samples(3, 50, 100)  # 3 retries a handled request
            + samples(4, 90, 140)  # overlaps: only 100..140 are new
            + samples(5, 160, 200)  # a gap (140..160 missing): refused
            + samples(6, 140, 190) + samples(7, 190, 200))
    frames = frames_of(run_core(core, data))[1:]
    acks = [(f.seq, astuple(P.SamplesAck.unpack(f.payload))) for f in frames if f.type == P.Msg.SAMPLES_ACK]
    assert acks == [(1, (50, 0)), (2, (100, 0)), (3, (100, 0)), (4, (140, 1)), (5, (140, 0)), (6, (190, 0)),
                    (7, (200, 1))]
    expected = stream_expectations(stream, 0)
    results = [P.Result.unpack(f) for f in frames if f.type == P.Msg.STREAM_RESULT]
    assert [r.end for r in results] == [128, 192]
    for r in results:
        assert np.frombuffer(r.outputs, np.int8).tolist() == expected[r.end].tolist()


# ---- IMU front end (unikd_sensor) ------------------------------------------------------------------------------

def ucihar_walking(arrays, seconds: int) -> np.ndarray:
    """The longest continuous walking recording in UCI-HAR, cut to `seconds`: (T, 9) in the npz's channel order.
    Consecutive windows of one recording overlap by half (128 samples, stride 64), which is how they are joined."""
    X, walking, subject = arrays["X"], arrays["y"] == 0, arrays["subject"]
    follows = (walking[1:] & walking[:-1] & (subject[1:] == subject[:-1])
               & (X[1:, :, :64] == X[:-1, :, 64:]).all(axis=(1, 2)))
    best, start, run = (0, 0), 0, 0
    for i, f in enumerate(follows):
        start, run = (start, run + 1) if f else (i + 1, 0)
        best = max(best, (run, start))
    run, start = best
    rec = np.concatenate([X[start].T] + [X[start + k][:, 64:].T for k in range(1, run + 1)]).astype(np.float32)
    assert walking[start] and len(rec) >= seconds * 50, "no long enough continuous walking recording"
    return rec[: seconds * 50]


def test_imu_front_end_splits_gravity_and_maps_channels_on_ucihar(core, ucihar_arrays):
    names = [str(c) for c in ucihar_arrays["channels"]]
    rec = ucihar_walking(ucihar_arrays, seconds=24)
    acc, gyro = rec[:, 6:9], rec[:, 3:6]  # total_acc (g), body_gyro (rad/s)
    sources = channel_sources(names, "mpu6050")
    assert [IMU_QUANTITIES[i] for i in sources[:3]] == ["body_acc_x", "body_acc_y", "body_acc_z"]
    readings = np.ascontiguousarray(np.hstack([acc, gyro])).tobytes()

    def device_front_end(source):
        out = run_core(core, bytes(source) + struct.pack("<f", GRAVITY_CUTOFF_HZ) + readings, "imu")
        return np.frombuffer(out, np.float32).reshape(len(rec), C)

    device = device_front_end(sources)
    quantities = front_end(acc, gyro, range(len(IMU_QUANTITIES)))
    expected = quantities[:, sources]  # the model's order: body_acc, body_gyro, total_acc
    mismatch = np.argwhere(device.view(np.uint32) != expected.view(np.uint32))
    assert mismatch.size == 0, f"{len(mismatch)} values differ, first at {mismatch[:3].tolist()}"
    assert np.array_equal(device[:, 6:9], acc) and np.array_equal(device[:, 3:6], gyro)
    shuffled = [8, 0, 4, 4, 2, 7, 1, 3, 5]  # any order, repeats allowed
    assert np.array_equal(device_front_end(shuffled).view(np.uint32), quantities[:, shuffled].view(np.uint32))
    # The causal filter approximates UCI-HAR's offline Butterworth split: once it has settled (after 10 s; its
    # time constant is 0.53 s), its body acceleration follows the data set's walking signal (measured: mean
    # difference 0.023 g against a mean |body_acc| of 0.099 g).
    settled = slice(500, None)
    err = np.abs(device[settled, 0:3] - rec[settled, 0:3]).mean()
    assert err < np.abs(rec[settled, 0:3]).mean() / 3, err
