/* Batch normalisation over (N, H, W) per channel, PyTorch semantics:
 * biased variance to normalise, unbiased variance into running_var, and
 * r = (1 - momentum) r + momentum * stat. Sums run in double because a
 * channel holds N*H*W values (hundreds of thousands in a ResNet stem). */
#include <math.h>

#include "moco/kernels.h"

/* Mean and biased variance of channel ch of in (n, c, hw). Two passes: the
 * one-pass E[x^2] - E[x]^2 cancels badly when |mean| >> std. */
static void bn_channel_stats(double *mean_out, double *var_out, const float *in, int32_t n,
                             int32_t c, int32_t hw, int32_t ch) {
    const double count = (double)n * hw;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        const float *x = in + ((size_t)i * c + ch) * hw; /* (hw) */
        for (int32_t j = 0; j < hw; j++) sum += x[j];
    }
    const double mean = sum / count;
    double sq = 0.0;
    for (int32_t i = 0; i < n; i++) {
        const float *x = in + ((size_t)i * c + ch) * hw; /* (hw) */
        for (int32_t j = 0; j < hw; j++) {
            double d = x[j] - mean;
            sq += d * d;
        }
    }
    *mean_out = mean;
    *var_out = sq / count;
}

void moco_batchnorm_forward(float *out, float *running_mean, float *running_var,
                            float *save_mean, float *save_invstd, const float *in,
                            const float *gamma, const float *beta, int32_t n, int32_t c,
                            int32_t hw, float momentum, float eps, int32_t train) {
    const double count = (double)n * hw;
    for (int32_t ch = 0; ch < c; ch++) {
        double mean, var;
        if (train) {
            bn_channel_stats(&mean, &var, in, n, c, hw, ch);
            save_mean[ch] = (float)mean;
            save_invstd[ch] = (float)(1.0 / sqrt(var + eps));
            /* One value per channel has no unbiased variance (PyTorch refuses
             * to train on it); keep the biased one rather than store Inf. */
            double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
            running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
        } else {
            mean = running_mean[ch];
            var = running_var[ch];
        }
        /* Normalise as (x - mean) * scale + beta rather than x * scale + shift:
         * the folded form loses digits when |mean| >> std. */
        const float m = (float)mean;
        const float scale = (float)(gamma[ch] / sqrt(var + eps));
        const float b = beta[ch];
        for (int32_t i = 0; i < n; i++) {
            const size_t off = ((size_t)i * c + ch) * hw;
            const float *x = in + off; /* (hw) */
            float *y = out + off;      /* (hw), may alias x: each element is read before written */
            for (int32_t j = 0; j < hw; j++) y[j] = (x[j] - m) * scale + b;
        }
    }
}

void moco_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                             const float *in, const float *gamma, const float *save_mean,
                             const float *save_invstd, int32_t n, int32_t c, int32_t hw) {
    const double count = (double)n * hw;
    for (int32_t ch = 0; ch < c; ch++) {
        const float mean = save_mean[ch], invstd = save_invstd[ch];
        /* sum(dy) and sum(dy * xhat) are dbeta and dgamma, and also the two
         * terms that the batch statistics feed back into din. */
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int32_t i = 0; i < n; i++) {
            const size_t off = ((size_t)i * c + ch) * hw;
            const float *x = in + off, *dy = dout + off; /* (hw) */
            for (int32_t j = 0; j < hw; j++) {
                sum_dy += dy[j];
                sum_dy_xhat += (double)dy[j] * ((x[j] - mean) * invstd);
            }
        }
        if (dgamma) dgamma[ch] += (float)sum_dy_xhat;
        if (dbeta) dbeta[ch] += (float)sum_dy;
        if (!din) continue;
        /* din = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) */
        const float k = gamma[ch] * invstd;
        const float mean_dy = (float)(sum_dy / count);
        const float mean_dy_xhat = (float)(sum_dy_xhat / count);
        for (int32_t i = 0; i < n; i++) {
            const size_t off = ((size_t)i * c + ch) * hw;
            const float *x = in + off, *dy = dout + off; /* (hw) */
            float *dx = din + off;                       /* (hw) */
            for (int32_t j = 0; j < hw; j++) {
                float xhat = (x[j] - mean) * invstd;
                dx[j] += k * (dy[j] - mean_dy - xhat * mean_dy_xhat);
            }
        }
    }
}

/* ---- fused, threaded batch norm (the resnet18 plugin's path) ----------- */
/* Same statistics, in a faster order and one pass: each image plane's
 * deviations from a shift, summed and squared, in float over 8 interleaved
 * partial sums (vectorisable; a plane holds at most a few thousand values),
 * the planes in double (bn_channel_moments). Channels are split over the
 * kernels' threads; a channel's sums never are, so the result does not
 * depend on the thread count. */
#include "parallel.h"

#define BN_LANES 8

/* 4 floats as one GCC vector (an SSE register on baseline x86-64; 32-byte
 * vectors there are spilled to the stack); 8 partial sums as two of them.
 * Element-wise arithmetic, so the same results as scalar partial sums. */
typedef float bn_v4 __attribute__((vector_size(16)));
typedef int32_t bn_v4i __attribute__((vector_size(16)));
typedef float bn_v4u __attribute__((vector_size(16), aligned(4), may_alias));
#define bn_v4_load(p) (*(const bn_v4u *)(p))

/* Mean and biased variance of channel ch in one pass over memory: the
 * deviations d = x - c from a shift c (the first plane's mean, close to the
 * channel's), sum d and sum d^2 per image plane over 8 float partial sums,
 * the planes in double; then mean = c + E[d], var = E[d^2] - E[d]^2. With
 * c near the mean, E[d]^2 is far below E[d^2], so the subtraction keeps its
 * digits (the unshifted E[x^2] - E[x]^2 loses them when |mean| >> std). */
static void bn_channel_moments(const float *in, int32_t n, int32_t c, int32_t hw, int32_t ch,
                               double *mean_out, double *var_out) {
    const float *x0 = in + (size_t)ch * hw; /* image 0's plane */
    /* two 4-float halves per 8 lanes: 16-byte vectors stay in registers on
     * baseline x86-64, where a 32-byte one would be spilled */
    bn_v4 a = {0}, b = {0};
    int32_t j = 0;
    for (; j + BN_LANES <= hw; j += BN_LANES) {
        a += bn_v4_load(x0 + j);
        b += bn_v4_load(x0 + j + 4);
    }
    float s0 = 0.0f;
    for (; j < hw; j++) s0 += x0[j];
    for (int l = 0; l < 4; l++) s0 += a[l] + b[l];
    const float shift = s0 / (float)hw;
    const bn_v4 vc = {shift, shift, shift, shift};
    double sum = 0.0, sq = 0.0;
    for (int32_t i = 0; i < n; i++) {
        const float *x = in + ((size_t)i * c + ch) * hw; /* (hw) */
        bn_v4 d1a = {0}, d1b = {0}, d2a = {0}, d2b = {0};
        for (j = 0; j + BN_LANES <= hw; j += BN_LANES) {
            bn_v4 da = bn_v4_load(x + j) - vc, db = bn_v4_load(x + j + 4) - vc;
            d1a += da;
            d1b += db;
            d2a += da * da;
            d2b += db * db;
        }
        float s1 = 0.0f, s2 = 0.0f;
        for (; j < hw; j++) {
            float d = x[j] - shift;
            s1 += d;
            s2 += d * d;
        }
        for (int l = 0; l < 4; l++) {
            s1 += d1a[l] + d1b[l];
            s2 += d2a[l] + d2b[l];
        }
        sum += s1;
        sq += s2;
    }
    const double count = (double)n * hw, md = sum / count, var = sq / count - md * md;
    *mean_out = shift + md;
    *var_out = var > 0.0 ? var : 0.0;
}

typedef struct bn_fwd_ctx {
    float *out, *running_mean, *running_var, *save_mean, *save_invstd;
    const float *in, *residual, *gamma, *beta;
    int32_t n, c, hw, train, relu;
    float momentum, eps;
} bn_fwd_ctx;

static void bn_fwd_part(void *vctx, int32_t part, int32_t nparts) {
    const bn_fwd_ctx *b = vctx;
    int64_t lo, hi;
    moco_part_range(b->c, part, nparts, 1, &lo, &hi);
    const double count = (double)b->n * b->hw;
    for (int32_t ch = (int32_t)lo; ch < (int32_t)hi; ch++) {
        double mean, var;
        if (b->train) {
            bn_channel_moments(b->in, b->n, b->c, b->hw, ch, &mean, &var);
            b->save_mean[ch] = (float)mean;
            b->save_invstd[ch] = (float)(1.0 / sqrt(var + b->eps));
            double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
            b->running_mean[ch] =
                (float)((1.0 - b->momentum) * b->running_mean[ch] + b->momentum * mean);
            b->running_var[ch] =
                (float)((1.0 - b->momentum) * b->running_var[ch] + b->momentum * unbiased);
        } else {
            mean = b->running_mean[ch];
            var = b->running_var[ch];
        }
        const float m = (float)mean;
        const float scale = (float)(b->gamma[ch] / sqrt(var + b->eps));
        const float sh = b->beta[ch];
        for (int32_t i = 0; i < b->n; i++) {
            const size_t off = ((size_t)i * b->c + ch) * b->hw;
            const float *x = b->in + off;   /* (hw) */
            float *y = b->out + off;        /* (hw), may alias x: element-wise */
            const float *restrict r = b->residual ? b->residual + off : NULL;
            if (r && b->relu) {
                for (int32_t j = 0; j < b->hw; j++) {
                    float v = (x[j] - m) * scale + sh + r[j];
                    y[j] = v < 0.0f ? 0.0f : v;
                }
            } else if (r) {
                for (int32_t j = 0; j < b->hw; j++) y[j] = (x[j] - m) * scale + sh + r[j];
            } else if (b->relu) {
                for (int32_t j = 0; j < b->hw; j++) {
                    float v = (x[j] - m) * scale + sh;
                    y[j] = v < 0.0f ? 0.0f : v;
                }
            } else {
                for (int32_t j = 0; j < b->hw; j++) y[j] = (x[j] - m) * scale + sh;
            }
        }
    }
}

void moco_batchnorm_forward_fused(float *out, float *running_mean, float *running_var,
                                  float *save_mean, float *save_invstd, const float *in,
                                  const float *residual, const float *gamma, const float *beta,
                                  int32_t n, int32_t c, int32_t hw, float momentum, float eps,
                                  int32_t train, int32_t relu) {
    bn_fwd_ctx b = {out,      running_mean, running_var, save_mean, save_invstd, in,
                    residual, gamma,        beta,        n,         c,           hw,
                    train,    relu,         momentum,    eps};
    moco_pool_run(bn_fwd_part, &b, moco_pool_parts(), (int64_t)n * c * hw < 32768 || c < 2);
}

typedef struct bn_bwd_ctx {
    float *din, *dgamma, *dbeta;
    const float *dout, *relu_out, *in, *gamma, *save_mean, *save_invstd;
    int32_t n, c, hw, accumulate;
} bn_bwd_ctx;

/* g = the gradient reaching BN: dy, or dy where the ReLU passed (ro > 0).
 * Written as selects, not branches, so the loops vectorise. */
static inline float bn_masked(const float *ro, const float *dy, int32_t j) {
    return ro ? (ro[j] > 0.0f ? dy[j] : 0.0f) : dy[j];
}

static void bn_bwd_part(void *vctx, int32_t part, int32_t nparts) {
    const bn_bwd_ctx *b = vctx;
    int64_t lo, hi;
    moco_part_range(b->c, part, nparts, 1, &lo, &hi);
    const double count = (double)b->n * b->hw;
    const int32_t hw = b->hw;
    for (int32_t ch = (int32_t)lo; ch < (int32_t)hi; ch++) {
        const float mean = b->save_mean[ch], invstd = b->save_invstd[ch];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int32_t i = 0; i < b->n; i++) {
            const size_t off = ((size_t)i * b->c + ch) * hw;
            const float *restrict x = b->in + off, *restrict dy = b->dout + off; /* (hw) */
            /* lane l of a1, a2 sums elements j = l mod 8, as a scalar loop
             * over 8 partial sums would (GCC left that loop scalar) */
            /* two 4-float halves per 8 lanes (16-byte vectors stay in
             * registers on baseline x86-64; 32-byte ones were spilled) */
            bn_v4 a1[2] = {{0}}, a2[2] = {{0}};
            const bn_v4 vmean = {mean, mean, mean, mean};
            const bn_v4 vinvstd = {invstd, invstd, invstd, invstd};
            int32_t j = 0;
            if (b->relu_out) {
                const float *ro = b->relu_out + off;
                const bn_v4 zero = {0};
                for (; j + BN_LANES <= hw; j += BN_LANES)
                    for (int h = 0; h < 2; h++) {
                        const int32_t jj = j + 4 * h;
                        bn_v4 g = (bn_v4)((bn_v4i)bn_v4_load(dy + jj) & (bn_v4_load(ro + jj) > zero));
                        a1[h] += g;
                        a2[h] += g * ((bn_v4_load(x + jj) - vmean) * vinvstd);
                    }
            } else {
                for (; j + BN_LANES <= hw; j += BN_LANES)
                    for (int h = 0; h < 2; h++) {
                        const int32_t jj = j + 4 * h;
                        bn_v4 g = bn_v4_load(dy + jj);
                        a1[h] += g;
                        a2[h] += g * ((bn_v4_load(x + jj) - vmean) * vinvstd);
                    }
            }
            const float *ro = b->relu_out ? b->relu_out + off : NULL;
            for (; j < hw; j++) {
                float g = bn_masked(ro, dy, j);
                a1[0][0] += g;
                a2[0][0] += g * ((x[j] - mean) * invstd);
            }
            float s1 = 0.0f, s2 = 0.0f;
            for (int l = 0; l < BN_LANES; l++) {
                s1 += a1[l / 4][l % 4];
                s2 += a2[l / 4][l % 4];
            }
            sum_dy += s1;
            sum_dy_xhat += s2;
        }
        if (b->dgamma) b->dgamma[ch] += (float)sum_dy_xhat;
        if (b->dbeta) b->dbeta[ch] += (float)sum_dy;
        if (!b->din) continue;
        const float k = b->gamma[ch] * invstd;
        const float mean_dy = (float)(sum_dy / count);
        const float mean_dy_xhat = (float)(sum_dy_xhat / count);
        for (int32_t i = 0; i < b->n; i++) {
            const size_t off = ((size_t)i * b->c + ch) * hw;
            const float *restrict x = b->in + off, *restrict dy = b->dout + off; /* (hw) */
            const float *restrict ro = b->relu_out ? b->relu_out + off : NULL;
            float *restrict dx = b->din + off;                                   /* (hw) */
            /* dy is loaded unconditionally so the select vectorises */
            if (ro && b->accumulate) {
                for (int32_t j = 0; j < hw; j++) {
                    float d = dy[j], g = ro[j] > 0.0f ? d : 0.0f;
                    dx[j] += k * (g - mean_dy - (x[j] - mean) * invstd * mean_dy_xhat);
                }
            } else if (ro) {
                for (int32_t j = 0; j < hw; j++) {
                    float d = dy[j], g = ro[j] > 0.0f ? d : 0.0f;
                    dx[j] = k * (g - mean_dy - (x[j] - mean) * invstd * mean_dy_xhat);
                }
            } else if (b->accumulate) {
                for (int32_t j = 0; j < hw; j++)
                    dx[j] += k * (dy[j] - mean_dy - (x[j] - mean) * invstd * mean_dy_xhat);
            } else {
                for (int32_t j = 0; j < hw; j++)
                    dx[j] = k * (dy[j] - mean_dy - (x[j] - mean) * invstd * mean_dy_xhat);
            }
        }
    }
}

void moco_batchnorm_backward_fused(float *din, float *dgamma, float *dbeta, const float *dout,
                                   const float *relu_out, const float *in, const float *gamma,
                                   const float *save_mean, const float *save_invstd, int32_t n,
                                   int32_t c, int32_t hw, int32_t accumulate) {
    bn_bwd_ctx b = {din,   dgamma, dbeta, dout, relu_out, in,        gamma, save_mean,
                    save_invstd, n, c, hw, accumulate};
    moco_pool_run(bn_bwd_part, &b, moco_pool_parts(), (int64_t)n * c * hw < 32768 || c < 2);
}
