/* resnet18 plugin — the moco_backbone_api and the plugin entry.
 * torchvision.models.resnet18 with a CIFAR or ImageNet stem and a linear
 * (MoCo v1) or MLP (MoCo v2) head; tensor names, shapes and order are those
 * of torchvision's state_dict, so weights map one to one. */
#include <stdlib.h>

#include "resnet18.h"

/* [main] Reads the section's keys, builds the tables, allocates every arena
 * (parameters, gradients, buffers, activations for max_batch, scratch) and
 * initialises from host->rng_stream("init"). On success *out is owned by the
 * caller until destroy(); `host` must stay valid until then. */
static int32_t rn_create(const moco_host *host, int32_t channels, int32_t height,
                         int32_t width, int32_t max_batch, int32_t out_dim, void **out,
                         moco_error *err) {
    *out = NULL;
    if (!host || host->sdk_version.major != MOCO_SDK_VERSION_MAJOR)
        return moco_errorf(err, MOCO_ERR_UNSUPPORTED,
                           "host SDK %u.x, plugin built for %d.x. HINT: rebuild the plugin "
                           "against the host's SDK",
                           host ? (unsigned)host->sdk_version.major : 0u,
                           MOCO_SDK_VERSION_MAJOR);
    rn_config cfg;
    int32_t rc = rn_config_read(host, &cfg, err);
    if (rc) return rc;
    if (channels < 1 || height < 1 || width < 1)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "input size %dx%dx%d is empty. HINT: check the dataset's image "
                           "size and channels",
                           (int)channels, (int)height, (int)width);
    if (max_batch < 1)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "max_batch = %d. HINT: use a batch size of at least 1",
                           (int)max_batch);
    if (out_dim < 1)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "embedding dim = %d. HINT: set [moco] dim to a positive number "
                           "(128 in the MoCo papers)",
                           (int)out_dim);

    rn_model *m = calloc(1, sizeof *m);
    if (!m) return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory. HINT: free some memory");
    m->host = host;
    m->cfg = cfg;
    m->channels = channels;
    m->height = height;
    m->width = width;
    m->max_batch = max_batch;
    m->out_dim = out_dim;
    if ((rc = rn_layout_build(m, err))) {
        rn_layout_free(m);
        free(m);
        return rc;
    }
    rn_init_params(m, host->rng_stream(host->ctx, "init"));
    moco_logf(host, MOCO_LOG_DEBUG,
              RN_PLUGIN_NAME " %s stem, width %d, %s head: %lld parameters, %lld buffer values; "
              "activations %.1f MiB (compact %.1f MiB) + scratch %.1f MiB for batch %d of "
              "%dx%dx%d",
              cfg.stem == RN_STEM_CIFAR ? "cifar" : "imagenet", (int)cfg.width,
              cfg.head == RN_HEAD_LINEAR ? "linear" : "mlp", (long long)m->params.count,
              (long long)m->buffers.count, (double)m->activations.count * 4.0 / 1048576.0,
              (double)m->compact.count * 4.0 / 1048576.0,
              (double)m->scratch.count * 4.0 / 1048576.0, (int)max_batch, (int)channels,
              (int)height, (int)width);
    *out = m;
    return MOCO_OK;
}

/* [main] Frees everything; m (may be NULL) and every pointer handed out die. */
static void rn_destroy(void *m) {
    if (!m) return;
    rn_init_forget(m);
    rn_layout_free(m);
    free(m);
}

/* [any] Sizes and the three arenas (pointers valid until destroy). */
static void rn_info(void *mp, moco_backbone_info *out) {
    const rn_model *m = mp;
    out->sdk_version = (moco_version)MOCO_SDK_VERSION_INIT;
    out->out_dim = m->out_dim;
    out->feat_dim = m->feat_dim;
    out->max_batch = m->max_batch;
    out->num_tensors = m->num_tensors;
    out->params = m->params;
    out->grads = m->grads;
    out->buffers = m->buffers;
    out->memory_bytes =
        (m->activations.count + m->compact.count + m->scratch.count) * (int64_t)sizeof(float);
}

/* [any] Entry i of the table, state_dict order; pointers valid until destroy. */
static void rn_tensor(void *mp, int32_t i, moco_tensor_desc *out) {
    const rn_model *m = mp;
    MOCO_ASSERT(i >= 0 && i < m->num_tensors);
    *out = m->desc[i];
}

/* [main] x (n, c, h, w) is read during the call only (train mode keeps a
 * copy); out (n, out_dim) and feat (n, feat_dim, may be NULL) are caller's. */
static int32_t rn_forward_api(void *m, float *out, float *feat, const float *x, int32_t n,
                              int32_t train, moco_error *err) {
    return rn_forward(m, out, feat, x, n, train, err);
}

/* [main] dout (n, out_dim) is read during the call only; n is the last
 * forward's. Gradients accumulate into the grad arena. */
static int32_t rn_backward_api(void *m, const float *dout, moco_error *err) {
    return rn_backward(m, dout, err);
}

static const moco_backbone_api rn_api = {
    MOCO_SDK_VERSION_INIT, rn_create, rn_destroy, rn_info, rn_tensor, rn_forward_api,
    rn_backward_api,
};

/* The one exported symbol (MOCO_PLUGIN_ENTRY_SYMBOL). */
MOCO_PLUGIN(MOCO_KIND_BACKBONE, RN_PLUGIN_NAME, "1.0.0",
            RN_DEPTH == 18 ? "ResNet-18 in torchvision's layout (INI: stem, width, head, "
                             "bn_momentum, bn_eps, zero_init_residual)"
                           : "ResNet-34 in torchvision's layout (INI: stem, width, head, "
                             "bn_momentum, bn_eps, zero_init_residual)",
            &rn_api);
