"""Registered data sets beyond UCI-HAR: one module each. Every module in this package is imported by
`unikd.data`, so adding a data set is adding one file here (a class registered with `DATASETS`)."""

import importlib
import pkgutil

for _m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_m.name}")
