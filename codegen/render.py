"""Render a complete firmware project for one board from a model, its metadata and the firmware/ folder.

Output, inside the folder given (the build makes it atomic):

    arduino/unikd_<board>/unikd_<board>.ino + all C/C++ sources   (boards with an Arduino FQBN; opens in the IDE)
    platformio/platformio.ini + src/                              (boards with a PlatformIO environment)
    make/Makefile, startup, linker script + core/ model/ runtime/  (the emulated qemu-m4; `make` -> build/fw.elf)
    README.md                                                      how to build and flash, sensor notes

Every project carries: firmware/core/*.c/*.h verbatim (the portable core), the model C arrays and metadata header,
one runtime (aot: codegen.aot.generate; tflm: unikd_runtime_tflm from the template) and the board glue.
"""

from __future__ import annotations

from pathlib import Path

from codegen import FIRMWARE_DIR
from codegen.boards import Board
from codegen.carrays import model_c_files
from codegen.errors import DeployError
from codegen.metadata import ModelMetadata
from codegen.runtimes import RuntimeFiles, board_runtime
from codegen.sensors import GRAVITY_CUTOFF_HZ, IMU_QUANTITIES, IMU_SENSORS, channel_sources
from codegen.templating import render_template

CORE_DIR = FIRMWARE_DIR / "core"
BOARDS_FIRMWARE_DIR = FIRMWARE_DIR / "boards"
EMULATED_DIR = "make"


def sketch_name(board: Board) -> str:
    return "unikd_" + board.name.replace("-", "_")


def core_files() -> dict[str, bytes]:
    """firmware/core/*.c and *.h as they are now (copied verbatim)."""
    files = {p.name: p.read_bytes() for p in sorted(CORE_DIR.glob("*")) if p.suffix in (".c", ".h") and p.is_file()}
    if "unikd_runtime.h" not in files:
        raise DeployError(f"{CORE_DIR} holds no unikd_runtime.h: the firmware core is missing")
    return files


def board_files(board: Board) -> dict[str, bytes]:
    """Files of firmware/boards/<board>/ (startup, linker script, glue), if the board has such a folder."""
    folder = BOARDS_FIRMWARE_DIR / board.name
    if not folder.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != "README.md"}


def _write(folder: Path, files: dict[str, bytes | str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = folder / name
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)


def _merge(*parts: dict) -> dict:
    out: dict = {}
    for part in parts:
        clash = sorted(set(out) & set(part))
        if clash:
            raise DeployError(f"two parts of the firmware project provide {', '.join(clash)}")
        out.update(part)
    return out


def render_project(board: Board, model: bytes, meta: ModelMetadata, runtime: RuntimeFiles, out: Path,
                   sensor: str | None = None) -> dict:
    """Write the board's project(s) into `out` (which must exist). Returns a summary (folders, files, sensor)."""
    entry = board_runtime(board, runtime.name)
    if meta.runtime != runtime.name:
        raise DeployError(f"metadata says runtime {meta.runtime!r} but the {runtime.name!r} runtime was given")
    sensor = sensor or board.sensor
    if board.is_emulated and sensor != "serial":
        raise DeployError(f"the emulated board {board.name} has no IMU; its samples come over serial")
    imu = IMU_SENSORS.get(sensor)
    sources = channel_sources(meta.channel_names, sensor)
    out = Path(out)

    opts = board.sensor_options
    sda, scl = opts.get("i2c_sda"), opts.get("i2c_scl")
    values = dict(
        board=board, meta=meta, runtime=runtime.name, imu=imu, sensor=sensor, channel_names=meta.channel_names,
        channel_sources=sources, gravity_cutoff_hz=GRAVITY_CUTOFF_HZ,
        sda=sda, scl=scl,
        sda_text=f"GPIO {sda}" if sda is not None else "the board's default SDA pin",
        scl_text=f"GPIO {scl}" if scl is not None else "the board's default SCL pin",
        address=int(opts.get("i2c_address", 0x68)),
        runtime_summary=entry.describe(board, runtime),
        store=board.store,
        channel_map=", ".join(f"{c} <- {IMU_QUANTITIES[s]}" for c, s in zip(meta.channel_names, sources)),
    )
    libs = entry.libraries(board)
    common = _merge(core_files(), {k: v.encode() for k, v in model_c_files(model, meta).items()})
    imu_files = {}
    if imu:
        imu_files = {"unikd_imu.h": render_template("unikd_imu.h.j2"),
                     f"unikd_imu_{sensor}.cpp": render_template(imu.driver_template, **values),
                     **{t.removesuffix(".j2"): render_template(t, **values) for t in imu.support_templates}}
    sketch = render_template("unikd_sketch.cpp.j2", **values)
    if libs.header:
        # Arduino finds a library by the headers the sketch includes: name the runtime library's own header.
        sketch = sketch.replace('#include "unikd_app.h"', f'#include <{libs.header}>\n#include "unikd_app.h"', 1)

    folders: list[tuple[str, str]] = []
    written: list[str] = []
    if board.arduino:
        name = sketch_name(board)
        # the Arduino builder compiles .c, .cpp and .S only
        rt = {(n[:-3] + ".cpp" if n.endswith(".cc") else n): data for n, data in runtime.files.items()}
        files = _merge(common, rt, imu_files, {f"{name}.ino": sketch})
        _write(out / "arduino" / name, files)
        folders.append((f"arduino/{name}", f"Arduino sketch ({board.arduino['fqbn']})"))
        written += [f"arduino/{name}/{f}" for f in files]
    if board.platformio:
        lib_deps = list(libs.platformio)
        if imu and imu.platformio_library:
            lib_deps.append(imu.platformio_library)
        ini = render_template("platformio.ini.j2", board=board, runtime=runtime.name, pio=board.platformio,
                              lib_deps=lib_deps)
        files = _merge(common, runtime.files, imu_files, {"main.cpp": sketch})
        _write(out / "platformio" / "src", files)
        _write(out / "platformio", {"platformio.ini": ini})
        folders.append(("platformio", f"PlatformIO project (env {board.platformio['env']})"))
        written += ["platformio/platformio.ini"] + [f"platformio/src/{f}" for f in files]
    if board.is_emulated:
        # The board folder (startup, linker script, glue and its own Makefile, which builds every .c here and one
        # folder below) at the top; the shared parts in subfolders.
        glue = board_files(board)
        if "Makefile" not in glue:
            raise DeployError(f"firmware/boards/{board.name}/ (Makefile, startup code, linker script) is missing")
        project = out / EMULATED_DIR
        _write(project, glue)
        _write(project / "core", core_files())
        _write(project / "model", model_c_files(model, meta))
        _write(project / "runtime", runtime.files)
        folders.append((EMULATED_DIR, f"{board.name} firmware: `make` builds build/fw.elf with {board.toolchain}"))
        written += [f"{EMULATED_DIR}/{p.relative_to(project)}" for p in sorted(project.rglob("*")) if p.is_file()]

    arduino_libs = list(libs.arduino)
    if imu and imu.arduino_library:
        arduino_libs.append(imu.arduino_library)
    readme = render_template("PROJECT_README.md.j2", folders=folders, sketch=sketch_name(board),
                             arduino_libs=arduino_libs, **values)
    (out / "README.md").write_text(readme)
    written.append("README.md")
    return {"board": board.name, "runtime": runtime.name, "sensor": sensor, "folders": [f for f, _ in folders],
            "files": written}
