"""Where the product looks for data: an explicit flag, else $UNIKD_DATA_DIR, else ./data."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "UNIKD_DATA_DIR"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path("data")
