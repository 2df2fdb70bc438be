"""Deployment: torch student -> Keras mirror -> int8 TFLite, the golden TFLM runtime on the host, C arrays and
metadata, board profiles and the Jinja-rendered firmware projects.

TensorFlow is imported only inside the functions that convert (codegen.keras_mirror, codegen.convert), so the
CLI and the training side never pay for it.
"""

from pathlib import Path

#: The firmware/ folder (portable core, board glue, templates) that generated projects are made from.
FIRMWARE_DIR = Path(__file__).resolve().parent.parent / "firmware"
