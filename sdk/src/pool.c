/* Pooling: max pooling with argmax indices (the stem's 3x3/2 pad 1) and
 * global average pooling (before the fc / projection head). */
#include "moco/kernels.h"
#include "moco/sdk.h"

void moco_maxpool2d_forward(float *out, int32_t *argmax, const float *in, int32_t n,
                            int32_t c, int32_t h, int32_t w, int32_t k, int32_t stride,
                            int32_t pad) {
    /* PyTorch's constraint pad <= k/2 guarantees every window overlaps the
     * input, so the window below is never empty and padding never wins. */
    MOCO_ASSERT(k >= 1 && stride >= 1 && pad >= 0 && 2 * pad <= k && h + 2 * pad >= k &&
                w + 2 * pad >= k);
    const int32_t h_out = (h + 2 * pad - k) / stride + 1;
    const int32_t w_out = (w + 2 * pad - k) / stride + 1;
    const size_t planes = (size_t)n * c;
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * h * w;              /* (h, w) */
        float *y = out + p * h_out * w_out;           /* (h_out, w_out) */
        int32_t *am = argmax + p * h_out * w_out;     /* (h_out, w_out) */
        for (int32_t oh = 0; oh < h_out; oh++) {
            int32_t h0 = oh * stride - pad, h1 = h0 + k;
            if (h0 < 0) h0 = 0;
            if (h1 > h) h1 = h;
            for (int32_t ow = 0; ow < w_out; ow++) {
                int32_t w0 = ow * stride - pad, w1 = w0 + k;
                if (w0 < 0) w0 = 0;
                if (w1 > w) w1 = w;
                int32_t best = h0 * w + w0;
                for (int32_t ih = h0; ih < h1; ih++)
                    for (int32_t iw = w0; iw < w1; iw++) {
                        float v = x[ih * w + iw];
                        /* NaN wins, as in PyTorch, so it propagates */
                        if (v > x[best] || v != v) best = ih * w + iw;
                    }
                y[oh * w_out + ow] = x[best];
                am[oh * w_out + ow] = best;
            }
        }
    }
}

void moco_maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                             int32_t n, int32_t c, int32_t h, int32_t w, int32_t h_out,
                             int32_t w_out) {
    const size_t planes = (size_t)n * c, in_plane = (size_t)h * w;
    const size_t out_plane = (size_t)h_out * w_out;
    for (size_t p = 0; p < planes; p++) {
        float *dx = din + p * in_plane;              /* (h, w) */
        const float *dy = dout + p * out_plane;      /* (h_out, w_out) */
        const int32_t *am = argmax + p * out_plane;  /* (h_out, w_out) */
        for (size_t j = 0; j < out_plane; j++) dx[am[j]] += dy[j];
    }
}

void moco_avgpool_global_forward(float *out, const float *in, int32_t n, int32_t c,
                                 int32_t hw) {
    const size_t planes = (size_t)n * c;
    for (size_t p = 0; p < planes; p++) {
        const float *x = in + p * hw; /* (hw) */
        double sum = 0.0;
        for (int32_t j = 0; j < hw; j++) sum += x[j];
        out[p] = (float)(sum / hw);
    }
}

void moco_avgpool_global_backward(float *din, const float *dout, int32_t n, int32_t c,
                                  int32_t hw) {
    const size_t planes = (size_t)n * c;
    for (size_t p = 0; p < planes; p++) {
        float *dx = din + p * hw; /* (hw) */
        const float g = dout[p] / (float)hw;
        for (int32_t j = 0; j < hw; j++) dx[j] += g;
    }
}
