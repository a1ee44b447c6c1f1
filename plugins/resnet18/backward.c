/* resnet18 plugin — backward pass of the last train-mode forward.
 * Parameter gradients ACCUMULATE into the grad arena (the host zeroes it).
 * Activation gradients live in the scratch arena: g[0] and g[1] carry the
 * gradient of a block's output and input (they swap every block), g[3..4]
 * are temporaries inside a block (g[2]: the MLP head). Each ReLU's backward
 * is folded into the BN backward that follows it (the kernel masks the
 * incoming gradient with the ReLU's output), which writes its result, so
 * only the buffers that convolutions accumulate into are zeroed. */
#include <string.h>

#include "resnet18.h"

static void zero(float *p, int64_t count) { memset(p, 0, (size_t)count * sizeof(float)); }

/* For conv -> BN (-> ReLU whose output is relu_out, or NULL): given dy =
 * dL/d(the unit's output) (n, c_out, h_out, w_out), accumulate the conv
 * weight and BN weight/bias gradients and, when din is not NULL,
 * din (n, c_in, h, w) += dL/d(conv input). dconv is scratch for dL/d(conv
 * output) (n, c_out, h_out, w_out). */
static void unit_backward(rn_model *m, const rn_unit *u, float *din, const float *dy,
                          const float *relu_out, float *dconv, int32_t n) {
    moco_conv_shape cs = u->cs;
    cs.n = n;
    int32_t hw = cs.h_out * cs.w_out;
    moco_batchnorm_backward_fused(dconv, rn_g(m, u->t_bn), rn_g(m, u->t_bn + 1), dy, relu_out,
                                  rn_a(m, u->a_conv), rn_t(m, u->t_bn), rn_a(m, u->a_mean),
                                  rn_a(m, u->a_invstd), n, cs.c_out, hw, 0);
    moco_conv2d_backward(din, rn_g(m, u->t_w), dconv, rn_a(m, u->a_in), rn_t(m, u->t_w),
                         m->ws, &cs);
}

/* dy (n, c_out, h_out, w_out) = dL/d(block output) -> dx (n, c_in, h, w)
 * = dL/d(block input), overwritten. out = relu(bn2 + identity), so the
 * gradient reaching bn2 and the shortcut is dy * (out > 0). */
static void block_backward(rn_model *m, const rn_block *blk, float *dx, const float *dy,
                           int32_t n) {
    float *t2 = m->g[3];
    float *da1 = m->g[4];   // dL/d(relu(bn1)) (n, c_out, h_out, w_out)
    const float *out = rn_a(m, blk->a_out);
    int64_t count_out = m->acts[blk->a_out].per_image * n;
    int64_t count_in = m->acts[blk->a_in].per_image * n;

    zero(da1, count_out);
    unit_backward(m, &blk->c2, da1, dy, out, t2, n);
    if (blk->has_down) {
        zero(dx, count_in);
        unit_backward(m, &blk->c1, dx, da1, rn_a(m, blk->c1.a_bn), t2, n);
        unit_backward(m, &blk->down, dx, dy, out, t2, n);
    } else {
        /* the identity's share first, then conv1's accumulates onto it */
        for (int64_t i = 0; i < count_in; i++) {
            float d = dy[i];   /* loaded unconditionally: the select vectorises */
            dx[i] = out[i] > 0.0f ? d : 0.0f;
        }
        unit_backward(m, &blk->c1, dx, da1, rn_a(m, blk->c1.a_bn), t2, n);
    }
}

int32_t rn_backward(rn_model *m, const float *dout, moco_error *err) {
    MOCO_ASSERT(dout);
    if (!m->last_train)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "backward without a train-mode forward: the last forward was %s. "
                           "HINT: call forward with train = 1 right before backward",
                           m->last_n ? "in eval mode (or failed)" : "never run");
    const int32_t n = m->last_n, fd = m->feat_dim, od = m->out_dim;
    if (m->last_compact) {
        /* The first backward of this instance: the forward ran in the compact
         * layout, which kept too little. Recompute it in the full layout from
         * the saved input (same kernels, same order: the same bits; the
         * running statistics were already updated) and stay full. */
        m->full_mode = 1;
        m->last_compact = 0;
        const float *x = m->act_compact[m->a_x];   // (n, C, H, W)
        memcpy(m->act_ptr, m->act_full, sizeof m->act_ptr);
        rn_forward_pass(m, m->recompute_out, x, n, 1, 0);
    }
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
    /* through bn1's ReLU; no gradient for the images */
    unit_backward(m, s, NULL, dy, rn_a(m, s->a_bn), m->g[4], n);
    return MOCO_OK;
}
