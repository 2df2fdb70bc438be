"""The golden runtime: TFLM's own interpreter (the `tflite-micro` wheel), which the firmware must match bit for bit.

Not tf.lite.Interpreter: its XNNPACK and even its reference kernels differ from TFLM by 1 LSB on some outputs
(docs: toolchain.md). Also measures the tensor arena TFLM needs for a model.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

from codegen.capture import capture_fd

# Arena for the device = measured + max(ARENA_MARGIN_FRACTION * measured, ARENA_MARGIN_MIN_BYTES), rounded up to 16.
# The host measurement runs with 64-bit pointers, so it is already an upper bound for a 32-bit MCU; the margin
# covers TFLM version drift (kernel scratch buffers, allocator bookkeeping) between the wheel and the board's library.
ARENA_MARGIN_FRACTION = 0.25
ARENA_MARGIN_MIN_BYTES = 1024


class GoldenModel:
    """TFLM interpreter over one int8 model; `run` takes int8 windows (N, L, C) and returns int8 outputs."""

    def __init__(self, model: bytes, arena_size: int | None = None):
        from tflite_micro.python.tflite_micro import runtime

        self.model = bytes(model)
        self._interp = runtime.Interpreter.from_bytes(self.model, arena_size=arena_size)
        self.input_details = self._interp.get_input_details(0)
        self.output_details = self._interp.get_output_details(0)
        self.input_shape = tuple(int(d) for d in self.input_details["shape"])

    def run(self, windows: np.ndarray) -> np.ndarray:
        """windows: int8 (N, L, C) (or already (N, *input_shape[1:])) -> int8 (N, num_classes)."""
        w = np.asarray(windows)
        if w.dtype != np.int8:
            raise TypeError(f"golden runtime takes int8 windows, got {w.dtype}")
        w = w.reshape((w.shape[0],) + self.input_shape[1:])
        outs = []
        for i in range(w.shape[0]):
            self._interp.set_input(w[i:i + 1], 0)
            self._interp.invoke()
            outs.append(np.array(self._interp.get_output(0), np.int8).reshape(-1))
        return np.stack(outs) if outs else np.zeros((0, int(self.output_details["shape"][-1])), np.int8)


@dataclass(frozen=True)
class ArenaMeasure:
    recorded_bytes: int  # TFLM's RecordingMicroAllocator total after one invoke
    head_bytes: int
    tail_bytes: int
    smallest_working_bytes: int  # smallest arena (multiple of 16) with which TFLM allocates and invokes
    recommended_bytes: int  # what the tflm firmware allocates
    margin_rule: str

    def to_dict(self) -> dict:
        return asdict(self)


def _recorded_allocations(model: bytes, probe: np.ndarray) -> dict[str, int]:
    g = GoldenModel(model)
    g.run(probe)
    with capture_fd(2) as text:
        g._interp.print_allocations()
    found = {k: int(v) for k, v in re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text[0])}
    if set(found) != {"total", "head", "tail"}:
        raise RuntimeError(f"could not read TFLM's arena report; it printed:\n{text[0]}")
    return found


def _works_with_arena(model: bytes, arena: int, probe: np.ndarray) -> bool:
    with capture_fd(2):  # a too-small arena makes TFLM print its allocation failures
        try:
            GoldenModel(model, arena_size=arena).run(probe)
        except RuntimeError:
            return False
    return True


def measure_arena(model: bytes) -> ArenaMeasure:
    """Arena TFLM needs for `model`: its own recording after an invoke, cross-checked by bisection on arena_size."""
    g = GoldenModel(model)
    probe = np.zeros((1,) + g.input_shape[1:], np.int8)
    rec = _recorded_allocations(model, probe)
    lo, hi = 0, rec["total"] + 1024  # in units of 16 bytes below
    if not _works_with_arena(model, hi, probe):
        raise RuntimeError(f"TFLM did not run with {hi} bytes although it recorded {rec['total']}")
    lo_u, hi_u = lo // 16, hi // 16
    while hi_u - lo_u > 1:
        mid = (lo_u + hi_u) // 2
        if _works_with_arena(model, mid * 16, probe):
            hi_u = mid
        else:
            lo_u = mid
    smallest = hi_u * 16
    measured = max(rec["total"], smallest)
    margin = max(int(np.ceil(measured * ARENA_MARGIN_FRACTION)), ARENA_MARGIN_MIN_BYTES)
    recommended = (measured + margin + 15) // 16 * 16
    rule = (f"max(recorded, smallest working) + max({ARENA_MARGIN_FRACTION:.0%}, {ARENA_MARGIN_MIN_BYTES} B), "
            f"rounded up to 16 B")
    return ArenaMeasure(rec["total"], rec["head"], rec["tail"], smallest, recommended, rule)
