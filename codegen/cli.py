"""`unikd-mcu boards`, `build` and `flash`. TensorFlow is imported only once a build reaches conversion."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import click

from codegen.errors import DeployError, ToolMissingError
from codegen.sensors import IMU_SENSORS

RUNTIME_CHOICE = click.Choice(["aot", "tflm"])
SENSOR_CHOICE = click.Choice([*IMU_SENSORS, "serial"])


@click.command("boards")
def boards():
    """List board profiles (codegen/boards/*.yaml and $UNIKD_BOARDS_PATH)."""
    from codegen.boards import all_boards

    rows = [("board", "MCU", "flash budget", "RAM budget", "sensor", "runtime", "build with")]
    for b in all_boards():
        how = ", ".join(x for x in (b.arduino and f"arduino {b.arduino['fqbn']}",
                                    b.platformio and f"pio {b.platformio['env']}",
                                    b.is_emulated and "make") if x)
        runtimes = "/".join(f"{r}*" if r == b.runtime else r for r in b.runtimes)
        rows.append((b.name, b.mcu.split(" (")[0], f"{b.flash_budget_bytes:,} B", f"{b.ram_budget_bytes:,} B",
                     b.sensor, runtimes, how))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))
    click.echo("(* = default runtime)")


@click.command("build")
@click.option("--board", required=True, help="Board profile (see `unikd-mcu boards`).")
@click.option("--run", "run_dir", type=click.Path(path_type=Path),
              help="Run directory to deploy. Default: train (or reuse) the default scenario, UCI-HAR 2->11.")
@click.option("--runtime", type=RUNTIME_CHOICE, help="Inference runtime; default: the board's.")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder. Default: build/<run>-<board>.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory (default $UNIKD_DATA_DIR).")
@click.option("--sensor", type=SENSOR_CHOICE, help="Sample source of the firmware; default: the board's.")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Where the default scenario's run is trained when no --run is given.")
@click.option("--compile/--no-compile", "compile_", default=True, show_default=True,
              help="Compile the project with arduino-cli / pio / make where installed.")
def build(board, run_dir, runtime, out, data_dir, sensor, runs_dir, compile_):
    """Convert a run's student to int8 and render firmware for a board, with a build report."""
    from codegen.build import BuildRequest, build as do_build

    out_dir = do_build(BuildRequest(board=board, run=run_dir, runtime=runtime, out=out, data_dir=data_dir,
                                    sensor=sensor, runs_dir=runs_dir, compile=compile_))
    click.echo(f"firmware project(s), model and report in {out_dir} (see {out_dir / 'report.md'})")


# tool -> how to install it (said when a board's flash tools are all missing)
INSTALL_HINTS = {
    "arduino-cli": "arduino-cli: install it (https://arduino.github.io/arduino-cli/latest/installation/), then "
                   "`arduino-cli core install {core}`",
    "pio": "pio: `pip install platformio`",
    "esptool": "esptool: `pip install esptool` (it writes a compiled image: compile with arduino-cli or pio first)",
    "qemu-system-arm": "qemu-system-arm and the compiler: `apt-get install qemu-system-arm gcc-arm-none-eabi "
                       "libnewlib-arm-none-eabi`",
}
TOOL_EXECUTABLES = {"arduino-cli": ("arduino-cli",), "pio": ("pio", "platformio"), "esptool": ("esptool", "esptool.py"),
                    "qemu-system-arm": ("qemu-system-arm",)}


def find_flash_tool(board) -> tuple[str, str]:
    """(tool, executable path) of the first installed tool in the board's flash_tools; else ToolMissingError."""
    for tool in board.flash_tools:
        for exe in TOOL_EXECUTABLES.get(tool, (tool,)):
            path = shutil.which(exe)
            if path:
                return tool, path
    core = (board.arduino or {}).get("core", "")
    hints = "; ".join(INSTALL_HINTS.get(t, t).format(core=core) for t in board.flash_tools)
    raise ToolMissingError(f"board {board.name} is flashed with {' or '.join(board.flash_tools)}, and none is "
                           f"installed. Install one: {hints}")


def _esptool_image(build_dir: Path) -> Path:
    # only a merged image (bootloader + partitions + app) belongs at 0x0; an app-only firmware.bin written there
    # would overwrite the bootloader
    images = sorted(build_dir.rglob("*.ino.merged.bin"))
    if not images:
        raise DeployError(f"esptool writes a merged image at 0x0 and {build_dir} holds none (*.ino.merged.bin): "
                          f"compile with `arduino-cli compile --export-binaries`, or flash with arduino-cli or pio")
    return images[0]


@click.command("flash")
@click.option("--board", required=True, help="Board profile (see `unikd-mcu boards`).")
@click.option("--port", help="Serial port of the board, e.g. /dev/ttyUSB0 (not needed for qemu-m4).")
@click.option("--build", "build_dir", type=click.Path(path_type=Path),
              help="Build folder from `unikd-mcu build`. Default: the default scenario's build for this board.")
def flash(board, port, build_dir):
    """Flash a built firmware project with the board's own tool (arduino-cli, pio or esptool)."""
    from codegen.boards import get_board
    from codegen.render import EMULATED_DIR, sketch_name

    b = get_board(board)
    if build_dir is None:
        from codegen.build import DEFAULT_METHOD, DEFAULT_SEED
        from unikd.data.scenario import DEFAULT_SCENARIO

        d, s, t = DEFAULT_SCENARIO
        build_dir = Path("build") / f"{d}_{s}to{t}_{DEFAULT_METHOD}_s{DEFAULT_SEED}-{b.name}"
    if not (build_dir / "metadata.json").is_file():
        raise DeployError(f"{build_dir} is not a build folder (no metadata.json); run "
                          f"`unikd-mcu build --board {b.name}` first or pass --build")
    tool, exe = find_flash_tool(b)
    if not b.is_emulated and not port:
        raise DeployError(f"--port is needed to flash {b.name} (for example /dev/ttyUSB0)")
    if tool == "arduino-cli":
        sketch = build_dir / "arduino" / sketch_name(b)
        cmds = [[exe, "compile", "--fqbn", b.arduino["fqbn"],
                 "--build-property", "compiler.c.extra_flags=-ffp-contract=off",
                 "--build-property", "compiler.cpp.extra_flags=-ffp-contract=off", str(sketch)],
                [exe, "upload", "--fqbn", b.arduino["fqbn"], "-p", port, str(sketch)]]
    elif tool == "pio":
        cmds = [[exe, "run", "-d", str(build_dir / "platformio"), "-t", "upload", "--upload-port", port]]
    elif tool == "esptool":
        cmds = [[exe, "--chip", b.esptool_chip, "--port", port, "write_flash", "0x0", str(_esptool_image(build_dir))]]
    elif b.is_emulated:  # "flashing" is building the image QEMU boots
        cmds = [["make", "-C", str(build_dir / EMULATED_DIR)]]
    else:
        raise DeployError(f"board {b.name}: flash tool {tool!r} is not supported (arduino-cli, pio or esptool)")
    for cmd in cmds:
        click.echo("$ " + " ".join(cmd))
        if subprocess.run(cmd).returncode != 0:
            raise DeployError(f"`{' '.join(cmd)}` failed (see its output above)")
    if b.is_emulated:
        click.echo(f"built {build_dir / EMULATED_DIR / 'build' / 'fw.elf'}; boot it with "
                   f"`make -C {build_dir / EMULATED_DIR} run` or test it with `pytest hil_tests`")
