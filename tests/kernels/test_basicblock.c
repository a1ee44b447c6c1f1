/* A ResNet BasicBlock composed from the kernels,
 *   y = relu(bn2(conv2(relu(bn1(conv1(x))))) + x),
 * with its backward assembled from the kernels' backwards, checked against
 * finite differences for din and every parameter gradient. This catches
 * mistakes that single-layer checks cannot: wrong caches handed between
 * layers, missed accumulation into a shared gradient (the identity path). */
#include "gradcheck.h"

enum { BB_N = 2, BB_C = 4, BB_H = 6, BB_W = 5, BB_HW = BB_H * BB_W };
enum { BB_ACT = BB_N * BB_C * BB_HW, BB_WCOUNT = BB_C * BB_C * 9 };

typedef struct block {
    moco_conv_shape s;
    /* parameters */
    float w1[BB_WCOUNT], w2[BB_WCOUNT];   /* (c, c, 3, 3) */
    float g1[BB_C], b1[BB_C], g2[BB_C], b2[BB_C];
    float rm1[BB_C], rv1[BB_C], rm2[BB_C], rv2[BB_C];
    /* activations, all (n, c, h, w) */
    float x[BB_ACT], c1[BB_ACT], a1[BB_ACT], c2[BB_ACT], s2[BB_ACT], y[BB_ACT];
    float mean1[BB_C], invstd1[BB_C], mean2[BB_C], invstd2[BB_C];
    float *ws;
    float rmul[BB_ACT];                   /* R of L = sum(y * R) */
    /* signs of the two ReLU inputs at the base point, for kink detection */
    unsigned char mask1[BB_ACT], mask2[BB_ACT];
} block;

/* a1 keeps relu(bn1(c1)); s2 keeps bn2(c2) + x before the last ReLU. */
static void block_forward(block *b) {
    float *bn1 = b->a1;
    moco_conv2d_forward(b->c1, b->x, b->w1, b->ws, &b->s);
    moco_batchnorm_forward(bn1, b->rm1, b->rv1, b->mean1, b->invstd1, b->c1, b->g1, b->b1,
                           BB_N, BB_C, BB_HW, 0.1f, 1e-5f, 1);
    for (int i = 0; i < BB_ACT; i++) b->mask1[i] = bn1[i] > 0;
    moco_relu_forward(b->a1, bn1, BB_ACT);
    moco_conv2d_forward(b->c2, b->a1, b->w2, b->ws, &b->s);
    moco_batchnorm_forward(b->s2, b->rm2, b->rv2, b->mean2, b->invstd2, b->c2, b->g2, b->b2,
                           BB_N, BB_C, BB_HW, 0.1f, 1e-5f, 1);
    moco_add(b->s2, b->s2, b->x, BB_ACT);
    for (int i = 0; i < BB_ACT; i++) b->mask2[i] = b->s2[i] > 0;
    moco_relu_forward(b->y, b->s2, BB_ACT);
}

typedef struct block_grads {
    float x[BB_ACT], w1[BB_WCOUNT], w2[BB_WCOUNT];
    float g1[BB_C], b1[BB_C], g2[BB_C], b2[BB_C];
} block_grads;

/* Backward of L = sum(y * R) into zeroed grads g; the order mirrors the
 * forward in reverse, each kernel accumulating into its inputs' gradients. */
static void block_backward(block_grads *g, block *b) {
    static float ds2[BB_ACT], dc2[BB_ACT], da1[BB_ACT], dbn1[BB_ACT], dc1[BB_ACT];
    memset(ds2, 0, sizeof ds2);
    memset(dc2, 0, sizeof dc2);
    memset(da1, 0, sizeof da1);
    memset(dbn1, 0, sizeof dbn1);
    memset(dc1, 0, sizeof dc1);
    moco_relu_backward(ds2, b->rmul, b->y, BB_ACT);
    /* the residual add routes ds2 to both branches */
    moco_batchnorm_backward(dc2, g->g2, g->b2, ds2, b->c2, b->g2, b->mean2, b->invstd2, BB_N,
                            BB_C, BB_HW);
    moco_conv2d_backward(da1, g->w2, dc2, b->a1, b->w2, b->ws, &b->s);
    moco_relu_backward(dbn1, da1, b->a1, BB_ACT);
    moco_batchnorm_backward(dc1, g->g1, g->b1, dbn1, b->c1, b->g1, b->mean1, b->invstd1, BB_N,
                            BB_C, BB_HW);
    moco_conv2d_backward(g->x, g->w1, dc1, b->x, b->w1, b->ws, &b->s);
    for (int i = 0; i < BB_ACT; i++) g->x[i] += ds2[i]; /* identity shortcut */
}

/* Reference signs recorded at the base point; an evaluation whose ReLU
 * inputs flip sign has crossed a kink. */
static unsigned char bb_base1[BB_ACT], bb_base2[BB_ACT];

static double block_loss(void *ctx, int *kink) {
    block *b = ctx;
    block_forward(b);
    *kink = memcmp(b->mask1, bb_base1, BB_ACT) != 0 || memcmp(b->mask2, bb_base2, BB_ACT) != 0;
    return gc_dot(b->y, b->rmul, BB_ACT);
}

static void test_basicblock_gradcheck(void) {
    moco_rng r;
    moco_rng_seed(&r, 13);
    static block b;
    static block_grads g;
    b.s = (moco_conv_shape){BB_N, BB_C, BB_H, BB_W, BB_C, 3, 3, 1, 1, 0, 0};
    MT_CHECK(moco_conv_shape_init(&b.s) == 0, "shape");
    b.ws = gc_alloc(moco_conv2d_workspace(&b.s));
    gc_normal(b.x, BB_ACT, &r, 0.0, 1.0);
    /* Kaiming-like scale (std sqrt(2 / fan_in)), as a real ResNet starts */
    gc_normal(b.w1, BB_WCOUNT, &r, 0.0, sqrt(2.0 / (BB_C * 9)));
    gc_normal(b.w2, BB_WCOUNT, &r, 0.0, sqrt(2.0 / (BB_C * 9)));
    gc_uniform(b.g1, BB_C, &r, 0.5, 1.5);
    gc_uniform(b.g2, BB_C, &r, 0.5, 1.5);
    gc_uniform(b.b1, BB_C, &r, -0.3, 0.3);
    gc_uniform(b.b2, BB_C, &r, -0.3, 0.3);
    gc_fill(b.rv1, BB_C, 1);
    gc_fill(b.rv2, BB_C, 1);
    gc_uniform(b.rmul, BB_ACT, &r, -1, 1);

    block_forward(&b);
    memcpy(bb_base1, b.mask1, BB_ACT);
    memcpy(bb_base2, b.mask2, BB_ACT);
    memset(&g, 0, sizeof g);
    block_backward(&g, &b);

    /* Smooth between kinks, curvature on the BN-normalised scale (~1):
     * with step 1e-2 truncation is ~1e-4 relative. Rounding dominates: BN
     * couples every output of the batch, and the float forward (two convs,
     * two BNs whose rounded mean/scale shift whole channels) leaves ~2e-6
     * of noise in L, ~1e-4 absolute after the 2e-2 divisor, on gradients
     * up to ~0.7, judged against 2e-2 of that scale. Observed worst 3e-3
     * to 5e-3 as the GEMM's summation order changes (and it grows as the
     * step shrinks: noise, not a wrong term).
     * Perturbations that flip a ReLU are retried with a smaller step or
     * skipped (at most 5% may be). Tolerance 2e-2; a dropped shortcut
     * gradient, a wrong cache or a missing BN term is off by O(1). */
    const double h = 1e-2, tol = 2e-2, fl = 2e-2;
    gc_gradcheck("basicblock din", g.x, b.x, BB_ACT, h, tol, fl, block_loss, &b);
    gc_gradcheck("basicblock dconv1", g.w1, b.w1, BB_WCOUNT, h, tol, fl, block_loss, &b);
    gc_gradcheck("basicblock dconv2", g.w2, b.w2, BB_WCOUNT, h, tol, fl, block_loss, &b);
    gc_gradcheck("basicblock dbn1.gamma", g.g1, b.g1, BB_C, h, tol, fl, block_loss, &b);
    gc_gradcheck("basicblock dbn1.beta", g.b1, b.b1, BB_C, h, tol, fl, block_loss, &b);
    gc_gradcheck("basicblock dbn2.gamma", g.g2, b.g2, BB_C, h, tol, fl, block_loss, &b);
    gc_gradcheck("basicblock dbn2.beta", g.b2, b.b2, BB_C, h, tol, fl, block_loss, &b);
    free(b.ws);
}

int main(void) {
    MT_RUN(test_basicblock_gradcheck);
    return mt_finish();
}
