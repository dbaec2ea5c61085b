#!/usr/bin/env bash
# Measures the C API's decompression against Rust's decompress_into on the
# same frame (256 MiB of synthetic N(0, 0.02) bf16), same thread count,
# median of RUNS runs each, alternating the two sides ROUNDS times.
#
# Usage: scripts/capi_bench.sh [THREADS...]     (default: 1 and all cores)
# Env:   RUNS (default 7), ROUNDS (default 2), MIB (default 256)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
runs="${RUNS:-7}"; rounds="${ROUNDS:-2}"; mib="${MIB:-256}"
threads=("$@"); [ ${#threads[@]} -gt 0 ] || threads=(1 0)

cargo build --release --lib --example capi_bench --quiet
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"${CC:-cc}" -std=c99 -O2 -Wall -Wextra -Iinclude examples/c/bench_decompress.c \
    "$target/release/libz4ai.a" -lpthread -ldl -lm -o "$work/bench_decompress"

for t in "${threads[@]}"; do
    for _ in $(seq "$rounds"); do
        "$target/release/examples/capi_bench" "$work/frame.z4" "$t" "$runs" "$mib"
        "$work/bench_decompress" "$work/frame.z4" "$t" "$runs"
    done
done
