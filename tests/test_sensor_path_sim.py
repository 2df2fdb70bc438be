"""The generated sketch's sensor path on the host, against a SIMULATED MPU-6050 (a test double:
tests/firmware/arduino_sim/sim_mpu6050.h) that plays back a real UCI-HAR recording on its own clock, in virtual time.

The rendered esp32 project (sketch, MPU-6050 driver, core, model, aot runtime) is compiled unchanged with the host
port of the Arduino API (tests/firmware/arduino_sim) and calibration off (-DUNIKD_CALIB_DEFAULT_ON=0), so its
windows are quantised with the build's constants. The reference is computed here from the same recording: the part's
int16 conversion, the driver's scaling, the front end of firmware/core/unikd_sensor.c in float32, the build's
quantisation and the golden TFLM interpreter. The simulated part reports each sample's fate (read out whole, or
lost), which says where the device's windows must restart.

Against the old driver (bool unikd_imu_begin / unikd_imu_read) none of this builds: the sketch calls
unikd_imu_poll, which it lacks. A driver polling the output registers instead of the FIFO would repeat or skip
samples under the 2 % clock error and the 45 ms inference (test 1), and one without the overflow check would feed
misaligned bytes into the window after the stall (test 2).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from unikd_mcu.hil.protocol import Frame, FrameParser, Hello, Log, Msg, Result, SensorState, Status, encode

SIM_DIR = Path(__file__).resolve().parent / "firmware" / "arduino_sim"
SUBJECT = 11          # the scenario's target subject
WALK = 0              # class index of 'walk' in ucihar.npz: a recording with movement in every axis
RATE_HZ = 50.0
STATUS_SEQ = 7
# sim_mpu6050.h SampleFate
FATE_READ = 1


# --- the recording and the reference pipeline ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(ucihar_arrays) -> np.ndarray:
    """(N, 6) float32: total_acc x/y/z (g) and body_gyro x/y/z (rad/s) of subject 11's longest continuous walk
    (windows stitched where their overlaps agree bit for bit)."""
    from unikd.data.ucihar_archive import SIGNALS
    from unikd_mcu.hil.report import stitch_segments

    a = ucihar_arrays
    rows = np.flatnonzero(a["subject"] == SUBJECT)
    segs = [s for s in stitch_segments(a["X"], rows, 64) if a["y"][s.rows[0]] == WALK]
    seg = max(segs, key=lambda s: len(s.rows))
    cols = [SIGNALS.index(f"total_acc_{c}") for c in "xyz"] + [SIGNALS.index(f"body_gyro_{c}") for c in "xyz"]
    rec = np.ascontiguousarray(seg.samples[:, cols], np.float32)
    assert rec.shape == (1088, 6)  # 16 windows of 128 at stride 64
    return rec


def _round_half_away(v: np.ndarray) -> np.ndarray:
    t = np.trunc(v)
    return t + np.sign(v) * (np.abs(v - t) >= 0.5)


def driver_readings(rec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the driver hands the core for each recorded sample: the part's int16 (+-4 g: 8192 LSB/g, +-250 deg/s:
    131 LSB per deg/s, rounded half away from zero, saturated), scaled back in float32 as the driver does."""
    acc = np.clip(_round_half_away(rec[:, :3].astype(np.float64) * 8192.0), -32768, 32767)
    gyro = np.clip(_round_half_away(rec[:, 3:].astype(np.float64) * (180.0 / np.pi) * 131.0), -32768, 32767)
    acc_g = acc.astype(np.float32) / np.float32(8192.0)
    gyro_rad = gyro.astype(np.float32) / np.float32(131.0) * np.float32(0.017453292519943295)
    return acc_g, gyro_rad


def front_end(acc: np.ndarray, gyro: np.ndarray, sources: list[int]) -> np.ndarray:
    """firmware/core/unikd_sensor.c in float32: total, total minus a first-order low-pass gravity, gyro."""
    f = np.float32
    dt = f(1.0) / f(RATE_HZ)
    rc = f(1.0) / (f(6.2831853) * f(0.3))
    alpha = dt / (rc + dt)
    out = np.empty((len(acc), 9), np.float32)
    g = acc[0].copy()
    for i in range(len(acc)):
        if i:
            g = g + alpha * (acc[i] - g)
        out[i, :3] = acc[i]
        out[i, 3:6] = acc[i] - g
        out[i, 6:] = gyro[i]
    return out[:, sources]


def expected_results(rec, fates, meta, golden, sources):
    """[(end, outputs int8)] the device must send: the front end over the readings it got (in order, continuing
    across holes), windows restarting after each hole, quantised with the build's constants, golden TFLM. `end`
    counts the readings the device took (lost ones excluded), across holes."""
    from codegen.quantise import quantise_normalised

    got = np.flatnonzero(fates == FATE_READ)
    acc, gyro = driver_readings(rec[got])
    x = front_end(acc, gyro, sources)
    n = (x - np.asarray(meta.norm_mean, np.float32)) * np.asarray(meta.norm_inv_std, np.float32)
    q = quantise_normalised(n, meta.input_scale, meta.input_zero_point)
    runs = np.split(np.arange(len(got)), np.flatnonzero(np.diff(got) != 1) + 1)
    ends, windows = [], []
    for run in runs:
        for end in range(meta.window, len(run) + 1, meta.stride):
            ends.append(int(run[0]) + end)
            windows.append(q[run[end - meta.window:end]])
    outs = golden.run(np.stack(windows)) if windows else []
    return list(zip(ends, outs))


# --- the rendered project compiled with the simulated part ----------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory, student_tflite, student_metadata, require_tools):
    """(sim binary, model metadata, golden model, channel sources) from the esp32 project rendered with the aot
    runtime and the MPU-6050 driver."""
    from codegen.boards import get_board
    from codegen.golden import GoldenModel
    from codegen.render import render_project
    from codegen.runtimes import aot_runtime
    from codegen.sensors import channel_sources

    require_tools("gcc", "g++")
    out = tmp_path_factory.mktemp("sim_project")
    meta = student_metadata(runtime="aot")
    render_project(get_board("esp32"), student_tflite, meta, aot_runtime(student_tflite), out)
    sk = out / "arduino" / "unikd_esp32"
    objs, procs = [], []
    flags = ["-O2", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-DUNIKD_CALIB_DEFAULT_ON=0",
             "-I", str(SIM_DIR), "-I", str(sk)]
    sources = sorted(sk.glob("*.c")) + sorted(sk.glob("*.cpp")) + sorted(sk.glob("*.ino")) + sorted(
        SIM_DIR.glob("*.cpp"))
    assert {s.name for s in sources} >= {"unikd_imu_mpu6050.cpp", "unikd_esp32.ino", "unikd_app.c",
                                         "unikd_aot_model.c", "sim_mpu6050.cpp", "sim_main.cpp"}
    for src in sources:
        obj = out / (src.name + ".o")
        cc = ["gcc", "-std=c99"] if src.suffix == ".c" else ["g++", "-std=c++17", "-x", "c++"]
        procs.append((src, subprocess.Popen([*cc, *flags, "-c", str(src), "-o", str(obj)],
                                            stderr=subprocess.PIPE, text=True)))
        objs.append(str(obj))
    for src, p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, f"{src.name}:\n{err[-3000:]}"
    exe = out / "sim"
    subprocess.run(["g++", "-o", str(exe), *objs, "-Wl,--wrap=unikd_runtime_invoke", "-lm"], check=True)
    return exe, meta, GoldenModel(student_tflite), channel_sources(meta.channel_names, "mpu6050")


def run_sim(project, tmp_path, rec, *args, end_ms=None, status=True):
    """Run the sketch; returns (frames, fates, summary {transfers, nacked, produced, invokes, ...})."""
    exe = project[0]
    data = tmp_path / "rec.f32"
    rec.tofile(data)
    if end_ms is None:
        end_ms = int(len(rec) / RATE_HZ * 1000) + 3000
    argv = [str(exe), "--data", str(data), "--end-ms", str(end_ms), "--fates", str(tmp_path / "fates"), *args]
    if status:  # the host asks for the counters near the end
        argv += ["--send", f"{end_ms - 100}:{encode(Msg.STATUS_REQ, STATUS_SEQ).hex()}"]
    p = subprocess.run(argv, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    words = p.stderr.decode().split()
    summary = {words[i]: int(words[i + 1]) for i in range(1, len(words) - 1, 2)}
    parser = FrameParser()
    frames = parser.feed(p.stdout)
    assert parser.skipped_bytes == 0 and parser.bad_frames == 0 and not parser.buf
    return frames, np.fromfile(tmp_path / "fates", np.uint8), summary


def of_type(frames: list[Frame], t: Msg) -> list[Frame]:
    return [f for f in frames if f.type == t]


def status_of(frames) -> Status:
    (st,) = of_type(frames, Msg.STATUS)
    assert st.seq == STATUS_SEQ
    return Status.unpack(st.payload)


def counters(st: Status) -> dict:
    return {k: getattr(st, k) for k in ("overruns", "missed", "late", "repeated", "read_failures", "ignored")}


def check_results(frames, rec, fates, project, ticks: int | None = None):
    """Every STREAM_RESULT equals the reference, in order, none missing or extra."""
    _, meta, golden, sources = project
    expected = expected_results(rec, fates, meta, golden, sources)
    got = [Result.unpack(f) for f in of_type(frames, Msg.STREAM_RESULT)]
    assert all(f.seq == 0xFFFF for f in of_type(frames, Msg.STREAM_RESULT))
    assert [r.end for r in got] == [e for e, _ in expected]
    for i, (r, (_, out)) in enumerate(zip(got, expected)):
        assert r.status == 0 and bytes(r.outputs) == out.tobytes(), f"window {i}"
        assert r.predicted == int(np.argmax(out))
        if ticks is not None:
            assert r.ticks == ticks  # the device timed the inference on its (virtual) clock
    return got


# --- tests ----------------------------------------------------------------------------------------------------------


def test_every_window_equals_the_host_pipeline_with_slow_inference_and_a_fast_sensor_clock(project, recording,
                                                                                         tmp_path):
    """Inference 45 ms (> the 20 ms period), the part's clock 2 % fast: every sample reaches the model, every
    window equals the host pipeline's bit for bit, and no loss counter moves."""
    frames, fates, summary = run_sim(project, tmp_path, recording, "--invoke-us", "45000", "--clock-error", "0.02")
    assert summary["produced"] == len(recording) and (fates == FATE_READ).all()  # nothing lost
    (hello,) = of_type(frames, Msg.HELLO)
    assert Hello.unpack(hello.payload).sensor_state == SensorState.OK
    got = check_results(frames, recording, fates, project, ticks=45_000)
    assert len(got) == (len(recording) - 128) // 64 + 1 == 16
    st = status_of(frames)
    assert (st.sensor_samples, st.sensor_windows) == (1088, 16)
    assert counters(st) == dict.fromkeys(counters(st), 0)
    assert not of_type(frames, Msg.LOG)


def test_a_fifo_overflow_is_counted_as_missed_and_no_window_spans_it(project, recording, tmp_path):
    """The third inference takes 2.5 s: the part's 1024-byte FIFO (85 samples, 1.7 s) overflows and overwrites its
    oldest bytes. The driver resets it and counts the lost samples; the window restarts after the hole."""
    frames, fates, summary = run_sim(project, tmp_path, recording, "--invoke-us", "45000",
                                     "--slow-invoke", "2:2500000")
    lost = int((fates != FATE_READ).sum())
    st = status_of(frames)
    # the driver's estimate (samples left in the FIFO at its last FIFO_COUNT read + nominal periods since) is exact
    # here, where the part's clock is exactly nominal
    assert st.missed == lost == 125
    assert counters(st) == {"overruns": 0, "missed": 125, "late": 0, "repeated": 0, "read_failures": 0, "ignored": 0}
    assert st.sensor_samples == len(recording) - lost
    got = check_results(frames, recording, fates, project)
    ends = [r.end for r in got]
    got_idx = np.flatnonzero(fates == FATE_READ)
    before_hole = int(np.flatnonzero(np.diff(got_idx) != 1)[0]) + 1  # readings taken before the hole
    # restarted after the hole: a whole new window past the readings already taken (end counts readings taken)
    assert ends[:3] == [128, 192, 256] and ends[3] == before_hole + 128 and before_hole >= 256
    assert st.sensor_windows == len(got)
    logs = [Log.unpack(f.payload).text for f in of_type(frames, Msg.LOG)]
    assert logs == [] or all("missed 125" in t for t in logs)


def test_i2c_failures_are_counted_exactly_and_lose_nothing(project, recording, tmp_path):
    """NACKed transfers at 40 seeded places after start-up: each is one read failure, the samples stay in the
    FIFO and are read on the next poll, so the windows are the same as without failures."""
    rng = np.random.default_rng(12)
    nacks = sorted(rng.choice(np.arange(200, 40_000), size=40, replace=False).tolist())
    args = [a for n in nacks for a in ("--nack", str(n))]
    frames, fates, summary = run_sim(project, tmp_path, recording, "--invoke-us", "45000", *args)
    assert summary["nacked"] == 40 and (fates == FATE_READ).all()
    st = status_of(frames)
    assert counters(st) == {"overruns": 0, "missed": 0, "late": 0, "repeated": 0, "read_failures": 40, "ignored": 0}
    got = check_results(frames, recording, fates, project)
    assert len(got) == 16 and st.sensor_state == SensorState.OK


def test_a_read_cut_mid_sample_resets_the_fifo_and_counts_what_it_dropped(project, recording, tmp_path):
    """A FIFO read that fails after 5 of its 24 bytes: those bytes are gone from the part and the FIFO no longer
    starts on a sample boundary. The driver sees FIFO_COUNT not a multiple of 12, resets the FIFO and counts the
    samples it held (and the cut one) as missed; the window restarts."""
    # the 300th FIFO data read: with 45 ms inferences some reads take 2 samples (24 bytes)
    frames, fates, summary = run_sim(project, tmp_path, recording, "--invoke-us", "45000", "--cut", "300:5")
    lost = np.flatnonzero(fates != FATE_READ)
    st = status_of(frames)
    assert len(lost) >= 1 and st.missed == len(lost)
    assert st.read_failures == 1
    check_results(frames, recording, fates, project)


@pytest.mark.parametrize("args, state, words, transfers", [
    (["--absent"], SensorState.ABSENT, "ABSENT", 1),             # the register pointer write is not acknowledged
    (["--who-am-i", "0x69"], SensorState.WRONG_ID, "WRONG ID", 2),  # pointer write, WHO_AM_I read
])
def test_a_sensor_that_does_not_start_is_reported(project, recording, tmp_path, args, state, words, transfers):
    frames, fates, summary = run_sim(project, tmp_path, recording, *args, end_ms=1000)
    (hello,) = of_type(frames, Msg.HELLO)
    assert Hello.unpack(hello.payload).sensor_state == state
    (log,) = [Log.unpack(f.payload).text for f in of_type(frames, Msg.LOG)]
    assert log.startswith("boot: the sensor did not start") and words in log
    assert not of_type(frames, Msg.STREAM_RESULT)
    # no polling of a sensor that is not there: only begin's transfers
    assert summary["transfers"] == transfers


def test_a_clone_id_is_accepted(project, recording, tmp_path):
    frames, fates, _ = run_sim(project, tmp_path, recording, "--who-am-i", "0x70", "--invoke-us", "45000")
    assert Hello.unpack(of_type(frames, Msg.HELLO)[0].payload).sensor_state == SensorState.OK
    assert len(check_results(frames, recording, fates, project)) == 16


def test_a_sensor_that_stops_answering_is_lost_then_ok_again(project, recording, tmp_path):
    """The part does not answer from 8 s to 10 s (it keeps sampling): after SENSOR_LOST_AFTER = 10 failed polls the
    board says LOST in a log line; when it answers again its FIFO has overflowed (2 s > 1.7 s), the driver counts
    the missed samples and the board says it answers again."""
    frames, fates, summary = run_sim(project, tmp_path, recording, "--invoke-us", "45000", "--dead", "8000:10000")
    logs = [Log.unpack(f.payload).text for f in of_type(frames, Msg.LOG)]
    assert [t.split(";")[0] for t in logs] == ["sensor stopped answering", "sensor answers again"]
    assert "sensor LOST: reads failing" in logs[0] and "read failures 10" in logs[0]
    st = status_of(frames)
    assert st.sensor_state == SensorState.OK
    assert st.read_failures == summary["nacked"]
    lost = int((fates != FATE_READ).sum())
    assert st.missed == lost > 85
    check_results(frames, recording, fates, project)
