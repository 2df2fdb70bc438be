"""Benchmark: does the distillation hold beyond the paper's ten scenarios? (issue 11)

    python scripts/bench_generalise.py [--sets paper,ucihar-outside,hhar,ucihar-acc] [--seeds 0,1,2] [--jobs 2]
        [--config DATASET=FILE ...] [--int8] [--out runs/generalise]

For each named scenario set (`unikd-mcu scenarios`) it trains source-only, DANN and UNI-KD students (seeds 0-2 by
default; teachers shared and cached under OUT/teachers) and prints macro-F1 on the target test splits: each
method's mean, the UNI-KD student's teacher, the teacher-student gap, wins/ties/losses of UNI-KD against the DANN
student per run, and with --int8 the UNI-KD student converted to full-int8 TFLite and run by the golden TFLM
interpreter (the figure the targets are stated in).

`--config DATASET=FILE` gives the UNI-KD student's settings for one data set (the best.yaml that `unikd-mcu tune`
chose without target labels for that data set); a set's report names the file. The other methods keep their
defaults (the settings were searched for UNI-KD). Nothing here chooses a setting.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from unikd.config import read_config_file
from unikd.data.scenario import SCENARIO_SETS
from unikd.sweep import WorkerPool, run_sweep

METHODS = ["source-only", "dann", "unikd"]


def int8_macro_f1(run_dir: str, data_dir) -> float:
    """The run's student as full-int8 TFLite on the golden TFLM interpreter, macro-F1 on the target test split."""
    from codegen.convert import convert_student, representative_windows
    from codegen.evaluate import compare_float_int8
    from codegen.tflite_info import read_tflite
    from unikd.rundir import load_run

    run = load_run(run_dir)
    net = run.build_student()
    data = run.scenario_data(data_dir)
    model = convert_student(net, representative_windows(data, run.normaliser, run.source_normaliser))
    q = compare_float_int8(net, model, read_tflite(model), run.normaliser, data.target_test.X, data.target_test.y,
                           data.windows.num_classes)
    return q["int8"]["macro_f1"]


def mean_over_scenarios(rows: list[dict], method: str, key: str = "macro_f1") -> float:
    """Mean over scenarios of the mean over seeds, in %."""
    per = {}
    for r in rows:
        if r["method"] == method and r.get(key) is not None:
            per.setdefault(r["scenario"], []).append(100 * r[key])
    return float(np.mean([np.mean(v) for v in per.values()])) if per else float("nan")


def report(name: str, rows: list[dict], config_note: str) -> dict:
    dataset, role, pairs = SCENARIO_SETS[name]
    unikd = [r for r in rows if r["method"] == "unikd"]
    dann = {(r["scenario"], r["seed"]): r["macro_f1"] for r in rows if r["method"] == "dann"}
    diffs = [100 * (r["macro_f1"] - dann[(r["scenario"], r["seed"])])
             for r in unikd if (r["scenario"], r["seed"]) in dann]
    out = {m: mean_over_scenarios(rows, m) for m in METHODS}
    out["teacher"] = mean_over_scenarios([r | {"method": "t", "macro_f1": r["teacher_macro_f1"]} for r in unikd], "t")
    out["unikd_int8"] = mean_over_scenarios(unikd, "unikd", "int8_macro_f1")
    out["gap"] = out["teacher"] - out["unikd"]
    out["wins"] = sum(d > 0.5 for d in diffs)
    out["ties"] = sum(abs(d) <= 0.5 for d in diffs)
    out["losses"] = sum(d < -0.5 for d in diffs)
    print(f"\n## {name}: {dataset}, {len(pairs)} scenarios, role {role}; settings: {config_note}\n")
    print("| scenario | source-only | DANN student | UNI-KD student | UNI-KD int8 | its teacher |")
    print("|---|---|---|---|---|---|")
    for s, t in pairs:
        sc = f"{s}->{t}"
        cell = {m: mean_over_scenarios([r for r in rows if r["scenario"] == sc], m) for m in METHODS}
        tea = mean_over_scenarios([r | {"method": "t", "macro_f1": r["teacher_macro_f1"]} for r in unikd
                                   if r["scenario"] == sc], "t")
        q = mean_over_scenarios([r for r in unikd if r["scenario"] == sc], "unikd", "int8_macro_f1")
        print(f"| {sc} | {cell['source-only']:.2f} | {cell['dann']:.2f} | {cell['unikd']:.2f} | {q:.2f} | {tea:.2f} |")
    print(f"| **mean** | {out['source-only']:.2f} | {out['dann']:.2f} | {out['unikd']:.2f} | {out['unikd_int8']:.2f} "
          f"| {out['teacher']:.2f} |")
    print(f"\nUNI-KD vs DANN student per run (|diff| <= 0.5 = tie): {out['wins']} wins, {out['ties']} ties, "
          f"{out['losses']} losses; teacher - UNI-KD student: {out['gap']:.2f} points")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="paper,ucihar-outside,hhar,ucihar-acc")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--config", action="append", default=[], metavar="DATASET=FILE",
                    help="settings for one data set's runs, e.g. hhar_sa_part=runs/tune/.../best.yaml")
    ap.add_argument("--int8", action="store_true", help="also score the UNI-KD students as int8 on TFLM")
    ap.add_argument("--out", default="runs/generalise")
    ap.add_argument("--teacher-cache", default=None, help="[default: OUT/teachers]")
    args = ap.parse_args(argv)
    configs = {}
    for item in args.config:
        dataset, _, path = item.partition("=")
        configs[dataset] = (path, read_config_file(path))
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    summary = {}
    start = time.perf_counter()
    with WorkerPool(args.jobs) as pool:
        for name in args.sets.split(","):
            dataset, _, pairs = SCENARIO_SETS[name]
            path, settings = configs.get(dataset, ("defaults", {}))
            settings = {k: v for k, v in settings.items() if k not in ("method", "dataset")}
            base = {"dataset": dataset, "data_dir": args.data_dir,
                    "teacher_cache": args.teacher_cache or str(out / "teachers")}
            methods = args.methods.split(",")
            others = [m for m in methods if m != "unikd"]
            rows = run_sweep(pairs, seeds, others, base, out / name, pool=pool) if others else []
            if "unikd" in methods:
                rows += run_sweep(pairs, seeds, ["unikd"], base | settings, out / name, pool=pool)
            if args.int8 and "unikd" in methods:
                unikd = [r for r in rows if r["method"] == "unikd"]
                scores = pool.map(int8_macro_f1, [(r["run_dir"], args.data_dir) for r in unikd], desc="int8")
                for r, f1 in zip(unikd, scores):
                    r["int8_macro_f1"] = f1
            summary[name] = report(name, rows, path) | {"config": path}
            (out / name).mkdir(parents=True, exist_ok=True)
            (out / name / "rows.json").write_text(json.dumps(rows, indent=1))
    print(f"\ntotal wall clock {(time.perf_counter() - start) / 60:.1f} min")
    print("\n## summary\n\n| set | source-only | DANN | UNI-KD | UNI-KD int8 | teacher | gap | W/T/L vs DANN |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        print(f"| {name} | {s['source-only']:.2f} | {s['dann']:.2f} | {s['unikd']:.2f} | {s['unikd_int8']:.2f} | "
              f"{s['teacher']:.2f} | {s['gap']:.2f} | {s['wins']}/{s['ties']}/{s['losses']} |")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
