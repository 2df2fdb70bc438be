"""What a .tflite holds, for the build report, the metadata and the tflm runtime: the ops in graph order, the input
and output shapes and their int8 quantisation. Read with the aot runtime's flatbuffer reader
(codegen.aot.tflite_reader, the schema the tflite-micro wheel ships; no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass

from codegen.aot.tflite_reader import INT8, read_model
from codegen.errors import DeployError


@dataclass(frozen=True)
class TfliteInfo:
    ops: list[str]  # builtin op names in execution order, e.g. ["CONV_2D", "PAD", ...]
    input_shape: list[int]
    output_shape: list[int]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    @property
    def op_kinds(self) -> list[str]:
        """Distinct ops, in order of first use."""
        return list(dict.fromkeys(self.ops))


def read_tflite(model: bytes) -> TfliteInfo:
    m = read_model(model)
    if len(m.inputs) != 1 or len(m.outputs) != 1:
        raise DeployError(f"the model has {len(m.inputs)} inputs and {len(m.outputs)} outputs; expected 1 and 1")

    def quant(index: int, what: str) -> tuple[list[int], float, int]:
        t = m.tensors[index]
        if t.type != INT8 or t.scales is None:
            raise DeployError(f"the model's {what} is not an int8 quantised tensor; convert with int8 input/output")
        return list(t.shape), t.scale, t.zero_point

    ishape, iscale, izp = quant(m.inputs[0], "input")
    oshape, oscale, ozp = quant(m.outputs[0], "output")
    return TfliteInfo([op.op for op in m.operators], ishape, oshape, iscale, izp, oscale, ozp)
