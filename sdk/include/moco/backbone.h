/* moco SDK — backbone plugins (kind MOCO_KIND_BACKBONE).
 * An encoder: images (n, c, h, w) -> pooled features (n, feat_dim) ->
 * projection head -> (n, out_dim). The host creates two instances (query and
 * key encoder) from the same section and reaches parameters only through
 * the tensor table and the arenas, so the optimizer, the momentum update and
 * checkpoints never need to know the architecture.
 *
 * Arenas: all parameters of an instance are one contiguous float array, the
 * gradients another with the same layout (grad[i] belongs to param[i]), the
 * buffers (BN running stats, counters as floats) a third. Each tensor_desc's
 * data/grad points inside them. */
#ifndef MOCO_BACKBONE_H
#define MOCO_BACKBONE_H

#include "moco/sdk.h"
#include "moco/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef struct moco_backbone_info {
    moco_version sdk_version;
    int32_t out_dim;        /* head output (the MoCo embedding dim) */
    int32_t feat_dim;       /* pooled feature dim before the head */
    int32_t max_batch;      /* largest n accepted by forward */
    int32_t num_tensors;    /* entries in the tensor table */
    moco_arena params, grads, buffers;
    /* since 1.1 */
    int64_t memory_bytes;   /* activations + scratch this instance allocated; the host
                               reads it only when sdk_version.minor >= 1 */
} moco_backbone_info;

typedef struct moco_backbone_api {
    moco_version sdk_version;

    /* [main] Build the model for inputs (max_batch, channels, height, width)
     * and embedding dim `out_dim` (the host's [moco] dim), reading its INI
     * keys. Parameters are initialised from host->rng_stream("init"), so two
     * instances created in one run are identical. The host creates two
     * instances (query and key encoder) that must have identical layouts;
     * it writes parameters and buffers directly between calls (optimizer,
     * momentum update, checkpoint load), so cache nothing derived from them,
     * and it zeroes the gradient arena itself before each backward. */
    int32_t (*create)(const moco_host *host, int32_t channels, int32_t height,
                      int32_t width, int32_t max_batch, int32_t out_dim, void **out,
                      moco_error *err);
    void (*destroy)(void *m);                                   /* [main] */
    /* [any] Fill *out, starting with out->sdk_version = the plugin's SDK
     * version, so the host knows which members were written. */
    void (*info)(void *m, moco_backbone_info *out);
    /* [any] Entry i of the tensor table (0 <= i < num_tensors); pointers
     * valid until destroy. Order is stable: it is the checkpoint order. */
    void (*tensor)(void *m, int32_t i, moco_tensor_desc *out);

    /* [main] Forward n <= max_batch images x (n, c, h, w); the last batch of
     * an evaluation pass may be smaller than max_batch. x is valid only
     * during the call (copy what backward needs).
     * out (n, out_dim) head output; feat (n, feat_dim) pooled features, or
     * NULL. train != 0: BN uses batch statistics and updates running stats,
     * and activations are kept for backward. train == 0: running stats. */
    int32_t (*forward)(void *m, float *out, float *feat, const float *x, int32_t n,
                       int32_t train, moco_error *err);
    /* [main] Backward of the last train-mode forward: accumulate parameter
     * gradients for dout (n, out_dim). */
    int32_t (*backward)(void *m, const float *dout, moco_error *err);
} moco_backbone_api;

#ifdef __cplusplus
}
#endif
#endif /* MOCO_BACKBONE_H */
