"""`unikd-mcu` command line. Subcommands live beside what they drive and are imported only when used,
so `unikd-mcu --help` is instant and TensorFlow loads only for conversion."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import click

from unikd import __version__
from unikd.children import Terminated, raise_on_sigterm

# name -> (module, attribute, one-line help shown by `unikd-mcu --help`)
COMMANDS = {
    "train": ("unikd.commands", "train", "Train a teacher (cached) and a student on one scenario."),
    "sweep": ("unikd.commands", "sweep", "Train scenarios x seeds x methods and tabulate macro-F1."),
    "methods": ("unikd.commands", "methods", "List distillation / adaptation methods."),
    "tune": ("unikd.commands", "tune", "Search distillation settings with Optuna, scored without target labels."),
    "scenarios": ("unikd.commands", "scenarios", "List the named scenario sets (report and development)."),
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


def save_traceback(exc: BaseException) -> Path:
    """Write the traceback of an unexpected exception to a file of its own and return the path."""
    folder = Path(os.environ.get("UNIKD_CRASH_DIR") or Path(tempfile.gettempdir()) / "unikd-mcu")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"traceback-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    text = "".join(traceback.format_exception(exc))
    path.write_text(f"unikd-mcu {__version__}, argv: {sys.argv!r}\n\n{text}")
    return path


def _unexpected(exc: BaseException) -> int:
    try:
        where = f"the full traceback is in {save_traceback(exc)}"
    except OSError as e:  # not even a temporary folder is writable: show the traceback after all
        where = f"(no traceback file: {e})\n" + "".join(traceback.format_exception(exc))
    click.echo(f"unikd-mcu: unexpected error: {type(exc).__name__}: {exc}\n"
               f"This is a bug in unikd-mcu, or an input it does not check yet; {where}. Please attach it to a "
               f"report.", err=True)
    return 1


def main(argv=None) -> int:
    """Console entry point, the one error path of the tool:
    - a user error (bad input, missing file; unikd.errors.UserError or a click usage error): one line naming the
      file, field or value and what is valid, exit code 2;
    - Ctrl-C: "aborted", 130; SIGTERM: "terminated", 143 (temporary folders and child processes cleaned up);
    - anything else: a short message and the path of a saved traceback, exit code 1; never a bare traceback."""
    from unikd.errors import UserError

    previous = raise_on_sigterm() if threading.current_thread() is threading.main_thread() else None
    try:
        cli.main(args=argv, prog_name="unikd-mcu", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return 2
    except click.exceptions.Abort as e:
        # click turns an EOFError raised anywhere inside a command into Abort, as if the user had typed Ctrl-D;
        # here that is a file that ended early (an empty or truncated one), not the user's wish
        if isinstance(e.__cause__, EOFError):
            return _unexpected(e.__cause__)
        click.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("aborted", err=True)
        return 130
    except Terminated:
        click.echo("terminated", err=True)
        return 143
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except Exception as e:  # noqa: BLE001 (the last resort: the user gets a message and a saved traceback)
        return _unexpected(e)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
