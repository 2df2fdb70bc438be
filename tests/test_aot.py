"""aot runtime: generated C compiled with the host gcc, compared window by window with TFLM's interpreter.

Models are built here with tf.keras in the shape of the project's students and teacher (Conv2D with height 1,
ZeroPadding + MaxPool, global average, Dense), converted to full int8 with representative UCI-HAR windows, and
run by the `tflite-micro` Python interpreter (the golden runtime). Every compared window must agree bit for bit.
Inputs: real UCI-HAR windows of the target subject (11), random int8 windows and saturated/constant ones.

Both sides run the generated C inside the real firmware (portable core + aot runtime), built by the board's own
Makefile (unikd_mcu.hil.images) and fed one WINDOW request per window over the serial protocol: on the host board
(gcc, stdin/stdout) and on the emulated qemu-m4 (QEMU mps2-an386, booted by unikd_mcu.hil.session).

Toolchain-gated: the Cortex-M4 build and the run on the emulated board skip when arm-none-eabi-gcc or
qemu-system-arm is missing, and fail instead under CI (the require_tools fixture)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from codegen.carrays import model_meta_header
from fake_device import fake_metadata
from unikd.errors import UserError
from unikd_mcu.hil.images import build_image, core_sources, run_host_windows

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.usefixtures("host_toolchain")
tflm_runtime = pytest.importorskip("tflite_micro").runtime

from codegen.aot import UnsupportedOpError, generate  # noqa: E402
from codegen.aot.tflite_reader import read_model  # noqa: E402
from codegen.convert import keras_to_int8_tflite  # noqa: E402

SEED = 20261123
SOURCE_SUBJECT, TARGET_SUBJECT = 2, 11


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


def _metadata(tflite_bytes: bytes):
    """The model's metadata as the firmware needs it (window 128 x 9, the model's quantisation and classes);
    the normaliser is the identity, since these tests send windows that are already int8."""
    interp = tflm_runtime.Interpreter.from_bytes(tflite_bytes)
    inp, out = interp.get_input_details(0), interp.get_output_details(0)
    q_in, q_out = inp["quantization_parameters"], out["quantization_parameters"]
    k = int(np.prod(out["shape"][1:]))
    return fake_metadata(
        model_sha256=hashlib.sha256(tflite_bytes).hexdigest(), model_bytes=len(tflite_bytes),
        input_shape=[int(d) for d in inp["shape"]], output_shape=[int(d) for d in out["shape"]],
        input_scale=float(q_in["scales"][0]), input_zero_point=int(q_in["zero_points"][0]),
        output_scale=float(q_out["scales"][0]), output_zero_point=int(q_out["zero_points"][0]),
        num_classes=k, class_names=[chr(65 + i % 26) for i in range(k)], norm_mean=[0.0] * 9, norm_inv_std=[1.0] * 9)


def _build_firmware(board: str, tflite_bytes: bytes, out_dir: Path, objects: Path) -> tuple[Path, dict]:
    """The aot C generated into out_dir, linked with the portable core into `board`'s firmware image."""
    report = generate(tflite_bytes, out_dir)
    runtime = [out_dir / f for f in report["files"]]
    meta = {"unikd_model_meta.h": model_meta_header(_metadata(tflite_bytes))}
    image = build_image(board, out_dir / f"image-{board}", {"core": core_sources(), "model": meta, "runtime": runtime},
                        object_cache=objects)
    return image, report


@pytest.fixture(scope="module")
def host_toolchain(require_tools):
    require_tools("make", "gcc")


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> Path:
    """One object cache for the module: the kernels and part of the core are the same for every model, so each
    image compiles only what differs (unikd_mcu.hil.images.build_image)."""
    return tmp_path_factory.mktemp("objects")


def _build_host(tflite_bytes: bytes, out_dir: Path, objects: Path) -> tuple[Path, dict]:
    return _build_firmware("host", tflite_bytes, out_dir, objects)


def _run_host(exe: Path, inputs: np.ndarray, n_out: int) -> tuple[np.ndarray, int]:
    """Outputs of every window (a failed inference fails the test) and the runtime's RAM figure from the hello."""
    hello, results = run_host_windows(exe, inputs)
    assert sorted(results) == list(range(len(inputs))), "the device left windows unanswered"
    assert all(r.status == 0 for r in results.values()), "an inference failed on the device"
    outs = [np.frombuffer(results[i].outputs, np.int8) for i in range(len(inputs))]
    return np.stack(outs) if outs else np.zeros((0, n_out), np.int8), hello.runtime_ram_bytes


def _compare(tflite_bytes, windows, tmp_path, objects, n_real=200, n_random=100):
    exe, report = _build_host(tflite_bytes, tmp_path, objects)
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
def test_cnn_bit_exact_with_tflm(name, models, windows, tmp_path, objects):
    """Student/teacher-shaped CNNs: every window (saturated, random, real target) equals TFLM's output."""
    n_real, n_random = {"student_gap": (200, 100), "teacher": (60, 40)}.get(name, (100, 50))
    inputs, expected, got, _, _ = _compare(models[name], windows, tmp_path, objects, n_real=n_real,
                                         n_random=n_random)
    # The comparison only means something if the outputs move with the input.
    assert len(np.unique(expected[4:], axis=0)) > len(inputs) // 4, "reference outputs barely vary"
    _assert_bit_exact(expected, got, name)


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_small_models_bit_exact_with_tflm(name, models, windows, tmp_path, objects):
    """AVERAGE_POOL_2D, SOFTMAX, RESHAPE, conv options (stride, dilation, RELU6) and extreme zero points."""
    _, expected, got, _, _ = _compare(models[name], windows, tmp_path, objects, n_real=100, n_random=60)
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


def test_report_and_memory_plan(models, windows, tmp_path, objects):
    """RAM plan reuses buffers, matches what the C runtime reports, and MACs/weights add up for the student."""
    exe, report = _build_host(models["student_gap"], tmp_path, objects)
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
    assert sorted(report["files"]) == sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".c", ".h"))
    # Buffers alive at the same time never share bytes.
    bufs = report["buffers"]
    for i, a in enumerate(bufs):
        for b in bufs[i + 1:]:
            if a["first_op"] <= b["last_op"] and b["first_op"] <= a["last_op"]:
                assert a["offset"] + a["bytes"] <= b["offset"] or b["offset"] + b["bytes"] <= a["offset"]


def test_generated_c_builds_for_cortex_m4(models, tmp_path, require_tools, objects):
    """The generated sources (student and softmax models) build warning-free into the emulated board's firmware."""
    require_tools("make", "arm-none-eabi-gcc")
    for name in ("student_gap", "softmax"):
        elf, _ = _build_firmware("qemu-m4", models[name], tmp_path / name, objects)
        assert elf.read_bytes()[:4] == b"\x7fELF"


def test_generated_c_is_bit_exact_on_the_emulated_cortex_m4(models, windows, tmp_path, require_tools, objects):
    """The student's generated C in the qemu-m4 firmware, run on QEMU mps2-an386, equals TFLM on the host; the
    firmware times each inference (SysTick: one tick = 40 instructions under -icount shift=0)."""
    from unikd_mcu.hil.session import hil_session

    require_tools("make", "arm-none-eabi-gcc", "qemu-system-arm")
    tflite = models["student_gap"]
    elf, report = _build_firmware("qemu-m4", tflite, tmp_path, objects)
    inputs = _inputs(tflite, windows, n_real=12, n_random=4)
    with hil_session(_metadata(tflite).to_dict(), elf=elf, timeout=30.0) as s:
        results = s.client.infer_windows(inputs)
        ticks_scale = s.client.hello.ticks_scale
    assert len(results) == len(inputs) and all(r.status == 0 for r in results)
    got = np.stack([np.frombuffer(r.outputs, np.int8) for r in results])
    _assert_bit_exact(_tflm(tflite, inputs), got, "student_gap on qemu-m4")
    instructions = ticks_scale * np.array([r.ticks for r in results])
    print(f"student on qemu-m4: {int(np.median(instructions)):,} instructions (QEMU) per inference, "
          f"{report['macs']:,} MACs")
    assert ticks_scale == 40
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
