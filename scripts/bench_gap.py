"""Why a student falls below its teacher: measured on finished UNI-KD runs (a sweep's or tune's runs/ folder).

    python scripts/bench_gap.py RUNS_GLOB [RUNS_GLOB ...] [--label NAME ...]

For each run it reloads the student and its cached teacher and prints, per group of runs (one group per glob):
  teacher and student macro-F1 on the target test split, and their gap;
  agreement (macro-F1 of the student against the teacher's predictions) on the target's training windows, which
  the student was distilled on, and on the target's test windows, which it never saw: a student that agrees far
  more on the windows it was distilled on has memorised the teacher's answers rather than learnt its function;
  agreement on those training windows turned by a random 30-degree rotation (unseen variants of seen windows);
  the target's training windows per class (how many windows the distillation had) and the steps per epoch.

Uses target labels (it is an analysis of the gap, not a selection rule); run it on development scenarios.
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np
import torch

from unikd.augment import random_rotation, rotatable_triplets
from unikd.config import resolve_config
from unikd.metrics import macro_f1
from unikd.models import build_model
from unikd.rundir import load_run
from unikd.train import predict, prepare, steps_per_epoch, teacher_key


def measure(run_dir: Path, data_dir) -> dict:
    run = load_run(run_dir)
    cfg = resolve_config({k: v for k, v in run.config.items() if k != "out"} | {"data_dir": data_dir or
                                                                                 run.config.get("data_dir")})
    p = prepare(cfg)
    k = p.data.windows.num_classes
    folder = cfg.teacher_cache_dir() / teacher_key(cfg, "dann", p.data)
    teacher = build_model(cfg.teacher_model, p.xs.shape[1], k)
    teacher.load_state_dict(torch.load(folder / "teacher.pt", map_location="cpu", weights_only=True))
    student = run.build_student()
    torch.manual_seed(0)
    triplets, _ = rotatable_triplets(p.data.windows.channel_names)
    x_rot = random_rotation(p.xt, 30.0, triplets) if triplets else p.xt
    t_train, s_train = predict(teacher, p.xt), predict(student, p.xt)
    t_test, s_test = predict(teacher, p.x_test), predict(student, p.x_test)
    return {"teacher": macro_f1(p.y_test, t_test, k), "student": macro_f1(p.y_test, s_test, k),
            "agree_train": macro_f1(t_train, s_train, k), "agree_test": macro_f1(t_test, s_test, k),
            "agree_rotated": macro_f1(predict(teacher, x_rot), predict(student, x_rot), k),
            "target_windows": len(p.yt), "steps": steps_per_epoch(p, cfg.batch_size)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("globs", nargs="+", help="run folders, e.g. 'runs/sweep/runs/*_unikd_s0'")
    ap.add_argument("--label", action="append", default=[], help="a name per glob, in order")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    cols = ("teacher", "student", "gap", "agree_train", "agree_test", "agree_rotated", "target_windows", "steps")
    print("| runs | n | teacher F1 | student F1 | gap | agreement, distilled windows | agreement, unseen test "
          "windows | agreement, rotated distilled windows | target train windows | steps/epoch |")
    print("|---|" + "---|" * (len(cols) + 1))
    for i, pattern in enumerate(args.globs):
        dirs = sorted(Path(d) for d in glob.glob(pattern))
        if not dirs:
            print(f"no run matches {pattern!r}", file=sys.stderr)
            return 2
        rows = [measure(d, args.data_dir) for d in dirs]
        mean = {c: float(np.mean([r[c] for r in rows])) for c in cols if c != "gap"}
        mean["gap"] = mean["teacher"] - mean["student"]
        label = args.label[i] if i < len(args.label) else pattern
        cells = [f"{100 * mean[c]:.2f}" for c in cols[:6]] + [f"{mean['target_windows']:.0f}",
                                                             f"{mean['steps']:.1f}"]
        print(f"| {label} | {len(rows)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
