"""The unit the emulated board reports: one SysTick tick = 40 guest instructions under -icount shift=0.

The board's own start-up code, timer and UART (firmware/boards/qemu-m4) and the core's receive path are linked,
by the board's Makefile like every image, with a calibration app (a test double of unikd_app.h,
hil_tests/calibration/calib_app.c) that times busy loops of exactly 2n instructions."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from unikd_mcu.hil.images import build_image, core_sources
from unikd_mcu.hil.qemu import QemuBoard

CALIBRATION_APP = Path(__file__).resolve().parent / "calibration" / "calib_app.c"


@pytest.fixture(scope="module")
def calibration_elf(emulated, tmp_path_factory):
    if not emulated:
        pytest.skip("the calibration runs on the emulated board only")
    # the app replaces unikd_app.c, so the rest of the core (which needs a model and a runtime) stays out
    return build_image("qemu-m4", tmp_path_factory.mktemp("calib"),
                       {"core": core_sources("unikd_rx.c"), "app": [CALIBRATION_APP]})


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
