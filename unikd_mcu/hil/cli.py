"""`unikd-mcu hil`: check a board (real or the emulated qemu-m4) against the host, window by window."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from unikd.errors import UserError


def _echo(*parts) -> None:
    click.echo(" ".join(str(p) for p in parts), err=True)


@click.command("hil")
@click.option("--run", "run_dir", type=click.Path(path_type=Path), help="Run directory the firmware was built from.")
@click.option("--build", "build_dir", type=click.Path(path_type=Path),
              help="Output of `unikd-mcu build` (model.tflite, metadata.json, make/). Default: build/<run>-<board>, "
                   "built now if missing.")
@click.option("--port", help="Serial port of a real board (e.g. /dev/ttyUSB0, or any pyserial URL). Without it the "
                             "emulated qemu-m4 board is booted in QEMU.")
@click.option("--board", default="qemu-m4", show_default=True, help="Board profile the firmware was built for.")
@click.option("--baud", type=click.IntRange(min=1), help="Baud rate of --port (default: the board profile's).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory (default $UNIKD_DATA_DIR).")
@click.option("--out", type=click.Path(path_type=Path), help="Report folder. Default: <build>/hil.")
@click.option("--stream-windows", type=click.IntRange(min=1), default=None,
              help="Stream at most this many windows of the target subject's recording (default: all).")
@click.option("--no-stream", is_flag=True, help="Window mode only.")
@click.option("--calibrate", is_flag=True,
              help="Stream with the device's on-device calibration on (the host session's, reset at the start; "
                   "docs/protocol.md) and compare with the host's exact re-computation of its running statistics.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True, max=3600), default=3.0, show_default=True,
              help="Seconds to wait for each reply; a request is given up after this x 4 attempts.")
def hil(run_dir, build_dir, port, board, baud, data_dir, out, stream_windows, no_stream, calibrate, timeout):
    """Send the target test split to the device as int8 windows and the target subject's recording as a raw
    sample stream; compare every output with the golden TFLM interpreter; write hil_report.json/.md and
    hil_confusion.png. Exit code 1 when any window differs or goes unanswered."""
    from unikd.outputs import check_output
    from unikd_mcu.hil.report import load_deployed, run_hil, write_report
    from unikd_mcu.hil.session import hil_session

    if out is not None:
        check_output(out, "hil report")  # before the build and the session, not after them
    if build_dir is None:
        if run_dir is None:
            raise UserError("give --run RUN_DIR (and optionally --build DIR)")
        build_dir = Path("build") / f"{Path(run_dir).name}-{board}"
        if not (build_dir / "metadata.json").is_file():
            from codegen.build import BuildRequest, build

            _echo(f"{build_dir} does not exist: building it")
            build(BuildRequest(board=board, run=run_dir, out=build_dir, data_dir=data_dir))
    dep = load_deployed(build_dir, run_dir, data_dir)
    out = out or build_dir / "hil"
    check_output(out, "hil report")

    def progress(kind, i, n=None):
        if kind == "segment" or i % 25 == 0:
            _echo(f"  {kind} {i}" + (f"/{n}" if n else ""))

    elf = None
    if port is None and board == "qemu-m4":
        from unikd_mcu.hil.images import build_firmware
        from unikd_mcu.hil.qemu import qemu_version

        elf = build_firmware(build_dir / "make")
        _echo(f"booting {elf} in QEMU mps2-an386 ({qemu_version()})")
    with hil_session(dep.metadata, elf=elf, port=port, board=board, baud=baud, timeout=timeout) as s:
        report = run_hil(s.client, dep, board=board, link_name=s.board.link_name, stream_windows=stream_windows,
                         do_stream=not no_stream, progress=progress, calibrate=calibrate)
    paths = write_report(report, out)
    click.echo(paths["markdown"].read_text())
    click.echo("written: " + ", ".join(str(p) for p in paths.values()))
    if not report["pass"]:
        sys.exit(1)
