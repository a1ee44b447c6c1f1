/* Row-wise L2 normalisation of embeddings, as torch.nn.functional.normalize:
 * y = x / max(||x||, eps). The cache holds that divisor per row. */
#include <math.h>

#include "moco/kernels.h"

#define L2NORM_EPS 1e-12f

void moco_l2norm_forward(float *out, float *norms, const float *in, int32_t n, int32_t d) {
    for (int32_t r = 0; r < n; r++) {
        const float *x = in + (size_t)r * d; /* (d) */
        float *y = out + (size_t)r * d;      /* (d), may alias x */
        double sq = 0.0;
        for (int32_t j = 0; j < d; j++) sq += (double)x[j] * x[j];
        double norm = sqrt(sq);
        float div = norm > L2NORM_EPS ? (float)norm : L2NORM_EPS;
        if (norms) norms[r] = div; /* NULL: inference, no backward follows */
        for (int32_t j = 0; j < d; j++) y[j] = x[j] / div;
    }
}

void moco_l2norm_backward(float *din, const float *dout, const float *out,
                          const float *norms, int32_t n, int32_t d) {
    for (int32_t r = 0; r < n; r++) {
        const float *y = out + (size_t)r * d, *dy = dout + (size_t)r * d; /* (d) */
        float *dx = din + (size_t)r * d;                                   /* (d) */
        const float inv = 1.0f / norms[r];
        /* Clamped rows are y = x / eps, a plain scaling: no projection. */
        double dot = 0.0;
        if (norms[r] > L2NORM_EPS)
            for (int32_t j = 0; j < d; j++) dot += (double)dy[j] * y[j];
        const float fdot = (float)dot;
        for (int32_t j = 0; j < d; j++) dx[j] += (dy[j] - y[j] * fdot) * inv;
    }
}
