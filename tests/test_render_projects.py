"""Rendering: every board renders with every runtime it supports into complete projects (nothing left of the
templates, the core copied verbatim, the right model and runtime files), the emulated board's project compiles, and
the refusals (runtime, op, channel, missing aot generator) say what is wrong."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from codegen.boards import all_boards, get_board
from codegen.errors import DeployError, UnsupportedOpError
from codegen.render import CORE_DIR, render_project, sketch_name
from codegen.runtimes import aot_runtime, tflm_runtime
from codegen.templating import render_template
from codegen.tflite_info import read_tflite
from helpers import require_tools

CASES = [(b.name, r) for b in all_boards() if b.name in ("esp32", "esp32s3", "nano33ble", "qemu-m4")
         for r in b.runtimes]
ARENA = 10_224

# Just enough of the Arduino API for the compiler to check the generated glue and drivers (host g++, -c only).
# The host port of the Arduino API (signatures of ArduinoCore-API and arduino-esp32) that the simulated-IMU tests
# run the sketch on: compiling every board's sources against it checks they call nothing the cores lack.
ARDUINO_SHIM = Path(__file__).parent / "firmware" / "arduino_sim"


@pytest.fixture(scope="module")
def model(student_tflite):
    return student_tflite


@pytest.fixture(scope="module")
def runtimes(model):
    """aot's sources, and tflm's for each board that has a TFLM library (their APIs differ)."""
    ops = read_tflite(model).op_kinds
    return {"aot": aot_runtime(model),
            "tflm": {b.name: tflm_runtime(ops, ARENA, "test arena", b.tflm) for b in all_boards() if b.tflm}}


def _runtime(runtimes, board, runtime):
    if runtime != "tflm":
        return runtimes[runtime]
    # a board without a TFLM library gets another board's tflm sources: rendering must refuse them
    return runtimes["tflm"].get(board, runtimes["tflm"]["esp32"])


def _render(tmp_path, student_metadata, model, runtimes, board, runtime, sensor=None):
    meta = student_metadata(runtime=runtime)
    files = _runtime(runtimes, board, runtime)
    summary = render_project(get_board(board), model, meta, files, tmp_path, sensor=sensor)
    return meta, summary


@pytest.mark.parametrize("board, runtime", CASES)
def test_every_board_renders_completely(tmp_path, student_metadata, model, runtimes, board, runtime):
    b = get_board(board)
    meta, summary = _render(tmp_path, student_metadata, model, runtimes, board, runtime)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(str(p.relative_to(tmp_path)) for p in files) == sorted(summary["files"])
    for p in files:
        text = p.read_text(errors="replace")
        assert "{{" not in text and "{%" not in text and "{#" not in text, p

    projects = []
    if b.arduino:
        sk = tmp_path / "arduino" / sketch_name(b)
        assert (sk / f"{sketch_name(b)}.ino").is_file()
        projects.append(sk)
        if runtime == "tflm":
            assert (sk / "unikd_runtime_tflm.cpp").is_file()  # the Arduino builder ignores .cc
    if b.platformio:
        ini = (tmp_path / "platformio" / "platformio.ini").read_text()
        pio = b.platformio
        assert f"[env:{pio['env']}]" in ini and f"platform = {pio['platform']}" in ini
        assert f"board = {pio['board']}" in ini and "-ffp-contract=off" in ini
        assert ("TensorFlowLite" in ini) == (runtime == "tflm")
        projects.append(tmp_path / "platformio" / "src")
    if b.is_emulated:
        projects += [tmp_path / "make" / d for d in ("core", "model", "runtime")]
    assert projects
    core = {p.name: p.read_bytes() for p in CORE_DIR.iterdir() if p.suffix in (".c", ".h")}
    for folder in projects:
        names = {p.name for p in folder.parent.rglob("*") if p.is_file()} if b.is_emulated else \
            {p.name for p in folder.iterdir()}
        assert {"unikd_model_data.h", "unikd_model_data.c", "unikd_model_meta.h"} <= names
        assert set(_runtime(runtimes, board, runtime).files) - {"unikd_runtime_tflm.cc"} <= names
    for folder in projects[:1] if not b.is_emulated else [tmp_path / "make" / "core"]:
        for name, data in core.items():
            assert (folder / name).read_bytes() == data  # verbatim
    meta_h = next(tmp_path.rglob("unikd_model_meta.h")).read_text()
    assert f'#define UNIKD_RUNTIME_NAME "{runtime}"' in meta_h and meta.model_sha256 in meta_h
    readme = (tmp_path / "README.md").read_text()
    assert b.description in readme and meta.model_sha256 in readme


@pytest.mark.parametrize("board", ["esp32", "nano33ble"])
def test_tflm_runtime_registers_exactly_the_model_ops(runtimes, board):
    src = runtimes["tflm"][board].files["unikd_runtime_tflm.cc"].decode()
    assert "MicroMutableOpResolver<5>" in src
    assert re.findall(r"resolver->(Add\w+)\(\)", src) == ["AddConv2D", "AddPad", "AddMaxPool2D", "AddMean",
                                                          "AddFullyConnected"]
    assert f"kArenaBytes = {ARENA};" in src


def test_tflm_refuses_ops_it_cannot_register():
    with pytest.raises(UnsupportedOpError, match="cannot register op\\(s\\) GELU, CUMSUM"):
        tflm_runtime(["CONV_2D", "GELU", "CUMSUM"], ARENA, "x", get_board("nano33ble").tflm)


@pytest.mark.parametrize("board", ["esp32", "esp32s3"])
def test_esp32_tflm_runtime_passes_the_error_reporter_its_library_requires(runtimes, board):
    """TensorFlowLite_ESP32 1.0.0's MicroInterpreter(model, resolver, arena, size, ErrorReporter*, ...) has no
    4-argument form (src/tensorflow/lite/micro/micro_interpreter.h:50-54 of its tag 1.0.0)."""
    src = runtimes["tflm"][board].files["unikd_runtime_tflm.cc"].decode()
    assert '#include "tensorflow/lite/micro/micro_error_reporter.h"' in src
    assert "tflite::ErrorReporter *reporter = tflite::GetMicroErrorReporter();" in src
    assert "Resolver(reporter)" in src
    assert "tflite::MicroInterpreter(model, *resolver, g_arena, kArenaBytes, reporter);" in src
    assert "TensorFlowLite_ESP32@1.0.0" in src


def test_nano33ble_tflm_runtime_matches_tflite_micro_arduino_examples(runtimes):
    """tflite-micro-arduino-examples at 7948b85: MicroInterpreter(model, resolver, arena, size, resource_variables =
    nullptr, profiler = nullptr) and MicroMutableOpResolver() (an ErrorReporter* would not convert to either), and
    no tensorflow/lite/micro/micro_error_reporter.h (it moved to tflite_bridge/)."""
    src = runtimes["tflm"]["nano33ble"].files["unikd_runtime_tflm.cc"].decode()
    assert "tflite::MicroInterpreter(model, *resolver, g_arena, kArenaBytes);" in src
    assert "new (g_resolver_storage) Resolver();" in src
    assert "ErrorReporter" not in src and "micro_error_reporter.h" not in src
    assert "Arduino_TensorFlowLite@7948b85e020470a30a83bf00e10fc43b486bfcba" in src


def test_tflm_refuses_an_op_the_boards_library_lacks():
    """TensorFlowLite_ESP32 1.0.0's resolver has no AddSum; tflite-micro-arduino-examples' has (line 531)."""
    ops = ["CONV_2D", "SUM", "FULLY_CONNECTED"]
    with pytest.raises(UnsupportedOpError, match=r"cannot register op\(s\) SUM with TensorFlowLite_ESP32@1\.0\.0: "
                                                 r"its MicroMutableOpResolver has no AddSum"):
        tflm_runtime(ops, ARENA, "x", get_board("esp32").tflm)
    src = tflm_runtime(ops, ARENA, "x", get_board("nano33ble").tflm).files["unikd_runtime_tflm.cc"].decode()
    assert "resolver->AddSum()" in src


NANO_TFLM = "https://github.com/tensorflow/tflite-micro-arduino-examples.git#7948b85e020470a30a83bf00e10fc43b486bfcba"


@pytest.mark.parametrize("board, pio_dep, install", [
    ("esp32", "tanakamasayuki/TensorFlowLite_ESP32@1.0.0", 'arduino-cli lib install "TensorFlowLite_ESP32@1.0.0"'),
    ("esp32s3", "tanakamasayuki/TensorFlowLite_ESP32@1.0.0", 'arduino-cli lib install "TensorFlowLite_ESP32@1.0.0"'),
    ("nano33ble", f"Arduino_TensorFlowLite={NANO_TFLM}", f"arduino-cli lib install --git-url {NANO_TFLM}"),
])
def test_tflm_library_version_is_pinned(tmp_path, student_metadata, model, runtimes, board, pio_dep, install):
    """The generated project installs exactly the library version the runtime was written for."""
    _render(tmp_path, student_metadata, model, runtimes, board, "tflm")
    deps = (tmp_path / "platformio" / "platformio.ini").read_text().split("lib_deps =")[1].split()
    assert pio_dep in deps
    readme = (tmp_path / "README.md").read_text()
    assert any(line.strip() == install for line in readme.splitlines()), readme
    if "--git-url" in install:  # arduino-cli takes a git URL only with unsafe installs enabled
        assert "arduino-cli config set library.enable_unsafe_install true" in readme


def test_emulated_board_refuses_tflm(tmp_path, student_metadata, model, runtimes):
    with pytest.raises(DeployError, match="board qemu-m4 supports runtime\\(s\\) aot, not 'tflm'"):
        _render(tmp_path, student_metadata, model, runtimes, "qemu-m4", "tflm")


def test_imu_sketch_maps_ucihar_channels(tmp_path, student_metadata, model, runtimes):
    _render(tmp_path, student_metadata, model, runtimes, "esp32", "aot")
    ino = (tmp_path / "arduino" / "unikd_esp32" / "unikd_esp32.ino").read_text()
    # body_acc xyz <- 3,4,5; body_gyro xyz <- gyro 6,7,8; total_acc xyz <- 0,1,2
    assert "kChannelSource[UNIKD_CHANNELS] = { 3, 4, 5, 6, 7, 8, 0, 1, 2 };" in ino
    assert "unikd_rx_byte" in ino  # through the core's receive path
    # the sensor path: the driver fills the core's sample ring, the core's poll windows it (with the channel map)
    assert "unikd_app_sensor_begin(g_sensor_state, kChannelSource, 0.3f);" in ino
    assert "unikd_imu_poll();" in ino and "unikd_app_poll();" in ino
    drv = (tmp_path / "arduino" / "unikd_esp32" / "unikd_imu_mpu6050.cpp").read_text()
    assert "Wire.begin(21, 22);" in drv and "kAddress = 0x68" in drv


def test_serial_sensor_has_no_imu_code(tmp_path, student_metadata, model, runtimes):
    _, summary = _render(tmp_path, student_metadata, model, runtimes, "esp32", "aot", sensor="serial")
    assert summary["sensor"] == "serial"
    sk = tmp_path / "arduino" / "unikd_esp32"
    assert not list(sk.glob("unikd_imu*"))
    assert "unikd_app_push_sample" not in (sk / "unikd_esp32.ino").read_text()


def test_imu_refuses_channels_it_cannot_produce(tmp_path, student_metadata, model, runtimes):
    meta = student_metadata(runtime="aot",
                            channel_names=["body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y",
                                           "body_gyro_z", "total_acc_x", "total_acc_y", "heart_rate"])
    with pytest.raises(DeployError, match="cannot produce channel\\(s\\) heart_rate.*--sensor serial"):
        render_project(get_board("esp32"), model, meta, runtimes["aot"], tmp_path)


def test_templates_are_strict():
    with pytest.raises(jinja2.UndefinedError, match="board"):
        render_template("platformio.ini.j2", runtime="aot", pio={}, lib_deps=[])


def test_missing_aot_generator_is_refused_clearly(monkeypatch, model):
    monkeypatch.setitem(sys.modules, "codegen.aot", None)  # the generator package absent from the install
    with pytest.raises(DeployError, match="the aot runtime is not available.*--runtime tflm"):
        aot_runtime(model)


@pytest.mark.parametrize("board, sensor", [("esp32", "mpu6050"), ("nano33ble", "serial")])
def test_arduino_sketch_sources_compile(tmp_path, student_metadata, model, runtimes, board, sensor):
    require_tools("g++", "gcc")
    out = tmp_path / "out"
    out.mkdir()
    _render(out, student_metadata, model, runtimes, board, "aot", sensor=sensor)
    shim = ARDUINO_SHIM
    sk = out / "arduino" / f"unikd_{board}"
    objs = []
    for src in sorted(sk.iterdir()):
        if src.suffix not in (".c", ".cpp", ".ino"):
            continue
        obj = tmp_path / (src.name + ".o")
        cc = ["gcc", "-std=c99"] if src.suffix == ".c" else ["g++", "-std=c++17", "-x", "c++"]
        subprocess.run([*cc, "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-I", str(shim), "-I", str(sk),
                        "-c", str(src), "-o", str(obj)], check=True)
        objs.append(obj)
    assert len(objs) >= 6


def test_emulated_board_project_builds(tmp_path, student_metadata, model, runtimes):
    require_tools("make", "arm-none-eabi-gcc")
    _render(tmp_path, student_metadata, model, runtimes, "qemu-m4", "aot")
    p = subprocess.run(["make", "-C", str(tmp_path / "make")], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert (tmp_path / "make" / "build" / "fw.elf").is_file()


@pytest.mark.parametrize("board, sensor", [("nano33ble", "lsm9ds1"), ("esp32", "mpu6050"), ("nano33ble", "serial"),
                                           ("nano33ble_rev2", "bmi270")])
def test_each_imu_brings_its_driver_and_library(tmp_path, student_metadata, model, runtimes, board, sensor):
    """codegen.sensors.IMU_SENSORS: the BMI270 needs Arduino_BMI270_BMM150, pinned (PlatformIO lib_deps and the
    README's install line); the LSM9DS1 and MPU-6050 drivers need only Wire; serial sampling has no driver."""
    _render(tmp_path, student_metadata, model, runtimes, board, "aot", sensor=sensor)
    ini = (tmp_path / "platformio" / "platformio.ini").read_text()
    readme = (tmp_path / "README.md").read_text()
    drivers = sorted(p.name for p in (tmp_path / "platformio" / "src").glob("unikd_imu_*"))
    assert drivers == ([] if sensor == "serial" else [f"unikd_imu_{sensor}.cpp"])
    assert ("arduino-libraries/Arduino_BMI270_BMM150@1.2.3" in ini) == (sensor == "bmi270")
    assert ('arduino-cli lib install "Arduino_BMI270_BMM150@1.2.3"' in readme) == (sensor == "bmi270")
    assert "Arduino_LSM9DS1" not in ini + readme
