/* Winograd convolution F(2x2, 3x3) and F(4x4, 3x3) (the fast path of 3x3
 * stride-1 pad-1 convs) against the direct naive twin: forward, din and
 * dweight, accumulation into the gradients, the F(2x2) row paths (maps
 * whose tile rows hold a multiple of 8 tiles), several blocks of tiles,
 * the wide schedule (bit for bit against the blocks),
 * finite differences, bit-exact repeatability and independence from the
 * thread count. On a CPU without AVX2+FMA the entry points refuse (-1) and
 * the test says it skipped. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "winograd.h"   /* internal: moco_wg_wide, moco_wg_choose* */

static moco_conv_shape wg_make(int32_t n, int32_t c_in, int32_t h, int32_t w, int32_t c_out) {
    moco_conv_shape s = {n, c_in, h, w, c_out, 3, 3, 1, 1, 0, 0};
    MT_CHECK(moco_conv_shape_init(&s) == 0, "shape");
    return s;
}

static size_t in_count(const moco_conv_shape *s) { return (size_t)s->n * s->c_in * s->h * s->w; }
static size_t out_count(const moco_conv_shape *s) {
    return (size_t)s->n * s->c_out * s->h_out * s->w_out;
}
static size_t w_count(const moco_conv_shape *s) { return (size_t)s->c_out * s->c_in * 9; }

/* Input, weights and output gradient of shape s, uniform in [-1, 1], and a
 * workspace for it. */
static void wg_operands(const moco_conv_shape *s, moco_rng *r, float **in, float **w,
                        float **dout, float **ws) {
    const size_t ni = in_count(s), no = out_count(s), nw = w_count(s);
    *in = gc_alloc(ni);
    *w = gc_alloc(nw);
    *dout = gc_alloc(no);
    *ws = gc_alloc(moco_conv2d_workspace(s));
    gc_uniform(*in, ni, r, -1, 1);
    gc_uniform(*w, nw, r, -1, 1);
    gc_uniform(*dout, no, r, -1, 1);
}

static int g_available = -1;

static int wg_available(void) {
    if (g_available < 0) {
        moco_conv_shape s = wg_make(1, 1, 4, 4, 1);
        float in[16] = {0}, w[9] = {0}, out[16];
        float *ws = gc_alloc(moco_conv2d_workspace(&s));
        g_available = moco_conv2d_forward_winograd(out, in, w, ws, &s, 2) == 0;
        free(ws);
        if (!g_available) printf("  no AVX2+FMA on this CPU: Winograd path not available, skipped\n");
    }
    return g_available;
}

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* |fast - ref| <= tol * max|ref| everywhere (Winograd's error scales with
 * the magnitude of the sums, not of each entry). */
static double scaled_err(const float *fast, const float *ref, size_t n) {
    double scale = max_abs(ref, n);
    long at = 0;
    return mt_max_rel(fast, ref, (long)n, scale > 0 ? scale : 1.0, 0.0, &at);
}

/* Forward, din and dweight against the naive twin for one shape and tile.
 * Gradients start from the same random values on both sides: backward adds. */
static void wg_compare(moco_conv_shape s, int32_t tile, moco_rng *r) {
    const size_t ni = in_count(&s), no = out_count(&s), nw = w_count(&s);
    float *in = gc_alloc(ni), *w = gc_alloc(nw), *dout = gc_alloc(no);
    float *ws = gc_alloc(moco_conv2d_workspace(&s));   /* exact size: ASan sees overruns */
    gc_uniform(in, ni, r, -1, 1);
    gc_uniform(w, nw, r, -1, 1);
    gc_uniform(dout, no, r, -1, 1);
    float *out = gc_alloc(no), *out_ref = gc_alloc(no);
    gc_fill(out, no, NAN);
    MT_CHECK(moco_conv2d_forward_winograd(out, in, w, ws, &s, tile) == 0, "refused");
    moco_conv2d_forward_naive(out_ref, in, w, &s);

    float *din = gc_alloc(ni), *dw = gc_alloc(nw);
    gc_uniform(din, ni, r, -1, 1);
    gc_uniform(dw, nw, r, -1, 1);
    float *din_ref = gc_copy(din, ni), *dw_ref = gc_copy(dw, nw);
    MT_CHECK(moco_conv2d_backward_winograd(din, dw, dout, in, w, ws, &s, tile) == 0, "refused");
    moco_conv2d_backward_naive(din_ref, dw_ref, dout, in, w, &s);

    /* Measured: F(2x2) <= 7e-7 of the largest value, F(4x4) <= 5e-6; a
     * wrong tap or tile is O(0.1). */
    const double tol = tile == 2 ? 5e-6 : 5e-5;
    double e_out = scaled_err(out, out_ref, no);
    double e_din = scaled_err(din, din_ref, ni), e_dw = scaled_err(dw, dw_ref, nw);
    printf("  F(%dx%d) n%d c%d->%d %dx%d: rel err out %.1e din %.1e dweight %.1e\n", tile, tile,
           s.n, s.c_in, s.c_out, s.h, s.w, e_out, e_din, e_dw);
    MT_CHECK(e_out <= tol && e_din <= tol && e_dw <= tol,
             "F(%d) n%d c%d->%d %dx%d: out %.3g din %.3g dw %.3g > %.1g", tile, s.n, s.c_in,
             s.c_out, s.h, s.w, e_out, e_din, e_dw, tol);

    /* NULL gradients are skipped and do not change the other one */
    float *dw_only = gc_alloc(nw), *din_only = gc_alloc(ni);
    float *dw_full = gc_alloc(nw), *din_full = gc_alloc(ni);
    moco_conv2d_backward_winograd(NULL, dw_only, dout, in, w, ws, &s, tile);
    moco_conv2d_backward_winograd(din_only, NULL, dout, in, w, ws, &s, tile);
    moco_conv2d_backward_winograd(din_full, dw_full, dout, in, w, ws, &s, tile);
    MT_CHECK(memcmp(dw_only, dw_full, nw * sizeof(float)) == 0, "dweight-only differs");
    MT_CHECK(memcmp(din_only, din_full, ni * sizeof(float)) == 0, "din-only differs");

    free(in); free(w); free(dout); free(ws); free(out); free(out_ref);
    free(din); free(dw); free(din_ref); free(dw_ref);
    free(dw_only); free(din_only); free(dw_full); free(din_full);
}

static const int32_t g_shapes[][5] = {
    /* n, c_in, h, w, c_out */
    {2, 3, 7, 6, 5},      /* odd sides: partial tiles; 3 inputs like a stem */
    {3, 4, 5, 6, 2},
    {5, 6, 4, 4, 12},     /* smallest map */
    {1, 20, 9, 11, 6},
    {2, 16, 32, 32, 8},   /* F(2x2) row path: 16 tiles per tile row */
    {2, 13, 16, 16, 7},   /* row path with 8 per row; dweight edge blocks (7 x 13) */
    {2, 70, 8, 8, 66},    /* channels past one 16-lane group and 6-row panel */
    {2, 64, 16, 16, 64},  /* several forward blocks of tiles */
};

static void test_winograd_vs_naive(void) {
    if (!wg_available()) return;
    moco_rng r;
    moco_rng_seed(&r, 21);
    for (int tile = 2; tile <= 4; tile += 2)
        for (size_t i = 0; i < sizeof g_shapes / sizeof *g_shapes; i++) {
            const int32_t *d = g_shapes[i];
            wg_compare(wg_make(d[0], d[1], d[2], d[3], d[4]), tile, &r);
        }
}

/* More tiles than one dweight block (2048 F(2x2) tiles of 64 + 64 channels
 * against blocks of 1024; 512 F(4x4) tiles against blocks of 448). */
static void test_winograd_many_blocks(void) {
    if (!wg_available()) return;
    moco_rng r;
    moco_rng_seed(&r, 22);
    wg_compare(wg_make(8, 64, 32, 32, 64), 2, &r);
    wg_compare(wg_make(8, 64, 32, 32, 64), 4, &r);
}

/* Forward and din under the wide schedule (picked where U outweighs the
 * tiles: few tiles, many channels) against the naive conv, and bit for bit
 * against the block schedule (MOCO_FAST_KERNELS_OFF=wide). */
static void test_winograd_wide_schedule(void) {
    if (!wg_available()) return;
    static const int32_t shapes[][5] = {
        {2, 64, 4, 4, 64},   /* layer4-like: 4x4 maps, one panel of tiles */
        {1, 70, 8, 8, 66},   /* channels past a 16-lane group and a 6-row panel */
        {1, 40, 5, 6, 40},   /* odd sides: partial tiles, a partial panel */
    };
    moco_rng r;
    moco_rng_seed(&r, 24);
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int32_t tile = 2; tile <= 4; tile += 2) {
            const int32_t *d = shapes[i];
            moco_conv_shape s = wg_make(d[0], d[1], d[2], d[3], d[4]);
            MT_CHECK(moco_wg_wide(&s, tile, 0) && moco_wg_wide(&s, tile, 1),
                     "shape %zu tile %d: wide schedule not chosen", i, tile);
            wg_compare(s, tile, &r);
            const size_t ni = in_count(&s), no = out_count(&s);
            float *in, *w, *dout, *ws;
            wg_operands(&s, &r, &in, &w, &dout, &ws);
            float *o[2], *dx[2];
            for (int k = 0; k < 2; k++) {
                setenv("MOCO_FAST_KERNELS_OFF", k ? "wide" : "", 1);
                MT_CHECK(moco_wg_wide(&s, tile, 0) == !k, "switch ignored");
                o[k] = gc_alloc(no);
                dx[k] = gc_alloc(ni);
                memset(dx[k], 0, ni * sizeof(float));
                moco_conv2d_forward_winograd(o[k], in, w, ws, &s, tile);
                moco_conv2d_backward_winograd(dx[k], NULL, dout, in, w, ws, &s, tile);
            }
            unsetenv("MOCO_FAST_KERNELS_OFF");
            MT_CHECK(memcmp(o[0], o[1], no * sizeof(float)) == 0, "shape %zu: forward differs", i);
            MT_CHECK(memcmp(dx[0], dx[1], ni * sizeof(float)) == 0, "shape %zu: din differs", i);
            for (int k = 0; k < 2; k++) free(o[k]), free(dx[k]);
            free(in), free(w), free(dout), free(ws);
        }
}

/* The default tiles per pass (what the reference tests were measured with,
 * docs/reference-tests.md), and MOCO_WINOGRAD_TILE overriding them. */
static void test_winograd_tile_choice(void) {
    if (!wg_available()) return;
    moco_conv_shape s8 = wg_make(2, 8, 8, 8, 8), s4 = wg_make(2, 8, 4, 4, 8);
    unsetenv("MOCO_WINOGRAD_TILE");
    MT_CHECK(moco_wg_choose(&s8) == 2 && moco_wg_choose_din(&s8) == 4 &&
                 moco_wg_choose_dweight(&s8) == 4,
             "default 8x8: forward F(2x2), din and dweight F(4x4)");
    MT_CHECK(moco_wg_choose(&s4) == 2 && moco_wg_choose_din(&s4) == 2 &&
                 moco_wg_choose_dweight(&s4) == 2, "default 4x4: F(2x2) for every pass");
    setenv("MOCO_WINOGRAD_TILE", "2", 1);
    MT_CHECK(moco_wg_choose(&s8) == 2 && moco_wg_choose_din(&s8) == 2 &&
                 moco_wg_choose_dweight(&s8) == 2, "MOCO_WINOGRAD_TILE=2");
    setenv("MOCO_WINOGRAD_TILE", "4", 1);
    MT_CHECK(moco_wg_choose(&s4) == 4 && moco_wg_choose_din(&s4) == 4 &&
                 moco_wg_choose_dweight(&s4) == 4, "MOCO_WINOGRAD_TILE=4");
    unsetenv("MOCO_WINOGRAD_TILE");
}

static void test_winograd_refuses(void) {
    if (!wg_available()) return;
    float x[64] = {0}, ws[1] = {0};
    moco_conv_shape s2 = {1, 1, 8, 8, 1, 3, 3, 2, 1, 0, 0};   /* stride 2 */
    moco_conv_shape_init(&s2);
    MT_CHECK(moco_conv2d_forward_winograd(x, x, x, ws, &s2, 2) == -1, "stride 2 accepted");
    moco_conv_shape s1 = wg_make(1, 1, 3, 8, 1);               /* a side < 4 */
    MT_CHECK(moco_conv2d_forward_winograd(x, x, x, ws, &s1, 2) == -1, "3x8 accepted");
    moco_conv_shape s = wg_make(1, 1, 4, 4, 1);
    MT_CHECK(moco_conv2d_backward_winograd(x, x, x, x, x, ws, &s, 3) == -1, "tile 3 accepted");
}

/* Same inputs, same bits: twice in a row, and with 1 or 2 threads (work is
 * split by tiles and by transform index, never inside a sum). */
static void test_winograd_deterministic(void) {
    if (!wg_available()) return;
    moco_rng r;
    moco_rng_seed(&r, 23);
    moco_conv_shape s = wg_make(4, 24, 16, 16, 20);
    const size_t ni = in_count(&s), no = out_count(&s), nw = w_count(&s);
    float *in, *w, *dout, *ws;
    wg_operands(&s, &r, &in, &w, &dout, &ws);
    float *o[3], *dx[3], *dw[3];
    const int threads[3] = {1, 1, 2};
    const int saved = openblas_get_num_threads();
    for (int k = 0; k < 3; k++) {
        openblas_set_num_threads(threads[k]);
        o[k] = gc_alloc(no);
        dx[k] = gc_alloc(ni);
        dw[k] = gc_alloc(nw);
        moco_conv2d_forward_winograd(o[k], in, w, ws, &s, 2);
        moco_conv2d_backward_winograd(dx[k], dw[k], dout, in, w, ws, &s, 2);
    }
    openblas_set_num_threads(saved);
    for (int k = 1; k < 3; k++) {
        MT_CHECK(memcmp(o[0], o[k], no * sizeof(float)) == 0, "forward differs (run %d)", k);
        MT_CHECK(memcmp(dx[0], dx[k], ni * sizeof(float)) == 0, "din differs (run %d)", k);
        MT_CHECK(memcmp(dw[0], dw[k], nw * sizeof(float)) == 0, "dweight differs (run %d)", k);
    }
    for (int k = 0; k < 3; k++) {
        free(o[k]);
        free(dx[k]);
        free(dw[k]);
    }
    free(in); free(w); free(dout); free(ws);
}

/* ---- finite differences (the naive forward as the loss, as in test_conv) */
typedef struct wg_fd {
    moco_conv_shape s;
    float *in, *w, *out, *rmul;
} wg_fd;

static double wg_loss(void *ctx, int *kink) {
    wg_fd *c = ctx;
    moco_conv2d_forward_naive(c->out, c->in, c->w, &c->s);
    return gc_dot(c->out, c->rmul, out_count(&c->s));
}

static void wg_gradcheck(moco_conv_shape s, int32_t tile, double tol, moco_rng *r) {
    wg_fd c = {s, NULL, NULL, NULL, NULL};
    const size_t ni = in_count(&s), no = out_count(&s), nw = w_count(&s);
    c.in = gc_alloc(ni);
    c.w = gc_alloc(nw);
    c.out = gc_alloc(no);
    c.rmul = gc_alloc(no);
    float *ws = gc_alloc(moco_conv2d_workspace(&s));
    gc_uniform(c.in, ni, r, -1, 1);
    gc_uniform(c.w, nw, r, -1, 1);
    gc_uniform(c.rmul, no, r, -1, 1);
    float *din = gc_alloc(ni), *dw = gc_alloc(nw);
    MT_CHECK(moco_conv2d_backward_winograd(din, dw, c.rmul, c.in, c.w, ws, &s, tile) == 0,
             "refused");
    /* L is linear in the input and in the weight: central differences with
     * step 1 are exact up to the rounding of the naive outputs. */
    char what[64];
    snprintf(what, sizeof what, "winograd F(%d) n%d %dx%d din", tile, s.n, s.h, s.w);
    gc_gradcheck(what, din, c.in, (long)ni, 1.0, tol, 1e-3, wg_loss, &c);
    snprintf(what, sizeof what, "winograd F(%d) n%d %dx%d dweight", tile, s.n, s.h, s.w);
    gc_gradcheck(what, dw, c.w, (long)nw, 1.0, tol, 1e-3, wg_loss, &c);
    free(c.in); free(c.w); free(c.out); free(c.rmul); free(ws); free(din); free(dw);
}

static void test_winograd_gradcheck(void) {
    if (!wg_available()) return;
    moco_rng r;
    moco_rng_seed(&r, 24);
    /* F(2x2): the tolerance of test_conv's direct path (worst seen 4e-5).
     * F(4x4): worst seen 3e-4, on entries near 1e-3 of the scale. */
    wg_gradcheck(wg_make(2, 3, 7, 6, 4), 2, 5e-4, &r);
    wg_gradcheck(wg_make(2, 2, 16, 16, 3), 2, 5e-4, &r);
    wg_gradcheck(wg_make(3, 2, 5, 4, 3), 2, 5e-4, &r);
    wg_gradcheck(wg_make(2, 3, 7, 6, 4), 4, 2e-3, &r);
    wg_gradcheck(wg_make(3, 2, 5, 4, 3), 4, 2e-3, &r);
}

int main(void) {
    MT_RUN(test_winograd_vs_naive);
    MT_RUN(test_winograd_many_blocks);
    MT_RUN(test_winograd_wide_schedule);
    MT_RUN(test_winograd_tile_choice);
    MT_RUN(test_winograd_refuses);
    MT_RUN(test_winograd_deterministic);
    MT_RUN(test_winograd_gradcheck);
    return mt_finish();
}
