/*
 * The C consumer test of z4ai (run by tests/c_api.rs and, under valgrind,
 * by .ci/c_api_valgrind.sh). It includes the checked-in header, links the
 * library, and checks:
 *   - round trips of every dtype at every effort (whole and ranged decode);
 *   - error codes for NULL pointers, negative sizes, short buffers,
 *     overlapping buffers, bad params, out-of-range requests;
 *   - that every single-byte corruption and every truncation of a frame is
 *     reported as a negative frame error, never success;
 *   - z4ai_error_name / z4ai_dtype_name for every code, known or not;
 *   - delta frames against a reference, and the wrong reference refused;
 *   - concurrent use from several threads sharing one params object.
 * Exit status 0 when every check passed.
 */
#include "z4ai.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* xorshift64*, the same generator the Rust tests use. */
static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Approximately N(0, std): a sum of six uniforms. */
static double gauss(uint64_t *s, double std) {
    double sum = 0;
    for (int i = 0; i < 6; i++) sum += (double)(rng_next(s) >> 11) / 9007199254740992.0;
    return (sum - 3.0) * std * 1.4142135623730951;
}

/* `n` bytes of weight-like data of `dtype`; a trailing partial element is
 * filled with random bytes. */
static void fill(int dtype, uint8_t *buf, size_t n, uint64_t seed) {
    uint64_t s = seed | 1;
    size_t w = (size_t)z4ai_dtype_width(dtype);
    size_t i = 0;
    for (; i + w <= n; i += w) {
        double x = gauss(&s, 0.02);
        float f = (float)x;
        uint32_t b32;
        memcpy(&b32, &f, 4);
        switch (dtype) {
        case Z4AI_DTYPE_BF16: {
            uint16_t h = (uint16_t)(b32 >> 16);
            memcpy(buf + i, &h, 2);
            break;
        }
        case Z4AI_DTYPE_F16: {
            int e = (int)((b32 >> 23) & 0xFF) - 127 + 15;
            uint16_t h = (uint16_t)((b32 >> 16) & 0x8000);
            if (e > 0 && e < 31) h |= (uint16_t)((e << 10) | ((b32 >> 13) & 0x3FF));
            memcpy(buf + i, &h, 2);
            break;
        }
        case Z4AI_DTYPE_F32:
            memcpy(buf + i, &b32, 4);
            break;
        case Z4AI_DTYPE_F64:
            memcpy(buf + i, &x, 8);
            break;
        case Z4AI_DTYPE_I16: {
            int16_t v = (int16_t)(x * 30000.0);
            memcpy(buf + i, &v, 2);
            break;
        }
        case Z4AI_DTYPE_I32: {
            int32_t v = (int32_t)(x * 1e8);
            memcpy(buf + i, &v, 4);
            break;
        }
        case Z4AI_DTYPE_I64: {
            int64_t v = (int64_t)(x * 1e15);
            memcpy(buf + i, &v, 8);
            break;
        }
        case Z4AI_DTYPE_BYTES:
            buf[i] = (uint8_t)rng_next(&s);
            break;
        default: /* 8-bit types */
            buf[i] = (uint8_t)(int8_t)(x * 3000.0);
            break;
        }
    }
    for (; i < n; i++) buf[i] = (uint8_t)rng_next(&s);
}

static z4ai_params *make_params(int dtype, int effort, int64_t threads, int64_t chunk) {
    z4ai_params *p = z4ai_params_new();
    CHECK(p != NULL);
    if (!p) exit(2);
    CHECK_EQ(z4ai_params_set_dtype(p, dtype), 0);
    CHECK_EQ(z4ai_params_set_effort(p, effort), 0);
    CHECK_EQ(z4ai_params_set_threads(p, threads), 0);
    CHECK_EQ(z4ai_params_set_chunk_size(p, chunk), 0);
    return p;
}

/* Compresses `src`, returning a malloc'd frame and its size in *len. */
static uint8_t *compress_all(const uint8_t *src, int64_t n, const z4ai_params *p, int64_t *len) {
    int64_t bound = z4ai_compress_bound(n, p);
    CHECK(bound >= n);
    uint8_t *frame = xmalloc((size_t)bound);
    *len = z4ai_compress(frame, bound, src, n, p);
    CHECK(*len > 0 && *len <= bound);
    if (*len < 0) {
        fprintf(stderr, "compress: %s\n", z4ai_error_name(*len));
        *len = 0;
    }
    return frame;
}

static void test_roundtrips(void) {
    const int64_t n = 100003; /* odd: exercises the partial-element tail */
    uint8_t *src = xmalloc((size_t)n), *out = xmalloc((size_t)n);
    for (int dtype = Z4AI_DTYPE_BYTES; dtype <= Z4AI_DTYPE_I64; dtype++) {
        fill(dtype, src, (size_t)n, 0x9E3779B97F4A7C15ULL + (uint64_t)dtype);
        for (int effort = Z4AI_EFFORT_FAST; effort <= Z4AI_EFFORT_MAX; effort++) {
            z4ai_params *p = make_params(dtype, effort, effort == Z4AI_EFFORT_DEFAULT ? 0 : 2, 16384);
            int64_t flen;
            uint8_t *frame = compress_all(src, n, p, &flen);
            CHECK_EQ(z4ai_decompressed_size(frame, flen), n);

            memset(out, 0xAA, (size_t)n);
            CHECK_EQ(z4ai_decompress(out, n, frame, flen, p), n);
            CHECK(memcmp(out, src, (size_t)n) == 0);

            /* NULL params: defaults (all cores). */
            memset(out, 0x55, (size_t)n);
            CHECK_EQ(z4ai_decompress(out, n, frame, flen, NULL), n);
            CHECK(memcmp(out, src, (size_t)n) == 0);

            /* A range that straddles chunk boundaries, and one at the end. */
            int64_t off = n / 3, len = n / 4;
            memset(out, 0, (size_t)n);
            CHECK_EQ(z4ai_decompress_range(out, len, frame, flen, off, len, p), len);
            CHECK(memcmp(out, src + off, (size_t)len) == 0);
            CHECK_EQ(z4ai_decompress_range(out, n, frame, flen, n - 7, 7, p), 7);
            CHECK(memcmp(out, src + n - 7, 7) == 0);

            if (failures) fprintf(stderr, "  (dtype %s, effort %d)\n", z4ai_dtype_name(dtype), effort);
            z4ai_params_free(p);
            free(frame);
        }
    }
    /* Empty input, NULL buffers allowed with size 0. */
    uint8_t frame[1 << 10];
    int64_t bound = z4ai_compress_bound(0, NULL);
    CHECK(bound > 0);
    uint8_t *big = xmalloc((size_t)bound);
    int64_t el = z4ai_compress(big, bound, NULL, 0, NULL);
    CHECK(el > 0 && el <= (int64_t)sizeof frame);
    CHECK_EQ(z4ai_decompressed_size(big, el), 0);
    CHECK_EQ(z4ai_decompress(NULL, 0, big, el, NULL), 0);
    free(big);
    free(src);
    free(out);
}

static void test_argument_errors(void) {
    const int64_t n = 50000;
    uint8_t *src = xmalloc((size_t)n), *out = xmalloc((size_t)n);
    fill(Z4AI_DTYPE_BF16, src, (size_t)n, 7);
    z4ai_params *p = make_params(Z4AI_DTYPE_BF16, Z4AI_EFFORT_DEFAULT, 1, 4096);
    int64_t flen;
    uint8_t *frame = compress_all(src, n, p, &flen);
    int64_t bound = z4ai_compress_bound(n, p);
    uint8_t *dst = xmalloc((size_t)bound);

    /* NULL pointers with non-zero sizes. */
    CHECK_EQ(z4ai_compress(dst, bound, NULL, n, p), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_compress(NULL, bound, src, n, p), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_decompressed_size(NULL, flen), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_decompress(out, n, NULL, flen, p), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_decompress(NULL, n, frame, flen, p), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_decompress_range(NULL, 10, frame, flen, 0, 10, p), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_decompress_range(out, 10, NULL, flen, 0, 10, p), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_params_set_dtype(NULL, Z4AI_DTYPE_BF16), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_params_set_effort(NULL, Z4AI_EFFORT_MAX), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_params_set_threads(NULL, 1), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_params_set_chunk_size(NULL, 1 << 20), Z4AI_ERROR_NULL_POINTER);
    z4ai_params_free(NULL);

    /* Negative sizes and bad option values. */
    CHECK_EQ(z4ai_compress_bound(-1, p), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_compress(dst, -1, src, n, p), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_compress(dst, bound, src, -1, p), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_decompressed_size(frame, -1), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_decompress(out, -1, frame, flen, p), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_decompress_range(out, n, frame, flen, -1, 1, p), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_decompress_range(out, n, frame, flen, 0, -1, p), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_params_set_dtype(p, -1), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_params_set_dtype(p, Z4AI_DTYPE_I64 + 1), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_params_set_effort(p, 3), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_params_set_effort(p, -1), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_params_set_threads(p, -1), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_params_set_chunk_size(p, 0), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_params_set_chunk_size(p, 4095), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_params_set_chunk_size(p, ((int64_t)64 << 20) + 1), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_params_set_chunk_size(p, -4096), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_dtype_width(99), Z4AI_ERROR_INVALID_ARGUMENT);
    /* ...which left the params unchanged: the frame is still identical. */
    int64_t again = z4ai_compress(dst, bound, src, n, p);
    CHECK_EQ(again, flen);
    CHECK(again == flen && memcmp(dst, frame, (size_t)flen) == 0);

    /* Overlapping source and destination. */
    memcpy(dst, src, (size_t)n);
    CHECK_EQ(z4ai_compress(dst + 10, bound - 10, dst, n, p), Z4AI_ERROR_INVALID_ARGUMENT);
    memcpy(dst, frame, (size_t)flen);
    CHECK_EQ(z4ai_decompress(dst, bound, dst, flen, p), Z4AI_ERROR_INVALID_ARGUMENT);

    /* Short destinations. */
    CHECK_EQ(z4ai_compress(dst, 16, src, n, p), Z4AI_ERROR_DST_TOO_SMALL);
    CHECK_EQ(z4ai_compress(dst, flen - 1, src, n, p), Z4AI_ERROR_DST_TOO_SMALL);
    CHECK_EQ(z4ai_compress(dst, flen, src, n, p), flen);
    CHECK_EQ(z4ai_decompress(out, n - 1, frame, flen, p), Z4AI_ERROR_DST_TOO_SMALL);
    CHECK_EQ(z4ai_decompress(out, 0, frame, flen, p), Z4AI_ERROR_DST_TOO_SMALL);
    CHECK_EQ(z4ai_decompress_range(out, 99, frame, flen, 0, 100, p), Z4AI_ERROR_DST_TOO_SMALL);

    /* Ranges outside the content. */
    CHECK_EQ(z4ai_decompress_range(out, n, frame, flen, n, 1, p), Z4AI_ERROR_OUT_OF_RANGE);
    CHECK_EQ(z4ai_decompress_range(out, n, frame, flen, 1, n, p), Z4AI_ERROR_OUT_OF_RANGE);
    CHECK_EQ(z4ai_decompress_range(out, n, frame, flen, INT64_MAX, 1, p), Z4AI_ERROR_OUT_OF_RANGE);
    CHECK_EQ(z4ai_decompress_range(out, n, frame, flen, n, 0, p), 0);

    z4ai_params_free(p);
    free(frame);
    free(dst);
    free(src);
    free(out);
}

static int is_frame_error(int64_t r) {
    return r <= Z4AI_ERROR_BAD_MAGIC && r >= Z4AI_ERROR_CHECKSUM_MISMATCH;
}

static void test_corruption(void) {
    const int64_t n = 9000;
    uint8_t *src = xmalloc((size_t)n), *out = xmalloc((size_t)n);
    fill(Z4AI_DTYPE_BF16, src, (size_t)n, 11);
    z4ai_params *p = make_params(Z4AI_DTYPE_BF16, Z4AI_EFFORT_DEFAULT, 1, 4096);
    int64_t flen;
    uint8_t *frame = compress_all(src, n, p, &flen);
    uint8_t *bad = xmalloc((size_t)flen);

    /* Not a frame at all. */
    memcpy(bad, frame, (size_t)flen);
    bad[0] ^= 0xFF;
    CHECK_EQ(z4ai_decompress(out, n, bad, flen, p), Z4AI_ERROR_BAD_MAGIC);
    CHECK_EQ(z4ai_decompressed_size(bad, flen), Z4AI_ERROR_BAD_MAGIC);
    CHECK_EQ(z4ai_decompress(out, n, "hello, world", 12, p), Z4AI_ERROR_BAD_MAGIC);
    CHECK_EQ(z4ai_decompressed_size(frame, 10), Z4AI_ERROR_TRUNCATED);

    /* Every truncation fails with a frame error. */
    int trunc_bad = 0;
    for (int64_t len = 0; len < flen; len++) {
        memcpy(bad, frame, (size_t)len);
        if (!is_frame_error(z4ai_decompress(out, n, bad, len, p))) trunc_bad++;
    }
    CHECK_EQ(trunc_bad, 0);

    /* Every single-bit corruption fails with a frame error (the structure
     * is rejected or a checksum does not match), or, where it hits a bit
     * no decoder reads (inside a zstd-coded plane, say), decodes to exactly
     * the original: checksums cover the decoded bytes, so nothing else can
     * come out. */
    int flip_bad = 0, flip_unread = 0;
    for (int64_t i = 0; i < flen; i++) {
        memcpy(bad, frame, (size_t)flen);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        int64_t r = z4ai_decompress(out, n, bad, flen, p);
        if (r == n && memcmp(out, src, (size_t)n) == 0) {
            flip_unread++;
        } else if (!is_frame_error(r)) {
            flip_bad++;
            fprintf(stderr, "flip at byte %lld of %lld gave %lld\n", (long long)i, (long long)flen,
                    (long long)r);
        }
        int64_t r2 = z4ai_decompress_range(out, 100, bad, flen, n / 2, 100, p);
        /* A range read may legitimately succeed when the corruption lies in
         * a chunk outside the range; it must never panic or misreport. */
        if (r2 >= 0) {
            CHECK_EQ(r2, 100);
            CHECK(memcmp(out, src + n / 2, 100) == 0);
        } else {
            CHECK(is_frame_error(r2));
        }
    }
    CHECK_EQ(flip_bad, 0);
    /* Almost every bit is read. */
    CHECK(flip_unread * 100 < flen);

    z4ai_params_free(p);
    free(bad);
    free(frame);
    free(src);
    free(out);
}

static void test_names(void) {
    const char *seen[14] = {0};
    for (int64_t code = -30; code <= 30; code++) {
        const char *s = z4ai_error_name(code);
        CHECK(s != NULL && s[0] != '\0');
        if (code >= -13 && code <= -1) seen[-code] = s;
    }
    for (int a = 1; a <= 13; a++)
        for (int b = a + 1; b <= 13; b++) CHECK(strcmp(seen[a], seen[b]) != 0);
    CHECK(strcmp(z4ai_error_name(INT64_MIN), z4ai_error_name(-1000)) == 0);
    CHECK(strcmp(z4ai_error_name(-14), seen[1]) != 0);
    CHECK(strcmp(z4ai_dtype_name(Z4AI_DTYPE_BF16), "bf16") == 0);
    CHECK(strcmp(z4ai_dtype_name(Z4AI_DTYPE_F32), "fp32") == 0);
    CHECK(strcmp(z4ai_dtype_name(42), "unknown") == 0);
    CHECK(z4ai_version() != NULL && z4ai_version()[0] != '\0');
    CHECK(z4ai_version_number() > 0);
    /* The enum values are the pinned ABI. */
    CHECK_EQ(Z4AI_ERROR_GENERIC, -1);
    CHECK_EQ(Z4AI_ERROR_DST_TOO_SMALL, -8);
    CHECK_EQ(Z4AI_ERROR_NULL_POINTER, -12);
    CHECK_EQ(Z4AI_ERROR_PANIC, -13);
}

static void test_delta(void) {
    const int64_t n = 60000;
    uint8_t *base = xmalloc((size_t)n), *tuned = xmalloc((size_t)n), *out = xmalloc((size_t)n);
    fill(Z4AI_DTYPE_BF16, base, (size_t)n, 21);
    memcpy(tuned, base, (size_t)n);
    for (int64_t i = 0; i < n; i += 7) tuned[i] ^= 1; /* a small update of every few weights */
    z4ai_params *p = make_params(Z4AI_DTYPE_BF16, Z4AI_EFFORT_DEFAULT, 1, 8192);
    int64_t bound = z4ai_compress_bound(n, p);
    uint8_t *frame = xmalloc((size_t)bound);
    int64_t fl = z4ai_compress_delta(frame, bound, tuned, n, base, n, p);
    CHECK(fl > 0 && fl <= bound);
    if (fl > 0) {
        CHECK_EQ(z4ai_decompressed_size(frame, fl), n);
        CHECK_EQ(z4ai_decompress_delta(out, n, frame, fl, base, n, p), n);
        CHECK(memcmp(out, tuned, (size_t)n) == 0);
        /* The wrong reference, or a truncated one, is refused. */
        CHECK_EQ(z4ai_decompress_delta(out, n, frame, fl, tuned, n, p), Z4AI_ERROR_REFERENCE_MISMATCH);
        CHECK_EQ(z4ai_decompress_delta(out, n, frame, fl, base, n - 1, p),
                 Z4AI_ERROR_REFERENCE_MISMATCH);
        /* A delta frame needs its reference. */
        CHECK_EQ(z4ai_decompress(out, n, frame, fl, p), Z4AI_ERROR_REFERENCE_REQUIRED);
        CHECK_EQ(z4ai_decompress_range(out, n, frame, fl, 0, 16, p), Z4AI_ERROR_REFERENCE_REQUIRED);
        CHECK_EQ(z4ai_decompress_delta(out, n, frame, fl, NULL, n, p), Z4AI_ERROR_NULL_POINTER);
        CHECK_EQ(z4ai_decompress_delta(out, n - 1, frame, fl, base, n, p), Z4AI_ERROR_DST_TOO_SMALL);
        CHECK_EQ(z4ai_decompress_delta(out, n, frame, fl, base, -1, p), Z4AI_ERROR_INVALID_ARGUMENT);
    }
    CHECK_EQ(z4ai_compress_delta(frame, bound, tuned, n, NULL, n, p), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_compress_delta(frame, 8, tuned, n, base, n, p), Z4AI_ERROR_DST_TOO_SMALL);
    CHECK_EQ(z4ai_compress_delta(base, n, tuned, n, base, n, p), Z4AI_ERROR_INVALID_ARGUMENT);
    /* Plain frames decode through the delta entry point too. */
    int64_t pl = z4ai_compress(frame, bound, tuned, n, p);
    CHECK(pl > 0);
    CHECK_EQ(z4ai_decompress_delta(out, n, frame, pl, base, n, p), n);
    CHECK(memcmp(out, tuned, (size_t)n) == 0);
    z4ai_params_free(p);
    free(frame);
    free(base);
    free(tuned);
    free(out);
}

struct job {
    const uint8_t *src;
    int64_t n;
    const z4ai_params *p;
    int ok;
};

static void *worker(void *arg) {
    struct job *j = arg;
    int64_t bound = z4ai_compress_bound(j->n, j->p);
    uint8_t *frame = malloc((size_t)bound), *out = malloc((size_t)j->n);
    j->ok = 0;
    if (frame && out) {
        j->ok = 1;
        for (int round = 0; round < 3; round++) {
            int64_t fl = z4ai_compress(frame, bound, j->src, j->n, j->p);
            j->ok &= fl > 0 && z4ai_decompress(out, j->n, frame, fl, j->p) == j->n &&
                     memcmp(out, j->src, (size_t)j->n) == 0;
        }
    }
    free(frame);
    free(out);
    return NULL;
}

static void test_threads(void) {
    enum { T = 4 };
    const int64_t n = 70000;
    uint8_t *src = xmalloc((size_t)n);
    fill(Z4AI_DTYPE_F32, src, (size_t)n, 5);
    /* One params object shared read-only by every thread. */
    z4ai_params *p = make_params(Z4AI_DTYPE_F32, Z4AI_EFFORT_FAST, 2, 8192);
    pthread_t th[T];
    struct job jobs[T];
    for (int i = 0; i < T; i++) {
        jobs[i] = (struct job){src, n, p, 0};
        CHECK_EQ(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].ok);
    }
    z4ai_params_free(p);
    free(src);
}

int main(void) {
    printf("z4ai %s (%u)\n", z4ai_version(), z4ai_version_number());
    test_names();
    test_argument_errors();
    test_corruption();
    test_threads();
    test_delta();
    test_roundtrips();
    if (failures) {
        fprintf(stderr, "roundtrip.c: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("roundtrip.c: all %d checks passed\n", checks);
    return 0;
}
