"""`unikd-mcu data ...`: list, show and download data sets. Errors are DataError (a UserError), which the
top-level CLI prints as one line with exit code 2."""

from __future__ import annotations

import os
from pathlib import Path

import click
import numpy as np

from unikd.data import DATASETS, load_dataset, resolve_data_dir
from unikd.data.base import DataError, WindowSet
from unikd.data.download import DEFAULT_TIMEOUT_S, download_ucihar
from unikd.data.paths import ENV_VAR
from unikd.data.ucihar_archive import ARCHIVE_DIR

DATA_DIR_HELP = (
    f"Folder holding the data sets, one subfolder each (e.g. ucihar/ucihar.npz). Default: ${ENV_VAR}, else ./data."
)
data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP
)


def _data_dir_line(data_dir: Path | None) -> str:
    d = resolve_data_dir(data_dir)
    why = "--data-dir" if data_dir is not None else (f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "default")
    return f"data dir: {d} ({why})"


def _shape_line(ws: WindowSet) -> str:
    rate = f", {ws.sample_rate_hz:g} Hz" if ws.sample_rate_hz else ""
    return (
        f"{len(ws.y)} windows, {len(ws.domains())} domains, {ws.num_classes} classes, "
        f"{ws.num_channels} channels x {ws.window} samples{rate}"
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def data():
    """Show, check and download data sets.

    A data set is found under the data directory (--data-dir or $UNIKD_DATA_DIR). Commands that take a NAME
    also take a path: a .npz file in the generic format (docs/data.md) or an AdaTime folder.
    """


@data.command("list", short_help="Registered data sets: found or not, where, how big.")
@data_dir_option
def list_(data_dir):
    """List every registered data set: whether it is found under the data directory, where, and its size."""
    d = resolve_data_dir(data_dir)
    click.echo(_data_dir_line(data_dir))
    width = max(len(n) for n in DATASETS.names())
    for name in DATASETS.names():
        loader = DATASETS.get(name)
        click.echo(f"{name:<{width}}  {loader.summary}")
        where = loader.locate(d)
        pad = " " * (width + 2)
        if not where.exists():
            click.echo(f"{pad}not found (looked for {where})")
            continue
        try:
            ws = loader.load(d)
        except DataError as e:  # one broken data set should not hide the others
            click.echo(f"{pad}found at {where} but not usable: {e}")
            continue
        click.echo(f"{pad}found at {where}")
        click.echo(f"{pad}{_shape_line(ws)}")


@data.command("show", short_help="Windows per domain, split and class.")
@click.argument("name")
@data_dir_option
@click.option("--domain", type=int, default=None, help="Show only this domain (subject) id.")
def show(name, data_dir, domain):
    """Per domain and split (train/test part), the number of windows of each class.

    NAME is a registered data set (see `unikd-mcu data list`) or a path to a .npz file or AdaTime folder.
    """
    ws = load_dataset(name, data_dir)
    domains = [ws.require_domain(domain)] if domain is not None else ws.domains()
    click.echo(f"{ws.name}: {ws.source}")
    click.echo(_shape_line(ws) + f", stride {ws.stride}")
    click.echo(f"split: {ws.split_kind}")
    click.echo("classes: " + ", ".join(f"{k} {c}" for k, c in enumerate(ws.class_names)))
    click.echo("channels: " + ", ".join(ws.channel_names))
    cols = [max(len(c), 5) for c in ws.class_names]
    head = f"{'domain':>8} {'split':>5} {'windows':>7}  " + " ".join(f"{c:>{w}}" for c, w in zip(ws.class_names, cols))
    click.echo(head)

    def row(label: str, part: str, mask: np.ndarray) -> None:
        counts = np.bincount(ws.y[mask], minlength=ws.num_classes)
        cells = " ".join(f"{int(n):>{w}}" for n, w in zip(counts, cols))
        click.echo(f"{label:>8} {part:>5} {int(mask.sum()):>7}  {cells}")

    for d in domains:
        for s, part in enumerate(("train", "test")):
            row(ws.domain_label(d), part, (ws.domain == d) & (ws.split == s))
    if domain is None:
        for s, part in enumerate(("train", "test")):
            row("all", part, ws.split == s)


@data.command("download", short_help="Fetch, verify and unpack an official archive (ucihar).")
@click.argument("name")
@data_dir_option
@click.option(
    "--timeout", type=float, default=DEFAULT_TIMEOUT_S, show_default=True,
    help="Seconds to wait for the server before giving up (kept short so an offline machine fails fast).",
)
@click.option(
    "--from-zip", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Install from an archive already downloaded by hand (checked against the same checksums).",
)
@click.option(
    "--sha256", "sha256", default=None, metavar="HEX",
    help="Accept this sha256 instead of the pinned ones (only if UCI re-packed the archive and you checked it).",
)
def download(name, data_dir, timeout, from_zip, sha256):
    """Download the official archive of data set NAME, verify its sha256 and unpack it into the data directory.

    \b
    ucihar: https://archive.ics.uci.edu/static/public/240/human+activity+recognition+using+smartphones.zip
            unpacked to <data dir>/ucihar/UCI HAR Dataset/ (used when ucihar/ucihar.npz is absent).
    """
    d = resolve_data_dir(data_dir)
    if name != "ucihar":
        loader = DATASETS.get(name)  # an unknown name raises, listing the valid ones
        raise DataError(
            f"{name} has no download here (only ucihar). {getattr(loader, 'source_hint', '')} "
            f"Put the files at {loader.locate(d)}."
        )
    known = {sha256.lower(): (None, "given with --sha256")} if sha256 else None
    shown = [0]

    def progress(done: int) -> None:
        if done - shown[0] >= 10 << 20:  # one line per 10 MB
            shown[0] = done
            click.echo(f"  {done >> 20} MB", err=True)

    if (d / "ucihar" / ARCHIVE_DIR).is_dir():
        click.echo(f"{name}: already present at {d / 'ucihar' / ARCHIVE_DIR}; nothing to do")
        return
    click.echo(f"{name}: installing into {d / 'ucihar'}", err=True)
    dest = download_ucihar(d, timeout=timeout, from_zip=from_zip, known_sha256=known,
                           progress=progress)
    click.echo(f"{name}: ready at {dest}")
