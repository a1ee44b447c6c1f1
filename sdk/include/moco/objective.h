/* moco SDK — objective plugins (kind MOCO_KIND_OBJECTIVE).
 * A contrastive loss of queries q (n, dim) against their positive keys
 * k (n, dim) and the dictionary's negatives (count, dim). q and k arrive
 * L2-normalised; the host back-propagates dL/dq through the normalisation. */
#ifndef MOCO_OBJECTIVE_H
#define MOCO_OBJECTIVE_H

#include "moco/sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct moco_objective_result {
    moco_version sdk_version;   /* filled by the host (its SDK version) before loss() */
    float loss;        /* mean over the batch */
    float accuracy;    /* fraction of rows whose positive has the top logit */
} moco_objective_result;

typedef struct moco_objective_api {
    moco_version sdk_version;

    /* [main] Read INI keys (e.g. temperature). */
    int32_t (*create)(const moco_host *host, int32_t dim, void **out, moco_error *err);
    void (*destroy)(void *o);                                      /* [main] */
    /* [main] Loss of the batch; dq (n, dim) = dL/dq (overwritten, not
     * accumulated; NULL when not needed); logits (n, 1 + count) when non-NULL
     * receives the scaled logits with the positive at column 0. */
    int32_t (*loss)(void *o, moco_objective_result *res, float *dq, float *logits,
                    const float *q, const float *k, const float *negatives, int32_t n,
                    int32_t count, int32_t dim, moco_error *err);
} moco_objective_api;

#ifdef __cplusplus
}
#endif
#endif /* MOCO_OBJECTIVE_H */
