"""Data sets behind a registry. A loader turns files under the data directory into one `WindowSet`.

Registered loaders: see `DATASETS.names()`; `load_dataset(name, data_dir)` is the one entry point.
"""

from unikd.registry import Registry

DATASETS: Registry = Registry("data set")

from unikd.data.base import DataError, WindowSet  # noqa: E402
from unikd.data.paths import resolve_data_dir  # noqa: E402
from unikd.data import ucihar  # noqa: E402,F401  (registers the built-in data sets)


def load_dataset(name: str, data_dir=None) -> WindowSet:
    """Load data set `name` from `data_dir` (default: $UNIKD_DATA_DIR, see `resolve_data_dir`)."""
    return DATASETS.get(name).load(resolve_data_dir(data_dir))


__all__ = ["DATASETS", "DataError", "WindowSet", "load_dataset", "resolve_data_dir"]
