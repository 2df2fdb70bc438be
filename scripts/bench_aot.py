"""Benchmark the interpreter-free aot runtime against TFLM on a trained run's student (and a teacher-sized net).
Prints a Markdown table; every figure is measured here, nothing is copied from earlier runs.

    python scripts/bench_aot.py [--run runs/ucihar_2to11_unikd_s0] [--data-dir DIR] [--no-teacher] [--windows 30]

Each model goes through the deploy path of `unikd-mcu build --board qemu-m4` (codegen.build: Keras mirror, int8
conversion calibrated on the run's windows, TFLM arena measured by codegen.golden, aot C generated, firmware
compiled with arm-none-eabi-gcc). The teacher is the run's cached trained teacher when the teacher cache holds it
(<run>/../teachers, as `unikd-mcu train` leaves it), else a randomly initialised net of the teacher's architecture
(the table says which); for the build it is put in a scratch run directory beside the run's own config and
normaliser. Per model:

- MACs per inference: the aot generator's count (full kernel windows).
- instructions (QEMU) per inference: median over the first --windows target test windows, timed by the firmware
  around unikd_runtime_invoke on the emulated board (unikd_mcu.hil: QEMU mps2-an386, -icount shift=0, resolution 40).
- RAM: the aot static activation plan vs TFLM's arena (recorded total, and its head = its activation plan).
- flash: .text + .rodata of the compiled aot objects (runtime/*.o: kernels, weights, layer parameters; every
  kernel, before the linker drops unused ones) vs the .tflite array the tflm runtime would carry.
- bit-exact: target test windows whose int8 outputs equal TFLM's, on the host (the build's firmware core + aot
  runtime built for the host board, firmware/boards/host, fed over the serial protocol) and on the emulated board.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_RUN = Path("runs/ucihar_2to11_unikd_s0")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def find_teacher(run) -> tuple[dict | None, str]:
    """The run's trained teacher (state_dict) from its teacher cache, or None; and how it was found."""
    import torch

    from unikd.config import TrainConfig
    from unikd.train import teacher_key

    kind = (run.metrics.get("teacher") or {}).get("kind")
    if kind is None:
        return None, f"method {run.config.get('method')} trains no teacher"
    fields = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: v for k, v in run.config.items() if k in fields})
    cache = Path(cfg.teacher_cache) if cfg.teacher_cache else run.path.parent / "teachers"
    path = cache / teacher_key(cfg, kind, run.scenario_data()) / "teacher.pt"
    if not path.is_file():
        log(f"no cached teacher at {path}")
        return None, "no trained teacher in the run's teacher cache"
    log(f"teacher: {path}")
    return torch.load(path, map_location="cpu", weights_only=True), f"{kind}, trained"


def teacher_run_dir(run, scratch: Path) -> tuple[Path, str]:
    """A scratch run directory holding the teacher-sized net in place of the student, for codegen.build."""
    from unikd.models import build_model
    from unikd.rundir import write_run

    name = run.config.get("teacher_model", "cnn-teacher")
    net = build_model(name, run.facts.channels, run.facts.num_classes)
    state, how = find_teacher(run)
    if state is not None:
        net.load_state_dict(state)
        label = f"teacher {name} ({how})"
    else:
        label = f"teacher-sized {name} (random-initialised weights: {how})"
    # the run's own settings, data facts and normalisers: the teacher is calibrated and scored as the student is
    out = write_run(scratch / f"{run.path.name}_teacher", config=run.config, model_name=name, facts=run.facts,
                    student=net, normaliser=run.normaliser, source_normaliser=run.source_normaliser,
                    metrics=run.metrics)
    return out, label


def build_qemu(run_dir: Path, out: Path, data_dir: Path | None) -> dict:
    """`unikd-mcu build --board qemu-m4 --runtime aot` for run_dir into out; returns its report.json."""
    from codegen.build import BuildRequest, Progress, build

    build(BuildRequest(board="qemu-m4", run=run_dir, runtime="aot", out=out, data_dir=data_dir),
          Progress(echo=log))
    return json.loads((out / "report.json").read_text())


def aot_object_flash(make_dir: Path) -> int:
    """.text* + .rodata* bytes of the compiled aot runtime objects (arm-none-eabi-size, SysV format)."""
    objs = sorted((make_dir / "build" / "runtime").glob("*.o"))
    if not objs:
        raise SystemExit(f"no compiled aot objects under {make_dir / 'build' / 'runtime'}")
    text = subprocess.run(["arm-none-eabi-size", "-A", *map(str, objs)], capture_output=True, text=True,
                          check=True).stdout
    total = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit() and parts[0].startswith((".text", ".rodata")):
            total += int(parts[1])
    return total


def host_bit_exact(dep, scratch: Path) -> tuple[int, int]:
    """The build's firmware core, model and aot runtime built for the host board (firmware/boards/host, by its
    Makefile), one WINDOW request per target test window over the serial protocol; (windows whose outputs equal
    TFLM's, windows)."""
    from unikd_mcu.hil.images import build_image, run_host_windows

    make = dep.build_dir / "make"
    parts = {d: sorted(p for p in (make / d).iterdir() if p.suffix in (".c", ".h"))
             for d in ("core", "model", "runtime")}
    exe = build_image("host", scratch / f"host_{dep.build_dir.name}", parts)
    q = dep.quantise(dep.data.target_test.X)
    _, results = run_host_windows(exe, q)
    host = dep.golden(q)
    same = sum(i in results and results[i].status == 0 and np.frombuffer(results[i].outputs, np.int8).tolist()
               == host[i].tolist() for i in range(len(q)))
    return int(same), len(q)


def qemu_figures(dep, windows: int) -> dict:
    """window_mode of unikd_mcu.hil on the emulated board, over the first `windows` target test windows."""
    from unikd_mcu.hil.images import build_firmware
    from unikd_mcu.hil.report import window_mode
    from unikd_mcu.hil.session import hil_session

    elf = build_firmware(dep.build_dir / "make")
    with hil_session(dep.metadata, elf=elf, timeout=30.0) as s:
        return window_mode(s.client, dep, max_windows=windows)


def measure(label: str, run_dir: Path, out: Path, data_dir: Path | None, windows: int, scratch: Path) -> dict:
    from unikd_mcu.hil.report import load_deployed

    log(f"== {label}")
    report = build_qemu(run_dir, out, data_dir)
    dep = load_deployed(out, run_dir, data_dir)
    host_same, host_n = host_bit_exact(dep, scratch)
    log(f"host aot vs TFLM: {host_same}/{host_n} identical")
    w = qemu_figures(dep, windows)
    log(f"qemu: {w['identical_outputs']}/{w['windows']} identical, {w['inference']}")
    aot, arena = report["aot"], report["tflm_arena"]
    return {"label": label, "macs": aot["macs"], "instructions": w["inference"]["median"],
            "instructions_min": w["inference"]["min"], "instructions_max": w["inference"]["max"],
            "qemu_windows": w["windows"], "qemu_identical": w["identical_outputs"],
            "aot_ram": aot["ram_bytes"], "tflm_arena": arena["recorded_bytes"], "tflm_head": arena["head_bytes"],
            "aot_flash": aot_object_flash(out / "make"), "tflite_bytes": report["model"]["tflite_bytes"],
            "host_identical": host_same, "host_windows": host_n}


def markdown(rows: list[dict]) -> str:
    lines = ["| model | MACs / inference | instructions (QEMU) / inference | instructions / MAC | "
             "RAM: aot plan vs TFLM arena (its activation plan) | flash: aot .text+.rodata vs .tflite | "
             "bit-exact with TFLM: host / qemu-m4 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['macs']:,} | {r['instructions']:,.0f} | {r['instructions'] / r['macs']:.2f} | "
            f"{r['aot_ram']:,} B vs {r['tflm_arena']:,} B ({r['tflm_head']:,} B) | "
            f"{r['aot_flash']:,} B vs {r['tflite_bytes']:,} B | "
            f"{r['host_identical']}/{r['host_windows']} / {r['qemu_identical']}/{r['qemu_windows']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=DEFAULT_RUN, help=f"trained run directory [{DEFAULT_RUN}]")
    ap.add_argument("--data-dir", type=Path, help="data sets folder [$UNIKD_DATA_DIR, else ./data]")
    ap.add_argument("--no-teacher", action="store_true", help="student only")
    ap.add_argument("--windows", type=int, default=30, help="target test windows run on the emulated board [30]")
    ap.add_argument("--keep", type=Path, help="keep the builds in this folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    from unikd_mcu.hil.qemu import missing_tools, qemu_version
    from unikd.rundir import RunError, load_run

    try:
        run = load_run(args.run)
    except RunError as e:
        hint = "; the default scenario: unikd-mcu train --source 2 --target 11 --method unikd" \
            if args.run == DEFAULT_RUN else ""
        print(f"error: {e}{hint}", file=sys.stderr)
        return 2
    missing = missing_tools() + [t for t in ("gcc", "arm-none-eabi-size") if shutil.which(t) is None]
    if missing:
        print(f"error: missing {', '.join(missing)}", file=sys.stderr)
        return 2

    scratch = Path(tempfile.mkdtemp(prefix="bench_aot_"))
    builds = args.keep or scratch
    try:
        rows = [measure(f"student {run.model['name']} ({run.config.get('method')}, trained)", run.path,
                        builds / "student", args.data_dir, args.windows, scratch)]
        if not args.no_teacher:
            teacher_dir, label = teacher_run_dir(run, scratch)
            rows.append(measure(label, teacher_dir, builds / "teacher", args.data_dir, args.windows, scratch))
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)

    print(markdown(rows))
    print()
    print(f"Run `{run.path}` ({run.config.get('dataset')} {run.config.get('source')}->{run.config.get('target')}); "
          f"{qemu_version()}, mps2-an386 Cortex-M4, -icount shift=0, arm-none-eabi-gcc -O2; instructions: median "
          f"over the first {rows[0]['qemu_windows']} target test windows; host bit-exactness over all "
          f"{rows[0]['host_windows']} target test windows. TFLM arena: codegen.golden, recorded on x86-64.")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                   time.gmtime())}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
