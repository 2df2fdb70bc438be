"""The firmware's memory is measured, not restated: the portable core, the model files and the runtime are compiled
for a Cortex-M4 and linked with --gc-sections (codegen.footprint), so every buffer the firmware allocates is counted
(the frame parser, the reply buffer, the window ring, input and output next to the model's plan), a buffer a new
source file adds is counted without other edits, what the linker drops is not, and the tflm runtime's arena, which
cannot be compiled here, is added with its known size. Uses the committed golden model: no TensorFlow, no data."""

from __future__ import annotations

import re
import types

import pytest

from codegen import footprint
from codegen.boards import get_board
from codegen.build import check_budget, firmware_memory, footprint_markdown
from codegen.carrays import model_c_files
from codegen.errors import BudgetError
from codegen.metadata import metadata_for
from codegen.render import CORE_DIR, core_files
from codegen.runtimes import aot_runtime, get_runtime, tflm_runtime
from codegen.tflite_info import read_tflite
from helpers import GOLDEN_FACTS, GOLDEN_MODEL, GOLDEN_RUN

MAX_PAYLOAD = int(re.search(r"#define UNIKD_PROTO_MAX_PAYLOAD (\d+)", (CORE_DIR / "unikd_protocol.h").read_text())[1])
TX_MAX = int(re.search(r"#define TX_MAX (\d+)", (CORE_DIR / "unikd_app.c").read_text())[1])
ARENA = types.SimpleNamespace(recommended_bytes=3_072)


@pytest.fixture(scope="module")
def golden():
    model = GOLDEN_MODEL.read_bytes()
    info = read_tflite(model)
    return model, info


def _sources(model, info, runtime_files, runtime="aot"):
    meta = metadata_for(model, info, GOLDEN_RUN, GOLDEN_FACTS, runtime)
    return core_files() | {k: v.encode() for k, v in model_c_files(model, meta).items()} | runtime_files


@pytest.fixture(scope="module")
def aot_files(golden):
    return aot_runtime(golden[0])


@pytest.fixture
def arm_gcc(require_tools):
    require_tools("arm-none-eabi-gcc", "arm-none-eabi-nm", "arm-none-eabi-readelf")


def test_every_firmware_buffer_is_counted(golden, aot_files, arm_gcc):
    model, info = golden
    m = footprint.measure(_sources(model, info, aot_files.files))
    ram = {p.name: p for p in m.ram_parts}
    plan = aot_files.report["ram_bytes"]
    assert ram["unikd_aot_arena_words"].bytes == plan and ram["unikd_aot_arena_words"].file == "unikd_aot_model.c"
    # the core's own buffers, by the names unikd_app.c gives them, at least as large as their definitions say
    assert ram["parser"].bytes >= MAX_PAYLOAD and ram["parser"].file == "unikd_app.c"
    assert ram["tx"].bytes == TX_MAX
    window, channels = GOLDEN_FACTS.window, GOLDEN_FACTS.channels
    assert ram["window"].bytes >= window * channels and ram["input"].bytes == window * channels
    assert m.ram_bytes >= plan + MAX_PAYLOAD + TX_MAX + 2 * window * channels
    assert m.ram_bytes >= sum(p.bytes for p in m.ram_parts)
    # the weights are flash, the .tflite array is dropped (nothing in the aot firmware reads it)
    flash = {p.name for p in m.flash_parts}
    assert "unikd_aot_conv2d" in flash and "unikd_model_tflite" not in flash
    assert m.flash_bytes > aot_files.report["weight_bytes"]
    assert {"unikd_port_write", "unikd_port_timer"} <= set(m.provided_elsewhere)  # the board glue's
    assert "unikd_app.c" in m.compiled and m.by_file["unikd_app.c"]["ram"] >= MAX_PAYLOAD + TX_MAX


def test_a_new_buffer_in_a_new_source_is_counted_without_other_edits(golden, aot_files, arm_gcc):
    model, info = golden
    sources = _sources(model, info, aot_files.files)
    before = footprint.measure(sources)
    # a global array no function reads is dead: the linker drops it, so it is not counted
    ring = (b"#include <stdint.h>\nstatic float sample_ring[333];\n"
            b"void unikd_ring_put(int i, float x) { sample_ring[i] = x; }\n"
            b"float unikd_ring_get(int i) { return sample_ring[i]; }\nint8_t dropped_buffer[999];\n")
    after = footprint.measure(sources | {"unikd_ring.c": ring})
    assert after.ram_bytes - before.ram_bytes >= 333 * 4
    assert [(p.name, p.bytes, p.file) for p in after.ram_parts if p.file == "unikd_ring.c"] == [
        ("sample_ring", 1332, "unikd_ring.c")]


def test_tflm_adds_its_arena_and_keeps_the_model_array(golden, arm_gcc):
    model, info = golden
    files = tflm_runtime(info.op_kinds, ARENA.recommended_bytes, "test", get_board("esp32").tflm)
    memory = firmware_memory(get_runtime("tflm"), model, files, ARENA, _sources(model, info, files.files, "tflm"),
                             print)
    assert memory["measured"] and "unikd_runtime_tflm.cc" not in memory["compiled"]
    largest = {p["name"]: p for p in memory["ram"]["largest"]}
    assert largest["g_arena (TFLM tensor arena)"] == {"name": "g_arena (TFLM tensor arena)", "bytes": 3_072,
                                                      "file": "unikd_runtime_tflm.cc"}
    assert memory["ram"]["bytes"] >= 3_072 + MAX_PAYLOAD + TX_MAX
    assert any(p["name"] == "unikd_model_tflite" and p["bytes"] == len(model) for p in memory["flash"]["largest"])
    assert any("TensorFlowLite_ESP32@1.0.0" in n and "not available here" in n for n in memory["not_counted"])


def test_without_the_cross_compiler_the_report_says_so(golden, aot_files, monkeypatch):
    model, info = golden
    monkeypatch.setattr(footprint, "TOOL_PREFIX", "no-such-prefix-")
    lines = []
    memory = firmware_memory(get_runtime("aot"), model, aot_files, None, _sources(model, info, aot_files.files),
                             lines.append)
    assert not memory["measured"] and memory["not_measured"].startswith("no-such-prefix-gcc is not on PATH")
    assert "frame parser" in memory["not_counted"][0]
    assert memory["ram"]["bytes"] == aot_files.report["ram_bytes"]  # the plan only, as stated
    assert lines and "not measured" in lines[0]
    assert footprint_markdown(memory)[0].startswith("Firmware memory not measured: no-such-prefix-gcc is not on PATH")


def test_sources_that_do_not_compile_are_reported_not_measured(arm_gcc):
    with pytest.raises(footprint.NotMeasured, match="arm-none-eabi-gcc failed: .*error"):
        footprint.measure({"broken.c": b"int f(void) { return missing; }\n"})


def test_over_budget_names_the_biggest_consumers(golden, aot_files, arm_gcc):
    model, info = golden
    memory = firmware_memory(get_runtime("aot"), model, aot_files, None, _sources(model, info, aot_files.files),
                             print)
    plan = aot_files.report["ram_bytes"]
    # room for the model's plan and more, not for the firmware's own buffers
    board = types.SimpleNamespace(name="small", flash_budget_bytes=1_000_000, ram_budget_bytes=plan + 1_000)
    with pytest.raises(BudgetError) as e:
        check_budget(board, memory)
    msg = str(e.value)
    assert re.search(rf"needs {memory['ram']['bytes']:,} bytes of ram but board small's budget is {plan + 1000:,} "
                     rf"bytes \(over by [\d,]+ bytes\); largest: ", msg), msg
    assert re.search(r"parser [\d,]+ B \(unikd_app\.c\)", msg) and "unikd_aot_arena_words" in msg
