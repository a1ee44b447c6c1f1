/* moco SDK — dataset plugins (kind MOCO_KIND_DATASET).
 * A dataset yields uint8 images (c, h, w) and integer labels. The host
 * creates one instance per split (train, test) from the same INI section. */
#ifndef MOCO_DATASET_H
#define MOCO_DATASET_H

#include "moco/sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MOCO_SPLIT_TRAIN = 0, MOCO_SPLIT_TEST = 1 };

typedef struct moco_dataset_info {
    moco_version sdk_version;
    int64_t count;          /* images in this split (after any `limit`) */
    int32_t channels, height, width;
    int32_t num_classes;
} moco_dataset_info;

typedef struct moco_dataset_api {
    moco_version sdk_version;

    /* [main] Read and validate the plugin's INI keys, open the split.
     * On failure return non-zero with err filled; *out untouched.
     * `host` stays valid until destroy. */
    int32_t (*create)(const moco_host *host, int32_t split, void **out, moco_error *err);
    /* [main] NULL is a no-op. */
    void (*destroy)(void *ds);
    /* [any] */
    void (*info)(void *ds, moco_dataset_info *out);
    /* [any] Copy image `index` (0 <= index < count) into pixels
     * (channels, height, width) uint8 and its label into *label.
     * Must be safe to call concurrently from several threads. */
    int32_t (*get)(void *ds, int64_t index, uint8_t *pixels, int32_t *label,
                   moco_error *err);
} moco_dataset_api;

#ifdef __cplusplus
}
#endif
#endif /* MOCO_DATASET_H */
