/* tinycnn — forward pass. Writes only into the plugin's own activation
 * memory (and, in train mode, the BN running statistics in the buffers
 * arena); allocates nothing, so a step costs no malloc. In train mode the
 * activations keep exactly what backward.c reads. */
#include <math.h>
#include <string.h>

#include "tinycnn.h"

/* [main] See tinycnn.c for the contract. */
int32_t tc_forward(tc_model *m, float *out, float *feat, const float *x, int32_t n,
                   int32_t train, moco_error *err) {
    /* NULL buffers are a bug in the caller, not something a user can cause. */
    MOCO_ASSERT(out != NULL && x != NULL);
    /* A batch that does not fit is a mistake a user can cause through the
     * config (e.g. an eval batch above the one the model was created for):
     * an error with a HINT, never a crash. */
    if (n < 1 || n > m->max_batch)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "tinycnn: forward of %d images, but the model was created for "
                           "1..%d. HINT: create the backbone with max_batch >= %d",
                           (int)n, (int)m->max_batch, (int)(n > 1 ? n : 1));
    const tc_layer *last = &m->layer[TC_LAYERS - 1];
    const int32_t last_hw = last->cs.h_out * last->cs.w_out;
    /* Batch statistics of a single value are 0/0: refuse rather than NaN. */
    if (train && (int64_t)n * last_hw < 2)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "tinycnn: train-mode forward of %d image(s) whose last feature map "
                           "is %dx%d: BatchNorm needs at least 2 values per channel. HINT: use "
                           "a batch of 2 or more, or larger images",
                           (int)n, (int)last->cs.h_out, (int)last->cs.w_out);
    /* Until this forward succeeds, backward must refuse to run. */
    m->last_train = 0;
    m->last_n = n;

    /* conv1 reads a private copy: x need not outlive this call, and backward
     * needs the input for conv1's weight gradient. */
    const moco_conv_shape *s0 = &m->layer[0].cs;
    memcpy(m->layer[0].in, x, (size_t)n * s0->c_in * s0->h * s0->w * sizeof(float));

    for (int32_t l = 0; l < TC_LAYERS; l++) {
        const tc_layer *L = &m->layer[l];
        moco_conv_shape cs = L->cs;   /* the shape was built for max_batch */
        cs.n = n;
        const int32_t hw = cs.h_out * cs.w_out;
        const int64_t count = (int64_t)n * cs.c_out * hw;
        moco_conv2d_forward(L->conv, L->in, tc_t(m, L->t_w), m->ws, &cs);   // (n, c_out, h_out, w_out)
        /* train: batch stats, cached in mean/invstd, running stats updated;
         * eval: running stats. BN output goes to act, ReLU in place. */
        moco_batchnorm_forward(L->act, tc_t(m, L->t_bn + 2), tc_t(m, L->t_bn + 3), L->mean,
                               L->invstd, L->conv, tc_t(m, L->t_bn), tc_t(m, L->t_bn + 1), n,
                               cs.c_out, hw, m->bn_momentum, TC_BN_EPS, train);
        if (train) tc_t(m, L->t_bn + 4)[0] += 1.0f;   /* num_batches_tracked */
        moco_relu_forward(L->act, L->act, count);      // (n, c_out, h_out, w_out)
    }

    moco_avgpool_global_forward(m->feat, last->act, n, m->feat_dim, last_hw);   // (n, feat_dim)
    moco_linear_forward(out, m->feat, tc_t(m, m->t_fc), tc_t(m, m->t_fc + 1), n, m->feat_dim,
                        m->out_dim);                                             // (n, out_dim)
    if (feat) memcpy(feat, m->feat, (size_t)n * m->feat_dim * sizeof(float));

    /* A NaN here would silently poison the queue and every later step; the
     * host turns MOCO_ERR_NUMERIC into "training diverged at step ...". */
    for (int64_t i = 0; i < (int64_t)n * m->out_dim; i++)
        if (!isfinite(out[i]))
            return moco_errorf(err, MOCO_ERR_NUMERIC,
                               "tinycnn: non-finite output for image %d. HINT: the parameters "
                               "or the input hold NaN/Inf; lower the learning rate or check "
                               "the data", (int)(i / m->out_dim));
    m->last_train = train != 0;
    return MOCO_OK;
}
