/* 2-D convolution (no bias), NCHW.
 * Fast path: per image, unfold the input into columns (im2col) in the
 * caller's workspace, then one GEMM against the (c_out, c_in*kh*kw) weight
 * matrix. 1x1 / stride 1 / pad 0 convs are already a GEMM on the raw image,
 * so they skip the unfold. Backward reuses the same workspace: first the
 * columns of the input for dweight, then the columns of din for col2im. */
#include <string.h>

#include "moco/kernels.h"

int32_t moco_conv_shape_init(moco_conv_shape *s) {
    s->h_out = s->w_out = 0;
    if (s->n < 1 || s->c_in < 1 || s->h < 1 || s->w < 1 || s->c_out < 1 || s->kh < 1 ||
        s->kw < 1 || s->stride < 1 || s->pad < 0)
        return -1;
    int64_t span_h = (int64_t)s->h + 2 * (int64_t)s->pad - s->kh;
    int64_t span_w = (int64_t)s->w + 2 * (int64_t)s->pad - s->kw;
    /* Test before dividing: C division truncates toward zero, so a negative
     * span would otherwise give a bogus output size of 1. */
    if (span_h < 0 || span_w < 0) return -1;
    s->h_out = (int32_t)(span_h / s->stride + 1);
    s->w_out = (int32_t)(span_w / s->stride + 1);
    return 0;
}

size_t moco_conv2d_workspace(const moco_conv_shape *s) {
    /* Also returned for 1x1 convs (which do not touch it) so callers can
     * always allocate max-over-layers without a zero-size special case. */
    return (size_t)s->c_in * s->kh * s->kw * s->h_out * s->w_out;
}

static int conv_is_pointwise(const moco_conv_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

/* Output positions [*lo, *hi) whose input index o*stride - pad + k falls
 * inside [0, size). Hoisting this out of the inner loop leaves a branch-free
 * copy (a memcpy when stride is 1). */
static void conv_valid_range(int32_t k, int32_t pad, int32_t stride, int32_t size,
                             int32_t out_size, int32_t *lo, int32_t *hi) {
    int32_t first = pad - k;          /* need o*stride >= first */
    int32_t end = size + pad - k;     /* need o*stride <  end   */
    int32_t l = first <= 0 ? 0 : (first + stride - 1) / stride;
    int32_t h = end <= 0 ? 0 : (end + stride - 1) / stride;
    if (h > out_size) h = out_size;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* col (c_in*kh*kw, h_out*w_out) <- in (c_in, h, w); zeros where the window
 * covers padding. Row (c, ki, kj) holds in[c][oh*stride-pad+ki][ow*stride-pad+kj]. */
static void conv_im2col(float *col, const float *in, const moco_conv_shape *s) {
    const int32_t h_out = s->h_out, w_out = s->w_out, stride = s->stride;
    const size_t hw_out = (size_t)h_out * w_out;
    for (int32_t c = 0; c < s->c_in; c++) {
        const float *plane = in + (size_t)c * s->h * s->w; /* (h, w) */
        for (int32_t ki = 0; ki < s->kh; ki++) {
            int32_t oh_lo, oh_hi;
            conv_valid_range(ki, s->pad, stride, s->h, h_out, &oh_lo, &oh_hi);
            for (int32_t kj = 0; kj < s->kw; kj++) {
                int32_t ow_lo, ow_hi;
                conv_valid_range(kj, s->pad, stride, s->w, w_out, &ow_lo, &ow_hi);
                float *row = col + ((size_t)(c * s->kh + ki) * s->kw + kj) * hw_out;
                for (int32_t oh = 0; oh < h_out; oh++) {
                    float *dst = row + (size_t)oh * w_out; /* (w_out) */
                    if (oh < oh_lo || oh >= oh_hi) {
                        memset(dst, 0, sizeof(float) * (size_t)w_out);
                        continue;
                    }
                    /* Index arithmetic, not pointer arithmetic: the row's
                     * origin can lie before the plane when kj < pad. */
                    ptrdiff_t base = (ptrdiff_t)(oh * stride - s->pad + ki) * s->w + kj - s->pad;
                    for (int32_t ow = 0; ow < ow_lo; ow++) dst[ow] = 0.0f;
                    if (stride == 1) {
                        memcpy(dst + ow_lo, plane + base + ow_lo,
                               sizeof(float) * (size_t)(ow_hi - ow_lo));
                    } else {
                        for (int32_t ow = ow_lo; ow < ow_hi; ow++)
                            dst[ow] = plane[base + (ptrdiff_t)ow * stride];
                    }
                    for (int32_t ow = ow_hi; ow < w_out; ow++) dst[ow] = 0.0f;
                }
            }
        }
    }
}

/* din (c_in, h, w) += fold(col (c_in*kh*kw, h_out*w_out)); the adjoint of
 * conv_im2col, so padded positions are simply dropped. */
static void conv_col2im_add(float *din, const float *col, const moco_conv_shape *s) {
    const int32_t h_out = s->h_out, w_out = s->w_out, stride = s->stride;
    const size_t hw_out = (size_t)h_out * w_out;
    for (int32_t c = 0; c < s->c_in; c++) {
        float *plane = din + (size_t)c * s->h * s->w; /* (h, w) */
        for (int32_t ki = 0; ki < s->kh; ki++) {
            int32_t oh_lo, oh_hi;
            conv_valid_range(ki, s->pad, stride, s->h, h_out, &oh_lo, &oh_hi);
            for (int32_t kj = 0; kj < s->kw; kj++) {
                int32_t ow_lo, ow_hi;
                conv_valid_range(kj, s->pad, stride, s->w, w_out, &ow_lo, &ow_hi);
                const float *row = col + ((size_t)(c * s->kh + ki) * s->kw + kj) * hw_out;
                for (int32_t oh = oh_lo; oh < oh_hi; oh++) {
                    const float *src = row + (size_t)oh * w_out; /* (w_out) */
                    ptrdiff_t base = (ptrdiff_t)(oh * stride - s->pad + ki) * s->w + kj - s->pad;
                    for (int32_t ow = ow_lo; ow < ow_hi; ow++)
                        plane[base + (ptrdiff_t)ow * stride] += src[ow];
                }
            }
        }
    }
}

void moco_conv2d_forward(float *out, const float *in, const float *weight, float *ws,
                         const moco_conv_shape *s) {
    const int32_t kdim = s->c_in * s->kh * s->kw;
    const int32_t hw_out = s->h_out * s->w_out;
    const size_t in_size = (size_t)s->c_in * s->h * s->w;
    const size_t out_size = (size_t)s->c_out * hw_out;
    const int pointwise = conv_is_pointwise(s);
    for (int32_t i = 0; i < s->n; i++) {
        const float *x = in + i * in_size; /* (c_in, h, w) */
        float *y = out + i * out_size;     /* (c_out, h_out, w_out) */
        const float *col = x;              /* (kdim, hw_out) */
        if (!pointwise) {
            conv_im2col(ws, x, s);
            col = ws;
        }
        /* y (c_out, hw_out) = weight (c_out, kdim) . col (kdim, hw_out) */
        moco_sgemm(0, 0, s->c_out, hw_out, kdim, 1.0f, weight, kdim, col, hw_out, 0.0f, y,
                   hw_out);
    }
}

void moco_conv2d_backward(float *din, float *dweight, const float *dout, const float *in,
                          const float *weight, float *ws, const moco_conv_shape *s) {
    const int32_t kdim = s->c_in * s->kh * s->kw;
    const int32_t hw_out = s->h_out * s->w_out;
    const int32_t hw_in = s->h * s->w;
    const size_t in_size = (size_t)s->c_in * hw_in;
    const size_t out_size = (size_t)s->c_out * hw_out;
    const int pointwise = conv_is_pointwise(s);
    for (int32_t i = 0; i < s->n; i++) {
        const float *x = in + i * in_size;    /* (c_in, h, w) */
        const float *dy = dout + i * out_size; /* (c_out, hw_out) */
        if (dweight) {
            const float *col = x; /* (kdim, hw_out) */
            if (!pointwise) {
                conv_im2col(ws, x, s);
                col = ws;
            }
            /* dweight (c_out, kdim) += dy (c_out, hw_out) . col^T (hw_out, kdim) */
            moco_sgemm(0, 1, s->c_out, kdim, hw_out, 1.0f, dy, hw_out, col, hw_out, 1.0f,
                       dweight, kdim);
        }
        if (din) {
            float *dx = din + i * in_size; /* (c_in, h, w) */
            if (pointwise) {
                /* dx (c_in, hw) += weight^T (c_in, c_out) . dy (c_out, hw) */
                moco_sgemm(1, 0, s->c_in, hw_in, s->c_out, 1.0f, weight, kdim, dy, hw_out,
                           1.0f, dx, hw_in);
            } else {
                /* ws (kdim, hw_out) = weight^T (kdim, c_out) . dy (c_out, hw_out) */
                moco_sgemm(1, 0, kdim, hw_out, s->c_out, 1.0f, weight, kdim, dy, hw_out,
                           0.0f, ws, hw_out);
                conv_col2im_add(dx, ws, s);
            }
        }
    }
}

/* ---- naive twins: direct loops, double accumulation, tests only -------- */

/* Flat offset of (a, b, y, x) in a contiguous (., nb, ny, nx) tensor. */
static size_t conv_at(int32_t a, int32_t b, int32_t y, int32_t x, int32_t nb, int32_t ny,
                      int32_t nx) {
    return (((size_t)a * nb + b) * ny + y) * nx + x;
}

void moco_conv2d_forward_naive(float *out, const float *in, const float *weight,
                               const moco_conv_shape *s) {
    for (int32_t i = 0; i < s->n; i++)
        for (int32_t co = 0; co < s->c_out; co++)
            for (int32_t oh = 0; oh < s->h_out; oh++)
                for (int32_t ow = 0; ow < s->w_out; ow++) {
                    double acc = 0.0;
                    for (int32_t ci = 0; ci < s->c_in; ci++)
                        for (int32_t ki = 0; ki < s->kh; ki++) {
                            int32_t ih = oh * s->stride - s->pad + ki;
                            if (ih < 0 || ih >= s->h) continue;
                            for (int32_t kj = 0; kj < s->kw; kj++) {
                                int32_t iw = ow * s->stride - s->pad + kj;
                                if (iw < 0 || iw >= s->w) continue;
                                acc += (double)in[conv_at(i, ci, ih, iw, s->c_in, s->h, s->w)] *
                                       weight[conv_at(co, ci, ki, kj, s->c_in, s->kh, s->kw)];
                            }
                        }
                    out[conv_at(i, co, oh, ow, s->c_out, s->h_out, s->w_out)] = (float)acc;
                }
}

/* Output index that input index x feeds through kernel tap k, or -1. */
static int32_t conv_naive_out_index(int32_t x, int32_t k, int32_t pad, int32_t stride,
                                    int32_t out_size) {
    int32_t t = x + pad - k;
    if (t < 0 || t % stride) return -1;
    t /= stride;
    return t < out_size ? t : -1;
}

void moco_conv2d_backward_naive(float *din, float *dweight, const float *dout,
                                const float *in, const float *weight,
                                const moco_conv_shape *s) {
    /* Gather form for din (each input pixel sums the outputs it fed), so the
     * twin shares no structure with the scatter done by col2im. */
    if (din)
        for (int32_t i = 0; i < s->n; i++)
            for (int32_t ci = 0; ci < s->c_in; ci++)
                for (int32_t ih = 0; ih < s->h; ih++)
                    for (int32_t iw = 0; iw < s->w; iw++) {
                        double acc = 0.0;
                        for (int32_t co = 0; co < s->c_out; co++)
                            for (int32_t ki = 0; ki < s->kh; ki++) {
                                int32_t oh = conv_naive_out_index(ih, ki, s->pad, s->stride, s->h_out);
                                if (oh < 0) continue;
                                for (int32_t kj = 0; kj < s->kw; kj++) {
                                    int32_t ow = conv_naive_out_index(iw, kj, s->pad, s->stride, s->w_out);
                                    if (ow < 0) continue;
                                    acc += (double)dout[conv_at(i, co, oh, ow, s->c_out, s->h_out, s->w_out)] *
                                           weight[conv_at(co, ci, ki, kj, s->c_in, s->kh, s->kw)];
                                }
                            }
                        din[conv_at(i, ci, ih, iw, s->c_in, s->h, s->w)] += (float)acc;
                    }
    if (dweight)
        for (int32_t co = 0; co < s->c_out; co++)
            for (int32_t ci = 0; ci < s->c_in; ci++)
                for (int32_t ki = 0; ki < s->kh; ki++)
                    for (int32_t kj = 0; kj < s->kw; kj++) {
                        double acc = 0.0;
                        for (int32_t i = 0; i < s->n; i++)
                            for (int32_t oh = 0; oh < s->h_out; oh++) {
                                int32_t ih = oh * s->stride - s->pad + ki;
                                if (ih < 0 || ih >= s->h) continue;
                                for (int32_t ow = 0; ow < s->w_out; ow++) {
                                    int32_t iw = ow * s->stride - s->pad + kj;
                                    if (iw < 0 || iw >= s->w) continue;
                                    acc += (double)dout[conv_at(i, co, oh, ow, s->c_out, s->h_out, s->w_out)] *
                                           in[conv_at(i, ci, ih, iw, s->c_in, s->h, s->w)];
                                }
                            }
                        dweight[conv_at(co, ci, ki, kj, s->c_in, s->kh, s->kw)] += (float)acc;
                    }
}
