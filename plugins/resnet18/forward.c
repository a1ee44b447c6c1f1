/* resnet18 plugin — forward pass. Writes only into the activation arena
 * (and the BN running stats in train mode); allocates nothing. In train mode
 * the arena keeps exactly what backward.c reads. */
#include <math.h>
#include <string.h>

#include "resnet18.h"

/* Floats of activation `a` for n images. */
static int64_t act_count(const rn_model *m, int32_t a, int32_t n) {
    return m->acts[a].per_image * n;
}

/* conv -> BN [+ residual] [-> ReLU] for n images, BN, addition and ReLU in
 * one pass. update == 0 (a recompute) sends the running statistics to a
 * sink and leaves num_batches_tracked alone. In the compact layout a_bn is
 * a_conv: BN runs in place. */
static void unit_forward(rn_model *m, const rn_unit *u, int32_t n, int32_t train,
                         int32_t update, const float *residual, int32_t relu) {
    moco_conv_shape cs = u->cs;
    cs.n = n;
    float *conv = rn_a(m, u->a_conv);   // (n, c_out, h_out, w_out)
    moco_conv2d_forward(conv, rn_a(m, u->a_in), rn_t(m, u->t_w), m->ws, &cs);
    float *rmean = rn_t(m, u->t_bn + 2), *rvar = rn_t(m, u->t_bn + 3);
    if (train && !update) {
        rmean = m->bn_sink;
        rvar = m->bn_sink + cs.c_out;
    }
    moco_batchnorm_forward_fused(rn_a(m, u->a_bn), rmean, rvar, rn_a(m, u->a_mean),
                                 rn_a(m, u->a_invstd), conv, residual, rn_t(m, u->t_bn),
                                 rn_t(m, u->t_bn + 1), n, cs.c_out, cs.h_out * cs.w_out,
                                 m->cfg.bn_momentum, m->cfg.bn_eps, train, relu);
    if (train && update) rn_t(m, u->t_bn + 4)[0] += 1.0f;   /* num_batches_tracked */
}

/* out = relu(bn2(conv2(relu(bn1(conv1(in))))) + identity(in)); the
 * downsample branch (conv, BN) runs before bn2, which adds it. */
static void block_forward(rn_model *m, const rn_block *blk, int32_t n, int32_t train,
                          int32_t update) {
    unit_forward(m, &blk->c1, n, train, update, NULL, 1);
    const float *identity = rn_a(m, blk->a_in);   // (n, c_out, h_out, w_out)
    if (blk->has_down) {
        /* conv2 first: in the compact layout the downsample branch reuses
         * conv1's buffer, which conv2 reads */
        moco_conv_shape cs = blk->c2.cs;
        cs.n = n;
        moco_conv2d_forward(rn_a(m, blk->c2.a_conv), rn_a(m, blk->c2.a_in),
                            rn_t(m, blk->c2.t_w), m->ws, &cs);
        unit_forward(m, &blk->down, n, train, update, NULL, 0);
        identity = rn_a(m, blk->down.a_bn);
        /* bn2 (+ identity, ReLU) on conv2's output, computed above */
        const rn_unit *u = &blk->c2;
        float *rmean = rn_t(m, u->t_bn + 2), *rvar = rn_t(m, u->t_bn + 3);
        if (train && !update) {
            rmean = m->bn_sink;
            rvar = m->bn_sink + cs.c_out;
        }
        moco_batchnorm_forward_fused(rn_a(m, blk->a_out), rmean, rvar, rn_a(m, u->a_mean),
                                     rn_a(m, u->a_invstd), rn_a(m, u->a_conv), identity,
                                     rn_t(m, u->t_bn), rn_t(m, u->t_bn + 1), n, cs.c_out,
                                     cs.h_out * cs.w_out, m->cfg.bn_momentum, m->cfg.bn_eps,
                                     train, 1);
        if (train && update) rn_t(m, u->t_bn + 4)[0] += 1.0f;
        return;
    }
    unit_forward(m, &blk->c2, n, train, update, identity, 1);   /* into a_out */
}

void rn_forward_pass(rn_model *m, float *out, const float *x, int32_t n, int32_t train,
                     int32_t update) {
    /* (n, C, H, W) kept for conv1's weight gradient: x need not outlive the call. */
    memcpy(rn_a(m, m->a_x), x, (size_t)act_count(m, m->a_x, n) * sizeof(float));

    unit_forward(m, &m->stem, n, train, update, NULL, 1);
    float *s = rn_a(m, m->stem.a_bn);   // (n, w, h1, w1)
    if (m->a_pool >= 0)
        moco_maxpool2d_forward(rn_a(m, m->a_pool), m->argmax, s, n, m->stem.cs.c_out,
                               m->stem.cs.h_out, m->stem.cs.w_out, 3, 2, 1);

    for (int32_t b = 0; b < m->num_blocks; b++)
        block_forward(m, &m->blocks[b], n, train, update);

    const rn_block *last = &m->blocks[m->num_blocks - 1];
    const int32_t fd = m->feat_dim, od = m->out_dim;
    float *f = rn_a(m, m->a_feat);   // (n, feat_dim)
    moco_avgpool_global_forward(f, rn_a(m, last->a_out), n, fd,
                                last->c2.cs.h_out * last->c2.cs.w_out);
    if (m->cfg.head == RN_HEAD_LINEAR) {
        moco_linear_forward(out, f, rn_t(m, m->t_fc), rn_t(m, m->t_fc + 1), n, fd, od);
    } else {
        float *hid = rn_a(m, m->a_hidden);   // (n, feat_dim)
        moco_linear_forward(hid, f, rn_t(m, m->t_fc0), rn_t(m, m->t_fc0 + 1), n, fd, fd);
        moco_relu_forward(hid, hid, (int64_t)n * fd);
        moco_linear_forward(out, hid, rn_t(m, m->t_fc2), rn_t(m, m->t_fc2 + 1), n, fd, od);
    }
}

int32_t rn_forward(rn_model *m, float *out, float *feat, const float *x, int32_t n,
                   int32_t train, moco_error *err) {
    MOCO_ASSERT(out && x);
    if (n < 1 || n > m->max_batch)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "forward of %d images, but the model was created for 1..%d. "
                           "HINT: create the backbone with a max_batch of at least %d",
                           (int)n, (int)m->max_batch, (int)(n > 1 ? n : 1));
    if (train && (int64_t)n * m->min_bn_hw < 2)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "train-mode forward of %d image(s): the last BatchNorm sees %d "
                           "value(s) per channel, and batch statistics need at least 2. "
                           "HINT: use a batch of 2 or more, or larger images",
                           (int)n, (int)((int64_t)n * m->min_bn_hw));
    m->last_train = 0;
    m->last_n = n;
    m->last_compact = !m->full_mode;
    memcpy(m->act_ptr, m->full_mode ? m->act_full : m->act_compact, sizeof m->act_ptr);
    rn_forward_pass(m, out, x, n, train, 1);
    const int32_t fd = m->feat_dim, od = m->out_dim;
    if (feat) memcpy(feat, rn_a(m, m->a_feat), (size_t)n * fd * sizeof(float));
    m->last_train = train != 0;

    for (int64_t i = 0; i < (int64_t)n * od; i++)
        if (!isfinite(out[i]))
            return moco_errorf(err, MOCO_ERR_NUMERIC,
                               "non-finite value in the backbone output (image %d). HINT: "
                               "the parameters or the input hold NaN/Inf; lower the learning "
                               "rate or check the data",
                               (int)(i / od));
    return MOCO_OK;
}
