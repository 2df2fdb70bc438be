"""One recipe for every firmware image: the board's own Makefile (firmware/boards/<board>/Makefile) run in a
project laid out as `unikd-mcu build` lays out the emulated board's: the board folder's files at the top, the
other sources in sub-folders (core/, model/, runtime/, or a test's app/). The Makefile compiles every .c there and
one folder below with the flags that ship, so a test image and a user's image differ only in which sources they
link, never in how they are compiled.

    elf = build_image("qemu-m4", tmp / "fw", {"core": core_sources(), "model": {"unikd_model_meta.h": text},
                                              "runtime": aot_dir.glob("*.[ch]")})
    exe = build_image("host", tmp / "host", {...})     # the same core for the host: stdin/stdout, test timer

Boards: qemu-m4 (arm-none-eabi-gcc, booted by unikd_mcu.hil.qemu.QemuBoard) and host (gcc; see
firmware/boards/host/board.c for its modes).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from codegen import FIRMWARE_DIR
from unikd.errors import UserError

BOARDS_DIR = FIRMWARE_DIR / "boards"
CORE_DIR = FIRMWARE_DIR / "core"
IMAGE = Path("build") / "fw.elf"
OBJECTS = Path("build")  # both Makefiles put the object of <dir>/<name>.c at build/<dir>/<name>.o
COMPILERS = {"qemu-m4": "arm-none-eabi-gcc", "host": "gcc"}
DEBIAN_PACKAGES = {"qemu-m4": "gcc-arm-none-eabi libnewlib-arm-none-eabi", "host": "gcc"}

#: What one part of a project may be: files to copy, or {file name: text or bytes} to write.
Part = Iterable[Path] | Mapping[str, str | bytes]


class FirmwareError(UserError):
    """A firmware image could not be built."""


def missing_tools(board: str = "qemu-m4") -> list[str]:
    """Executables that building `board`'s image needs and PATH lacks."""
    return [t for t in (COMPILERS[board], "make") if shutil.which(t) is None]


def board_sources(board: str) -> dict[str, Path]:
    """The board folder's files as a project carries them (its README stays behind)."""
    folder = BOARDS_DIR / board
    if not folder.is_dir():
        raise FirmwareError(f"no board folder {folder}")
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.name != "README.md"}


def core_sources(*c_files: str) -> list[Path]:
    """Every header of the portable core and the named .c files of it (all of them when none is named): a test
    image that replaces part of the core (the timer calibration's app) links only the rest."""
    wanted = set(c_files)
    return [p for p in sorted(CORE_DIR.iterdir())
            if p.suffix == ".h" or (p.suffix == ".c" and (not wanted or p.name in wanted))]


def stage(board: str, project: Path, parts: Mapping[str, Part]) -> Path:
    """Write the project folder: the board's files at the top, each part into its sub-folder."""
    project = Path(project)
    project.mkdir(parents=True, exist_ok=True)
    for name, src in board_sources(board).items():
        shutil.copyfile(src, project / name)
    for sub, files in parts.items():
        folder = project / sub
        folder.mkdir(exist_ok=True)
        items = files.items() if isinstance(files, Mapping) else ((Path(p).name, Path(p)) for p in files)
        for name, data in items:
            if isinstance(data, Path):
                shutil.copyfile(data, folder / name)
            elif isinstance(data, str):
                (folder / name).write_text(data)
            else:
                (folder / name).write_bytes(data)
    return project


def build_firmware(project_dir, jobs: int = 2, make_vars: Mapping[str, str] | None = None) -> Path:
    """`make` in a project (rendered by `unikd-mcu build`, or staged here); returns its build/fw.elf. make_vars
    go on make's command line (e.g. CPPFLAGS, which the host board's Makefile adds to its own flags)."""
    project_dir = Path(project_dir)
    if not (project_dir / "Makefile").is_file():
        raise FirmwareError(f"{project_dir} has no Makefile: render a qemu-m4 project first "
                            f"(unikd-mcu build --board qemu-m4)")
    if shutil.which("make") is None:
        raise FirmwareError("make is not installed (Debian: apt-get install make)")
    args = [f"{k}={v}" for k, v in (make_vars or {}).items()]
    proc = subprocess.run(["make", "-C", str(project_dir), f"-j{jobs}", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise FirmwareError(f"firmware build failed in {project_dir}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return project_dir / IMAGE


def _sources(project: Path) -> list[Path]:
    return sorted(project.glob("*.c")) + sorted(project.glob("*/*.c"))


def _object_keys(project: Path, make_vars: Mapping[str, str] | None) -> dict[Path, str]:
    """For each source of a staged project: a hash of what its object depends on (the Makefile, make's variables,
    the source and every project header it includes, directly or not)."""
    headers = {p.name: p for p in [*project.glob("*.h"), *project.glob("*/*.h")]}
    base = hashlib.sha256((project / "Makefile").read_bytes() + repr(sorted((make_vars or {}).items())).encode())
    keys = {}
    for src in _sources(project):
        h, todo, seen = base.copy(), [src], set()
        h.update(str(src.relative_to(project)).encode())
        while todo:
            f = todo.pop()
            text = f.read_bytes()
            h.update(f.name.encode() + b"\0" + text)
            for name in re.findall(rb'^\s*#\s*include\s+"([^"]+)"', text, re.M):
                name = name.decode()
                if name in headers and name not in seen:
                    seen.add(name)
                    todo.append(headers[name])
        keys[src] = h.hexdigest()
    return keys


def build_image(board: str, project: Path, parts: Mapping[str, Part], jobs: int = 2,
                make_vars: Mapping[str, str] | None = None, object_cache: Path | None = None) -> Path:
    """Stage `parts` for `board` into `project` and build it with the board's Makefile; returns the image.
    object_cache: a folder of objects kept by _object_keys, so that images sharing sources (a test session's aot
    kernels, the core) compile each of them once; make sees a cached object as up to date."""
    missing = missing_tools(board)
    if missing:
        raise FirmwareError(f"missing {', '.join(missing)}; on Debian: apt-get install {DEBIAN_PACKAGES[board]} make")
    project = stage(board, project, parts)
    keys = _object_keys(project, make_vars) if object_cache else {}
    newest = max((p.stat().st_mtime for p in project.rglob("*") if p.is_file()), default=0.0)
    for src, key in keys.items():
        cached = Path(object_cache) / f"{key}.o"
        if cached.is_file():
            obj = project / OBJECTS / src.relative_to(project).with_suffix(".o")
            obj.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, obj)
            os.utime(obj, (newest + 1, newest + 1))  # newer than every source and header staged
    image = build_firmware(project, jobs, make_vars)
    for src, key in keys.items():
        cached = Path(object_cache) / f"{key}.o"
        if not cached.is_file():
            Path(object_cache).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(project / OBJECTS / src.relative_to(project).with_suffix(".o"), cached)
    return image


def run_host_windows(exe: Path, windows) -> tuple:
    """Every int8 window as a WINDOW request (sequence number = its index), sent in one pass through the stdin of a
    host board image (serial mode); returns the device's boot hello and its results by sequence number."""
    import numpy as np

    from unikd_mcu.hil import protocol as P

    requests = b"".join(P.encode(P.Msg.WINDOW, i, np.ascontiguousarray(w, np.int8).tobytes())
                        for i, w in enumerate(windows))
    out = subprocess.run([str(exe)], input=requests, capture_output=True, check=True, timeout=600).stdout
    frames = P.FrameParser().feed(out)
    if not frames or frames[0].type != P.Msg.HELLO:
        raise FirmwareError(f"{exe} sent no boot hello")
    return P.Hello.unpack(frames[0].payload), {f.seq: P.Result.unpack(f) for f in frames if f.type == P.Msg.RESULT}
