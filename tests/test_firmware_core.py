"""The portable firmware core (firmware/core/) compiled for the host with gcc and driven through its serial
protocol on stdin/stdout (hil_tests/host_harness/host_port.c). The inference runtime here is a TEST DOUBLE
(hil_tests/host_harness/test_double_runtime.c, mirrored by `double_runtime` below): these tests are about
framing, resynchronisation, windowing and quantisation, not about the model. The real runtime is checked on the
emulated board by hil_tests/."""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest

from codegen.carrays import model_meta_header
from codegen.metadata import ModelMetadata
from codegen.quantise import quantise_windows
from test_codegen_shared import require_tools
from unikd.data.normalise import Normaliser
from unikd_mcu.hil import protocol as P

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "firmware" / "core"
HARNESS = ROOT / "hil_tests" / "host_harness"
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-ffp-contract=off"]

W, C, STRIDE, K = 128, 9, 64, 6
SEED = 1234
rng0 = np.random.default_rng(SEED)
# Channel 1 has mean 0, inv_std 1 and the scale is a power of two, so exact halves (ties) are easy to produce.
MEAN = np.r_[0.3, 0.0, rng0.normal(0, 0.5, C - 2)].astype(np.float32)
INV_STD = np.r_[2.7, 1.0, rng0.uniform(0.5, 4.0, C - 2)].astype(np.float32)
SCALE = np.float32(0.0625)
ZP = -3
CLASSES = ["walk", "upstairs", "downstairs", "sit", "stand", "lie"]
HASH = "ab" * 32


def fake_metadata(**changes) -> ModelMetadata:
    """Metadata of a model that does not exist (no .tflite is needed to test the core)."""
    fields = dict(
        model_sha256=HASH, model_bytes=0, input_shape=[1, 1, W, C], output_shape=[1, K],
        input_scale=float(SCALE), input_zero_point=ZP, output_scale=0.125, output_zero_point=7,
        window=W, channels=C, stride=STRIDE, num_classes=K, class_names=CLASSES,
        channel_names=[f"ch{i}" for i in range(C)], sample_rate_hz=50.0, norm_kind="zscore",
        norm_mean=[float(v) for v in MEAN], norm_inv_std=[float(v) for v in INV_STD], runtime="aot",
        dataset="test", source=0, target=1, method="none")
    fields.update(changes)
    return ModelMetadata(**fields)


def write_meta_header(path: Path, **changes) -> None:
    """unikd_model_meta.h as codegen writes it for a deployed model."""
    path.write_text(model_meta_header(fake_metadata(**changes)))


def compile_c(args: list[str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, f"compile failed: {' '.join(args)}\n{proc.stderr}"


def require(tool: str) -> str:
    require_tools(tool)
    return shutil.which(tool)


@pytest.fixture(scope="module")
def core(tmp_path_factory) -> Path:
    gcc = require("gcc")
    d = tmp_path_factory.mktemp("core")
    write_meta_header(d / "unikd_model_meta.h")
    exe = d / "host_core"
    sources = sorted(CORE.glob("*.c")) + sorted(HARNESS.glob("*.c"))
    compile_c([gcc, *CFLAGS, f"-I{CORE}", f"-I{d}", *map(str, sources), "-lm", "-o", str(exe)])
    return exe


def run_core(exe: Path, data: bytes, mode: str | None = None) -> bytes:
    args = [str(exe)] + ([mode] if mode else [])
    return subprocess.run(args, input=data, capture_output=True, check=True, timeout=60).stdout


def frames_of(out: bytes) -> list[P.Frame]:
    parser = P.FrameParser()
    frames = parser.feed(out)
    assert parser.skipped_bytes == 0 and not parser.buf, "the device wrote bytes outside frames"
    return frames


def double_runtime(window: np.ndarray) -> np.ndarray:
    """Python mirror of the test double runtime: window int8 (W, C) -> int8 (K,)."""
    s = window.astype(np.int64)
    out = []
    for k in range(K):
        t = int(s[:, k % C].sum())
        v = (abs(t) // 64) * (1 if t >= 0 else -1) + k
        out.append(min(127, max(-128, v)))
    return np.array(out, np.int8)


def random_windows(n, rng):
    return rng.integers(-127, 128, size=(n, W, C), dtype=np.int8)  # no -128: cannot trigger the double's failure


def window_frames(windows, first_seq=1) -> list[bytes]:
    return [P.encode(P.Msg.WINDOW, first_seq + i, w.tobytes()) for i, w in enumerate(windows)]


def check_result(frame, seq, window):
    assert frame.type == P.Msg.RESULT and frame.seq == seq
    r = P.Result.unpack(frame)
    expected = double_runtime(window)
    assert np.frombuffer(r.outputs, np.int8).tolist() == expected.tolist()
    assert r.predicted == int(np.argmax(expected)) and r.status == 0
    assert r.ticks == 1000  # the harness timer advances 1000 per read


# ---- builds -------------------------------------------------------------------------------------------------

def test_core_compiles_warning_free_for_cortex_m4(tmp_path):
    gcc = require("arm-none-eabi-gcc")
    write_meta_header(tmp_path / "unikd_model_meta.h")
    for src in sorted(CORE.glob("*.c")):
        compile_c([gcc, *CFLAGS, "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16",
                   f"-I{CORE}", f"-I{tmp_path}", "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))])


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


def test_byte_gap_drops_partial_frame_silently(core):
    rng = np.random.default_rng(SEED)
    wins = random_windows(2, rng)
    f1, f2 = window_frames(wins)
    chunks = [f1[:300], f2]  # in "gap" mode the harness reports a receive gap after every chunk
    frames = frames_of(run_core(core, b"".join(struct.pack("<I", len(c)) + c for c in chunks), "gap"))[1:]
    assert [(f.type, f.seq) for f in frames] == [(P.Msg.RESULT, 2)]
    check_result(frames[0], 2, wins[1])


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

def stream_expectations(stream: np.ndarray, base: int):
    """stream (T, C) raw float32 -> {end index: expected outputs} for every window the device must infer."""
    norm = Normaliser(MEAN, INV_STD)
    out = {}
    for end in range(W, len(stream) + 1, STRIDE):
        q = quantise_windows(stream[end - W : end].T[None], norm, float(SCALE), ZP)[0]
        out[base + end] = double_runtime(q)
    return out


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
