"""Board profiles are data: one YAML file per board in this folder (plus any folder listed in $UNIKD_BOARDS_PATH,
separated by ':', for boards of your own). `get_board(name)` reads them; an unknown name lists the boards.

A profile says what the build needs to know and check: the MCU, the flash and RAM budgets for the model and its
runtime, how to build (Arduino FQBN, PlatformIO environment, or the project's own Makefile), the serial baud
rate, the default sensor and runtime, and which tools flash it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from codegen.errors import DeployError
from codegen.runtimes import get_runtime, runtime_names
from codegen.sensors import IMU_SENSORS
from unikd.registry import Registry

BOARDS_DIR = Path(__file__).resolve().parent
ENV_VAR = "UNIKD_BOARDS_PATH"
SENSORS = (*IMU_SENSORS, "serial")  # an IMU of the registry, or samples over the serial link


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    mcu: str
    flash_budget_bytes: int
    ram_budget_bytes: int
    baud: int
    sensor: str
    runtime: str
    runtimes: tuple[str, ...]
    toolchain: str
    flash_tools: tuple[str, ...]
    arduino: dict | None = None  # fqbn, core
    platformio: dict | None = None  # env, platform, board, framework
    tflm: dict | None = None  # arduino_library, version, platformio_lib or git_url, header, api (codegen.runtimes)
    sensor_options: dict = field(default_factory=dict)
    esptool_chip: str | None = None
    # where the sketch keeps the wearer's calibration across resets: "preferences" (ESP32 NVS) or "none"
    store: str = "none"
    path: Path | None = None

    @property
    def is_emulated(self) -> bool:
        return self.arduino is None and self.platformio is None


_REQUIRED = {"name": str, "description": str, "mcu": str, "flash_budget_bytes": int, "ram_budget_bytes": int,
             "baud": int, "sensor": str, "runtime": str, "runtimes": list, "toolchain": str, "flash_tools": list}
_OPTIONAL = {"arduino": (dict, type(None)), "platformio": (dict, type(None)), "tflm": (dict, type(None)),
             "sensor_options": dict, "esptool_chip": (str, type(None)), "store": str}
STORES = ("none", "preferences")


def load_board_file(path: Path) -> Board:
    """Read and check one profile; errors name the file and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise DeployError(f"board profile {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise DeployError(f"board profile {path} must be a mapping of keys, got {type(data).__name__}")
    for key, typ in _REQUIRED.items():
        if key not in data:
            raise DeployError(f"board profile {path}: missing key {key!r}")
        if not isinstance(data[key], typ) or (typ is int and isinstance(data[key], bool)):
            raise DeployError(f"board profile {path}: {key!r} must be {typ.__name__}, got {data[key]!r}")
    for key, typ in _OPTIONAL.items():
        if key in data and not isinstance(data[key], typ):
            raise DeployError(f"board profile {path}: {key!r} has the wrong type ({data[key]!r})")
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise DeployError(f"board profile {path}: unknown key(s) {', '.join(unknown)}")
    if data.get("store", "none") not in STORES:
        raise DeployError(f"board profile {path}: 'store' must be one of {', '.join(STORES)}, got {data['store']!r}")
    if data["name"] != path.stem:
        raise DeployError(f"board profile {path}: name {data['name']!r} must equal the file name {path.stem!r}")
    if data["sensor"] not in SENSORS:
        raise DeployError(f"board profile {path}: sensor {data['sensor']!r} is not one of {', '.join(SENSORS)}")
    _check_runtimes_and_tools(path, data)
    for key in ("flash_budget_bytes", "ram_budget_bytes", "baud"):
        if data[key] <= 0:
            raise DeployError(f"board profile {path}: {key!r} must be positive, got {data[key]}")
    data["runtimes"] = tuple(data["runtimes"])
    data["flash_tools"] = tuple(data["flash_tools"])
    return Board(**data, path=path)


def _check_runtimes_and_tools(path: Path, data: dict) -> None:
    """The profile's runtimes and flash tools must be registered (codegen.runtimes, codegen.toolchains), and each
    runtime must find what it needs in the profile."""
    # imported here: codegen.toolchains imports codegen.render, which imports this module
    from codegen.toolchains import TOOLCHAINS

    valid = runtime_names()
    bad = [r for r in [data["runtime"], *data["runtimes"]] if r not in valid]
    if bad or data["runtime"] not in data["runtimes"]:
        raise DeployError(f"board profile {path}: runtime {data['runtime']!r} must be one of runtimes "
                          f"{data['runtimes']}, each of {', '.join(valid)}")
    for name in data["runtimes"]:
        problem = get_runtime(name).profile_problem(data)
        if problem:
            raise DeployError(f"board profile {path}: {problem}")
    unknown = [t for t in data["flash_tools"] if t not in TOOLCHAINS]
    if unknown:
        raise DeployError(f"board profile {path}: unknown flash tool(s) {', '.join(unknown)}; valid toolchains: "
                          f"{', '.join(TOOLCHAINS.names())}")


def _profile_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    return [BOARDS_DIR, *extra]


def board_registry() -> Registry:
    """All profiles, read now (so a profile added to $UNIKD_BOARDS_PATH is seen without a restart)."""
    registry: Registry = Registry("board")
    seen: dict[str, Path] = {}
    for folder in _profile_dirs():
        for path in sorted(Path(folder).glob("*.yaml")):
            board = load_board_file(path)
            if board.name in seen:
                raise DeployError(f"board {board.name!r} is defined twice: {seen[board.name]} and {path}")
            seen[board.name] = path
            registry.register(board.name)(board)
    return registry


def get_board(name: str) -> Board:
    """The profile called `name`; an unknown name raises a UserError that lists the boards."""
    return board_registry().get(name)


def all_boards() -> list[Board]:
    reg = board_registry()
    return [reg.get(n) for n in reg.names()]
