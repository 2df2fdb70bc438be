"""Ctrl-C and SIGTERM in the middle of train, build, hil and sweep, sent to the real command as a user's shell or a
job scheduler would: the command ends with 130 / 143 and one line, leaves no temporary folder, no half-written
output and no orphaned process (worker, emulator), and running it again finishes the work, reusing what was
complete (the cached teacher, the finished runs of a sweep)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from unikd.outputs import verify_complete

QUICK = ["--teacher-epochs", "3", "--epochs", "12", "--min-steps", "0", "--data-dir"]


class Command:
    """`unikd-mcu ARGS` in its own process; stderr collected as it comes, so a test can wait for a stage."""

    def __init__(self, args, cwd: Path):
        self.tag = uuid.uuid4().hex  # in the environment of the command and of everything it starts
        env = dict(os.environ, UNIKD_SIGNAL_TEST_TAG=self.tag, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "unikd_mcu.cli", *map(str, args)], cwd=cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.err = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for chunk in iter(lambda: self.proc.stderr.read(1), ""):
            self.err += chunk

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.err:
            assert self.proc.poll() is None, f"ended before {text!r}: {self.err[-2000:]}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s: {self.err[-2000:]}"
            time.sleep(0.05)

    def finish(self, timeout: float = 300) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        self.out = self.proc.stdout.read()
        return rc


def tagged_processes(tag: str) -> list[int]:
    """Processes still running with this test's tag in their environment (the command and whatever it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"UNIKD_SIGNAL_TEST_TAG={tag}".encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def interrupt(args, cwd: Path, stage: str, sig: int) -> Command:
    """Start the command, send `sig` once `stage` shows on its stderr, wait for it to end."""
    cmd = Command(args, cwd)
    cmd.wait_for(stage)
    cmd.proc.send_signal(sig)
    cmd.rc = cmd.finish()
    return cmd


def assert_clean_stop(cmd: Command, sig: int, *folders: Path) -> None:
    word, code = ("terminated", 143) if sig == signal.SIGTERM else ("aborted", 130)
    assert cmd.rc == code, cmd.err[-3000:]
    assert cmd.err.rstrip().endswith(word) and "Traceback" not in cmd.err, cmd.err[-3000:]
    deadline = time.monotonic() + 10
    while tagged_processes(cmd.tag) and time.monotonic() < deadline:  # children get their SIGTERM from the kernel
        time.sleep(0.1)
    assert tagged_processes(cmd.tag) == [], "processes left behind"
    for folder in folders:
        if folder.is_dir():
            hidden = [p.name for p in folder.iterdir() if p.name.startswith(".")]
            assert hidden == [], f"temporary folders left in {folder}: {hidden}"


@pytest.fixture(scope="module")
def work(tmp_path_factory, real_data_dir, require_tools):
    require_tools("make", "arm-none-eabi-gcc", "qemu-system-arm")
    return tmp_path_factory.mktemp("signals"), real_data_dir


@pytest.fixture(scope="module")
def trained(work):
    """A run, made by a train that was first interrupted during the student and then run again."""
    root, data = work
    args = ["train", *QUICK, data, "--out", "runs/r", "--teacher-cache", "runs/teachers"]
    cmd = interrupt(args, root, "student (unikd)", signal.SIGTERM)
    assert_clean_stop(cmd, signal.SIGTERM, root / "runs", root / "runs" / "teachers")
    assert not (root / "runs" / "r").exists()
    again = Command(args, root)
    assert again.finish() == 0, again.err[-3000:]
    assert "reused from cache" in again.out  # the teacher finished before the signal and is not trained twice
    return root / "runs" / "r"


def test_train_interrupted_then_resumed(trained):
    assert verify_complete(trained, "run") is None


def test_ctrl_c_during_training_leaves_nothing(work):
    root, data = work
    cmd = interrupt(["train", *QUICK, data, "--source", "7", "--target", "13", "--out", "runs/c",
                     "--teacher-cache", "runs/teachers"], root, "teacher (dann)", signal.SIGINT)
    assert_clean_stop(cmd, signal.SIGINT, root / "runs", root / "runs" / "teachers")
    assert not (root / "runs" / "c").exists()


@pytest.fixture(scope="module")
def built(work, trained):
    root, data = work
    args = ["build", "--board", "qemu-m4", "--run", trained, "--data-dir", data, "--out", "build/b"]
    cmd = interrupt(args, root, "converting to int8", signal.SIGTERM)
    assert_clean_stop(cmd, signal.SIGTERM, root / "build")
    assert not (root / "build" / "b").exists()
    again = Command(args, root)
    assert again.finish() == 0, again.err[-3000:]
    return root / "build" / "b"


def test_build_interrupted_then_resumed(built):
    assert verify_complete(built, "build") is None and (built / "make" / "build" / "fw.elf").is_file()


def test_hil_terminated_mid_session_stops_the_emulator(work, trained, built):
    root, data = work
    cmd = interrupt(["hil", "--build", built, "--run", trained, "--data-dir", data, "--out", "hil"], root,
                    "window 25", signal.SIGTERM)
    assert_clean_stop(cmd, signal.SIGTERM, root)  # the QEMU it booted carried the tag: it must be gone
    assert not (root / "hil").exists()


def test_sweep_terminated_keeps_finished_runs_and_resumes(work):
    root, data = work
    args = ["sweep", "--scenarios", "2->11,7->13,12->16", "--seeds", "0", "--methods", "source-only", "--jobs", "2",
            "--epochs", "3", "--min-steps", "0", "--data-dir", data, "--out", "sweep"]
    cmd = Command(args, root)
    runs = root / "sweep" / "runs"
    deadline = time.monotonic() + 180
    while not (runs.is_dir() and any(not p.name.startswith(".") for p in runs.iterdir())):
        assert cmd.proc.poll() is None and time.monotonic() < deadline, cmd.err[-3000:]
        time.sleep(0.05)
    cmd.proc.send_signal(signal.SIGTERM)
    cmd.rc = cmd.finish()
    if cmd.rc == 0:
        pytest.skip("the sweep finished before the signal arrived")
    assert_clean_stop(cmd, signal.SIGTERM, runs)
    done = {p.name: p.stat().st_mtime_ns for p in runs.iterdir() if verify_complete(p, "run") is None}
    assert done, "the run that was finished before the signal is gone"
    again = Command(args, root)
    assert again.finish() == 0, again.err[-3000:]
    assert {p.name: p.stat().st_mtime_ns for p in runs.iterdir() if p.name in done} == done  # reused, not redone
    assert len([p for p in runs.iterdir() if verify_complete(p, "run") is None]) == 3

