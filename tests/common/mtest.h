/* Minimal test harness: checks count, failures print file:line, and the
 * program ends with "N passed, N failed" and a non-zero exit on failure. */
#ifndef MOCO_MTEST_H
#define MOCO_MTEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int mt_passed_, mt_failed_;

#define MT_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (cond) {                                                           \
            mt_passed_++;                                                     \
        } else {                                                              \
            mt_failed_++;                                                     \
            fprintf(stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define MT_CLOSE(a, b, atol, rtol)                                            \
    do {                                                                      \
        double mt_a_ = (double)(a), mt_b_ = (double)(b);                      \
        MT_CHECK(fabs(mt_a_ - mt_b_) <= (atol) + (rtol) * fabs(mt_b_),        \
                 "%s = %.9g vs %s = %.9g", #a, mt_a_, #b, mt_b_);             \
    } while (0)

#define MT_RUN(fn)                                                            \
    do {                                                                      \
        int mt_before_ = mt_failed_;                                          \
        fn();                                                                 \
        printf("%-48s %s\n", #fn, mt_failed_ == mt_before_ ? "ok" : "FAILED"); \
    } while (0)

static inline int mt_finish(void) {
    printf("%d passed, %d failed\n", mt_passed_, mt_failed_);
    return mt_failed_ ? 1 : 0;
}

/* Largest |a_i - b_i| / (atol + rtol |b_i|); <= 1 means all close. */
static inline double mt_max_rel(const float *a, const float *b, long n, double atol,
                                double rtol, long *worst) {
    double m = 0;
    for (long i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
        if (e > m || e != e) {
            m = e;
            if (worst) *worst = i;
        }
    }
    return m;
}

#endif
