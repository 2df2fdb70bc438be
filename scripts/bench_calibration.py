"""One build for every wearer: mean macro-F1 over all UCI-HAR subjects of one student (default: the 2->11 build)
with the build's fixed constants, with on-device calibration, and with each subject's own constants.

    python scripts/bench_calibration.py --build build/ucihar_2to11_unikd_s0-qemu-m4 [--device] [--jobs 2]

Each subject's whole recording (its continuous segments, back to back) is the stream. Scores count only the windows
that start after the calibration's warm-up (the same windows for all three columns); the all-window scores of the
fixed and own constants are printed too. Without --device the calibrated column is the host's exact re-computation
of the device arithmetic (codegen.calibration), scored with TFLM's interpreter; with --device every subject is
streamed to the emulated board (qemu-m4, QEMU) with a host-session calibration, the device's predictions are
scored, and its int8 outputs are checked against the host re-computation window by window.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def _score(y, p, k):
    from unikd.metrics import macro_f1

    return 100.0 * macro_f1(y, p, k)


@functools.lru_cache(maxsize=None)
def _deployed(build: Path):
    """The build and its run's data, loaded once per worker process (not once per subject)."""
    from unikd_mcu.hil.report import load_deployed

    return load_deployed(build)


def host_subject(build: Path, subject: int, warmup: int | None = None) -> dict:
    from dataclasses import replace

    from codegen.golden import GoldenModel
    from unikd_mcu.hil.wearers import host_windows, own_normaliser, subject_stream

    dep = _deployed(build)
    m = dep.metadata if warmup is None else replace(dep.metadata, calib_warmup=warmup)
    ws = dep.data.windows
    stream = subject_stream(ws, subject, m.window, m.stride)
    golden = GoldenModel(dep.model)
    outs = {kind: golden.run(host_windows(stream, m, kind, own_normaliser(ws, subject)))
            for kind in ("fixed", "calibrated", "own")}
    return {"subject": subject, "labels": stream.labels, "starts": stream.starts,
            "outputs": {k: np.asarray(v) for k, v in outs.items()}, "samples": len(stream.samples)}


def device_subjects(build: Path, subjects: list[int]) -> dict[int, dict]:
    """Stream each subject to one emulated board with a host-session calibration; {subject: device results}."""
    from unikd_mcu.hil import protocol as P
    from unikd_mcu.hil.images import build_firmware
    from unikd_mcu.hil.report import load_deployed
    from unikd_mcu.hil.session import hil_session
    from unikd_mcu.hil.wearers import host_windows, subject_stream

    dep = load_deployed(build)
    m = dep.metadata
    elf = build_firmware(build / "make")
    out = {}
    with hil_session(m, elf=elf, timeout=10.0, chunk_samples=56) as s:
        c = s.client
        for subject in subjects:
            t0 = time.perf_counter()
            stream = subject_stream(dep.data.windows, subject, m.window, m.stride)
            host_q = host_windows(stream, m, "calibrated")
            c.set_mode(P.Mode.HOST)  # a new host session: window and session calibration restart
            c.calibrate(P.CalibAction.RESET, P.CalibContext.HOST)
            outputs, predicted, dumps_same, pos = [], [], 0, 0
            for si, seg in enumerate(stream.segments):
                got = c.stream_samples(seg.samples)
                ends = range(m.window, len(seg.samples) + 1, m.stride)
                for e in ends:
                    r = got.get(e)
                    outputs.append(np.frombuffer(r.outputs, np.int8) if r else np.zeros(m.num_classes, np.int8))
                    predicted.append(r.predicted if r and r.status == 0 else 255)
                end, dump = c.dump_window()
                last = pos + len(list(ends)) - 1
                dumps_same += int(end == len(seg.samples) and np.array_equal(dump, host_q[last]))
                pos += len(list(ends))
            st = c.status()
            out[subject] = {"outputs": np.stack(outputs), "predicted": np.asarray(predicted), "host_q": host_q,
                            "dumps_identical": dumps_same, "segments": len(stream.segments),
                            "host_calib_samples": st.host_calib_samples, "seconds": time.perf_counter() - t0,
                            "repairs": c.log.stream_repairs}
            print(f"  subject {subject}: {len(predicted)} windows streamed in {out[subject]['seconds']:.1f} s",
                  file=sys.stderr, flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=Path("build/ucihar_2to11_unikd_s0-qemu-m4"),
                    help="a qemu-m4 build (unikd-mcu build --board qemu-m4)")
    ap.add_argument("--subjects", default="all", help="comma-separated subject ids, or all")
    ap.add_argument("--device", action="store_true", help="stream every subject to the emulated board too")
    ap.add_argument("--jobs", type=int, default=2, help="processes (QEMU sessions with --device)")
    ap.add_argument("--warmup-seconds", type=float,
                    help="host re-computation with another warm-up than the build's (not with --device): to compare "
                         "warm-ups on development models")
    ap.add_argument("--json", type=Path, help="also write the per-subject figures here")
    args = ap.parse_args(argv)

    from unikd_mcu.hil.report import load_deployed

    from dataclasses import replace

    from codegen.calibration import warmup_samples

    dep = load_deployed(args.build)
    m = dep.metadata
    warmup = None
    if args.warmup_seconds is not None:
        if args.device:
            ap.error("--warmup-seconds re-computes on the host only; the device runs its build's warm-up")
        warmup = warmup_samples(args.warmup_seconds, m.sample_rate_hz, m.calib_refresh)
        m = replace(m, calib_warmup=warmup)
    subjects = sorted(set(dep.data.windows.domain.tolist())) if args.subjects == "all" else \
        [int(s) for s in args.subjects.split(",")]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        host = {r["subject"]: r for r in pool.map(host_subject, [args.build] * len(subjects), subjects,
                                                  [warmup] * len(subjects))}
        device = {}
        if args.device:
            shares = [subjects[i::args.jobs] for i in range(args.jobs)]
            for part in pool.map(device_subjects, [args.build] * len(shares), shares):
                device.update(part)
    k, warm = m.num_classes, m.calib_warmup
    rows = []
    for s in subjects:
        h = host[s]
        after = h["starts"] >= warm
        y = h["labels"]
        pred = {kind: o.argmax(1) for kind, o in h["outputs"].items()}
        row = {"subject": s, "windows": int(len(y)), "after_warmup": int(after.sum()),
               "fixed_all": _score(y, pred["fixed"], k), "own_all": _score(y, pred["own"], k),
               "fixed": _score(y[after], pred["fixed"][after], k),
               "calibrated": _score(y[after], pred["calibrated"][after], k),
               "own": _score(y[after], pred["own"][after], k)}
        if s in device:
            d = device[s]
            row["device_calibrated"] = _score(y[after], np.minimum(d["predicted"], k)[after], k)
            row["device_identical"] = int((d["outputs"] == h["outputs"]["calibrated"]).all(axis=1).sum())
            row["device_dumps_identical"] = f"{d['dumps_identical']}/{d['segments']}"
            row["device_seconds"] = round(d["seconds"], 1)
            row["device_repairs"] = d["repairs"]
        rows.append(row)
    seconds = time.perf_counter() - t0

    cols = ["fixed", "calibrated", "own", "fixed_all", "own_all"] + (["device_calibrated"] if device else [])
    print(f"model {m.dataset} {m.source}->{m.target} ({m.method}), {len(subjects)} subjects; warm-up {warm} samples "
          f"({warm / m.sample_rate_hz:.0f} s at {m.sample_rate_hz:g} Hz), refresh every {m.calib_refresh}; "
          f"scores: macro-F1 % on the windows after the warm-up (*_all: every window)")
    print("| subject | windows (after warm-up) | " + " | ".join(cols) + (" | device = host |" if device else " |"))
    print("|---:|---:|" + "---:|" * len(cols) + ("---:|" if device else ""))
    for r in rows:
        extra = f" {r['device_identical']}/{r['windows']}, dumps {r['device_dumps_identical']} |" if device else ""
        print(f"| {r['subject']} | {r['windows']} ({r['after_warmup']}) | "
              + " | ".join(f"{r[c]:.2f}" for c in cols) + " |" + extra)
    mean = {c: float(np.mean([r[c] for r in rows])) for c in cols}
    print("| **mean** | | " + " | ".join(f"**{mean[c]:.2f}**" for c in cols) + " |" + (" |" if device else ""))
    print(f"calibrated - own: {mean['calibrated'] - mean['own']:+.2f} points (target: within 1.0); "
          f"fixed - own: {mean['fixed'] - mean['own']:+.2f}")
    if device:
        same = sum(r["device_identical"] for r in rows)
        total = sum(r["windows"] for r in rows)
        print(f"device: {same}/{total} windows with int8 outputs identical to the host re-computation; "
              f"device mean {mean['device_calibrated']:.2f}; stream repairs {sum(r['device_repairs'] for r in rows)}")
    print(f"{seconds:.0f} s on {os.cpu_count()} cores")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "mean": mean, "warmup": warm, "seconds": seconds}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
