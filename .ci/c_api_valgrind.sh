#!/usr/bin/env bash
# Builds the C consumer tests (tests/c/roundtrip.c, and tests/c/archive.c
# on an archive the CLI makes of the model it writes) against the release
# static library and runs them under valgrind: zero errors and zero leaks
# (definite or possible) are required.
#
# Usage: .ci/c_api_valgrind.sh            (from anywhere in the repository)
# Env:   CARGO_TARGET_DIR (default: target), CC (default: cc),
#        Z4AI_SIMD (default: avx2; valgrind cannot run AVX-512 code, and the
#        variable only ever lowers the level the CPU offers).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "c_api_valgrind: valgrind is not installed" >&2; exit 1; }

cargo build --release --lib --bin z4ai --quiet
target="${CARGO_TARGET_DIR:-target}"
lib="$target/release/libz4ai.a"
[ -f "$lib" ] || { echo "c_api_valgrind: $lib not found" >&2; exit 1; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"${CC:-cc}" -std=c99 -O1 -g -Wall -Wextra -Werror -pedantic -Iinclude \
    tests/c/roundtrip.c "$lib" -lpthread -ldl -lm -o "$out/roundtrip"
"${CC:-cc}" -std=c99 -O1 -g -Wall -Wextra -Werror -pedantic -Iinclude \
    tests/c/archive.c "$lib" -lpthread -ldl -lm -o "$out/archive"
"$out/archive" write "$out/model.safetensors"
"$target/release/z4ai" compress --chunk-size 4096 -o "$out/model.safetensors.z4" "$out/model.safetensors"

# Three narrow suppressions, all for objects that live until the process
# exits by design and are created once, not per call:
#  - glibc's per-thread TLS vector (allocated by pthread_create, kept in
#    glibc's stack cache after a join; a well-known valgrind false positive);
#  - the engine's map of per-thread-count rayon pools (hashbrown keeps only an
#    interior pointer to its table, which memcheck reports as "possibly lost")
#  - and the Arc<ThreadPool> values stored in that map.
# Anything else that leaks, definitely or possibly, fails the run.
cat > "$out/z4ai.supp" <<'SUPP'
{
   glibc-thread-tls-vector
   Memcheck:Leak
   match-leak-kinds: possible
   fun:calloc
   ...
   fun:_dl_allocate_tls
   ...
   fun:pthread_create*
}
{
   z4ai-pool-map-table
   Memcheck:Leak
   match-leak-kinds: possible
   fun:malloc
   ...
   fun:*RawTable*reserve_rehash*
   ...
   fun:with_pool<*
}
{
   z4ai-pool-map-arc
   Memcheck:Leak
   match-leak-kinds: possible
   fun:malloc
   ...
   fun:new<rayon_core::thread_pool::ThreadPool>
   ...
   fun:with_pool<*
}
SUPP

export Z4AI_SIMD="${Z4AI_SIMD:-avx2}"
echo "c_api_valgrind: running tests/c/roundtrip.c under valgrind (Z4AI_SIMD=$Z4AI_SIMD)"
memcheck() {
    valgrind --quiet --leak-check=full --show-leak-kinds=definite,possible \
        --errors-for-leak-kinds=definite,possible --error-exitcode=1 \
        --suppressions="$out/z4ai.supp" "$@"
}
memcheck "$out/roundtrip"
echo "c_api_valgrind: running tests/c/archive.c under valgrind"
memcheck "$out/archive" check "$out/model.safetensors.z4"
echo "c_api_valgrind: ok"
