"""Hardware in the loop: drive a board (real, or the emulated qemu-m4 in QEMU) through the serial protocol.

    pytest hil_tests                                   # emulated board; trains a small default run if needed
    pytest hil_tests --run runs/ucihar_2to11_unikd_s0  # emulated board, firmware built from that run
    pytest hil_tests --port /dev/ttyUSB0 --board esp32 --build build/ucihar_2to11_unikd_s0-esp32

Without --port the firmware is built for qemu-m4 (the real aot runtime generated from a trained student) and
booted in QEMU; each test gets a freshly booted board. Where QEMU or the ARM toolchain is missing the tests skip,
naming the Debian packages, except when CI=true, where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from unikd_mcu.hil.client import HilClient
from unikd_mcu.hil.images import build_firmware
from unikd_mcu.hil.qemu import DEBIAN_PACKAGES, missing_tools
from unikd_mcu.hil.session import connect, open_board

SMALL_EPOCHS = 20  # the self-trained default run: a converged student (~35 s), so device-vs-host F1 is telling


def pytest_addoption(parser):
    g = parser.getgroup("hil", "hardware in the loop")
    g.addoption("--port", help="serial port of a real board (default: boot the emulated qemu-m4 in QEMU)")
    g.addoption("--baud", type=int, help="baud rate of --port (default: the board profile's)")
    g.addoption("--board", default="qemu-m4", help="board profile the firmware was built for")
    g.addoption("--run", dest="hil_run", help="run directory (default: train a small default run once)")
    g.addoption("--build", dest="hil_build", help="output of `unikd-mcu build` (default: build it for the board)")
    g.addoption("--stream-windows", type=int, default=48, help="windows of the target recording to stream")
    g.addoption("--hil-timeout", type=float, default=3.0, help="seconds to wait for a reply")
    g.addoption("--reset-by-rts", action="store_true",
                help="the real board resets when RTS is pulsed (ESP32 dev boards): run the reset test on it")


def _unavailable(message: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: not skipping)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def hil_options(request):
    o = request.config.option
    return {"port": o.port, "baud": o.baud, "board": o.board, "run": o.hil_run, "build": o.hil_build,
            "stream_windows": o.stream_windows, "timeout": o.hil_timeout, "reset_by_rts": o.reset_by_rts}


@pytest.fixture(scope="session")
def emulated(hil_options) -> bool:
    if hil_options["port"] is None:
        if hil_options["board"] != "qemu-m4":
            pytest.fail(f"board {hil_options['board']} is a real board: give --port")
        missing = missing_tools()
        if missing:
            packages = DEBIAN_PACKAGES + (" make" if "make" in missing else "")
            _unavailable(f"emulated board needs {', '.join(missing)}: apt-get install {packages}")
        return True
    return False


def _default_run(cache: Path) -> Path:
    """A real student on the default scenario (UCI-HAR 2->11, UNI-KD), trained for a few epochs, reused later."""
    from unikd.config import TrainConfig
    from unikd.data.base import DataError
    from unikd.rundir import RunError, load_run
    from unikd.train import train_run

    cfg = TrainConfig(epochs=SMALL_EPOCHS, min_steps=0, teacher_epochs=SMALL_EPOCHS, progress=False,
                      out=str(cache / "runs" / f"ucihar_2to11_unikd_s0_e{SMALL_EPOCHS}"),
                      teacher_cache=str(cache / "teachers"))
    try:
        load_run(cfg.out)
        return Path(cfg.out)
    except RunError:
        pass
    try:
        return Path(train_run(cfg))
    except DataError as e:
        _unavailable(f"no data for the default run: {e}")


def _stale(build_dir: Path) -> list[str]:
    """Files of a cached emulated-board project that differ from what a build would write now (firmware core,
    board glue, generated runtime), so that a change to any of them is tested rather than an old copy."""
    import tempfile

    from codegen.aot import generate
    from unikd_mcu.hil.images import board_sources, core_sources

    project = build_dir / "make"
    expected = {f"core/{p.name}": p for p in core_sources()} | board_sources("qemu-m4")
    stale = [name for name, src in expected.items()
             if not (project / name).is_file() or (project / name).read_bytes() != src.read_bytes()]
    with tempfile.TemporaryDirectory() as tmp:
        generate((build_dir / "model.tflite").read_bytes(), Path(tmp))
        for f in Path(tmp).rglob("*"):
            if f.is_file() and (not (project / "runtime" / f.name).is_file()
                                or (project / "runtime" / f.name).read_bytes() != f.read_bytes()):
                stale.append(f"runtime/{f.name}")
    return stale


@pytest.fixture(scope="session")
def deployed(hil_options, emulated, request):
    """The model under test as the host scores it (unikd_mcu.hil.report.Deployed), built for the board."""
    from unikd_mcu.hil.report import load_deployed

    build_dir = hil_options["build"]
    run_dir = hil_options["run"]
    if build_dir is None:
        from codegen.build import BuildRequest, build

        cache = request.config.cache.mkdir("unikd-hil")
        if run_dir is None:
            run_dir = _default_run(cache)
        build_dir = cache / f"build-{Path(run_dir).name}-{hil_options['board']}"
        if (not (build_dir / "report.json").is_file()
                or (emulated and _stale(build_dir))):  # rebuilt when the firmware sources changed since
            build(BuildRequest(board=hil_options["board"], run=Path(run_dir), out=build_dir, compile=emulated))
    dep = load_deployed(build_dir, run_dir)
    if emulated:
        dep.elf = build_firmware(Path(build_dir) / "make")
    return dep


@pytest.fixture(scope="session")
def real_port(hil_options, emulated):
    """The real board's port, open for the whole session (opening it may reset the board)."""
    if emulated:
        yield None
        return
    with open_board(port=hil_options["port"], board=hil_options["board"], baud=hil_options["baud"],
                    timeout=hil_options["timeout"], reset_by_rts=hil_options["reset_by_rts"]) as b:
        yield b


@pytest.fixture
def board(emulated, deployed, real_port, hil_options):
    """A freshly booted emulated board per test (QEMU is always stopped), or the real board's port."""
    if emulated:
        with open_board(elf=deployed.elf, timeout=hil_options["timeout"]) as qemu:
            yield qemu
    else:
        yield real_port


@pytest.fixture
def client(board, deployed, hil_options) -> HilClient:
    return connect(board, deployed.metadata, timeout=hil_options["timeout"])
