"""The emitted C (model array + metadata header) compiles cleanly as C99, as C++ and for the Cortex-M4, and a host
program built from it prints back exactly the bytes, hash and metadata Python wrote."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess

import numpy as np
import pytest

from codegen.carrays import ARRAY_NAME, c_float, c_string, model_c_files, write_files
from codegen.metadata import ModelMetadata
from helpers import require_tools

PROBE = r"""
#include <stdint.h>
#include <stdio.h>
#include "unikd_model_data.h"
#include "unikd_model_meta.h"

static const float mean[UNIKD_CHANNELS] = UNIKD_NORM_MEAN_INIT;
static const float inv_std[UNIKD_CHANNELS] = UNIKD_NORM_INV_STD_INIT;
static const char *const classes[UNIKD_NUM_CLASSES] = UNIKD_CLASS_NAMES_INIT;

int main(void) {
    size_t i;
    int c;
    printf("len %lu\n", (unsigned long)unikd_model_tflite_len);
    printf("align16 %d\n", (int)(((uintptr_t)unikd_model_tflite) % 16u == 0u));
    printf("hash %s\n", UNIKD_MODEL_HASH);
    printf("runtime %s\n", UNIKD_RUNTIME_NAME);
    printf("ints %d %d %d %d %d %d %d %d\n", UNIKD_WINDOW, UNIKD_CHANNELS, UNIKD_STRIDE, UNIKD_NUM_CLASSES,
           UNIKD_INPUT_BYTES, UNIKD_OUTPUT_BYTES, UNIKD_INPUT_ZERO_POINT, UNIKD_OUTPUT_ZERO_POINT);
    printf("floats %a %a %a\n", (double)UNIKD_INPUT_SCALE, (double)UNIKD_OUTPUT_SCALE, (double)UNIKD_SAMPLE_RATE_HZ);
    printf("mean");
    for (c = 0; c < UNIKD_CHANNELS; ++c) printf(" %a", (double)mean[c]);
    printf("\ninv_std");
    for (c = 0; c < UNIKD_CHANNELS; ++c) printf(" %a", (double)inv_std[c]);
    printf("\n");
    for (c = 0; c < UNIKD_NUM_CLASSES; ++c) printf("class %s\n", classes[c]);
    printf("bytes ");
    for (i = 0; i < unikd_model_tflite_len; ++i) printf("%02x", unikd_model_tflite[i]);
    printf("\n");
    return 0;
}
"""

WARN = ["-Wall", "-Wextra", "-Werror"]


@pytest.fixture(scope="module")
def emitted(student_tflite, student_metadata, tmp_path_factory):
    model = student_tflite
    # class names that need escaping in C, to check the string literals too
    meta = student_metadata(class_names=["walk", 'up "stairs"', "down\\stairs", "sit?", "stånd", "lie\tdown"],
                            method="kd */ #error broken", channel_names=[f"ch{i}*/" for i in range(9)])
    d = tmp_path_factory.mktemp("carrays")
    write_files(model_c_files(model, meta), d)
    (d / "probe.c").write_text(PROBE)
    return model, meta, d


def _parse(out: str) -> dict:
    lines = out.splitlines()
    kv = {}
    for line in lines:
        key, _, rest = line.partition(" ")
        if key == "class":
            kv.setdefault("classes", []).append(rest)
        else:
            kv[key] = rest
    return kv


def _check_probe_output(out: str, model: bytes, meta: ModelMetadata) -> None:
    kv = _parse(out)
    assert int(kv["len"]) == len(model)
    assert kv["align16"] == "1"
    assert bytes.fromhex(kv["bytes"]) == model
    assert kv["hash"] == hashlib.sha256(model).hexdigest() == meta.model_sha256
    assert kv["runtime"] == meta.runtime
    assert [int(v) for v in kv["ints"].split()] == [meta.window, meta.channels, meta.stride, meta.num_classes,
                                                    meta.window * meta.channels, meta.num_classes,
                                                    meta.input_zero_point, meta.output_zero_point]
    floats = [float.fromhex(v) for v in kv["floats"].split()]
    assert floats == [meta.input_scale, meta.output_scale, meta.sample_rate_hz]  # exact float32 values
    assert [float.fromhex(v) for v in kv["mean"].split()] == meta.norm_mean
    assert [float.fromhex(v) for v in kv["inv_std"].split()] == meta.norm_inv_std
    assert kv["classes"] == meta.class_names


def test_host_c99_program_reads_back_array_and_metadata(emitted):
    require_tools("gcc")
    model, meta, d = emitted
    exe = d / "probe_c"
    subprocess.run(["gcc", "-std=c99", "-pedantic", *WARN, "-o", str(exe), str(d / "probe.c"),
                    str(d / "unikd_model_data.c")], check=True, cwd=d)
    _check_probe_output(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout, model, meta)


def test_everything_compiles_as_cpp_too(emitted):
    require_tools("g++")
    model, meta, d = emitted
    exe = d / "probe_cpp"
    subprocess.run(["g++", "-std=c++11", *WARN, "-x", "c++", "-o", str(exe), str(d / "probe.c"),
                    str(d / "unikd_model_data.c")], check=True, cwd=d)
    _check_probe_output(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout, model, meta)


def test_c_definition_links_with_cpp_user(emitted):
    require_tools("g++", "gcc")
    """The array defined by the C file is found by a C++ file through the header's extern "C"."""
    model, meta, d = emitted
    (d / "user.cc").write_text('#include "unikd_model_data.h"\n#include <cstdio>\n'
                               'int main() { std::printf("%u %u\\n", (unsigned)unikd_model_tflite_len, '
                               '(unsigned)unikd_model_tflite[4]); return 0; }\n')
    subprocess.run(["gcc", "-std=c99", *WARN, "-c", "-o", str(d / "data.o"), str(d / "unikd_model_data.c")],
                   check=True, cwd=d)
    subprocess.run(["g++", *WARN, "-o", str(d / "user"), str(d / "user.cc"), str(d / "data.o")], check=True, cwd=d)
    out = subprocess.run([str(d / "user")], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(len(model)), str(model[4])]


def test_cross_compiles_for_cortex_m4_with_16_byte_alignment(emitted):
    require_tools("arm-none-eabi-gcc")
    model, meta, d = emitted
    flags = ["-mcpu=cortex-m4", "-mthumb", *WARN, "-std=c99", "-c"]
    subprocess.run(["arm-none-eabi-gcc", *flags, "-o", str(d / "data_m4.o"), str(d / "unikd_model_data.c")],
                   check=True, cwd=d)
    subprocess.run(["arm-none-eabi-gcc", *flags, "-o", str(d / "probe_m4.o"), str(d / "probe.c")], check=True, cwd=d)
    syms = subprocess.run(["arm-none-eabi-readelf", "-S", "-s", "-W", str(d / "data_m4.o")], capture_output=True,
                          text=True, check=True).stdout
    sym = next(line.split() for line in syms.splitlines() if line.rstrip().endswith(" " + ARRAY_NAME))
    assert int(sym[2]) == len(model)  # symbol size
    rodata_align = [line.split()[-1] for line in syms.splitlines() if ".rodata" in line and "rel" not in line]
    assert rodata_align and int(rodata_align[0]) >= 16


def test_meta_header_has_exactly_the_contract_macros(emitted):
    _, meta, d = emitted
    text = (d / "unikd_model_meta.h").read_text()
    macros = sorted(line.split()[1] for line in text.splitlines() if line.startswith("#define "))
    assert macros == sorted([
        "UNIKD_MODEL_META_H", "UNIKD_MODEL_HASH", "UNIKD_WINDOW", "UNIKD_CHANNELS", "UNIKD_STRIDE",
        "UNIKD_NUM_CLASSES", "UNIKD_INPUT_BYTES", "UNIKD_OUTPUT_BYTES", "UNIKD_INPUT_SCALE", "UNIKD_OUTPUT_SCALE",
        "UNIKD_INPUT_ZERO_POINT", "UNIKD_OUTPUT_ZERO_POINT", "UNIKD_SAMPLE_RATE_HZ", "UNIKD_NORM_MEAN_INIT",
        "UNIKD_NORM_INV_STD_INIT", "UNIKD_CLASS_NAMES_INIT", "UNIKD_RUNTIME_NAME", "UNIKD_CALIB_WARMUP",
        "UNIKD_CALIB_REFRESH", "UNIKD_CALIB_MAX_SAMPLES"])
    # the calibration defaults: three minutes at the model's rate, whole strides; refreshed every stride
    assert f"#define UNIKD_CALIB_WARMUP {meta.calib_warmup}u" in text and meta.calib_warmup % meta.stride == 0
    assert meta.calib_warmup >= 180 * meta.sample_rate_hz > meta.calib_warmup - meta.stride
    assert f"#define UNIKD_CALIB_REFRESH {meta.stride}u" in text
    data_h = (d / "unikd_model_data.h").read_text()
    assert "#ifndef UNIKD_MODEL_DATA_H" in data_h and "extern const uint8_t unikd_model_tflite[];" in data_h
    assert "extern const size_t unikd_model_tflite_len;" in data_h


def test_metadata_json_round_trip_and_checks(emitted, tmp_path):
    _, meta, _ = emitted
    meta.save(tmp_path / "metadata.json")
    again = ModelMetadata.load(tmp_path / "metadata.json")
    assert again == meta
    d = json.loads((tmp_path / "metadata.json").read_text())
    assert d["model_sha256"] == meta.model_sha256 and len(d["model_sha256"]) == 64
    assert np.float32(d["input_scale"]) == d["input_scale"]  # the float32 value itself, not a rounded print
    del d["stride"]
    (tmp_path / "broken.json").write_text(json.dumps(d))
    from codegen.errors import DeployError

    with pytest.raises(DeployError, match="missing key.*stride"):
        ModelMetadata.load(tmp_path / "broken.json")
    with pytest.raises(DeployError, match="unknown runtime 'micro'"):
        dataclasses.replace(meta, runtime="micro")


def test_c_literals():
    rng = np.random.default_rng(1)
    for v in np.concatenate([rng.normal(0, 10, 200), [50.0, 1.0, 1e-8, 3.4e38, 0.1]]).astype(np.float32):
        lit = c_float(float(v))
        assert lit.endswith("f") and any(ch in lit for ch in ".e")
        assert np.float32(float(lit[:-1])) == v
    assert c_float(50.0) == "50.0f"
    assert c_string('a"b\\c?') == '"a\\"b\\\\c\\077"'
    with pytest.raises(ValueError):
        c_float(float("nan"))
