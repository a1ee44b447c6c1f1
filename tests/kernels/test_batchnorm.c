/* Batch norm: running statistics and eval mode against hand-computed
 * PyTorch semantics, train-mode gradients against finite differences,
 * accumulation. */
#include "gradcheck.h"

/* in (n=2, c=2, hw=3). Channel 0 holds 1..6: mean 3.5, biased var 17.5/6,
 * unbiased var 3.5. Channel 1 holds 0,0,0,4,4,4: mean 2, biased var 4,
 * unbiased var 4.8. With PyTorch's initial running stats (0, 1) and
 * momentum 0.1: running_mean = 0.1 * mean, running_var = 0.9 + 0.1 * var_u. */
static const float bn_in[12] = {1, 2, 3, 0, 0, 0, 4, 5, 6, 4, 4, 4};

static void test_bn_running_stats(void) {
    float out[12], rm[2] = {0, 0}, rv[2] = {1, 1}, sm[2], si[2];
    const float gamma[2] = {2.0f, 0.5f}, beta[2] = {0.25f, -1.0f}, eps = 1e-5f;
    moco_batchnorm_forward(out, rm, rv, sm, si, bn_in, gamma, beta, 2, 2, 3, 0.1f, eps, 1);
    MT_CLOSE(rm[0], 0.35, 1e-7, 1e-6);
    MT_CLOSE(rv[0], 1.25, 1e-7, 1e-6);
    MT_CLOSE(rm[1], 0.2, 1e-7, 1e-6);
    MT_CLOSE(rv[1], 1.38, 1e-7, 1e-6);
    MT_CLOSE(sm[0], 3.5, 0, 1e-7);
    MT_CLOSE(sm[1], 2.0, 0, 1e-7);
    MT_CLOSE(si[0], 1.0 / sqrt(17.5 / 6 + 1e-5), 0, 1e-6);
    MT_CLOSE(si[1], 1.0 / sqrt(4 + 1e-5), 0, 1e-6);
    /* first element of each channel: (1 - 3.5) * invstd * 2 + 0.25 and
     * (0 - 2) / sqrt(4 + eps) * 0.5 - 1 */
    MT_CLOSE(out[0], -2.5 / sqrt(17.5 / 6 + 1e-5) * 2 + 0.25, 1e-6, 1e-6);
    MT_CLOSE(out[3], -2.0 / sqrt(4 + 1e-5) * 0.5 - 1, 1e-6, 1e-6);

    /* a second step blends again: r = 0.9 r + 0.1 stat */
    moco_batchnorm_forward(out, rm, rv, sm, si, bn_in, gamma, beta, 2, 2, 3, 0.1f, eps, 1);
    MT_CLOSE(rm[0], 0.9 * 0.35 + 0.35, 1e-7, 1e-6);
    MT_CLOSE(rv[1], 0.9 * 1.38 + 0.48, 1e-7, 1e-6);
}

static void test_bn_eval_uses_running_stats(void) {
    float out[12], rm[2] = {1.5f, -0.5f}, rv[2] = {4.0f, 0.25f};
    float sm[2] = {7, 7}, si[2] = {7, 7};
    const float gamma[2] = {2.0f, 0.5f}, beta[2] = {0.25f, -1.0f}, eps = 1e-5f;
    moco_batchnorm_forward(out, rm, rv, sm, si, bn_in, gamma, beta, 2, 2, 3, 0.1f, eps, 0);
    for (int i = 0; i < 2; i++)
        for (int ch = 0; ch < 2; ch++)
            for (int j = 0; j < 3; j++) {
                int at = (i * 2 + ch) * 3 + j;
                double rm0 = ch ? -0.5 : 1.5, rv0 = ch ? 0.25 : 4.0;
                double expect = (bn_in[at] - rm0) / sqrt(rv0 + 1e-5) * gamma[ch] + beta[ch];
                MT_CLOSE(out[at], expect, 1e-6, 1e-6);
            }
    MT_CHECK(rm[0] == 1.5f && rm[1] == -0.5f && rv[0] == 4.0f && rv[1] == 0.25f,
             "eval mode changed running stats");
    MT_CHECK(sm[0] == 7 && si[1] == 7, "eval mode wrote the caches");
}

/* out may alias in, in both modes */
static void test_bn_in_place(void) {
    const float gamma[2] = {2.0f, 0.5f}, beta[2] = {0.25f, -1.0f};
    for (int train = 0; train < 2; train++) {
        float ref[12], x[12], rm[2] = {0, 0}, rv[2] = {1, 1}, sm[2], si[2];
        float rm2[2] = {0, 0}, rv2[2] = {1, 1};
        memcpy(x, bn_in, sizeof x);
        moco_batchnorm_forward(ref, rm, rv, sm, si, bn_in, gamma, beta, 2, 2, 3, 0.1f, 1e-5f,
                               train);
        moco_batchnorm_forward(x, rm2, rv2, sm, si, x, gamma, beta, 2, 2, 3, 0.1f, 1e-5f,
                               train);
        MT_CHECK(memcmp(x, ref, sizeof x) == 0, "train=%d: in-place result differs", train);
    }
}

/* ---- finite differences (train mode) ---------------------------------- */

enum { BN_N = 3, BN_C = 4, BN_HW = 5, BN_COUNT = BN_N * BN_C * BN_HW };

typedef struct bn_fd {
    float in[BN_COUNT], out[BN_COUNT], rmul[BN_COUNT];
    float gamma[BN_C], beta[BN_C], rm[BN_C], rv[BN_C], sm[BN_C], si[BN_C];
} bn_fd;

static double bn_loss(void *ctx, int *kink) {
    bn_fd *b = ctx;
    moco_batchnorm_forward(b->out, b->rm, b->rv, b->sm, b->si, b->in, b->gamma, b->beta,
                           BN_N, BN_C, BN_HW, 0.1f, 1e-5f, 1);
    return gc_dot(b->out, b->rmul, BN_COUNT);
}

static void test_bn_gradcheck(void) {
    moco_rng r;
    moco_rng_seed(&r, 5);
    static bn_fd b;
    gc_normal(b.in, BN_COUNT, &r, 0.5, 2.0);
    gc_uniform(b.rmul, BN_COUNT, &r, -1, 1);
    gc_uniform(b.gamma, BN_C, &r, 0.5, 1.5);
    gc_uniform(b.beta, BN_C, &r, -0.5, 0.5);
    gc_fill(b.rm, BN_C, 0);
    gc_fill(b.rv, BN_C, 1);
    bn_loss(&b, NULL);
    float din[BN_COUNT] = {0}, dgamma[BN_C] = {0}, dbeta[BN_C] = {0};
    moco_batchnorm_backward(din, dgamma, dbeta, b.rmul, b.in, b.gamma, b.sm, b.si, BN_N, BN_C,
                            BN_HW);

    /* L is smooth in the input with curvature set by the channel std (~2):
     * with step 2e-2 the truncation error is ~(2e-2 / 2)^2 ~ 1e-4 relative.
     * The larger term is float rounding: the channel's mean and scale are
     * rounded once and shift all 15 outputs together, ~1e-7 in L, which the
     * 4e-2 divisor turns into ~3e-6 absolute on gradients up to ~0.5. The
     * error is measured against 1e-2 of that scale (floor), so ~3e-4 is
     * expected (observed 2.3e-4; 6e-4 at step 1e-2, i.e. noise-bound).
     * Tolerance 2e-3; a missing mean(dy) or xhat term is off by >10%. */
    gc_gradcheck("batchnorm din", din, b.in, BN_COUNT, 2e-2, 2e-3, 1e-2, bn_loss, &b);
    /* L is linear in gamma and beta: exact differences with step 1. */
    gc_gradcheck("batchnorm dgamma", dgamma, b.gamma, BN_C, 1.0, 1e-4, 1e-3, bn_loss, &b);
    gc_gradcheck("batchnorm dbeta", dbeta, b.beta, BN_C, 1.0, 1e-4, 1e-3, bn_loss, &b);
}

static void test_bn_backward_accumulates(void) {
    moco_rng r;
    moco_rng_seed(&r, 6);
    static bn_fd b;
    gc_normal(b.in, BN_COUNT, &r, -1.0, 0.7);
    gc_uniform(b.rmul, BN_COUNT, &r, -1, 1);
    gc_uniform(b.gamma, BN_C, &r, 0.5, 1.5);
    gc_uniform(b.beta, BN_C, &r, -0.5, 0.5);
    gc_fill(b.rv, BN_C, 1);
    bn_loss(&b, NULL);
    float din1[BN_COUNT] = {0}, dg1[BN_C] = {0}, db1[BN_C] = {0};
    float din2[BN_COUNT] = {0}, dg2[BN_C] = {0}, db2[BN_C] = {0};
    float dg_only[BN_C] = {0};
    moco_batchnorm_backward(din1, dg1, db1, b.rmul, b.in, b.gamma, b.sm, b.si, BN_N, BN_C, BN_HW);
    for (int call = 0; call < 2; call++)
        moco_batchnorm_backward(din2, dg2, db2, b.rmul, b.in, b.gamma, b.sm, b.si, BN_N, BN_C,
                                BN_HW);
    moco_batchnorm_backward(NULL, dg_only, NULL, b.rmul, b.in, b.gamma, b.sm, b.si, BN_N, BN_C,
                            BN_HW);
    /* x + x == 2x exactly, and each call computes the same increments */
    for (int i = 0; i < BN_COUNT; i++) MT_CHECK(din2[i] == 2 * din1[i], "din[%d]", i);
    for (int i = 0; i < BN_C; i++) {
        MT_CHECK(dg2[i] == 2 * dg1[i] && db2[i] == 2 * db1[i], "dgamma/dbeta[%d]", i);
        MT_CHECK(dg_only[i] == dg1[i], "dgamma alone [%d]", i);
    }
}

int main(void) {
    MT_RUN(test_bn_running_stats);
    MT_RUN(test_bn_eval_uses_running_stats);
    MT_RUN(test_bn_in_place);
    MT_RUN(test_bn_gradcheck);
    MT_RUN(test_bn_backward_accumulates);
    return mt_finish();
}
