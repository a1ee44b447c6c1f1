/* Max pooling (argmax, padding never wins) and global average pooling:
 * values, gradients against finite differences, accumulation. */
#include "gradcheck.h"

static void test_maxpool_padding_never_wins(void) {
    /* all-negative 4x4 plane: a zero from padding would beat every value */
    float x[16], y[4];
    int32_t am[4];
    for (int i = 0; i < 16; i++) x[i] = -1.0f - (float)i;
    x[5] = -0.5f; /* the largest, at (1, 1) */
    moco_maxpool2d_forward(y, am, x, 1, 1, 4, 4, 3, 2, 1);
    /* windows: rows/cols {-1..1}, {1..3}; (1,1) is in all four */
    const int32_t expect_am[4] = {5, 5, 5, 5};
    for (int i = 0; i < 4; i++)
        MT_CHECK(am[i] == expect_am[i] && y[i] == -0.5f, "out %d: %g at %d", i, y[i], am[i]);
    x[5] = -100.0f; /* now each window's top-left valid element wins */
    moco_maxpool2d_forward(y, am, x, 1, 1, 4, 4, 3, 2, 1);
    const int32_t expect2[4] = {0, 1, 4, 6}; /* (0,0) (0,1) (1,0) (1,2): (1,1) lost */
    for (int i = 0; i < 4; i++)
        MT_CHECK(am[i] == expect2[i] && y[i] == x[expect2[i]], "out %d: at %d", i, am[i]);
}

typedef struct pool_fd {
    int32_t n, c, h, w, k, stride, pad, h_out, w_out;
    float *in, *out, *rmul;
    int32_t *argmax;
} pool_fd;

static double maxpool_loss(void *ctx, int *kink) {
    pool_fd *p = ctx;
    moco_maxpool2d_forward(p->out, p->argmax, p->in, p->n, p->c, p->h, p->w, p->k, p->stride,
                           p->pad);
    return gc_dot(p->out, p->rmul, (size_t)p->n * p->c * p->h_out * p->w_out);
}

static void maxpool_gradcheck(int32_t k, int32_t stride, int32_t pad, moco_rng *r) {
    pool_fd p = {2, 3, 9, 8, k, stride, pad, 0, 0, NULL, NULL, NULL, NULL};
    p.h_out = (p.h + 2 * pad - k) / stride + 1;
    p.w_out = (p.w + 2 * pad - k) / stride + 1;
    const size_t ni = (size_t)p.n * p.c * p.h * p.w, no = (size_t)p.n * p.c * p.h_out * p.w_out;
    p.in = gc_alloc(ni);
    p.out = gc_alloc(no);
    p.rmul = gc_alloc(no);
    p.argmax = calloc(no, sizeof *p.argmax);
    /* distinct values 0.1 apart in random order (a shuffled ramp): a step of
     * 1e-2 never changes which element wins, so no tie, no kink */
    for (size_t i = 0; i < ni; i++) p.in[i] = 0.1f * (float)i - 10.0f;
    for (size_t i = ni - 1; i > 0; i--) {
        size_t j = (size_t)moco_rng_below(r, i + 1);
        float t = p.in[i];
        p.in[i] = p.in[j];
        p.in[j] = t;
    }
    gc_uniform(p.rmul, no, r, -1, 1);
    maxpool_loss(&p, NULL);
    float *din = gc_alloc(ni);
    moco_maxpool2d_backward(din, p.rmul, p.argmax, p.n, p.c, p.h, p.w, p.h_out, p.w_out);
    char what[64];
    snprintf(what, sizeof what, "maxpool k%d s%d p%d din", k, stride, pad);
    /* piecewise linear, no winner changes, and max copies values without
     * rounding: the quotient is exact; only the float sum of up to 9 dout
     * values routed to one input remains (observed <= 4e-7). Tolerance
     * 1e-5; a wrong argmax routes a whole dout elsewhere. */
    gc_gradcheck(what, din, p.in, (long)ni, 1e-2, 1e-5, 1e-2, maxpool_loss, &p);

    float *din2 = gc_alloc(ni);
    for (int call = 0; call < 2; call++)
        moco_maxpool2d_backward(din2, p.rmul, p.argmax, p.n, p.c, p.h, p.w, p.h_out, p.w_out);
    long at;
    for (size_t i = 0; i < ni; i++) din[i] *= 2.0f;
    MT_CHECK(mt_max_rel(din2, din, (long)ni, 1e-6, 1e-6, &at) <= 1,
             "maxpool backward twice != 2 x once");
    free(p.in); free(p.out); free(p.rmul); free(p.argmax); free(din); free(din2);
}

static void test_maxpool_gradcheck(void) {
    moco_rng r;
    moco_rng_seed(&r, 8);
    maxpool_gradcheck(3, 2, 1, &r); /* ImageNet stem */
    maxpool_gradcheck(2, 2, 0, &r);
    maxpool_gradcheck(3, 1, 1, &r); /* overlapping windows: one input wins several */
}

static void test_avgpool_values(void) {
    float x[8] = {1, 2, 3, 6, -1, -1, 1, 5}, y[2]; /* (1, 2, 4) */
    moco_avgpool_global_forward(y, x, 1, 2, 4);
    MT_CHECK(y[0] == 3.0f && y[1] == 1.0f, "%g %g", y[0], y[1]);
}

enum { AP_N = 2, AP_C = 3, AP_HW = 7 };

typedef struct avg_fd {
    float in[AP_N * AP_C * AP_HW], out[AP_N * AP_C], rmul[AP_N * AP_C];
} avg_fd;

static double avgpool_loss(void *ctx, int *kink) {
    avg_fd *a = ctx;
    moco_avgpool_global_forward(a->out, a->in, AP_N, AP_C, AP_HW);
    return gc_dot(a->out, a->rmul, AP_N * AP_C);
}

static void test_avgpool_gradcheck(void) {
    moco_rng r;
    moco_rng_seed(&r, 9);
    static avg_fd a;
    gc_uniform(a.in, AP_N * AP_C * AP_HW, &r, -1, 1);
    gc_uniform(a.rmul, AP_N * AP_C, &r, -1, 1);
    float din[AP_N * AP_C * AP_HW] = {0}, din2[AP_N * AP_C * AP_HW] = {0};
    moco_avgpool_global_backward(din, a.rmul, AP_N, AP_C, AP_HW);
    /* linear: exact differences with step 1; only the rounding of the 6
     * outputs remains (observed ~5e-8). Tolerance 1e-5. */
    gc_gradcheck("avgpool din", din, a.in, AP_N * AP_C * AP_HW, 1.0, 1e-5, 1e-3, avgpool_loss,
                 &a);
    moco_avgpool_global_backward(din2, a.rmul, AP_N, AP_C, AP_HW);
    moco_avgpool_global_backward(din2, a.rmul, AP_N, AP_C, AP_HW);
    int doubled = 1;
    for (int i = 0; i < AP_N * AP_C * AP_HW; i++) doubled &= din2[i] == 2 * din[i];
    MT_CHECK(doubled, "avgpool backward twice != 2 x once");
}

int main(void) {
    MT_RUN(test_maxpool_padding_never_wins);
    MT_RUN(test_maxpool_gradcheck);
    MT_RUN(test_avgpool_values);
    MT_RUN(test_avgpool_gradcheck);
    return mt_finish();
}
