/* 2-D convolution (no bias), NCHW.
 * Fast path: unfold the input into columns (im2col) in the caller's
 * workspace, then one GEMM against the (c_out, c_in*kh*kw) weight matrix.
 * Small feature maps (CIFAR's 8x8 and 4x4 stages) make a per-image GEMM
 * skinny and slow, so images are unfolded side by side in groups of
 * conv_group() to give the GEMM at least CONV_GROUP_COLUMNS columns; the
 * GEMM's (c_out, group*hw_out) result is then scattered back to NCHW.
 * 1x1 / stride 1 / pad 0 convs are already a GEMM on the raw image and skip
 * the unfold. Taps that only ever read padding (8 of 9 for a 3x3 conv on
 * a 1x1 map) are left out of the unfold and of the GEMMs. Backward reuses
 * the workspace: first the columns of the input for dweight, then the
 * columns of din for col2im. */
#include <string.h>

#include "moco/kernels.h"
#include "parallel.h"
#include "winograd.h"

/* GEMM width below which images are grouped. Measured on ResNet-18/CIFAR
 * shapes (OpenBLAS, one thread): 256 lifts the 8x8 and 4x4 stages from
 * ~23 to ~32 GFLOP/s; 512 and 1024 gain nothing more and quadruple the
 * workspace, which is (c_in*kh*kw + c_out) * 256 floats (5 MiB at 512
 * channels). */
#define CONV_GROUP_COLUMNS 256

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

/* Images unfolded side by side per GEMM. Independent of s->n, so a
 * workspace sized once serves every batch size. */
static int32_t conv_group(const moco_conv_shape *s) {
    int32_t hw_out = s->h_out * s->w_out;
    return hw_out >= CONV_GROUP_COLUMNS ? 1 : (CONV_GROUP_COLUMNS + hw_out - 1) / hw_out;
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

/* Taps (ki, kj) whose window reads at least one input pixel for some output
 * position. The others ("dead" taps: a 3x3 conv on a 1x1 map has 8) only
 * ever multiply padding zeros, so the unfold leaves their rows out and the
 * GEMMs run on the live columns of the weight matrix: on ResNet-18's last
 * stage at 32x32 input (1x1 maps) that is 1/9 of the work. */
#define CONV_COMPACT_MAX 32

static int32_t conv_live_taps(const moco_conv_shape *s) {
    int32_t rows = 0, cols = 0, lo, hi;
    for (int32_t k = 0; k < s->kh; k++) {
        conv_valid_range(k, s->pad, s->stride, s->h, s->h_out, &lo, &hi);
        rows += lo < hi;
    }
    for (int32_t k = 0; k < s->kw; k++) {
        conv_valid_range(k, s->pad, s->stride, s->w, s->w_out, &lo, &hi);
        cols += lo < hi;
    }
    return rows * cols;
}

/* The live taps (ki*kw + kj, row-major); returns their count. */
static int32_t conv_tap_list(const moco_conv_shape *s, int32_t *tap) {
    int32_t t = 0, lo, hi, lo2, hi2;
    for (int32_t ki = 0; ki < s->kh; ki++) {
        conv_valid_range(ki, s->pad, s->stride, s->h, s->h_out, &lo, &hi);
        for (int32_t kj = 0; kj < s->kw; kj++) {
            conv_valid_range(kj, s->pad, s->stride, s->w, s->w_out, &lo2, &hi2);
            if (lo < hi && lo2 < hi2) tap[t++] = ki * s->kw + kj;
        }
    }
    return t;
}

/* wl (c_out, c_in*L) <- the live columns of w (c_out, c_in*kh*kw), in
 * conv_im2col's row order. */
static void conv_weight_gather(float *wl, const float *w, const moco_conv_shape *s) {
    int32_t tap[CONV_COMPACT_MAX * CONV_COMPACT_MAX];
    const int32_t live = conv_tap_list(s, tap), kk = s->kh * s->kw;
    for (size_t r = 0; r < (size_t)s->c_out * s->c_in; r++)
        for (int32_t i = 0; i < live; i++) wl[r * live + i] = w[r * kk + tap[i]];
}

/* w (c_out, c_in*kh*kw) += wl (c_out, c_in*L) on the live columns. */
static void conv_weight_add(float *w, const float *wl, const moco_conv_shape *s) {
    int32_t tap[CONV_COMPACT_MAX * CONV_COMPACT_MAX];
    const int32_t live = conv_tap_list(s, tap), kk = s->kh * s->kw;
    for (size_t r = 0; r < (size_t)s->c_out * s->c_in; r++)
        for (int32_t i = 0; i < live; i++) w[r * kk + tap[i]] += wl[r * live + i];
}

/* Whether the GEMMs run on the live columns only: some tap is dead (and
 * the kernel is at most CONV_COMPACT_MAX on a side). */
static int conv_compact(const moco_conv_shape *s) {
    return s->kh <= CONV_COMPACT_MAX && s->kw <= CONV_COMPACT_MAX &&
           conv_live_taps(s) < s->kh * s->kw;
}

/* Where the live weight columns start in the workspace: after the columns
 * and the grouped result (see moco_conv2d_workspace). */
static size_t conv_weight_offset(const moco_conv_shape *s);

/* Rows of the unfolded matrix per input channel: L or kh*kw. */
static int32_t conv_taps(const moco_conv_shape *s) {
    return conv_compact(s) ? conv_live_taps(s) : s->kh * s->kw;
}

size_t moco_conv2d_workspace(const moco_conv_shape *s) {
    const size_t group = (size_t)conv_group(s);
    const size_t cols = group * s->h_out * s->w_out;
    const size_t kdim = (size_t)s->c_in * conv_taps(s);
    /* columns (kdim, cols), plus the GEMM result (c_out, cols) when it must
     * be scattered to several images, plus the live weight columns and
     * their gradient (2 x (c_out, kdim)) when some taps are dead. Also
     * returned for 1x1 convs, which do not touch it, so callers can size
     * one buffer as a max over layers. */
    size_t ws = kdim * cols + (group > 1 ? (size_t)s->c_out * cols : 0) +
                (conv_compact(s) ? 2 * (size_t)s->c_out * kdim : 0);
    /* The Winograd path (3x3, stride 1, pad 1) needs its own buffers; sized
     * for both tile sizes so the choice can change at run time. */
    if (s->kh == 3 && s->kw == 3 && s->stride == 1 && s->pad == 1 && s->h >= 4 && s->w >= 4)
        for (int32_t m = 2; m <= 4; m += 2) {
            size_t x = moco_wg_workspace(s, m);
            if (x > ws) ws = x;
        }
    return ws;
}

static size_t conv_weight_offset(const moco_conv_shape *s) {
    const size_t group = (size_t)conv_group(s);
    const size_t cols = group * s->h_out * s->w_out;
    return (size_t)s->c_in * conv_taps(s) * cols + (group > 1 ? (size_t)s->c_out * cols : 0);
}

/* col (c_in*L, h_out*w_out), row stride ld <- in (c_in, h, w), L =
 * conv_taps(s); zeros where the window covers padding. Row c*L + t, for
 * the t-th tap (ki, kj) in row-major order not left out as dead, holds
 * in[c][oh*stride-pad+ki][ow*stride-pad+kj]. */
static void conv_im2col(float *col, size_t ld, const float *in, const moco_conv_shape *s,
                        int32_t c_lo, int32_t c_hi) {
    const int32_t h_out = s->h_out, w_out = s->w_out, stride = s->stride;
    const int32_t taps = conv_taps(s), skip = taps < s->kh * s->kw;
    for (int32_t c = c_lo; c < c_hi; c++) {
        const float *plane = in + (size_t)c * s->h * s->w; /* (h, w) */
        int32_t t = 0;
        for (int32_t ki = 0; ki < s->kh; ki++) {
            int32_t oh_lo, oh_hi;
            conv_valid_range(ki, s->pad, stride, s->h, h_out, &oh_lo, &oh_hi);
            for (int32_t kj = 0; kj < s->kw; kj++) {
                int32_t ow_lo, ow_hi;
                conv_valid_range(kj, s->pad, stride, s->w, w_out, &ow_lo, &ow_hi);
                if (skip && (oh_lo == oh_hi || ow_lo == ow_hi)) continue; /* dead tap */
                float *row = col + ((size_t)c * taps + t++) * ld;
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

/* din (c_in, h, w) += fold(col (c_in*L, h_out*w_out), row stride ld);
 * the adjoint of conv_im2col, so padded positions are simply dropped. */
static void conv_col2im_add(float *din, const float *col, size_t ld,
                            const moco_conv_shape *s, int32_t c_lo, int32_t c_hi) {
    const int32_t w_out = s->w_out, stride = s->stride;
    const int32_t taps = conv_taps(s), skip = taps < s->kh * s->kw;
    for (int32_t c = c_lo; c < c_hi; c++) {
        float *plane = din + (size_t)c * s->h * s->w; /* (h, w) */
        int32_t t = 0;
        for (int32_t ki = 0; ki < s->kh; ki++) {
            int32_t oh_lo, oh_hi;
            conv_valid_range(ki, s->pad, stride, s->h, s->h_out, &oh_lo, &oh_hi);
            for (int32_t kj = 0; kj < s->kw; kj++) {
                int32_t ow_lo, ow_hi;
                conv_valid_range(kj, s->pad, stride, s->w, w_out, &ow_lo, &ow_hi);
                if (skip && (oh_lo == oh_hi || ow_lo == ow_hi)) continue; /* dead tap */
                const float *row = col + ((size_t)c * taps + t++) * ld;
                for (int32_t oh = oh_lo; oh < oh_hi; oh++) {
                    const float *src = row + (size_t)oh * w_out; /* (w_out) */
                    ptrdiff_t base = (ptrdiff_t)(oh * stride - s->pad + ki) * s->w + kj - s->pad;
                    if (stride == 1) {
                        /* contiguous: a loop the compiler vectorises */
                        float *dst = plane + base + ow_lo;
                        const float *from = src + ow_lo;
                        for (int32_t x = 0; x < ow_hi - ow_lo; x++) dst[x] += from[x];
                    } else {
                        for (int32_t ow = ow_lo; ow < ow_hi; ow++)
                            plane[base + (ptrdiff_t)ow * stride] += src[ow];
                    }
                }
            }
        }
    }
}

/* im2col / col2im of the g images of a group on the pool, split by input
 * channel: every part writes its own rows of col (im2col) or its own planes
 * of din (col2im), so the result does not depend on the split. */
typedef struct conv_cols_ctx {
    float *col;             /* (kdim, cols) */
    float *din;             /* col2im: (g, c_in, h, w) */
    const float *in;        /* im2col: (g, c_in, h, w) */
    size_t cols, hw_out, in_size;
    int32_t g;
    const moco_conv_shape *s;
} conv_cols_ctx;

static void conv_im2col_part(void *vctx, int32_t part, int32_t nparts) {
    const conv_cols_ctx *c = vctx;
    int64_t lo, hi;
    moco_part_range(c->s->c_in, part, nparts, 1, &lo, &hi);
    for (int32_t j = 0; j < c->g; j++)
        conv_im2col(c->col + j * c->hw_out, c->cols, c->in + j * c->in_size, c->s, (int32_t)lo,
                    (int32_t)hi);
}

static void conv_col2im_part(void *vctx, int32_t part, int32_t nparts) {
    const conv_cols_ctx *c = vctx;
    int64_t lo, hi;
    moco_part_range(c->s->c_in, part, nparts, 1, &lo, &hi);
    for (int32_t j = 0; j < c->g; j++)
        conv_col2im_add(c->din + j * c->in_size, c->col + j * c->hw_out, c->cols, c->s,
                        (int32_t)lo, (int32_t)hi);
}

static void conv_cols_run(moco_part_fn fn, conv_cols_ctx *c) {
    int32_t parts = moco_pool_parts();
    if (parts > c->s->c_in) parts = c->s->c_in;
    moco_pool_run(fn, c, parts, c->cols * (size_t)c->s->c_in * c->s->kh * c->s->kw < 65536);
}

/* Between one image's (c_out, hw_out) block and its slot in a group's
 * (c_out, cols) GEMM operand, which interleaves the images per channel. */
static void conv_scatter(float *img, const float *grouped, size_t cols, int32_t j,
                         const moco_conv_shape *s) {
    const size_t hw_out = (size_t)s->h_out * s->w_out;
    for (int32_t co = 0; co < s->c_out; co++)
        memcpy(img + co * hw_out, grouped + co * cols + j * hw_out, sizeof(float) * hw_out);
}
static void conv_gather(float *grouped, size_t cols, int32_t j, const float *img,
                        const moco_conv_shape *s) {
    const size_t hw_out = (size_t)s->h_out * s->w_out;
    for (int32_t co = 0; co < s->c_out; co++)
        memcpy(grouped + co * cols + j * hw_out, img + co * hw_out, sizeof(float) * hw_out);
}

/* Pointwise convs: per image, the GEMMs run on the raw planes. */
static void conv_pointwise_forward(float *out, const float *in, const float *weight,
                                   const moco_conv_shape *s) {
    const int32_t hw = s->h * s->w;
    for (int32_t i = 0; i < s->n; i++)
        /* out_i (c_out, hw) = weight (c_out, c_in) . in_i (c_in, hw) */
        moco_sgemm(0, 0, s->c_out, hw, s->c_in, 1.0f, weight, s->c_in,
                   in + (size_t)i * s->c_in * hw, hw, 0.0f, out + (size_t)i * s->c_out * hw, hw);
}

static void conv_pointwise_backward(float *din, float *dweight, const float *dout,
                                    const float *in, const float *weight,
                                    const moco_conv_shape *s) {
    const int32_t hw = s->h * s->w;
    for (int32_t i = 0; i < s->n; i++) {
        const float *x = in + (size_t)i * s->c_in * hw;     /* (c_in, hw) */
        const float *dy = dout + (size_t)i * s->c_out * hw; /* (c_out, hw) */
        /* dweight (c_out, c_in) += dy (c_out, hw) . x^T (hw, c_in) */
        if (dweight)
            moco_sgemm(0, 1, s->c_out, s->c_in, hw, 1.0f, dy, hw, x, hw, 1.0f, dweight,
                       s->c_in);
        /* din_i (c_in, hw) += weight^T (c_in, c_out) . dy (c_out, hw) */
        if (din)
            moco_sgemm(1, 0, s->c_in, hw, s->c_out, 1.0f, weight, s->c_in, dy, hw, 1.0f,
                       din + (size_t)i * s->c_in * hw, hw);
    }
}

void moco_conv2d_forward(float *out, const float *in, const float *weight, float *ws,
                         const moco_conv_shape *s) {
    int32_t tile = moco_fast_avx2() ? moco_wg_choose(s) : 0;
    if (tile) {
        moco_wg_forward(out, in, weight, ws, s, tile);
        return;
    }
    if (conv_is_pointwise(s)) {
        conv_pointwise_forward(out, in, weight, s);
        return;
    }
    const int32_t kdim = s->c_in * conv_taps(s);
    const size_t hw_out = (size_t)s->h_out * s->w_out;
    const size_t in_size = (size_t)s->c_in * s->h * s->w, out_size = s->c_out * hw_out;
    const int32_t group = conv_group(s);
    if (kdim == 0) { /* every window lies in the padding */
        memset(out, 0, sizeof(float) * out_size * (size_t)s->n);
        return;
    }
    const float *wmat = weight; /* (c_out, kdim) */
    if (conv_compact(s)) {
        float *wl = ws + conv_weight_offset(s);
        conv_weight_gather(wl, weight, s);
        wmat = wl;
    }
    for (int32_t i0 = 0; i0 < s->n; i0 += group) {
        const int32_t g = s->n - i0 < group ? s->n - i0 : group;
        const size_t cols = g * hw_out;
        float *col = ws;                             /* (kdim, cols) */
        float *res = ws + (size_t)kdim * cols;       /* (c_out, cols) when g > 1 */
        conv_cols_ctx cc = {col, NULL, in + i0 * in_size, cols, hw_out, in_size, g, s};
        conv_cols_run(conv_im2col_part, &cc);
        /* res (c_out, cols) = weight (c_out, kdim) . col (kdim, cols); a
         * single image's result is already in NCHW and goes straight out */
        float *y = g == 1 ? out + i0 * out_size : res;
        moco_sgemm(0, 0, s->c_out, (int32_t)cols, kdim, 1.0f, wmat, kdim, col, (int32_t)cols,
                   0.0f, y, (int32_t)cols);
        if (g > 1)
            for (int32_t j = 0; j < g; j++)
                conv_scatter(out + (i0 + j) * out_size, res, cols, j, s);
    }
}

void moco_conv2d_backward(float *din, float *dweight, const float *dout, const float *in,
                          const float *weight, float *ws, const moco_conv_shape *s) {
    int32_t tile = moco_fast_avx2() ? moco_wg_choose(s) : 0;
    if (tile) {
        moco_wg_backward(din, dweight, dout, in, weight, ws, s, moco_wg_choose_din(s),
                         moco_wg_choose_dweight(s));
        return;
    }
    if (conv_is_pointwise(s)) {
        conv_pointwise_backward(din, dweight, dout, in, weight, s);
        return;
    }
    const int32_t kdim = s->c_in * conv_taps(s);
    const size_t hw_out = (size_t)s->h_out * s->w_out;
    const size_t in_size = (size_t)s->c_in * s->h * s->w, out_size = s->c_out * hw_out;
    const int32_t group = conv_group(s);
    if (kdim == 0) return; /* the output never saw the input */
    const int compact = conv_compact(s);
    const float *wmat = weight;              /* (c_out, kdim) */
    float *dwl = compact ? ws + conv_weight_offset(s) + (size_t)s->c_out * kdim : NULL;
    if (compact && din) {
        float *wl = ws + conv_weight_offset(s);
        conv_weight_gather(wl, weight, s);
        wmat = wl;
    }
    for (int32_t i0 = 0; i0 < s->n; i0 += group) {
        const int32_t g = s->n - i0 < group ? s->n - i0 : group;
        const size_t cols = g * hw_out;
        float *col = ws;                             /* (kdim, cols) */
        const float *dy = dout + i0 * out_size;      /* (c_out, cols) */
        if (g > 1) {
            float *grouped = ws + (size_t)kdim * cols;
            for (int32_t j = 0; j < g; j++)
                conv_gather(grouped, cols, j, dout + (i0 + j) * out_size, s);
            dy = grouped;
        }
        if (dweight) {
            conv_cols_ctx cc = {col, NULL, in + i0 * in_size, cols, hw_out, in_size, g, s};
            conv_cols_run(conv_im2col_part, &cc);
            /* dweight (c_out, kdim) += dy (c_out, cols) . col^T (cols, kdim);
             * with dead taps, into their own buffer, then added in place */
            moco_sgemm(0, 1, s->c_out, kdim, (int32_t)cols, 1.0f, dy, (int32_t)cols, col,
                       (int32_t)cols, compact ? 0.0f : 1.0f, compact ? dwl : dweight, kdim);
            if (compact) conv_weight_add(dweight, dwl, s);
        }
        if (din) {
            /* col (kdim, cols) = weight^T (kdim, c_out) . dy (c_out, cols) */
            moco_sgemm(1, 0, kdim, (int32_t)cols, s->c_out, 1.0f, wmat, kdim, dy,
                       (int32_t)cols, 0.0f, col, (int32_t)cols);
            conv_cols_ctx cc = {col, din + i0 * in_size, NULL, cols, hw_out, in_size, g, s};
            conv_cols_run(conv_col2im_part, &cc);
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
                                int32_t oh = conv_naive_out_index(ih, ki, s->pad, s->stride,
                                                                  s->h_out);
                                if (oh < 0) continue;
                                for (int32_t kj = 0; kj < s->kw; kj++) {
                                    int32_t ow = conv_naive_out_index(iw, kj, s->pad,
                                                                      s->stride, s->w_out);
                                    if (ow < 0) continue;
                                    acc += (double)dout[conv_at(i, co, oh, ow, s->c_out,
                                                                s->h_out, s->w_out)] *
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
                                    acc += (double)dout[conv_at(i, co, oh, ow, s->c_out,
                                                                s->h_out, s->w_out)] *
                                           in[conv_at(i, ci, ih, iw, s->c_in, s->h, s->w)];
                                }
                            }
                        dweight[conv_at(co, ci, ki, kj, s->c_in, s->kh, s->kw)] += (float)acc;
                    }
}

static int conv_winograd_ok(const moco_conv_shape *s, int32_t tile) {
    return (tile == 2 || tile == 4) && moco_fast_avx2() && s->kh == 3 && s->kw == 3 &&
           s->stride == 1 && s->pad == 1 && s->h >= 4 && s->w >= 4;
}

int32_t moco_conv2d_forward_winograd(float *out, const float *in, const float *weight,
                                     float *ws, const moco_conv_shape *s, int32_t tile) {
    if (!conv_winograd_ok(s, tile)) return -1;
    moco_wg_forward(out, in, weight, ws, s, tile);
    return 0;
}

int32_t moco_conv2d_backward_winograd(float *din, float *dweight, const float *dout,
                                      const float *in, const float *weight, float *ws,
                                      const moco_conv_shape *s, int32_t tile) {
    if (!conv_winograd_ok(s, tile)) return -1;
    moco_wg_backward(din, dweight, dout, in, weight, ws, s, tile, tile);
    return 0;
}
