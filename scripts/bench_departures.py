"""What each of the authors'-code departures from the UNI-KD paper is worth (docs/method.md lists them).

    python scripts/bench_departures.py [--jobs 2] [--out runs/departures] [--teacher-cache runs/bench/teachers]

Every variant trains the UNI-KD student with the authors' settings (lr 1e-2, 10 epochs, their plain DANN
teacher, which all variants share), 10 UCI-HAR scenarios x 3 seeds; the variants differ only in which
departures are switched on: all five (the authors' code), each fix applied alone, and none (the paper).
Prints the 10-scenario mean macro-F1 of each variant and its difference from the authors' code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from unikd.data.scenario import PAPER_SCENARIOS
from unikd.methods import METHODS
from unikd.methods.unikd_kd import DEPARTURE_NAMES
from unikd.sweep import WorkerPool, run_sweep, summarise, write_results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/departures")
    ap.add_argument("--teacher-cache", default="runs/bench/teachers")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    authors = dict(METHODS.get("unikd-authors").defaults)
    variants = {"authors' code (all five departures)": list(DEPARTURE_NAMES)}
    for fix in DEPARTURE_NAMES:
        variants[f"fix {fix} only"] = [d for d in DEPARTURE_NAMES if d != fix]
    variants["paper (all five fixed)"] = []
    means = {}
    with WorkerPool(args.jobs) as pool:  # one set of workers for all variants
        for label, departures in variants.items():
            base = authors | {"data_dir": args.data_dir, "teacher_cache": args.teacher_cache,
                              "departures": departures}
            folder = Path(args.out) / (label.split(" (")[0].replace(" ", "_").replace("'", ""))
            print(f"{label}: {folder}", file=sys.stderr)
            rows = run_sweep(PAPER_SCENARIOS["ucihar"], seeds, ["unikd"], base, folder, progress=False, pool=pool)
            write_results(rows, folder)
            means[label] = summarise(rows)["unikd"]
    ref = means["authors' code (all five departures)"]["mean"][0]
    scenarios = [s for s in next(iter(means.values())) if s != "mean"]
    print("| variant | " + " | ".join(scenarios) + " | mean | vs authors' code |")
    print("|---" * (len(scenarios) + 3) + "|")
    for label, per in means.items():
        cells = [f"{per[s][0]:.1f}" for s in scenarios]
        print(f"| {label} | " + " | ".join(cells) + f" | {per['mean'][0]:.2f} | {per['mean'][0] - ref:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
