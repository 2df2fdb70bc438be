"""Teacher recipes side by side: DANN teachers over scenarios x seeds, one row per recipe.

    python scripts/bench_teachers.py [--jobs 2] [--scenarios paper|heldout] [--out runs/teachers-bench]
    python scripts/bench_teachers.py --recipe "plain DANN=teacher_im_weight=0" --recipe "IM 1.0=teacher_im_weight=1"

The UNI-KD student follows its teacher closely, so the teacher recipe sets the student's ceiling. This script
trains only teachers (cached under OUT/teachers, keyed by every teacher setting, so reruns re-score) and prints
macro-F1 on each target test split. `--scenarios heldout` uses ten UCI-HAR pairs outside the paper's ten, to check
that a recipe chosen on the paper's scenarios is not tuned to them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unikd.config import parse_setting
from unikd.data.scenario import PAPER_SCENARIOS
from unikd.sweep import WorkerPool, markdown_table, summarise

# ten source -> target pairs of UCI-HAR subjects that share no pair with the paper's ten
HELDOUT = [(1, 3), (4, 10), (5, 14), (8, 19), (11, 21), (13, 25), (15, 26), (17, 22), (19, 29), (23, 30)]

DEFAULT_RECIPES = {
    "DANN (per-domain inputs)": {"teacher_im_weight": 0.0, "teacher_rotate_degrees": 0.0},
    "DANN + information maximisation 0.3": {"teacher_rotate_degrees": 0.0},
    "DANN + information maximisation 0.3 + rotations up to 30 degrees (default)": {},
    "authors' teacher (lr 1e-2, 10 epochs)": {"method": "unikd-authors"},
}


def _parse_recipe(text: str) -> tuple[str, dict]:
    """'label=key=value,key=value' -> (label, {key: value}), each setting read as `--set` reads it."""
    label, _, spec = text.partition("=")
    return label.strip(), dict(parse_setting(item) for item in filter(None, spec.split(",")))


def _teacher(label: str, settings: dict, scenario: tuple[int, int], seed: int, data_dir, cache: str) -> dict:
    from unikd.config import resolve_config
    from unikd.methods import METHODS
    from unikd.train import get_teacher, prepare

    src, tgt = scenario
    cfg = resolve_config(settings | {"source": src, "target": tgt, "seed": seed, "data_dir": data_dir,
                                     "teacher_cache": cache, "progress": False})
    _, info = get_teacher(cfg, METHODS.get(cfg.method).teacher_kind or "dann", prepare(cfg))
    return {"method": label, "scenario": f"{src}->{tgt}", "seed": seed,
            "macro_f1": info["target_test"]["macro_f1"], "seconds": None if info["cached"] else info["seconds"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", action="append", default=[],
                    help="label=key=value[,key=value...] (any train setting); repeatable [default: three recipes]")
    ap.add_argument("--scenarios", choices=["paper", "heldout"], default="paper")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="runs/teachers-bench")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    recipes = dict(_parse_recipe(r) for r in args.recipe) or DEFAULT_RECIPES
    scenarios = PAPER_SCENARIOS["ucihar"] if args.scenarios == "paper" else HELDOUT
    seeds = [int(s) for s in args.seeds.split(",")]
    cache = str(Path(args.out) / "teachers")
    work = [(label, s, sc, seed, args.data_dir, cache) for label, s in recipes.items() for sc in scenarios
            for seed in seeds]
    with WorkerPool(args.jobs) as pool:
        rows = pool.map(_teacher, work, desc="teachers", unit="teacher")
    print(f"\nTeacher macro-F1 (%) on the target test split, {args.scenarios} scenarios, seeds {args.seeds}\n")
    print(markdown_table(summarise(rows), title="teacher recipe"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
