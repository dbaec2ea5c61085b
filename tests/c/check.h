/*
 * What the C consumer tests share: check counters, CHECK / CHECK_EQ, and an
 * allocator that aborts. Each test program includes it once.
 */
#ifndef Z4AI_TEST_CHECK_H
#define Z4AI_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int checks, failures;

#define CHECK(cond)                                                          \
    do {                                                                     \
        checks++;                                                            \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        long long va_ = (long long)(a), vb_ = (long long)(b);                 \
        checks++;                                                             \
        if (va_ != vb_) {                                                     \
            failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
                    __FILE__, __LINE__, #a, va_, #b, vb_);                    \
        }                                                                     \
    } while (0)

/* Aborts on allocation failure: the test must not run on without memory. */
static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

#endif
