/* conv2d: shape rules, im2col+GEMM path against the direct naive twin
 * (forward and backward), finite-difference gradients, accumulation. */
#include "gradcheck.h"

static moco_conv_shape conv_make(int32_t n, int32_t c_in, int32_t h, int32_t w,
                                 int32_t c_out, int32_t k, int32_t stride, int32_t pad) {
    moco_conv_shape s = {n, c_in, h, w, c_out, k, k, stride, pad, 0, 0};
    MT_CHECK(moco_conv_shape_init(&s) == 0, "shape k=%d s=%d p=%d", k, stride, pad);
    return s;
}

static size_t conv_in_count(const moco_conv_shape *s) {
    return (size_t)s->n * s->c_in * s->h * s->w;
}
static size_t conv_out_count(const moco_conv_shape *s) {
    return (size_t)s->n * s->c_out * s->h_out * s->w_out;
}
static size_t conv_w_count(const moco_conv_shape *s) {
    return (size_t)s->c_out * s->c_in * s->kh * s->kw;
}

static void test_conv_shape_init(void) {
    moco_conv_shape s = {1, 3, 11, 9, 4, 3, 3, 2, 1, 0, 0};
    MT_CHECK(moco_conv_shape_init(&s) == 0 && s.h_out == 6 && s.w_out == 5, "%d %d", s.h_out,
             s.w_out);
    moco_conv_shape stem = {1, 3, 224, 224, 64, 7, 7, 2, 3, 0, 0};
    MT_CHECK(moco_conv_shape_init(&stem) == 0 && stem.h_out == 112 && stem.w_out == 112,
             "%d %d", stem.h_out, stem.w_out);
    moco_conv_shape exact = {1, 1, 5, 5, 1, 7, 7, 1, 1, 0, 0}; /* 5 + 2 - 7 = 0: one output */
    MT_CHECK(moco_conv_shape_init(&exact) == 0 && exact.h_out == 1, "%d", exact.h_out);
    /* 4 + 0 - 7 = -3: -3 / 2 truncates to -1, so a careless formula gives 0 + 1 */
    moco_conv_shape empty = {1, 1, 4, 4, 1, 7, 7, 2, 0, 0, 0};
    MT_CHECK(moco_conv_shape_init(&empty) == -1, "empty output accepted");
    moco_conv_shape bad = {1, 1, 4, 4, 1, 3, 3, 0, 0, 0, 0};
    MT_CHECK(moco_conv_shape_init(&bad) == -1, "stride 0 accepted");
}

/* Fast vs naive on one shape. Outputs start as NaN (forward must overwrite);
 * gradients start from the same random values (backward must add). */
static void conv_compare(moco_conv_shape s, moco_rng *r) {
    const size_t ni = conv_in_count(&s), no = conv_out_count(&s), nw = conv_w_count(&s);
    float *in = gc_alloc(ni), *w = gc_alloc(nw), *dout = gc_alloc(no);
    float *ws = gc_alloc(moco_conv2d_workspace(&s)); /* exact size: ASan sees overruns */
    gc_uniform(in, ni, r, -1, 1);
    gc_uniform(w, nw, r, -1, 1);
    gc_uniform(dout, no, r, -1, 1);
    float *out_fast = gc_alloc(no), *out_ref = gc_alloc(no);
    gc_fill(out_fast, no, NAN);
    gc_fill(out_ref, no, NAN);
    moco_conv2d_forward(out_fast, in, w, ws, &s);
    moco_conv2d_forward_naive(out_ref, in, w, &s);

    float *din_fast = gc_alloc(ni), *dw_fast = gc_alloc(nw);
    gc_uniform(din_fast, ni, r, -1, 1);
    gc_uniform(dw_fast, nw, r, -1, 1);
    float *din_ref = gc_copy(din_fast, ni), *dw_ref = gc_copy(dw_fast, nw);
    moco_conv2d_backward(din_fast, dw_fast, dout, in, w, ws, &s);
    moco_conv2d_backward_naive(din_ref, dw_ref, dout, in, w, &s);

    /* Values in [-1, 1] and at most 5*7*7 = 245 (forward, din) or
     * 7*11*9 = 693 (dweight) products per sum: float accumulation error is
     * ~1e-6; any indexing slip is O(0.1) or more. */
    long at = 0;
    double e_out = mt_max_rel(out_fast, out_ref, (long)no, 1e-4, 1e-4, &at);
    double e_din = mt_max_rel(din_fast, din_ref, (long)ni, 1e-4, 1e-4, &at);
    double e_dw = mt_max_rel(dw_fast, dw_ref, (long)nw, 1e-4, 1e-4, &at);
    MT_CHECK(e_out <= 1 && e_din <= 1 && e_dw <= 1,
             "k=%d s=%d p=%d: out %.3g din %.3g dw %.3g", s.kh, s.stride, s.pad, e_out, e_din,
             e_dw);

    /* NULL gradients are skipped and do not change the other one */
    float *dw_only = gc_alloc(nw), *din_only = gc_alloc(ni);
    float *dw_full = gc_alloc(nw), *din_full = gc_alloc(ni);
    moco_conv2d_backward(NULL, dw_only, dout, in, w, ws, &s);
    moco_conv2d_backward(din_only, NULL, dout, in, w, ws, &s);
    moco_conv2d_backward(din_full, dw_full, dout, in, w, ws, &s);
    MT_CHECK(memcmp(dw_only, dw_full, nw * sizeof(float)) == 0, "dweight-only differs");
    MT_CHECK(memcmp(din_only, din_full, ni * sizeof(float)) == 0, "din-only differs");

    free(in); free(w); free(dout); free(ws); free(out_fast); free(out_ref);
    free(din_fast); free(dw_fast); free(din_ref); free(dw_ref);
    free(dw_only); free(din_only); free(dw_full); free(din_full);
}

static void test_conv_fast_vs_naive(void) {
    moco_rng r;
    moco_rng_seed(&r, 2);
    static const int32_t ks[] = {1, 3, 7};
    for (int ki = 0; ki < 3; ki++)
        for (int32_t stride = 1; stride <= 2; stride++)
            for (int32_t pad = 0; pad <= 1; pad++)
                conv_compare(conv_make(2, 3, 11, 9, 5, ks[ki], stride, pad), &r);
    conv_compare(conv_make(2, 3, 11, 9, 5, 7, 2, 3), &r);   /* the ImageNet stem */
    conv_compare(conv_make(3, 4, 5, 6, 2, 3, 1, 1), &r);
    conv_compare(conv_make(1, 1, 1, 1, 1, 1, 1, 0), &r);    /* degenerate 1x1 image */
    /* 99 outputs per image: groups of 3 images per GEMM, here 3 + 3 + 1 */
    conv_compare(conv_make(7, 3, 11, 9, 5, 3, 1, 1), &r);
    conv_compare(conv_make(7, 3, 11, 9, 5, 1, 1, 0), &r);
    /* 272 outputs per image: one image per GEMM */
    conv_compare(conv_make(3, 2, 17, 16, 3, 3, 1, 1), &r);
    /* stride 2 on rows of 17 and 18 outputs, one image per GEMM */
    conv_compare(conv_make(2, 3, 35, 34, 5, 3, 2, 1), &r);
    conv_compare(conv_make(2, 3, 34, 33, 5, 1, 2, 0), &r);
    /* dead taps (windows that only ever cover padding) left out: */
    conv_compare(conv_make(3, 4, 1, 1, 5, 3, 1, 1), &r);    /* 1x1 map: 1 live tap of 9 */
    conv_compare(conv_make(3, 4, 2, 2, 5, 3, 2, 1), &r);    /* 2x2 -> 1x1, stride 2: 4 of 9 */
    conv_compare(conv_make(2, 3, 1, 5, 4, 3, 1, 1), &r);    /* 1 row: 3 of 9 */
    conv_compare(conv_make(2, 3, 3, 3, 4, 7, 2, 3), &r);    /* 7x7 stem on 3x3: 16 of 49 */
    conv_compare(conv_make(2, 2, 1, 1, 3, 4, 3, 3), &r);    /* rows and cols 0, 3 live: gaps */
    conv_compare(conv_make(2, 2, 1, 1, 3, 3, 5, 3), &r);    /* no live tap: output 0 */
    conv_compare(conv_make(300, 2, 1, 1, 3, 3, 1, 1), &r);  /* 1x1, two groups of images */
}

/* ---- finite differences ------------------------------------------------ */

typedef struct conv_fd {
    moco_conv_shape s;
    float *in, *w, *out, *ws, *rmul; /* rmul: the fixed R of L = sum(out * R) */
} conv_fd;

/* The naive twin as the forward: it sums in double and rounds each output
 * once, so L carries ~6e-8 relative noise instead of the fast path's
 * K * 6e-8. The fast forward is tied to the naive one by the test above. */
static double conv_loss(void *ctx, int *kink) {
    conv_fd *c = ctx;
    moco_conv2d_forward_naive(c->out, c->in, c->w, &c->s);
    return gc_dot(c->out, c->rmul, conv_out_count(&c->s));
}

static void conv_gradcheck(moco_conv_shape s, moco_rng *r) {
    conv_fd c = {s, NULL, NULL, NULL, NULL, NULL};
    const size_t ni = conv_in_count(&s), no = conv_out_count(&s), nw = conv_w_count(&s);
    c.in = gc_alloc(ni);
    c.w = gc_alloc(nw);
    c.out = gc_alloc(no);
    c.rmul = gc_alloc(no);
    c.ws = gc_alloc(moco_conv2d_workspace(&s));
    gc_uniform(c.in, ni, r, -1, 1);
    gc_uniform(c.w, nw, r, -1, 1);
    gc_uniform(c.rmul, no, r, -1, 1);
    float *din = gc_alloc(ni), *dw = gc_alloc(nw);
    moco_conv2d_backward(din, dw, c.rmul, c.in, c.w, c.ws, &s);

    /* L is linear in the input and in the weight separately, so central
     * differences are exact for any step; a step of 1 makes the rounding of
     * the outputs (~6e-8 relative each) small against the change in L. What
     * remains, mostly the float sums of the GEMM backward (up to 98 terms),
     * is observed at <= 3e-5 (relative to 1e-3 of the gradient's scale for
     * tiny entries). Tolerance 5e-4; a wrong tap or a padded position that
     * leaks is off by O(1). */
    char what[64];
    snprintf(what, sizeof what, "conv n%d %dx%d k%d s%d p%d din", s.n, s.h, s.w, s.kh,
             s.stride, s.pad);
    gc_gradcheck(what, din, c.in, (long)ni, 1.0, 5e-4, 1e-3, conv_loss, &c);
    snprintf(what, sizeof what, "conv n%d %dx%d k%d s%d p%d dweight", s.n, s.h, s.w, s.kh,
             s.stride, s.pad);
    gc_gradcheck(what, dw, c.w, (long)nw, 1.0, 5e-4, 1e-3, conv_loss, &c);
    free(c.in); free(c.w); free(c.out); free(c.rmul); free(c.ws); free(din); free(dw);
}

static void test_conv_gradcheck(void) {
    moco_rng r;
    moco_rng_seed(&r, 3);
    conv_gradcheck(conv_make(2, 3, 7, 6, 4, 3, 1, 1), &r);
    conv_gradcheck(conv_make(2, 3, 7, 6, 4, 3, 2, 1), &r);
    conv_gradcheck(conv_make(2, 3, 7, 6, 4, 3, 2, 0), &r);
    conv_gradcheck(conv_make(2, 3, 7, 6, 4, 1, 2, 0), &r);
    conv_gradcheck(conv_make(2, 3, 7, 6, 4, 1, 1, 0), &r);
    conv_gradcheck(conv_make(2, 2, 9, 8, 3, 7, 2, 3), &r);
    conv_gradcheck(conv_make(5, 2, 5, 4, 3, 3, 1, 1), &r);  /* groups of 13: one partial */
    conv_gradcheck(conv_make(2, 1, 16, 16, 2, 3, 1, 1), &r); /* one image per GEMM */
    conv_gradcheck(conv_make(3, 4, 1, 1, 3, 3, 1, 1), &r);  /* dead taps: 1x1 map */
    conv_gradcheck(conv_make(2, 3, 2, 2, 3, 3, 2, 1), &r);  /* dead taps: 2x2, stride 2 */
}

/* Backward twice into zeroed gradients gives twice one call. */
static void test_conv_backward_accumulates(void) {
    moco_rng r;
    moco_rng_seed(&r, 4);
    moco_conv_shape shapes[2] = {conv_make(2, 3, 7, 6, 4, 3, 2, 1),
                                 conv_make(2, 3, 7, 6, 4, 1, 1, 0)};
    for (int si = 0; si < 2; si++) {
        moco_conv_shape s = shapes[si];
        const size_t ni = conv_in_count(&s), no = conv_out_count(&s), nw = conv_w_count(&s);
        float *in = gc_alloc(ni), *w = gc_alloc(nw), *dout = gc_alloc(no);
        float *ws = gc_alloc(moco_conv2d_workspace(&s));
        gc_uniform(in, ni, &r, -1, 1);
        gc_uniform(w, nw, &r, -1, 1);
        gc_uniform(dout, no, &r, -1, 1);
        for (int naive = 0; naive < 2; naive++) {
            float *din1 = gc_alloc(ni), *dw1 = gc_alloc(nw);
            float *din2 = gc_alloc(ni), *dw2 = gc_alloc(nw);
            for (int call = 0; call < 3; call++) {
                float *din = call == 0 ? din1 : din2, *dw = call == 0 ? dw1 : dw2;
                if (naive)
                    moco_conv2d_backward_naive(din, dw, dout, in, w, &s);
                else
                    moco_conv2d_backward(din, dw, dout, in, w, ws, &s);
            }
            for (size_t i = 0; i < ni; i++) din1[i] *= 2.0f;
            for (size_t i = 0; i < nw; i++) dw1[i] *= 2.0f;
            long at;
            /* not bit-exact: the second call adds into non-zero sums */
            MT_CHECK(mt_max_rel(din2, din1, (long)ni, 1e-6, 1e-5, &at) <= 1 &&
                         mt_max_rel(dw2, dw1, (long)nw, 1e-6, 1e-5, &at) <= 1,
                     "k=%d naive=%d: twice != 2 x once", s.kh, naive);
            free(din1); free(dw1); free(din2); free(dw2);
        }
        free(in); free(w); free(dout); free(ws);
    }
}

int main(void) {
    MT_RUN(test_conv_shape_init);
    MT_RUN(test_conv_fast_vs_naive);
    MT_RUN(test_conv_gradcheck);
    MT_RUN(test_conv_backward_accumulates);
    return mt_finish();
}
