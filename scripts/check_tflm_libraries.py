"""Check the tflm runtime against the real TFLM Arduino libraries the board profiles name.

    python scripts/check_tflm_libraries.py [--libs DIR]      (default DIR: $UNIKD_TFLM_LIBS)

DIR holds one folder per library version, named `<arduino_library>@<version>` exactly as a profile's tflm section
gives them, with the library's files inside (its src/ folder). From a snapshot of the library's repository:

    mkdir -p DIR/TensorFlowLite_ESP32@1.0.0
    git -C <Arduino_TensorFlowLite_ESP32 clone> archive 1.0.0 | tar -x -C DIR/TensorFlowLite_ESP32@1.0.0
    mkdir -p DIR/Arduino_TensorFlowLite@7948b85e020470a30a83bf00e10fc43b486bfcba/src
    git -C <tflite-micro-arduino-examples clone> archive 7948b85e020470a30a83bf00e10fc43b486bfcba:src \\
        | tar -x -C DIR/Arduino_TensorFlowLite@7948b85e020470a30a83bf00e10fc43b486bfcba/src

For every library found, against its headers:
- the API entry (codegen.tflm.TFLM_APIS) is what the headers say: whether MicroInterpreter's arena constructor takes
  an ErrorReporter, and which of the op resolver methods codegen.tflm maps are missing;
- the golden tflm runtime (tests/golden/generated/tflm/<api>/) and a runtime registering every op the API can
  register compile with the host's g++ (-fsyntax-only: types, overloads and member names, no linking).

A library that is not in DIR is reported as skipped (exit 0): CI has no network and no copy of these libraries.
Exits 1 if a check fails, printing the compiler's errors.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from codegen.boards import all_boards
from codegen.render import CORE_DIR
from codegen.runtimes import tflm_library
from codegen.tflm import RESOLVER_METHODS, get_api, runtime_source

REPO = Path(__file__).resolve().parents[1]
ENV_VAR = "UNIKD_TFLM_LIBS"
GOLDEN = REPO / "tests" / "golden" / "generated"
INTERPRETER_H = "tensorflow/lite/micro/micro_interpreter.h"
RESOLVER_H = "tensorflow/lite/micro/micro_mutable_op_resolver.h"


def header_facts(src: Path) -> tuple[bool, set[str]]:
    """(whether the arena constructor of MicroInterpreter takes an ErrorReporter*, the resolver's Add* methods)."""
    interpreter = (src / INTERPRETER_H).read_text()
    # the arena constructor: its parameter after tensor_arena_size
    m = re.search(r"MicroInterpreter\(\s*const Model\* model,[^)]*?size_t tensor_arena_size,\s*([^)]*)\)", interpreter)
    if not m:
        raise SystemExit(f"{src / INTERPRETER_H}: no MicroInterpreter(model, ..., tensor_arena_size, ...) constructor")
    takes_reporter = m.group(1).lstrip().startswith("ErrorReporter*")
    methods = set(re.findall(r"TfLiteStatus (Add\w+)\(", (src / RESOLVER_H).read_text()))
    return takes_reporter, methods


def compile_check(src: Path, runtime: str, workdir: Path) -> str | None:
    """g++ -fsyntax-only of one runtime source with the golden model headers; the compiler's errors or None."""
    cc = workdir / "unikd_runtime_tflm.cc"
    cc.write_text(runtime)
    p = subprocess.run(["g++", "-std=gnu++17", "-fsyntax-only", "-Wall", "-Werror", "-I", str(workdir),
                        "-I", str(GOLDEN / "model"), "-I", str(CORE_DIR), "-I", str(src), str(cc)],
                       capture_output=True, text=True, check=False)
    return None if p.returncode == 0 else p.stderr[-4000:]


def check_library(section: dict, folder: Path) -> list[str]:
    """Problems found for one profile's tflm section against the library in `folder` (empty: all checks passed)."""
    api = get_api(section["api"])
    src = folder / "src"
    problems = []
    takes_reporter, methods = header_facts(src)
    if takes_reporter != api.error_reporter:
        problems.append(f"api {api.name}: error_reporter={api.error_reporter} but {INTERPRETER_H} says "
                        f"{takes_reporter}")
    missing = {m for m in RESOLVER_METHODS.values() if m not in methods}
    if missing != set(api.missing_methods):
        problems.append(f"api {api.name}: missing_methods={sorted(api.missing_methods)} but {RESOLVER_H} lacks "
                        f"{sorted(missing)}")
    with tempfile.TemporaryDirectory(prefix="unikd-tflm-check-") as tmp:
        golden = GOLDEN / "tflm" / api.name / "unikd_runtime_tflm.cc"
        every_op = [op for op, m in RESOLVER_METHODS.items() if m not in api.missing_methods]
        for what, runtime in (("golden runtime", golden.read_text()),
                              ("runtime with every op", runtime_source(every_op, 4096, "check", api.name,
                                                                       tflm_library(section)))):
            errors = compile_check(src, runtime, Path(tmp))
            if errors:
                problems.append(f"{what} does not compile against {folder.name}:\n{errors}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--libs", type=Path, default=os.environ.get(ENV_VAR),
                    help=f"folder of <library>@<version> folders (default ${ENV_VAR})")
    args = ap.parse_args(argv)
    if shutil.which("g++") is None:
        print("skipped: g++ is not on PATH")
        return 0
    sections = {tflm_library(b.tflm): b.tflm for b in all_boards() if b.tflm}
    failed = False
    for library, section in sorted(sections.items()):
        folder = args.libs / library if args.libs else None
        if folder is None or not (folder / "src" / INTERPRETER_H).is_file():
            where = f"{args.libs}" if args.libs else f"nowhere (no --libs, ${ENV_VAR} unset)"
            print(f"skipped {library}: no copy of it in {where}")
            continue
        problems = check_library(section, folder)
        failed |= bool(problems)
        print(f"{'FAILED' if problems else 'ok'} {library} (api {section['api']})")
        for p in problems:
            print("  " + p.replace("\n", "\n  "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
