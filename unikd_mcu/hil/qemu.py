"""The emulated board (qemu-m4): boot a firmware image (unikd_mcu.hil.images builds it) in QEMU mps2-an386 with
its UART on a local TCP port, so the HIL client talks to it through pyserial's `socket://` exactly as to a real
port. The one launcher of every qemu-m4 image (HIL firmware, the aot parity image, the timer calibration).

    with QemuBoard(images.build_firmware(project_dir)) as board:
        client = HilClient(board.serial)
        ...
        board.reset()        # system_reset through QMP, like pressing the board's reset button

QEMU always runs with `-icount shift=0`: one guest instruction is 1 ns of virtual time, so the SysTick ticks the
firmware reports (25 MHz) are exactly instructions / 40, whatever the host load. `sleep=on` (QEMU's default, said
explicitly because the receive gap relies on it): while the firmware sleeps in WFI the virtual clock follows real
time, so the board's 500 ms receive gap is 0.5 s of real silence (firmware/boards/qemu-m4/README.md). QEMU is always stopped when the
`with` block ends, also on an exception.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

from unikd.children import die_with_parent
from unikd.errors import UserError
from unikd_mcu.hil import images

QEMU = "qemu-system-arm"
DEBIAN_PACKAGES = images.DEBIAN_PACKAGES["qemu-m4"] + " qemu-system-arm"
MACHINE = "mps2-an386"


class QemuError(UserError):
    """The emulated board could not be built or started."""


def missing_tools() -> list[str]:
    """Executables the emulated board needs (to build its image and to boot it) that are not on PATH."""
    return images.missing_tools("qemu-m4") + ([QEMU] if shutil.which(QEMU) is None else [])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuBoard:
    """QEMU running one firmware image; `serial` is a pyserial object connected to its UART0."""

    def __init__(self, elf, *, timeout: float = 2.0, boot_timeout: float = 15.0):
        self.elf = Path(elf)
        self.timeout = timeout
        self.boot_timeout = boot_timeout
        self.proc: subprocess.Popen | None = None
        self.serial = None
        self._qmp: socket.socket | None = None
        self._qmp_file = None
        self.resets = 0

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    @property
    def link_name(self) -> str:
        """How reports name this link."""
        return f"QEMU mps2-an386 UART over {self.url} (-icount shift=0)"

    def __enter__(self) -> "QemuBoard":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        import serial

        if not self.elf.is_file():
            raise QemuError(f"firmware image {self.elf} not found")
        self.port, self.qmp_port = _free_port(), _free_port()
        cmd = [QEMU, "-M", MACHINE, "-icount", "shift=0,sleep=on", "-nographic", "-monitor", "none",
               "-qmp", f"tcp:127.0.0.1:{self.qmp_port},server=on,wait=off",
               "-kernel", str(self.elf),
               "-serial", f"tcp:127.0.0.1:{self.port},server=on,wait=on,nodelay=on"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent)  # no emulator outlives the host side
        deadline = time.monotonic() + self.boot_timeout
        while True:  # QEMU listens a moment after it starts; wait=on holds the CPU until we connect
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace")
                raise QemuError(f"QEMU exited with code {self.proc.returncode}: {out.strip()}")
            try:
                self.serial = serial.serial_for_url(self.url, timeout=self.timeout)
                break
            except serial.SerialException:
                if time.monotonic() > deadline:
                    raise QemuError(f"QEMU did not open its UART on {self.url} within {self.boot_timeout} s")
                time.sleep(0.05)

    def _qmp_command(self, command: str) -> dict:
        if self._qmp is None:
            self._qmp = socket.create_connection(("127.0.0.1", self.qmp_port), timeout=5)
            self._qmp_file = self._qmp.makefile("rwb")
            json.loads(self._qmp_file.readline())  # greeting
            self._qmp_send({"execute": "qmp_capabilities"})
        return self._qmp_send({"execute": command})

    def _qmp_send(self, msg: dict) -> dict:
        self._qmp_file.write(json.dumps(msg).encode() + b"\n")
        self._qmp_file.flush()
        while True:  # skip asynchronous events until the command's answer
            reply = json.loads(self._qmp_file.readline())
            if "return" in reply or "error" in reply:
                if "error" in reply:
                    raise QemuError(f"QMP {msg['execute']}: {reply['error']}")
                return reply

    def reset(self) -> None:
        """Reset the emulated board (like its reset button): the firmware restarts and sends a boot hello."""
        self._qmp_command("system_reset")
        self.resets += 1

    def stop(self) -> None:
        for closer in (self.serial, self._qmp_file, self._qmp):
            if closer is not None:
                try:
                    closer.close()
                except OSError:
                    pass
        self.serial = self._qmp = self._qmp_file = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


def qemu_version() -> str:
    try:
        out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.splitlines()[0] if out else "unknown"

