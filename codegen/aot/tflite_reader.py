"""Read an int8 .tflite flatbuffer into plain Python objects (tensors, operators, options).

The flatbuffer schema is the one shipped with the pinned `tflite-micro` package (the golden runtime), imported
only when a model is read, so importing `codegen.aot` stays cheap. Only the facts the code generator needs are
kept: shapes, types, constant data, quantisation, operator codes and their builtin options."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codegen.errors import DeployError

# TensorType values of the TFLite schema that this reader turns into numpy arrays.
_NUMPY_TYPES = {0: np.float32, 2: np.int32, 4: np.int64, 9: np.int8, 3: np.uint8, 7: np.int16}
TYPE_NAMES = {0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL",
              7: "INT16", 9: "INT8", 10: "FLOAT64", 17: "INT4"}
INT8, INT32, INT64 = 9, 2, 4


class TfliteFormatError(DeployError):
    """The bytes are not a TFLite model this reader can use."""


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    type: int
    data: np.ndarray | None  # constant data (weights, bias, shapes), None for activations
    scales: np.ndarray | None  # float32, one per tensor or one per channel
    zero_points: np.ndarray | None  # int64
    quantized_dimension: int
    buffer: int

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, f"type {self.type}")

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def scale(self) -> float:
        return float(self.scales[0])

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.zero_points is not None and len(self.zero_points) else 0


@dataclass
class Operator:
    index: int
    op: str  # builtin operator name, e.g. "CONV_2D"
    inputs: list[int]  # tensor indices, -1 for an omitted optional input
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class Model:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


def _schema():
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    except ImportError as exc:  # the deploy extra is missing
        raise DeployError("reading .tflite models needs the `tflite-micro` package: "
                          "pip install 'unikd-mcu[deploy]'") from exc
    return schema


def _enum_names(enum_class) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)}


def _options(schema, op_name: str, table) -> dict:
    """Builtin options of the operators the generator knows; defaults when the table is absent."""
    def load(cls):
        obj = cls()
        if table is not None:
            obj.Init(table.Bytes, table.Pos)
        return obj if table is not None else None

    if op_name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        o = load(schema.Conv2DOptions)
        if o is None:
            return {"padding": 0, "stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1, "activation": 0}
        return {"padding": o.Padding(), "stride_h": o.StrideH(), "stride_w": o.StrideW(),
                "dilation_h": o.DilationHFactor(), "dilation_w": o.DilationWFactor(),
                "activation": o.FusedActivationFunction()}
    if op_name in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        o = load(schema.Pool2DOptions)
        if o is None:
            raise TfliteFormatError(f"{op_name} has no options (filter size unknown)")
        return {"padding": o.Padding(), "stride_h": o.StrideH(), "stride_w": o.StrideW(),
                "filter_h": o.FilterHeight(), "filter_w": o.FilterWidth(),
                "activation": o.FusedActivationFunction()}
    if op_name == "FULLY_CONNECTED":
        o = load(schema.FullyConnectedOptions)
        if o is None:
            return {"activation": 0, "weights_format": 0, "keep_num_dims": False}
        return {"activation": o.FusedActivationFunction(), "weights_format": o.WeightsFormat(),
                "keep_num_dims": bool(o.KeepNumDims())}
    if op_name == "MEAN":
        o = load(schema.ReducerOptions)
        return {"keep_dims": bool(o.KeepDims()) if o is not None else False}
    if op_name == "SOFTMAX":
        o = load(schema.SoftmaxOptions)
        return {"beta": float(np.float32(o.Beta())) if o is not None else 1.0}
    return {}


def read_model(tflite_bytes: bytes) -> Model:
    """Parse the first subgraph of a .tflite flatbuffer."""
    data = bytes(tflite_bytes)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TfliteFormatError("not a TFLite flatbuffer (file identifier 'TFL3' missing at bytes 4-8)")
    schema = _schema()
    model = schema.Model.GetRootAsModel(data, 0)
    if model.SubgraphsLength() != 1:
        raise TfliteFormatError(f"the model has {model.SubgraphsLength()} subgraphs; the aot runtime handles one")
    graph = model.Subgraphs(0)
    op_names = _enum_names(schema.BuiltinOperator)

    tensors = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        buf = model.Buffers(t.Buffer())
        raw = None
        if buf is not None and buf.DataLength():
            raw = buf.DataAsNumpy().tobytes()
        elif buf is not None and buf.Offset() > 1:  # models over 2 GB keep buffers after the flatbuffer
            raw = data[buf.Offset():buf.Offset() + buf.Size()]
        array = None
        if raw is not None:
            if t.Type() not in _NUMPY_TYPES:
                raise TfliteFormatError(f"tensor {i} ({t.Name().decode()}) has constant data of type "
                                        f"{TYPE_NAMES.get(t.Type(), t.Type())}, which the aot runtime cannot hold")
            array = np.frombuffer(raw, dtype=_NUMPY_TYPES[t.Type()]).reshape(shape if shape else (-1,)).copy()
        q = t.Quantization()
        scales = zps = None
        qdim = 0
        if q is not None and q.ScaleLength():
            scales = q.ScaleAsNumpy().astype(np.float32)
            zps = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(len(scales), np.int64)
            qdim = int(q.QuantizedDimension())
        tensors.append(Tensor(i, (t.Name() or b"").decode(errors="replace"), shape, int(t.Type()), array,
                              scales, zps, qdim, int(t.Buffer())))

    operators = []
    for i in range(graph.OperatorsLength()):
        o = graph.Operators(i)
        code = model.OperatorCodes(o.OpcodeIndex())
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        name = op_names.get(builtin, f"BUILTIN_{builtin}")
        if name == "CUSTOM":
            name = f"CUSTOM:{(code.CustomCode() or b'?').decode(errors='replace')}"
        inputs = [int(x) for x in o.InputsAsNumpy()] if o.InputsLength() else []
        outputs = [int(x) for x in o.OutputsAsNumpy()] if o.OutputsLength() else []
        options = _options(schema, name, o.BuiltinOptions())
        operators.append(Operator(i, name, inputs, outputs, options))

    return Model(tensors, operators,
                 [int(x) for x in graph.InputsAsNumpy()] if graph.InputsLength() else [],
                 [int(x) for x in graph.OutputsAsNumpy()] if graph.OutputsLength() else [])
