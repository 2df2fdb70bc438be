"""Builders the codegen test files share, each computed once per test session (lru_cache), so the expensive ones
(loading UCI-HAR, importing TensorFlow, converting) run once however many test files use them.

Nets are randomly initialised with non-default BatchNorm statistics (so folding is really exercised); the data are
the real UCI-HAR windows of scenario 2->11."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import torch

SOURCE, TARGET = 2, 11

# A user board profile too small for any student (8,000 B flash, 2,000 B RAM), valid in every other respect.
TINY_BOARD_YAML = """name: tiny
description: a board too small for anything
mcu: Tiny (8 KB flash)
flash_budget_bytes: 8000
ram_budget_bytes: 2000
baud: 9600
sensor: serial
runtime: aot
runtimes: [aot]
toolchain: none
flash_tools: [pio]
platformio: {env: tiny, platform: tinyplat, board: tinyboard, framework: arduino}
"""


@functools.lru_cache(maxsize=None)
def scenario(data_dir: str):
    """(ScenarioData 2->11, Normaliser fitted as training fits it: on both domains' train windows)."""
    from unikd.data import load_dataset
    from unikd.data.normalise import Normaliser
    from unikd.data.scenario import scenario_data

    data = scenario_data(load_dataset("ucihar", Path(data_dir)), SOURCE, TARGET)
    return data, Normaliser.fit([data.source_train.X, data.target_train.X])


def random_net(name: str = "cnn-student", seed: int = 0):
    """A registered model, randomly initialised, with BatchNorm statistics and affine terms far from defaults."""
    from unikd.models import build_model

    torch.manual_seed(seed)
    net = build_model(name, 9, 6)
    g = torch.Generator().manual_seed(seed + 1)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.6 - 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
    return net.eval()


@functools.lru_cache(maxsize=None)
def student_tflite(data_dir: str) -> bytes:
    """The random student converted to int8 with the scenario's representative windows."""
    from codegen.convert import convert_student, representative_windows

    data, norm = scenario(data_dir)
    return convert_student(random_net(), representative_windows(data, norm))


def write_run_dir(path: Path, net, normaliser, data, method: str = "unikd") -> Path:
    """A run directory in unikd.rundir's format, from a net we made (not trained)."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    ws = data.windows
    (path / "config.json").write_text(json.dumps({
        "dataset": "ucihar", "source": SOURCE, "target": TARGET, "method": method, "seed": 0, "data_dir": None}))
    (path / "model.json").write_text(json.dumps({
        "name": "cnn-student", "in_channels": ws.num_channels, "num_classes": ws.num_classes, "options": {},
        "window": ws.window, "stride": ws.stride, "sample_rate_hz": ws.sample_rate_hz,
        "class_names": ws.class_names, "channel_names": ws.channel_names}))
    normaliser.save(path / "normaliser.json")
    torch.save(net.state_dict(), path / "student.pt")
    (path / "metrics.json").write_text(json.dumps({"macro_f1": 0.0, "accuracy": 0.0}))
    return path


def tflite_with_tanh(data_dir: str) -> bytes:
    """A real int8 model whose last op is TANH, which the aot runtime does not implement."""
    import tensorflow as tf

    from codegen.convert import keras_to_int8_tflite, representative_windows
    from codegen.keras_mirror import build_keras_mirror

    data, norm = scenario(data_dir)
    mirror = build_keras_mirror(random_net(), 128, batch_size=1)
    out = tf.keras.layers.Activation("tanh", name="squash")(mirror.output)
    return keras_to_int8_tflite(tf.keras.Model(mirror.input, out), representative_windows(data, norm)[:64])


def tool_exists(name: str) -> bool:
    return shutil.which(name) is not None


REQUIRE_ENV = "UNIKD_REQUIRE_TOOLCHAINS"


def require_tools(*names: str) -> None:
    """Skip (loudly, naming the tools) when a toolchain is missing. Under CI (CI=true, as .ci/run runs) or with
    $UNIKD_REQUIRE_TOOLCHAINS=1 fail instead, so a machine without compilers cannot pass by skipping: every tool
    named here is one that scripts/setup.sh installs."""
    import os

    import pytest

    missing = [n for n in names if not tool_exists(n)]
    if missing:
        msg = f"not installed: {', '.join(missing)} (Debian: bash scripts/setup.sh)"
        if os.environ.get("CI") == "true" or os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{msg}; CI=true or ${REQUIRE_ENV}=1 requires every toolchain")
        pytest.skip(msg)




def student_metadata(data_dir: str, runtime: str = "aot", **changes):
    """ModelMetadata of the converted random student, as the build makes it (changes override fields)."""
    import dataclasses
    import types

    from codegen.metadata import metadata_for
    from codegen.tflite_info import read_tflite

    data, norm = scenario(data_dir)
    ws = data.windows
    model = student_tflite(data_dir)
    run = types.SimpleNamespace(normaliser=norm, config={"dataset": "ucihar", "source": SOURCE, "target": TARGET,
                                                         "method": "unikd"})
    facts = {"window": ws.window, "channels": ws.num_channels, "stride": ws.stride, "class_names": ws.class_names,
             "channel_names": ws.channel_names, "sample_rate_hz": ws.sample_rate_hz}
    return dataclasses.replace(metadata_for(model, read_tflite(model), run, facts, runtime), **changes)
