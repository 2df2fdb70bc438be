#!/usr/bin/env bash
# One-time setup on a fresh Debian 12 / Python 3.11 machine: the cross compiler and QEMU for the emulated board,
# then the Python packages (exact pins). Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v arm-none-eabi-gcc >/dev/null || need_apt+=(gcc-arm-none-eabi)
[ -e /usr/lib/arm-none-eabi/newlib/libc.a ] || need_apt+=(libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# torch first and exactly: a bare `torch` requirement would pull a CUDA build from the registry
python3 -m pip install -q --disable-pip-version-check torch==2.13.0
python3 -m pip install -q --disable-pip-version-check -e ".[deploy,test]"
echo "setup: done ($(python3 -c 'import torch, tensorflow as tf; print("torch", torch.__version__, "| tensorflow", tf.__version__)' 2>/dev/null))"
