/* Dictionary plugin "queue": the MoCo queue of negative keys.
 *
 * K keys of size dim in a ring buffer (K, dim), row-major. Each step the
 * batch of momentum-encoder keys overwrites the oldest rows at `ptr`, and
 * ptr advances by the batch size modulo K — exactly the official MoCo
 * `_dequeue_and_enqueue`. Because K is a multiple of the batch, a batch
 * never straddles the end of the buffer, so every enqueue is one memcpy.
 *
 * The official code keeps the queue transposed, (dim, K), so that q @ queue
 * is a plain matmul; here rows are keys, which makes enqueue contiguous and
 * the objective computes q @ negatives^T with a transposed GEMM instead.
 *
 * INI section keys:
 *   size = K   number of negatives (default 1024, 1..16777216; K % batch == 0)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moco/dictionary.h"
#include "moco/rng.h"
#include "moco/sdk.h"
#include "moco/tensor.h"

#define QUEUE_DEFAULT_SIZE 1024
#define QUEUE_MAX_SIZE (1 << 24)

typedef struct queue {
    int32_t dim;
    int32_t batch;
    int32_t size;   /* K */
    float *keys;    /* (K, dim), owned; exposed as state "queue" */
    int64_t *ptr;   /* (1), owned; next row to overwrite; state "queue_ptr" */
} queue;

static void queue_destroy(void *d) {
    queue *q = d;
    if (!q) return;
    free(q->keys);
    free(q->ptr);
    free(q);
}

/* Random unit vectors: each row drawn from N(0, I) then L2-normalised, as
 * the official `normalize(randn(dim, K), dim=0)` (one key per column there). */
static void queue_fill_random(float *keys, int64_t size, int32_t dim, uint64_t seed) {
    moco_rng rng;
    moco_rng_seed(&rng, seed);
    for (int64_t r = 0; r < size; r++) {
        float *row = keys + r * dim;
        double ss = 0;
        for (int32_t j = 0; j < dim; j++) {
            double v = moco_rng_normal(&rng);
            row[j] = (float)v;
            ss += v * v;
        }
        double inv = 1.0 / (ss > 1e-24 ? sqrt(ss) : 1e-12);
        for (int32_t j = 0; j < dim; j++) row[j] = (float)(row[j] * inv);
    }
}

/* [main] Reads `size`, allocates and fills the queue. Caller owns *out
 * (release with destroy). */
static int32_t queue_create(const moco_host *host, int32_t dim, int32_t batch, void **out,
                            moco_error *err) {
    *out = NULL;
    if (dim < 1 || batch < 1)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "queue: key dim %d and batch %d must both be >= 1. HINT: check the "
                           "backbone's output size and the host's batch size",
                           (int)dim, (int)batch);
    int64_t size;
    int32_t rc = moco_cfg_int(host, "size", QUEUE_DEFAULT_SIZE, 1, QUEUE_MAX_SIZE, &size, err);
    if (rc) return rc;
    if (size % batch != 0) {
        int64_t below = size / batch * batch, above = below + batch;
        if (below == 0)
            return moco_cfg_errorf(host, "size", err,
                                   "the queue size must be a multiple of the batch size %d "
                                   "(each step enqueues one whole batch). HINT: set size = %lld "
                                   "or a larger multiple of %d",
                                   (int)batch, (long long)above, (int)batch);
        return moco_cfg_errorf(host, "size", err,
                               "the queue size must be a multiple of the batch size %d "
                               "(each step enqueues one whole batch). HINT: set size = %lld or "
                               "%lld (the nearest multiples of %d)",
                               (int)batch, (long long)below, (long long)above, (int)batch);
    }

    queue *q = calloc(1, sizeof *q);
    if (!q) return moco_errorf(err, MOCO_ERR_NOMEM, "queue: out of memory");
    q->dim = dim;
    q->batch = batch;
    q->size = (int32_t)size;
    size_t bytes = (size_t)size * (size_t)dim * sizeof(float);
    q->keys = malloc(bytes);
    q->ptr = calloc(1, sizeof *q->ptr);
    if (!q->keys || !q->ptr) {
        queue_destroy(q);
        return moco_errorf(err, MOCO_ERR_NOMEM,
                           "queue: cannot allocate %lld x %d keys (%.1f MiB). HINT: lower "
                           "[%s] size",
                           (long long)size, (int)dim, (double)bytes / (1024.0 * 1024.0),
                           host && host->config_section ? host->config_section(host->ctx)
                                                        : "dictionary");
    }
    uint64_t seed = host && host->rng_stream ? host->rng_stream(host->ctx, "dictionary") : 0;
    queue_fill_random(q->keys, size, dim, seed);
    *out = q;
    return MOCO_OK;
}

/* [main] All K rows, valid until the next enqueue or destroy. */
static void queue_negatives(void *d, const float **keys, int32_t *count) {
    queue *q = d;
    *keys = q->keys;
    *count = q->size;
}

/* [main] Overwrites rows ptr..ptr+n-1 with keys (n, dim), n == batch. */
static int32_t queue_enqueue(void *d, const float *keys, int32_t n, moco_error *err) {
    queue *q = d;
    MOCO_ASSERT(keys != NULL);
    if (n != q->batch)
        return moco_errorf(err, MOCO_ERR_INVALID,
                           "queue: enqueue of %d keys, but the queue was created for batches "
                           "of %d. HINT: the host must enqueue exactly one full batch per step",
                           (int)n, (int)q->batch);
    int64_t ptr = *q->ptr;
    /* ptr may come from a checkpoint: trust it only when it is a batch
     * boundary inside the buffer. */
    if (ptr < 0 || ptr >= q->size || ptr % q->batch != 0)
        return moco_errorf(err, MOCO_ERR_FORMAT,
                           "queue: queue_ptr = %lld is not a multiple of the batch size %d in "
                           "[0, %d). HINT: the checkpoint was written with another batch or "
                           "queue size; resume with the same settings",
                           (long long)ptr, (int)q->batch, (int)q->size);
    memcpy(q->keys + (size_t)ptr * (size_t)q->dim, keys,
           (size_t)n * (size_t)q->dim * sizeof(float));
    *q->ptr = (ptr + n) % q->size;
    return MOCO_OK;
}

/* [main] */
static int32_t queue_num_state(void *d) {
    (void)d;
    return 2;
}

/* [main] Entry i; desc.data points at the live storage (valid until
 * destroy), so a checkpoint load writes straight into the queue. */
static void queue_state(void *d, int32_t i, moco_tensor_desc *out) {
    queue *q = d;
    MOCO_ASSERT(i >= 0 && i < 2);
    memset(out, 0, sizeof *out);
    out->role = MOCO_ROLE_STATE;
    if (i == 0) {
        out->name = "queue";
        out->dtype = MOCO_DTYPE_F32;
        out->ndim = 2;
        out->shape[0] = q->size;
        out->shape[1] = q->dim;
        out->data = q->keys;
    } else {
        out->name = "queue_ptr";
        out->dtype = MOCO_DTYPE_I64;
        out->ndim = 1;
        out->shape[0] = 1;
        out->data = q->ptr;
    }
}

static const moco_dictionary_api queue_api = {
    MOCO_SDK_VERSION_INIT, queue_create,    queue_destroy, queue_negatives,
    queue_enqueue,         queue_num_state, queue_state,
};

MOCO_PLUGIN(MOCO_KIND_DICTIONARY, "queue", "1.0.0", "MoCo FIFO queue of K negative keys (INI: size)", &queue_api);
