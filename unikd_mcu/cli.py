"""`unikd-mcu` command line. Subcommands live beside what they drive and are imported only when used,
so `unikd-mcu --help` is instant and TensorFlow loads only for conversion."""

from __future__ import annotations

import importlib
import sys

import click

from unikd import __version__

# name -> (module, attribute, one-line help shown by `unikd-mcu --help`)
COMMANDS = {
    "train": ("unikd.commands", "train", "Train a teacher (cached) and a student on one scenario."),
    "sweep": ("unikd.commands", "sweep", "Train scenarios x seeds x methods and tabulate macro-F1."),
    "methods": ("unikd.commands", "methods", "List distillation / adaptation methods."),
    "data": ("unikd.data.cli", "data", "Show, check and download data sets."),
    "boards": ("codegen.cli", "boards", "List board profiles."),
    "build": ("codegen.cli", "build", "Convert a run's student to int8 and render firmware for a board."),
    "flash": ("codegen.cli", "flash", "Flash a built firmware project with the board's own tool."),
    "hil": ("unikd_mcu.hil.cli", "hil", "Check a board (real or emulated) against the host, window by window."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="unikd-mcu")
def cli():
    """unikd-mcu: from labelled lab recordings to a tiny int8 model that works on the people who wear it.

    \b
    Typical path:
      unikd-mcu train --dataset ucihar --source 2 --target 11 --method unikd
      unikd-mcu build --board esp32 --run runs/ucihar_2to11_unikd_s0
      pytest hil_tests --run runs/ucihar_2to11_unikd_s0

    Data are found in --data-dir or $UNIKD_DATA_DIR (a folder holding ucihar/ucihar.npz, ...).
    """


def main(argv=None) -> int:
    """Console entry point: user errors become one clear line on stderr and exit code 2."""
    from unikd.errors import UserError

    try:
        cli.main(args=argv, prog_name="unikd-mcu", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
