/* Element-wise kernels: ReLU and the residual add. Plain loops that the
 * compiler vectorises; no naive twins because they are their own reference. */
#include "moco/kernels.h"

void moco_relu_forward(float *out, const float *in, int64_t count) {
    /* `x < 0 ? 0 : x` rather than `x > 0 ? x : 0` so a NaN propagates (as in
     * PyTorch) and a diverging run is noticed instead of silently zeroed. */
    for (int64_t i = 0; i < count; i++) out[i] = in[i] < 0.0f ? 0.0f : in[i];
}

void moco_relu_backward(float *din, const float *dout, const float *out, int64_t count) {
    for (int64_t i = 0; i < count; i++) din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

void moco_add(float *out, const float *a, const float *b, int64_t count) {
    for (int64_t i = 0; i < count; i++) out[i] = a[i] + b[i];
}
