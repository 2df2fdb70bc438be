"""Inference runtimes: one registry entry per runtime the firmware can be built with.

An entry knows everything the deploy path needs to ask about its runtime, so adding a runtime (or a kernel variant
of one) is one new class here plus its sources:

- `sources(model, info, arena)`: the runtime's C/C++ files for this model, as RuntimeFiles;
- `memory_need(model, files, arena)`: the flash and RAM it needs, checked against the board's budget;
- `report(files)` / `report_markdown(section)`: what it adds to report.json / report.md (under `report_key`);
- `profile_problem(profile)`: why a board profile that lists it cannot build it (a missing library section).

Board profiles (codegen.boards) and metadata.json (codegen.metadata) accept exactly the names registered here.
Importing this module loads neither TensorFlow nor the aot generator; each entry imports its generator when used.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from codegen.errors import DeployError
from unikd.registry import Registry


class AotUnavailableError(DeployError):
    """The interpreter-free runtime's generator (codegen.aot) is not there."""


@dataclass
class RuntimeFiles:
    """The runtime's sources ({name: bytes}) and what it reported (aot: the generator's report)."""

    name: str
    files: dict[str, bytes]
    report: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Libraries:
    """Libraries a runtime (or a sensor) needs from the board's ecosystem."""

    header: str | None = None  # included by the sketch: the Arduino builder finds a library by the headers included
    arduino: tuple[str, ...] = ()  # Arduino library names (the project README's install line)
    platformio: tuple[str, ...] = ()  # PlatformIO lib_deps


@dataclass(frozen=True)
class MemoryNeed:
    """What a runtime needs of the board's flash and RAM budgets, with the words the report uses for each."""

    flash_bytes: int
    flash_what: str
    ram_bytes: int
    ram_what: str


class Runtime:
    """Base of the registry's entries; subclasses set `name` and implement `sources` and `memory_need`."""

    name: str = ""
    # key of this runtime's section in report.json (None: it adds none); written as null for the other runtimes
    report_key: str | None = None
    # progress line while its sources are made (None: making them is quick and needs no line)
    progress_note: str | None = None

    def sources(self, model: bytes, info, arena) -> RuntimeFiles:
        """The runtime's files for `model` (its TfliteInfo `info`, its codegen.golden.ArenaMeasurement `arena`)."""
        raise NotImplementedError

    def libraries(self, board) -> Libraries:
        """What the generated project must pull in for this runtime on `board` (nothing: self-contained C)."""
        return Libraries()

    def describe(self, board, files: RuntimeFiles) -> str:
        """One phrase for the project README."""
        return "interpreter-free C generated from the model"

    def memory_need(self, model: bytes, files: RuntimeFiles, arena) -> MemoryNeed:
        raise NotImplementedError

    def report(self, files: RuntimeFiles) -> dict | None:
        return None

    def report_markdown(self, section: dict) -> list[str]:
        return []

    def supports(self, board) -> bool:
        """Whether `board` (a codegen.boards.Board) builds this runtime: its profile lists it (and passed
        profile_problem when it was loaded)."""
        return self.name in board.runtimes

    def profile_problem(self, profile: dict) -> str | None:
        """Why a board profile (its YAML mapping) listing this runtime cannot build it, or None."""
        return None


RUNTIMES: Registry[Runtime] = Registry("runtime")


def get_runtime(name: str) -> Runtime:
    """The entry called `name`; an unknown name raises a UserError listing the registered runtimes."""
    return RUNTIMES.get(name)


def runtime_names() -> list[str]:
    return RUNTIMES.names()


def _register(cls: type[Runtime]) -> type[Runtime]:
    RUNTIMES.register(cls.name)(cls())
    return cls


# the generator's report keys that the build report keeps for an aot build
AOT_REPORT_KEYS = ("ram_bytes", "naive_ram_bytes", "weight_bytes", "param_bytes", "macs", "op_counts")


def aot_runtime(model: bytes) -> RuntimeFiles:
    """Sources of the interpreter-free runtime, from codegen.aot.generate (refused clearly if it is absent)."""
    try:
        from codegen.aot import generate
    except ImportError as e:
        raise AotUnavailableError(
            f"the aot runtime is not available in this installation (codegen.aot.generate cannot be imported: {e}); "
            f"build with --runtime tflm on a board that supports it") from None
    with tempfile.TemporaryDirectory(prefix="unikd-aot-") as tmp:
        report = generate(model, Path(tmp)) or {}
        files: dict[str, bytes] = {}
        for p in sorted(Path(tmp).rglob("*")):
            if p.is_file():
                if p.name in files:
                    raise DeployError(f"aot generator wrote two files called {p.name}")
                files[p.name] = p.read_bytes()
    if not files:
        raise DeployError("the aot generator wrote no files")
    return RuntimeFiles("aot", files, dict(report))


def tflm_runtime(op_kinds: list[str], arena_bytes: int, arena_note: str) -> RuntimeFiles:
    from codegen.tflm import runtime_source

    return RuntimeFiles("tflm", {"unikd_runtime_tflm.cc": runtime_source(op_kinds, arena_bytes, arena_note).encode()},
                        {"arena_bytes": arena_bytes, "arena_note": arena_note})


@_register
class AotRuntime(Runtime):
    """Interpreter-free C99 generated from the model (codegen.aot), bit-exact with TFLM's reference kernels."""

    name = "aot"
    report_key = "aot"
    progress_note = "generating the interpreter-free aot runtime"

    def sources(self, model, info, arena):
        return aot_runtime(model)

    def memory_need(self, model, files, arena):
        weights = files.report.get("weight_bytes", 0) + files.report.get("param_bytes", 0)
        return MemoryNeed(weights or len(model), "the aot model (weights + layer parameters)",
                          int(files.report.get("ram_bytes", 0)), "the aot runtime's static activation plan")

    def report(self, files):
        return {k: v for k, v in files.report.items() if k in AOT_REPORT_KEYS}

    def report_markdown(self, section):
        return [f"aot runtime: static activation plan {section.get('ram_bytes', 0):,} B (naive sum "
                f"{section.get('naive_ram_bytes', 0):,} B), weights {section.get('weight_bytes', 0):,} B, "
                f"layer parameters {section.get('param_bytes', 0):,} B, {section.get('macs', 0):,} MACs per window."]


@_register
class TflmRuntime(Runtime):
    """TFLM's MicroInterpreter over the model array (codegen.tflm), from the board's TFLM library."""

    name = "tflm"

    def sources(self, model, info, arena):
        return tflm_runtime(info.op_kinds, arena.recommended_bytes,
                            f"{arena.recorded_bytes} measured by TFLM on the host + margin ({arena.margin_rule})")

    def memory_need(self, model, files, arena):
        return MemoryNeed(len(model), "the .tflite model", arena.recommended_bytes, "the TFLM tensor arena")

    def libraries(self, board):
        t = board.tflm or {}
        return Libraries(t.get("header"), tuple(filter(None, [t.get("arduino_library")])),
                         tuple(filter(None, [t.get("platformio_lib")])))

    def describe(self, board, files):
        return (f"TFLM MicroInterpreter, arena {files.report.get('arena_bytes', 0)} bytes; needs the "
                f"`{(board.tflm or {}).get('arduino_library')}` library")

    def profile_problem(self, profile):
        # the firmware links the board's own TFLM library, named in the profile's tflm section
        if not profile.get("tflm"):
            return "lists runtime 'tflm' but has no 'tflm' library section"
        return None


def board_runtime(board, name: str | None) -> Runtime:
    """The runtime `name` (None: the board's default) after checking that it exists and that `board` lists it."""
    name = name or board.runtime
    entry = get_runtime(name)
    if not entry.supports(board):
        raise DeployError(f"board {board.name} supports runtime(s) {', '.join(board.runtimes)}, not {name!r}")
    return entry
