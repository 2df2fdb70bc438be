"""The runtime and toolchain registries: every place that names runtimes or tools reads them from the registry
(board profiles, metadata.json, the CLI), unknown names are refused with the valid ones listed, a new entry is
accepted everywhere without other edits, and each toolchain compiles, sizes and flashes with the commands it
should (checked with stand-in executables on PATH, so no board toolchain is needed)."""

from __future__ import annotations

import dataclasses
import json
import types
from pathlib import Path

import pytest

from codegen.boards import get_board, load_board_file
from codegen.build import runtime_report_sections
from codegen.errors import DeployError, ToolMissingError
from codegen.runtimes import RUNTIMES, MemoryNeed, Runtime, RuntimeFiles, get_runtime, runtime_names
from codegen.toolchains import TOOLCHAINS, compile_projects, find_flash_tool, get_toolchain
from helpers import TINY_BOARD_YAML
from unikd.errors import UserError
from unikd_mcu.cli import main

ARDUINO_OUTPUT = ("Sketch uses 123456 bytes (9%) of program storage space. Maximum is 1310720 bytes.\n"
                  "Global variables use 23456 bytes (7%) of dynamic memory, leaving 304224 bytes.\n")
PIO_OUTPUT = ("RAM:   [=         ]   7.2% (used 23584 bytes from 327680 bytes)\n"
              "Flash: [==        ]  21.3% (used 279245 bytes from 1310720 bytes)\n")
SIZE_OUTPUT = ("   text\t   data\t    bss\t    dec\t    hex\tfilename\n"
               "  41234\t    120\t   9000\t  50354\t   c4b2\tbuild/fw.elf\n")


# ---------------------------------------------------------------- runtimes

def test_unknown_runtime_names_the_valid_ones():
    with pytest.raises(UserError, match="unknown runtime 'tvm'; valid runtimes: aot, tflm"):
        get_runtime("tvm")


def test_every_consumer_reads_the_runtime_names_from_the_registry():
    from codegen.cli import RUNTIME_CHOICE

    assert runtime_names() == ["aot", "tflm"]
    assert list(RUNTIME_CHOICE.choices) == runtime_names()


@pytest.fixture
def golden_meta():
    from codegen.metadata import metadata_for
    from codegen.tflite_info import read_tflite
    from helpers import GOLDEN_FACTS, GOLDEN_MODEL, GOLDEN_RUN

    model = GOLDEN_MODEL.read_bytes()
    return metadata_for(model, read_tflite(model), GOLDEN_RUN, GOLDEN_FACTS, "aot")


def test_metadata_refuses_an_unregistered_runtime(golden_meta):
    with pytest.raises(DeployError, match="unknown runtime 'tvm'; valid runtimes: aot, tflm"):
        dataclasses.replace(golden_meta, runtime="tvm")


def test_profile_refuses_an_unregistered_runtime(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_BOARD_YAML.replace("runtimes: [aot]", "runtimes: [aot, tvm]"))
    with pytest.raises(DeployError, match="each of aot, tflm"):
        load_board_file(path)


def test_profile_with_tflm_needs_its_library_section(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_BOARD_YAML.replace("runtimes: [aot]", "runtimes: [aot, tflm]"))
    with pytest.raises(DeployError, match="lists runtime 'tflm' but has no 'tflm' library section"):
        load_board_file(path)


class _FakeRuntime(Runtime):
    name = "fake"

    def profile_problem(self, profile):
        return None if profile.get("toolchain") == "none" else "the fake runtime needs toolchain none"


def test_a_registered_runtime_is_accepted_everywhere_with_no_other_edit(tmp_path, monkeypatch, golden_meta):
    monkeypatch.setitem(RUNTIMES._items, "fake", _FakeRuntime())
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_BOARD_YAML.replace("runtime: aot\nruntimes: [aot]", "runtime: fake\nruntimes: [aot, fake]"))
    board = load_board_file(path)
    assert board.runtimes == ("aot", "fake") and board.runtime == "fake"
    assert dataclasses.replace(golden_meta, runtime="fake").runtime == "fake"
    # and the entry's own check of the profile is applied
    path.write_text(path.read_text().replace("toolchain: none", "toolchain: gcc"))
    with pytest.raises(DeployError, match=f"board profile {path}: the fake runtime needs toolchain none"):
        load_board_file(path)


def test_memory_needs():
    model = bytes(5000)
    aot = get_runtime("aot")
    files = RuntimeFiles("aot", {}, {"weight_bytes": 3000, "param_bytes": 200, "ram_bytes": 640})
    assert aot.memory_need(model, files, None) == MemoryNeed(
        3200, "the aot model (weights + layer parameters)", 640, "the aot runtime's static activation plan")
    # a generator that reports no weights: the model's size stands in
    assert aot.memory_need(model, RuntimeFiles("aot", {}, {}), None).flash_bytes == 5000
    arena = types.SimpleNamespace(recommended_bytes=10_224)
    assert get_runtime("tflm").memory_need(model, RuntimeFiles("tflm", {}), arena) == MemoryNeed(
        5000, "the .tflite model", 10_224, "the TFLM tensor arena")


def test_report_sections_keep_the_same_keys_whichever_runtime():
    report = {"ram_bytes": 640, "naive_ram_bytes": 900, "weight_bytes": 3000, "param_bytes": 200, "macs": 12,
              "op_counts": {"CONV_2D": 1}, "files": ["x.c"], "buffers": []}
    aot = runtime_report_sections(get_runtime("aot"), RuntimeFiles("aot", {}, report))
    assert aot == {"aot": {k: report[k] for k in ("ram_bytes", "naive_ram_bytes", "weight_bytes", "param_bytes",
                                                  "macs", "op_counts")}}
    assert runtime_report_sections(get_runtime("tflm"), RuntimeFiles("tflm", {}, {"arena_bytes": 1})) == {"aot": None}
    line = get_runtime("aot").report_markdown(aot["aot"])
    assert get_runtime("tflm").report_markdown({"arena_bytes": 1}) == []
    assert line == ["aot runtime: static activation plan 640 B (naive sum 900 B), weights 3,000 B, layer parameters "
                    "200 B, 12 MACs per window."]


# ---------------------------------------------------------------- toolchains

def test_unknown_toolchain_names_the_valid_ones():
    with pytest.raises(UserError, match="unknown toolchain 'cmake'; valid toolchains: arduino-cli, esptool, make, "
                                        "pio, qemu-system-arm"):
        get_toolchain("cmake")


def test_profile_refuses_an_unregistered_flash_tool(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_BOARD_YAML.replace("flash_tools: [pio]", "flash_tools: [pio, openocd]"))
    with pytest.raises(DeployError, match="unknown flash tool\\(s\\) openocd; valid toolchains: arduino-cli, "
                                          "esptool, make, pio, qemu-system-arm"):
        load_board_file(path)


def test_every_shipped_flash_tool_is_registered():
    from codegen.boards import all_boards

    for b in all_boards():
        assert set(b.flash_tools) <= set(TOOLCHAINS.names()), b.name


@pytest.mark.parametrize("tool, output, sizes", [
    ("arduino-cli", ARDUINO_OUTPUT, {"flash_bytes": 123456, "static_ram_bytes": 23456}),
    ("pio", PIO_OUTPUT, {"flash_bytes": 279245, "static_ram_bytes": 23584}),
    ("make", SIZE_OUTPUT, {"text_bytes": 41234, "data_bytes": 120, "bss_bytes": 9000, "flash_bytes": 41354,
                           "static_ram_bytes": 9120}),
])
def test_size_figures_are_read_from_the_tools_output(tool, output, sizes):
    assert get_toolchain(tool).sizes("noise before\n" + output + "noise after\n") == sizes


@pytest.fixture
def fake_tool(tmp_path, monkeypatch):
    """Empties PATH but for a folder of our own; `fake_tool(name, output, code)` puts a stand-in executable there
    that appends its arguments to a log (whose path it returns), prints `output` and exits with `code`."""
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", str(d))

    def fake(name: str, output: str = "", code: int = 0) -> Path:
        (d / f"{name}.out").write_text(output)
        exe = d / name
        exe.write_text(f'#!/bin/sh\necho "$@" >> "{d / name}.log"\n/bin/cat "{d / name}.out"\nexit {code}\n')
        exe.chmod(0o755)
        return d / f"{name}.log"

    return fake


def test_missing_toolchains_are_recorded_not_fatal(fake_tool, tmp_path):
    lines = []
    esp = compile_projects(get_board("esp32"), tmp_path, lines.append)
    assert [(c["tool"], c["project"], c["status"]) for c in esp] == [
        ("arduino-cli", "arduino/unikd_esp32", "not installed"), ("pio", "platformio", "not installed")]
    assert esp[0]["note"] == "arduino-cli is not on PATH: the Arduino sketch was not compiled"
    assert esp[1]["note"] == "pio (PlatformIO) is not on PATH: the PlatformIO project was not compiled"
    (qemu,) = compile_projects(get_board("qemu-m4"), tmp_path, lines.append)
    assert qemu["tool"] == "make + arm-none-eabi-gcc" and qemu["project"] == "make"
    assert qemu["note"] == "make and arm-none-eabi-gcc are not on PATH: the qemu-m4 firmware was not compiled"
    assert lines == []


def test_installed_toolchains_compile_with_their_commands(fake_tool, tmp_path):
    arduino_log = fake_tool("arduino-cli", ARDUINO_OUTPUT)
    pio_log = fake_tool("platformio", PIO_OUTPUT, code=1)  # pio's other name, and a failing compile
    lines = []
    ard, pio = compile_projects(get_board("esp32"), tmp_path, lines.append)
    assert arduino_log.read_text().split() == [
        "compile", "--fqbn", "esp32:esp32:esp32", "--build-property", "compiler.c.extra_flags=-ffp-contract=off",
        "--build-property", "compiler.cpp.extra_flags=-ffp-contract=off", str(tmp_path / "arduino" / "unikd_esp32")]
    assert ard["status"] == "ok" and ard["flash_bytes"] == 123456 and ard["static_ram_bytes"] == 23456
    assert pio_log.read_text().split() == ["run", "-d", str(tmp_path / "platformio")]
    assert pio["status"] == "failed" and pio["flash_bytes"] == 279245  # recorded, the build goes on
    assert lines == ["compiling the Arduino sketch with arduino-cli", "compiling the PlatformIO project with pio"]


def test_the_emulated_board_must_compile(fake_tool, tmp_path):
    fake_tool("arm-none-eabi-gcc")
    fake_tool("make", "fw.c:1: error: boom\n", code=2)
    with pytest.raises(DeployError, match="the qemu-m4 firmware did not compile:\nfw.c:1: error: boom"):
        compile_projects(get_board("qemu-m4"), tmp_path, lambda s: None)


def test_flash_without_any_tool_says_how_to_install_each(fake_tool):
    with pytest.raises(ToolMissingError) as e:
        find_flash_tool(get_board("esp32"))
    msg = str(e.value)
    assert msg.startswith("board esp32 is flashed with arduino-cli or pio or esptool, and none is installed")
    assert "`arduino-cli core install esp32:esp32`" in msg and "`pip install platformio`" in msg
    assert "`pip install esptool`" in msg


def _build_dir(tmp_path) -> Path:
    d = tmp_path / "build"
    d.mkdir()
    (d / "metadata.json").write_text(json.dumps({}))
    return d


@pytest.mark.parametrize("tool, expected", [
    ("arduino-cli", lambda d: [
        f"compile --fqbn esp32:esp32:esp32 --build-property compiler.c.extra_flags=-ffp-contract=off "
        f"--build-property compiler.cpp.extra_flags=-ffp-contract=off {d}/arduino/unikd_esp32",
        f"upload --fqbn esp32:esp32:esp32 -p /dev/ttyFAKE {d}/arduino/unikd_esp32"]),
    ("pio", lambda d: [f"run -d {d}/platformio -t upload --upload-port /dev/ttyFAKE"]),
    ("esptool", lambda d: [f"--chip esp32 --port /dev/ttyFAKE write_flash 0x0 {d}/arduino/x/x.ino.merged.bin"]),
])
def test_flash_runs_the_first_installed_tools_upload(fake_tool, tmp_path, tool, expected):
    d = _build_dir(tmp_path)
    image = d / "arduino" / "x" / "x.ino.merged.bin"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\0")
    log = fake_tool(tool)
    assert main(["flash", "--board", "esp32", "--port", "/dev/ttyFAKE", "--build", str(d)]) == 0
    assert log.read_text().splitlines() == expected(d)


def test_flash_needs_a_port_only_for_a_real_board(fake_tool, tmp_path, capsys):
    d = _build_dir(tmp_path)
    fake_tool("pio")
    assert main(["flash", "--board", "esp32", "--build", str(d)]) == 2
    assert "--port is needed to flash esp32" in capsys.readouterr().err
    fake_tool("qemu-system-arm")
    make_log = fake_tool("make")
    assert main(["flash", "--board", "qemu-m4", "--build", str(d)]) == 0  # "flashing" builds the image QEMU boots
    assert make_log.read_text().split() == ["-C", str(d / "make")]

