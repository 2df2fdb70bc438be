"""unikd-mcu, the tool: the command line and the host side of hardware in the loop.

The layers point down, and tests/test_layers.py holds them there:

    unikd_mcu/   the command line (cli.py) and hardware in the loop (hil/): uses both layers below
    codegen/     deployment: run directory -> int8 model -> C -> firmware projects; may use unikd/
    unikd/       training: data, models, methods, trainer, sweeps, the run directory; uses neither of the above

Training and deployment meet at the run directory (unikd/rundir.py) and nowhere else.
"""
