"""Turn an int8 .tflite flatbuffer into interpreter-free C99 that implements `unikd_runtime.h`.

The generated `unikd_aot_model.c` holds the weights as const arrays (flash), one constant parameter struct
per layer, a static arena placed by liveness, and `unikd_runtime_invoke`, a straight list of kernel calls.
The kernels are the fixed sources in `c/` (copied beside the model), matched bit for bit to TFLM's
reference integer kernels; every multiplier and shift is computed here, at generation time, the way TFLM's
Prepare computes it."""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from codegen.errors import DeployError
from codegen.errors import UnsupportedOpError as _RuntimeUnsupportedOpError

from . import planner, quant
from .tflite_reader import INT8, INT32, INT64, Model, Operator, Tensor, read_model

KERNEL_DIR = Path(__file__).parent / "c"
KERNEL_FILES = ("unikd_aot_kernels.h", "unikd_aot_kernels.c")
MODEL_C, MODEL_H = "unikd_aot_model.c", "unikd_aot_model.h"
_PADDING_SAME = 0


class UnsupportedOpError(_RuntimeUnsupportedOpError):
    """The model uses operators the aot runtime does not implement; the message names them (a UserError)."""

    def __init__(self, ops: list[str]):
        self.ops = ops
        super().__init__(f"the aot runtime does not support operator(s) {', '.join(ops)}; "
                         f"supported: {', '.join(sorted(LOWERINGS))} (use the tflm runtime for this model)")


class UnsupportedModelError(DeployError):
    """The model is not one the aot runtime can run (types, shapes, options); the message says what."""


@dataclass(frozen=True)
class Lowering:
    """How one TFLite op becomes C. `lower(emitter, op, name, ptr)` checks the op and returns its statement;
    `ptr(tensor index)` is the C pointer to a tensor's storage. `aliases_input`: the output may share input 0's
    storage (no data moves), which the memory plan must know before any op is lowered. `data_inputs`: how many
    leading inputs are data the op reads (None: all; the rest are shapes or parameters it does not read)."""
    lower: Callable
    aliases_input: bool = False
    data_inputs: int | None = None


@dataclass
class _Lowered:
    """One operator turned into C: its statement in invoke() (its constants go to the emitter)."""
    op: Operator
    statement: str
    macs: int = 0


class _Emitter:
    def __init__(self, model: Model):
        self.model = model
        self.t = model.tensors
        self.const_arrays: dict[tuple, str] = {}  # (kind, buffer) -> C name
        self.decls: list[str] = []
        self.weight_bytes = 0
        self.param_bytes = 0

    # ---- constants ----
    def const_array(self, tensor: Tensor, ctype: str) -> str:
        key = (ctype, tensor.buffer)
        if key not in self.const_arrays:  # tensors sharing a flatbuffer buffer share one array, like TFLM
            name = f"unikd_aot_{'w' if ctype == 'int8_t' else 'b'}{tensor.buffer}"
            values = tensor.data.reshape(-1).astype(np.int64)
            self.decls.append(f"/* {_comment(tensor.name)} {list(tensor.shape)} */\n"
                              f"static const {ctype} {name}[{len(values)}] = {_c_list(values)};")
            self.weight_bytes += values.size * (1 if ctype == "int8_t" else 4)
            self.const_arrays[key] = name
        return self.const_arrays[key]

    def int32_array(self, name: str, values) -> str:
        values = [int(v) for v in values]
        self.decls.append(f"static const int32_t {name}[{len(values)}] = {_c_list(values)};")
        self.param_bytes += 4 * len(values)
        return name

    def params(self, ctype: str, name: str, fields: dict) -> str:
        body = ", ".join(f".{k} = {_c_value(v)}" for k, v in fields.items())
        self.decls.append(f"static const {ctype} {name} = {{{body}}};")
        self.param_bytes += 4 * sum(len(v) if isinstance(v, (list, tuple)) else 1 for v in fields.values())
        return name


def _comment(text: str) -> str:
    """Tensor names inside C comments: printable ASCII, and never a comment terminator."""
    return "".join(c if " " <= c <= "~" else "?" for c in text).replace("*/", "* /")


def _c_value(v) -> str:
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(_c_int(x) for x in v) + "}"
    return _c_int(v)


def _c_int(v) -> str:
    v = int(v)
    return "INT32_MIN" if v == -(2**31) else str(v)


def _c_list(values, per_line: int = 20) -> str:
    items = [_c_int(v) for v in values]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n    " + ",\n    ".join(lines) + "\n}"


def _need(cond: bool, op: Operator, message: str) -> None:
    if not cond:
        raise UnsupportedModelError(f"{op.op} (operator {op.index}): {message}")


def _nhwc(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(shape) != 4:
        raise ValueError(shape)
    return tuple(int(d) for d in shape)  # type: ignore[return-value]


def _check_int8(op: Operator, *tensors: Tensor) -> None:
    for t in tensors:
        _need(t.type == INT8, op, f"tensor '{t.name}' is {t.type_name}; the aot runtime runs fully int8 models")
        _need(t.scales is not None and len(t.scales) >= 1, op, f"tensor '{t.name}' has no quantisation")


def _optional(model: Model, op: Operator, i: int) -> Tensor | None:
    return model.tensors[op.inputs[i]] if len(op.inputs) > i and op.inputs[i] >= 0 else None


def _lower_conv(em: _Emitter, op: Operator, name: str, ptr) -> _Lowered:
    m = em.model
    x, w, y = m.tensors[op.inputs[0]], m.tensors[op.inputs[1]], m.tensors[op.outputs[0]]
    bias = _optional(m, op, 2)
    _check_int8(op, x, y)
    _need(w.type == INT8 and w.data is not None, op, "filter must be constant int8")
    _need(len(x.shape) == 4 and len(w.shape) == 4 and len(y.shape) == 4, op, "expects 4-D input, filter, output")
    n, h, wd, c = _nhwc(x.shape)
    oc, kh, kw, ic = _nhwc(w.shape)
    _, oh, ow, oc2 = _nhwc(y.shape)
    _need(ic == c, op, f"grouped convolution (filter depth {ic}, input depth {c}) is not supported")
    _need(oc2 == oc, op, "filter and output channel counts differ")
    o = op.options
    same = o["padding"] == _PADDING_SAME
    _need(quant.out_size(same, h, kh, o["stride_h"], o["dilation_h"]) == oh and
          quant.out_size(same, wd, kw, o["stride_w"], o["dilation_w"]) == ow, op, "output shape disagrees with options")
    _need(o["activation"] in (0, 1, 2, 3), op,
          f"fused activation {quant.ACTIVATION_NAMES.get(o['activation'], o['activation'])} is not supported")
    if bias is not None:
        _need(bias.type == INT32 and bias.data is not None, op, f"bias must be constant int32, not {bias.type_name}")
    mults = quant.per_channel_multipliers(x.scale, w.scales, y.scale, oc)
    act_min, act_max = quant.activation_range(o["activation"], y.scale, y.zero_point)
    p = em.params("unikd_aot_conv_params", f"{name}_params", {
        "batches": n, "in_h": h, "in_w": wd, "in_c": c, "out_h": oh, "out_w": ow, "out_c": oc,
        "k_h": kh, "k_w": kw, "stride_h": o["stride_h"], "stride_w": o["stride_w"],
        "dil_h": o["dilation_h"], "dil_w": o["dilation_w"],
        "pad_top": quant.padding_with_offset(o["stride_h"], o["dilation_h"], h, kh, oh),
        "pad_left": quant.padding_with_offset(o["stride_w"], o["dilation_w"], wd, kw, ow),
        "input_offset": -x.zero_point, "output_offset": y.zero_point, "act_min": act_min, "act_max": act_max})
    wname = em.const_array(w, "int8_t")
    bname = em.const_array(bias, "int32_t") if bias is not None else "NULL"
    # bias + input_offset * sum(filter): TFLM's per-window constant when every tap is inside the image.
    bias_values = bias.data.astype(np.int64) if bias is not None else np.zeros(oc, np.int64)
    window_bias = bias_values - x.zero_point * w.data.reshape(oc, -1).astype(np.int64).sum(axis=1)
    _need(bool((np.abs(window_bias) < 2**31).all()), op, "bias plus input offset overflows int32")
    wbname = em.int32_array(f"{name}_window_bias", window_bias)
    mname = em.int32_array(f"{name}_multipliers", [q for q, _ in mults])
    sname = em.int32_array(f"{name}_shifts", [s for _, s in mults])
    stmt = (f"unikd_aot_conv2d(&{p}, {ptr(x.index)}, {wname}, {bname}, {wbname}, {mname}, {sname}, "
            f"{ptr(y.index)});")
    return _Lowered(op, stmt, macs=n * oh * ow * oc * kh * kw * c)


def _lower_fc(em: _Emitter, op: Operator, name: str, ptr) -> _Lowered:
    m = em.model
    x, w, y = m.tensors[op.inputs[0]], m.tensors[op.inputs[1]], m.tensors[op.outputs[0]]
    bias = _optional(m, op, 2)
    _check_int8(op, x, y)
    _need(w.type == INT8 and w.data is not None and len(w.shape) == 2, op, "weights must be a constant 2-D int8 array")
    _need(op.options["weights_format"] == 0, op, "only the default weights format is supported")
    _need(op.options["activation"] in (0, 1, 2, 3), op, "unsupported fused activation")
    out_depth, depth = w.shape
    batches = y.size // out_depth
    _need(batches * out_depth == y.size and batches * depth == x.size, op, "input/output sizes disagree with weights")
    if bias is not None:
        _need(bias.type == INT32 and bias.data is not None, op, f"bias must be constant int32, not {bias.type_name}")
    if len(w.scales) > 1:
        mults = quant.per_channel_multipliers(x.scale, w.scales, y.scale, out_depth)
    else:
        mults = [quant.fully_connected_multiplier(x.scale, w.scale, y.scale)] * out_depth
    act_min, act_max = quant.activation_range(op.options["activation"], y.scale, y.zero_point)
    p = em.params("unikd_aot_fc_params", f"{name}_params", {
        "batches": batches, "in_depth": depth, "out_depth": out_depth, "input_offset": -x.zero_point,
        "filter_offset": -w.zero_point if len(w.scales) == 1 else 0, "output_offset": y.zero_point,
        "act_min": act_min, "act_max": act_max})
    wname = em.const_array(w, "int8_t")
    bname = em.const_array(bias, "int32_t") if bias is not None else "NULL"
    mname = em.int32_array(f"{name}_multipliers", [q for q, _ in mults])
    sname = em.int32_array(f"{name}_shifts", [s for _, s in mults])
    stmt = (f"unikd_aot_fully_connected(&{p}, {ptr(x.index)}, {wname}, {bname}, {mname}, {sname}, "
            f"{ptr(y.index)});")
    return _Lowered(op, stmt, macs=batches * out_depth * depth)


def _lower_pool(em: _Emitter, op: Operator, name: str, ptr) -> _Lowered:
    m = em.model
    x, y = m.tensors[op.inputs[0]], m.tensors[op.outputs[0]]
    _check_int8(op, x, y)
    _need(len(x.shape) == 4 and len(y.shape) == 4, op, "expects 4-D input and output")
    n, h, wd, c = _nhwc(x.shape)
    _, oh, ow, c2 = _nhwc(y.shape)
    o = op.options
    same = o["padding"] == _PADDING_SAME
    _need(c2 == c and quant.out_size(same, h, o["filter_h"], o["stride_h"]) == oh and
          quant.out_size(same, wd, o["filter_w"], o["stride_w"]) == ow, op, "output shape disagrees with options")
    _need(o["activation"] in (0, 1, 2, 3), op, "unsupported fused activation")
    act_min, act_max = quant.activation_range(o["activation"], y.scale, y.zero_point)
    p = em.params("unikd_aot_pool_params", f"{name}_params", {
        "batches": n, "in_h": h, "in_w": wd, "channels": c, "out_h": oh, "out_w": ow,
        "f_h": o["filter_h"], "f_w": o["filter_w"], "stride_h": o["stride_h"], "stride_w": o["stride_w"],
        "pad_top": quant.padding_with_offset(o["stride_h"], 1, h, o["filter_h"], oh),
        "pad_left": quant.padding_with_offset(o["stride_w"], 1, wd, o["filter_w"], ow),
        "act_min": act_min, "act_max": act_max})
    kernel = "unikd_aot_max_pool" if op.op == "MAX_POOL_2D" else "unikd_aot_average_pool"
    return _Lowered(op, f"{kernel}(&{p}, {ptr(x.index)}, {ptr(y.index)});")


def _lower_mean(em: _Emitter, op: Operator, name: str, ptr) -> _Lowered:
    m = em.model
    x, axis_t, y = m.tensors[op.inputs[0]], m.tensors[op.inputs[1]], m.tensors[op.outputs[0]]
    _check_int8(op, x, y)
    _need(axis_t.data is not None and axis_t.type in (INT32, INT64), op, "axes must be a constant int32 tensor")
    rank = len(x.shape)
    axes = sorted({int(a) + rank if int(a) < 0 else int(a) for a in axis_t.data.reshape(-1)})
    _need(all(0 <= a < rank for a in axes), op, f"axes {axes} out of range for rank {rank}")
    _need(axes == list(range(axes[0], axes[-1] + 1)) if axes else False, op,
          f"mean over non-adjacent axes {axes} is not supported")
    outer = int(np.prod(x.shape[:axes[0]], dtype=np.int64))
    reduced = int(np.prod(x.shape[axes[0]:axes[-1] + 1], dtype=np.int64))
    inner = int(np.prod(x.shape[axes[-1] + 1:], dtype=np.int64))
    _need(reduced > 0 and outer * inner == y.size, op, "output size disagrees with the reduced axes")
    # The pinned TFLM requantises even when input and output share scale and zero point (older versions
    # divided the raw sum instead); the test with equal quantisation guards this.
    mult, shift = quant.mean_multiplier(x.scale, y.scale, reduced)
    p = em.params("unikd_aot_mean_params", f"{name}_params", {
        "outer": outer, "reduced": reduced, "inner": inner,
        "input_zero_point": x.zero_point, "output_zero_point": y.zero_point, "multiplier": mult, "shift": shift})
    return _Lowered(op, f"unikd_aot_mean(&{p}, {ptr(x.index)}, {ptr(y.index)});")


def _lower_pad(em: _Emitter, op: Operator, name: str, ptr) -> _Lowered:
    m = em.model
    x, pads_t, y = m.tensors[op.inputs[0]], m.tensors[op.inputs[1]], m.tensors[op.outputs[0]]
    value_t = _optional(m, op, 2)
    _check_int8(op, x, y)
    _need(pads_t.data is not None and pads_t.type in (INT32, INT64), op, "paddings must be constant")
    rank = len(x.shape)
    _need(1 <= rank <= 4, op, f"rank {rank} is not supported (1 to 4)")
    pads = pads_t.data.reshape(rank, 2).astype(np.int64)
    _need(bool((pads >= 0).all()), op, "negative padding")
    lead = 4 - rank
    dims = [1] * lead + [int(d) for d in x.shape]
    before = [0] * lead + [int(p) for p in pads[:, 0]]
    after = [0] * lead + [int(p) for p in pads[:, 1]]
    _need([b + d + a for b, d, a in zip(before, dims, after)] == [1] * lead + list(y.shape), op,
          "output shape disagrees with paddings")
    if value_t is not None:
        _need(value_t.data is not None and value_t.type == INT8, op, "constant value must be a constant int8")
        pad_value = int(value_t.data.reshape(-1)[0])
    else:
        pad_value = y.zero_point  # TFLM pads int8 with the output zero point
    p = em.params("unikd_aot_pad_params", f"{name}_params",
                  {"in_dims": dims, "before": before, "after": after, "pad_value": pad_value})
    return _Lowered(op, f"unikd_aot_pad(&{p}, {ptr(x.index)}, {ptr(y.index)});")


def _lower_softmax(em: _Emitter, op: Operator, name: str, ptr) -> _Lowered:
    m = em.model
    x, y = m.tensors[op.inputs[0]], m.tensors[op.outputs[0]]
    _check_int8(op, x, y)
    _need(y.zero_point == -128 and np.float32(y.scale) == np.float32(1 / 256), op,
          f"int8 output must have zero point -128 and scale 1/256 (has {y.zero_point}, {y.scale})")
    depth = int(x.shape[-1])
    mult, left_shift, diff_min = quant.softmax_params(op.options["beta"], x.scale)
    p = em.params("unikd_aot_softmax_params", f"{name}_params", {
        "outer": x.size // depth, "depth": depth, "input_multiplier": mult, "input_left_shift": left_shift,
        "diff_min": diff_min})
    return _Lowered(op, f"unikd_aot_softmax(&{p}, {ptr(x.index)}, {ptr(y.index)});")


def _lower_reshape(em: _Emitter, op: Operator, name: str, ptr) -> _Lowered:
    x, y = em.model.tensors[op.inputs[0]], em.model.tensors[op.outputs[0]]
    _check_int8(op, x, y)
    _need(x.size == y.size, op, "input and output sizes differ")
    # the plan gives an aliased output its input's storage, so equal pointers mean there is nothing to move
    if ptr(x.index) == ptr(y.index):
        return _Lowered(op, "/* RESHAPE: shares storage */")
    return _Lowered(op, f"unikd_aot_copy({ptr(x.index)}, {ptr(y.index)}, {y.size});")


# TFLite builtin op -> its lowering: the one list of what the aot runtime implements (SUPPORTED_OPS is its keys).
LOWERINGS: dict[str, Lowering] = {
    "AVERAGE_POOL_2D": Lowering(_lower_pool),
    "CONV_2D": Lowering(_lower_conv),
    "FULLY_CONNECTED": Lowering(_lower_fc),
    "MAX_POOL_2D": Lowering(_lower_pool),
    "MEAN": Lowering(_lower_mean),
    "PAD": Lowering(_lower_pad),
    "PADV2": Lowering(_lower_pad),
    # input 1 is the new shape, which the op never reads at run time
    "RESHAPE": Lowering(_lower_reshape, aliases_input=True, data_inputs=1),
    "SOFTMAX": Lowering(_lower_softmax),
}
SUPPORTED_OPS = tuple(sorted(LOWERINGS))


def _check_model(model: Model) -> None:
    unsupported = []
    for op in model.operators:
        if op.op not in LOWERINGS and op.op not in unsupported:
            unsupported.append(op.op)
    if unsupported:
        raise UnsupportedOpError(unsupported)
    if not model.operators:
        raise UnsupportedModelError("the model has no operators")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedModelError(f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                                    "the runtime interface takes one input window and gives one output vector")
    for t in model.tensors:
        if any(d <= 0 for d in t.shape):
            raise UnsupportedModelError(f"tensor '{t.name}' has shape {list(t.shape)}; the aot runtime needs fixed "
                                        "shapes (convert with a batch size of 1)")
    for role, idx in (("input", model.inputs[0]), ("output", model.outputs[0])):
        t = model.tensors[idx]
        if t.type != INT8:
            raise UnsupportedModelError(f"the model {role} '{t.name}' is {t.type_name}; convert with int8 input "
                                        "and output (inference_input_type = inference_output_type = tf.int8)")


def generate(tflite_bytes: bytes, out_dir: Path) -> dict:
    """Write unikd_aot_model.c/.h and the kernel sources into out_dir; return a report of the build.

    Raises UnsupportedOpError (a UserError) naming every operator the aot runtime does not implement, and
    UnsupportedModelError for models it cannot run for other reasons (float tensors, several inputs, ...)."""
    model = read_model(tflite_bytes)
    _check_model(model)
    t = model.tensors
    graph_in, graph_out = model.inputs[0], model.outputs[0]

    # An aliasing op (RESHAPE) moves no data: its output shares its input's storage, unless it is the model output.
    alias: dict[int, int] = {}
    for op in model.operators:
        if LOWERINGS[op.op].aliases_input and op.outputs[0] != graph_out:
            alias[op.outputs[0]] = op.inputs[0]

    def root(i: int) -> int:
        while i in alias:
            i = alias[i]
        return i

    # Liveness of every arena buffer, keyed by the tensor that owns its storage (readers of an aliased
    # output extend the life of the storage it shares).
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for op in model.operators:
        for i in op.outputs:
            r = root(i)
            first.setdefault(r, op.index)
            last[r] = max(last.get(r, op.index), op.index)
        for i in op.inputs[:LOWERINGS[op.op].data_inputs]:
            if i < 0 or t[i].data is not None:
                continue
            r = root(i)
            if r not in first and r != graph_in:
                raise UnsupportedModelError(f"tensor '{t[i].name}' is read by {op.op} (operator {op.index}) "
                                            "but written by no operator")
            last[r] = max(last.get(r, op.index), op.index)
    buffers = [planner.Buffer(r, t[r].size, first[r], last[r]) for r in first if r not in (graph_in, graph_out)]
    arena = planner.plan(buffers)
    planner.check(buffers)
    offsets = {b.key: b.offset for b in buffers}
    naive = sum(b.size for b in buffers)

    def ptr(i: int) -> str:
        r = root(i)
        if r == graph_in:
            return "input"
        if r == graph_out:
            return "output"
        return f"(unikd_aot_arena + {offsets[r]})"

    em = _Emitter(model)
    lowered: list[_Lowered] = []
    for op in model.operators:
        lowered.append(LOWERINGS[op.op].lower(em, op, f"unikd_aot_op{op.index}", ptr))

    x_in, x_out = t[graph_in], t[graph_out]
    digest = hashlib.sha256(bytes(tflite_bytes)).hexdigest()
    macs = sum(lw.macs for lw in lowered)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in KERNEL_FILES:
        shutil.copyfile(KERNEL_DIR / f, out_dir / f)
    (out_dir / MODEL_H).write_text(_header(x_in, x_out, arena, macs, digest))
    (out_dir / MODEL_C).write_text(_source(em, lowered, t, arena, digest))

    return {
        "runtime": "aot",
        "model_sha256": digest,
        "ops": [{"index": lw.op.index, "op": lw.op.op, "output_shape": list(t[lw.op.outputs[0]].shape),
                 "macs": lw.macs} for lw in lowered],
        "op_counts": {name: sum(1 for o in model.operators if o.op == name)
                      for name in dict.fromkeys(o.op for o in model.operators)},
        "ram_bytes": arena,
        "naive_ram_bytes": naive,
        "weight_bytes": em.weight_bytes,
        "param_bytes": em.param_bytes,
        "macs": macs,
        "files": [MODEL_C, MODEL_H, *KERNEL_FILES],
        "input": {"shape": list(x_in.shape), "scale": x_in.scale, "zero_point": x_in.zero_point},
        "output": {"shape": list(x_out.shape), "scale": x_out.scale, "zero_point": x_out.zero_point},
        "buffers": [{"tensor": t[b.key].name, "bytes": b.size, "offset": b.offset, "first_op": b.first,
                     "last_op": b.last} for b in sorted(buffers, key=lambda b: b.first)],
    }


def _header(x_in: Tensor, x_out: Tensor, arena: int, macs: int, digest: str) -> str:
    return f"""/* Generated by unikd-mcu codegen.aot from a .tflite model: do not edit. */
#ifndef UNIKD_AOT_MODEL_H
#define UNIKD_AOT_MODEL_H

#include "unikd_runtime.h"

#define UNIKD_AOT_MODEL_SHA256 "{digest}"
#define UNIKD_AOT_INPUT_BYTES {x_in.size}
#define UNIKD_AOT_OUTPUT_BYTES {x_out.size}
#define UNIKD_AOT_INPUT_ZERO_POINT {x_in.zero_point}
#define UNIKD_AOT_OUTPUT_ZERO_POINT {x_out.zero_point}
#define UNIKD_AOT_ARENA_BYTES {arena}
#define UNIKD_AOT_MACS {macs}

#endif /* UNIKD_AOT_MODEL_H */
"""


def _source(em: _Emitter, lowered: list[_Lowered], t: list[Tensor], arena: int, digest: str) -> str:
    words = max(1, (arena + 3) // 4)
    calls = []
    for lw in lowered:
        out = t[lw.op.outputs[0]]
        calls.append(f"    /* {lw.op.index}: {lw.op.op} -> {_comment(out.name)} {list(out.shape)} */\n"
                     f"    {lw.statement}")
    body = "\n".join(calls)
    decls = "\n\n".join(em.decls)
    return f"""/* Generated by unikd-mcu codegen.aot: do not edit.
 * Model sha256 {digest}.
 * Interpreter-free int8 inference, bit-exact with TFLM's reference kernels. */
#include <stddef.h>
#include <stdint.h>

#include "unikd_aot_kernels.h"
#include "unikd_aot_model.h"
#include "unikd_runtime.h"

{decls}

/* Intermediate tensors, placed by liveness ({arena} bytes); int32 words keep it 4-byte aligned. */
static int32_t unikd_aot_arena_words[{words}];
#define unikd_aot_arena ((int8_t *)unikd_aot_arena_words)

int unikd_runtime_init(void) {{
    return 0;
}}

int unikd_runtime_invoke(const int8_t *input, int8_t *output) {{
    if (input == NULL || output == NULL) {{
        return -1;
    }}
{body}
    return 0;
}}

size_t unikd_runtime_ram_bytes(void) {{
    return UNIKD_AOT_ARENA_BYTES;
}}
"""
