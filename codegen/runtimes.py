"""Inference runtimes: one registry entry per runtime the firmware can be built with.

An entry knows everything the deploy path needs to ask about its runtime, so adding a runtime (or a kernel variant
of one) is one new class here plus its sources:

- `sources(model, info, arena, board)`: the runtime's C/C++ files for this model on this board, as RuntimeFiles;
- `memory_need(model, files, arena)`: the flash and RAM it needs, checked against the board's budget when the
  firmware cannot be measured (codegen.footprint);
- `unmeasured(files, arena)`: what its sources that the firmware measurement cannot compile add (C++ against a
  board library: the symbols they use, their buffers of known size, what stays uncounted);
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
from codegen.footprint import Part, Unmeasured
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
    # what `arduino-cli lib install` takes (the project README's install lines): "name", "name@version", or a git
    # URL ending in #<ref> for a library the Library Manager does not hold
    arduino: tuple[str, ...] = ()
    platformio: tuple[str, ...] = ()  # PlatformIO lib_deps entries


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

    def sources(self, model: bytes, info, arena, board) -> RuntimeFiles:
        """The runtime's files for `model` (its TfliteInfo `info`, its codegen.golden.ArenaMeasurement `arena`) on
        `board` (a codegen.boards.Board: its libraries can differ in API)."""
        raise NotImplementedError

    def libraries(self, board) -> Libraries:
        """What the generated project must pull in for this runtime on `board` (nothing: self-contained C)."""
        return Libraries()

    def describe(self, board, files: RuntimeFiles) -> str:
        """One phrase for the project README."""
        return "interpreter-free C generated from the model"

    def memory_need(self, model: bytes, files: RuntimeFiles, arena) -> MemoryNeed:
        raise NotImplementedError

    def unmeasured(self, files: RuntimeFiles, arena) -> Unmeasured:
        """What the runtime adds beyond its C files, which the firmware measurement compiles (nothing: all C)."""
        return Unmeasured()

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


def tflm_library(section: dict) -> str:
    """"<Arduino library>@<version>" of a board profile's tflm section."""
    return f"{section['arduino_library']}@{section['version']}"


def tflm_runtime(op_kinds: list[str], arena_bytes: int, arena_note: str, section: dict) -> RuntimeFiles:
    """The tflm runtime's source for the library a board profile's tflm `section` names, in that library's API."""
    from codegen.tflm import runtime_source

    library = tflm_library(section)
    source = runtime_source(op_kinds, arena_bytes, arena_note, section["api"], library)
    return RuntimeFiles("tflm", {"unikd_runtime_tflm.cc": source.encode()},
                        {"arena_bytes": arena_bytes, "arena_note": arena_note, "library": library,
                         "api": section["api"]})


@_register
class AotRuntime(Runtime):
    """Interpreter-free C99 generated from the model (codegen.aot), bit-exact with TFLM's reference kernels."""

    name = "aot"
    report_key = "aot"
    progress_note = "generating the interpreter-free aot runtime"

    def sources(self, model, info, arena, board):
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


# keys every tflm section has; a library comes from the PlatformIO registry (platformio_lib) or from git (git_url)
TFLM_KEYS = ("arduino_library", "version", "header", "api")


@_register
class TflmRuntime(Runtime):
    """TFLM's MicroInterpreter over the model array (codegen.tflm), from the board's TFLM library."""

    name = "tflm"

    def sources(self, model, info, arena, board):
        return tflm_runtime(info.op_kinds, arena.recommended_bytes,
                            f"{arena.recorded_bytes} measured by TFLM on the host + margin ({arena.margin_rule})",
                            board.tflm)

    def memory_need(self, model, files, arena):
        return MemoryNeed(len(model), "the .tflite model", arena.recommended_bytes, "the TFLM tensor arena")

    def unmeasured(self, files, arena):
        # unikd_runtime_tflm.cc is C++ against the board's TFLM library, which is not here: its arena has a known
        # size, and it reads the model array (which the linker would otherwise drop as unreferenced)
        return Unmeasured(
            keep=("unikd_model_tflite", "unikd_model_tflite_len"),
            ram=(Part("g_arena (TFLM tensor arena)", files.report["arena_bytes"], "unikd_runtime_tflm.cc"),),
            not_counted=(f"the TFLM interpreter and op resolver objects (g_interpreter_storage, g_resolver_storage in "
                         f"unikd_runtime_tflm.cc), and the code and static data of {files.report['library']}: the "
                         f"library is not available here",))

    def libraries(self, board):
        # pinned to the version whose headers the generated runtime was written for (codegen.tflm.TFLM_APIS)
        t = board.tflm
        if t.get("git_url"):
            pinned = f"{t['git_url']}#{t['version']}"
            return Libraries(t["header"], (pinned,), (f"{t['arduino_library']}={pinned}",))
        return Libraries(t["header"], (tflm_library(t),), (f"{t['platformio_lib']}@{t['version']}",))

    def describe(self, board, files):
        return (f"TFLM MicroInterpreter, arena {files.report.get('arena_bytes', 0)} bytes; needs the "
                f"`{tflm_library(board.tflm)}` library")

    def profile_problem(self, profile):
        # the firmware links the board's own TFLM library, named in the profile's tflm section
        t = profile.get("tflm")
        if not t:
            return "lists runtime 'tflm' but has no 'tflm' library section"
        if not isinstance(t, dict):
            return f"'tflm' must be a mapping, got {t!r}"
        missing = [k for k in TFLM_KEYS if not isinstance(t.get(k), str) or not t[k]]
        if missing:
            return (f"tflm section: {', '.join(missing)} must be given as text (keys: {', '.join(TFLM_KEYS)}, and "
                    f"platformio_lib or git_url)")
        unknown = sorted(set(t) - set(TFLM_KEYS) - {"platformio_lib", "git_url"})
        if unknown:
            return f"tflm section: unknown key(s) {', '.join(unknown)}"
        if ("platformio_lib" in t) == ("git_url" in t):
            return ("tflm section: give exactly one of platformio_lib (a PlatformIO registry name) or git_url (for a "
                    "library no registry holds)")
        from codegen.tflm import TFLM_APIS

        if t["api"] not in TFLM_APIS:
            return f"tflm section: api {t['api']!r} is not one of {', '.join(TFLM_APIS.names())} (codegen/tflm.py)"
        api = TFLM_APIS.get(t["api"])
        if tflm_library(t) not in api.verified_with:
            return (f"tflm section: api {api.name!r} was read from the headers of {', '.join(api.verified_with)}, not "
                    f"{tflm_library(t)}; read that version's headers (scripts/check_tflm_libraries.py) and add it "
                    f"to an API in codegen/tflm.py")
        return None


def board_runtime(board, name: str | None) -> Runtime:
    """The runtime `name` (None: the board's default) after checking that it exists and that `board` lists it."""
    name = name or board.runtime
    entry = get_runtime(name)
    if not entry.supports(board):
        raise DeployError(f"board {board.name} supports runtime(s) {', '.join(board.runtimes)}, not {name!r}")
    return entry
