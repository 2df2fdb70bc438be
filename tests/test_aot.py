"""aot runtime: generated C compiled with the host gcc, compared window by window with TFLM's interpreter.

Models are built here with tf.keras in the shape of the project's students and teacher (Conv2D with height 1,
ZeroPadding + MaxPool, global average, Dense), converted to full int8 with representative UCI-HAR windows, and
run by the `tflite-micro` Python interpreter (the golden runtime). Every compared window must agree bit for bit.
Inputs: real UCI-HAR windows of the target subject (11), random int8 windows and saturated/constant ones.

Toolchain-gated: the Cortex-M4 compile test and the run on the emulated board (QEMU mps2-an386) skip when
arm-none-eabi-gcc or qemu-system-arm is missing, and fail instead under CI (test_codegen_shared.require_tools)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from test_codegen_shared import require_tools
from unikd.errors import UserError

tf = pytest.importorskip("tensorflow")
tflm_runtime = pytest.importorskip("tflite_micro").runtime

from codegen.aot import UnsupportedOpError, generate  # noqa: E402
from codegen.aot.tflite_reader import read_model  # noqa: E402
from codegen.convert import keras_to_int8_tflite  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RUNTIME_INCLUDE = REPO / "firmware" / "core"
SEED = 20261123
SOURCE_SUBJECT, TARGET_SUBJECT = 2, 11
HOST_CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2"]
ARM_CFLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-std=c99", "-Wall",
              "-Wextra", "-Werror", "-O2"]

HARNESS_C = r"""
#include <stdio.h>
#include "unikd_aot_model.h"
/* Reads int8 windows from stdin, writes int8 outputs to stdout, the runtime's RAM figure to stderr. */
int main(void) {
    static int8_t in[UNIKD_AOT_INPUT_BYTES];
    static int8_t out[UNIKD_AOT_OUTPUT_BYTES];
    if (unikd_runtime_init() != 0) {
        return 2;
    }
    fprintf(stderr, "%lu\n", (unsigned long)unikd_runtime_ram_bytes());
    while (fread(in, 1, sizeof in, stdin) == sizeof in) {
        if (unikd_runtime_invoke(in, out) != 0) {
            return 3;
        }
        fwrite(out, 1, sizeof out, stdout);
    }
    return 0;
}
"""


# ---------------------------------------------------------------- data


@pytest.fixture(scope="session")
def windows(real_data_dir):
    """Normalised float windows (N, 1, 128, 9): source-subject training windows (calibration) and every window of
    the target subject (inputs to compare on; labels are not used, so both AdaTime splits serve)."""
    d = np.load(real_data_dir / "ucihar" / "ucihar.npz")
    x = d["X"].transpose(0, 2, 1)[:, None].astype(np.float32)
    subject, split = d["subject"], d["adatime_split"]
    source = x[(subject == SOURCE_SUBJECT) & (split == 0)]
    target = x[subject == TARGET_SUBJECT]
    mean, std = source.mean(axis=(0, 1, 2)), source.std(axis=(0, 1, 2))
    return {"source": (source - mean) / std, "target": (target - mean) / std}


# ---------------------------------------------------------------- models

def _randomise_biases(model, rng, scale=0.2):
    """Fresh Keras biases are zero and the converter then drops them; real students have folded BN biases."""
    for layer in model.layers:
        if getattr(layer, "use_bias", False) and layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0.0, scale, bias.shape).astype(np.float32)])


def _cnn(widths, head="gap", n_classes=6, seed=0):
    """The project's student/teacher shape: channels-last (1, 128, 9), Conv2D kernels of height 1."""
    L = tf.keras.layers
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((1, 128, 9), batch_size=1)
    x = L.ReLU()(L.Conv2D(widths[0], (1, 5), padding="same")(inp))
    x = L.MaxPool2D((1, 2))(L.ZeroPadding2D((0, 1))(x))
    for w in widths[1:]:
        x = L.ReLU()(L.Conv2D(w, (1, 8), padding="valid")(L.ZeroPadding2D((0, 4))(x)))
        x = L.MaxPool2D((1, 2))(L.ZeroPadding2D((0, 1))(x))
    if head == "gap":
        x = L.GlobalAveragePooling2D()(x)
    else:  # tf.reduce_mean over (1, 2) keeping dims, then flatten
        x = L.Flatten()(L.Lambda(lambda t: tf.reduce_mean(t, axis=(1, 2), keepdims=True))(x))
    model = tf.keras.Model(inp, L.Dense(n_classes)(x))
    _randomise_biases(model, np.random.default_rng(seed))
    return model


def _small(kind, seed=0):
    """Small models for the ops and options the CNNs do not use."""
    L = tf.keras.layers
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((1, 128, 9), batch_size=1)
    if kind == "avgpool":
        x = L.AveragePooling2D((1, 3), strides=(1, 2), padding="same")(L.Conv2D(8, (1, 3))(inp))
        x = L.AveragePooling2D((1, 4), padding="valid")(x)
        x = L.Dense(5)(L.Flatten()(x))
    elif kind == "softmax":
        x = L.ReLU()(L.Conv2D(12, (1, 7), strides=(1, 4))(inp))
        x = L.Softmax()(L.Dense(6)(L.GlobalAveragePooling2D()(x)))
    elif kind == "reshape":
        x = L.Conv2D(16, (1, 9), strides=(1, 2), padding="same")(inp)
        x = L.Reshape((16, 16, 4))(x)  # a real 2-D feature map from here on
        x = L.Conv2D(6, (3, 3), padding="same", activation="relu")(x)
        x = L.MaxPool2D((2, 2), padding="same")(x)
        x = L.Dense(7, activation="relu")(L.Reshape((8 * 8 * 6,))(x))
    elif kind == "reshape_io":  # RESHAPE of the model input (shares the caller's buffer) and as the last op (a copy)
        x = L.Conv2D(4, (3, 3), padding="same", activation="relu")(L.Reshape((16, 8, 9))(inp))
        x = L.Flatten()(L.MaxPool2D((2, 2))(x))
    elif kind == "conv_options":  # stride 2 SAME with an even kernel, dilation, RELU6, odd channel counts
        x = L.ReLU(max_value=6.0)(L.Conv2D(9, (1, 6), strides=(1, 2), padding="same")(inp))
        x = L.Conv2D(7, (1, 3), dilation_rate=(1, 3), padding="same", activation="relu")(x)
        x = L.Conv2D(5, (1, 4), strides=(1, 3), padding="valid")(x)
        x = L.MaxPool2D((1, 3), strides=(1, 2), padding="same")(x)
        x = L.Dense(4)(L.GlobalAveragePooling2D()(x))
    elif kind == "dense_relu":  # Dense with fused RELU: output zero point at -128
        x = L.Dense(8, activation="relu")(L.GlobalAveragePooling2D()(L.Conv2D(16, (1, 5))(inp)))
    elif kind == "negative_out":  # every output negative: output zero point at +127
        x = L.GlobalAveragePooling2D()(L.Conv2D(16, (1, 5))(inp))
        x = L.Dense(5, kernel_initializer=tf.keras.initializers.RandomNormal(stddev=0.05),
                    bias_initializer=tf.keras.initializers.Constant(-4.0))(x)
        return tf.keras.Model(inp, x)
    elif kind == "tanh_add":
        a = L.Conv2D(4, (1, 3), padding="same", activation="tanh")(inp)
        b = L.Conv2D(4, (1, 3), padding="same")(inp)
        x = L.Dense(3)(L.GlobalAveragePooling2D()(L.Add()([a, b])))
    else:
        raise ValueError(kind)
    model = tf.keras.Model(inp, x)
    _randomise_biases(model, np.random.default_rng(seed))
    return model


def _edit(tflite_bytes: bytes, edit) -> bytes:
    """Change a converted model through the flatbuffer object API (the interpreter still runs the result)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(tflite_bytes), 0)
    edit(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _mean_same_quantisation(tflite_bytes: bytes) -> bytes:
    """Give MEAN's output the input's scale and zero point: TFLM then takes its truncating integer path."""
    m = read_model(tflite_bytes)
    mean = next(o for o in m.operators if o.op == "MEAN")
    src, dst = mean.inputs[0], mean.outputs[0]

    def edit(model):
        tensors = model.subgraphs[0].tensors
        tensors[dst].quantization.scale = list(tensors[src].quantization.scale)
        tensors[dst].quantization.zeroPoint = list(tensors[src].quantization.zeroPoint)
    return _edit(tflite_bytes, edit)


def _softmax_beta(tflite_bytes: bytes, beta: float) -> bytes:
    """Set SOFTMAX's beta (Keras always writes 1.0): small betas keep every class, large ones hit the multiplier
    cap and the diff_min cut-off."""
    index = next(o.index for o in read_model(tflite_bytes).operators if o.op == "SOFTMAX")

    def edit(model):
        model.subgraphs[0].operators[index].builtinOptions.beta = beta
    return _edit(tflite_bytes, edit)


def _input_zero_point(tflite_bytes: bytes, zero_point: int) -> bytes:
    """Move the model input's zero point to an extreme of the int8 range."""
    m = read_model(tflite_bytes)

    def edit(model):
        model.subgraphs[0].tensors[m.inputs[0]].quantization.zeroPoint = [zero_point]
    return _edit(tflite_bytes, edit)


@pytest.fixture(scope="session")
def models(windows):
    """All test models, converted once per session (about 10 s in all)."""
    rep = windows["source"][::3][:64]
    out = {
        "student_gap": keras_to_int8_tflite(_cnn((16, 32, 32)), rep),
        "student_reduce_mean": keras_to_int8_tflite(_cnn((16, 32, 32), head="reduce_mean", seed=1), rep),
        "teacher": keras_to_int8_tflite(_cnn((64, 128, 128), seed=2), rep),
        "student_dense_per_tensor": keras_to_int8_tflite(_cnn((16, 32, 32), seed=3), rep, per_tensor_dense=True),
        "avgpool": keras_to_int8_tflite(_small("avgpool"), rep),
        "softmax": keras_to_int8_tflite(_small("softmax"), rep),
        "reshape": keras_to_int8_tflite(_small("reshape"), rep),
        "reshape_io": keras_to_int8_tflite(_small("reshape_io"), rep),
        "conv_options": keras_to_int8_tflite(_small("conv_options"), rep),
        "dense_relu_negative_input": keras_to_int8_tflite(_small("dense_relu"), -np.abs(rep)),
        "negative_out_positive_input": keras_to_int8_tflite(_small("negative_out"), np.abs(rep)),
    }
    out["softmax_beta_0.3"] = _softmax_beta(out["softmax"], 0.3)
    out["softmax_beta_40"] = _softmax_beta(out["softmax"], 40.0)
    out["student_mean_same_quant"] = _mean_same_quantisation(out["student_gap"])
    out["student_input_zp_127"] = _input_zero_point(out["student_gap"], 127)
    out["student_input_zp_-128"] = _input_zero_point(out["student_gap"], -128)
    return out


# ---------------------------------------------------------------- running both sides

def _quantise(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)


def _inputs(tflite_bytes: bytes, windows, n_real: int, n_random: int, seed: int = SEED) -> np.ndarray:
    """Saturated and constant windows, random int8 windows, then real target windows."""
    interp = tflm_runtime.Interpreter.from_bytes(tflite_bytes)
    detail = interp.get_input_details(0)
    shape = tuple(int(d) for d in detail["shape"][1:])
    scale = float(detail["quantization_parameters"]["scales"][0])
    zp = int(detail["quantization_parameters"]["zero_points"][0])
    fixed = np.stack([np.full(shape, v, np.int8) for v in (-128, 127, 0, zp)])
    rng = np.random.default_rng(seed)
    random = rng.integers(-128, 128, size=(n_random, *shape), dtype=np.int8)
    real = _quantise(windows["target"][:n_real], scale, zp).reshape(-1, *shape)
    return np.concatenate([fixed, random, real])


def _tflm(tflite_bytes: bytes, inputs: np.ndarray) -> np.ndarray:
    interp = tflm_runtime.Interpreter.from_bytes(tflite_bytes)
    outs = []
    for x in inputs:
        interp.set_input(x[None], 0)
        interp.invoke()
        outs.append(interp.get_output(0).reshape(-1).copy())
    return np.stack(outs)


def _build_host(tflite_bytes: bytes, out_dir: Path) -> tuple[Path, dict]:
    report = generate(tflite_bytes, out_dir)
    (out_dir / "harness.c").write_text(HARNESS_C)
    exe = out_dir / "aot_host"
    sources = [str(out_dir / f) for f in report["files"] if f.endswith(".c")] + [str(out_dir / "harness.c")]
    subprocess.run(["gcc", *HOST_CFLAGS, "-I", str(out_dir), "-I", str(RUNTIME_INCLUDE), *sources, "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    return exe, report


def _run_host(exe: Path, inputs: np.ndarray, n_out: int) -> tuple[np.ndarray, int]:
    proc = subprocess.run([str(exe)], input=np.ascontiguousarray(inputs).tobytes(), capture_output=True, check=True)
    return np.frombuffer(proc.stdout, np.int8).reshape(len(inputs), n_out), int(proc.stderr.split()[0])


def _compare(tflite_bytes, windows, tmp_path, n_real=200, n_random=100):
    exe, report = _build_host(tflite_bytes, tmp_path)
    inputs = _inputs(tflite_bytes, windows, n_real, n_random)
    expected = _tflm(tflite_bytes, inputs)
    got, ram = _run_host(exe, inputs, expected.shape[1])
    return inputs, expected, got, ram, report


def _assert_bit_exact(expected, got, name):
    bad = np.nonzero((expected != got).any(axis=1))[0]
    assert bad.size == 0, (f"{name}: {bad.size}/{len(expected)} windows differ from TFLM; first window {bad[0]}: "
                           f"aot {got[bad[0]].tolist()} vs tflm {expected[bad[0]].tolist()}")


# ---------------------------------------------------------------- tests

CNN_MODELS = ["student_gap", "student_reduce_mean", "teacher", "student_dense_per_tensor",
              "student_mean_same_quant", "student_input_zp_127", "student_input_zp_-128"]
SMALL_MODELS = ["avgpool", "softmax", "softmax_beta_0.3", "softmax_beta_40", "reshape", "reshape_io", "conv_options",
                "dense_relu_negative_input", "negative_out_positive_input"]


@pytest.mark.parametrize("name", CNN_MODELS)
def test_cnn_bit_exact_with_tflm(name, models, windows, tmp_path):
    """Student/teacher-shaped CNNs: every window (saturated, random, real target) equals TFLM's output."""
    n_real, n_random = {"student_gap": (200, 100), "teacher": (60, 40)}.get(name, (100, 50))
    inputs, expected, got, _, _ = _compare(models[name], windows, tmp_path, n_real=n_real, n_random=n_random)
    # The comparison only means something if the outputs move with the input.
    assert len(np.unique(expected[4:], axis=0)) > len(inputs) // 4, "reference outputs barely vary"
    _assert_bit_exact(expected, got, name)


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_small_models_bit_exact_with_tflm(name, models, windows, tmp_path):
    """AVERAGE_POOL_2D, SOFTMAX, RESHAPE, conv options (stride, dilation, RELU6) and extreme zero points."""
    _, expected, got, _, _ = _compare(models[name], windows, tmp_path, n_real=100, n_random=60)
    assert len(np.unique(expected, axis=0)) > 20, "reference outputs barely vary"
    _assert_bit_exact(expected, got, name)


def test_models_cover_the_ops_and_edge_quantisation(models):
    """The test models really contain what the other tests claim to check."""
    ops = {name: [o.op for o in read_model(b).operators] for name, b in models.items()}
    assert ops["student_gap"] == ["CONV_2D", "PAD", "MAX_POOL_2D", "PAD", "CONV_2D", "PAD", "MAX_POOL_2D",
                                  "PAD", "CONV_2D", "PAD", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED"]
    assert "AVERAGE_POOL_2D" in ops["avgpool"] and "SOFTMAX" in ops["softmax"]
    assert ops["reshape"].count("RESHAPE") >= 2
    assert ops["reshape_io"][0] == ops["reshape_io"][-1] == "RESHAPE"
    tensors = {name: read_model(b) for name, b in models.items()}
    # tf.reduce_mean(keepdims=True) + Flatten: MEAN keeps dims, the converter folds the flatten into the dense
    assert [o.options for o in tensors["student_reduce_mean"].operators if o.op == "MEAN"] == [{"keep_dims": True}]

    def fc_weights(name):
        m = tensors[name]
        fc = next(o for o in m.operators if o.op == "FULLY_CONNECTED")
        return m.tensors[fc.inputs[1]]
    assert len(fc_weights("student_gap").scales) == 6  # per-channel dense
    assert len(fc_weights("student_dense_per_tensor").scales) == 1

    def io_zero_points(name):
        m = tensors[name]
        return m.tensors[m.inputs[0]].zero_point, m.tensors[m.outputs[0]].zero_point
    assert io_zero_points("dense_relu_negative_input") == (127, -128)
    assert io_zero_points("negative_out_positive_input") == (-128, 127)
    assert [o.options["beta"] for o in tensors["softmax_beta_40"].operators if o.op == "SOFTMAX"] == [40.0]
    mean = next(o for o in tensors["student_mean_same_quant"].operators if o.op == "MEAN")
    t = tensors["student_mean_same_quant"].tensors
    assert t[mean.inputs[0]].zero_point == t[mean.outputs[0]].zero_point


def test_report_and_memory_plan(models, windows, tmp_path):
    """RAM plan reuses buffers, matches what the C runtime reports, and MACs/weights add up for the student."""
    exe, report = _build_host(models["student_gap"], tmp_path)
    _, ram = _run_host(exe, np.zeros((0, 1, 1, 128, 9), np.int8), 6)
    assert ram == report["ram_bytes"] > 0
    assert report["ram_bytes"] < report["naive_ram_bytes"] / 2
    # conv1 128x16 outputs x 5x9 taps, conv2 66x32 x 8x16, conv3 35x32 x 8x32, dense 32x6
    assert report["macs"] == 128 * 16 * 45 + 66 * 32 * 128 + 35 * 32 * 256 + 32 * 6
    weights = 16 * 5 * 9 + 32 * 8 * 16 + 32 * 8 * 32 + 6 * 32
    assert weights <= report["weight_bytes"] <= weights + 4 * (16 + 32 + 32 + 6)
    assert [o["op"] for o in report["ops"]][-2:] == ["MEAN", "FULLY_CONNECTED"]
    again = generate(models["student_gap"], tmp_path / "again")  # same model, same bytes
    assert again == report
    assert all((tmp_path / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in report["files"])
    assert sorted(report["files"]) == sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".c", ".h")
                                             and p.name != "harness.c")
    # Buffers alive at the same time never share bytes.
    bufs = report["buffers"]
    for i, a in enumerate(bufs):
        for b in bufs[i + 1:]:
            if a["first_op"] <= b["last_op"] and b["first_op"] <= a["last_op"]:
                assert a["offset"] + a["bytes"] <= b["offset"] or b["offset"] + b["bytes"] <= a["offset"]


def test_generated_c_compiles_for_cortex_m4(models, tmp_path):
    """The generated sources (student and softmax models) compile warning-free for the emulated board's MCU."""
    require_tools("arm-none-eabi-gcc")
    gcc = shutil.which("arm-none-eabi-gcc")
    for name in ("student_gap", "softmax"):
        out = tmp_path / name
        report = generate(models[name], out)
        for src in (f for f in report["files"] if f.endswith(".c")):
            subprocess.run([gcc, *ARM_CFLAGS, "-I", str(out), "-I", str(RUNTIME_INCLUDE), "-c", str(out / src),
                            "-o", str(out / (src + ".o"))], check=True, capture_output=True, text=True)


QEMU_MAIN_C = r"""
/* Self-checking aot run on QEMU mps2-an386: infer every embedded window, print the outputs and the SysTick
 * ticks each inference took (under -icount shift=0 one tick is 40 guest instructions), exit by semihosting. */
#include <stdint.h>
#include "unikd_aot_model.h"
#include "windows.h"

#define UART_DATA (*(volatile uint32_t *)0x40004000u)
#define UART_STATE (*(volatile uint32_t *)0x40004004u)
#define UART_CTRL (*(volatile uint32_t *)0x40004008u)
#define UART_BAUDDIV (*(volatile uint32_t *)0x40004010u)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

void SysTick_Handler(void);
void SysTick_Handler(void) {}

static void put(char c) {
    while (UART_STATE & 1u) {
    }
    UART_DATA = (uint32_t)(uint8_t)c;
}

static void put_int(long v) {
    char buf[16];
    int n = 0;
    unsigned long u = v < 0 ? (unsigned long)(-v) : (unsigned long)v;
    if (v < 0) {
        put('-');
    }
    do {
        buf[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    while (n) {
        put(buf[--n]);
    }
}

int main(void) {
    static int8_t out[UNIKD_AOT_OUTPUT_BYTES];
    volatile uint32_t t0, t1;
    unsigned w, k;
    UART_BAUDDIV = 16;
    UART_CTRL = 1u;
    SYST_RVR = 0x00FFFFFFu;
    SYST_CSR = 0x5u; /* core clock, no interrupt */
    if (unikd_runtime_init() != 0) {
        return 1;
    }
    for (w = 0; w < WINDOWS; ++w) {
        SYST_CVR = 0;
        __asm__ volatile("" ::: "memory");
        t0 = SYST_CVR;
        if (unikd_runtime_invoke(windows[w], out) != 0) {
            put('!');
        }
        __asm__ volatile("" ::: "memory");
        t1 = SYST_CVR;
        for (k = 0; k < UNIKD_AOT_OUTPUT_BYTES; ++k) {
            put_int(out[k]);
            put(' ');
        }
        put_int((long)((t0 - t1) & 0x00FFFFFFu));
        put('\n');
    }
    {
        register uint32_t r0 __asm__("r0") = 0x18u;    /* SYS_EXIT */
        register uint32_t r1 __asm__("r1") = 0x20026u; /* ADP_Stopped_ApplicationExit */
        __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    }
    for (;;) {
    }
}
"""


def test_generated_c_is_bit_exact_on_the_emulated_cortex_m4(models, windows, tmp_path):
    """The student's generated C, cross-compiled and run on QEMU mps2-an386, equals TFLM on the host."""
    board = REPO / "firmware" / "boards" / "qemu-m4"
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    tools = [shutil.which("arm-none-eabi-gcc"), shutil.which("qemu-system-arm")]
    assert (board / "startup.c").is_file(), f"board files missing under {board}"
    tflite = models["student_gap"]
    report = generate(tflite, tmp_path)
    inputs = _inputs(tflite, windows, n_real=12, n_random=4)
    rows = ",\n".join("{" + ",".join(str(int(v)) for v in x.reshape(-1)) + "}" for x in inputs)
    (tmp_path / "windows.h").write_text(f"#define WINDOWS {len(inputs)}\n"
                                        f"static const int8_t windows[{len(inputs)}][{inputs[0].size}] = {{{rows}}};\n")
    (tmp_path / "main.c").write_text(QEMU_MAIN_C)
    elf = tmp_path / "aot.elf"
    sources = [str(board / "startup.c"), str(tmp_path / "main.c")] + \
        [str(tmp_path / f) for f in report["files"] if f.endswith(".c")]
    subprocess.run([tools[0], *ARM_CFLAGS, "-I", str(tmp_path), "-I", str(RUNTIME_INCLUDE), *sources,
                    "-nostartfiles", "--specs=nano.specs", "-T", str(board / "mps2_an386.ld"), "-Wl,--gc-sections",
                    "-o", str(elf)], check=True, capture_output=True, text=True)
    run = subprocess.run([tools[1], "-M", "mps2-an386", "-icount", "shift=0", "-nographic", "-monitor", "none",
                          "-semihosting-config", "enable=on,target=native", "-serial", "stdio", "-kernel", str(elf)],
                         capture_output=True, text=True, timeout=120)
    rows = [line.split() for line in run.stdout.splitlines() if line[:1] in tuple("-0123456789")]
    assert run.returncode == 0 and len(rows) == len(inputs), run.stdout[-500:] + run.stderr[-500:]
    got = np.array([[int(v) for v in r[:-1]] for r in rows], np.int8)
    _assert_bit_exact(_tflm(tflite, inputs), got, "student_gap on qemu-m4")
    instructions = 40 * np.array([int(r[-1]) for r in rows])
    print(f"student on qemu-m4: {int(np.median(instructions)):,} instructions (QEMU) per inference, "
          f"{report['macs']:,} MACs")
    assert report["macs"] < instructions.min() < 20 * report["macs"]


def test_unsupported_ops_are_refused_by_name(windows, tmp_path):
    """A model with TANH and ADD is refused at generation time, naming both ops, and nothing is written."""
    tflite = keras_to_int8_tflite(_small("tanh_add"), windows["source"][:16])
    ops = [o.op for o in read_model(tflite).operators]
    assert "TANH" in ops and "ADD" in ops
    with pytest.raises(UnsupportedOpError) as info:
        generate(tflite, tmp_path / "out")
    assert isinstance(info.value, UserError)
    assert "TANH" in str(info.value) and "ADD" in str(info.value)
    assert set(info.value.ops) == {"TANH", "ADD"}
    assert not (tmp_path / "out").exists()


def test_float_io_model_is_refused(windows, tmp_path):
    """A model converted with float input/output carries QUANTIZE/DEQUANTIZE: refused, naming them."""
    model = _cnn((4, 4, 4), seed=5)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[None]] for x in windows["source"][:8])
    with pytest.raises(UserError, match="QUANTIZE"):
        generate(conv.convert(), tmp_path)
