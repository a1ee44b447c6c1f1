/* Shared helpers of the kernel tests: buffers, random fills and the
 * finite-difference gradient check.
 *
 * How a check works: a test wraps its forward pass as a loss
 * L = sum(out * R) for a fixed random R, summed in double from the float
 * outputs. gc_numeric() takes central differences of L per input entry and
 * gc_check() compares them with the kernel's backward. */
#ifndef MOCO_TEST_GRADCHECK_H
#define MOCO_TEST_GRADCHECK_H

#include <stdint.h>

#include "moco/kernels.h"
#include "moco/rng.h"
#include "mtest.h"

static inline float *gc_alloc(size_t count) {
    float *p = calloc(count ? count : 1, sizeof *p);
    if (!p) abort();
    return p;
}

static inline float *gc_copy(const float *src, size_t count) {
    float *p = gc_alloc(count);
    memcpy(p, src, count * sizeof *p);
    return p;
}

static inline void gc_uniform(float *x, size_t count, moco_rng *r, double lo, double hi) {
    for (size_t i = 0; i < count; i++) x[i] = (float)moco_rng_range(r, lo, hi);
}

static inline void gc_normal(float *x, size_t count, moco_rng *r, double mean, double std) {
    for (size_t i = 0; i < count; i++) x[i] = (float)(mean + std * moco_rng_normal(r));
}

static inline void gc_fill(float *x, size_t count, float v) {
    for (size_t i = 0; i < count; i++) x[i] = v;
}

/* sum_i a_i * b_i in double */
static inline double gc_dot(const float *a, const float *b, size_t count) {
    double s = 0.0;
    for (size_t i = 0; i < count; i++) s += (double)a[i] * b[i];
    return s;
}

/* Runs the forward with the current inputs and returns L. Sets *kink when
 * the evaluation crossed a point where L is not differentiable (a ReLU input
 * changed sign), where a difference quotient means nothing. */
typedef double (*gc_loss_fn)(void *ctx, int *kink);

/* fd (count) = central differences of f with respect to x (count), step h.
 * The divisor is the perturbation actually stored, fl(x+h) - fl(x-h), not
 * 2h, so rounding x +- h to float does not enter the quotient. An entry whose
 * evaluations hit a kink is retried with h/8, then marked in skip (count).
 * Ends with one more evaluation at x itself, so outputs and caches match x. */
static inline void gc_numeric(double *fd, unsigned char *skip, float *x, long count, double h,
                       gc_loss_fn f, void *ctx) {
    for (long i = 0; i < count; i++) {
        const float x0 = x[i];
        double step = h;
        skip[i] = 1;
        fd[i] = 0.0;
        for (int attempt = 0; attempt < 2; attempt++, step /= 8.0) {
            int kink_p = 0, kink_m = 0;
            x[i] = (float)(x0 + step);
            const double xp = x[i], lp = f(ctx, &kink_p);
            x[i] = (float)(x0 - step);
            const double xm = x[i], lm = f(ctx, &kink_m);
            x[i] = x0;
            if (!kink_p && !kink_m) {
                fd[i] = (lp - lm) / (xp - xm);
                skip[i] = 0;
                break;
            }
        }
    }
    int kink = 0;
    (void)f(ctx, &kink);
}

/* Per-entry error |an - fd| / max(|an|, |fd|, floor) with
 * floor = floor_frac * max_j |fd_j|: entries far below the gradient's scale,
 * where the difference quotient's error is absolute, are judged on that
 * scale. */
static inline double gc_worst(const float *an, const double *fd, const unsigned char *skip,
                       long count, double floor_frac, long *worst_at) {
    double scale = 0.0;
    for (long i = 0; i < count; i++)
        if (!skip[i] && fabs(fd[i]) > scale) scale = fabs(fd[i]);
    const double floor = floor_frac * scale > 1e-30 ? floor_frac * scale : 1e-30;
    double worst = 0.0;
    *worst_at = 0;
    for (long i = 0; i < count; i++) {
        if (skip[i]) continue;
        double a = an[i], d = fd[i];
        double den = fabs(a) > fabs(d) ? fabs(a) : fabs(d);
        if (den < floor) den = floor;
        double e = fabs(a - d) / den;
        if (e > worst || e != e) {
            worst = e;
            *worst_at = i;
            if (e != e) break;
        }
    }
    return worst;
}

/* Checks an analytic gradient an (count) against fd (count): worst error
 * must be <= tol and at most 1 in 20 entries may be skipped at kinks.
 * Then a negative control: the same gradient with its largest entry off by
 * 4 * tol (relative) must be rejected, so the check demonstrably can fail. */
static inline double gc_check(const char *what, const float *an, const double *fd,
                       const unsigned char *skip, long count, double tol, double floor_frac) {
    long at = 0, skipped = 0, big = 0;
    for (long i = 0; i < count; i++) skipped += skip[i];
    const double worst = gc_worst(an, fd, skip, count, floor_frac, &at);
    printf("  %-34s worst rel err %.2e (tol %.0e) at %ld: an %.7g fd %.7g; %ld/%ld skipped\n",
           what, worst, tol, at, (double)an[at], fd[at], skipped, count);
    MT_CHECK(worst <= tol, "%s: worst rel err %.3g > %.3g", what, worst, tol);
    MT_CHECK(skipped * 20 <= count, "%s: %ld of %ld entries skipped at kinks", what, skipped,
             count);

    float *bad = gc_copy(an, (size_t)count);
    for (long i = 0; i < count; i++)
        if (!skip[i] && fabs(fd[i]) > fabs(fd[big])) big = i;
    bad[big] = (float)(fd[big] * (1.0 + 4.0 * tol));
    long at_bad;
    const double worst_bad = gc_worst(bad, fd, skip, count, floor_frac, &at_bad);
    MT_CHECK(worst_bad > tol, "%s: negative control not rejected (%.3g)", what, worst_bad);
    free(bad);
    return worst;
}

/* Runs gc_numeric on x and gc_check against an in one call. */
static inline double gc_gradcheck(const char *what, const float *an, float *x, long count, double h,
                           double tol, double floor_frac, gc_loss_fn f, void *ctx) {
    double *fd = malloc((size_t)(count ? count : 1) * sizeof *fd);
    unsigned char *skip = malloc((size_t)(count ? count : 1));
    if (!fd || !skip) abort();
    gc_numeric(fd, skip, x, count, h, f, ctx);
    const double worst = gc_check(what, an, fd, skip, count, tol, floor_frac);
    free(fd);
    free(skip);
    return worst;
}

#endif
