"""`unikd-mcu build` and `flash` end to end through the CLI: a complete output folder whose parts agree with each
other, and for each user error a message that says what is wrong, exit code 2 and no output folder left behind."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shutil

import numpy as np
import pytest
import torch

from codegen.boards import ENV_VAR
from helpers import TINY_BOARD_YAML, random_net, require_tools, tool_exists, write_run_dir
from unikd_mcu.cli import main

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run_dir(scenario_2to11, tmp_path_factory):
    data, norm = scenario_2to11
    return write_run_dir(tmp_path_factory.mktemp("runs") / "student_run", random_net(), norm, data)


@pytest.fixture(scope="module")
def esp32_build(run_dir, real_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("builds") / "esp32"
    code = main(["build", "--board", "esp32", "--run", str(run_dir), "--out", str(out),
                 "--data-dir", str(real_data_dir)])
    assert code == 0
    return out


def _leftovers(parent, name):
    return [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")]


def test_build_output_is_complete_and_consistent(esp32_build, student_tflite):
    out = esp32_build
    model = (out / "model.tflite").read_bytes()
    # the build converts exactly as the library does: same net, same normaliser, same bytes
    assert model == student_tflite
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["model_sha256"] == hashlib.sha256(model).hexdigest() and meta["model_bytes"] == len(model)
    assert meta["runtime"] == "aot" and meta["window"] == 128 and meta["stride"] == 64
    assert meta["class_names"] == ["walk", "upstairs", "downstairs", "sit", "stand", "lie"]
    assert meta["sample_rate_hz"] == 50.0
    # the header is generated from metadata.json: regenerate and compare
    from codegen.carrays import model_meta_header
    from codegen.metadata import ModelMetadata

    header = model_meta_header(ModelMetadata.load(out / "metadata.json"))
    assert (out / "model" / "unikd_model_meta.h").read_text() == header
    assert (out / "arduino" / "unikd_esp32" / "unikd_model_meta.h").read_text() == header
    assert (out / "platformio" / "src" / "unikd_model_meta.h").read_text() == header
    assert not _leftovers(out.parent, out.name)


def test_build_report_measures(esp32_build):
    r = json.loads((esp32_build / "report.json").read_text())
    assert r["model"]["op_count"] == 13 and r["model"]["op_kinds"] == ["CONV_2D", "PAD", "MAX_POOL_2D", "MEAN",
                                                                      "FULLY_CONNECTED"]
    q = r["float_vs_int8"]
    assert q["windows"] == 95  # subject 11's AdaTime test part
    assert q["disagreeing_windows"] == round((1 - q["top1_agreement"]) * 95)
    assert abs(q["macro_f1_drop_points"] - 100 * (q["float"]["macro_f1"] - q["int8"]["macro_f1"])) < 1e-9
    b = r["budget"]
    assert b["flash"]["budget_bytes"] == 1_000_000 and r["aot"]["ram_bytes"] > 0
    # RAM is the whole firmware's: the model's plan and the core's own buffers (codegen.footprint)
    ram = {p["name"]: p["bytes"] for p in r["footprint"]["ram"]["largest"]}
    if tool_exists("arm-none-eabi-gcc"):
        assert r["footprint"]["measured"] and ram["unikd_aot_arena_words"] == r["aot"]["ram_bytes"]
        assert ram["parser"] >= 2048 and ram["tx"] == 512 and ram["window"] >= 1152 and ram["input"] == 1152
        assert b["ram"]["bytes"] >= r["aot"]["ram_bytes"] + 2048 + 512 + 2 * 1152
        assert b["flash"]["bytes"] > r["aot"]["weight_bytes"] + r["aot"]["param_bytes"]
    else:
        assert "arm-none-eabi-gcc is not on PATH" in r["footprint"]["not_measured"]
        assert b["ram"]["bytes"] == r["aot"]["ram_bytes"]
    assert r["tflm_arena"]["recommended_bytes"] > r["tflm_arena"]["recorded_bytes"]
    assert r["quantisation"]["calibration_windows"] == 221 + 211
    for pkg, key in (("torch", "torch"), ("numpy", "numpy"), ("tensorflow-cpu", "tensorflow")):
        assert r["versions"][key] == importlib.metadata.version(pkg)
    tools = {c["tool"]: c for c in r["compile"]}
    assert set(tools) == {"arduino-cli", "pio"}
    for tool in ("arduino-cli", "pio"):
        if not tool_exists(tool):
            assert tools[tool]["status"] == "not installed"
    md = (esp32_build / "report.md").read_text()
    assert "arduino-cli is not on PATH" in md or tool_exists("arduino-cli")
    assert "| parser | " in md or not tool_exists("arm-none-eabi-gcc")
    assert f"Top-1 agreement int8 vs float: {100 * q['top1_agreement']:.2f} %" in md


def test_emulated_board_build_compiles_and_reports_sizes(run_dir, real_data_dir, tmp_path):
    require_tools("make", "arm-none-eabi-gcc")
    out = tmp_path / "qemu"
    assert main(["build", "--board", "qemu-m4", "--run", str(run_dir), "--out", str(out),
                 "--data-dir", str(real_data_dir)]) == 0
    (entry,) = json.loads((out / "report.json").read_text())["compile"]
    assert entry["status"] == "ok" and entry["flash_bytes"] > 10_000 and entry["static_ram_bytes"] > 0
    assert (out / "make" / "build" / "fw.elf").is_file()


def test_no_run_uses_the_default_scenarios_run(run_dir, real_data_dir, tmp_path, capsys):
    runs = tmp_path / "runs"
    shutil.copytree(run_dir, runs / "ucihar_2to11_unikd_s0")
    out = tmp_path / "out"
    assert main(["build", "--board", "esp32", "--runs-dir", str(runs), "--out", str(out),
                 "--data-dir", str(real_data_dir), "--no-compile", "--runtime", "tflm"]) == 0
    assert "using the default scenario's run" in capsys.readouterr().err
    assert json.loads((out / "metadata.json").read_text())["runtime"] == "tflm"
    assert (out / "arduino" / "unikd_esp32" / "unikd_runtime_tflm.cpp").is_file()


def _fails(args, tmp_path, capsys, message):
    out = tmp_path / "out"
    code = main(["build", *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert message.search(err) if isinstance(message, re.Pattern) else message in err, err
    assert not out.exists() and not _leftovers(tmp_path, "out")
    return err


def test_unknown_board(run_dir, tmp_path, capsys):
    _fails(["--board", "esp64", "--run", str(run_dir)], tmp_path, capsys,
           "error: unknown board 'esp64'; valid boards: esp32, esp32s3, nano33ble, nano33ble_rev2, qemu-m4")


def test_over_budget(run_dir, real_data_dir, tmp_path, capsys, monkeypatch):
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "tiny.yaml").write_text(TINY_BOARD_YAML)
    monkeypatch.setenv(ENV_VAR, str(boards))
    err = _fails(["--board", "tiny", "--run", str(run_dir), "--data-dir", str(real_data_dir)], tmp_path, capsys,
                 re.compile(r"needs ([\d,]+) bytes of flash but board tiny's budget is 8,000 bytes "
                            r"\(over by ([\d,]+) bytes\); .* needs ([\d,]+) bytes of ram but board tiny's budget is "
                            r"2,000 bytes \(over by ([\d,]+) bytes\)"))
    need, over, ram_need, ram_over = (int(g.replace(",", "")) for g in re.search(
        r"needs ([\d,]+) .*over by ([\d,]+) .*needs ([\d,]+) .*over by ([\d,]+)", err).groups())
    assert need - 8000 == over and ram_need - 2000 == ram_over
    if tool_exists("arm-none-eabi-gcc"):  # measured: the message names the largest consumers
        assert re.search(r"of ram but .*; largest: unikd_aot_arena_words [\d,]+ B \(unikd_aot_model\.c\), parser "
                         r"[\d,]+ B \(unikd_app\.c\)", err), err


def test_op_unsupported_by_runtime(run_dir, real_data_dir, tflite_with_tanh, tmp_path, capsys, monkeypatch):
    # A student whose graph holds an op outside the aot runtime cannot come out of the Keras mirror, so the
    # converter is replaced by one that returns a real int8 model ending in TANH.
    import codegen.convert

    monkeypatch.setattr(codegen.convert, "convert_student", lambda net, rep: tflite_with_tanh)
    _fails(["--board", "esp32", "--run", str(run_dir), "--data-dir", str(real_data_dir)], tmp_path, capsys,
           "the aot runtime does not support operator(s) TANH")


def test_run_dir_missing(tmp_path, capsys):
    _fails(["--board", "esp32", "--run", str(tmp_path / "nowhere")], tmp_path, capsys,
           f"run directory {tmp_path / 'nowhere'} does not exist")


def test_run_dir_incomplete(run_dir, tmp_path, capsys):
    broken = tmp_path / "broken_run"
    shutil.copytree(run_dir, broken)
    (broken / "student.pt").unlink()
    (broken / "normaliser.json").unlink()
    _fails(["--board", "esp32", "--run", str(broken)], tmp_path, capsys,
           f"run directory {broken} is incomplete: missing normaliser.json, student.pt")


@pytest.mark.parametrize("change, missing", [
    (lambda run: (run / "source_normaliser.json").unlink(), "no source_normaliser.json"),
    (lambda run: _edit_model_json(run, lambda m: m.pop("stride")), "no model.json key stride"),
])
def test_run_dir_from_an_older_version_is_refused_with_a_request_to_retrain(run_dir, tmp_path, capsys, change,
                                                                            missing):
    old = tmp_path / "old_run"
    shutil.copytree(run_dir, old)
    change(old)
    _fails(["--board", "esp32", "--run", str(old)], tmp_path, capsys,
           f"run directory {old} was written by an older unikd-mcu ({missing}); retrain it with `unikd-mcu train`")


def _edit_model_json(run, change):
    model = json.loads((run / "model.json").read_text())
    change(model)
    (run / "model.json").write_text(json.dumps(model))


def test_build_takes_calibration_normaliser_and_data_facts_from_the_run(scenario_2to11, student_tflite, real_data_dir,
                                                                        tmp_path, monkeypatch):
    """Nothing of training is re-derived: the source windows are calibrated with the run's saved source normaliser
    (Normaliser is never fitted during a build) and the stride and class names come from model.json."""
    import codegen.convert
    from codegen.convert import representative_windows
    from unikd.data.normalise import Normaliser

    data, norm = scenario_2to11
    source_norm = Normaliser(norm.mean + 0.25, norm.inv_std * 0.5, norm.kind)  # no fitting rule gives these
    run = write_run_dir(tmp_path / "run", random_net(), norm, data, source_normaliser=source_norm)
    names = ["a", "b", "c", "d", "e", "f"]
    _edit_model_json(run, lambda m: m.update(stride=32, class_names=names))

    def refit(*args, **kwargs):
        raise AssertionError("build fitted a normaliser instead of reading the run's")

    monkeypatch.setattr(Normaliser, "fit", refit)
    monkeypatch.setattr(Normaliser, "fit_domains", refit)
    calibrated = []
    monkeypatch.setattr(codegen.convert, "convert_student",
                        lambda net, rep: calibrated.append(rep) or student_tflite)  # TensorFlow is not needed here
    out = tmp_path / "out"
    assert main(["build", "--board", "esp32", "--run", str(run), "--out", str(out), "--data-dir",
                 str(real_data_dir), "--no-compile"]) == 0
    (rep,) = calibrated
    np.testing.assert_array_equal(rep, representative_windows(data, norm, source_norm))
    n_t = len(data.target_train)
    assert not np.array_equal(rep[n_t:], representative_windows(data, norm)[n_t:])  # the saved constants count
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["stride"] == 32 and meta["class_names"] == names


def test_run_dir_with_wrong_weights(run_dir, real_data_dir, tmp_path, capsys):
    broken = tmp_path / "wrong_weights"
    shutil.copytree(run_dir, broken)
    torch.save(random_net("cnn-teacher").state_dict(), broken / "student.pt")
    _fails(["--board", "esp32", "--run", str(broken), "--data-dir", str(real_data_dir)], tmp_path, capsys,
           f"run directory {broken}: student.pt does not load into the model model.json describes")


def test_flash_names_the_missing_tools(esp32_build, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty_path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["flash", "--board", "esp32", "--port", "/dev/ttyUSB0", "--build", str(esp32_build)]) == 2
    err = capsys.readouterr().err
    assert "board esp32 is flashed with arduino-cli or pio or esptool, and none is installed" in err
    assert "arduino-cli core install esp32:esp32" in err and "pip install platformio" in err
    assert "pip install esptool" in err


def test_flash_needs_a_build_folder(tmp_path, capsys):
    assert main(["flash", "--board", "esp32", "--port", "/dev/ttyUSB0", "--build", str(tmp_path)]) == 2
    assert "is not a build folder (no metadata.json)" in capsys.readouterr().err
