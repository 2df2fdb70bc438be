"""Longer property run of the host's frame and payload decoders (the CI test runs 3,000 rounds with one seed).

    python scripts/fuzz_protocol.py [--rounds 200000] [--seed 1]

Prints the inputs run and how often each state was reached (frames found, bad frames dropped, bytes skipped,
partial frames held, payloads decoded or refused per message). Exits 1 on the first broken property, printing the
seed and round so the input can be drawn again."""

from __future__ import annotations

import argparse
import sys
import time

from tqdm import tqdm

from unikd_mcu.hil import fuzz


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=200_000, help="rounds (3 inputs each) [200000]")
    ap.add_argument("--seed", type=int, default=1, help="first seed; each block of 1,000 rounds takes the next")
    args = ap.parse_args(argv)
    total = fuzz.Counter()
    start = time.perf_counter()
    block = 1000
    for i in tqdm(range(0, args.rounds, block), unit="k rounds", desc="fuzz"):
        seed = args.seed + i // block
        try:
            total.update(fuzz.run(min(block, args.rounds - i), seed))
        except AssertionError as e:
            print(f"property broken with seed {seed} (rounds {i}..{i + block}): {e}", file=sys.stderr)
            return 1
    took = time.perf_counter() - start
    print(f"\n{total['inputs']:,} inputs in {took:.1f} s, no property broken\n")
    print("| state | count |\n|---|---:|")
    for key, n in sorted(total.items()):
        if key != "inputs":
            print(f"| {key} | {n:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
