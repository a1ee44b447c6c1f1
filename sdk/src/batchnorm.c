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
