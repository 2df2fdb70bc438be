"""Processes the tool starts die with it, and a SIGTERM unwinds like Ctrl-C, so nothing is left behind: no
orphaned worker or emulator, no temporary folder (unikd.outputs.atomic_dir removes its own on any exception).

    raise_on_sigterm()   in a main process or a worker: SIGTERM raises Terminated, so `with`/`finally` blocks run
    die_with_parent()    in a child before it runs (preexec_fn, or a pool's initializer): the kernel sends it
                         SIGTERM when its parent dies, even by SIGKILL (Linux; elsewhere a no-op)
"""

from __future__ import annotations

import signal
import sys


class Terminated(BaseException):
    """SIGTERM, raised in the main thread. A BaseException, so no `except Exception` on the way out swallows it."""


def _raise_terminated(signum, frame):
    raise Terminated()


def raise_on_sigterm():
    """Install the SIGTERM handler; returns the previous one (to restore)."""
    return signal.signal(signal.SIGTERM, _raise_terminated)


def die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class WorkerTerminated(SystemExit, Terminated):
    """SIGTERM in a pool worker. During a job it unwinds the job like Terminated (the pool hands it to the parent
    as the job's exception); in a worker waiting for its next job it is also a SystemExit, so the worker exits
    with 143 quietly instead of multiprocessing printing a traceback for it."""


def _raise_worker_terminated(signum, frame):
    raise WorkerTerminated(143)


def worker_init() -> None:
    """Initializer of the sweep's worker processes."""
    die_with_parent()
    signal.signal(signal.SIGTERM, _raise_worker_terminated)
