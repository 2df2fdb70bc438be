"""The `tflm` runtime: TFLM's MicroInterpreter over the C array, with a MicroMutableOpResolver that registers
exactly the model's ops and an arena sized from the host measurement plus a margin (codegen.golden).

Each board links its own Arduino TFLM library, and their APIs differ. A board profile's `tflm` section names the
library, its exact version and `api`, one of TFLM_APIS below; each API lists the library versions whose headers it
was read from, and a profile naming another version is refused until someone reads that version's headers
(scripts/check_tflm_libraries.py re-reads them and compiles the generated runtime against a library snapshot).

TFLM's C++ sources cannot be fetched on the project's machines, so this file is compiled only where a board's
TFLM library is installed (arduino-cli / PlatformIO); everything else lives in the portable C core."""

from __future__ import annotations

from dataclasses import dataclass

from codegen.errors import UnsupportedOpError
from codegen.templating import render_template
from unikd.registry import Registry

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


@dataclass(frozen=True)
class TflmApi:
    """What the generated runtime must know of one TFLM library API, as read from the library's headers."""

    name: str
    verified_with: tuple[str, ...]  # "<Arduino library>@<version>" whose headers were read for this entry
    # MicroInterpreter's arena constructor takes an ErrorReporter* with no default (and the op resolver's
    # constructor an optional one); the reporter comes from `error_reporter_header`
    error_reporter: bool
    error_reporter_header: str | None
    missing_methods: frozenset[str]  # methods of RESOLVER_METHODS that this library's resolver does not have
    note: str  # where the facts above were read (library, file and line)

    def methods_for(self, op_kinds: list[str]) -> list[str]:
        """Resolver calls for the model's distinct ops; refuses, by name, any op this API cannot register."""
        unknown = [op for op in op_kinds if op not in RESOLVER_METHODS]
        if unknown:
            raise UnsupportedOpError(
                f"the tflm runtime cannot register op(s) {', '.join(unknown)} (no MicroMutableOpResolver mapping); "
                f"use --runtime aot if it supports them, or change the model")
        lacking = [op for op in op_kinds if RESOLVER_METHODS[op] in self.missing_methods]
        if lacking:
            raise UnsupportedOpError(
                f"the tflm runtime cannot register op(s) {', '.join(lacking)} with {' / '.join(self.verified_with)}: "
                f"its MicroMutableOpResolver has no {', '.join(RESOLVER_METHODS[op] for op in lacking)}; use "
                f"--runtime aot if it supports them, or a board whose TFLM library has them")
        return [RESOLVER_METHODS[op] for op in op_kinds]


TFLM_APIS: Registry[TflmApi] = Registry("tflm api")


def _register(api: TflmApi) -> TflmApi:
    return TFLM_APIS.register(api.name)(api)


# TensorFlowLite_ESP32 1.0.0 (github.com/tanakamasayuki/Arduino_TensorFlowLite_ESP32, tag 1.0.0 = commit e88e0eb,
# based on espressif/tflite-micro-esp-examples): the interpreter still reports through an ErrorReporter.
_register(TflmApi(
    name="error_reporter",
    verified_with=("TensorFlowLite_ESP32@1.0.0",),
    error_reporter=True,
    error_reporter_header="tensorflow/lite/micro/micro_error_reporter.h",
    missing_methods=frozenset({"AddSum"}),
    note="src/tensorflow/lite/micro/micro_interpreter.h:50-54 MicroInterpreter(model, op_resolver, tensor_arena, "
         "tensor_arena_size, ErrorReporter*, MicroResourceVariables* = nullptr, MicroProfiler* = nullptr); "
         "micro_mutable_op_resolver.h:44 MicroMutableOpResolver(ErrorReporter* = nullptr), no AddSum; "
         "micro_error_reporter.h:43 tflite::GetMicroErrorReporter(); micro_interpreter.h:36 TFLITE_SCHEMA_VERSION, "
         ":136 arena_used_bytes()",
))

# Arduino_TensorFlowLite as tensorflow/tflite-micro-arduino-examples ships it at commit 7948b85 (2023-12-21, the
# last sync from tflite-micro): logging moved to MicroPrintf and the ErrorReporter arguments are gone.
_register(TflmApi(
    name="no_error_reporter",
    verified_with=("Arduino_TensorFlowLite@7948b85e020470a30a83bf00e10fc43b486bfcba",),
    error_reporter=False,
    error_reporter_header=None,
    missing_methods=frozenset(),
    note="src/tensorflow/lite/micro/micro_interpreter.h:50-53 MicroInterpreter(model, op_resolver, tensor_arena, "
         "tensor_arena_size, MicroResourceVariables* = nullptr, MicroProfilerInterface* = nullptr); "
         "micro_mutable_op_resolver.h:47 MicroMutableOpResolver(), :531 AddSum; micro_interpreter.h:36 "
         "TFLITE_SCHEMA_VERSION, :136 arena_used_bytes()",
))


def get_api(name: str) -> TflmApi:
    """The API called `name`; an unknown name raises a UserError listing the known ones."""
    return TFLM_APIS.get(name)


def runtime_source(op_kinds: list[str], arena_bytes: int, arena_note: str, api: str, library: str) -> str:
    """unikd_runtime_tflm.cc for the library `library` ("<name>@<version>"), whose API is `api`."""
    entry = get_api(api)
    return render_template(RUNTIME_TEMPLATE, methods=entry.methods_for(op_kinds), ops=op_kinds,
                           arena_bytes=arena_bytes, arena_note=arena_note, api=entry, library=library)
