/*
 * The C loader test of z4ai's archive API (run by tests/c_api.rs and, under
 * valgrind, by .ci/c_api_valgrind.sh).
 *
 *   archive write FILE.safetensors   writes a small safetensors model
 *   archive check FILE.z4            checks the archive made from it
 *
 * `check` opens the archive from its path and from memory and, for each
 * handle: lists the tensors (name, dtype, shape, sizes) against what
 * `write` wrote, decodes every tensor into a caller buffer and compares
 * bytes, checks the error codes (NULL pointers, unknown names and numbers,
 * short buffers, negative sizes, bytes that are not an archive), checks
 * that flipped bytes anywhere in the archive give an error or the exact
 * tensor (never wrong bytes), and decodes from several threads sharing one
 * handle. Exit status 0 when every check passed.
 */
#include "z4ai.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The model: name, safetensors dtype, element width, shape. "lm_head"
 * repeats "embed" byte for byte (a tied embedding, stored once). */
struct spec {
    const char *name;
    const char *dtype;
    int width;
    int ndim;
    int64_t shape[2];
};

static const struct spec MODEL[] = {
    {"embed", "BF16", 2, 2, {64, 48}},
    {"layer.0.w", "F32", 4, 2, {33, 17}},
    {"layer.0.b", "F16", 2, 1, {17, 0}},
    {"lm_head", "BF16", 2, 2, {64, 48}},
    {"scale", "F32", 4, 0, {0, 0}},
    {"empty", "F32", 4, 2, {0, 8}},
    {"ids", "I64", 8, 1, {5, 0}},
    {"mask", "BOOL", 1, 1, {7, 0}},
};
#define N_TENSORS ((int)(sizeof MODEL / sizeof MODEL[0]))

static size_t tensor_size(const struct spec *s) {
    size_t n = (size_t)s->width;
    for (int d = 0; d < s->ndim; d++) n *= (size_t)s->shape[d];
    return n;
}

/* Deterministic weight-like bytes of tensor `t` (tied tensors share seed). */
static void tensor_bytes(int t, uint8_t *out) {
    const struct spec *s = &MODEL[t];
    uint64_t x = 0x9E3779B97F4A7C15ULL * (uint64_t)(strcmp(s->name, "lm_head") ? t + 1 : 1);
    size_t n = tensor_size(s);
    for (size_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint8_t b = (uint8_t)((x * 0x2545F4914F6CDD1DULL) >> 56);
        /* Narrow exponent bytes, like trained weights. */
        if (s->width >= 2 && i % (size_t)s->width == (size_t)s->width - 1) b = 0x3C | (b & 0x81);
        if (!strcmp(s->dtype, "BOOL")) b &= 1;
        out[i] = b;
    }
}

static int write_model(const char *path) {
    char json[2048];
    size_t off = 0, pos = 0;
    pos += (size_t)snprintf(json + pos, sizeof json - pos, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int t = 0; t < N_TENSORS; t++) {
        const struct spec *s = &MODEL[t];
        size_t n = tensor_size(s);
        pos += (size_t)snprintf(json + pos, sizeof json - pos, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                s->name, s->dtype);
        for (int d = 0; d < s->ndim; d++)
            pos += (size_t)snprintf(json + pos, sizeof json - pos, "%s%lld", d ? "," : "",
                                    (long long)s->shape[d]);
        pos += (size_t)snprintf(json + pos, sizeof json - pos, "],\"data_offsets\":[%zu,%zu]}", off,
                                off + n);
        off += n;
    }
    pos += (size_t)snprintf(json + pos, sizeof json - pos, "}");
    while (pos % 8) json[pos++] = ' '; /* header padding, as writers do */
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)pos >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(json, 1, pos, f);
    for (int t = 0; t < N_TENSORS; t++) {
        size_t n = tensor_size(&MODEL[t]);
        uint8_t *b = xmalloc(n);
        tensor_bytes(t, b);
        fwrite(b, 1, n, f);
        free(b);
    }
    return fclose(f) != 0;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = xmalloc((size_t)n);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* Decodes tensor `i` of `a`; 1 when it matches MODEL[t], 0 when it was
 * refused with a negative code, -1 when it "succeeded" with wrong bytes. */
static int decode_one(const z4ai_archive *a, int64_t i, int t) {
    size_t n = tensor_size(&MODEL[t]);
    uint8_t *want = xmalloc(n), *got = xmalloc(n);
    tensor_bytes(t, want);
    int64_t r = z4ai_archive_tensor_into(a, i, got, (int64_t)n);
    int res = r < 0 ? 0 : (r == (int64_t)n && memcmp(got, want, n) == 0) ? 1 : -1;
    free(want);
    free(got);
    return res;
}

/* Listing, decoding and error codes of one open handle. */
static void check_handle(const z4ai_archive *a) {
    CHECK_EQ(z4ai_archive_tensor_count(a), N_TENSORS);
    for (int t = 0; t < N_TENSORS; t++) {
        const struct spec *s = &MODEL[t];
        int64_t i = z4ai_archive_find_tensor(a, s->name);
        CHECK(i >= 0);
        if (i < 0) continue;
        z4ai_tensor_info info;
        CHECK_EQ(z4ai_archive_tensor_info(a, i, &info), 0);
        CHECK(strcmp(info.name, s->name) == 0);
        CHECK(strcmp(info.dtype, s->dtype) == 0);
        CHECK(strcmp(info.file, "model.safetensors") == 0);
        CHECK_EQ(info.ndim, s->ndim);
        for (int d = 0; d < s->ndim && d < info.ndim; d++) CHECK_EQ(info.shape[d], s->shape[d]);
        CHECK_EQ(info.raw_size, (int64_t)tensor_size(s));
        CHECK(info.compressed_size >= 0);
        CHECK_EQ(decode_one(a, i, t), 1);
        if (info.raw_size > 0) {
            uint8_t *short_buf = xmalloc((size_t)info.raw_size);
            CHECK_EQ(z4ai_archive_tensor_into(a, i, short_buf, info.raw_size - 1),
                     Z4AI_ERROR_DST_TOO_SMALL);
            CHECK_EQ(z4ai_archive_tensor_into(a, i, NULL, info.raw_size), Z4AI_ERROR_NULL_POINTER);
            free(short_buf);
        } else {
            CHECK_EQ(z4ai_archive_tensor_into(a, i, NULL, 0), 0);
        }
    }
    z4ai_tensor_info info;
    CHECK_EQ(z4ai_archive_find_tensor(a, "no.such.tensor"), Z4AI_ERROR_NOT_FOUND);
    CHECK_EQ(z4ai_archive_find_tensor(a, NULL), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_archive_tensor_info(a, -1, &info), Z4AI_ERROR_NOT_FOUND);
    CHECK_EQ(z4ai_archive_tensor_info(a, N_TENSORS, &info), Z4AI_ERROR_NOT_FOUND);
    CHECK_EQ(z4ai_archive_tensor_info(a, 0, NULL), Z4AI_ERROR_NULL_POINTER);
    uint8_t one[1];
    CHECK_EQ(z4ai_archive_tensor_into(a, N_TENSORS, one, 1), Z4AI_ERROR_NOT_FOUND);
    CHECK_EQ(z4ai_archive_tensor_into(a, 0, one, -1), Z4AI_ERROR_INVALID_ARGUMENT);
}

static void test_null_and_bad_inputs(void) {
    z4ai_archive *a = (z4ai_archive *)&checks; /* must be overwritten with NULL */
    CHECK_EQ(z4ai_archive_open(NULL, NULL, &a), Z4AI_ERROR_NULL_POINTER);
    CHECK(a == NULL);
    CHECK_EQ(z4ai_archive_open("x", NULL, NULL), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_archive_open("/nonexistent/z4ai/archive.z4", NULL, &a), Z4AI_ERROR_IO);
    CHECK(a == NULL);
    CHECK_EQ(z4ai_archive_open_memory("hello", 5, NULL, &a), Z4AI_ERROR_MALFORMED);
    CHECK(a == NULL);
    CHECK_EQ(z4ai_archive_open_memory(NULL, 0, NULL, &a), Z4AI_ERROR_MALFORMED);
    CHECK_EQ(z4ai_archive_open_memory(NULL, 64, NULL, &a), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_archive_open_memory("x", -1, NULL, &a), Z4AI_ERROR_INVALID_ARGUMENT);
    CHECK_EQ(z4ai_archive_tensor_count(NULL), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_archive_find_tensor(NULL, "embed"), Z4AI_ERROR_NULL_POINTER);
    CHECK_EQ(z4ai_archive_tensor_into(NULL, 0, NULL, 0), Z4AI_ERROR_NULL_POINTER);
    z4ai_archive_close(NULL);
    CHECK(strcmp(z4ai_error_name(Z4AI_ERROR_NOT_FOUND), "unknown error code") != 0);
}

/* Every flipped byte either stops the open, stops the tensors it hits, or
 * leaves bytes no reader looks at: never a tensor with wrong bytes. */
static void test_corruption(const uint8_t *z4, size_t len) {
    uint8_t *copy = xmalloc(len);
    int detected = 0, wrong = 0;
    size_t step = len / 211 + 1;
    for (size_t pos = 0; pos < len; pos += step) {
        memcpy(copy, z4, len);
        copy[pos] ^= 0x20;
        z4ai_archive *a = NULL;
        int64_t r = z4ai_archive_open_memory(copy, (int64_t)len, NULL, &a);
        if (r < 0) {
            CHECK(a == NULL);
            detected++;
            continue;
        }
        for (int t = 0; t < N_TENSORS; t++) {
            int64_t i = z4ai_archive_find_tensor(a, MODEL[t].name);
            if (i < 0) {
                detected++;
                continue;
            }
            int res = decode_one(a, i, t);
            detected += res == 0;
            wrong += res < 0;
        }
        z4ai_archive_close(a);
    }
    CHECK_EQ(wrong, 0);
    CHECK(detected > 0);
    free(copy);
}

struct job {
    const z4ai_archive *a;
    int ok;
};

static void *decode_all(void *arg) {
    struct job *j = arg;
    j->ok = 1;
    for (int round = 0; round < 3; round++)
        for (int t = 0; t < N_TENSORS; t++)
            if (decode_one(j->a, z4ai_archive_find_tensor(j->a, MODEL[t].name), t) != 1) j->ok = 0;
    return NULL;
}

static void test_threads(const z4ai_archive *a) {
    pthread_t th[4];
    struct job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].a = a;
        jobs[i].ok = 0;
        CHECK_EQ(pthread_create(&th[i], NULL, decode_all, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].ok);
    }
}

static int check_archive(const char *path) {
    z4ai_archive *a = NULL;
    CHECK_EQ(z4ai_archive_open(path, NULL, &a), 0);
    if (!a) return 1;
    check_handle(a);
    test_threads(a);
    z4ai_archive_close(a);

    /* One decode thread, through a params object. */
    z4ai_params *p = z4ai_params_new();
    CHECK_EQ(z4ai_params_set_threads(p, 1), 0);
    CHECK_EQ(z4ai_archive_open(path, p, &a), 0);
    z4ai_params_free(p); /* the handle keeps what it needs */
    if (a) check_handle(a);
    z4ai_archive_close(a);

    size_t len = 0;
    uint8_t *z4 = read_file(path, &len);
    CHECK(z4 != NULL);
    if (!z4) return 1;
    a = NULL;
    CHECK_EQ(z4ai_archive_open_memory(z4, (int64_t)len, NULL, &a), 0);
    if (a) {
        check_handle(a);
        test_threads(a);
    }
    z4ai_archive_close(a);
    test_corruption(z4, len);
    free(z4);
    test_null_and_bad_inputs();
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "write") == 0) return write_model(argv[2]);
    if (argc != 3 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "usage: %s write FILE.safetensors | check FILE.z4\n", argv[0]);
        return 2;
    }
    check_archive(argv[2]);
    printf("archive: %d checks, %d failures (%s)\n", checks, failures, z4ai_version());
    return failures != 0;
}
