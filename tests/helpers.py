"""Plain helpers the tests share (not a test module, so importing it runs no tests): nets, run directories, board
profiles and the toolchain rule. Fixtures built from real data live in conftest.py.

    from helpers import random_net, require_tools, write_run_dir

(pytest puts tests/ on sys.path, as it does for conftest.py.)"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SOURCE, TARGET = 2, 11  # the scenario the codegen fixtures use: UCI-HAR subject 2 -> subject 11

# The committed tiny model of the generated-C golden test (made by scripts/make_golden_tflite.py), and what a run
# would tell the build about it (it was never trained): fixed facts, so neither data nor TensorFlow is needed.
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
GOLDEN_MODEL = GOLDEN_DIR / "tiny_student.tflite"


def _golden_run():
    import types

    import numpy as np

    from unikd.data.normalise import Normaliser
    from unikd.rundir import DataFacts

    facts = DataFacts(window=16, stride=8, channels=3, class_names=["walk", "sit", "stand", "lie"],
                      channel_names=["total_acc_x", "total_acc_y", "total_acc_z"], sample_rate_hz=50.0)
    norm = Normaliser(np.array([0.125, -0.5, 0.75], np.float32), np.array([2.0, 1.5, 0.25], np.float32), "zscore")
    run = types.SimpleNamespace(normaliser=norm, config={"dataset": "ucihar", "source": 2, "target": 11,
                                                         "method": "unikd"})
    return facts, run


GOLDEN_FACTS, GOLDEN_RUN = _golden_run()

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


def random_net(name: str = "cnn-student", seed: int = 0):
    """A registered model, randomly initialised, with BatchNorm statistics and affine terms far from defaults (so
    BatchNorm folding is really exercised)."""
    import torch

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


def write_run_dir(path: Path, net, normaliser, data, method: str = "unikd", source_normaliser=None) -> Path:
    """A run directory of a net we made (not trained), written by training's own writer (unikd.rundir.write_run).
    The source windows were standardised like the target's unless `source_normaliser` says otherwise."""
    from unikd.rundir import DataFacts, write_run

    config = {"dataset": "ucihar", "source": SOURCE, "target": TARGET, "method": method, "seed": 0, "data_dir": None}
    return write_run(path, config=config, model_name="cnn-student", facts=DataFacts.of(data.windows), student=net,
                     normaliser=normaliser, source_normaliser=source_normaliser or normaliser,
                     metrics={"macro_f1": 0.0, "accuracy": 0.0})


def tool_exists(name: str) -> bool:
    return shutil.which(name) is not None


REQUIRE_ENV = "UNIKD_REQUIRE_TOOLCHAINS"


def require_tools(*names: str) -> None:
    """Skip (loudly, naming the tools) when a toolchain is missing. Under CI (CI=true, as .ci/run runs) or with
    $UNIKD_REQUIRE_TOOLCHAINS=1 fail instead, so a machine without compilers cannot pass by skipping: every tool
    named here is one that scripts/setup.sh installs."""
    import pytest

    missing = [n for n in names if not tool_exists(n)]
    if missing:
        msg = f"not installed: {', '.join(missing)} (Debian: bash scripts/setup.sh)"
        if os.environ.get("CI") == "true" or os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{msg}; CI=true or ${REQUIRE_ENV}=1 requires every toolchain")
        pytest.skip(msg)
