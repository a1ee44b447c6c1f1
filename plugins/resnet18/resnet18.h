/* resnet18 plugin — internal types shared by its source files.
 *
 * The model is torchvision.models.resnet18 (BasicBlock x [2, 2, 2, 2]) with a
 * choice of stem and head. Everything persistent lives in three arenas laid
 * out from one tensor table whose order is torchvision's state_dict order;
 * everything per-forward lives in one activation arena laid out from a table
 * of activation sizes; backward uses a scratch arena. Layers refer to tensors
 * and activations by table index, so the table is the single source of truth.
 *
 * Files: config.c (INI keys), layout.c (tables, arenas), init.c (parameter
 * init), forward.c, backward.c, plugin.c (the moco_backbone_api). */
#ifndef MOCO_RESNET18_H
#define MOCO_RESNET18_H

#include "moco/moco.h"

#define RN_NAME_LEN 64
/* The same sources build two plugins: resnet18 (BasicBlock x [2, 2, 2, 2])
 * and resnet34 (x [3, 4, 6, 3]), chosen by RN_DEPTH at compile time. */
#ifndef RN_DEPTH
#define RN_DEPTH 18
#endif
#if RN_DEPTH == 18
#define RN_PLUGIN_NAME "resnet18"
#define RN_STAGE_BLOCKS {2, 2, 2, 2}
#elif RN_DEPTH == 34
#define RN_PLUGIN_NAME "resnet34"
#define RN_STAGE_BLOCKS {3, 4, 6, 3}
#else
#error "RN_DEPTH must be 18 or 34"
#endif
#define RN_MAX_BLOCKS 16     /* BasicBlocks: layer1.0, ..., layer4.N */
#define RN_MAX_TENSORS 240   /* resnet18: 122 / 124 (mlp); resnet34: 218 / 220 */
#define RN_MAX_ACTS 176

enum { RN_STEM_CIFAR = 0, RN_STEM_IMAGENET = 1 };
enum { RN_HEAD_LINEAR = 0, RN_HEAD_MLP = 1 };

/* The plugin's INI keys (see config.c for defaults and ranges). */
typedef struct rn_config {
    int32_t stem;               /* RN_STEM_* */
    int32_t width;              /* base width w; stages have w, 2w, 4w, 8w */
    int32_t head;               /* RN_HEAD_* */
    float bn_momentum;
    float bn_eps;
    int32_t zero_init_residual; /* bn2.weight of every block starts at 0 */
} rn_config;

/* How init.c fills a tensor (decided by layout.c, where the layer is known). */
enum {
    RN_INIT_ZERO = 0,
    RN_INIT_ONE,
    RN_INIT_KAIMING_FAN_OUT,   /* normal(0, sqrt(2 / fan)), fan = c_out*kh*kw */
    RN_INIT_UNIFORM_FAN_IN     /* uniform(-1/sqrt(fan), 1/sqrt(fan)), fan = in_features */
};

typedef struct rn_init {
    int32_t kind;
    int64_t fan;
} rn_init;

/* conv (no bias) -> BatchNorm2d. Tensor indices point into the table:
 * t_bn is bn.weight; bias, running_mean, running_var, num_batches_tracked
 * follow it in that order (torchvision's order). Activation indices point
 * into the activation table. */
typedef struct rn_unit {
    moco_conv_shape cs;  /* n = max_batch; forward/backward copy it with the real n */
    int32_t t_w;         /* conv weight (c_out, c_in, kh, kw) */
    int32_t t_bn;        /* bn weight (c_out), then the other four */
    int32_t a_in;        /* conv input  (n, c_in, h, w) */
    int32_t a_conv;      /* conv output = BN input (n, c_out, h_out, w_out) */
    int32_t a_bn;        /* BN output (n, c_out, h_out, w_out); ReLU in place where used */
    int32_t a_mean;      /* BN batch mean (c_out) */
    int32_t a_invstd;    /* BN batch 1/sqrt(var + eps) (c_out) */
} rn_unit;

typedef struct rn_block {
    rn_unit c1;          /* conv1 -> bn1 -> relu (in place in c1.a_bn) */
    rn_unit c2;          /* conv2 -> bn2, written straight into a_out */
    rn_unit down;        /* downsample.0 -> downsample.1, when has_down */
    int32_t has_down;
    int32_t a_in;        /* block input (n, c_in, h, w) */
    int32_t a_out;       /* relu(bn2 + identity) (n, c_out, h_out, w_out) */
} rn_block;

typedef struct rn_act {
    int64_t count;       /* floats, already multiplied by max_batch where per image */
    int64_t per_image;   /* floats per image, 0 for per-channel caches */
} rn_act;

typedef struct rn_model {
    const moco_host *host;   /* valid until destroy (host's promise) */
    rn_config cfg;
    int32_t channels, height, width, max_batch, out_dim, feat_dim;

    /* Tensor table in state_dict order, and how to initialise each entry. */
    int32_t num_tensors;
    moco_tensor_desc desc[RN_MAX_TENSORS];
    char names[RN_MAX_TENSORS][RN_NAME_LEN];
    rn_init init[RN_MAX_TENSORS];
    int64_t offset[RN_MAX_TENSORS];   /* into params/grads (PARAM) or buffers (BUFFER) */
    moco_arena params, grads, buffers;

    /* Layers. */
    rn_unit stem;                     /* conv1 -> bn1 -> relu (in place) */
    int32_t a_x;                      /* copy of the input (n, C, H, W), for conv1's dweight */
    int32_t a_pool;                   /* imagenet stem: max-pool output, else -1 */
    int32_t *argmax;                  /* (max_batch, w, pool_h, pool_w) */
    int64_t argmax_count;
    int32_t pool_h, pool_w;
    rn_block blocks[RN_MAX_BLOCKS];
    int32_t num_blocks;
    int32_t a_feat;                   /* pooled features (n, feat_dim) */
    int32_t a_hidden;                 /* mlp head: relu(fc.0(feat)) (n, feat_dim), else -1 */
    int32_t t_fc;                     /* linear head: fc.weight (out_dim, feat_dim); fc.bias next */
    int32_t t_fc0, t_fc2;             /* mlp head: fc.0.weight, fc.2.weight; biases next */
    int32_t min_bn_hw;                /* smallest BN plane, to refuse degenerate batch stats */

    /* Activations. Two layouts of the same table: the full arena keeps every
     * activation for backward; the compact one maps the per-image
     * activations onto three rotating buffers (a conv's output, BN in place,
     * the block output), about 1/6 of the size. An instance runs compact
     * until its first backward (a key encoder never leaves it); that
     * backward recomputes the last forward in the full layout, bit for bit,
     * and the instance stays full from then on. act_ptr is the table in use. */
    int32_t num_acts;
    rn_act acts[RN_MAX_ACTS];
    float *act_ptr[RN_MAX_ACTS];
    float *act_full[RN_MAX_ACTS];
    float *act_compact[RN_MAX_ACTS];
    moco_arena activations;           /* full layout */
    moco_arena compact;               /* compact layout */
    int32_t full_mode;                /* 1 after the first backward */
    float *recompute_out;             /* (max_batch, out_dim): the recompute's output */
    float *bn_sink;                   /* (2, 8 w): running stats the recompute discards */

    /* Backward scratch: five buffers of the largest activation (see
     * backward.c for who uses which; g[2..4] are the compact layout's
     * buffers), two (max_batch, feat_dim) for the head, and the conv
     * workspace. */
    moco_arena scratch;
    float *g[5];
    float *g_feat, *g_hidden;
    int64_t g_count;                  /* floats per g[i] */
    float *ws;                        /* conv workspace (max over layers) */
    size_t ws_count;

    /* State of the last forward. */
    int32_t last_n;
    int32_t last_train;
    int32_t last_compact;             /* it used the compact layout */

    /* Initialisation (init.c): the seed, a hash of the values drawn, and the
     * list of live instances, so that an instance created like a live one
     * whose values are still the initial ones copies them. */
    uint64_t init_seed, init_hash;
    struct rn_model *next_live;
} rn_model;

/* config.c — [main] Read and validate every key. */
int32_t rn_config_read(const moco_host *host, rn_config *cfg, moco_error *err);

/* layout.c — [main] Build the tensor and activation tables for m->cfg and the
 * input size in m, then allocate all arenas (m owns them). */
int32_t rn_layout_build(rn_model *m, moco_error *err);
void rn_layout_free(rn_model *m);

/* init.c — [main] Fill parameters and buffers from the seed (torchvision's
 * init schemes). Same seed, same bits: when a live instance with the same
 * configuration and seed still holds its initial values (a query encoder
 * created just before its key encoder), they are copied instead of drawn
 * again. Registers m; rn_init_forget removes it (before freeing). */
void rn_init_params(rn_model *m, uint64_t seed);
void rn_init_forget(rn_model *m);

/* forward.c / backward.c — [main]; see plugin.c for the contract. */
int32_t rn_forward(rn_model *m, float *out, float *feat, const float *x, int32_t n,
                   int32_t train, moco_error *err);
/* The forward's computation in the layout act_ptr points to; update != 0
 * updates the BN running statistics and num_batches_tracked (train mode). */
void rn_forward_pass(rn_model *m, float *out, const float *x, int32_t n, int32_t train,
                     int32_t update);
int32_t rn_backward(rn_model *m, const float *dout, moco_error *err);

/* Tensor/activation accessors. */
static inline float *rn_t(const rn_model *m, int32_t i) { return (float *)m->desc[i].data; }
static inline float *rn_g(const rn_model *m, int32_t i) { return m->desc[i].grad; }
static inline float *rn_a(const rn_model *m, int32_t i) { return m->act_ptr[i]; }

#endif
