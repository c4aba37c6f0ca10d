#!/usr/bin/env bash
# Create .venv (once) and install ganforge into it. Usage: scripts/setup.sh [--dev]
#
# torch: if the environment has no torch yet, the CPU build is installed first
# (pip install torch==$GANFORGE_TORCH, default 2.13.0): an unpinned torch from PyPI is a CUDA
# build of several GB. GPU users install their own torch build into .venv before running this
# script (see README.md); an existing torch is never replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
    "$VPY" -m pip install -q "torch==${GANFORGE_TORCH:-2.13.0}"
fi
extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"
"$VPY" -m pip install -q -e ".${extra}"
