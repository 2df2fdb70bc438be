"""The firmware's sensor path on the host board (firmware/boards/host, mode `sensor`): readings put into the core's
sample ring as a sensor's clock would (unikd_sampler.h), the main loop's poll, modes, on-device calibration, sensor
health, STATUS and LOG frames. The fake model and the TEST DOUBLE runtime (fake_device.py) stand in for the model;
everything else is the real core. The generated sketch with its IMU driver against a simulated IMU is
tests/test_sensor_path_sim.py; the emulated board, hil_tests/test_modes.py."""

from __future__ import annotations

import struct
import subprocess

import numpy as np
import pytest

from codegen.calibration import CalibSettings, RunningCalibration
from codegen.quantise import quantise_normalised
from codegen.sensors import front_end
from fake_device import C, SCALE, STRIDE, ZP, W, build_fake_device, double_runtime, fake_metadata
from unikd_mcu.hil import protocol as P

WARMUP = 2 * STRIDE  # a short warm-up so the calibration becomes active within a test
PERIOD_US = 20000  # 50 Hz
SOURCES = list(range(C))  # the host board's sensor mode maps channel c to front-end quantity c


@pytest.fixture(scope="module")
def device(tmp_path_factory, require_tools):
    require_tools("make", "gcc")
    return build_fake_device(tmp_path_factory.mktemp("sensor_device"), calib_warmup=WARMUP)


def reading(when: int, values) -> bytes:
    return b"r" + struct.pack("<I6f", when, *values)


def frame(msg: P.Msg, seq: int, payload: bytes = b"") -> bytes:
    data = P.encode(msg, seq, payload)
    return b"b" + struct.pack("<I", len(data)) + data


def run(exe, records: bytes, state: int = P.SensorState.OK, env=None) -> list[P.Frame]:
    out = subprocess.run([str(exe), "sensor", str(int(state))], input=records, capture_output=True, check=True,
                         timeout=60, env=env).stdout
    parser = P.FrameParser()
    frames = parser.feed(out)
    assert parser.skipped_bytes == 0 and not parser.buf
    return frames


def status_of(frames) -> P.Status:
    return P.Status.unpack([f for f in frames if f.type == P.Msg.STATUS][-1].payload)


def walk(n: int, seed: int = 0) -> np.ndarray:
    """n readings of a plausible IMU (acc around gravity, gyro around 0), float32 (n, 6)."""
    rng = np.random.default_rng(seed)
    acc = np.array([0.0, 0.0, 1.0], np.float32) + rng.normal(0, 0.3, (n, 3)).astype(np.float32)
    gyro = rng.normal(0, 0.5, (n, 3)).astype(np.float32)
    return np.hstack([acc, gyro]).astype(np.float32)


def expected_sensor_results(readings: np.ndarray, calibrate: bool = True) -> dict[int, np.ndarray]:
    """{end: outputs} the device must send for a gap-free run of readings: front end, calibration (warm-up WARMUP,
    refresh STRIDE), quantisation, test double."""
    meta = fake_metadata(calib_warmup=WARMUP)
    x = front_end(readings[:, :3], readings[:, 3:], SOURCES, 0.3, 50.0)
    settings = CalibSettings(WARMUP, STRIDE) if calibrate else CalibSettings(1 << 40, STRIDE)
    normalised, _ = RunningCalibration(meta.norm_mean, meta.norm_inv_std, settings).run(x)
    q = quantise_normalised(normalised, float(SCALE), ZP)
    return {end: double_runtime(q[end - W:end]) for end in range(W, len(q) + 1, STRIDE)}


def sensor_results(frames) -> dict[int, np.ndarray]:
    out = {}
    for f in frames:
        if f.type == P.Msg.STREAM_RESULT and f.seq == P.BOOT_SEQ:
            r = P.Result.unpack(f)
            out[r.end] = np.frombuffer(r.outputs, np.int8)
    return out


def test_sensor_readings_are_calibrated_windowed_and_classified_bit_exact(device):
    """Readings at the sensor's clock, polled in bursts (as a main loop busy with an inference would): every
    window at the training stride is classified, quantised with the wearer's running calibration exactly as the
    host re-computes it (codegen.calibration), and nothing is counted lost."""
    rd = walk(5 * W)
    records = b""
    for i, v in enumerate(rd):
        records += reading(i * PERIOD_US, v)
        if i % 20 == 19:  # 20 readings wait in the ring (0.4 s: longer than any inference) before the poll
            records += b"p"
    records += b"p" + frame(P.Msg.STATUS_REQ, 1)
    frames = run(device, records)
    hello = P.Hello.unpack(frames[0].payload)
    assert (hello.mode, hello.sensor_state, hello.calib_state) == (P.Mode.SENSOR, P.SensorState.OK,
                                                                   P.CalibState.WARMUP)
    got, want = sensor_results(frames), expected_sensor_results(rd)
    assert sorted(got) == sorted(want) == list(range(W, len(rd) + 1, STRIDE))
    bad = [e for e in want if not np.array_equal(got[e], want[e])]
    assert not bad, f"windows ending at {bad[:5]} differ from the host's re-computation"
    # calibration changed something: the same stream with the build's constants gives other outputs
    fixed = expected_sensor_results(rd, calibrate=False)
    assert any(not np.array_equal(fixed[e], want[e]) for e in want)
    st = status_of(frames)
    assert (st.sensor_samples, st.sensor_windows, st.overruns, st.missed, st.late, st.repeated,
            st.read_failures, st.ignored) == (len(rd), len(want), 0, 0, 0, 0, 0, 0)
    assert st.calib_state == P.CalibState.ACTIVE and st.calib_samples == len(rd)
    cal = RunningCalibration(fake_metadata().norm_mean, fake_metadata().norm_inv_std, CalibSettings(WARMUP, STRIDE))
    cal.run(front_end(rd[:, :3], rd[:, 3:], SOURCES, 0.3, 50.0))
    mean, inv_std = st.constants()
    assert np.array_equal(mean, cal.mean_in_use) and np.array_equal(inv_std, cal.inv_std_in_use)


def test_a_full_ring_counts_each_lost_reading_and_restarts_the_window(device):
    """The main loop stalls for 40 sample periods (an inference far too long): the 32-reading ring keeps the first
    32, the other 8 are overruns, and no window spans the hole: the next result needs a whole new window."""
    rd = walk(W + 40 + W)
    records = b"".join(reading(i * PERIOD_US, v) + b"p" for i, v in enumerate(rd[:W]))
    records += b"".join(reading((W + i) * PERIOD_US, v) for i, v in enumerate(rd[W:W + 40])) + b"p"
    records += b"".join(reading((W + 40 + i) * PERIOD_US, v) + b"p" for i, v in enumerate(rd[W + 40:]))
    records += frame(P.Msg.STATUS_REQ, 1)
    frames = run(device, records)
    st = status_of(frames)
    assert (st.overruns, st.missed, st.sensor_samples) == (8, 0, len(rd) - 8)
    # `end` counts the readings taken (lost ones excluded): the first window ends at 128; 32 more were kept before
    # the hole, then the window restarted, so the next result ends a whole window later, at 160 + 128
    assert sorted(sensor_results(frames)) == [W, W + 32 + W]


def test_late_missed_and_repeated_readings_are_counted_exactly(device):
    rd = walk(12)
    times = [i * PERIOD_US for i in range(6)] + [5 * PERIOD_US + 3 * PERIOD_US + i * PERIOD_US for i in range(6)]
    rd[9] = rd[8]  # the sensor held its output once
    records = b"".join(reading(t, v) for t, v in zip(times, rd)) + b"p" + frame(P.Msg.STATUS_REQ, 1)
    st = status_of(run(device, records))
    # one reading 3 periods after the one before: late, and the 2 periods in between were missed
    assert (st.late, st.missed, st.repeated, st.overruns) == (1, 2, 1, 0)


def test_failed_reads_make_the_sensor_lost_and_a_reading_brings_it_back_with_log_lines(device):
    records = b"f" * 3 + b"p" + frame(P.Msg.STATUS_REQ, 1)
    records += b"f" * (P.SENSOR_LOST_AFTER - 3) + b"p" + frame(P.Msg.STATUS_REQ, 2)
    records += reading(0, walk(1)[0]) + b"p" + frame(P.Msg.STATUS_REQ, 3)
    frames = run(device, records)
    states = [P.Status.unpack(f.payload) for f in frames if f.type == P.Msg.STATUS]
    assert [s.sensor_state for s in states] == [P.SensorState.OK, P.SensorState.LOST, P.SensorState.OK]
    assert [s.read_failures for s in states] == [3, P.SENSOR_LOST_AFTER, P.SENSOR_LOST_AFTER]
    logs = [P.Log.unpack(f.payload).text for f in frames if f.type == P.Msg.LOG]
    assert any(t.startswith("sensor stopped answering; sensor LOST") for t in logs), logs
    assert any(t.startswith("sensor answers again; sensor ok") and "read failures 10" in t for t in logs), logs


@pytest.mark.parametrize("state, word", [(P.SensorState.ABSENT, "ABSENT"), (P.SensorState.WRONG_ID, "WRONG ID"),
                                         (P.SensorState.CONFIG_FAILED, "CONFIG FAILED")])
def test_a_sensor_that_did_not_start_is_flagged_in_the_hello_and_a_log_line(device, state, word):
    frames = run(device, b"p", state=state)
    hello = P.Hello.unpack(frames[0].payload)
    assert hello.sensor_state == state and hello.runtime_ok
    assert frames[1].type == P.Msg.LOG and frames[1].seq == P.BOOT_SEQ
    assert f"sensor {word}" in P.Log.unpack(frames[1].payload).text


def test_a_host_session_owns_the_window_while_sensor_readings_keep_arriving(device):
    """Sensor readings before, during and after a host stream: the host's results are exactly those of its own
    samples (build constants, host numbering), the readings during the session are dropped and counted, and MODE(0)
    gives the window back to the sensor, which then needs a whole new window."""
    rng = np.random.default_rng(3)
    host = rng.normal(0, 1, (W + STRIDE, C)).astype(np.float32)
    rd = walk(3 * W, seed=5)
    t = iter(range(0, 10**9, PERIOD_US))
    records = b"".join(reading(next(t), v) for v in rd[:100]) + b"p"  # the sensor's window is 100 samples in
    records += frame(P.Msg.STREAM_RESET, 1, P.StreamReset(0).pack())
    seq = 2
    for start in range(0, len(host), 16):
        records += reading(next(t), rd[100 + start // 16]) + reading(next(t), rd[101 + start // 16]) + b"p"
        records += frame(P.Msg.SAMPLES, seq, P.Samples(start, host[start:start + 16]).pack())
        seq += 1
    records += frame(P.Msg.STATUS_REQ, seq) + frame(P.Msg.MODE, seq + 1, P.ModeRequest(P.Mode.SENSOR).pack())
    records += b"".join(reading(next(t), v) + b"p" for v in rd[:W])
    frames = run(device, records)
    host_results = {P.Result.unpack(f).end: np.frombuffer(P.Result.unpack(f).outputs, np.int8)
                    for f in frames if f.type == P.Msg.STREAM_RESULT and f.seq != P.BOOT_SEQ}
    meta = fake_metadata()
    q = quantise_normalised(meta.normaliser().apply(host.T[None])[0].T, float(SCALE), ZP)
    assert sorted(host_results) == [W, W + STRIDE]
    assert all(np.array_equal(host_results[e], double_runtime(q[e - W:e])) for e in host_results)
    st = [P.Status.unpack(f.payload) for f in frames if f.type == P.Msg.STATUS]
    assert st[0].mode == P.Mode.HOST and st[0].ignored == 2 * len(range(0, len(host), 16))
    assert st[1].mode == P.Mode.SENSOR
    sensor_ends = [P.Result.unpack(f).end for f in frames if f.type == P.Msg.STREAM_RESULT and f.seq == P.BOOT_SEQ]
    assert sensor_ends == [W], "after the session the sensor's window restarted at 0"


def test_the_wearers_calibration_survives_a_reset_and_a_calib_reset_forgets_it(device, tmp_path):
    env = {"UNIKD_HOST_STORE": str(tmp_path / "store.bin")}
    rd = walk(WARMUP + 10, seed=9)
    frames = run(device, b"".join(reading(i * PERIOD_US, v) + b"p" for i, v in enumerate(rd)), env=env)
    assert P.Hello.unpack(frames[0].payload).calib_state == P.CalibState.WARMUP
    # a reset (a new process with the same storage): active at once, with the statistics of the warm-up
    frames = run(device, frame(P.Msg.STATUS_REQ, 1), env=env)
    hello, st = P.Hello.unpack(frames[0].payload), status_of(frames)
    assert (hello.calib_state, hello.calib_samples) == (P.CalibState.ACTIVE, WARMUP)
    assert st.calib_stored == 1
    cal = RunningCalibration(fake_metadata().norm_mean, fake_metadata().norm_inv_std, CalibSettings(WARMUP, STRIDE))
    cal.run(front_end(rd[:WARMUP, :3], rd[:WARMUP, 3:], SOURCES, 0.3, 50.0))
    mean, inv_std = st.constants()
    assert np.array_equal(mean, cal.mean_in_use) and np.array_equal(inv_std, cal.inv_std_in_use)
    # forget it: the next boot warms up again
    frames = run(device, frame(P.Msg.CALIB, 1, P.CalibRequest(P.CalibAction.RESET, P.CalibContext.WEARER).pack()),
                 env=env)
    assert status_of(frames).calib_state == P.CalibState.WARMUP
    hello = P.Hello.unpack(run(device, b"", env=env)[0].payload)
    assert (hello.calib_state, hello.calib_samples) == (P.CalibState.WARMUP, 0)


def test_a_record_of_another_model_is_not_restored(device, tmp_path, require_tools):
    env = {"UNIKD_HOST_STORE": str(tmp_path / "store.bin")}
    rd = walk(WARMUP, seed=2)
    run(device, b"".join(reading(i * PERIOD_US, v) + b"p" for i, v in enumerate(rd)), env=env)
    assert P.Hello.unpack(run(device, b"", env=env)[0].payload).calib_state == P.CalibState.ACTIVE
    other = build_fake_device(tmp_path / "other", calib_warmup=WARMUP, model_sha256="cd" * 32)
    assert P.Hello.unpack(run(other, b"", env=env)[0].payload).calib_state == P.CalibState.WARMUP


def test_mode_and_calib_requests_with_bad_values_or_lengths_are_refused(device):
    records = frame(P.Msg.MODE, 1, b"\x02") + frame(P.Msg.CALIB, 2, b"\x03\x00") + frame(P.Msg.CALIB, 3, b"\x01\x02")
    records += frame(P.Msg.STATUS_REQ, 4, b"\x00") + frame(P.Msg.HELLO_REQ, 5, b"\x00") + frame(P.Msg.MODE, 6)
    errors = [(f.seq, P.Error.unpack(f.payload)) for f in run(device, records) if f.type == P.Msg.ERROR]
    assert [(seq, e.code, e.detail) for seq, e in errors] == [
        (1, P.Err.BAD_VALUE, 2), (2, P.Err.BAD_VALUE, 3), (3, P.Err.BAD_VALUE, 2),
        (4, P.Err.BAD_LENGTH, 1), (5, P.Err.BAD_LENGTH, 1), (6, P.Err.BAD_LENGTH, 0)]


def test_sequence_numbers_0_and_0xffff_are_answered_and_echoed(device):
    """docs/protocol.md: the device keeps no state per sequence number, so 0 and 0xFFFF (BOOT_SEQ, which the host
    never uses because the device's own frames carry it) are answered like any other."""
    frames = run(device, frame(P.Msg.PING, 0, b"a") + frame(P.Msg.PING, 0xFFFF, b"b") + frame(P.Msg.STATUS_REQ, 0),
                 state=P.SensorState.NONE)
    assert [(f.type, f.seq, f.payload[:1]) for f in frames[1:]] == [
        (P.Msg.PONG, 0, b"a"), (P.Msg.PONG, 0xFFFF, b"b"), (P.Msg.STATUS, 0, frames[3].payload[:1])]


def test_a_silent_host_session_gives_the_window_back_to_the_sensor(device):
    """A host that streams and goes away: after UNIKD_HOST_IDLE_MS (60 s) without a frame the board with a live
    sensor is in sensor mode again and says so in a LOG line. (The host board's clock advances 1 ms per read; each
    poll reads it once.)"""
    records = frame(P.Msg.STREAM_RESET, 1, P.StreamReset(0).pack()) + frame(P.Msg.STATUS_REQ, 2)
    records += b"p" * 59_000 + frame(P.Msg.STATUS_REQ, 3)  # 59 s: still the host's (a frame restarts the count)
    records += b"p" * 61_000 + frame(P.Msg.STATUS_REQ, 4)
    frames = run(device, records)
    modes = [P.Status.unpack(f.payload).mode for f in frames if f.type == P.Msg.STATUS]
    assert modes == [P.Mode.HOST, P.Mode.HOST, P.Mode.SENSOR]
    logs = [P.Log.unpack(f.payload).text for f in frames if f.type == P.Msg.LOG]
    assert any(t.startswith("host silent: the window is the sensor's again") for t in logs), logs
