"""Toolchains: one registry entry per external tool that compiles or flashes a rendered firmware project.

An entry says how to find the tool (executables, other programs it needs), how to install it, which of a board's
projects it compiles and how to read the flash and RAM figures from its output, and how it writes a build to the
board. `build` compiles with every registered toolchain that has a project for the board; `flash` uses the first
installed tool of the board profile's `flash_tools`, which must be names registered here. Adding a toolchain is
one new class in this file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from codegen.errors import DeployError, ToolMissingError
from codegen.render import EMULATED_DIR, sketch_name
from unikd.registry import Registry

TOOL_TIMEOUT_S = 1200
# TFLM-matching quantisation needs no fused multiply-add in the C sources (docs/build.md)
ARDUINO_FP_FLAGS = ["--build-property", "compiler.c.extra_flags=-ffp-contract=off",
                    "--build-property", "compiler.cpp.extra_flags=-ffp-contract=off"]


def _run_tool(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)


def _first_int(pattern: str, text: str) -> int | None:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


class Toolchain:
    """Base of the registry's entries. A subclass that compiles sets `what` and implements `project`,
    `compile_command` and `sizes`; one that flashes implements `upload_commands`."""

    name: str = ""
    executables: tuple[str, ...] = ()  # alternative names of the tool itself, the first found on PATH is used
    also_needs: tuple[str, ...] = ()  # further programs the tool runs (a cross compiler)
    display: str = ""  # how messages name it (default: its name)
    install_hint: str = ""  # may use {core}, the board's Arduino core
    needs_port: bool = True  # flashing writes to a serial port
    report_tool: str = ""  # the build report's "tool" field (default: its name)
    compile_failure_is_error: bool = False  # a failed compile fails the build (else the report records it)

    def executable(self) -> str | None:
        for exe in self.executables or (self.name,):
            path = shutil.which(exe)
            if path:
                return path
        return None

    def missing(self) -> list[str]:
        """Display names of what is not on PATH (empty when the toolchain can run)."""
        gone = [] if self.executable() else [self.display or self.name]
        return gone + [t for t in self.also_needs if shutil.which(t) is None]

    def hint(self, board) -> str:
        return (self.install_hint or self.name).format(core=(board.arduino or {}).get("core", ""))

    # ---- compiling (build) ----
    def project(self, board) -> str | None:
        """The folder (relative to the build output) this toolchain compiles for `board`, or None."""
        return None

    def what(self, board) -> str:
        """What it compiles, for progress lines and notes (e.g. "Arduino sketch")."""
        return "project"

    def compile_command(self, board, out: Path, exe: str) -> list[str]:
        raise NotImplementedError

    def sizes(self, text: str) -> dict:
        """Size figures read from the compiler's output: flash_bytes and static_ram_bytes at least."""
        return {}

    def compile(self, board, out: Path, progress: Callable[[str], None]) -> dict:
        """Compile the board's project in `out`, or record that the toolchain is missing; a dict for the report."""
        entry = {"tool": self.report_tool or self.name, "project": self.project(board)}
        missing = self.missing()
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            return entry | {"status": "not installed",
                            "note": f"{' and '.join(missing)} {verb} not on PATH: the {self.what(board)} was not "
                                    f"compiled"}
        progress(f"compiling the {self.what(board)} with {entry['tool']}")
        p = _run_tool(self.compile_command(board, out, self.executable()))
        text = p.stdout + p.stderr
        if p.returncode != 0 and self.compile_failure_is_error:
            raise DeployError(f"the {self.what(board)} did not compile:\n{text[-3000:]}")
        return entry | {"status": "ok" if p.returncode == 0 else "failed", "output_tail": text[-2000:]} | \
            self.sizes(text)

    # ---- flashing (flash) ----
    def upload_commands(self, board, build_dir: Path, exe: str, port: str | None) -> list[list[str]]:
        raise DeployError(f"{self.name} cannot flash a board")


TOOLCHAINS: Registry[Toolchain] = Registry("toolchain")


def get_toolchain(name: str) -> Toolchain:
    """The entry called `name`; an unknown name raises a UserError listing the registered toolchains."""
    return TOOLCHAINS.get(name)


def _register(cls: type[Toolchain]) -> type[Toolchain]:
    TOOLCHAINS.register(cls.name)(cls())
    return cls


@_register
class ArduinoCli(Toolchain):
    name = "arduino-cli"
    install_hint = ("arduino-cli: install it (https://arduino.github.io/arduino-cli/latest/installation/), then "
                    "`arduino-cli core install {core}`")

    def project(self, board):
        return f"arduino/{sketch_name(board)}" if board.arduino else None

    def what(self, board):
        return "Arduino sketch"

    def compile_command(self, board, out, exe):
        return [exe, "compile", "--fqbn", board.arduino["fqbn"], *ARDUINO_FP_FLAGS,
                str(out / "arduino" / sketch_name(board))]

    def sizes(self, text):
        return {"flash_bytes": _first_int(r"Sketch uses (\d+) bytes", text),
                "static_ram_bytes": _first_int(r"Global variables use (\d+) bytes", text)}

    def upload_commands(self, board, build_dir, exe, port):
        # arduino-cli uploads what it compiled last: compile the sketch of this build first
        sketch = build_dir / "arduino" / sketch_name(board)
        return [self.compile_command(board, build_dir, exe),
                [exe, "upload", "--fqbn", board.arduino["fqbn"], "-p", port, str(sketch)]]


@_register
class PlatformIO(Toolchain):
    name = "pio"
    executables = ("pio", "platformio")
    display = "pio (PlatformIO)"
    install_hint = "pio: `pip install platformio`"

    def project(self, board):
        return "platformio" if board.platformio else None

    def what(self, board):
        return "PlatformIO project"

    def compile_command(self, board, out, exe):
        return [exe, "run", "-d", str(out / "platformio")]

    def sizes(self, text):
        return {"flash_bytes": _first_int(r"Flash:.*?used (\d+) bytes from (\d+) bytes", text),
                "static_ram_bytes": _first_int(r"RAM:.*?used (\d+) bytes from (\d+) bytes", text)}

    def upload_commands(self, board, build_dir, exe, port):
        return [[exe, "run", "-d", str(build_dir / "platformio"), "-t", "upload", "--upload-port", port]]


@_register
class MakeArmGcc(Toolchain):
    """The emulated board's own Makefile (firmware/boards/<board>/), with the arm-none-eabi cross compiler."""

    name = "make"
    also_needs = ("arm-none-eabi-gcc",)
    install_hint = "make and the compiler: `apt-get install make gcc-arm-none-eabi libnewlib-arm-none-eabi`"
    report_tool = "make + arm-none-eabi-gcc"
    # the emulated board has no other toolchain: its firmware must build
    compile_failure_is_error = True
    needs_port = False

    def project(self, board):
        return EMULATED_DIR if board.is_emulated else None

    def what(self, board):
        return f"{board.name} firmware"

    def compile_command(self, board, out, exe):
        return [exe, "-C", str(out / EMULATED_DIR)]

    def sizes(self, text):
        # the Makefile ends with `size build/fw.elf`: text data bss dec hex filename
        m = re.search(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+[0-9a-f]+\s+\S*fw\.elf", text, re.M)
        if not m:
            return {}
        text_b, data_b, bss_b = (int(m.group(i)) for i in (1, 2, 3))
        return {"text_bytes": text_b, "data_bytes": data_b, "bss_bytes": bss_b,
                "flash_bytes": text_b + data_b, "static_ram_bytes": data_b + bss_b}

    def upload_commands(self, board, build_dir, exe, port):
        return [self.compile_command(board, build_dir, exe)]


@_register
class QemuSystemArm(Toolchain):
    """"Flashing" the emulated board is building the image QEMU boots (`make run` boots it)."""

    name = "qemu-system-arm"
    install_hint = ("qemu-system-arm and the compiler: `apt-get install qemu-system-arm gcc-arm-none-eabi "
                    "libnewlib-arm-none-eabi`")
    needs_port = False

    def upload_commands(self, board, build_dir, exe, port):
        return get_toolchain("make").upload_commands(board, build_dir, "make", port)


@_register
class Esptool(Toolchain):
    name = "esptool"
    executables = ("esptool", "esptool.py")
    install_hint = "esptool: `pip install esptool` (it writes a compiled image: compile with arduino-cli or pio first)"

    def upload_commands(self, board, build_dir, exe, port):
        return [[exe, "--chip", board.esptool_chip, "--port", port, "write_flash", "0x0",
                 str(_esptool_image(build_dir))]]


def _esptool_image(build_dir: Path) -> Path:
    # only a merged image (bootloader + partitions + app) belongs at 0x0; an app-only firmware.bin written there
    # would overwrite the bootloader
    images = sorted(build_dir.rglob("*.ino.merged.bin"))
    if not images:
        raise DeployError(f"esptool writes a merged image at 0x0 and {build_dir} holds none (*.ino.merged.bin): "
                          f"compile with `arduino-cli compile --export-binaries`, or flash with arduino-cli or pio")
    return images[0]


def compile_projects(board, out: Path, progress: Callable[[str], None]) -> list[dict]:
    """Compile the rendered project(s) with every toolchain that has one for `board`; sizes or why not."""
    return [tc.compile(board, out, progress) for tc in (get_toolchain(n) for n in TOOLCHAINS)
            if tc.project(board) is not None]


def find_flash_tool(board) -> tuple[Toolchain, str]:
    """(toolchain, executable path) of the first installed tool in the board's flash_tools; else ToolMissingError
    with how to install each of them."""
    tools = [get_toolchain(t) for t in board.flash_tools]
    for tool in tools:
        exe = tool.executable()
        if exe:
            return tool, exe
    hints = "; ".join(t.hint(board) for t in tools)
    raise ToolMissingError(f"board {board.name} is flashed with {' or '.join(board.flash_tools)}, and none is "
                           f"installed. Install one: {hints}")
