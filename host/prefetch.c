/* libuv prefetch of training batches (see prefetch.h). */
#include "prefetch.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

enum { BATCH_FREE = 0, BATCH_QUEUED = 1, BATCH_READY = 2 };

uint64_t prefetch_view_seed(uint64_t run_seed, int64_t epoch, int64_t index, int32_t view) {
    uint64_t s = moco_seed_mix(run_seed, 0xA06ULL);
    s = moco_seed_mix(s, (uint64_t)epoch);
    s = moco_seed_mix(s, (uint64_t)index);
    return moco_seed_mix(s, (uint64_t)view);
}

int32_t prefetch_fill(run *r, int64_t epoch, const int64_t *index, float *xq, float *xk,
                      uint8_t *pixels, moco_error *err) {
    size_t view = (size_t)r->view.channels * r->view.height * r->view.width;
    for (int64_t i = 0; i < r->cfg.batch; i++) {
        int32_t label, st;
        st = r->ds->get(r->train_set, index[i], pixels, &label, err);
        if (st) return st;
        st = r->aug->apply(r->augment, xq + i * view, pixels,
                           prefetch_view_seed(r->seed, epoch, index[i], 0), err);
        if (st) return st;
        st = r->aug->apply(r->augment, xk + i * view, pixels,
                           prefetch_view_seed(r->seed, epoch, index[i], 1), err);
        if (st) return st;
    }
    return MOCO_OK;
}

static void work(uv_work_t *req) {
    batch *b = req->data;
    b->status = prefetch_fill(b->pf->r, b->epoch, b->index, b->xq, b->xk, b->pixels, &b->err);
}

static void after_work(uv_work_t *req, int status) {
    batch *b = req->data;
    if (status == UV_ECANCELED) {
        b->state = BATCH_FREE;
        return;
    }
    b->state = BATCH_READY;
}

static void schedule(prefetcher *pf, batch *b) {
    run *r = pf->r;
    if (pf->next_epoch >= r->cfg.epochs) {
        b->state = BATCH_FREE;
        return;
    }
    if (pf->order_epoch != pf->next_epoch) {
        run_epoch_order(r, pf->next_epoch, pf->order);
        pf->order_epoch = pf->next_epoch;
    }
    b->epoch = pf->next_epoch;
    b->step = pf->next_step;
    memcpy(b->index, pf->order + pf->next_step * r->cfg.batch,
           (size_t)r->cfg.batch * sizeof(int64_t));
    b->state = BATCH_QUEUED;
    b->status = MOCO_OK;
    b->req.data = b;
    uv_queue_work(pf->loop, &b->req, work, after_work);
    if (++pf->next_step >= r->steps_per_epoch) {
        pf->next_step = 0;
        pf->next_epoch++;
    }
}

int32_t prefetch_init(prefetcher *pf, uv_loop_t *loop, run *r, int32_t depth,
                      moco_error *err) {
    memset(pf, 0, sizeof *pf);
    pf->loop = loop;
    pf->r = r;
    pf->depth = depth;
    pf->order_epoch = -1;
    pf->order = malloc((size_t)r->train_info.count * sizeof(int64_t));
    pf->slots = calloc((size_t)depth, sizeof(batch));
    if (!pf->order || !pf->slots)
        return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory for the prefetch queue");
    size_t view = (size_t)r->view.channels * r->view.height * r->view.width;
    size_t img = (size_t)r->train_info.channels * r->train_info.height * r->train_info.width;
    for (int32_t i = 0; i < depth; i++) {
        batch *b = &pf->slots[i];
        b->pf = pf;
        b->index = malloc((size_t)r->cfg.batch * sizeof(int64_t));
        b->xq = malloc((size_t)r->cfg.batch * view * sizeof(float));
        b->xk = malloc((size_t)r->cfg.batch * view * sizeof(float));
        b->pixels = malloc(img);
        if (!b->index || !b->xq || !b->xk || !b->pixels)
            return moco_errorf(err, MOCO_ERR_NOMEM, "out of memory for the prefetch queue");
    }
    return MOCO_OK;
}

void prefetch_start(prefetcher *pf, int64_t epoch, int64_t step) {
    pf->next_epoch = epoch;
    pf->next_step = step;
    pf->head = 0;
    for (int32_t i = 0; i < pf->depth; i++) schedule(pf, &pf->slots[i]);
}

batch *prefetch_next(prefetcher *pf, moco_error *err) {
    batch *b = &pf->slots[pf->head];
    uv_run(pf->loop, UV_RUN_NOWAIT);
    if (b->state == BATCH_QUEUED) {
        double t0 = host_now();
        while (b->state == BATCH_QUEUED) uv_run(pf->loop, UV_RUN_ONCE);
        pf->stall_seconds += host_now() - t0;
    }
    if (b->state != BATCH_READY) {
        moco_errorf(err, MOCO_ERR_INVALID, "internal: no batch scheduled");
        return NULL;
    }
    if (b->status) {
        *err = b->err;
        return NULL;
    }
    return b;
}

void prefetch_release(prefetcher *pf, batch *b) {
    b->state = BATCH_FREE;
    pf->head = (pf->head + 1) % pf->depth;
    schedule(pf, b);
}

void prefetch_free(prefetcher *pf) {
    if (!pf->slots) return;
    for (int32_t i = 0; i < pf->depth; i++)
        if (pf->slots[i].state == BATCH_QUEUED) uv_cancel((uv_req_t *)&pf->slots[i].req);
    for (int32_t i = 0; i < pf->depth; i++)
        while (pf->slots[i].state == BATCH_QUEUED) uv_run(pf->loop, UV_RUN_ONCE);
    for (int32_t i = 0; i < pf->depth; i++) {
        free(pf->slots[i].index);
        free(pf->slots[i].xq);
        free(pf->slots[i].xk);
        free(pf->slots[i].pixels);
    }
    free(pf->slots);
    free(pf->order);
    memset(pf, 0, sizeof *pf);
}
