/* tinycnn — the moco_backbone_api and the plugin entry. Read this file
 * first: it is the whole contract between a backbone and the host.
 *
 * How the host drives a backbone (host/setup.c, host/train.c):
 *   1. create() twice from the same [backbone] section: the query and the key
 *      encoder. Both must come out identical (same rng stream "init"); the
 *      host then copies the query's arenas over the key's anyway.
 *   2. info() and tensor(i) once: the arenas and the named tensors. The host
 *      keeps the pointers until destroy(), so they must never move.
 *   3. Every step: zero the grad arena, forward(train=1) on the query
 *      encoder, forward(train=1) on the key encoder (no backward), backward()
 *      on the query encoder, then SGD and the momentum update as flat loops
 *      over the arenas. Checkpoints read and write through tensor(i).data.
 *   4. Evaluation: forward(train=0) with feat != NULL, n <= max_batch.
 *
 * INI keys of the section (unknown keys are reported by the host):
 *   width       = 32    base width w; the layers have w, 2w, 4w, 8w channels
 *   bn_momentum = 0.1   PyTorch's BatchNorm momentum for the running stats */
#include <stdlib.h>

#include "tinycnn.h"

/* [main] Read the section's keys. Every key is looked up even when absent,
 * which is how the host learns that the key belongs to us. The moco_cfg_*
 * readers write "FILE:LINE: [backbone] width = 'x': why. HINT: ..." on a bad
 * value, so there is nothing to add here. */
static int32_t tc_config(tc_model *m, const moco_host *host, moco_error *err) {
    int64_t width;
    double momentum;
    int32_t rc;
    if ((rc = moco_cfg_int(host, "width", 32, 1, TC_MAX_WIDTH, &width, err))) return rc;
    if ((rc = moco_cfg_float(host, "bn_momentum", 0.1, 0.0, 1.0, &momentum, err))) return rc;
    m->width = (int32_t)width;
    m->bn_momentum = (float)momentum;
    return MOCO_OK;
}

/* [main] Build the model for inputs (max_batch, channels, height, width) and
 * embedding size out_dim. On success *out is the caller's until destroy();
 * `host` must stay valid until then (the host promises it). On failure *out
 * is NULL, err says what to change, nothing leaks. The host prefixes a
 * create() error with "[backbone] tinycnn: " unless it already starts with
 * the INI file's name (as moco_cfg_* errors do), so no prefix here. */
static int32_t tc_create(const moco_host *host, int32_t channels, int32_t height,
                         int32_t width, int32_t max_batch, int32_t out_dim, void **out,
                         moco_error *err) {
    *out = NULL;
    /* The plugin entry already told the host our SDK version; this is the
     * other direction: a host of another major could hand us a table we do
     * not understand. (A newer minor only appends members: fine.) */
    if (!host || host->sdk_version.major != MOCO_SDK_VERSION_MAJOR)
        return moco_errorf(err, MOCO_ERR_UNSUPPORTED,
                           "host SDK %u.x, plugin built for SDK %d.x. HINT: rebuild tinycnn "
                           "against the host's SDK",
                           host ? (unsigned)host->sdk_version.major : 0u,
                           MOCO_SDK_VERSION_MAJOR);
    if (channels < 1 || height < 1 || width < 1)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "input images of %dx%dx%d are empty. HINT: check the "
                           "dataset's image size and the augmentation's output size",
                           (int)channels, (int)height, (int)width);
    if (max_batch < 1 || out_dim < 1)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "max_batch = %d, out_dim = %d; both must be >= 1. HINT: "
                           "set [train] batch and [moco] dim to positive values",
                           (int)max_batch, (int)out_dim);

    tc_model *m = calloc(1, sizeof *m);
    if (!m) return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory. HINT: free some memory");
    m->host = host;
    m->max_batch = max_batch;
    m->out_dim = out_dim;
    int32_t rc = tc_config(m, host, err);
    if (!rc) rc = tc_layout_build(m, channels, height, width, err);
    if (rc) {
        tc_layout_free(m);
        free(m);
        return rc;
    }
    /* Same stream name in both instances -> bit-identical encoders. */
    tc_init_params(m, host->rng_stream(host->ctx, "init"));
    moco_logf(host, MOCO_LOG_INFO,
              "width %d: %lld parameters, %lld buffer values, feat_dim %d, input "
              "%dx%dx%d, max_batch %d",
              (int)m->width, (long long)m->params.count, (long long)m->buffers.count,
              (int)m->feat_dim, (int)channels, (int)height, (int)width, (int)max_batch);
    *out = m;
    return MOCO_OK;
}

/* [main] Frees everything; every pointer handed out (arenas, table names)
 * dies with it. NULL is a no-op. */
static void tc_destroy(void *mp) {
    if (!mp) return;
    tc_layout_free(mp);
    free(mp);
}

/* [any] Sizes and the three arenas; pointers valid until destroy. Reads
 * only fields fixed at create(), so any thread may call it.
 * out->sdk_version says which members we wrote: every member up to the SDK
 * minor we are compiled against. Members appended in later minors exist only
 * in newer headers, hence the #if: this file builds against SDK 1.0 and 1.1. */
static void tc_info(void *mp, moco_backbone_info *out) {
    const tc_model *m = mp;
    out->sdk_version = (moco_version)MOCO_SDK_VERSION_INIT;
    out->out_dim = m->out_dim;
    out->feat_dim = m->feat_dim;
    out->max_batch = m->max_batch;
    out->num_tensors = TC_TENSORS;
    out->params = m->params;
    out->grads = m->grads;
    out->buffers = m->buffers;
#if MOCO_SDK_VERSION_MINOR >= 1
    out->memory_bytes = m->private_floats * (int64_t)sizeof(float);   /* since 1.1 */
#endif
}

/* [any] Entry i of the tensor table; the strings and data pointers stay
 * valid until destroy. The order never changes: it is the checkpoint order.
 * An out-of-range i is the host's bug, not the user's: assert. */
static void tc_tensor(void *mp, int32_t i, moco_tensor_desc *out) {
    const tc_model *m = mp;
    MOCO_ASSERT(i >= 0 && i < TC_TENSORS);
    *out = m->desc[i];
}

/* [main] x (n, c, h, w) is read during the call only; out (n, out_dim) and
 * feat (n, feat_dim, or NULL) belong to the caller. */
static int32_t tc_forward_api(void *m, float *out, float *feat, const float *x, int32_t n,
                              int32_t train, moco_error *err) {
    return tc_forward(m, out, feat, x, n, train, err);
}

/* [main] dout (n, out_dim) is read during the call only; n is the last
 * forward's. Parameter gradients ACCUMULATE into the grad arena. */
static int32_t tc_backward_api(void *m, const float *dout, moco_error *err) {
    return tc_backward(m, dout, err);
}

/* The kind's function table. It starts with the SDK version the plugin was
 * compiled against; the host checks it (and the entry's) before any call. */
static const moco_backbone_api tc_api = {
    MOCO_SDK_VERSION_INIT, tc_create, tc_destroy, tc_info, tc_tensor, tc_forward_api,
    tc_backward_api,
};

/* The one exported symbol, `moco_entry`. Built with hidden visibility
 * (moco_add_plugin does that), everything else in this .so stays private. */
MOCO_PLUGIN(MOCO_KIND_BACKBONE, "tinycnn", "1.0.0",
            "example 4-layer CNN with BatchNorm (INI: width, bn_momentum)", &tc_api);
