/* moco SDK — layer kernels for backbone authors (libmoco_sdk).
 *
 * Conventions (llm.c style):
 *  - arguments: outputs first, then inputs, then caches, then sizes;
 *  - backward ACCUMULATES into gradients (+=); zero them separately;
 *    a NULL gradient pointer means "not needed";
 *  - all tensors float32, contiguous, NCHW; shapes in the comments.
 *  - Thread: [any] — kernels keep no global state; GEMM runs on OpenBLAS's
 *    own threads. Each optimised kernel has a *_naive twin used by tests.
 */
#ifndef MOCO_KERNELS_H
#define MOCO_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GEMM -------------------------------------------------------------- */
/* Row-major C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C.
 * trans_a/trans_b: 0 or 1. Runs on OpenBLAS. */
void moco_sgemm(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                float alpha, const float *a, int32_t lda, const float *b, int32_t ldb,
                float beta, float *c, int32_t ldc);
void moco_sgemm_naive(int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                      float alpha, const float *a, int32_t lda, const float *b,
                      int32_t ldb, float beta, float *c, int32_t ldc);

/* ---- 2-D convolution (no bias; BN follows every conv in ResNets) ------- */
typedef struct moco_conv_shape {
    int32_t n, c_in, h, w;      /* input  (n, c_in, h, w) */
    int32_t c_out, kh, kw;      /* weight (c_out, c_in, kh, kw) */
    int32_t stride, pad;
    int32_t h_out, w_out;       /* filled by moco_conv_shape_init */
} moco_conv_shape;

/* Fills h_out/w_out; returns 0, or -1 when the output would be empty. */
int32_t moco_conv_shape_init(moco_conv_shape *s);
/* Floats of scratch the conv kernels need (im2col of one image). */
size_t moco_conv2d_workspace(const moco_conv_shape *s);

/* out (n, c_out, h_out, w_out) = conv(in (n, c_in, h, w), w (c_out, c_in, kh, kw))
 * ws: moco_conv2d_workspace(s) floats of scratch. */
void moco_conv2d_forward(float *out, const float *in, const float *weight, float *ws,
                         const moco_conv_shape *s);
/* din (n, c_in, h, w) += dL/din (skipped when NULL);
 * dweight (c_out, c_in, kh, kw) += dL/dw (skipped when NULL). */
void moco_conv2d_backward(float *din, float *dweight, const float *dout, const float *in,
                          const float *weight, float *ws, const moco_conv_shape *s);
void moco_conv2d_forward_naive(float *out, const float *in, const float *weight,
                               const moco_conv_shape *s);
void moco_conv2d_backward_naive(float *din, float *dweight, const float *dout,
                                const float *in, const float *weight,
                                const moco_conv_shape *s);

/* ---- Batch normalisation over (N, H, W) per channel ------------------- */
/* train != 0: normalise with batch statistics, store mean and 1/sqrt(var+eps)
 * (biased var) in save_mean/save_invstd (c), and update running stats as
 * PyTorch does: r = (1-momentum) r + momentum * stat, with the UNBIASED
 * variance for running_var. train == 0: use running stats, caches unused.
 * out may alias in. */
void moco_batchnorm_forward(float *out, float *running_mean, float *running_var,
                            float *save_mean, float *save_invstd, const float *in,
                            const float *gamma, const float *beta, int32_t n, int32_t c,
                            int32_t hw, float momentum, float eps, int32_t train);
/* Train-mode backward. din (n, c, hw) +=, dgamma (c) +=, dbeta (c) +=. */
void moco_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *gamma, const float *save_mean,
                             const float *save_invstd, int32_t n, int32_t c, int32_t hw);

/* ---- ReLU -------------------------------------------------------------- */
void moco_relu_forward(float *out, const float *in, int64_t count);  /* may alias */
/* din += dout * (out > 0) */
void moco_relu_backward(float *din, const float *dout, const float *out, int64_t count);

/* ---- element-wise add (residual) -------------------------------------- */
void moco_add(float *out, const float *a, const float *b, int64_t count); /* may alias */

/* ---- max pooling (k, stride, pad), e.g. 3/2/1 in the ImageNet stem ----- */
/* out (n, c, h_out, w_out); argmax (n, c, h_out, w_out) index into the
 * input plane; h_out = (h + 2 pad - k) / stride + 1. */
void moco_maxpool2d_forward(float *out, int32_t *argmax, const float *in, int32_t n,
                            int32_t c, int32_t h, int32_t w, int32_t k, int32_t stride,
                            int32_t pad);
void moco_maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                             int32_t n, int32_t c, int32_t h, int32_t w, int32_t h_out,
                             int32_t w_out);

/* ---- global average pooling ------------------------------------------- */
/* out (n, c) = mean over hw of in (n, c, hw) */
void moco_avgpool_global_forward(float *out, const float *in, int32_t n, int32_t c,
                                 int32_t hw);
void moco_avgpool_global_backward(float *din, const float *dout, int32_t n, int32_t c,
                                  int32_t hw);

/* ---- fully connected --------------------------------------------------- */
/* out (n, o) = in (n, i) * weight (o, i)^T + bias (o) (bias may be NULL) */
void moco_linear_forward(float *out, const float *in, const float *weight,
                         const float *bias, int32_t n, int32_t in_features,
                         int32_t out_features);
/* din (n, i) +=, dweight (o, i) +=, dbias (o) += ; each may be NULL */
void moco_linear_backward(float *din, float *dweight, float *dbias, const float *dout,
                          const float *in, const float *weight, int32_t n,
                          int32_t in_features, int32_t out_features);

/* ---- row-wise L2 normalisation ---------------------------------------- */
/* out (n, d) = in / max(||in||, 1e-12); norms (n) cache */
void moco_l2norm_forward(float *out, float *norms, const float *in, int32_t n, int32_t d);
/* din (n, d) += (dout - out * <dout, out>) / norm */
void moco_l2norm_backward(float *din, const float *dout, const float *out,
                          const float *norms, int32_t n, int32_t d);

/* ---- Winograd convolution (fast path of 3x3 / stride 1 / pad 1) ------- */
/* moco_conv2d_forward/backward take this path by themselves for 3x3,
 * stride-1, pad-1 convolutions on maps of at least 4x4 when the CPU has
 * AVX2 and FMA: F(2x2, 3x3) Winograd (Lavin & Gray), 2.25x fewer
 * multiplications than a direct convolution, within a few times its
 * rounding error; the weight gradient of maps from 8x8 up uses F(4x4, 3x3)
 * (4x fewer multiplications), whose error there stays within the PyTorch
 * reference tests' tolerances. MOCO_WINOGRAD_TILE=4 in the environment
 * selects F(4x4, 3x3) for every pass (~10x the rounding error of a direct
 * conv), MOCO_WINOGRAD_TILE=2 F(2x2, 3x3) for every pass. MOCO_FAST_KERNELS=0 turns every AVX2 path of the SDK off.
 * These two force a tile size (2 or 4) so that tests can compare each with
 * the naive twins. ws: moco_conv2d_workspace(s) floats. Return 0, or -1
 * (nothing done) when the shape (not 3x3/1/1, or h or w < 4), the tile or
 * the CPU does not allow it. Work is split over OpenBLAS's thread count
 * (at most 2 threads) and the results do not depend on it. */
int32_t moco_conv2d_forward_winograd(float *out, const float *in, const float *weight,
                                     float *ws, const moco_conv_shape *s, int32_t tile);
int32_t moco_conv2d_backward_winograd(float *din, float *dweight, const float *dout,
                                      const float *in, const float *weight, float *ws,
                                      const moco_conv_shape *s, int32_t tile);

/* ---- fused batch norm, residual and ReLU ------------------------------ */
/* out = moco_batchnorm_forward(in) [+ residual (n, c, hw) when not NULL]
 * [then ReLU when relu != 0]: one pass over the data for normalisation,
 * addition and ReLU instead of three. Same statistics and running-stat
 * updates; the per-plane sums are taken in float (8 partial sums), the sum
 * over planes in double, so values may differ from moco_batchnorm_forward
 * in the last bits. Channels are split over the kernels' threads; results do
 * not depend on the thread count. out may alias in (not residual, unless
 * residual == out is what is meant). Twin: moco_batchnorm_forward +
 * moco_add + moco_relu_forward. */
void moco_batchnorm_forward_fused(float *out, float *running_mean, float *running_var,
                                  float *save_mean, float *save_invstd, const float *in,
                                  const float *residual, const float *gamma, const float *beta,
                                  int32_t n, int32_t c, int32_t hw, float momentum, float eps,
                                  int32_t train, int32_t relu);
/* Train-mode backward of BN followed by a ReLU whose output is relu_out
 * (n, c, hw): the gradient reaching BN is dout * (relu_out > 0); relu_out
 * NULL means no ReLU. din (n, c, hw) = that gradient through BN when
 * accumulate == 0, += when 1 (din may then be skipped with NULL); dgamma,
 * dbeta (c) += as moco_batchnorm_backward. Twin: moco_relu_backward +
 * moco_batchnorm_backward. */
void moco_batchnorm_backward_fused(float *din, float *dgamma, float *dbeta, const float *dout,
                                   const float *relu_out, const float *in, const float *gamma,
                                   const float *save_mean, const float *save_invstd, int32_t n,
                                   int32_t c, int32_t hw, int32_t accumulate);

/* ---- random initialisation ------------------------------------------- */
/* out[i] = std * z_i for i = 0..n-1, z_i independent standard normals, on
 * the kernels' threads; for initialising large parameter tensors quickly.
 * Advances r by exactly one moco_rng_u64 draw, d. The values are a pure
 * function of (d, n, std), whatever the thread count: values
 * [c*CHUNK, (c+1)*CHUNK) come from the stream moco_rng_seed(moco_seed_mix(d, c))
 * by the Marsaglia polar method in double precision, in pairs (x*f, y*f)
 * with f = std*sqrt(-2 ln s / s), s = x*x + y*y, x and y = 2u-1 redrawn
 * while s >= 1 or s == 0; an odd chunk drops its last y*f. Not the values
 * of a moco_rng_normal loop. */
#define MOCO_FILL_NORMAL_CHUNK 4096
struct moco_rng;   /* moco/rng.h */
void moco_fill_normal(float *out, int64_t n, double std, struct moco_rng *r);

#ifdef __cplusplus
}
#endif
#endif /* MOCO_KERNELS_H */
