/* Fully connected layer (projection head, classifier): two GEMMs. */
#include <string.h>

#include "moco/kernels.h"

void moco_linear_forward(float *out, const float *in, const float *weight,
                         const float *bias, int32_t n, int32_t in_features,
                         int32_t out_features) {
    /* Broadcast the bias into out first so the GEMM adds onto it (beta 1). */
    float beta = 0.0f;
    if (bias) {
        for (int32_t r = 0; r < n; r++)
            memcpy(out + (size_t)r * out_features, bias, sizeof(float) * (size_t)out_features);
        beta = 1.0f;
    }
    /* out (n, o) = in (n, i) . weight^T (i, o) + beta * out */
    moco_sgemm(0, 1, n, out_features, in_features, 1.0f, in, in_features, weight,
               in_features, beta, out, out_features);
}

void moco_linear_backward(float *din, float *dweight, float *dbias, const float *dout,
                          const float *in, const float *weight, int32_t n,
                          int32_t in_features, int32_t out_features) {
    /* din (n, i) += dout (n, o) . weight (o, i) */
    if (din)
        moco_sgemm(0, 0, n, in_features, out_features, 1.0f, dout, out_features, weight,
                   in_features, 1.0f, din, in_features);
    /* dweight (o, i) += dout^T (o, n) . in (n, i) */
    if (dweight)
        moco_sgemm(1, 0, out_features, in_features, n, 1.0f, dout, out_features, in,
                   in_features, 1.0f, dweight, in_features);
    if (dbias)
        for (int32_t o = 0; o < out_features; o++) {
            double sum = 0.0;
            for (int32_t r = 0; r < n; r++) sum += dout[(size_t)r * out_features + o];
            dbias[o] += (float)sum;
        }
}
