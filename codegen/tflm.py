"""The `tflm` runtime: TFLM's MicroInterpreter over the C array, with a MicroMutableOpResolver that registers
exactly the model's ops and an arena sized from the host measurement plus a margin (codegen.golden).

TFLM's C++ sources cannot be fetched on the project's machines, so this file is compiled only where a board's
TFLM library is installed (arduino-cli / PlatformIO); everything else lives in the portable C core."""

from __future__ import annotations

from codegen.errors import UnsupportedOpError
from codegen.templating import render_template

RUNTIME_TEMPLATE = "unikd_runtime_tflm.cc.j2"

# TFLite builtin op -> MicroMutableOpResolver method (TFLM's micro_mutable_op_resolver.h).
RESOLVER_METHODS = {
    "ADD": "AddAdd", "ARG_MAX": "AddArgMax", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize", "EXPAND_DIMS": "AddExpandDims", "FULLY_CONNECTED": "AddFullyConnected",
    "HARD_SWISH": "AddHardSwish", "LEAKY_RELU": "AddLeakyRelu", "LOGISTIC": "AddLogistic",
    "MAXIMUM": "AddMaximum", "MAX_POOL_2D": "AddMaxPool2D", "MEAN": "AddMean", "MINIMUM": "AddMinimum",
    "MUL": "AddMul", "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "QUANTIZE": "AddQuantize",
    "REDUCE_MAX": "AddReduceMax", "RELU": "AddRelu", "RELU6": "AddRelu6", "RESHAPE": "AddReshape",
    "SHAPE": "AddShape", "SOFTMAX": "AddSoftmax", "SPLIT": "AddSplit", "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice", "SUB": "AddSub", "SUM": "AddSum", "TANH": "AddTanh",
    "TRANSPOSE": "AddTranspose", "TRANSPOSE_CONV": "AddTransposeConv", "UNPACK": "AddUnpack",
}


def resolver_methods(op_kinds: list[str]) -> list[str]:
    """Resolver calls for the model's distinct ops; refuses, by name, any op this mapping does not know."""
    unknown = [op for op in op_kinds if op not in RESOLVER_METHODS]
    if unknown:
        raise UnsupportedOpError(
            f"the tflm runtime cannot register op(s) {', '.join(unknown)} (no MicroMutableOpResolver mapping); "
            f"use --runtime aot if it supports them, or change the model")
    return [RESOLVER_METHODS[op] for op in op_kinds]


def runtime_source(op_kinds: list[str], arena_bytes: int, arena_note: str) -> str:
    return render_template(RUNTIME_TEMPLATE, methods=resolver_methods(op_kinds), ops=op_kinds,
                           arena_bytes=arena_bytes, arena_note=arena_note)
