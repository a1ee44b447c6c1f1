/* resnet18 plugin — backward pass of the last train-mode forward.
 * Parameter gradients ACCUMULATE into the grad arena (the host zeroes it).
 * Activation gradients live in the scratch arena: g[0] and g[1] carry the
 * gradient of a block's output and input (they swap every block), g[2..4]
 * are temporaries inside a block. The SDK kernels accumulate too, so every
 * scratch buffer is zeroed right before a kernel writes it. */
#include <string.h>

#include "resnet18.h"

static void zero(float *p, int64_t count) { memset(p, 0, (size_t)count * sizeof(float)); }

/* For conv -> BN: given dbn = dL/d(BN output) (n, c_out, h_out, w_out),
 * accumulate the conv weight and BN weight/bias gradients and, when din is
 * not NULL, din (n, c_in, h, w) += dL/d(conv input). dconv is scratch for
 * dL/d(conv output) (n, c_out, h_out, w_out). */
static void unit_backward(rn_model *m, const rn_unit *u, float *din, const float *dbn,
                          float *dconv, int32_t n) {
    moco_conv_shape cs = u->cs;
    cs.n = n;
    int32_t hw = cs.h_out * cs.w_out;
    zero(dconv, (int64_t)n * cs.c_out * hw);
    moco_batchnorm_backward(dconv, rn_g(m, u->t_bn), rn_g(m, u->t_bn + 1), dbn,
                            rn_a(m, u->a_conv), rn_t(m, u->t_bn), rn_a(m, u->a_mean),
                            rn_a(m, u->a_invstd), n, cs.c_out, hw);
    moco_conv2d_backward(din, rn_g(m, u->t_w), dconv, rn_a(m, u->a_in), rn_t(m, u->t_w),
                         m->ws, &cs);
}

/* dy (n, c_out, h_out, w_out) = dL/d(block output) -> dx (n, c_in, h, w)
 * = dL/d(block input), overwritten. */
static void block_backward(rn_model *m, const rn_block *blk, float *dx, const float *dy,
                           int32_t n) {
    float *dz = m->g[2];   // dL/d(bn2 + identity) (n, c_out, h_out, w_out)
    float *t2 = m->g[3];
    float *t3 = m->g[4];
    int64_t count_out = m->acts[blk->a_out].per_image * n;
    int64_t count_in = m->acts[blk->a_in].per_image * n;

    zero(dz, count_out);
    moco_relu_backward(dz, dy, rn_a(m, blk->a_out), count_out);
    float *da1 = t3;       // dL/d(relu(bn1)) (n, c_out, h_out, w_out)
    zero(da1, count_out);
    unit_backward(m, &blk->c2, da1, dz, t2, n);
    float *db1 = t2;       // dL/d(bn1 output)
    zero(db1, count_out);
    moco_relu_backward(db1, da1, rn_a(m, blk->c1.a_bn), count_out);
    zero(dx, count_in);
    unit_backward(m, &blk->c1, dx, db1, t3, n);
    if (blk->has_down)
        unit_backward(m, &blk->down, dx, dz, t2, n);
    else
        moco_add(dx, dx, dz, count_in);
}

int32_t rn_backward(rn_model *m, const float *dout, moco_error *err) {
    MOCO_ASSERT(dout);
    if (!m->last_train)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "backward without a train-mode forward: the last forward was %s. "
                           "HINT: call forward with train = 1 right before backward",
                           m->last_n ? "in eval mode (or failed)" : "never run");
    const int32_t n = m->last_n, fd = m->feat_dim, od = m->out_dim;
    float *feat = rn_a(m, m->a_feat);   // (n, feat_dim)
    float *dfeat = m->g_feat;           // (n, feat_dim)
    zero(dfeat, (int64_t)n * fd);
    if (m->cfg.head == RN_HEAD_LINEAR) {
        moco_linear_backward(dfeat, rn_g(m, m->t_fc), rn_g(m, m->t_fc + 1), dout, feat,
                             rn_t(m, m->t_fc), n, fd, od);
    } else {
        float *hid = rn_a(m, m->a_hidden);   // relu(fc.0(feat)) (n, feat_dim)
        float *dhid = m->g_hidden;           // (n, feat_dim)
        float *dpre = m->g[2];               // dL/d(fc.0 output) (n, feat_dim)
        zero(dhid, (int64_t)n * fd);
        moco_linear_backward(dhid, rn_g(m, m->t_fc2), rn_g(m, m->t_fc2 + 1), dout, hid,
                             rn_t(m, m->t_fc2), n, fd, od);
        zero(dpre, (int64_t)n * fd);
        moco_relu_backward(dpre, dhid, hid, (int64_t)n * fd);
        moco_linear_backward(dfeat, rn_g(m, m->t_fc0), rn_g(m, m->t_fc0 + 1), dpre, feat,
                             rn_t(m, m->t_fc0), n, fd, fd);
    }

    const rn_block *last = &m->blocks[m->num_blocks - 1];
    float *dy = m->g[0], *dx = m->g[1];
    zero(dy, m->acts[last->a_out].per_image * n);
    moco_avgpool_global_backward(dy, dfeat, n, fd, last->c2.cs.h_out * last->c2.cs.w_out);
    for (int32_t b = m->num_blocks - 1; b >= 0; b--) {
        block_backward(m, &m->blocks[b], dx, dy, n);
        float *t = dy;
        dy = dx;
        dx = t;
    }

    /* dy: dL/d(layer1 input) = dL/d(max-pool output) or dL/d(relu(bn1)). */
    const rn_unit *s = &m->stem;
    int64_t count = m->acts[s->a_bn].per_image * n;
    if (m->a_pool >= 0) {
        zero(dx, count);
        moco_maxpool2d_backward(dx, dy, m->argmax, n, s->cs.c_out, s->cs.h_out, s->cs.w_out,
                                m->pool_h, m->pool_w);
        dy = dx;
    }
    float *dbn = m->g[3];   // dL/d(bn1 output) (n, w, h1, w1)
    zero(dbn, count);
    moco_relu_backward(dbn, dy, rn_a(m, s->a_bn), count);
    unit_backward(m, s, NULL, dbn, m->g[4], n);   /* no gradient for the images */
    return MOCO_OK;
}
