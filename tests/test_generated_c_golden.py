"""Golden files for the generated C: the committed tiny model (tests/golden/tiny_student.tflite, made by
scripts/make_golden_tflite.py) must give, byte for byte, the sources committed under tests/golden/generated/: the
aot model source, header and report, the model C arrays, the metadata header and the tflm runtime with its resolver,
once per TFLM library API the board profiles use (tflm/<api>/).

Any change to what the generators write shows up here as a unified diff. When the change is intended, rewrite the
golden files with `UNIKD_UPDATE_GOLDEN=1 python3 -m pytest tests/test_generated_c_golden.py` and commit them with
the change, so the review sees the new C.

Needs neither TensorFlow nor the data directory: the model is committed and its metadata is built from fixed facts.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import GOLDEN_DIR, GOLDEN_FACTS, GOLDEN_MODEL as MODEL_PATH, GOLDEN_RUN

EXPECTED_DIR = GOLDEN_DIR / "generated"
UPDATE_ENV = "UNIKD_UPDATE_GOLDEN"
TFLM_ARENA_BYTES = 2_048  # fixed, so the tflm source does not depend on the host's TFLM measurement


def generated_sources(model: bytes) -> dict[str, bytes]:
    """{path under tests/golden/generated: bytes} of everything the deploy path generates from `model` that is not
    a verbatim copy (the aot kernels are checked against their sources separately)."""
    from codegen.aot.generator import KERNEL_FILES
    from codegen.carrays import model_c_files
    from codegen.metadata import metadata_for
    from codegen.runtimes import aot_runtime, tflm_runtime
    from codegen.tflite_info import read_tflite

    info = read_tflite(model)
    aot = aot_runtime(model)
    out = {f"aot/{name}": data for name, data in aot.files.items() if name not in KERNEL_FILES}
    out["aot/report.json"] = (json.dumps(aot.report, indent=1, sort_keys=True) + "\n").encode()
    meta = metadata_for(model, info, GOLDEN_RUN, GOLDEN_FACTS, "aot")
    out.update({f"model/{name}": text.encode() for name, text in model_c_files(model, meta).items()})
    for api, section in tflm_sections().items():
        tflm = tflm_runtime(info.op_kinds, TFLM_ARENA_BYTES, "fixed for the golden test", section)
        out.update({f"tflm/{api}/{name}": data for name, data in tflm.files.items()})
    return out


def tflm_sections() -> dict[str, dict]:
    """One board profile's tflm section per TFLM library API the profiles use (the runtime differs by API)."""
    from codegen.boards import all_boards

    return {b.tflm["api"]: b.tflm for b in sorted(all_boards(), key=lambda b: b.name) if b.tflm}


def _expected() -> dict[str, bytes]:
    return {str(p.relative_to(EXPECTED_DIR)): p.read_bytes() for p in sorted(EXPECTED_DIR.rglob("*")) if p.is_file()}


def _update(generated: dict[str, bytes]) -> None:
    for stale in set(_expected()) - set(generated):
        (EXPECTED_DIR / stale).unlink()
    for name, data in generated.items():
        (EXPECTED_DIR / name).parent.mkdir(parents=True, exist_ok=True)
        (EXPECTED_DIR / name).write_bytes(data)


def _diff(name: str, expected: bytes, got: bytes) -> str:
    lines = difflib.unified_diff(expected.decode(errors="replace").splitlines(keepends=True),
                                 got.decode(errors="replace").splitlines(keepends=True),
                                 fromfile=f"golden/generated/{name}", tofile=f"generated now/{name}", n=2)
    return "".join(lines)


@pytest.fixture(scope="module")
def model() -> bytes:
    return MODEL_PATH.read_bytes()


def test_golden_model_has_the_students_ops_and_both_kinds_of_reshape(model):
    from codegen.tflite_info import read_tflite

    ops = read_tflite(model).ops
    assert len(model) < 16_000
    assert set(ops) == {"CONV_2D", "PAD", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED", "RESHAPE"}
    # one RESHAPE inside the graph (shares storage) and one as the model output (copied into the caller's buffer)
    assert ops[-1] == "RESHAPE" and ops.count("RESHAPE") == 2


def test_generated_c_matches_the_golden_files(model):
    generated = generated_sources(model)
    if os.environ.get(UPDATE_ENV) == "1":
        _update(generated)
    expected = _expected()
    problems = [f"missing from golden/generated (run with {UPDATE_ENV}=1 to add): {n}"
                for n in sorted(set(generated) - set(expected))]
    problems += [f"in golden/generated but no longer generated: {n}" for n in sorted(set(expected) - set(generated))]
    problems += [_diff(n, expected[n], generated[n]) for n in sorted(set(expected) & set(generated))
                 if expected[n] != generated[n]]
    assert not problems, (f"generated C differs from the golden files; if intended, rerun with {UPDATE_ENV}=1 and "
                          f"commit tests/golden/generated/\n" + "\n".join(problems))


def test_golden_files_cover_every_generator(model):
    names = set(_expected())
    assert {"aot/unikd_aot_model.c", "aot/unikd_aot_model.h", "aot/report.json", "model/unikd_model_data.c",
            "model/unikd_model_data.h", "model/unikd_model_meta.h", "tflm/error_reporter/unikd_runtime_tflm.cc",
            "tflm/no_error_reporter/unikd_runtime_tflm.cc"} <= names
    c = (EXPECTED_DIR / "aot" / "unikd_aot_model.c").read_text()
    assert "/* RESHAPE: shares storage */" in c and "unikd_aot_copy(" in c


def test_aot_kernels_are_copied_verbatim(model):
    from codegen.aot.generator import KERNEL_DIR, KERNEL_FILES
    from codegen.runtimes import aot_runtime

    files = aot_runtime(model).files
    for name in KERNEL_FILES:
        assert files[name] == (KERNEL_DIR / name).read_bytes(), name


def test_a_changed_byte_is_shown_as_a_diff():
    shown = _diff("x.c", b"int a = 1;\nint b = 2;\n", b"int a = 1;\nint b = 3;\n")
    assert "--- golden/generated/x.c" in shown and "-int b = 2;" in shown and "+int b = 3;" in shown


def test_generation_loads_neither_tensorflow_nor_torch_nor_data(model, tmp_path):
    # a fresh interpreter, since other test files in the session import TensorFlow; no data directory either.
    # (tflite_micro may load: the flatbuffer reader uses the schema module its wheel ships, not its interpreter.)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import test_generated_c_golden as g; "
            "g.generated_sources(g.MODEL_PATH.read_bytes()); "
            "print(sorted(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))")
    env = dict(os.environ, UNIKD_DATA_DIR=str(tmp_path / "no-data"))
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True,
                         check=True, env=env).stdout
    assert out.strip() == "[]"
