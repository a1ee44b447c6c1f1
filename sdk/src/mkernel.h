/* libmoco_sdk internals: the 6x16 AVX2/FMA register-blocked kernel shared
 * by the Winograd products (winograd.c) and the GEMM (sgemm.c), and an 8 x 8
 * transpose for their packing. Include only
 * from files compiled with -mavx2 -mfma, after <immintrin.h>. */
#ifndef MOCO_SDK_MKERNEL_H
#define MOCO_SDK_MKERNEL_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* r[0 .. 8) <- its transpose (row k of the result: element k of each r). */
static inline void mk_transpose8(__m256 *r) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* dst[j * 6 + r] = scale * src[r * rs + j] for rows r < 6 and columns
 * j < n <= 8 (a 6-wide packed panel from 6 rows): 8 floats of each row
 * (all readable), one transpose, each column's 6 floats stored as 8 (the
 * last 2 overwritten by the next column's), the last column's as 4 + 2. */
static inline void mk_pack6(float *restrict dst, const float *restrict src, ptrdiff_t rs, int n,
                            __m256 scale) {
    __m256 r[8];
    for (int q = 0; q < 6; q++) r[q] = _mm256_mul_ps(scale, _mm256_loadu_ps(src + q * rs));
    r[6] = r[7] = _mm256_setzero_ps();
    mk_transpose8(r);
    for (int j = 0; j + 1 < n; j++) _mm256_storeu_ps(dst + j * 6, r[j]);
    float *d = dst + (n - 1) * 6;
    _mm_storeu_ps(d, _mm256_castps256_ps128(r[n - 1]));
    _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(r[n - 1], 1));
}

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
