#!/usr/bin/env bash
# One command for the side-by-side comparison: creates/uses the venv at
# REPO/.venv-bench (git-ignored) with pinned peer versions, then runs run.py.
#   benches/compare/run.sh --quick
#   benches/compare/run.sh --real /work/real-weights
# Environment: VENV (default REPO/.venv-bench), PYTHON (default python3.11 or python3),
#              Z4AI_BIN, Z4AI_SCENARIOS, Z4AI_REAL (see run.py --help).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${VENV:-$REPO/.venv-bench}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
# Versions verified together on 2026-11-26 (Python 3.11). zipnn pulls torch (~5 GB).
PINS=(numpy==2.4.6 zstandard==0.25.0 blosc2==4.14.1 safetensors==0.8.0 zipnn==0.5.4 lmzip==1.3.0)
STAMP="$VENV/.z4-bench-pins"
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "[run.sh] creating venv $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "${PINS[*]}" ]]; then
  echo "[run.sh] installing ${PINS[*]}" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PINS[@]}"
  echo "${PINS[*]}" > "$STAMP"
fi
if [[ ! -x "${Z4AI_BIN:-$REPO/target/release/z4ai}" ]]; then
  echo "[run.sh] note: ${Z4AI_BIN:-$REPO/target/release/z4ai} missing; run 'cargo build --release' in $REPO to include z4ai" >&2
fi
exec "$VENV/bin/python" "$HERE/run.py" "$@"
