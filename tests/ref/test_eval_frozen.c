/* The evaluation protocol leaves the model alone: on a tiny run (synthetic
 * data) after one real training step, the host's whole evaluation
 * (evaluate_run_result: eval-mode features of both splits, linear probe,
 * kNN) is run with pooled and with head features, and every arena that
 * holds training state — query parameters, gradients, BN buffers, key
 * parameters and buffers, SGD momentum, queue and pointer — must be
 * bit-for-bit what it was. A train-mode forward afterwards must change the
 * BN buffers, which shows the comparison would see a leak. */
#define _XOPEN_SOURCE 700   /* nftw */
#include <ftw.h>

#include "evaluate.h"
#include "fixture.h"
#include "prefetch.h"
#include "run.h"
#include "tiny_run.h"
#include "train.h"

typedef struct snapshot {
    float *v[6];
    int64_t n[6];
    const float *src[6];
    float *queue;
    int64_t queue_n, ptr;
} snapshot;

static const char *const arena_name[6] = {"query params", "query grads", "query BN buffers",
                                          "key params", "key BN buffers", "SGD momentum"};

static void snap_take(snapshot *s, const run *r) {
    const moco_arena a[6] = {r->qinfo.params, r->qinfo.grads, r->qinfo.buffers, r->kinfo.params,
                             r->kinfo.buffers, {r->sgd_momentum, r->qinfo.params.count}};
    for (int i = 0; i < 6; i++) {
        s->n[i] = a[i].count;
        s->src[i] = a[i].data;
        s->v[i] = malloc((size_t)a[i].count * sizeof(float));
        memcpy(s->v[i], a[i].data, (size_t)a[i].count * sizeof(float));
    }
    moco_tensor_desc q, p;
    r->dict->state(r->queue, 0, &q);
    r->dict->state(r->queue, 1, &p);
    s->queue_n = q.shape[0] * q.shape[1];
    s->queue = malloc((size_t)s->queue_n * sizeof(float));
    memcpy(s->queue, q.data, (size_t)s->queue_n * sizeof(float));
    s->ptr = *(int64_t *)p.data;
}

/* Number of arenas that differ (bitwise) from the snapshot; names them. */
static int snap_diff(const snapshot *s, const run *r, const char *when, int quiet) {
    int differ = 0;
    for (int i = 0; i < 6; i++)
        if (memcmp(s->v[i], s->src[i], (size_t)s->n[i] * sizeof(float))) {
            if (!quiet) fprintf(stderr, "  %s: %s changed\n", when, arena_name[i]);
            differ++;
        }
    moco_tensor_desc q, p;
    r->dict->state(r->queue, 0, &q);
    r->dict->state(r->queue, 1, &p);
    if (memcmp(s->queue, q.data, (size_t)s->queue_n * sizeof(float)) || s->ptr != *(int64_t *)p.data) {
        if (!quiet) fprintf(stderr, "  %s: queue changed\n", when);
        differ++;
    }
    return differ;
}

static void snap_free(snapshot *s) {
    for (int i = 0; i < 6; i++) free(s->v[i]);
    free(s->queue);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void test_evaluation_leaves_model_unchanged(void) {
    const char *tmp = tiny_tmpdir();
    MT_CHECK(tmp != NULL, "temp dir");
    if (!tmp) return;
    const char *ini = tiny_ini(tmp, "ref_eval", "eval.linear_epochs=3");
    const char *dirs[] = {MOCO_TEST_PLUGIN_DIR};
    run r;
    moco_error err = {{0}};
    int32_t st = run_setup(&r, ini, dirs, 1, NULL, &err);
    MT_CHECK(st == 0, "setup: %s", err.msg);
    if (st) return;

    /* one real step, so momentum, queue, buffers and gradients are non-trivial */
    size_t view = (size_t)r.view.channels * r.view.height * r.view.width;
    float *xq = malloc(r.cfg.batch * view * sizeof(float)), *xk = malloc(r.cfg.batch * view * sizeof(float));
    uint8_t *pix = malloc((size_t)3 * 32 * 32);
    int64_t *order = malloc((size_t)r.train_info.count * sizeof(int64_t));
    run_epoch_order(&r, 0, order);
    st = prefetch_fill(&r, 0, order, xq, xk, pix, &err);
    moco_objective_result res;
    if (!st) st = train_step(&r, xq, xk, 0.03, &res, &err);
    MT_CHECK(st == 0, "step: %s", err.msg);

    snapshot s;
    snap_take(&s, &r);
    long values = 0;
    for (int i = 0; i < 6; i++) values += (long)s.n[i];
    values += (long)s.queue_n + 1;
    metrics m = {0};
    const int32_t features[2] = {FEATURES_POOLED, FEATURES_HEAD};
    int changed = 0;
    for (int i = 0; i < 2 && !st; i++) {
        r.cfg.features = features[i];
        r.cfg.knn = r.cfg.linear = 1;
        eval_result ev;
        st = evaluate_run_result(&r, &m, &ev, &err);
        MT_CHECK(st == 0, "evaluate: %s", err.msg);
        MT_CHECK(ev.knn_top1 >= 0 && ev.linear_top1 >= 0, "kNN %f / linear %f did not run",
                 ev.knn_top1, ev.linear_top1);
        int d = snap_diff(&s, &r, i ? "head features" : "pooled features", 0);
        MT_CHECK(d == 0, "evaluation (%s features) changed %d arena(s)", i ? "head" : "pooled", d);
        changed += d;
    }
    printf("REF %-40s %ld values in 7 arenas bit-identical after kNN + linear probe "
           "(pooled and head features): %s\n", "evaluation leaves model unchanged", values,
           changed ? "NO" : "yes");

    /* the comparison can see a change: a train-mode forward moves BN buffers */
    float *out = malloc((size_t)r.cfg.batch * r.cfg.dim * sizeof(float));
    st = r.bb->forward(r.enc_q, out, NULL, xq, (int32_t)r.cfg.batch, 1, &err);
    MT_CHECK(st == 0, "train forward: %s", err.msg);
    MT_CHECK(snap_diff(&s, &r, "train forward", 1) > 0, "a train-mode forward went unnoticed");

    free(out);
    snap_free(&s);
    free(xq);
    free(xk);
    free(pix);
    free(order);
    run_teardown(&r);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
    MT_RUN(test_evaluation_leaves_model_unchanged);
    return mt_finish();
}
