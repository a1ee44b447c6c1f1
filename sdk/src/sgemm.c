/* SGEMM on the 6x16 AVX2 kernel (mkernel.h), in the BLIS/GotoBLAS loop
 * order: panels of op(B) (KC x 16 columns) and blocks of alpha op(A)
 * (MC rows x KC, 6-row panels) are packed into buffers on the stack, then the
 * kernel sweeps them. Threads split the columns of C: each C element is
 * summed by one thread in one order, so the result does not depend on the
 * thread count. moco_sgemm uses it on AVX2+FMA CPUs instead of OpenBLAS,
 * which keeps OpenBLAS's worker threads (spinning for ~0.1 s after every
 * call) out of the step and every thread of the step in one pool. */
#include "sgemm.h"

#include <stdlib.h>
#include <string.h>

#include "parallel.h"

#if defined(MOCO_HAVE_AVX2_KERNELS)
#include "mkernel.h"

#define MR 6
#define NR 16
#define KC 256
#define MC 120
#define NC 512   /* packing buffers live on the stack: 120 + 512 KiB */

typedef struct gemm_args {
    int32_t ta, tb, m, n, k;
    float alpha;
    const float *a, *b;
    int32_t lda, ldb;
    float beta;
    float *c;
    int32_t ldc;
} gemm_args;

/* ap (ceil(mc/6) panels of kc x 6) = alpha op(A)[i0 .. i0+mc, p0 .. p0+kc],
 * rows past mc zero. */
static void pack_a(float *restrict ap, const gemm_args *g, int32_t i0, int32_t mc, int32_t p0,
                   int32_t kc) {
    const __m256 alpha = _mm256_set1_ps(g->alpha);
    for (int32_t ip = 0; ip < mc; ip += MR, ap += (size_t)MR * kc) {
        int32_t rows = mc - ip < MR ? mc - ip : MR;
        if (rows == MR && !g->ta) {
            /* 6 rows, 8 columns at a time by a transpose; the products
             * alpha * a are those of the scalar loop below */
            const float *src = g->a + (size_t)(i0 + ip) * g->lda + p0;
            int32_t p = 0;
            for (; p + 8 <= kc; p += 8) mk_pack6(ap + (size_t)p * MR, src + p, g->lda, 8, alpha);
            for (; p < kc; p++)
                for (int32_t r = 0; r < MR; r++)
                    ap[(size_t)p * MR + r] = g->alpha * src[(size_t)r * g->lda + p];
            continue;
        }
        if (rows == MR) {
            /* op(A) = A^T: the panel's 6 values of column p are contiguous */
            const float *src = g->a + (size_t)p0 * g->lda + i0 + ip;
            const __m128 a4 = _mm256_castps256_ps128(alpha);
            for (int32_t p = 0; p < kc; p++) {
                const float *s6 = src + (size_t)p * g->lda;
                float *d = ap + (size_t)p * MR;
                _mm_storeu_ps(d, _mm_mul_ps(a4, _mm_loadu_ps(s6)));
                _mm_storel_pi((__m64 *)(d + 4),
                              _mm_mul_ps(a4, _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(s6 + 4))));
            }
            continue;
        }
        for (int32_t r = 0; r < MR; r++) {
            if (r >= rows) {
                for (int32_t p = 0; p < kc; p++) ap[(size_t)p * MR + r] = 0.0f;
                continue;
            }
            int32_t i = i0 + ip + r;
            if (!g->ta) {
                const float *src = g->a + (size_t)i * g->lda + p0;
                for (int32_t p = 0; p < kc; p++) ap[(size_t)p * MR + r] = g->alpha * src[p];
            } else {
                const float *src = g->a + (size_t)p0 * g->lda + i;
                for (int32_t p = 0; p < kc; p++)
                    ap[(size_t)p * MR + r] = g->alpha * src[(size_t)p * g->lda];
            }
        }
    }
}

/* bp (ceil(nc/16) panels of kc x 16) = op(B)[p0 .. p0+kc, j0 .. j0+nc],
 * columns past nc zero. */
static void pack_b(float *restrict bp, const gemm_args *g, int32_t p0, int32_t kc, int32_t j0,
                   int32_t nc) {
    for (int32_t jp = 0; jp < nc; jp += NR, bp += (size_t)NR * kc) {
        int32_t cols = nc - jp < NR ? nc - jp : NR;
        if (!g->tb) {
            const float *src = g->b + (size_t)p0 * g->ldb + j0 + jp;
            for (int32_t p = 0; p < kc; p++) {
                float *d = bp + (size_t)p * NR;
                const float *s = src + (size_t)p * g->ldb;
                int32_t j = 0;
                for (; j < cols; j++) d[j] = s[j];
                for (; j < NR; j++) d[j] = 0.0f;
            }
        } else if (cols == NR) {
            /* op(B) = B^T: 16 rows of B, 8 deep at a time, by two transposes */
            const float *src = g->b + (size_t)(j0 + jp) * g->ldb + p0;
            int32_t p = 0;
            for (; p + 8 <= kc; p += 8)
                for (int32_t h8 = 0; h8 < NR; h8 += 8) {
                    __m256 r[8];
                    for (int q = 0; q < 8; q++)
                        r[q] = _mm256_loadu_ps(src + (size_t)(h8 + q) * g->ldb + p);
                    mk_transpose8(r);
                    for (int q = 0; q < 8; q++) _mm256_storeu_ps(bp + (size_t)(p + q) * NR + h8, r[q]);
                }
            for (; p < kc; p++)
                for (int32_t j = 0; j < NR; j++) bp[(size_t)p * NR + j] = src[(size_t)j * g->ldb + p];
        } else {
            for (int32_t j = 0; j < NR; j++) {
                if (j >= cols) {
                    for (int32_t p = 0; p < kc; p++) bp[(size_t)p * NR + j] = 0.0f;
                    continue;
                }
                const float *s = g->b + (size_t)(j0 + jp + j) * g->ldb + p0;
                for (int32_t p = 0; p < kc; p++) bp[(size_t)p * NR + j] = s[p];
            }
        }
    }
}

/* C[j0 .. j1) columns of every row. */
static void gemm_columns(const gemm_args *g, float *buf, int32_t j0, int32_t j1) {
    float *ap = buf, *bp = buf + (size_t)MC * KC;
    if (g->k == 0 || g->alpha == 0.0f) {
        for (int32_t i = 0; i < g->m; i++) {
            float *c = g->c + (size_t)i * g->ldc;
            for (int32_t j = j0; j < j1; j++) c[j] = g->beta == 0.0f ? 0.0f : g->beta * c[j];
        }
        return;
    }
    /* beta other than 0 or 1: scale once, then accumulate */
    if (g->beta != 0.0f && g->beta != 1.0f)
        for (int32_t i = 0; i < g->m; i++) {
            float *c = g->c + (size_t)i * g->ldc;
            for (int32_t j = j0; j < j1; j++) c[j] *= g->beta;
        }
    float tile[MR * NR];
    for (int32_t jc = j0; jc < j1; jc += NC) {
        int32_t nc = j1 - jc < NC ? j1 - jc : NC;
        for (int32_t pc = 0; pc < g->k; pc += KC) {
            int32_t kc = g->k - pc < KC ? g->k - pc : KC;
            int accumulate = pc > 0 || g->beta != 0.0f;
            pack_b(bp, g, pc, kc, jc, nc);
            for (int32_t ic = 0; ic < g->m; ic += MC) {
                int32_t mc = g->m - ic < MC ? g->m - ic : MC;
                pack_a(ap, g, ic, mc, pc, kc);
                for (int32_t jr = 0; jr < nc; jr += NR) {
                    int32_t cols = nc - jr < NR ? nc - jr : NR;
                    const float *b = bp + (size_t)jr * kc;
                    for (int32_t ir = 0; ir < mc; ir += MR) {
                        int32_t rows = mc - ir < MR ? mc - ir : MR;
                        const float *a = ap + (size_t)ir * kc;
                        float *c = g->c + (size_t)(ic + ir) * g->ldc + jc + jr;
                        if (rows == MR && cols == NR) {
                            mk_kernel_6x16(kc, a, b, c, g->ldc, accumulate);
                            continue;
                        }
                        /* edge: through a full tile */
                        mk_kernel_6x16(kc, a, b, tile, NR, 0);
                        for (int32_t r = 0; r < rows; r++)
                            for (int32_t j = 0; j < cols; j++) {
                                float *o = c + (size_t)r * g->ldc + j;
                                *o = accumulate ? *o + tile[r * NR + j] : tile[r * NR + j];
                            }
                    }
                }
            }
        }
    }
}

typedef struct gemm_ctx {
    const gemm_args *g;
} gemm_ctx;

static void gemm_part(void *vctx, int32_t part, int32_t nparts) {
    gemm_ctx *c = vctx;
    int64_t lo, hi;
    moco_part_range(c->g->n, part, nparts, NR, &lo, &hi);
    if (lo >= hi) return;
    /* on the stack: no allocation, nothing shared between threads */
    float buf[MC * KC + KC * NC] __attribute__((aligned(64)));
    gemm_columns(c->g, buf, (int32_t)lo, (int32_t)hi);
}

int moco_sgemm_avx2(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                    float alpha, const float *a, int32_t lda, const float *b, int32_t ldb,
                    float beta, float *c, int32_t ldc) {
    gemm_args g = {trans_a, trans_b, m, n, k, alpha, a, b, lda, ldb, beta, c, ldc};
    gemm_ctx ctx = {&g};
    int32_t parts = moco_pool_parts();
    /* Each part packs all of A for itself: give it at least 128 columns so
     * that the packing stays a few percent of its work. */
    if (parts > n / 128) parts = n / 128;
    if (parts < 1 || (double)m * n * k < 1e5) parts = 1;
    moco_pool_run(gemm_part, &ctx, parts, parts == 1);
    return 0;
}

#else

int moco_sgemm_avx2(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                    float alpha, const float *a, int32_t lda, const float *b, int32_t ldb,
                    float beta, float *c, int32_t ldc) {
    (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda;
    (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
    return -1;
}

#endif
