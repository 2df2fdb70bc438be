"""`unikd-mcu build`: a run's student -> int8 TFLite -> C arrays + metadata -> firmware project(s) + build report.

The output folder is written as a temporary sibling and renamed into place at the end (unikd.rundir.atomic_dir):
a failed build (unknown board, over budget, unsupported op, bad run) leaves no output folder behind.

    <out>/model.tflite        the int8 model
    <out>/metadata.json       what host and device agree on (codegen.metadata), also behind unikd_model_meta.h
    <out>/model/              unikd_model_data.h/.c, unikd_model_meta.h
    <out>/arduino/ platformio/ make/   the board's project(s) (codegen.render)
    <out>/report.md, report.json       sizes vs budget, ops, quantisation, float vs int8, versions, timings
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from codegen.boards import Board, get_board
from codegen.carrays import model_c_files, write_files
from codegen.errors import BudgetError, DeployError
from codegen.footprint import NotMeasured, measure
from codegen.metadata import metadata_for
from codegen.render import core_files, render_project
from codegen.runtimes import RUNTIMES, board_runtime, get_runtime
from codegen.toolchains import compile_projects
from unikd.data.scenario import DEFAULT_SCENARIO
from unikd.outputs import atomic_dir, check_output
from unikd.rundir import DataFacts, RunError, load_run

DEFAULT_METHOD = "unikd"
DEFAULT_SEED = 0


@dataclass
class BuildRequest:
    board: str
    run: Path | None = None  # None: train (or reuse) the default scenario's run under runs_dir
    runtime: str | None = None  # None: the board's default
    out: Path | None = None  # None: build/<run name>-<board>
    data_dir: Path | None = None
    sensor: str | None = None  # None: the board's default
    runs_dir: Path = Path("runs")
    compile: bool = True  # compile with arduino-cli / pio / make where installed


class Progress:
    """Timestamped progress lines on stderr, so a long build shows where it is."""

    def __init__(self, echo: Callable[[str], None] | None = None):
        self.start = time.perf_counter()
        self.echo = echo or (lambda s: print(s, file=sys.stderr, flush=True))
        self.steps: dict[str, float] = {}
        self._last = self.start

    def __call__(self, message: str) -> None:
        self.echo(f"[{time.perf_counter() - self.start:6.1f}s] {message}")

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = round(now - self._last, 3)
        self._last = now

    @property
    def total(self) -> float:
        return time.perf_counter() - self.start


def default_run(req: BuildRequest, progress: Progress) -> Path:
    """The default scenario's run (UCI-HAR 2->11, UNI-KD, seed 0): reused when complete, else trained now."""
    from unikd.config import resolve_config

    dataset, source, target = DEFAULT_SCENARIO
    cfg = resolve_config({"dataset": dataset, "source": source, "target": target, "method": DEFAULT_METHOD,
                          "seed": DEFAULT_SEED, "data_dir": str(req.data_dir) if req.data_dir else None})
    cfg.out = str(Path(req.runs_dir) / cfg.run_name())
    run_dir = Path(cfg.out)
    try:
        load_run(run_dir)
        progress(f"using the default scenario's run {run_dir} (delete it to retrain)")
        return run_dir
    except RunError:
        pass
    progress(f"no --run given: training the default scenario {source}->{target} ({DEFAULT_METHOD}, seed "
             f"{DEFAULT_SEED}) into {run_dir}")
    from unikd.train import train_run

    return Path(train_run(cfg))


def data_facts(run, windows) -> DataFacts:
    """The data facts the run saved (model.json), checked against the data set its calibration and test windows
    come from (a data set changed since training would feed the model windows of another shape)."""
    facts = run.facts
    if facts.window != windows.window or facts.channels != windows.num_channels:
        raise RunError(f"run {run.path}: model.json says {facts.channels} x {facts.window} windows but the "
                       f"data set has {windows.num_channels} x {windows.window}")
    if facts.sample_rate_hz is None:
        raise RunError(f"run {run.path}: the sample rate is unknown (sample_rate_hz is null in model.json: the "
                       f"data set does not give one)")
    return facts


LARGEST = 8  # parts named per kind (RAM, flash) in the report and in an over-budget message


def _parts(parts) -> list[dict]:
    return [p.to_dict() for p in sorted(parts, key=lambda p: (-p.bytes, p.name))]


def firmware_memory(runtime_entry, model: bytes, files, arena, sources: dict[str, bytes],
                    progress: Callable[[str], None]) -> dict:
    """The firmware's flash and RAM as report.json's `footprint` section: measured by compiling `sources` (the
    portable core, the model files and the runtime's sources; codegen.footprint) plus what the runtime says the
    measurement cannot see; where it cannot be measured, the runtime's own need, saying why."""
    extra = runtime_entry.unmeasured(files, arena)
    outside = [("the board glue (the sketch and the IMU driver, C++ on the board's core) and the board's core: the "
                "board's budgets are what its core leaves"), "the stack: the board's core gives the loop its stack"]
    try:
        m = measure(sources, extra.keep)
    except NotMeasured as e:
        need = runtime_entry.memory_need(model, files, arena)
        progress(f"firmware memory not measured ({e}): counting only {need.ram_what} and {need.flash_what}")
        lost = ("the firmware's own buffers (frame parser, reply buffer, window ring, input and output) and code "
                "are not counted")
        return {"measured": False, "not_measured": str(e), "tool": None, "compiled": [],
                "ram": {"bytes": need.ram_bytes, "what": need.ram_what, "largest": []},
                "flash": {"bytes": need.flash_bytes, "what": need.flash_what, "largest": []},
                "by_file": {}, "added": [], "provided_elsewhere": [],
                "not_counted": [lost, *outside, *extra.not_counted]}
    runtime_c = [f for f in m.compiled if f in files.files]
    base = "the firmware core + model" + (f" + {runtime_entry.name} runtime" if runtime_c else "")
    added = "".join(f" + {p.name}" for p in extra.ram)
    ram_parts = m.ram_parts + list(extra.ram)
    return {
        "measured": True, "not_measured": None, "tool": m.tool, "compiled": m.compiled,
        "ram": {"bytes": m.ram_bytes + sum(p.bytes for p in extra.ram),
                "what": f"{base}, static RAM measured{added}", "largest": _parts(ram_parts)[:LARGEST],
                "unnamed_bytes": m.ram_bytes - sum(p.bytes for p in m.ram_parts)},
        "flash": {"bytes": m.flash_bytes, "what": f"{base}, code and constants measured",
                  "largest": _parts(m.flash_parts)[:LARGEST],
                  "unnamed_bytes": m.flash_bytes - sum(p.bytes for p in m.flash_parts)},
        "by_file": m.by_file,
        "added": [p.to_dict() for p in extra.ram],
        "provided_elsewhere": m.provided_elsewhere,
        "not_counted": [*outside, *extra.not_counted, *m.notes],
    }


def check_budget(board: Board, memory: dict) -> dict:
    """The firmware's RAM and flash (firmware_memory) against the board's budgets; over either is a BudgetError
    that names the largest consumers."""
    budgets = {"flash": board.flash_budget_bytes, "ram": board.ram_budget_bytes}
    over = []
    for kind, budget in budgets.items():
        row = memory[kind]
        if row["bytes"] > budget:
            largest = ", ".join(f"{p['name']} {p['bytes']:,} B ({p['file']})" for p in row["largest"][:4])
            over.append(f"{row['what']} needs {row['bytes']:,} bytes of {kind} but board {board.name}'s budget is "
                        f"{budget:,} bytes (over by {row['bytes'] - budget:,} bytes)"
                        + (f"; largest: {largest}" if largest else ""))
    if over:
        raise BudgetError("; ".join(over))
    return {kind: {"bytes": memory[kind]["bytes"], "budget_bytes": budget,
                   "percent_of_budget": round(100.0 * memory[kind]["bytes"] / budget, 2),
                   "what": memory[kind]["what"]} for kind, budget in budgets.items()}


def versions() -> dict:
    def dist(*names):
        for n in names:
            try:
                return importlib.metadata.version(n)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None

    import unikd

    v = {"python": platform.python_version(), "unikd": unikd.__version__,
         "torch": dist("torch"), "tensorflow": dist("tensorflow-cpu", "tensorflow"),
         "tflite-micro": dist("tflite-micro"), "numpy": dist("numpy"), "jinja2": dist("jinja2")}
    if "tensorflow" in sys.modules:
        v["tensorflow"] = sys.modules["tensorflow"].__version__
    try:
        import tflite_micro

        v["tflite-micro"] = tflite_micro.__version__
    except ImportError:
        pass
    return v


def build(req: BuildRequest, progress: Progress | None = None) -> Path:
    """Run the whole deploy path; returns the output folder."""
    progress = progress or Progress()
    board = get_board(req.board)
    runtime_entry = board_runtime(board, req.runtime)
    runtime_name = runtime_entry.name
    if req.sensor is not None and board.is_emulated and req.sensor != "serial":
        raise DeployError(f"the emulated board {board.name} has no IMU; its samples come over serial")
    if req.out is not None:
        check_output(req.out, "build")  # before training a default run or converting anything

    run_dir = Path(req.run) if req.run is not None else default_run(req, progress)
    progress.lap("train_or_find_run")
    run = load_run(run_dir)
    net = run.build_student()
    progress(f"run {run.path}: {run.model.get('name')} on {run.config.get('dataset')} "
             f"{run.config.get('source')}->{run.config.get('target')} ({run.config.get('method')})")
    data = run.scenario_data(req.data_dir)
    facts = data_facts(run, data.windows)
    progress.lap("load_run_and_data")

    out = Path(req.out) if req.out is not None else Path("build") / f"{run.path.name}-{board.name}"
    with atomic_dir(out, "build") as tmp:
        from codegen.convert import convert_student, representative_windows
        from codegen.evaluate import compare_float_int8
        from codegen.golden import measure_arena
        from codegen.tflite_info import read_tflite

        # the source windows are calibrated as training standardised them, with the constants the run saved
        rep = representative_windows(data, run.normaliser, run.source_normaliser)
        progress(f"converting to int8 TFLite (calibration: {len(data.target_train)} target-train + "
                 f"{len(data.source_train)} source-train windows; loads TensorFlow)")
        model = convert_student(net, rep)
        info = read_tflite(model)
        progress.lap("convert")
        progress(f"model: {len(model):,} bytes, {len(info.ops)} ops ({', '.join(info.op_kinds)})")

        progress("measuring the TFLM arena (golden interpreter)")
        arena = measure_arena(model)
        if runtime_entry.progress_note:
            progress(runtime_entry.progress_note)
        runtime = runtime_entry.sources(model, info, arena, board)
        meta = metadata_for(model, info, run, facts, runtime_name)
        progress.lap("arena_and_runtime")
        progress("measuring the firmware's flash and RAM (core + model + runtime, arm-none-eabi-gcc)")
        # the files every project carries (render_project refuses two parts that provide the same file)
        sources = core_files() | {k: v.encode() for k, v in model_c_files(model, meta).items()} | runtime.files
        memory = firmware_memory(runtime_entry, model, runtime, arena, sources, progress)
        progress.lap("measure_memory")
        budget = check_budget(board, memory)

        progress(f"evaluating float vs int8 on the target test split ({len(data.target_test)} windows)")
        quality = compare_float_int8(net, model, info, run.normaliser, data.target_test.X, data.target_test.y,
                                     facts.num_classes)
        progress.lap("evaluate")
        progress(f"top-1 agreement {100 * quality['top1_agreement']:.2f} %, macro-F1 float "
                 f"{100 * quality['float']['macro_f1']:.2f} / int8 {100 * quality['int8']['macro_f1']:.2f}")

        (tmp / "model.tflite").write_bytes(model)
        meta.save(tmp / "metadata.json")
        write_files(model_c_files(model, meta), tmp / "model")
        progress(f"rendering the {board.name} project(s)")
        project = render_project(board, model, meta, runtime, tmp, sensor=req.sensor)
        progress.lap("render")
        compiled = compile_projects(board, tmp, progress) if req.compile else []
        progress.lap("compile")

        report = {
            "board": {"name": board.name, "description": board.description, "mcu": board.mcu,
                      "toolchain": board.toolchain},
            "run": str(run.path), "scenario": f"{meta.dataset} {meta.source}->{meta.target}", "method": meta.method,
            "runtime": runtime_name, "sensor": project["sensor"],
            "model": {"tflite_bytes": len(model), "sha256": meta.model_sha256, "ops": info.ops,
                      "op_kinds": info.op_kinds, "op_count": len(info.ops)},
            "quantisation": {"input": {"shape": info.input_shape, "scale": meta.input_scale,
                                       "zero_point": meta.input_zero_point},
                             "output": {"shape": info.output_shape, "scale": meta.output_scale,
                                        "zero_point": meta.output_zero_point},
                             "calibration_windows": int(rep.shape[0])},
            "budget": budget,
            "footprint": memory,
            "tflm_arena": arena.to_dict(),
            **runtime_report_sections(runtime_entry, runtime),
            "float_vs_int8": quality,
            "compile": compiled,
            "project": project,
            "versions": versions(),
            "seconds": dict(progress.steps) | {"total": round(progress.total, 1)},
        }
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        (tmp / "report.md").write_text(report_markdown(report))
    progress(f"done in {progress.total:.1f}s: {out}")
    return out


def _kb(n: int) -> str:
    return f"{n:,} B ({n / 1024:.1f} KiB)"


def runtime_report_sections(active, files) -> dict:
    """report.json's runtime sections: the active runtime's own under its report_key, null for the others that
    have one (so a report always has the same keys, whichever runtime was built)."""
    sections = {}
    for name in RUNTIMES:
        entry = get_runtime(name)
        if entry.report_key:
            sections[entry.report_key] = entry.report(files) if entry is active else None
    return sections


def footprint_markdown(f: dict) -> list[str]:
    """How the memory figures were found: the largest parts, what is provided elsewhere, what is not counted."""
    if not f["measured"]:
        lines = [f"Firmware memory not measured: {f['not_measured']}."]
    else:
        lines = [f"Measured by compiling {', '.join(f['compiled'])} with {f['tool']}."]
        for kind, title in (("ram", "RAM"), ("flash", "flash")):
            lines += ["", f"| largest in {title} | bytes | from |", "|---|---:|---|"]
            lines += [f"| {p['name']} | {p['bytes']:,} | {p['file']} |" for p in f[kind]["largest"]]
        elsewhere = ", ".join(f["provided_elsewhere"]) or "nothing"
        lines += ["", (f"Unnamed (alignment, string literals): RAM {f['ram']['unnamed_bytes']:,} B, flash "
                       f"{f['flash']['unnamed_bytes']:,} B. Defined outside the compiled sources (board glue, C "
                       f"library, runtime sources not compiled here): {elsewhere}.")]
    return [*lines, "", "Not counted:", *(f"- {n}" for n in f["not_counted"])]


def report_markdown(r: dict) -> str:
    q, b, a = r["float_vs_int8"], r["budget"], r["tflm_arena"]
    lines = [
        f"# Build report: {r['board']['name']} ({r['runtime']} runtime)",
        "",
        f"- Board: {r['board']['description']}; MCU {r['board']['mcu']}; toolchain {r['board']['toolchain']}",
        f"- Run: `{r['run']}` ({r['scenario']}, {r['method']}); sensor: {r['sensor']}",
        f"- Model: {_kb(r['model']['tflite_bytes'])}, sha256 `{r['model']['sha256']}`",
        f"- Ops ({r['model']['op_count']}): {', '.join(r['model']['ops'])}",
        "",
        "## Memory against the board's budget",
        "",
        "| | needs | budget | share |",
        "|---|---:|---:|---:|",
    ]
    for kind in ("flash", "ram"):
        row = b[kind]
        lines.append(f"| {kind}: {row['what']} | {row['bytes']:,} B | {row['budget_bytes']:,} B | "
                     f"{row['percent_of_budget']:.2f} % |")
    lines += ["", *footprint_markdown(r["footprint"]), ""]
    lines += [
        f"TFLM tensor arena on the host (golden interpreter, 64-bit pointers, an upper bound for a 32-bit MCU): "
        f"recorded {a['recorded_bytes']:,} B (head {a['head_bytes']:,}, tail {a['tail_bytes']:,}), smallest working "
        f"arena by bisection {a['smallest_working_bytes']:,} B; the tflm firmware allocates "
        f"{a['recommended_bytes']:,} B ({a['margin_rule']}).",
    ]
    for name in RUNTIMES:
        entry = get_runtime(name)
        if entry.report_key and r.get(entry.report_key):
            lines += entry.report_markdown(r[entry.report_key])
    qi, qo = r["quantisation"]["input"], r["quantisation"]["output"]
    lines += [
        "",
        "## int8 quantisation",
        "",
        f"- input {qi['shape']}: scale {qi['scale']:.9g}, zero point {qi['zero_point']}",
        f"- output {qo['shape']}: scale {qo['scale']:.9g}, zero point {qo['zero_point']}",
        f"- calibrated on {r['quantisation']['calibration_windows']} windows (target train, unlabelled, + source train)",
        "",
        f"## Host float vs host int8 on the target test split ({q['windows']} windows)",
        "",
        "int8 = inputs quantised by `codegen.quantise` (the device's rule), run by the golden TFLM interpreter.",
        "",
        "| | accuracy | macro-F1 |",
        "|---|---:|---:|",
        f"| float (torch) | {100 * q['float']['accuracy']:.2f} % | {100 * q['float']['macro_f1']:.2f} |",
        f"| int8 (TFLM) | {100 * q['int8']['accuracy']:.2f} % | {100 * q['int8']['macro_f1']:.2f} |",
        "",
        f"Top-1 agreement int8 vs float: {100 * q['top1_agreement']:.2f} % ({q['disagreeing_windows']} of "
        f"{q['windows']} windows differ); macro-F1 drop {q['macro_f1_drop_points']:.2f} points; largest logit error "
        f"{q['max_abs_logit_error']:.4f} (output step {q['output_scale']:.4g}).",
        "",
        "## Compilation",
        "",
    ]
    if not r["compile"]:
        lines.append("Not attempted (--no-compile).")
    for c in r["compile"]:
        if c["status"] == "not installed":
            lines.append(f"- {c['project']}: {c['note']}; no size figures from the board's toolchain.")
        else:
            sizes = ", ".join(f"{k} {c[k]:,} B" for k in ("flash_bytes", "static_ram_bytes", "text_bytes",
                                                          "data_bytes", "bss_bytes") if c.get(k) is not None)
            lines.append(f"- {c['project']} with {c['tool']}: {c['status']}" + (f"; {sizes}" if sizes else ""))
    lines += ["", "## Versions", "", ", ".join(f"{k} {v}" for k, v in r["versions"].items()), "",
              "## Time", "", ", ".join(f"{k} {v:.1f} s" for k, v in r["seconds"].items()), ""]
    return "\n".join(lines)
