"""Modes and on-device calibration on the board: who owns the stream window, and a calibrated stream whose every
quantised window equals the host's exact re-computation of the device's running statistics."""

from __future__ import annotations

import numpy as np

from codegen.golden import GoldenModel
from unikd_mcu.hil import protocol as P
from unikd_mcu.hil.session import connect
from unikd_mcu.hil.wearers import SubjectStream, host_windows, subject_stream


def _first_segments(stream: SubjectStream, samples: int) -> SubjectStream:
    """The shortest run of whole segments from the start holding at least `samples` samples."""
    total, n = 0, 0
    while total < samples:
        total += len(stream.segments[n].samples)
        n += 1
    keep = stream.seg_of < n
    return SubjectStream(stream.subject, stream.segments[:n], stream.labels[keep], stream.starts[keep],
                         stream.seg_of[keep])


def test_hello_and_status_report_mode_sensor_and_calibration(board, deployed, hil_options):
    client = connect(board, deployed.metadata, timeout=hil_options["timeout"])
    h = client.hello
    st = client.status()
    if board.__class__.__name__ == "QemuBoard":  # no IMU on the emulated board: its wearer calibration never starts
        assert (h.sensor_state, st.sensor_state, st.calib_state) == (P.SensorState.NONE,) * 2 + (P.CalibState.OFF,)
    assert st.mode == h.mode == P.Mode.SENSOR
    assert (st.calib_warmup, st.calib_refresh) == (deployed.metadata.calib_warmup, deployed.metadata.calib_refresh)
    mean, inv_std = st.constants()  # the build's constants are in use
    assert np.array_equal(mean, np.float32(deployed.metadata.norm_mean))
    assert np.array_equal(inv_std, np.float32(deployed.metadata.norm_inv_std))
    st = client.set_mode(P.Mode.HOST)
    assert st.mode == P.Mode.HOST and st.host_calib_state == P.CalibState.OFF
    st = client.calibrate(P.CalibAction.ON, P.CalibContext.HOST)
    assert st.host_calib_state == P.CalibState.WARMUP
    st = client.set_mode(P.Mode.SENSOR)  # leaving the session ends its calibration
    assert st.mode == P.Mode.SENSOR and st.host_calib_state == P.CalibState.OFF


def test_calibrated_stream_equals_the_host_recomputation_window_by_window(board, deployed, hil_options):
    """The target subject's recording from its start, past the warm-up, with the host session's calibration on:
    every STREAM_RESULT equals TFLM on the host's exact re-computation (codegen.calibration), the device's own
    quantised window read back at the end of each segment is identical, and the constants it reports are the
    host's."""
    m = deployed.metadata
    stream = _first_segments(subject_stream(deployed.data.windows, m.target, m.window, m.stride),
                             m.calib_warmup + 6 * m.stride)
    q = host_windows(stream, m, "calibrated")
    host = GoldenModel(deployed.model).run(q)
    client = connect(board, m, timeout=hil_options["timeout"])
    client.set_mode(P.Mode.HOST)
    client.calibrate(P.CalibAction.RESET, P.CalibContext.HOST)
    i = 0
    for seg in stream.segments:
        got = client.stream_samples(seg.samples)
        for end in range(m.window, len(seg.samples) + 1, m.stride):
            r = got[end]
            assert r.status == 0 and np.array_equal(np.frombuffer(r.outputs, np.int8), host[i]), f"window {i}"
            i += 1
        end, dump = client.dump_window()
        assert end == len(seg.samples) and np.array_equal(dump, q[i - 1])
    assert i == len(q) and (stream.starts >= m.calib_warmup).sum() >= 6  # windows after the warm-up were checked
    st = client.status()
    assert st.host_calib_state == P.CalibState.ACTIVE and st.host_calib_samples == len(stream.samples)
    assert client.log.stream_repairs == 0
    # calibration changed the input: the build's constants quantise these windows differently
    assert not np.array_equal(host_windows(stream, m, "fixed"), q)


def _sim_imu_image(deployed, tmp_path):
    """The deployed qemu-m4 firmware built again with its SIMULATED IMU (firmware/boards/qemu-m4/sim_imu.c)."""
    import shutil

    import pytest

    from unikd_mcu.hil.images import build_firmware

    if deployed.elf is None:
        pytest.skip("a real board: its own IMU plays this part (run the session with the sensor connected)")
    project = tmp_path / "sim-imu"
    shutil.copytree(deployed.build_dir / "make", project, ignore=shutil.ignore_patterns("build"))
    return build_firmware(project, make_vars={"CPPFLAGS": "-DUNIKD_QEMU_SIM_IMU=1"})


def test_sensor_readings_during_a_host_session_leave_the_host_windows_untouched(deployed, hil_options, tmp_path):
    """The board's (simulated) IMU keeps delivering readings at 50 Hz while the host streams the target's recording:
    every host window is still bit-exact with the golden interpreter and attributed to the host's sample indices,
    the readings that arrived meanwhile are counted as ignored, and MODE(0) gives the window back to the sensor."""
    import time

    from unikd_mcu.hil.report import pick_segments, subject_segments
    from unikd_mcu.hil.session import open_board

    m = deployed.metadata
    elf = _sim_imu_image(deployed, tmp_path)
    (seg,) = pick_segments(subject_segments(deployed.data, m.stride), 12, m.window, m.stride)[:1]
    ends = list(range(m.window, len(seg.samples) + 1, m.stride))
    host = GoldenModel(deployed.model).run(deployed.quantise(np.stack([seg.samples[e - m.window:e].T for e in ends])))
    with open_board(elf=elf, timeout=hil_options["timeout"]) as b:
        client = connect(b, m, timeout=hil_options["timeout"])
        assert (client.hello.sensor_state, client.hello.mode) == (P.SensorState.OK, P.Mode.SENSOR)
        time.sleep(1.0)
        before = client.status()
        assert before.sensor_samples > 0 and before.mode == P.Mode.SENSOR  # the sensor is live
        got = client.stream_samples(seg.samples)  # enters host mode
        st = client.status()
        assert st.mode == P.Mode.HOST and st.ignored > 0 and st.sensor_samples > before.sensor_samples
        assert sorted(got) == ends
        assert all(np.array_equal(np.frombuffer(got[e].outputs, np.int8), host[i]) for i, e in enumerate(ends))
        end, dump = client.dump_window()
        assert end == len(seg.samples) and np.array_equal(dump, deployed.quantise(seg.samples[-m.window:].T[None])[0])
        assert st.sensor_windows == before.sensor_windows  # no sensor window was classified in host mode
        st = client.set_mode(P.Mode.SENSOR)
        assert st.mode == P.Mode.SENSOR
        deadline = time.monotonic() + 15
        while client.status().sensor_windows == st.sensor_windows and time.monotonic() < deadline:
            time.sleep(0.5)
        assert client.status().sensor_windows > st.sensor_windows  # the sensor has its window back
