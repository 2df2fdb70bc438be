"""The tflm runtime is tied to the exact TFLM library a board profile names: the profile pins the library version and
names its API (codegen.tflm.TFLM_APIS), a profile whose version was never read is refused, and
scripts/check_tflm_libraries.py compiles the runtime against the real libraries when a copy is at hand
($UNIKD_TFLM_LIBS), skipping cleanly where there is none (CI has no network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.boards import get_board, load_board_file
from codegen.errors import DeployError
from helpers import TINY_BOARD_YAML

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "check_tflm_libraries.py"
ESP32_LIBRARY = "TensorFlowLite_ESP32@1.0.0"
NANO_LIBRARY = "Arduino_TensorFlowLite@7948b85e020470a30a83bf00e10fc43b486bfcba"

TFLM_SECTION = """tflm:
  arduino_library: TensorFlowLite_ESP32
  version: 1.0.0
  platformio_lib: tanakamasayuki/TensorFlowLite_ESP32
  header: TensorFlowLite_ESP32.h
  api: error_reporter
"""


def _tflm_board(tmp_path, section: str = TFLM_SECTION) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_BOARD_YAML.replace("runtimes: [aot]", "runtimes: [aot, tflm]") + section)
    return path


def test_shipped_profiles_pin_the_library_their_api_was_read_from():
    for board in ("esp32", "esp32s3"):
        t = get_board(board).tflm
        assert (t["arduino_library"], t["version"], t["api"]) == ("TensorFlowLite_ESP32", "1.0.0", "error_reporter")
    t = get_board("nano33ble").tflm
    assert f"{t['arduino_library']}@{t['version']}" == NANO_LIBRARY and t["api"] == "no_error_reporter"
    assert t["git_url"] == "https://github.com/tensorflow/tflite-micro-arduino-examples.git"


def test_a_profile_with_a_complete_tflm_section_loads(tmp_path):
    assert load_board_file(_tflm_board(tmp_path)).tflm["api"] == "error_reporter"


@pytest.mark.parametrize("change, message", [
    # a version whose headers nobody read: the runtime might not compile against it
    (("version: 1.0.0", "version: 1.0.1"),
     "api 'error_reporter' was read from the headers of TensorFlowLite_ESP32@1.0.0, not TensorFlowLite_ESP32@1.0.1"),
    (("api: error_reporter", "api: no_error_reporter"), "not TensorFlowLite_ESP32@1.0.0"),
    (("api: error_reporter", "api: tflm2"), "api 'tflm2' is not one of error_reporter, no_error_reporter"),
    (("  version: 1.0.0\n", ""), "tflm section: version must be given as text"),
    (("version: 1.0.0", "version: 1.0"), "tflm section: version must be given as text"),  # YAML reads 1.0 as a float
    (("  api: error_reporter\n", ""), "tflm section: api must be given as text"),
    (("  platformio_lib: tanakamasayuki/TensorFlowLite_ESP32\n", ""), "give exactly one of platformio_lib"),
    (("header:", "colour: red\n  header:"), "tflm section: unknown key(s) colour"),
])
def test_profile_tflm_section_problems_are_named(tmp_path, change, message):
    path = _tflm_board(tmp_path, TFLM_SECTION.replace(*change))
    with pytest.raises(DeployError) as e:
        load_board_file(path)
    assert str(path) in str(e.value) and message in str(e.value)


def _check(libs: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--libs", str(libs)], capture_output=True, text=True,
                          timeout=900, check=False)


def test_library_check_skips_cleanly_without_the_libraries(tmp_path, require_tools):
    require_tools("g++")
    p = _check(tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"skipped {ESP32_LIBRARY}: no copy of it in {tmp_path}" in p.stdout
    assert f"skipped {NANO_LIBRARY}: no copy of it in {tmp_path}" in p.stdout


def test_runtime_compiles_against_the_real_libraries(require_tools):
    """Runs where a copy of both libraries is at hand (see the script's docstring for how to make one)."""
    libs = os.environ.get("UNIKD_TFLM_LIBS")
    if not libs:
        pytest.skip("UNIKD_TFLM_LIBS is not set: no copy of the TFLM Arduino libraries to compile against")
    require_tools("g++")
    p = _check(Path(libs))
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"ok {ESP32_LIBRARY} (api error_reporter)" in p.stdout
    assert f"ok {NANO_LIBRARY} (api no_error_reporter)" in p.stdout
