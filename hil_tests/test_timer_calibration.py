"""The unit the emulated board reports: one SysTick tick = 40 guest instructions under -icount shift=0.

The board's own start-up code, timer and UART (firmware/boards/qemu-m4) are linked with a calibration app (a test
double of unikd_app.h, hil_tests/calibration/calib_app.c) that times busy loops of exactly 2n instructions."""

from __future__ import annotations

import struct
import subprocess
import time
from pathlib import Path

import pytest

from unikd_mcu.hil.qemu import QemuBoard

ROOT = Path(__file__).resolve().parents[1]
BOARD = ROOT / "firmware" / "boards" / "qemu-m4"
ARCH = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]


@pytest.fixture(scope="module")
def calibration_elf(emulated, tmp_path_factory):
    if not emulated:
        pytest.skip("the calibration runs on the emulated board only")
    out = tmp_path_factory.mktemp("calib") / "calib.elf"
    sources = [BOARD / "startup.c", BOARD / "board.c", ROOT / "hil_tests" / "calibration" / "calib_app.c"]
    cmd = ["arm-none-eabi-gcc", *ARCH, "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
           "-DUNIKD_PORT_TIMER_UNIT=UNIKD_TIMER_QEMU_INSTRUCTIONS_DIV40", f"-I{ROOT / 'firmware' / 'core'}",
           "-nostartfiles", "--specs=nano.specs", "-T", str(BOARD / "mps2_an386.ld"), *map(str, sources), "-o",
           str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


def test_one_tick_is_40_instructions(calibration_elf):
    with QemuBoard(calibration_elf) as board:
        data, deadline = b"", time.monotonic() + 30
        while len(data) < 16 and time.monotonic() < deadline:
            data += board.serial.read(16 - len(data))
    assert len(data) == 16, "no calibration figures from the board"
    ticks = struct.unpack("<4I", data)
    instructions = [2_000_000, 4_000_000, 40_000_000, 700_000_000]  # the last spans a SysTick wrap
    print(f"\nticks for {instructions} instructions: {list(ticks)}")
    for t, n in zip(ticks, instructions):
        # the loop plus the timer calls around it (a few dozen instructions), to one tick of resolution
        assert 0 <= t * 40 - n <= 200, (t, n)
