#!/usr/bin/env bash
# Builds the z4ai Python package into a virtual environment and runs its
# test suite. Exits non-zero on any failure.
#
#   bash python/ci.sh            # from anywhere
#
# Environment:
#   Z4AI_PY_VENV      venv to use / create (default: python/.venv, git-ignored)
#   PYTHON            interpreter that creates the venv (default: python3)
#   CARGO_TARGET_DIR  cargo target dir (default: <repo>/target-py)
#   PYTEST_ARGS       extra pytest arguments
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
VENV=${Z4AI_PY_VENV:-$HERE/.venv}
PY=${PYTHON:-python3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-py}

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating venv $VENV"
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
# The maturin build hook runs `maturin` from PATH.
export PATH="$VENV/bin:$PATH"

echo "== installing build and test requirements"
"$VPY" -m pip install -q --disable-pip-version-check "maturin>=1.5,<2" "numpy>=1.21" "pytest>=7" ml_dtypes

echo "== building and installing z4ai from $HERE"
# No build isolation: maturin is already in the venv, so no download per run.
"$VPY" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps \
    --force-reinstall "$HERE"

echo "== pytest"
# Run from the tests folder so the installed package is imported, not the
# source folder python/z4ai (which lacks the native module).
cd "$HERE/tests"
# shellcheck disable=SC2086
"$VPY" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} .
