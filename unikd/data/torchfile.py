"""Reading `.pt` data files without running code from them.

`torch.load(weights_only=True)` only rebuilds tensors and plain containers. AdaTime's files hold numpy arrays,
so the numpy array constructors (data only, no code) are allowed too, under both the numpy 2 name and the
`numpy.core` name that files pickled with numpy 1.x refer to. Anything else in a file is refused, not run.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from unikd.data.base import DataError


def _numpy_globals() -> list:
    reconstruct = np._core.multiarray._reconstruct
    dtype_classes = {type(np.dtype(c)) for c in np.typecodes["All"] if c not in "MmO"}  # no object arrays
    dtype_classes |= {type(np.dtype("datetime64[s]")), type(np.dtype("timedelta64[s]"))}
    return [
        reconstruct,
        (reconstruct, "numpy.core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        *sorted(dtype_classes, key=lambda t: t.__name__),
    ]


def load_pt(path: Path):
    """The object stored in `path`, loaded with weights_only=True (tensors, numpy arrays, dicts, lists)."""
    import torch  # imported here so listing data sets does not pay for torch

    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        try:
            allowed = {g[1] if isinstance(g, tuple) else f"{g.__module__}.{g.__qualname__}" for g in _numpy_globals()}
            found = ", ".join(g for g in torch.serialization.get_unsafe_globals_in_checkpoint(path) if g not in allowed)
        except Exception:  # the file may be too broken to list; the first error still explains it
            found = str(e).strip().splitlines()[-1][:300]
        raise DataError(
            f"{path}: refused to load; it contains Python objects other than tensors and numpy arrays ({found}), "
            f"and loading those would run code from the file. Expected a dict of tensors or numpy arrays "
            f"(keys 'samples', 'labels'). If you trust the file, re-save it with plain tensors, e.g. "
            f"torch.save({{'samples': torch.as_tensor(x), 'labels': torch.as_tensor(y)}}, path), or convert it to "
            f"the generic .npz format (docs/data.md)."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable torch file ({type(e).__name__}: {str(e)[:200]})") from None
