/* tinycnn — an example backbone plugin for the moco SDK, written as a
 * walk-through for plugin authors (docs/plugin-guide.md follows it).
 *
 * The network, for input (n, C, H, W) and INI key `width` = w:
 *
 *   conv1 3x3/1 C->w   bn1 relu    (n, w,  H,   W)
 *   conv2 3x3/2 w->2w  bn2 relu    (n, 2w, H/2, W/2)
 *   conv3 3x3/2 2w->4w bn3 relu    (n, 4w, H/4, W/4)
 *   conv4 3x3/2 4w->8w bn4 relu    (n, 8w, H/8, W/8)
 *   global average pool            (n, 8w)          = "feat" (feat_dim = 8w)
 *   fc  Linear(8w, out_dim)        (n, out_dim)     = "out"
 *
 * Everything the host must see (parameters, their gradients, BN running
 * statistics) lives in three arenas described by one tensor table; the names
 * are those PyTorch would give the same nn.Module ("conv1.weight",
 * "bn1.running_mean", "fc.bias"), so weights map one to one.
 *
 * Files: tinycnn.c  the moco_backbone_api and the plugin entry (start here)
 *        layout.c   tensor table, arenas, activations, parameter init
 *        forward.c  forward pass (train and eval)
 *        backward.c backward pass of the last train-mode forward */
#ifndef TINYCNN_H
#define TINYCNN_H

#include "moco/moco.h"

#define TC_LAYERS 4                               /* conv-BN-ReLU layers */
#define TC_TENSORS_PER_LAYER 6                    /* conv.weight + 5 BN entries */
#define TC_TENSORS (TC_LAYERS * TC_TENSORS_PER_LAYER + 2)   /* + fc.weight, fc.bias */
#define TC_NAME_LEN 32
#define TC_MAX_WIDTH 256
#define TC_BN_EPS 1e-5f

/* One conv -> BN -> ReLU layer. The t_* fields index the tensor table:
 * t_bn is bn.weight, followed by bn.bias, running_mean, running_var and
 * num_batches_tracked, PyTorch's state_dict order. */
typedef struct tc_layer {
    moco_conv_shape cs;   /* cs.n = max_batch; forward/backward copy it with the real n */
    int32_t t_w, t_bn;
    float *in;            /* conv input  (max_batch, c_in, h, w); layer 0: copy of x */
    float *conv;          /* conv output = BN input (max_batch, c_out, h_out, w_out) */
    float *act;           /* relu(BN output) (max_batch, c_out, h_out, w_out) */
    float *mean, *invstd; /* BN batch statistics of the last train forward (c_out) */
} tc_layer;

typedef struct tc_model {
    const moco_host *host;      /* the host's services; valid until destroy */
    int32_t width;              /* INI `width` */
    float bn_momentum;          /* INI `bn_momentum` */
    int32_t max_batch, out_dim, feat_dim;

    /* The tensor table (what the host checkpoints) and its three arenas. */
    moco_tensor_desc desc[TC_TENSORS];
    char names[TC_TENSORS][TC_NAME_LEN];
    moco_arena params, grads, buffers;

    tc_layer layer[TC_LAYERS];
    int32_t t_fc;               /* fc.weight (out_dim, feat_dim); fc.bias follows */

    /* Private memory the host never sees. */
    float *act_arena;           /* every tc_layer buffer + feat */
    float *feat;                /* pooled features (max_batch, feat_dim) */
    float *scratch;             /* backward: g[0..2] + dfeat + conv workspace */
    float *g[3];                /* each holds the largest activation */
    float *dfeat;               /* (max_batch, feat_dim) */
    float *ws;                  /* conv workspace, max over the layers */
    int64_t private_floats;     /* size of act_arena + scratch */

    /* What backward needs to know about the last forward. */
    int32_t last_n;
    int32_t last_train;
} tc_model;

/* layout.c — [main] Build the table, allocate and initialise everything for
 * m->width, m->max_batch, m->out_dim and inputs (channels, height, width).
 * On failure err is filled and tc_layout_free(m) releases what was made. */
int32_t tc_layout_build(tc_model *m, int32_t channels, int32_t height, int32_t width,
                        moco_error *err);
void tc_layout_free(tc_model *m);
/* [main] Fill parameters and buffers from `seed` (PyTorch's init schemes). */
void tc_init_params(tc_model *m, uint64_t seed);

/* forward.c / backward.c — [main]; the contract is in tinycnn.c. */
int32_t tc_forward(tc_model *m, float *out, float *feat, const float *x, int32_t n,
                   int32_t train, moco_error *err);
int32_t tc_backward(tc_model *m, const float *dout, moco_error *err);

/* Tensor i's values and gradient. */
static inline float *tc_t(const tc_model *m, int32_t i) { return (float *)m->desc[i].data; }
static inline float *tc_g(const tc_model *m, int32_t i) { return m->desc[i].grad; }

#endif
