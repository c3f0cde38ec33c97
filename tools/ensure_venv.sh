#!/usr/bin/env bash
# Usage: tools/ensure_venv.sh VENV PYTHON
#
# Make sure VENV is a usable virtual environment, creating it with PYTHON when it is not.
#
# "Usable" means its python runs pip, not merely that VENV/bin/python exists: an interrupted
# `python -m venv` (Ctrl-C during ensurepip) leaves a python without pip behind, and every later
# `make` would then fail with "No module named pip". Such a half-made environment, or one whose
# python no longer runs (the base interpreter was removed or upgraded), is recreated in place
# (`venv --clear`, which also works when VENV is a symlink to the real folder). A working one is
# left untouched. The Makefile touches its install stamp only after a complete install, so after
# recreation the install simply runs again.
set -eu -o pipefail

venv=${1:?usage: ensure_venv.sh VENV PYTHON}
python=${2:?usage: ensure_venv.sh VENV PYTHON}

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    exit 0
fi
if [ -e "$venv" ]; then
    echo "setup: $venv is incomplete (no working pip; an interrupted set-up?): recreating it"
fi
"$python" -m venv --clear "$venv"
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "setup: '$python -m venv' made an environment without pip in $venv" \
         "(on Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
fi
