/* moco SDK — dictionary plugins (kind MOCO_KIND_DICTIONARY).
 * Holds the negative keys (k, dim). The MoCo queue is one strategy: FIFO with
 * a pointer, K keys, initialised with random unit vectors. */
#ifndef MOCO_DICTIONARY_H
#define MOCO_DICTIONARY_H

#include "moco/sdk.h"
#include "moco/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct moco_dictionary_api {
    moco_version sdk_version;

    /* [main] Read INI keys (e.g. size K); `dim` is the key size and `batch`
     * the number of keys enqueued per step (a strategy may refuse sizes it
     * cannot handle, e.g. K % batch != 0). Initial contents come from
     * host->rng_stream("dictionary"). */
    int32_t (*create)(const moco_host *host, int32_t dim, int32_t batch, void **out,
                      moco_error *err);
    void (*destroy)(void *d);                                      /* [main] */
    /* [main] The current negatives: *keys (count, dim), valid until the next
     * enqueue or destroy. */
    void (*negatives)(void *d, const float **keys, int32_t *count);
    /* [main] Add this step's keys (n, dim), n == batch. */
    int32_t (*enqueue)(void *d, const float *keys, int32_t n, moco_error *err);
    /* [main] Persistent state for checkpoints (contents, pointer, ...):
     * number of entries and entry i. Loading writes through desc.data. */
    int32_t (*num_state)(void *d);
    void (*state)(void *d, int32_t i, moco_tensor_desc *out);
} moco_dictionary_api;

#ifdef __cplusplus
}
#endif
#endif /* MOCO_DICTIONARY_H */
