"""Opening a hardware-in-the-loop session, written once for the CLI, the HIL tests and the benchmarks:

    with hil_session(metadata, elf=elf) as s:             # boot the emulated qemu-m4 in QEMU
        window_mode(s.client, dep)
    with hil_session(metadata, port="/dev/ttyUSB0", board="esp32") as s:   # a real board on a serial port
        ...

open_board() gives the board (QemuBoard, or SerialBoard around the port) and connect() a HilClient that has read
the boot hello and checked the device's model against `metadata`; hil_session() is both.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from unikd.errors import UserError
from unikd_mcu.hil.client import HilClient

#: How long to wait for the boot hello. QEMU holds the CPU until the host connects, so the hello always comes but
#: may take a loaded machine a while; a real board has usually booted before its port opened (then no hello).
EMULATED_BOOT_TIMEOUT = 10.0
REAL_BOOT_TIMEOUT = 3.0


class SerialBoard:
    """A real board on a serial port. reset() pulses RTS/DTR (the auto-reset circuit of ESP32 and Arduino boards)
    when the board is known to reset that way, else it is None."""

    def __init__(self, ser, name: str, reset_by_rts: bool = False):
        self.serial = ser
        self.link_name = name
        self.resets = 0
        if not reset_by_rts:
            self.reset = None

    def reset(self):
        self.serial.dtr = False
        self.serial.rts = True
        time.sleep(0.1)
        self.serial.rts = False
        self.resets += 1


@contextmanager
def open_board(*, elf: Path | None = None, port: str | None = None, board: str = "qemu-m4",
               baud: int | None = None, timeout: float = 3.0, reset_by_rts: bool = False) -> Iterator:
    """Boot `elf` on the emulated board (without `port`), or open `port` (any pyserial URL) at `baud` (default: the
    board profile's). The board's `serial` is the link; QEMU is stopped and the port closed on exit."""
    if port is None:
        from unikd_mcu.hil.qemu import QemuBoard

        if board != "qemu-m4":
            raise UserError(f"board {board} is a real board: give --port")
        with QemuBoard(elf, timeout=timeout) as emu:
            yield emu
        return
    import serial

    from codegen.boards import get_board

    rate = baud or get_board(board).baud
    try:
        ser = serial.serial_for_url(port, baudrate=rate, timeout=timeout)
    except (serial.SerialException, ValueError, OSError) as e:  # ValueError: an unknown URL scheme or setting
        raise UserError(f"cannot open serial port {port!r}: {e}; give a device such as /dev/ttyUSB0 or a pyserial "
                        f"URL such as socket://HOST:PORT") from None
    with ser:
        yield SerialBoard(ser, f"{port} at {rate} baud", reset_by_rts)


def connect(board, metadata: dict | None, *, timeout: float = 3.0, boot_timeout: float | None = None,
            handshake: bool = True, link=None, **client_options) -> HilClient:
    """A HilClient on the board's link (or on `link`, e.g. a fault-injecting wrapper of it) that has waited for the
    boot hello and, with `handshake`, checked the device's model against `metadata` (ModelMismatch if it differs)."""
    client = HilClient(link or board.serial, timeout=timeout, metadata=metadata, **client_options)
    if boot_timeout is None:
        boot_timeout = REAL_BOOT_TIMEOUT if isinstance(board, SerialBoard) else EMULATED_BOOT_TIMEOUT
    client.wait_boot(timeout=boot_timeout)
    if handshake:
        client.handshake()
    return client


@dataclass
class Session:
    board: object  # QemuBoard or SerialBoard: .serial, .reset (None when the host cannot reset it), .link_name
    client: HilClient


@contextmanager
def hil_session(metadata: dict | None, *, elf: Path | None = None, port: str | None = None,
                board: str = "qemu-m4", baud: int | None = None, timeout: float = 3.0,
                **client_options) -> Iterator[Session]:
    """open_board() then connect(): a booted board and a handshaken client, closed on exit."""
    with open_board(elf=elf, port=port, board=board, baud=baud, timeout=timeout) as b:
        yield Session(b, connect(b, metadata, timeout=timeout, **client_options))
