"""The device (real or emulated) against the host's golden TFLM interpreter, over the real serial byte stream."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from unikd_mcu.hil import protocol as P
from unikd_mcu.hil.client import ModelMismatch
from unikd_mcu.hil.report import markdown, pick_segments, stream_mode, subject_segments, verdict, window_mode
from unikd_mcu.hil.session import connect


# ---- handshake ------------------------------------------------------------------------------------------------

def test_handshake_matches_metadata(client, deployed, emulated):
    h, m = client.hello, deployed.metadata
    assert h.model_hash == m.model_sha256 == __import__("hashlib").sha256(deployed.model).hexdigest()
    assert (h.window, h.channels, h.stride, h.num_classes) == (m.window, m.channels, m.stride, m.num_classes)
    assert h.class_names == m.class_names
    assert np.float32(h.input_scale) == np.float32(m.input_scale) and h.input_zero_point == m.input_zero_point
    assert np.float32(h.output_scale) == np.float32(m.output_scale)
    assert h.output_zero_point == m.output_zero_point
    assert h.runtime == m.runtime and h.runtime_ok
    assert h.protocol_version == P.PROTOCOL_VERSION and h.max_payload >= m.input_bytes
    if emulated:
        assert h.runtime == "aot" and h.timer_label == "instructions (QEMU)"


def test_host_refuses_a_device_with_another_model(board, deployed, hil_options):
    other = dataclasses.replace(deployed.metadata, model_sha256="0" * 64,
                                input_zero_point=deployed.metadata.input_zero_point + 1)
    with pytest.raises(ModelMismatch, match="model_hash.*input_zero_point"):
        connect(board, other, timeout=hil_options["timeout"])


# ---- window mode ----------------------------------------------------------------------------------------------

def test_window_mode_bit_exact_with_golden_tflm(client, deployed):
    w = window_mode(client, deployed)
    print(f"\nwindow mode: {w['identical_outputs']}/{w['windows']} identical, device macro-F1 "
          f"{100 * w['device']['macro_f1']:.4f}, {w['inference'].get('median')} {w['inference']['unit']} per "
          f"inference, {w['windows_per_second']:.2f} windows/s")
    assert w["windows"] == len(deployed.data.target_test) > 0
    assert w["identical_outputs"] == w["windows"], f"outputs differ at windows {w['first_differing_windows']}"
    assert w["failed_inferences"] == 0
    assert w["device"]["macro_f1"] == w["host_int8"]["macro_f1"]
    build_report = json.loads((deployed.build_dir / "report.json").read_text())
    assert w["host_int8"]["macro_f1"] == build_report["float_vs_int8"]["int8"]["macro_f1"]
    assert client.log.unanswered == [] and client.log.retries == 0


def test_window_mode_on_the_first_windows_leaves_the_data_whole(client, deployed):
    n = len(deployed.data.target_test)
    w = window_mode(client, deployed, max_windows=7)
    assert w["windows"] == 7 and w["identical_outputs"] == 7
    assert sum(map(sum, w["confusion_matrix"])) == 7  # scored against the labels of those 7 windows only
    assert len(deployed.data.target_test) == len(deployed.data.target_test.y) == n


def test_instructions_per_inference_are_deterministic(client, deployed, emulated):
    q = deployed.quantise(deployed.data.target_test.X[:3])
    first = [client.infer_window(x) for x in q]
    again = [client.infer_window(x) for x in q]
    per_inf = [r.ticks * client.hello.ticks_scale for r in first]
    print(f"\nlatency: {per_inf} {client.hello.timer_label} per inference")
    assert all(r.status == 0 and r.ticks > 0 for r in first)
    if emulated:  # -icount shift=0: repeatable to the timer's resolution (one tick = 40 instructions)
        assert all(abs(a.ticks - b.ticks) <= 1 for a, b in zip(first, again)), \
            ([r.ticks for r in first], [r.ticks for r in again])
        macs = json.loads((deployed.build_dir / "report.json").read_text())["aot"]["macs"]
        assert per_inf[0] > macs  # at least one instruction per multiply-accumulate


# ---- stream mode ----------------------------------------------------------------------------------------------

def test_stitched_stream_reproduces_the_data_set_windows(deployed):
    m = deployed.metadata
    segments = subject_segments(deployed.data, m.stride)
    X = deployed.data.windows.X
    subject_windows = int((deployed.data.windows.domain == deployed.data.scenario.target).sum())
    assert sum(len(s.rows) for s in segments) == subject_windows
    assert max(len(s.rows) for s in segments) > 5
    for seg in segments:
        for i, row in enumerate(seg.rows):
            start = i * m.stride
            assert np.array_equal(seg.samples[start:start + m.window].T, X[row])


def test_stream_mode_predictions_equal_host_for_every_stride(client, deployed, hil_options):
    s = stream_mode(client, deployed, max_windows=hil_options["stream_windows"])
    print(f"\nstream mode: {s['identical']}/{s['windows']} identical over {s['segments']} segments, "
          f"real-time factor {s['real_time_factor']:.2f}")
    assert s["windows"] == min(hil_options["stream_windows"],
                               int((deployed.data.windows.domain == deployed.data.scenario.target).sum()))
    assert s["identical"] == s["windows"] and s["missing"] == 0 and s["extra"] == 0, s["mismatches"]
    assert s["quantised_windows_identical"] == s["segments"]  # float32 normalise + quantise on the target itself
    assert client.log.unanswered == [] and client.log.stream_repairs == 0


# ---- faults ---------------------------------------------------------------------------------------------------

class FaultyLink:
    """FAULT INJECTOR (the one stand-in in this suite): wraps the real serial link and damages chosen request
    frames on their way to the device, because a clean TCP link to QEMU never corrupts, truncates or resets by
    itself. Everything else passes through unchanged."""

    def __init__(self, ser, faults: dict[int, str], board=None, seed: int = 7):
        self._ser = ser
        self.faults = faults  # index of the request frame written -> fault
        self.board = board
        self.frames_written = 0
        self.injected: list[tuple[int, str]] = []
        self.rng = np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self._ser, name)

    @property
    def timeout(self):
        return self._ser.timeout

    @timeout.setter
    def timeout(self, value):
        self._ser.timeout = value

    def write(self, data: bytes):
        if not data.startswith(P.START):
            return self._ser.write(data)
        i = self.frames_written
        self.frames_written += 1
        fault = self.faults.get(i)
        if fault is None:
            return self._ser.write(data)
        self.injected.append((i, fault))
        if fault == "garbage":
            junk = bytearray(self.rng.integers(0, 256, 200, dtype=np.uint8).tobytes().replace(P.START, b""))
            junk[::17] = b"\xa5" * len(junk[::17])  # lone first marker bytes
            return self._ser.write(bytes(junk) + data)
        if fault == "crc":
            bad = bytearray(data)
            bad[-1] ^= 0x5A
            return self._ser.write(bytes(bad))
        if fault == "payload_bit":
            bad = bytearray(data)
            bad[len(bad) // 2] ^= 0x01
            return self._ser.write(bytes(bad))
        if fault == "truncate":
            return self._ser.write(data[: len(data) // 2])
        if fault == "oversized":
            bad = bytearray(data)
            bad[5:7] = (P.MAX_PAYLOAD + 1000).to_bytes(2, "little")
            return self._ser.write(bytes(bad))
        if fault == "reset":
            n = self._ser.write(data[: len(data) // 3])  # the device resets in the middle of receiving a frame
            self._ser.flush()
            self.board.reset()
            return n
        raise ValueError(fault)


def _check_windows(client, deployed, n):
    q = deployed.quantise(deployed.data.target_test.X[:n])
    host = deployed.golden(q)
    results = client.infer_windows(q)
    got = np.stack([np.frombuffer(r.outputs, np.int8) for r in results])
    assert len(results) == n
    bad = np.flatnonzero((got != host).any(axis=1))
    assert bad.size == 0, f"windows {bad.tolist()} got another window's or a wrong result"
    assert [r.predicted for r in results] == host.argmax(1).tolist()


def test_faults_get_error_replies_or_are_skipped_and_no_window_is_lost(board, deployed):
    faults = {3: "garbage", 5: "crc", 7: "truncate", 9: "oversized", 11: "payload_bit", 12: "garbage"}
    link = FaultyLink(board.serial, faults)
    client = connect(board, deployed.metadata, timeout=1.0, link=link)  # the handshake is frame 0
    _check_windows(client, deployed, 14)
    assert sorted(i for i, _ in link.injected) == sorted(faults)
    log = client.log
    print(f"\nfaults: {link.injected}; link: {log.to_dict()}")
    assert log.unanswered == []
    assert log.device_errors["BAD_CRC"] >= 2 and log.device_errors["TOO_LONG"] >= 1
    assert log.retries >= 4  # crc, truncate, oversized and payload bit each cost one retry; garbage none
    assert log.timeouts >= 1  # the truncated frame: the device waits for its missing bytes
    assert client.ping(b"still here") == b"still here"


def test_device_reset_mid_run_is_detected_and_the_run_resumes(board, deployed, hil_options):
    if getattr(board, "reset", None) is None:
        pytest.skip("no way to reset this board from the host (give --reset-by-rts if RTS resets it)")
    link = FaultyLink(board.serial, {6: "reset"}, board=board)
    client = connect(board, deployed.metadata, timeout=hil_options["timeout"], link=link)
    boot0 = client.hello.boot_count
    w = window_mode(client, deployed)  # frame 6 = the 6th window: reset while the device receives it
    assert len(client.log.resets) == 1 and client.hello.boot_count == boot0 + 1
    assert w["identical_outputs"] == w["windows"]

    # and in stream mode: reset while a SAMPLES frame is arriving, halfway through the stream
    link.faults = {link.frames_written + 8: "reset"}
    s = stream_mode(client, deployed, max_windows=12)
    assert len(client.log.resets) == 2 and client.hello.boot_count == boot0 + 2
    assert s["identical"] == s["windows"] == 12 and s["missing"] == 0 and s["extra"] == 0
    report = {"board": "x", "link_name": "x", "build_dir": "x", "scenario": "x", "sample_rate_hz": 50.0,
              "device": {"firmware_version": "", "protocol_version": 1, "runtime": "", "model_hash": "0" * 64,
                         "window": 128, "channels": 9, "stride": 64, "runtime_ram_bytes": 0},
              "window_mode": w, "stream_mode": s, "link": client.log.to_dict()}
    report["pass"] = verdict(report)
    text = markdown(report)
    assert client.log.resent_after_reset >= 2 and client.log.unanswered == []
    assert report["pass"] and "device resets detected: 2" in text and "(run resumed)" in text
    print("\n" + text[text.index("## Link accounting"):])


def test_pick_segments_limits_windows(deployed):
    m = deployed.metadata
    segs = pick_segments(subject_segments(deployed.data, m.stride), 10, m.window, m.stride)
    assert sum(len(s.rows) for s in segs) == 10
    assert all(len(s.samples) == m.window + (len(s.rows) - 1) * m.stride for s in segs)
