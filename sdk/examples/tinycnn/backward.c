/* tinycnn — backward pass of the last train-mode forward.
 *
 * The SDK's backward kernels ACCUMULATE (+=) into every gradient they are
 * given. That is what parameter gradients need (the host zeroes the grad
 * arena before each step), and it means every scratch buffer for an
 * activation gradient is zeroed right before a kernel writes into it.
 *
 * Three activation-sized scratch buffers are enough, per layer from the top:
 *   A = dL/d(relu output)  --relu_backward-->  B = dL/d(BN output)
 *   B --batchnorm_backward-->  C = dL/d(conv output)
 *   C --conv2d_backward-->  A = dL/d(conv input) = the layer below's "A"
 * (A is free again once B is computed, so it takes the next gradient.) */
#include <string.h>

#include "tinycnn.h"

static void zero(float *p, int64_t count) { memset(p, 0, (size_t)count * sizeof(float)); }

/* [main] See tinycnn.c for the contract. */
int32_t tc_backward(tc_model *m, const float *dout, moco_error *err) {
    MOCO_ASSERT(dout != NULL);
    /* Backward differentiates the activations of the last forward: without a
     * successful train-mode forward there is nothing valid to use. */
    if (!m->last_train)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "tinycnn: backward without a train-mode forward (the last forward "
                           "was %s). HINT: call forward with train = 1 right before backward",
                           m->last_n ? "in eval mode or failed" : "never run");
    const int32_t n = m->last_n, fd = m->feat_dim;
    float *A = m->g[0], *B = m->g[1], *C = m->g[2];

    /* Head: fc.weight/fc.bias gradients, and dL/dfeat (n, feat_dim). */
    zero(m->dfeat, (int64_t)n * fd);
    moco_linear_backward(m->dfeat, tc_g(m, m->t_fc), tc_g(m, m->t_fc + 1), dout, m->feat,
                         tc_t(m, m->t_fc), n, fd, m->out_dim);

    /* Global average pool: spread dL/dfeat over the last feature map. */
    const tc_layer *last = &m->layer[TC_LAYERS - 1];
    const int32_t last_hw = last->cs.h_out * last->cs.w_out;
    zero(A, (int64_t)n * fd * last_hw);
    moco_avgpool_global_backward(A, m->dfeat, n, fd, last_hw);   // (n, 8w, h4, w4)

    for (int32_t l = TC_LAYERS - 1; l >= 0; l--) {
        const tc_layer *L = &m->layer[l];
        moco_conv_shape cs = L->cs;
        cs.n = n;
        const int32_t hw = cs.h_out * cs.w_out;
        const int64_t count = (int64_t)n * cs.c_out * hw;
        zero(B, count);
        moco_relu_backward(B, A, L->act, count);                 // (n, c_out, h_out, w_out)
        zero(C, count);
        moco_batchnorm_backward(C, tc_g(m, L->t_bn), tc_g(m, L->t_bn + 1), B, L->conv,
                                tc_t(m, L->t_bn), L->mean, L->invstd, n, cs.c_out, hw);
        /* No gradient for the images themselves: din = NULL for conv1. */
        float *din = NULL;
        if (l > 0) {
            din = A;                                             // (n, c_in, h, w)
            zero(din, (int64_t)n * cs.c_in * cs.h * cs.w);
        }
        moco_conv2d_backward(din, tc_g(m, L->t_w), C, L->in, tc_t(m, L->t_w), m->ws, &cs);
    }
    return MOCO_OK;
}
