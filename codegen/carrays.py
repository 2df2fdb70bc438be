"""C sources for the model: the .tflite as a 16-byte aligned const array (`unikd_model_data.h/.c`) and the
metadata header (`unikd_model_meta.h`) with exactly the macros of firmware/README.md.

The text is produced by templates in firmware/templates/; this module formats the values C needs (hex bytes,
float literals that round-trip float32, escaped string literals)."""

from __future__ import annotations

import math
from pathlib import Path

from codegen.calibration import MAX_SAMPLES
from codegen.metadata import ModelMetadata
from codegen.templating import render_template

ARRAY_NAME = "unikd_model_tflite"
DATA_HEADER = "unikd_model_data.h"
DATA_SOURCE = "unikd_model_data.c"
META_HEADER = "unikd_model_meta.h"
BYTES_PER_LINE = 16


def c_float(v: float) -> str:
    """A C float literal of the float32 value `v`: %.9g (round-trips float32) plus 'f', with a '.0' added when
    %.9g prints an integer (`50f` is not C)."""
    if not math.isfinite(v):
        raise ValueError(f"cannot write {v} as a C float literal")
    s = f"{v:.9g}"
    if not any(ch in s for ch in ".en"):
        s += ".0"
    return s + "f"


def c_string(s: str) -> str:
    """A C string literal; anything but printable ASCII is written as a 3-digit octal escape."""
    out = []
    for b in s.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F and ch != "?":  # '?' escaped so no trigraph can form
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def c_comment(s: str) -> str:
    """Text safe inside a /* */ comment: no comment terminator, printable ASCII only."""
    return "".join(ch if 0x20 <= ord(ch) < 0x7F else "?" for ch in str(s)).replace("*/", "* /")


def hex_lines(data: bytes) -> list[str]:
    return [", ".join(f"0x{b:02x}" for b in data[i:i + BYTES_PER_LINE]) + ","
            for i in range(0, len(data), BYTES_PER_LINE)]


def model_data_files(model: bytes, sha256: str) -> dict[str, str]:
    """{file name: text} of unikd_model_data.h and unikd_model_data.c."""
    values = dict(array=ARRAY_NAME, header=DATA_HEADER, length=len(model), sha256=sha256, lines=hex_lines(model))
    return {DATA_HEADER: render_template("unikd_model_data.h.j2", **values),
            DATA_SOURCE: render_template("unikd_model_data.c.j2", **values)}


def model_meta_header(meta: ModelMetadata) -> str:
    return render_template(
        "unikd_model_meta.h.j2",
        meta=meta,
        input_scale=c_float(meta.input_scale),
        output_scale=c_float(meta.output_scale),
        sample_rate=c_float(meta.sample_rate_hz),
        norm_mean=", ".join(c_float(v) for v in meta.norm_mean),
        norm_inv_std=", ".join(c_float(v) for v in meta.norm_inv_std),
        class_names=", ".join(c_string(c) for c in meta.class_names),
        channel_names=c_comment(", ".join(meta.channel_names)),
        origin=c_comment(f"{meta.dataset} {meta.source}->{meta.target}, {meta.method}"),
        hash=c_string(meta.model_sha256),
        runtime=c_string(meta.runtime),
        calib_max_samples=MAX_SAMPLES,
    )


def model_c_files(model: bytes, meta: ModelMetadata) -> dict[str, str]:
    """All three model files, keyed by file name."""
    files = model_data_files(model, meta.model_sha256)
    files[META_HEADER] = model_meta_header(meta)
    return files


def write_files(files: dict[str, str], folder: Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        (folder / name).write_text(text)
        written.append(folder / name)
    return written
