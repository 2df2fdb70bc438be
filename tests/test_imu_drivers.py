"""The generated IMU drivers (firmware/templates/unikd_imu_*.cpp.j2), run on the host.

The LSM9DS1 driver is compiled with the host C++ compiler against a Wire stand-in whose transfers go to a
register model of the part (tests/firmware/imu_host/), linked with the core's real sample ring, and driven by a
script: FIFO contents, polls, drains. That checks what the board cannot show without a scope: the readings leave
the driver at the model's rate on the SENSOR's timeline (output k = linear interpolation at input position
k * odr / rate), an FIFO overrun is counted and restarts the timeline, and the identity check refuses another part.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from codegen.boards import get_board, load_board_file
from codegen.render import CORE_DIR
from codegen.sensors import IMU_SENSORS
from codegen.templating import render_template

HOST = Path(__file__).resolve().parent / "firmware" / "imu_host"
ACC_G_PER_LSB = 0.122e-3  # LSM9DS1 datasheet sensitivity at +-4 g
GYRO_RAD_PER_LSB = 70e-3 * np.pi / 180  # at +-2000 dps
UNIKD_SENSOR = {"OK": 1, "ABSENT": 2, "WRONG_ID": 3, "CONFIG_FAILED": 4}


def _tools():
    if not (shutil.which("gcc") and shutil.which("g++")):
        pytest.skip("host gcc/g++ not installed")


@pytest.fixture(scope="module")
def lsm9ds1_program(tmp_path_factory):
    """Function rate -> path of the host program built from the rendered driver for a model at `rate` Hz."""
    _tools()
    built = {}

    def build(rate: int) -> Path:
        if rate in built:
            return built[rate]
        d = tmp_path_factory.mktemp(f"lsm9ds1_{rate}")
        for f in CORE_DIR.iterdir():
            if f.suffix in (".h", ".c"):
                shutil.copy(f, d)
        # the driver and the ring read only the rate from the model's metadata header
        (d / "unikd_model_meta.h").write_text(f"#define UNIKD_SAMPLE_RATE_HZ {rate}.0f\n")
        (d / "unikd_imu.h").write_text(render_template("unikd_imu.h.j2"))
        sensor = IMU_SENSORS["lsm9ds1"]
        for t in sensor.support_templates:
            (d / t.removesuffix(".j2")).write_text(render_template(t))
        (d / "driver.cpp").write_text(render_template(sensor.driver_template))
        flags = ["-O1", "-ffp-contract=off", f"-I{HOST}", f"-I{d}"]  # as the boards build: no fused multiply-add
        subprocess.run(["gcc", "-std=c99", *flags, "-c", str(d / "unikd_sampler.c"), "-o", str(d / "s.o")],
                       check=True, capture_output=True, text=True)
        p = subprocess.run(["g++", "-std=c++14", "-Wall", "-Werror", *flags, str(d / "driver.cpp"),
                            str(HOST / "lsm9ds1_model.cpp"), str(d / "s.o"), "-o", str(d / "prog")],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr[-3000:]
        built[rate] = d / "prog"
        return built[rate]

    return build


def _run(prog: Path, script: list[str]) -> list[str]:
    p = subprocess.run([str(prog)], input="\n".join(script) + "\n", capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def _readings(lines):
    rows = [line.split()[1:] for line in lines if line.startswith("r ")]
    return np.array([[float(v) for v in r[1:]] for r in rows]), [int(r[0]) for r in rows]


def _counters(lines):
    last = [line for line in lines if line.startswith("counters")][-1]
    return {k: int(v) for k, v in (kv.split("=") for kv in last.split()[1:])}


def _raw_sequence(n, seed=0):
    """n FIFO slots of raw int16 (gyro x y z, accel x y z): smooth plus noise, within int16."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    base = 8000 * np.sin(2 * np.pi * t / 37.0 + np.arange(6)[None, :])
    return np.clip(np.round(base + rng.normal(0, 500, (n, 6))), -32768, 32767).astype(int)


def _expected(raw, odr, rate):
    """Linear interpolation on the sensor timeline: output k at input position k * odr / rate, for every position
    before the last slot (the driver emits an output once the slot after it has arrived)."""
    vals = np.concatenate([raw[:, 3:] * ACC_G_PER_LSB, raw[:, :3] * GYRO_RAD_PER_LSB], axis=1)
    n = len(raw)
    pos = np.arange(0, int(np.ceil((n - 1) * rate / odr)) + 1) * odr / rate
    pos = pos[pos < n - 1]
    return np.stack([np.interp(pos, np.arange(n), vals[:, c]) for c in range(6)], axis=1)


def _fill_and_poll(raw, batch):
    script = []
    for i in range(0, len(raw), batch):
        script += [f"push {' '.join(map(str, r))}" for r in raw[i:i + batch]] + ["poll", "drain"]
    return script


@pytest.mark.parametrize("rate, odr, ctrl1, batch", [
    (50, 59.5, "58", 7),   # the UCI-HAR models: 59.5 Hz is the slowest ODR at or above 50 Hz
    (50, 59.5, "58", 32),  # a full FIFO per poll (a long inference) gives the same outputs
    (100, 119.0, "78", 5),
    (10, 14.9, "38", 3),
])
def test_lsm9ds1_outputs_are_the_sensor_timeline_interpolation(lsm9ds1_program, rate, odr, ctrl1, batch):
    raw = _raw_sequence(300)
    lines = _run(lsm9ds1_program(rate), ["begin", *_fill_and_poll(raw, batch), "counters"])
    assert lines[0] == f"begin {UNIKD_SENSOR['OK']}"
    # gyro ODR code, +-2000 dps; accel same ODR code, +-4 g; FIFO_EN; FIFO continuous mode
    assert lines[1] == f"ctrl {ctrl1} {int(ctrl1, 16) & 0xE0 | 0x10:02x} 02 c0"
    got, gaps = _readings(lines)
    want = _expected(raw, odr, rate)
    assert got.shape == want.shape
    # float32 arithmetic in the driver against float64 numpy: a few float32 ulps of the values' magnitude
    np.testing.assert_allclose(got, want, rtol=0, atol=4e-6 * np.abs(want).max())
    assert not any(gaps) and _counters(lines)["missed"] == 0


def test_lsm9ds1_overrun_is_counted_and_restarts_the_timeline(lsm9ds1_program):
    prog = lsm9ds1_program(50)
    raw = _raw_sequence(120, seed=1)
    # 20 slots read normally, then 45 pushed with no poll: the 32-slot FIFO overwrites its 13 oldest
    script = ["begin", *_fill_and_poll(raw[:20], 20)]
    script += [f"push {' '.join(map(str, r))}" for r in raw[20:65]]
    script += ["poll", "drain", *_fill_and_poll(raw[65:], 10), "counters"]
    lines = _run(prog, script)
    got, gaps = _readings(lines)
    before = _expected(raw[:20], 59.5, 50)
    after = _expected(raw[33:], 59.5, 50)  # a new timeline from the oldest slot the FIFO kept
    np.testing.assert_allclose(got, np.concatenate([before, after]), rtol=0, atol=4e-6 * np.abs(after).max())
    assert gaps == [0] * len(before) + [1] + [0] * (len(after) - 1)
    assert _counters(lines)["missed"] >= 1


def test_lsm9ds1_failed_transfer_is_counted(lsm9ds1_program):
    raw = _raw_sequence(10)
    lines = _run(lsm9ds1_program(50), ["begin", "fail_reads 1", *_fill_and_poll(raw, 10), "counters"])
    assert _counters(lines)["read_failures"] == 1


@pytest.mark.parametrize("setup, state", [
    ("who 24", "WRONG_ID"),   # a BMI270's CHIP_ID value: not an LSM9DS1
    ("who 00", "WRONG_ID"),
    ("absent", "ABSENT"),     # nothing acknowledges 0x6B (a rev 2 board)
    ("ignore_writes", "CONFIG_FAILED"),  # answers, but the rate does not read back
])
def test_lsm9ds1_begin_reports_why_the_sensor_did_not_start(lsm9ds1_program, setup, state):
    assert _run(lsm9ds1_program(50), [setup, "begin"])[0] == f"begin {UNIKD_SENSOR[state]}"


def test_rev2_profile_selects_the_bmi270_driver_and_rev1_the_lsm9ds1():
    rev1, rev2 = get_board("nano33ble"), get_board("nano33ble_rev2")
    assert (rev1.sensor, rev2.sensor) == ("lsm9ds1", "bmi270")
    # same MCU and build: only the IMU differs between the revisions
    assert rev2.arduino == rev1.arduino and rev2.platformio == rev1.platformio
    bmi = IMU_SENSORS["bmi270"]
    assert bmi.platformio_library == "arduino-libraries/Arduino_BMI270_BMM150@1.2.3"
    assert bmi.arduino_library == "Arduino_BMI270_BMM150@1.2.3"
    # the LSM9DS1 driver talks to the part over Wire1 itself: no third-party library to pin
    assert IMU_SENSORS["lsm9ds1"].arduino_library is None and IMU_SENSORS["lsm9ds1"].platformio_library is None
    text = render_template(bmi.driver_template)
    assert "uint8_t unikd_imu_begin(void)" in text and "void unikd_imu_poll(void)" in text
    assert "#include <Arduino_BMI270_BMM150.h>" in text and '#include "unikd_resample.h"' in text


def test_bmi270_driver_compiles_against_the_library_headers(tmp_path):
    """Syntax check against the real Arduino_BMI270_BMM150 1.2.3 headers when a copy is at hand
    ($UNIKD_BMI270_LIB, its src folder); the Arduino core is the host stand-in."""
    import os
    lib = os.environ.get("UNIKD_BMI270_LIB")
    if not lib or not (Path(lib) / "Arduino_BMI270_BMM150.h").is_file():
        pytest.skip("set UNIKD_BMI270_LIB to the library's src folder")
    _tools()
    for f in CORE_DIR.iterdir():
        if f.suffix == ".h":
            shutil.copy(f, tmp_path)
    (tmp_path / "unikd_model_meta.h").write_text("#define UNIKD_SAMPLE_RATE_HZ 50.0f\n")
    (tmp_path / "unikd_imu.h").write_text(render_template("unikd_imu.h.j2"))
    (tmp_path / "unikd_resample.h").write_text(render_template("unikd_resample.h.j2"))
    (tmp_path / "d.cpp").write_text(render_template("unikd_imu_bmi270.cpp.j2"))
    for define in ([], ["-DARDUINO_ARDUINO_NANO33BLE"]):
        p = subprocess.run(["g++", "-std=c++14", "-fsyntax-only", "-Wall", "-Werror", *define, f"-I{HOST}",
                            f"-I{tmp_path}", f"-I{lib}", str(tmp_path / "d.cpp")], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr[-3000:]


def test_rev2_profile_file_is_a_valid_profile(tmp_path):
    # the loader's own checks (name = file name, sensor registered, runtimes): a copy with the sensor removed fails
    board = load_board_file(Path(get_board("nano33ble_rev2").path))
    assert board.name == "nano33ble_rev2"
    data = yaml.safe_load(Path(board.path).read_text())
    data["sensor"] = "lsm6ds3"
    (tmp_path / "nano33ble_rev2.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(Exception, match="sensor 'lsm6ds3'"):
        load_board_file(tmp_path / "nano33ble_rev2.yaml")
