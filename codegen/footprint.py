"""The firmware's own flash and RAM, measured by compiling it, so every buffer is counted without restating its size.

The portable core (firmware/core/*.c), the model files and the runtime's C sources are compiled for a Cortex-M4
(`arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os`, one section per function and per variable) and linked with
`--gc-sections`, keeping every global function (the board glue may call any of them) and the symbols the runtime
says its uncompiled sources use. Nothing else is linked: the board glue and the C library stay unresolved, and are
listed as provided elsewhere. RAM is then every allocated writable section (.data, .bss, ...), flash every
allocated section with contents (code, constants, initial values), and each named symbol is traced back to the
source file that defines it, so the report can name the largest buffers.

Buffer sizes are the same on the boards' 32-bit MCUs (ESP32's Xtensa, the nRF52840's Cortex-M4); code size is
Thumb-2 at -Os and differs somewhat with the board's compiler. Where the cross compiler is missing, or the sources
do not compile for it, `measure` says why and the build falls back to the runtime's own need.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

TOOL_PREFIX = "arm-none-eabi-"
CFLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-std=c99",
          "-ffunction-sections", "-fdata-sections", "-ffp-contract=off")
TIMEOUT_S = 300
HEAP_CALLS = ("malloc", "calloc", "realloc")


@dataclass(frozen=True)
class Part:
    """One named piece of the firmware's memory."""

    name: str
    bytes: int
    file: str  # the source file that defines it, or what states its size

    def to_dict(self) -> dict:
        return {"name": self.name, "bytes": self.bytes, "file": self.file}


@dataclass
class Measurement:
    """What the linked firmware holds: totals, named parts (largest first) and per-file sums."""

    ram_bytes: int
    flash_bytes: int
    ram_parts: list[Part]
    flash_parts: list[Part]
    by_file: dict[str, dict[str, int]]
    compiled: list[str]
    provided_elsewhere: list[str]  # symbols the objects use and the board glue or the C library defines
    tool: str
    notes: list[str] = field(default_factory=list)


class NotMeasured(Exception):
    """The measurement could not run; the message says why."""


@dataclass(frozen=True)
class Unmeasured:
    """What a runtime's sources that cannot be compiled here (C++ against a board library) add to the firmware."""

    keep: tuple[str, ...] = ()  # symbols of the compiled sources they use (kept by the linker)
    ram: tuple[Part, ...] = ()  # their buffers whose size is known
    not_counted: tuple[str, ...] = ()  # what stays out of the figures, in words


def _tool(name: str) -> str:
    path = shutil.which(TOOL_PREFIX + name)
    if path is None:
        raise NotMeasured(f"{TOOL_PREFIX}{name} is not on PATH (Debian: apt-get install gcc-arm-none-eabi)")
    return path


def _run(cmd: list[str], cwd: Path) -> str:
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if p.returncode != 0:
        first = next((line for line in p.stderr.splitlines() if "error" in line), p.stderr.strip()[-300:])
        raise NotMeasured(f"{Path(cmd[0]).name} failed: {first}")
    return p.stdout


def _symbols(nm: str, paths: list[Path], cwd: Path) -> dict[str, list[tuple[int, str, str]]]:
    """{file name: [(size, type letter, name)]} of the sized symbols in object or ELF files (one nm for all)."""
    out: dict[str, list[tuple[int, str, str]]] = {p.name: [] for p in paths}
    for line in _run([nm, "-S", "--print-file-name", *(p.name for p in paths)], cwd).splitlines():
        where, _, rest = line.partition(":")  # "<file>:<value> <size> <type> <name>"
        parts = rest.split()
        if len(parts) == 4:
            out[where].append((int(parts[1], 16), parts[2], parts[3]))
    return out


def _sections(readelf: str, elf: Path, cwd: Path) -> tuple[int, int]:
    """(RAM, flash) bytes of an ELF: allocated writable sections, and allocated sections that have contents."""
    ram = flash = 0
    pattern = re.compile(r"^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+([A-Za-z]*)\s")
    for line in _run([readelf, "-S", "-W", str(elf)], cwd).splitlines():
        m = pattern.match(line)
        if not m or "A" not in m.group(4):
            continue
        size = int(m.group(3), 16)
        if "W" in m.group(4):
            ram += size
        if m.group(2) != "NOBITS":
            flash += size
    return ram, flash


def measure(sources: dict[str, bytes], keep: tuple[str, ...] = ()) -> Measurement:
    """Compile and link `sources` ({file name: bytes}; the .c files are compiled, the rest are headers they include)
    and measure what the linked firmware holds. `keep`: symbols to keep although no compiled code references them.
    Raises NotMeasured with the reason when that cannot be done."""
    gcc, nm, readelf = _tool("gcc"), _tool("nm"), _tool("readelf")
    c_files = sorted(n for n in sources if n.endswith(".c"))
    if not c_files:
        raise NotMeasured("no C sources to compile")
    with tempfile.TemporaryDirectory(prefix="unikd-footprint-") as tmp:
        work = Path(tmp)
        for name, data in sources.items():
            (work / name).write_bytes(data)
        # one compiler per file, as many at once as there are CPUs: the build is timed
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(lambda c: _run([gcc, *CFLAGS, "-I", ".", "-c", c], work), c_files))
        objects = [work / (Path(c).stem + ".o") for c in c_files]
        defined_in: dict[tuple[str, str], str] = {}
        roots = []
        object_symbols = _symbols(nm, objects, work)
        for c, obj in zip(c_files, objects):
            for _, kind, name in object_symbols[obj.name]:
                defined_in.setdefault((name, kind.lower()), c)
                if kind == "T":
                    roots.append(name)
        roots += [k for k in keep if k not in roots]
        if not roots:
            raise NotMeasured("the sources define no global function")
        elf = work / "firmware.elf"
        # unresolved symbols are the board glue's and the C library's: left at 0, they change no section's size
        _run([gcc, *CFLAGS[:4], "-nostdlib", "-Wl,--gc-sections", "-Wl,--unresolved-symbols=ignore-all",
              f"-Wl,--entry={roots[0]}", *(f"-Wl,--undefined={r}" for r in roots), *map(str, objects),
              "-o", str(elf)], work)
        ram, flash = _sections(readelf, elf, work)
        symbols = _symbols(nm, [elf], work)[elf.name]
        external = sorted({line.split()[-1] for line in _run([nm, "-u", str(elf)], work).splitlines() if line})
        version = _run([gcc, "-dumpversion"], work).strip()

    ram_parts, flash_parts = [], []
    by_file = {c: {"ram": 0, "flash": 0} for c in c_files}
    for size, kind, name in symbols:
        if size == 0 or kind.lower() not in "bdrt":
            continue
        file = defined_in.get((name, kind.lower()), "?")
        part = Part(name, size, file)
        if kind.lower() in "bd":
            ram_parts.append(part)
            by_file.setdefault(file, {"ram": 0, "flash": 0})["ram"] += size
        if kind.lower() in "drt":
            flash_parts.append(part)
            by_file.setdefault(file, {"ram": 0, "flash": 0})["flash"] += size
    ram_parts.sort(key=lambda p: (-p.bytes, p.name))
    flash_parts.sort(key=lambda p: (-p.bytes, p.name))
    tool = (f"{TOOL_PREFIX}gcc {version} {' '.join(CFLAGS)}, linked with --gc-sections (every global function "
            f"kept)")
    notes = []
    heap = [s for s in external if s in HEAP_CALLS]
    notes.append(f"the heap: the compiled sources call {', '.join(heap)}" if heap else
                 "the heap: the compiled sources use none (they call no malloc, calloc or realloc)")
    return Measurement(ram, flash, ram_parts, flash_parts, by_file, c_files, external, tool, notes)
