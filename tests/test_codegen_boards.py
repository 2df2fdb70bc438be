"""Board profiles: the four shipped boards load with their facts, user profiles are picked up from
$UNIKD_BOARDS_PATH, and bad names or files get messages that say what is wrong."""

from __future__ import annotations

import pytest

from codegen.boards import ENV_VAR, all_boards, get_board, load_board_file
from codegen.errors import DeployError
from helpers import TINY_BOARD_YAML
from unikd_mcu.cli import main
from unikd.errors import UserError


def test_shipped_boards():
    boards = {b.name: b for b in all_boards()}
    assert {"esp32", "esp32s3", "nano33ble", "qemu-m4"} <= set(boards)
    esp = boards["esp32"]
    assert esp.arduino["fqbn"] == "esp32:esp32:esp32" and esp.platformio["platform"] == "espressif32"
    assert esp.sensor == "mpu6050" and esp.sensor_options["i2c_sda"] == 21 and esp.baud == 115200
    assert boards["esp32s3"].arduino["fqbn"] == "esp32:esp32:esp32s3"
    assert boards["nano33ble"].sensor == "lsm9ds1" and boards["nano33ble"].platformio["platform"] == "nordicnrf52"
    q = boards["qemu-m4"]
    assert q.is_emulated and q.sensor == "serial" and q.runtimes == ("aot",)
    for b in boards.values():
        assert b.runtime == "aot" and b.flash_budget_bytes > 0 and b.ram_budget_bytes > 0 and b.toolchain


def test_unknown_board_lists_boards():
    with pytest.raises(UserError) as e:
        get_board("esp64")
    msg = str(e.value)
    assert "unknown board 'esp64'" in msg and "esp32, esp32s3, nano33ble, nano33ble_rev2, qemu-m4" in msg


def test_boards_command_prints_a_table(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["board", "MCU"] and set(out[1]) <= {"-", " "}
    rows = {line.split()[0]: line for line in out[2:] if line and not line.startswith("(")}
    assert {"esp32", "esp32s3", "nano33ble", "qemu-m4"} <= set(rows)
    assert "1,000,000 B" in rows["esp32"] and "arduino esp32:esp32:esp32" in rows["esp32"]
    assert "aot*" in rows["qemu-m4"] and "make" in rows["qemu-m4"]


def test_user_profiles_from_env(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY_BOARD_YAML)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert get_board("tiny").flash_budget_bytes == 8000
    assert main(["boards"]) == 0
    assert any(line.startswith("tiny ") for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("change, message", [
    (("baud: 9600", "baud: fast"), "'baud' must be int"),
    (("sensor: serial", "sensor: icm20948"), "sensor 'icm20948' is not one of mpu6050, lsm9ds1, bmi270, serial"),
    (("runtime: aot", "runtime: tflm"), "runtime 'tflm' must be one of runtimes"),
    (("name: tiny", "name: small"), "name 'small' must equal the file name 'tiny'"),
    (("toolchain: none\n", "toolchain: none\ncolour: red\n"), "unknown key(s) colour"),
    (("mcu: Tiny (8 KB flash)\n", ""), "missing key 'mcu'"),
])
def test_bad_profile_messages_name_file_and_key(tmp_path, change, message):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_BOARD_YAML.replace(*change))
    with pytest.raises(DeployError) as e:
        load_board_file(path)
    assert str(path) in str(e.value) and message in str(e.value)


def test_deploy_modules_import_without_tensorflow_or_torch():
    import subprocess
    import sys

    code = ("import sys; import codegen.cli, codegen.build, codegen.render, codegen.golden, codegen.quantise, "
            "codegen.metadata, codegen.carrays, codegen.keras_mirror, codegen.convert, codegen.evaluate, "
            "codegen.runtimes, codegen.toolchains; "
            "print(sorted(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
