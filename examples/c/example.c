/*
 * Minimal z4ai C example: compress a bf16 buffer, decompress it into a
 * caller-owned buffer, and check the round trip.
 *
 * Build (after `cargo build --release` at the repository root):
 *   cc -O2 -Iinclude examples/c/example.c target/release/libz4ai.a -lpthread -ldl -lm -o example
 * or, with pkg-config (scripts/gen-pc.sh):
 *   cc -O2 examples/c/example.c $(pkg-config --cflags --libs --static z4ai) -o example
 */
#include <z4ai.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    /* 1M bf16 weights (2 MiB): a smooth signal around zero. */
    const int64_t n = (int64_t)1 << 21;
    uint16_t *weights = malloc((size_t)n);
    if (!weights) return 1;
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int64_t i = 0; i < n / 2; i++) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        float f = (float)((int64_t)((s * 0x2545F4914F6CDD1DULL) >> 40) - (1 << 23)) * 2.4e-9f;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        weights[i] = (uint16_t)(bits >> 16);
    }

    z4ai_params *params = z4ai_params_new();
    if (!params || z4ai_params_set_dtype(params, Z4AI_DTYPE_BF16) < 0) return 1;

    /* Compress into a buffer of z4ai_compress_bound() bytes. */
    int64_t bound = z4ai_compress_bound(n, params);
    void *frame = malloc((size_t)bound);
    int64_t frame_size = z4ai_compress(frame, bound, weights, n, params);
    if (frame_size < 0) {
        fprintf(stderr, "compress: %s\n", z4ai_error_name(frame_size));
        return 1;
    }

    /* Ask the frame how big its content is, then decode straight into it. */
    int64_t size = z4ai_decompressed_size(frame, frame_size);
    if (size < 0) {
        fprintf(stderr, "size: %s\n", z4ai_error_name(size));
        return 1;
    }
    void *out = malloc((size_t)size);
    int64_t got = z4ai_decompress(out, size, frame, frame_size, params);
    if (got < 0) {
        fprintf(stderr, "decompress: %s\n", z4ai_error_name(got));
        return 1;
    }

    int ok = got == n && memcmp(out, weights, (size_t)n) == 0;
    printf("z4ai %s: %lld -> %lld bytes (ratio %.3f), round trip %s\n", z4ai_version(),
           (long long)n, (long long)frame_size, (double)n / (double)frame_size,
           ok ? "ok" : "FAILED");
    z4ai_params_free(params);
    free(out);
    free(frame);
    free(weights);
    return ok ? 0 : 1;
}
