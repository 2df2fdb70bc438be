"""Pick a setting per wearer with the label-free rule: for each scenario, among candidate settings already trained by
`bench_generalise.py` (one output folder each, same scenario set and seeds), keep the one whose UNI-KD students agree
most with their teacher on the target's unlabelled windows (mean over seeds), and report the macro-F1 of the picks.

    python scripts/bench_pick.py --set paper runs/generalise-defaults runs/generalise-tuned [--rule teacher-agreement]

This is what a user can do for their own wearer without labels (train a few candidates, keep the one the rule
prefers); the target macro-F1 is read only to report the result.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from unikd.selection import RULES


def load(folder: Path, name: str) -> dict:
    """{scenario: [rows of its seeds]} of the UNI-KD runs, each row with its rule scores."""
    rows = json.loads((folder / name / "rows.json").read_text())
    out: dict = {}
    for r in rows:
        if r["method"] != "unikd":
            continue
        r["label_free"] = json.loads((Path(r["run_dir"]) / "metrics.json").read_text())["label_free"]
        out.setdefault(r["scenario"], []).append(r)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True, help="scenario set name (a subfolder of every candidate folder)")
    ap.add_argument("--rule", default="teacher-agreement", choices=list(RULES))
    ap.add_argument("candidates", nargs="+", help="bench_generalise.py output folders, one per setting")
    args = ap.parse_args(argv)
    cands = {c: load(Path(c), args.set) for c in args.candidates}
    scenarios = list(next(iter(cands.values())))
    print("| scenario | " + " | ".join(f"{Path(c).name}: rule / F1" for c in cands) + " | picked | F1 | int8 |")
    print("|---|" + "---|" * (len(cands) + 3))
    picked_f1, picked_q = [], []
    for sc in scenarios:
        stats = {}
        for c, per in cands.items():
            rows = per[sc]
            stats[c] = (float(np.mean([r["label_free"][args.rule] for r in rows])),
                        100 * float(np.mean([r["macro_f1"] for r in rows])),
                        100 * float(np.mean([r.get("int8_macro_f1", np.nan) for r in rows])))
        best = max(stats, key=lambda c: stats[c][0])
        picked_f1.append(stats[best][1])
        picked_q.append(stats[best][2])
        cells = " | ".join(f"{stats[c][0]:.4f} / {stats[c][1]:.2f}" for c in cands)
        print(f"| {sc} | {cells} | {Path(best).name} | {stats[best][1]:.2f} | {stats[best][2]:.2f} |")
    means = {c: float(np.mean([100 * np.mean([r["macro_f1"] for r in per[sc]]) for sc in scenarios]))
             for c, per in cands.items()}
    print(f"\nmean of the picks: {np.mean(picked_f1):.2f} float, {np.mean(picked_q):.2f} int8; each candidate alone: "
          + ", ".join(f"{Path(c).name} {m:.2f}" for c, m in means.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
