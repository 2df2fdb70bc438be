"""Benchmark the student on the emulated board (qemu-m4): instructions per inference against its MAC count,
HIL throughput in window mode (windows/s over the emulated UART) and the real-time factor of stream mode
(seconds of 50 Hz recording streamed per second of wall time). Prints a table; not a timed test.

    python scripts/bench_hil.py --build build/ucihar_2to11_unikd_s0-qemu-m4 [--run RUN] [--windows 60]

Instruction counts are exact under `-icount shift=0` up to the timer's resolution (40 instructions); throughput
and real-time factor are wall-clock figures and follow the host's load (the machine's other jobs included).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, required=True, help="output of `unikd-mcu build --board qemu-m4`")
    ap.add_argument("--run", type=Path, help="run directory (default: the one the build report names)")
    ap.add_argument("--windows", type=int, default=60, help="target test windows for the window-mode figures")
    ap.add_argument("--stream-windows", type=int, default=40, help="windows of the target recording to stream")
    ap.add_argument("--repeats", type=int, default=3, help="QEMU sessions (a fresh boot each); medians reported")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    from unikd_mcu.hil.images import build_firmware
    from unikd_mcu.hil.qemu import qemu_version
    from unikd_mcu.hil.report import load_deployed, stream_mode, window_mode
    from unikd_mcu.hil.session import hil_session

    dep = load_deployed(args.build, args.run)
    elf = build_firmware(args.build / "make")
    build_report = json.loads((args.build / "report.json").read_text())
    aot = build_report.get("aot") or {}
    macs = aot.get("macs")
    n = min(args.windows, len(dep.data.target_test))

    rows = []
    for rep in range(args.repeats):
        with hil_session(dep.metadata, elf=elf) as session:
            w = window_mode(session.client, dep, max_windows=n)
            s = stream_mode(session.client, dep, max_windows=args.stream_windows)
        assert w["identical_outputs"] == w["windows"] and s["identical"] == s["windows"], "device differs from host"
        rows.append({"instructions_median": w["inference"]["median"], "instructions_min": w["inference"]["min"],
                     "instructions_max": w["inference"]["max"], "windows_per_second": w["windows_per_second"],
                     "stream_rtf": s["real_time_factor"], "stream_windows_per_second": s["windows"] / s["seconds"]})
        print(f"  session {rep + 1}/{args.repeats}: {rows[-1]['windows_per_second']:.2f} windows/s, "
              f"RTF {rows[-1]['stream_rtf']:.2f}", file=sys.stderr)

    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    inst = med["instructions_median"]
    table = [
        ("model", f"{dep.metadata.dataset} {dep.metadata.source}->{dep.metadata.target} student, "
                  f"{dep.metadata.model_bytes:,} B int8, runtime {dep.metadata.runtime}"),
        ("emulator", f"{qemu_version()}, mps2-an386 Cortex-M4, -icount shift=0"),
        ("host", f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end"),
        ("MACs per inference", f"{macs:,}" if macs else "unknown"),
        ("instructions (QEMU) per inference", f"{inst:,.0f} (min {med['instructions_min']:,.0f}, "
                                              f"max {med['instructions_max']:,.0f}, over {n} windows)"),
        ("instructions per MAC", f"{inst / macs:.2f}" if macs else "-"),
        ("window mode throughput", f"{med['windows_per_second']:.2f} windows/s (median of {args.repeats} sessions: "
                                   + ", ".join(f"{r['windows_per_second']:.2f}" for r in rows) + ")"),
        ("stream mode real-time factor", f"{med['stream_rtf']:.2f} x real time at {dep.metadata.sample_rate_hz:g} Hz"
                                         f" ({med['stream_windows_per_second']:.2f} windows/s; sessions: "
                                         + ", ".join(f"{r['stream_rtf']:.2f}" for r in rows) + ")"),
    ]
    width = max(len(k) for k, _ in table)
    print(f"{'quantity':<{width}}  value")
    print(f"{'-' * width}  {'-' * 60}")
    for k, v in table:
        print(f"{k:<{width}}  {v}")
    if args.json:
        args.json.write_text(json.dumps({"macs": macs, "sessions": rows, "median": med,
                                         "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
