"""`unikd-mcu train`, `unikd-mcu sweep` and `unikd-mcu methods`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from unikd.config import TrainConfig, read_config_file, resolve_config
from unikd.data.normalise import KINDS as NORMALISE_KINDS
from unikd.errors import UserError
from unikd.outputs import check_output

DEFAULTS = TrainConfig()


def _training_options(f):
    """Options shared by train and sweep; None means 'not given', so method defaults and config files apply."""
    opts = [
        click.option("--config", "config_file", type=click.Path(dir_okay=False),
                     help="YAML/JSON file of settings (any field of the resolved config.json); flags override it."),
        click.option("--dataset", help=f"Data set name or path to a .npz / AdaTime folder [default: {DEFAULTS.dataset}]."),
        click.option("--data-dir", type=click.Path(file_okay=False),
                     help="Folder holding the data sets [default: $UNIKD_DATA_DIR, else ./data]."),
        click.option("--epochs", type=int, help=f"Student epochs [default: {DEFAULTS.epochs}]."),
        click.option("--teacher-epochs", type=int, help=f"Teacher epochs [default: {DEFAULTS.teacher_epochs}]."),
        click.option("--lr", type=float, help=f"Student learning rate (Adam) [default: {DEFAULTS.lr}]."),
        click.option("--teacher-lr", type=float, help=f"Teacher learning rate [default: {DEFAULTS.teacher_lr}]."),
        click.option("--batch-size", type=int, help=f"Windows per domain per step [default: {DEFAULTS.batch_size}]."),
        click.option("--normalise", type=click.Choice(list(NORMALISE_KINDS)),
                     help="per-domain: each domain standardised by its own training windows (the device gets the "
                          "target's constants); zscore: one set for both domains; source: one set from the source "
                          "only (source-only's default: no target data at all); none: raw values "
                          f"[default: {DEFAULTS.normalise}]."),
        click.option("--teacher-im-weight", type=float,
                     help="Weight of information maximisation on target windows in the DANN teacher (confident, "
                          f"class-balanced predictions); 0 = plain DANN [default: {DEFAULTS.teacher_im_weight}]."),
        click.option("--teacher-rotate-degrees", type=float,
                     help="Train the teacher on windows turned by random device rotations of up to this many degrees "
                          "(applied to the x/y/z channel triplets); 0 = off "
                          f"[default: {DEFAULTS.teacher_rotate_degrees:g}]."),
        click.option("--temperature", type=float, help=f"Distillation temperature [default: {DEFAULTS.temperature}]."),
        click.option("--threads", type=int, help="torch threads per training process [default: 1]."),
        click.option("--teacher-cache", type=click.Path(file_okay=False),
                     help="Where trained teachers are kept and reused [default: <out>/../teachers]."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _overrides(config_file, **flags) -> dict:
    values = read_config_file(config_file) if config_file else {}
    values.update({k: v for k, v in flags.items() if v is not None})
    return values


@click.command()
@_training_options
@click.option("--source", type=int, help=f"Source domain (subject) id [default: {DEFAULTS.source}].")
@click.option("--target", type=int, help=f"Target domain (subject) id [default: {DEFAULTS.target}].")
@click.option("--method", help="Training method, see `unikd-mcu methods` [default: unikd].")
@click.option("--seed", type=int, help="Random seed; the same seed on the same machine gives the same weights [default: 0].")
@click.option("--out", type=click.Path(file_okay=False),
              help="Run directory [default: runs/<dataset>_<source>to<target>_<method>_s<seed>]. An earlier run there "
                   "is replaced; a folder holding anything else is refused before training (docs/failures.md).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train(config_file, quiet, **flags):
    """Train one scenario: the scenario's teacher (trained once, then reused) and the student.

    \b
    Leaves a run directory with config.json (resolved settings), model.json, normaliser.json,
    source_normaliser.json, student.pt, history.csv (per-epoch losses), metrics.json (accuracy, macro-F1,
    confusion matrix on the target test split, the seed) and confusion.png.

    \b
    Examples:
      unikd-mcu train --dataset ucihar --source 2 --target 11 --method unikd
      unikd-mcu train --config my_run.yaml --seed 1
    """
    from unikd.train import train_run

    values = _overrides(config_file, **flags)
    if quiet:
        values["progress"] = False
    cfg = resolve_config(values)
    click.echo(f"scenario {cfg.dataset} {cfg.source}->{cfg.target}, method {cfg.method}, seed {cfg.seed}", err=True)
    run_dir = train_run(cfg)
    m = json.loads((run_dir / "metrics.json").read_text())
    t = m.get("teacher")
    if t:
        how = "reused from cache" if t["cached"] else f"trained in {t['seconds']:.1f} s"
        click.echo(f"teacher ({t['kind']}): macro-F1 {100 * t['macro_f1']:.2f} % ({how})")
    click.echo(f"student ({cfg.method}, {m['student_parameters']:,} parameters): macro-F1 {100 * m['macro_f1']:.2f} %, "
               f"accuracy {100 * m['accuracy']:.2f} % on {m['num_windows']} target test windows "
               f"({m['student_seconds']:.1f} s)")
    click.echo(f"run directory: {run_dir}")


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--{what} takes comma-separated integers, e.g. 0,1,2, got {text!r}") from None
    if not values:
        raise UserError(f"--{what} names no {what}: give comma-separated integers, e.g. 0,1,2 (got {text!r})")
    return values


@click.command()
@_training_options
@click.option("--scenarios", default="paper", show_default=True,
              help="'paper' (the 10 UCI-HAR scenarios of the paper) or a list like '2->11,7->13'.")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
@click.option("--methods", default="source-only,dann,kd,mobileda,aad,unikd,unikd-authors", show_default=True,
              help="Comma-separated methods (see `unikd-mcu methods`).")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True, help="Parallel worker processes.")
@click.option("--out", type=click.Path(file_okay=False), default="runs/sweep", show_default=True,
              help="Sweep folder: runs/, teachers/ and summary/ (results.csv, summary.md, summary.png).")
def sweep(config_file, scenarios, seeds, methods, jobs, out, **flags):
    """Train scenarios x seeds x methods and print a table of mean ± std macro-F1.

    Teachers are trained once per scenario and seed and reused by every student method that needs them.
    The table (Markdown + CSV + JSON) and a bar plot are written to OUT/summary/.
    """
    from unikd.data.scenario import PAPER_SCENARIOS, parse_scenario
    from unikd.methods import METHODS
    from unikd.sweep import markdown_table, run_sweep, write_results

    values = _overrides(config_file, **flags)
    dataset = values.get("dataset", DEFAULTS.dataset)
    if scenarios == "paper":
        if dataset not in PAPER_SCENARIOS:
            raise UserError(f"no built-in paper scenarios for {dataset!r}; pass --scenarios like '1->2,3->4'")
        pairs = PAPER_SCENARIOS[dataset]
    else:
        pairs = [parse_scenario(s) for s in scenarios.split(",")]
    method_list = [m.strip() for m in methods.split(",") if m.strip()]
    if not method_list:
        raise UserError(f"--methods names no method (got {methods!r}); see `unikd-mcu methods`")
    for m in method_list:
        METHODS.get(m)  # unknown names fail here, before any training
    seed_list = _int_list(seeds, "seeds")
    check_output(Path(out) / "summary", "sweep summary")  # before the first of many runs, not after the last
    for m in method_list:  # every setting checked for every method before the first of many runs starts
        resolve_config(values | {"method": m, "seed": seed_list[0]})
    rows = run_sweep(pairs, seed_list, method_list, values, Path(out), jobs=jobs)
    table = write_results(rows, Path(out))
    click.echo(markdown_table(table))
    click.echo(f"\nwritten: {Path(out) / 'summary'}/(results.csv, summary.md, summary.json, summary.png)")


@click.command()
def methods():
    """List the training methods and what each needs."""
    from unikd.methods import METHODS

    for name in METHODS:
        cls = METHODS.get(name)
        needs = f"teacher: {cls.teacher_kind}" if cls.teacher_kind else "no teacher"
        if cls.uses_target_labels:
            needs += ", uses target labels (reference only)"
        click.echo(f"{name:18s} {cls.summary} [{needs}]")
