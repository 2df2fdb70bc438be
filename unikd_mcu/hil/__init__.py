"""Hardware in the loop: the serial protocol (protocol.py, the one source of truth shared with firmware/core),
the host client (client.py), firmware images built by their board's Makefile (images.py), the emulated board in
QEMU (qemu.py), opening a checked session on an emulated or real board (session.py), device-vs-host comparison and
reports (report.py) and the `unikd-mcu hil` command (cli.py). See docs/protocol.md."""
