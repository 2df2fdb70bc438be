"""`unikd-mcu tune`: search a method's distillation settings for one data set with Optuna, scored by a label-free
selection rule (unikd/selection.py), never by target labels.

One trial = one candidate setting, trained on every (scenario, seed) of the tuning set through the sweep machinery
(teachers trained once and shared by every trial; a run already finished with the same settings is reused, so an
interrupted trial resumes where it stopped). The trial's value is the mean of the rule's score over those runs.

The study lives in an Optuna storage: a SQLite file in the output folder by default, or any SQLAlchemy RDB URL
(PostgreSQL, MySQL) so that several machines pointed at the same URL and study name work on one search. A study
is resumable: started again, it runs only the trials still missing; trials left running by a process that died are
noticed by their stopped heartbeat and run again.

Each run's target macro-F1 is kept beside the rule's score as a diagnostic (`target_macro_f1` user attribute) so
that the benchmark can measure how well the rule ranks settings; the search itself never reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from unikd.config import resolve_config
from unikd.errors import UserError
from unikd.outputs import atomic_dir
from unikd.selection import check_rule, rank_correlation


@dataclass(frozen=True)
class Param:
    """One searched setting: a float range (log-scaled or not) or a list of choices."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None

    def suggest(self, trial, name: str):
        if self.choices is not None:
            return trial.suggest_categorical(name, list(self.choices))
        return trial.suggest_float(name, self.low, self.high, log=self.log)


# Per method: the distillation settings searched and their ranges (teacher settings are not searched: every trial
# shares the scenario's teacher, which keeps a trial at the cost of students only).
SEARCH_SPACES: dict[str, dict[str, Param]] = {
    "unikd": {
        "temperature": Param(1.0, 8.0, log=True),
        "beta_min": Param(0.0, 0.5),
        "beta_max": Param(0.5, 1.0),
        "feature_kd_weight": Param(0.1, 3.0, log=True),
        "lr": Param(3e-4, 3e-3, log=True),
        "student_dropout": Param(0.0, 0.5),
    },
}
SEARCH_SPACES["kd"] = {k: SEARCH_SPACES["unikd"][k] for k in ("temperature", "lr", "student_dropout")}


@dataclass
class TuneSpec:
    base: dict  # TrainConfig settings shared by every trial (dataset, method, data_dir, ...)
    scenarios: list[tuple[int, int]]
    seeds: list[int]
    trials: int
    rule: str
    out: Path
    storage: str | None = None  # default: sqlite:///<out>/study.db
    study_name: str | None = None  # default: tune_<dataset>_<method>
    sampler_seed: int = 0
    jobs: int = 1
    progress: bool = True

    @property
    def method(self) -> str:
        return self.base.get("method", "unikd")

    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.out / 'study.db').resolve()}"

    def name(self) -> str:
        if self.study_name:
            return self.study_name
        dataset = Path(str(self.base.get("dataset", "ucihar"))).stem
        return f"tune_{dataset}_{self.method}"


def space_for(method: str) -> dict[str, Param]:
    if method not in SEARCH_SPACES:
        raise UserError(f"no search space for method {method!r}; tune knows: {', '.join(SEARCH_SPACES)}")
    return SEARCH_SPACES[method]


def _optuna():
    try:
        import optuna
    except ImportError:  # pragma: no cover - optuna is a dependency; a broken install is the only way here
        raise UserError("tune needs Optuna: pip install -e . (it is one of unikd-mcu's dependencies)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def open_study(spec: TuneSpec):
    """Create or load the study. SQLite and other RDB storages get a heartbeat, so a trial whose process died is
    marked failed and retried once by the next process that works on the study."""
    optuna = _optuna()
    url = spec.storage_url()
    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # the heartbeat API is marked experimental; it is what resume needs
                warnings.simplefilter("ignore")
                storage = optuna.storages.RDBStorage(
                    url, heartbeat_interval=30, grace_period=120,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
            break
        except Exception as e:  # an unreachable server, a bad URL, a missing driver: say which URL
            # two processes creating the same new storage at once: one of them loses the race to write the schema
            # (IntegrityError on its version table); once the other has written it, opening succeeds
            racing = type(e).__name__ in ("IntegrityError", "OperationalError") and attempt < 4
            if not racing:
                raise UserError(f"cannot open the Optuna storage {url!r}: {e}") from None
            time.sleep(0.5 * (attempt + 1))
    sampler = optuna.samplers.TPESampler(seed=spec.sampler_seed, n_startup_trials=min(8, max(spec.trials // 3, 1)))
    study = optuna.create_study(study_name=spec.name(), storage=storage, direction="maximize", sampler=sampler,
                                load_if_exists=True)
    recorded = study.user_attrs.get("spec")
    mine = _spec_record(spec)
    if recorded is None:
        study.set_user_attr("spec", mine)
        # the first trial is the current setting, so the search can only improve on it under the rule
        current = resolve_config(spec.base)
        study.enqueue_trial({name: getattr(current, name) for name in space_for(spec.method)})
    elif recorded != mine:
        changed = sorted(k for k in mine if recorded.get(k) != mine[k])
        raise UserError(f"study {spec.name()!r} in {url} was started with other settings ({', '.join(changed)} "
                        f"differ); give another --study-name or the same settings")
    return study


def _spec_record(spec: TuneSpec) -> dict:
    """What makes two tune commands the same search (the things a trial's value depends on)."""
    base = {k: v for k, v in spec.base.items() if k not in ("data_dir", "threads", "progress", "teacher_cache")}
    return json.loads(json.dumps({"base": base, "scenarios": [list(s) for s in spec.scenarios], "seeds": spec.seeds,
                                  "rule": spec.rule, "space": sorted(space_for(spec.method))}))


def _trial_folder(spec: TuneSpec, params: dict) -> Path:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    return spec.out / "trials" / digest


def run_trial(spec: TuneSpec, params: dict, pool) -> dict:
    """Train the candidate `params` on every (scenario, seed); returns the rule's mean and per-run records."""
    from unikd.sweep import run_sweep

    base = spec.base | params | {"teacher_cache": spec.base.get("teacher_cache") or str(spec.out / "teachers")}
    rows = run_sweep(spec.scenarios, spec.seeds, [spec.method], base, _trial_folder(spec, params), pool=pool,
                     progress=False)
    runs = []
    for r in rows:
        m = json.loads((Path(r["run_dir"]) / "metrics.json").read_text())
        score = m["label_free"][spec.rule]
        if score is None:
            raise UserError(f"rule {spec.rule!r} does not apply to {r['run_dir']} (no teacher or no source test "
                            f"windows); choose another --rule")
        runs.append({"scenario": r["scenario"], "seed": r["seed"], "rule": score, "target_macro_f1": m["macro_f1"]})
    return {"value": float(np.mean([x["rule"] for x in runs])),
            "target_macro_f1": float(np.mean([x["target_macro_f1"] for x in runs])), "runs": runs}


def tune(spec: TuneSpec) -> dict:
    """Run the study to `spec.trials` finished trials, then write best.yaml, trials.csv, tune.png and
    summary.json into spec.out. Returns the summary."""
    from unikd.sweep import WorkerPool

    check_rule(spec.rule)
    space = space_for(spec.method)
    for name in ("scenarios", "seeds"):
        if not getattr(spec, name):
            raise UserError(f"tune needs at least one of {name}")
    resolve_config(spec.base)  # bad settings fail here, before any training
    spec.out.mkdir(parents=True, exist_ok=True)
    optuna = _optuna()
    study = open_study(spec)

    def done() -> int:
        return sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False))

    bar = tqdm(total=spec.trials, initial=min(done(), spec.trials), desc=f"tune {spec.name()}", unit="trial",
               disable=not spec.progress)
    with WorkerPool(spec.jobs) as pool:
        def objective(trial):
            params = {name: p.suggest(trial, name) for name, p in space.items()}
            result = run_trial(spec, params, pool)
            trial.set_user_attr("target_macro_f1", result["target_macro_f1"])
            trial.set_user_attr("runs", result["runs"])
            return result["value"]

        def tick(study_, trial):
            bar.n = min(done(), spec.trials)
            if study_.best_trials:
                bar.set_postfix(best=f"{study_.best_value:.4f}")
            bar.refresh()

        # each process works until the study (shared by every process on the storage) holds enough trials
        with contextlib.closing(bar):
            while done() < spec.trials:
                study.optimize(objective, n_trials=1, callbacks=[tick], catch=())
    return write_outputs(spec, study)


def write_outputs(spec: TuneSpec, study) -> dict:
    """best.yaml (a config file train/sweep accept), trials.csv, tune.png, summary.json: written as one set."""
    from unikd.plots import plot_tune

    optuna = _optuna()
    trials = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial
    rule = [t.value for t in trials]
    truth = [t.user_attrs.get("target_macro_f1", math.nan) for t in trials]
    rho = rank_correlation(rule, truth) if not any(math.isnan(v) for v in truth) else math.nan
    base = {k: v for k, v in spec.base.items() if k not in ("data_dir", "teacher_cache", "progress")}
    best_config = base | best.params
    summary = {"study": spec.name(), "storage": spec.storage_url(), "rule": spec.rule,
               "scenarios": [f"{s}->{t}" for s, t in spec.scenarios], "seeds": spec.seeds,
               "trials": len(trials), "best_trial": best.number, "best_rule_score": best.value,
               "best_params": best.params,
               # diagnostic only (needs target labels, which tune never reads to choose): how well the rule ranked
               "rank_correlation_with_target_macro_f1": rho,
               "best_trial_target_macro_f1": best.user_attrs.get("target_macro_f1")}
    with atomic_dir(spec.out / "result", "tune result") as tmp:
        header = (f"# unikd-mcu tune: study {spec.name()}, rule {spec.rule}, trial {best.number} of {len(trials)}\n"
                  f"# use with: unikd-mcu train --config best.yaml (or sweep --config best.yaml)\n")
        (tmp / "best.yaml").write_text(header + yaml.safe_dump(best_config, sort_keys=True))
        with open(tmp / "trials.csv", "w") as f:
            names = sorted(space_for(spec.method))
            f.write(",".join(["trial", "rule_score", "target_macro_f1"] + names) + "\n")
            for t, r, y in zip(trials, rule, truth):
                f.write(",".join([str(t.number), f"{r:.6f}", f"{y:.6f}"] + [repr(t.params[n]) for n in names]) + "\n")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        plot_tune([t.number for t in trials], rule, truth, spec.rule, rho, tmp / "tune.png",
                  f"{spec.name()}: {len(trials)} trials")
    return summary
