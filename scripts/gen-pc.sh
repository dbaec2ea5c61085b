#!/usr/bin/env bash
# Writes a pkg-config file for the z4ai C library.
#
#   scripts/gen-pc.sh [PROFILE_DIR]
#       PROFILE_DIR defaults to ${CARGO_TARGET_DIR:-target}/release. Writes
#       PROFILE_DIR/z4ai.pc describing the build tree: libdir is PROFILE_DIR
#       (libz4ai.a, libz4ai.so), includedir is this repository's include/.
#       Use it with:  PKG_CONFIG_PATH=PROFILE_DIR pkg-config --cflags --libs z4ai
#
#   PREFIX=/usr/local scripts/gen-pc.sh [PROFILE_DIR]
#       Describes an installed layout instead (PREFIX/lib, PREFIX/include);
#       copy libz4ai.a/.so to PREFIX/lib, include/z4ai.h to PREFIX/include
#       and the .pc file to PREFIX/lib/pkgconfig yourself.
#
# Libs.private lists the system libraries a Rust static library needs, as
# `rustc --print native-static-libs` reports them for this toolchain.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
profile_dir="${1:-${CARGO_TARGET_DIR:-$repo/target}/release}"
mkdir -p "$profile_dir"
profile_dir="$(cd "$profile_dir" && pwd)"

version="$(cd "$repo" && cargo pkgid -p z4ai 2>/dev/null | sed 's/.*[#@]//')"
[ -n "$version" ] || { echo "gen-pc: cannot read the package version" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/empty.rs"
native="$(rustc --crate-type staticlib --crate-name empty --print native-static-libs \
    -o "$tmp/libempty.a" "$tmp/empty.rs" 2>&1 | sed -n 's/.*native-static-libs: //p' | tail -n 1)"

if [ -n "${PREFIX:-}" ]; then
    prefix="$PREFIX"; libdir='${prefix}/lib'; includedir='${prefix}/include'
else
    prefix="$repo"; libdir="$profile_dir"; includedir='${prefix}/include'
fi

cat > "$profile_dir/z4ai.pc" <<PC
prefix=$prefix
libdir=$libdir
includedir=$includedir

Name: z4ai
Description: Lossless codec engine for neural-network weights (C API)
Version: $version
URL: https://github.com/z4ai/z4ai
Cflags: -I\${includedir}
Libs: -L\${libdir} -lz4ai
Libs.private: $native
PC
echo "$profile_dir/z4ai.pc"
