"""`unikd-mcu boards`, `build` and `flash`. TensorFlow is imported only once a build reaches conversion."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click

from codegen.boards import SENSORS
from codegen.errors import DeployError
from codegen.runtimes import runtime_names

RUNTIME_CHOICE = click.Choice(runtime_names())
SENSOR_CHOICE = click.Choice(SENSORS)


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


@click.command("flash")
@click.option("--board", required=True, help="Board profile (see `unikd-mcu boards`).")
@click.option("--port", help="Serial port of the board, e.g. /dev/ttyUSB0 (not needed for qemu-m4).")
@click.option("--build", "build_dir", type=click.Path(path_type=Path),
              help="Build folder from `unikd-mcu build`. Default: the default scenario's build for this board.")
def flash(board, port, build_dir):
    """Flash a built firmware project with the board's own tool (arduino-cli, pio or esptool)."""
    from codegen.boards import get_board
    from codegen.render import EMULATED_DIR
    from codegen.toolchains import find_flash_tool

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
    if tool.needs_port and not port:
        raise DeployError(f"--port is needed to flash {b.name} (for example /dev/ttyUSB0)")
    cmds = tool.upload_commands(b, build_dir, exe, port)
    for cmd in cmds:
        click.echo("$ " + " ".join(cmd))
        if subprocess.run(cmd).returncode != 0:
            raise DeployError(f"`{' '.join(cmd)}` failed (see its output above)")
    if b.is_emulated:
        click.echo(f"built {build_dir / EMULATED_DIR / 'build' / 'fw.elf'}; boot it with "
                   f"`make -C {build_dir / EMULATED_DIR} run` or test it with `pytest hil_tests`")
