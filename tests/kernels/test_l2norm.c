/* Row-wise L2 normalisation: unit norms, the eps clamp of
 * F.normalize, gradients against finite differences, accumulation. */
#include "gradcheck.h"

enum { L2_N = 4, L2_D = 16 };

typedef struct l2_fd {
    float in[L2_N * L2_D], out[L2_N * L2_D], norms[L2_N], rmul[L2_N * L2_D];
} l2_fd;

static void test_l2norm_forward(void) {
    float x[2 * 3] = {3, 0, 4, 0, 0, 0}, y[6], norms[2];
    moco_l2norm_forward(y, norms, x, 2, 3);
    MT_CLOSE(y[0], 0.6, 0, 1e-7);
    MT_CLOSE(y[2], 0.8, 0, 1e-7);
    MT_CLOSE(norms[0], 5.0, 0, 0);
    /* a zero row stays zero (x / 1e-12), no NaN */
    MT_CHECK(y[3] == 0 && y[4] == 0 && y[5] == 0 && norms[1] == 1e-12f, "zero row");
    moco_l2norm_forward(x, NULL, x, 2, 3); /* in place, no cache */
    MT_CHECK(memcmp(x, y, sizeof y) == 0, "in-place l2norm differs");
}

/* Below the clamp, y = x / 1e-12 is a plain scaling and so is its gradient. */
static void test_l2norm_clamped_gradient(void) {
    float x[2] = {3e-13f, -4e-14f}, y[2], norms[1], dout[2] = {0.5f, -2.0f}, din[2] = {0, 0};
    moco_l2norm_forward(y, norms, x, 1, 2);
    moco_l2norm_backward(din, dout, y, norms, 1, 2);
    MT_CLOSE(din[0], 0.5e12, 0, 1e-6);
    MT_CLOSE(din[1], -2.0e12, 0, 1e-6);
}

static double l2_loss(void *ctx, int *kink) {
    l2_fd *c = ctx;
    moco_l2norm_forward(c->out, c->norms, c->in, L2_N, L2_D);
    return gc_dot(c->out, c->rmul, L2_N * L2_D);
}

static void test_l2norm_gradcheck(void) {
    moco_rng r;
    moco_rng_seed(&r, 12);
    static l2_fd c;
    gc_normal(c.in, L2_N * L2_D, &r, 0.0, 1.0);
    gc_uniform(c.rmul, L2_N * L2_D, &r, -1, 1);
    l2_loss(&c, NULL);
    float din[L2_N * L2_D] = {0};
    moco_l2norm_backward(din, c.rmul, c.out, c.norms, L2_N, L2_D);
    /* Rows have norm ~4: with step 1e-2 the truncation error is
     * ~(1e-2 / 4)^2 ~ 6e-6 relative; rounding of the row's 16 outputs
     * (~0.25 each) over the 2e-2 step adds ~1e-6 absolute on gradients up to
     * ~0.3, judged against 1e-2 of that scale: ~3e-4 expected, 1e-4
     * observed. Tolerance 1e-3; dropping the projection term is off by O(1). */
    gc_gradcheck("l2norm din", din, c.in, L2_N * L2_D, 1e-2, 1e-3, 1e-2, l2_loss, &c);

    float din2[L2_N * L2_D] = {0};
    moco_l2norm_backward(din2, c.rmul, c.out, c.norms, L2_N, L2_D);
    moco_l2norm_backward(din2, c.rmul, c.out, c.norms, L2_N, L2_D);
    int doubled = 1;
    for (int i = 0; i < L2_N * L2_D; i++) doubled &= din2[i] == 2 * din[i];
    MT_CHECK(doubled, "l2norm backward twice != 2 x once");
}

int main(void) {
    MT_RUN(test_l2norm_forward);
    MT_RUN(test_l2norm_clamped_gradient);
    MT_RUN(test_l2norm_gradcheck);
    return mt_finish();
}
