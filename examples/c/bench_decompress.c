/*
 * The C side of the C-API overhead measurement (scripts/capi_bench.sh):
 * reads a frame written by `cargo run --release --example capi_bench`,
 * decompresses it with z4ai_decompress into one reused caller buffer, and
 * prints the median of RUNS runs (after one warm-up), next to a memcpy of
 * the same size into the same buffer.
 *
 *   bench_decompress FRAME THREADS RUNS
 */
#define _POSIX_C_SOURCE 199309L
#include <z4ai.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s FRAME THREADS RUNS\n", argv[0]);
        return 2;
    }
    int runs = atoi(argv[3]);
    if (runs < 1 || runs > 1000) return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return perror(argv[1]), 1;
    fseek(f, 0, SEEK_END);
    long flen = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *frame = malloc((size_t)flen);
    if (!frame || fread(frame, 1, (size_t)flen, f) != (size_t)flen) return 1;
    fclose(f);

    z4ai_params *p = z4ai_params_new();
    if (!p || z4ai_params_set_threads(p, atoll(argv[2])) < 0) return 1;
    int64_t n = z4ai_decompressed_size(frame, flen);
    if (n < 0) return fprintf(stderr, "%s\n", z4ai_error_name(n)), 1;
    uint8_t *out = malloc((size_t)n), *copy = malloc((size_t)n);
    if (!out || !copy) return 1;

    int64_t r = z4ai_decompress(out, n, frame, flen, p); /* warm-up, faults the pages in */
    if (r != n) return fprintf(stderr, "decompress: %s\n", z4ai_error_name(r)), 1;
    double *t = malloc(sizeof(double) * (size_t)runs), *m = malloc(sizeof(double) * (size_t)runs);
    memcpy(copy, out, (size_t)n);
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        r = z4ai_decompress(out, n, frame, flen, p);
        t[i] = now() - t0;
        if (r != n) return fprintf(stderr, "decompress: %s\n", z4ai_error_name(r)), 1;
        t0 = now();
        memcpy(copy, out, (size_t)n);
        m[i] = now() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    qsort(m, (size_t)runs, sizeof *m, cmp);
    printf("c z4ai_decompress:    %lld MiB, threads %s, median of %d: %.1f ms, %.2f GB/s "
           "(memcpy of the same bytes: %.1f ms, %.2f GB/s)\n",
           (long long)(n >> 20), argv[2], runs, t[runs / 2] * 1e3, (double)n / t[runs / 2] / 1e9,
           m[runs / 2] * 1e3, (double)n / m[runs / 2] / 1e9);
    z4ai_params_free(p);
    free(t);
    free(m);
    free(out);
    free(copy);
    free(frame);
    return 0;
}
