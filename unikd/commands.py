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
        click.option("--epochs", type=int, help=f"Student epochs, raised on small domains to reach --min-steps "
                                                f"[default: {DEFAULTS.epochs}]."),
        click.option("--min-steps", type=int,
                     help="Fewest optimisation steps of the student: on a small domain an epoch is a few steps, so "
                          f"the epochs are raised to reach this; 0 = exactly --epochs [default: {DEFAULTS.min_steps}]."),
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


def _scenario_pairs(text: str, values: dict) -> list[tuple[int, int]]:
    """--scenarios: a named set (`unikd-mcu scenarios`), which also sets the data set when none was given, or a
    list like '2->11,7->13'. `values` (the settings so far) gains the named set's data set."""
    from unikd.data.scenario import SCENARIO_SETS, parse_scenario

    if text in SCENARIO_SETS:
        dataset, _, pairs = SCENARIO_SETS[text]
        given = values.setdefault("dataset", dataset)
        if given != dataset:
            raise UserError(f"scenario set {text!r} is for data set {dataset!r}, but the data set is {given!r}; "
                            f"drop --dataset or pass the scenarios as a list like '1->2,3->4'")
        return list(pairs)
    if "->" not in text and "to" not in text and "," not in text:
        raise UserError(f"--scenarios {text!r} is neither a scenario set ({', '.join(SCENARIO_SETS)}) nor a list "
                        f"like '2->11,7->13'")
    return [parse_scenario(s) for s in text.split(",") if s.strip()]


@click.command()
@_training_options
@click.option("--scenarios", default="paper", show_default=True,
              help="A named scenario set (`unikd-mcu scenarios`; 'paper' is the paper's 10 UCI-HAR scenarios) or "
                   "a list like '2->11,7->13'.")
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
    from unikd.methods import METHODS
    from unikd.sweep import markdown_table, run_sweep, write_results

    values = _overrides(config_file, **flags)
    pairs = _scenario_pairs(scenarios, values)
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


@click.command()
def scenarios():
    """List the named scenario sets, their data set and role (report: scored in docs/benchmarks.md and never
    looked at while choosing a setting; dev: where choices that needed target labels were made)."""
    from unikd.data.scenario import SCENARIO_SETS

    for name, (dataset, role, pairs) in SCENARIO_SETS.items():
        click.echo(f"{name:16s} {dataset:14s} {role:6s} " + ", ".join(f"{s}->{t}" for s, t in pairs))


@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="YAML/JSON file of settings shared by every trial (any train setting).")
@click.option("--dataset", help=f"Data set name or path [default: {DEFAULTS.dataset}, or the scenario set's].")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Folder holding the data sets [default: $UNIKD_DATA_DIR, else ./data].")
@click.option("--method", default="unikd", show_default=True, help="Method whose settings are searched.")
@click.option("--scenarios", default="ucihar-dev", show_default=True,
              help="Scenarios every trial trains on: a named set (`unikd-mcu scenarios`) or a list like '1->2,3->4'. "
                   "Target labels are not needed: the rule reads none.")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds per trial.")
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True,
              help="Finished trials the study should hold (a resumed study runs only the missing ones).")
@click.option("--rule", default="teacher-agreement", show_default=True,
              help="Label-free selection rule to maximise: teacher-agreement, source-val or agreement+source "
                   "(docs/selection.md).")
@click.option("--storage", help="Optuna storage URL; an RDB URL (postgresql://..., mysql://...) shares one study "
                                "between machines [default: sqlite:///<out>/study.db].")
@click.option("--study-name", help="Study name in the storage [default: tune_<dataset>_<method>].")
@click.option("--sampler-seed", type=int, default=0, show_default=True, help="Seed of the TPE sampler.")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Parallel worker processes (the runs of one trial run side by side).")
@click.option("--out", type=click.Path(file_okay=False),
              help="Tune folder: study.db, trials/, teachers/ and result/ (best.yaml, trials.csv, tune.png, "
                   "summary.json) [default: runs/tune/<study name>].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def tune(config_file, dataset, data_dir, method, scenarios, seeds, trials, rule, storage, study_name, sampler_seed,
         jobs, out, quiet):
    """Search a method's distillation settings for one data set, scored by a rule that reads no target label.

    Every trial trains the method on the given scenarios and seeds (each scenario's teacher once, shared by all
    trials) and scores it with the rule; Optuna's TPE sampler proposes the next setting. The study is kept in
    SQLite (or a shared RDB), so a stopped search resumes where it stopped. The best setting is written as a
    config file that train and sweep accept.

    \b
    Examples:
      unikd-mcu tune --scenarios hhar-dev --trials 20
      unikd-mcu tune --scenarios '1->2,3->4' --dataset my_sensor.npz --trials 30
      unikd-mcu sweep --config runs/tune/tune_hhar_sa_part_unikd/result/best.yaml --scenarios hhar
    """
    from unikd.selection import check_rule
    from unikd.tune import TuneSpec, space_for
    from unikd.tune import tune as run_tune

    check_rule(rule)
    space_for(method)
    values = read_config_file(config_file) if config_file else {}
    values.update({k: v for k, v in {"dataset": dataset, "data_dir": data_dir}.items() if v is not None})
    values["method"] = method
    pairs = _scenario_pairs(scenarios, values)
    spec = TuneSpec(base=values, scenarios=pairs, seeds=_int_list(seeds, "seeds"), trials=trials, rule=rule,
                    out=Path("."), storage=storage, study_name=study_name, sampler_seed=sampler_seed, jobs=jobs,
                    progress=not quiet)
    spec.out = Path(out) if out else Path("runs") / "tune" / spec.name()
    summary = run_tune(spec)
    click.echo(f"best of {summary['trials']} trials (rule {rule}): trial {summary['best_trial']}, score "
               f"{summary['best_rule_score']:.4f}")
    for k, v in summary["best_params"].items():
        click.echo(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
    rho = summary["rank_correlation_with_target_macro_f1"]
    if rho == rho:  # not NaN: the data set has target test labels, so the rule's ranking can be checked
        click.echo(f"rank correlation of the rule with the target macro-F1 over the trials (diagnostic): {rho:.2f}")
    click.echo(f"written: {spec.out / 'result'}/(best.yaml, trials.csv, tune.png, summary.json)")
