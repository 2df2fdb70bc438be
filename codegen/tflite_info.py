"""What a .tflite holds, read from the flatbuffer with the schema the tflite-micro wheel ships (no TensorFlow):
the ops in graph order, the input and output shapes and their int8 quantisation."""

from __future__ import annotations

from dataclasses import dataclass

from codegen.errors import DeployError

_INT8 = 9  # schema TensorType.INT8


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
    from tflite_micro.python.tflite_micro import runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    m = runtime.convert_bytearray_to_object(bytearray(model))
    if len(m.subgraphs) != 1:
        raise DeployError(f"the model has {len(m.subgraphs)} subgraphs; the firmware runs single-graph models only")
    g = m.subgraphs[0]
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = [names.get(runtime.get_builtin_code_from_operator_code(m.operatorCodes[op.opcodeIndex]), "CUSTOM")
           for op in (g.operators or [])]
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise DeployError(f"the model has {len(g.inputs)} inputs and {len(g.outputs)} outputs; expected 1 and 1")

    def quant(index: int, what: str) -> tuple[list[int], float, int]:
        t = g.tensors[index]
        if t.type != _INT8 or t.quantization is None or t.quantization.scale is None:
            raise DeployError(f"the model's {what} is not an int8 quantised tensor; convert with int8 input/output")
        return [int(d) for d in t.shape], float(t.quantization.scale[0]), int(t.quantization.zeroPoint[0])

    ishape, iscale, izp = quant(g.inputs[0], "input")
    oshape, oscale, ozp = quant(g.outputs[0], "output")
    return TfliteInfo(ops, ishape, oshape, iscale, izp, oscale, ozp)
