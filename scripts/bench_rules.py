"""How well each label-free selection rule ranks candidate settings: Spearman's rank correlation with the real
target macro-F1, per tune folder (one data set each) or per group of sweep folders (one setting each).

    python scripts/bench_rules.py --tune runs/tune/tune_hhar_sa_part_unikd [--tune ...]
    python scripts/bench_rules.py --variants 'hhar dev' 'runs/dev/*/hhar-dev/runs'

A tune folder's candidates are its trials (trials/<digest>/runs/*); a variants glob names one folder per candidate
setting. Each candidate's score is the mean over its runs of the rule (metrics.json "label_free") and of the target
macro-F1, which only this analysis reads.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

import numpy as np

from unikd.selection import RULES, rank_correlation


def candidate(folder: Path, method: str) -> dict | None:
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*/metrics.json"))]
    runs = [m for m in runs if "label_free" in m and m.get("method") == method]
    if not runs:
        return None
    out = {"runs": len(runs), "target": float(np.mean([m["macro_f1"] for m in runs]))}
    for rule in RULES:
        values = [m["label_free"][rule] for m in runs]
        out[rule] = float(np.mean(values)) if None not in values else float("nan")
    return out


def row(label: str, cands: list[dict]) -> str:
    cands = [c for c in cands if c]
    rhos = [rank_correlation([c[r] for c in cands], [c["target"] for c in cands]) for r in RULES]
    best = max(cands, key=lambda c: c["target"])
    picked = {r: max(cands, key=lambda c: c[r]) for r in RULES}
    regret = [100 * (best["target"] - picked[r]["target"]) for r in RULES]
    return (f"| {label} | {len(cands)} | " + " | ".join(f"{x:.2f}" for x in rhos) + " | "
            + " | ".join(f"{x:.2f}" for x in regret) + " |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tune", action="append", default=[], help="a tune output folder (holds trials/)")
    ap.add_argument("--variants", nargs=2, action="append", default=[], metavar=("LABEL", "GLOB"),
                    help="a label and a glob of run folders' parents, one per candidate setting")
    ap.add_argument("--method", default="unikd", help="the runs scored (a folder may hold several methods)")
    args = ap.parse_args(argv)
    names = list(RULES)
    print("| candidates | n | " + " | ".join(f"rho {r}" for r in names) + " | "
          + " | ".join(f"points lost picking by {r}" for r in names) + " |")
    print("|---|---|" + "---|" * (2 * len(names)))
    for folder in args.tune:
        trials = sorted((Path(folder) / "trials").glob("*/runs"))
        if not trials:
            print(f"{folder}: no trials/*/runs", file=sys.stderr)
            return 2
        print(row(f"tune trials: {Path(folder).name}", [candidate(t, args.method) for t in trials]))
    for label, pattern in args.variants:
        folders = sorted(Path(p) for p in glob.glob(pattern))
        if not folders:
            print(f"{pattern}: matches nothing", file=sys.stderr)
            return 2
        print(row(label, [candidate(f, args.method) for f in folders]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
