#!/usr/bin/env bash
# NEON kernels under qemu: installs the aarch64 cross toolchain and the Rust
# target (idempotently; fails loudly when either cannot be installed), then
# runs the z4ai-simd tests for aarch64-unknown-linux-gnu under qemu-user.
#
# Linker and runner are passed through the environment, so no .cargo/config
# is committed. Set CARGO_TARGET_DIR to keep its build apart if you like.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu

need_apt=0
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need_apt=1
command -v qemu-aarch64 >/dev/null 2>&1 || need_apt=1
[ -d "$sysroot/lib" ] || need_apt=1
if [ "$need_apt" = 1 ]; then
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  echo "neon.sh: installing gcc-aarch64-linux-gnu qemu-user libc6-dev-arm64-cross"
  $sudo_cmd apt-get update
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y \
    gcc-aarch64-linux-gnu qemu-user libc6-dev-arm64-cross
fi
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
  command -v "$tool" >/dev/null 2>&1 || { echo "neon.sh: $tool is missing after install" >&2; exit 1; }
done

if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi
rustup target list --installed | grep -qx "$target" || {
  echo "neon.sh: Rust target $target could not be installed" >&2
  exit 1
}

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot"

cargo test -p z4ai-simd --release --target "$target" "$@"
