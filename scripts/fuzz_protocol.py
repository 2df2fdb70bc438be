"""Longer property run of the host's frame and payload decoders (the CI test runs 3,000 rounds with one seed) and,
with --c, of the device's frame handling: the fake device's core built for the host with sanitizers, fed random
streams over its serial link and with receive gaps (unikd_mcu/hil/fuzz_device.py; the CI test feeds 4,200 pieces).

    python scripts/fuzz_protocol.py [--rounds 200000] [--seed 1] [--c [--pieces 200000]]

Prints the inputs run and how often each state was reached (host: frames found, bad frames dropped, bytes skipped,
partial frames held, payloads decoded or refused per message; device: replies by request and reply type, errors
by code, partial frames dropped at gaps). Exits 1 on the first broken property, printing the seed so the input can
be drawn again (the same --seed and --rounds or --pieces)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from unikd_mcu.hil import fuzz, fuzz_device

REPO = Path(__file__).resolve().parents[1]
BLOCK = 1000  # host rounds per seed
# device pieces per seed: one serial run and four timed runs (a new process each, so a block is a few MB of input)
SERIAL_PARTS, TIMED_RUNS, TIMED_PARTS = 3000, 4, 300
DEVICE_BLOCK = SERIAL_PARTS + TIMED_RUNS * TIMED_PARTS


def print_table(what: str, total: Counter, took: float) -> None:
    print(f"\n{what}: {total['inputs']:,} inputs in {took:.1f} s, no property broken\n")
    print("| state | count |\n|---|---:|")
    for key, n in sorted(total.items()):
        if key != "inputs":
            print(f"| {key} | {n:,} |")


def run_blocks(what: str, n_blocks: int, seed: int, run_one) -> Counter | None:
    """run_one(seed) for seeds seed, seed + 1, ...; the states summed, or None (after saying which seed) when a
    property broke."""
    total = Counter()
    start = time.perf_counter()
    for i in tqdm(range(n_blocks), unit="block", desc=what):
        try:
            total.update(run_one(seed + i))
        except AssertionError as e:
            print(f"{what}: property broken with seed {seed + i} (block {i}): {e}", file=sys.stderr)
            return None
    print_table(what, total, time.perf_counter() - start)
    return total


def build_checked_device(folder: Path) -> Path:
    """The fake device (tests/fake_device.py, as the test suite's host_device) built with fuzz_device.SANITIZE."""
    sys.path.insert(0, str(REPO / "tests"))  # the fake model and its builder live with the tests
    from fake_device import build_fake_device

    return build_fake_device(folder, make_vars=fuzz_device.BUILD_VARS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=200_000, help="host rounds (3 inputs each) [200000]; 0: none")
    ap.add_argument("--seed", type=int, default=1, help="first seed; each block of rounds or pieces takes the next")
    ap.add_argument("--c", action="store_true", help="also fuzz the C core on the host board, with sanitizers")
    ap.add_argument("--pieces", type=int, default=200_000,
                    help=f"device stream pieces with --c [200000], in blocks of {DEVICE_BLOCK:,} per seed")
    args = ap.parse_args(argv)
    rounds = args.rounds
    if rounds and run_blocks("host decoders", -(-rounds // BLOCK), args.seed,
                             lambda seed: fuzz.run(min(BLOCK, rounds - (seed - args.seed) * BLOCK), seed)) is None:
        return 1
    if args.c:
        with tempfile.TemporaryDirectory() as tmp:
            exe = build_checked_device(Path(tmp) / "device")
            states = run_blocks("device (C core, sanitizers)", -(-args.pieces // DEVICE_BLOCK), args.seed,
                                lambda seed: fuzz_device.run(exe, seed, SERIAL_PARTS, TIMED_RUNS, TIMED_PARTS))
        if states is None:
            return 1
        unreached = [s for s in fuzz_device.EXPECTED_STATES if not states[s]]
        if unreached:
            print(f"device: never reached {', '.join(unreached)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
