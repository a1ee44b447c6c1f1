/* libmoco_sdk internals: the 6x16 AVX2/FMA register-blocked kernel shared
 * by the Winograd products (winograd.c) and the GEMM (sgemm.c). Include only
 * from files compiled with -mavx2 -mfma, after <immintrin.h>. */
#ifndef MOCO_SDK_MKERNEL_H
#define MOCO_SDK_MKERNEL_H

#include <immintrin.h>
#include <stdint.h>

/* c (6 x 16, row stride ldc) (+)= a (kc x 6) . b (kc x 16, packed), where
 * element (p, i) of a is at a[i * as + p * ap]: packed 6-wide panels
 * (as = 1, ap = 6) or 6 rows of length kc (as = lda, ap = 1). 12
 * accumulators; per step 2 loads of b and 6 broadcasts of a. */
static inline __attribute__((always_inline)) void mk_kernel_6x16_body(
    int64_t kc, const float *restrict a, int64_t as, int64_t ap, const float *restrict b,
    float *restrict c, int64_t ldc, int accumulate) {
    const float *a0 = a, *a1 = a + as, *a2 = a + 2 * as, *a3 = a + 3 * as, *a4 = a + 4 * as,
                *a5 = a + 5 * as;
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 x;
        x = _mm256_broadcast_ss(a0);
        c00 = _mm256_fmadd_ps(x, b0, c00);
        c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a1);
        c10 = _mm256_fmadd_ps(x, b0, c10);
        c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a2);
        c20 = _mm256_fmadd_ps(x, b0, c20);
        c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a3);
        c30 = _mm256_fmadd_ps(x, b0, c30);
        c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a4);
        c40 = _mm256_fmadd_ps(x, b0, c40);
        c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a5);
        c50 = _mm256_fmadd_ps(x, b0, c50);
        c51 = _mm256_fmadd_ps(x, b1, c51);
        a0 += ap, a1 += ap, a2 += ap, a3 += ap, a4 += ap, a5 += ap;
        b += 16;
    }
    float *r0 = c, *r1 = c + ldc, *r2 = c + 2 * ldc, *r3 = c + 3 * ldc, *r4 = c + 4 * ldc,
          *r5 = c + 5 * ldc;
    if (accumulate) {
        c00 = _mm256_add_ps(c00, _mm256_loadu_ps(r0));
        c01 = _mm256_add_ps(c01, _mm256_loadu_ps(r0 + 8));
        c10 = _mm256_add_ps(c10, _mm256_loadu_ps(r1));
        c11 = _mm256_add_ps(c11, _mm256_loadu_ps(r1 + 8));
        c20 = _mm256_add_ps(c20, _mm256_loadu_ps(r2));
        c21 = _mm256_add_ps(c21, _mm256_loadu_ps(r2 + 8));
        c30 = _mm256_add_ps(c30, _mm256_loadu_ps(r3));
        c31 = _mm256_add_ps(c31, _mm256_loadu_ps(r3 + 8));
        c40 = _mm256_add_ps(c40, _mm256_loadu_ps(r4));
        c41 = _mm256_add_ps(c41, _mm256_loadu_ps(r4 + 8));
        c50 = _mm256_add_ps(c50, _mm256_loadu_ps(r5));
        c51 = _mm256_add_ps(c51, _mm256_loadu_ps(r5 + 8));
    }
    _mm256_storeu_ps(r0, c00);
    _mm256_storeu_ps(r0 + 8, c01);
    _mm256_storeu_ps(r1, c10);
    _mm256_storeu_ps(r1 + 8, c11);
    _mm256_storeu_ps(r2, c20);
    _mm256_storeu_ps(r2 + 8, c21);
    _mm256_storeu_ps(r3, c30);
    _mm256_storeu_ps(r3 + 8, c31);
    _mm256_storeu_ps(r4, c40);
    _mm256_storeu_ps(r4 + 8, c41);
    _mm256_storeu_ps(r5, c50);
    _mm256_storeu_ps(r5 + 8, c51);
}

/* a packed in 6-wide panels (the GEMM's and the Winograd forward's). */
__attribute__((noinline)) static void mk_kernel_6x16(int64_t kc, const float *restrict a,
                                                     const float *restrict b, float *restrict c,
                                                     int64_t ldc, int accumulate) {
    mk_kernel_6x16_body(kc, a, 1, 6, b, c, ldc, accumulate);
}

#endif
