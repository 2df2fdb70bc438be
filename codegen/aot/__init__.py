"""aot runtime: interpreter-free C99 generated from an int8 .tflite model, bit-exact with TFLM.

`generate(tflite_bytes, out_dir)` writes the model source and header plus the fixed kernel sources and returns
a report (operators, MACs, RAM plan against the naive sum, weight bytes, file names). Importing this package
loads neither TensorFlow nor tflite-micro; the flatbuffer schema is read only when a model is generated."""
from .generator import SUPPORTED_OPS, UnsupportedModelError, UnsupportedOpError, generate

__all__ = ["SUPPORTED_OPS", "UnsupportedModelError", "UnsupportedOpError", "generate"]
