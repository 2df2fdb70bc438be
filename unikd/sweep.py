"""Scenarios x seeds x methods. Each (scenario, seed) job trains its teachers once and every student method
reuses them; jobs run in parallel worker processes (`jobs`), one torch thread each. WorkerPool is the one way the
sweep and the benchmarks (scripts/bench_*.py) run jobs in parallel."""

from __future__ import annotations

import contextlib
import csv
import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from tqdm import tqdm

from unikd.children import worker_init
from unikd.config import resolve_config
from unikd.outputs import atomic_dir
from unikd.rundir import RunError, load_run, write_json

ROW_KEYS = ("scenario", "seed", "method", "macro_f1", "accuracy", "teacher_macro_f1", "teacher_seconds",
            "student_seconds", "run_dir")


_MISSING = object()


def _finished_with(run_dir: Path, cfg, fingerprint: str) -> bool:
    """A complete run (its completion marker and every file it lists) trained with exactly this configuration on
    the same data: a sweep resumes instead of retraining it."""
    try:
        run = load_run(run_dir)
    except RunError:
        return False
    now = json.loads(json.dumps(cfg.to_dict()))
    # a setting the saved run predates makes it a different run: its default may have changed since
    return ({k: run.config.get(k, _MISSING) for k in now} == now
            and run.metrics.get("data_fingerprint") == fingerprint)


def _job(scenario: tuple[int, int], seed: int, methods: list[str], base: dict, out: Path) -> list[dict]:
    from unikd.data import load_dataset
    from unikd.data.scenario import scenario_data
    from unikd.train import train_run

    src, tgt = scenario
    cfg0 = resolve_config(base | {"source": src, "target": tgt, "seed": seed})
    data = scenario_data(load_dataset(cfg0.dataset, cfg0.data_dir), src, tgt)
    rows = []
    for method in methods:
        cfg = resolve_config(base | {"source": src, "target": tgt, "seed": seed, "method": method,
                                     "progress": False,
                                     "teacher_cache": base.get("teacher_cache") or str(out / "teachers")})
        cfg.out = str(out / "runs" / cfg.run_name())
        run_dir = Path(cfg.out)
        if not _finished_with(run_dir, cfg, data.fingerprint()):
            run_dir = train_run(cfg, data)
        m = json.loads((run_dir / "metrics.json").read_text())
        t = m.get("teacher") or {}
        rows.append({"scenario": f"{src}->{tgt}", "seed": seed, "method": method, "macro_f1": m["macro_f1"],
                     "accuracy": m["accuracy"], "teacher_macro_f1": t.get("macro_f1"),
                     "teacher_seconds": None if t.get("cached", True) else t.get("seconds"),
                     "student_seconds": m["student_seconds"], "run_dir": str(run_dir)})
    return rows


class WorkerPool:
    """Runs jobs (picklable module-level functions) in `jobs` worker processes, or in this process when jobs <= 1.
    The workers start on the first parallel map and serve every later one until close() (or the end of a with
    block), so a benchmark running several sweeps pays the workers' start-up (importing torch) once."""

    def __init__(self, jobs: int = 1):
        self.jobs = jobs
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(abort=exc_type is not None)

    def close(self, abort: bool = False) -> None:
        """Stop the workers: after their jobs, or at once (`abort`: an error, Ctrl-C or SIGTERM in this process;
        a worker stopped this way removes its half-written run, see unikd.children)."""
        if self._executor is None:
            return
        if abort:
            for proc in list(getattr(self._executor, "_processes", {}).values()):
                proc.terminate()
        self._executor.shutdown(wait=True, cancel_futures=abort)
        self._executor = None

    def map(self, fn, arg_tuples, desc: str | None = None, unit: str = "job", progress: bool = True) -> list:
        """[fn(*args) for args in arg_tuples], in that order whatever order the workers finish in."""
        arg_tuples = list(arg_tuples)
        results: list = [None] * len(arg_tuples)
        bar = tqdm(total=len(arg_tuples), desc=desc, unit=unit, disable=not progress)
        try:
            if self.jobs <= 1:
                for i, args in enumerate(arg_tuples):
                    results[i] = fn(*args)
                    bar.update()
                return results
            if self._executor is None:
                # spawn, not fork: forking a process that already runs torch's thread pools can deadlock
                self._executor = ProcessPoolExecutor(self.jobs, mp_context=mp.get_context("spawn"),
                                                     initializer=worker_init)
            futures = {self._executor.submit(fn, *args): i for i, args in enumerate(arg_tuples)}
            for f in as_completed(futures):
                results[futures[f]] = f.result()
                bar.update()
            return results
        finally:
            bar.close()


def run_sweep(scenarios: list[tuple[int, int]], seeds: list[int], methods: list[str], base: dict, out: Path,
              jobs: int = 1, progress: bool = True, pool: WorkerPool | None = None) -> list[dict]:
    """One row per (scenario, seed, method), in that nesting order. `pool`: run the jobs there (`jobs` is then
    ignored), else in a pool of `jobs` workers made for this sweep."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = [(sc, seed, methods, base, out) for sc in scenarios for seed in seeds]
    with contextlib.nullcontext(pool) if pool is not None else WorkerPool(jobs) as p:
        per_job = p.map(_job, work, desc="sweep", unit="scenario-seed", progress=progress)
    return [row for rows in per_job for row in rows]


def summarise(rows: list[dict], key: str = "macro_f1") -> dict:
    """{method: {scenario: (mean, std) in %, ..., "mean": (mean of scenario means, mean of scenario stds)}}."""
    table: dict[str, dict] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        per = {}
        for sc in dict.fromkeys(r["scenario"] for r in rows):
            v = [100 * r[key] for r in rows if r["method"] == method and r["scenario"] == sc and r[key] is not None]
            if v:
                per[sc] = (float(np.mean(v)), float(np.std(v)))
        means = [m for m, _ in per.values()]
        per["mean"] = (float(np.mean(means)), float(np.mean([s for _, s in per.values()])))
        table[method] = per
    return table


def markdown_table(table: dict, title: str = "macro-F1 (%)") -> str:
    scenarios = [k for k in next(iter(table.values())) if k != "mean"]
    head = f"| {title} | " + " | ".join(scenarios) + " | mean |"
    lines = [head, "|" + "---|" * (len(scenarios) + 2)]
    for method, per in table.items():
        cells = [f"{per[s][0]:.2f} ± {per[s][1]:.2f}" if s in per else "" for s in scenarios + ["mean"]]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(rows: list[dict], out: Path, extra_tables: dict | None = None) -> dict:
    """results.csv (one row per run), summary.md, summary.json, summary.png, written atomically as a set."""
    from unikd.plots import plot_sweep

    out = Path(out)
    table = summarise(rows)
    teacher_rows = [r | {"method": f"teacher ({r['method']})", "macro_f1": r["teacher_macro_f1"]}
                    for r in rows if r["teacher_macro_f1"] is not None]
    with atomic_dir(out / "summary", "sweep summary") as tmp:
        with open(tmp / "results.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=ROW_KEYS)
            w.writeheader()
            w.writerows(rows)
        md = "# Sweep: macro-F1 on the target test split (mean ± std over seeds)\n\n" + markdown_table(table)
        if teacher_rows:
            md += "\n\nTeachers used by each method:\n\n" + markdown_table(summarise(teacher_rows))
        (tmp / "summary.md").write_text(md + "\n")
        write_json(tmp / "summary.json", {"macro_f1": table})
        plot_sweep(table, tmp / "summary.png")
    return table
