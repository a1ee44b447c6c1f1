/* moco SDK — augmentation plugins (kind MOCO_KIND_AUGMENT).
 * Turns a uint8 image (c, h, w) into a float view (c, out_h, out_w) ready for
 * the backbone (normalised). Randomness comes only from the `seed` argument,
 * so a view is a pure function of (run seed, epoch, index, view number): the
 * host derives `seed` with moco_seed_mix and any thread may compute it. */
#ifndef MOCO_AUGMENT_H
#define MOCO_AUGMENT_H

#include "moco/sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct moco_image_shape {
    int32_t channels, height, width;
    int32_t reserved0;
} moco_image_shape;

typedef struct moco_augment_api {
    moco_version sdk_version;

    /* [main] Read the plugin's INI keys for input images of shape `in`. */
    int32_t (*create)(const moco_host *host, const moco_image_shape *in, void **out,
                      moco_error *err);
    void (*destroy)(void *aug);                       /* [main] */
    /* [any] Shape of the views it produces. */
    void (*output_shape)(void *aug, moco_image_shape *out);
    /* [any] One random view: dst (c, out_h, out_w) from src (c, h, w). */
    int32_t (*apply)(void *aug, float *dst, const uint8_t *src, uint64_t seed,
                     moco_error *err);
    /* [any] The deterministic evaluation transform (no randomness: resize if
     * needed and normalise), used for kNN and linear evaluation. */
    int32_t (*apply_eval)(void *aug, float *dst, const uint8_t *src, moco_error *err);
} moco_augment_api;

#ifdef __cplusplus
}
#endif
#endif /* MOCO_AUGMENT_H */
