"""Capture what C/C++ code prints on a file descriptor (TFLM's allocation report and errors go to fd 2,
TensorFlow's converter writes to fd 1), which Python-level redirection cannot see."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def capture_fd(fd: int = 2):
    """Redirect file descriptor `fd` into a buffer: yields a list that holds the captured text once the block
    exits (also on an exception)."""
    out: list[str] = []
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), fd)
        try:
            yield out
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os.dup2(saved, fd)
            os.close(saved)
            f.seek(0)
            out.append(f.read().decode(errors="replace"))
