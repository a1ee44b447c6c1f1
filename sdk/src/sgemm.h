/* libmoco_sdk internals: the AVX2 SGEMM behind moco_sgemm (sgemm.c). */
#ifndef MOCO_SDK_SGEMM_H
#define MOCO_SDK_SGEMM_H

#include <stdint.h>

/* Row-major C = alpha op(A) op(B) + beta C, as moco_sgemm. Returns 0, or -1
 * (C untouched) when this build has no AVX2 kernels; the caller then uses
 * OpenBLAS. Call only when moco_fast_avx2(). Uses ~640 KiB of stack. */
int moco_sgemm_avx2(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                    float alpha, const float *a, int32_t lda, const float *b, int32_t ldb,
                    float beta, float *c, int32_t ldc);

#endif
