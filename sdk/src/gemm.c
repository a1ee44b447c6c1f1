/* GEMM: the one hot loop under conv and linear. The fast path is the SDK's
 * own AVX2 GEMM (sgemm.c) where the CPU has AVX2+FMA, else OpenBLAS; the
 * naive twin exists only so tests have an independent reference. */
#include <cblas.h>

#include "moco/kernels.h"
#include "parallel.h"
#include "sgemm.h"

void moco_sgemm(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                float alpha, const float *a, int32_t lda, const float *b, int32_t ldb,
                float beta, float *c, int32_t ldc) {
    /* Empty products are legal for callers (e.g. a zero-sized batch) but
     * OpenBLAS's argument checker complains about them, so skip here. */
    if (m <= 0 || n <= 0) return;
    if (moco_fast_avx2() && !moco_fast_off("gemm") &&
        moco_sgemm_avx2(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0)
        return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb,
                beta, c, ldc);
}

void moco_sgemm_naive(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                      float alpha, const float *a, int32_t lda, const float *b,
                      int32_t ldb, float beta, float *c, int32_t ldc) {
    for (int32_t i = 0; i < m; i++) {
        for (int32_t j = 0; j < n; j++) {
            double acc = 0.0;  /* double so the reference is far more exact than the fast path */
            for (int32_t p = 0; p < k; p++) {
                double av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                acc += av * bv;
            }
            float *cij = &c[(size_t)i * ldc + j];
            /* BLAS convention: beta == 0 overwrites C, so garbage/NaN in an
             * uninitialised output never leaks through 0 * NaN. */
            double old = beta == 0.0f ? 0.0 : (double)beta * (double)*cij;
            *cij = (float)((double)alpha * acc + old);
        }
    }
}
