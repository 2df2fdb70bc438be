"""unikd-mcu: cross-domain distillation of tiny time-series models for microcontrollers."""

__version__ = "0.1.0"
