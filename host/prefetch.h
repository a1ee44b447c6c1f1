/* Asynchronous batch preparation on the libuv thread pool: while the main
 * thread computes step s, batches s+1 .. s+depth are loaded and augmented
 * (two views each). A batch is a pure function of (seed, epoch, step), so
 * prefetching changes nothing in the results. */
#ifndef MOCO_HOST_PREFETCH_H
#define MOCO_HOST_PREFETCH_H

#include <uv.h>

#include "run.h"

typedef struct batch {
    uv_work_t req;
    struct prefetcher *pf;
    int64_t epoch, step;        /* which batch this is */
    int64_t *index;             /* (batch) dataset indices */
    float *xq, *xk;             /* (batch, c, h, w) the two views */
    uint8_t *pixels;            /* (c, h, w) scratch */
    int32_t state;              /* BATCH_* */
    int32_t status;
    moco_error err;
} batch;

typedef struct prefetcher {
    uv_loop_t *loop;
    run *r;
    batch *slots;
    int32_t depth;
    int32_t head;               /* slot of the next batch to hand out */
    int64_t next_epoch, next_step;   /* next batch to schedule */
    int64_t order_epoch;        /* epoch whose order is in `order` */
    int64_t *order;             /* (train count) */
    double stall_seconds;       /* time the main thread waited for data */
} prefetcher;

int32_t prefetch_init(prefetcher *pf, uv_loop_t *loop, run *r, int32_t depth,
                      moco_error *err);
/* Begin producing batches from (epoch, step) on. */
void prefetch_start(prefetcher *pf, int64_t epoch, int64_t step);
/* [main] Wait for the next batch in sequence. Returns NULL and fills err on
 * a data error. The batch stays valid until prefetch_release. */
batch *prefetch_next(prefetcher *pf, moco_error *err);
/* [main] Done with the batch: its slot prepares the next one. */
void prefetch_release(prefetcher *pf, batch *b);
/* [main] Cancel queued work, wait for running work, free everything. */
void prefetch_free(prefetcher *pf);

/* The seed of one augmented view: (run seed, epoch, index, view). */
uint64_t prefetch_view_seed(uint64_t run_seed, int64_t epoch, int64_t index, int32_t view);
/* Fill one batch synchronously (also used by the benchmark and tests). */
int32_t prefetch_fill(run *r, int64_t epoch, const int64_t *index, float *xq, float *xk,
                      uint8_t *pixels, moco_error *err);

#endif
