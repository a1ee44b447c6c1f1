/* InfoNCE against the official MoCo formulation in PyTorch (float64):
 *   q = normalize(q_raw); logits = cat([q.k, q @ queue^T]) / T;
 *   loss = cross_entropy(logits, 0); dL/dq and dL/dq_raw by autograd,
 * through the same path the host takes: moco_l2norm_forward, the infonce
 * plugin, moco_l2norm_backward. T = 0.07, 8 queries, K = 64, dim 16. */
#include "fixture.h"
#include "test_host.h"

#define TOL_ATOL 2e-6
#define TOL_RTOL 2e-5

static void test_infonce_vs_torch(void) {
    ref_fixture f;
    ref_open(&f, "infonce.bin");
    const ref_tensor *tq = ref_find(&f, "q_raw"), *tqueue = ref_find(&f, "queue");
    MT_CHECK(tq && tqueue && tq->ndim == 2 && tqueue->ndim == 2, "shapes");
    if (!tq || !tqueue) return;
    const int32_t n = (int32_t)tq->shape[0], dim = (int32_t)tq->shape[1];
    const int32_t K = (int32_t)tqueue->shape[0];
    const float T = ref_f32(&f, "T", 1)[0];
    const float *q_raw = ref_f32(&f, "q_raw", (int64_t)n * dim);
    const float *k = ref_f32(&f, "k", (int64_t)n * dim);
    const float *queue = ref_f32(&f, "queue", (int64_t)K * dim);

    const moco_plugin_entry *e = th_load_plugin(MOCO_TEST_PLUGIN_DIR, "infonce");
    MT_CHECK(e && e->kind == MOCO_KIND_OBJECTIVE, "infonce plugin");
    if (!e) return;
    const moco_objective_api *api = e->api;
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%.9g", (double)T);
    const char *kv[] = {"temperature", tbuf, NULL};
    test_host th;
    th_init(&th, "objective", kv);
    void *obj = NULL;
    moco_error err = {{0}};
    MT_CHECK(api->create(&th.host, dim, &obj, &err) == 0, "create: %s", err.msg);
    if (!obj) return;

    float *q = calloc((size_t)n * dim, sizeof(float)), *norms = calloc((size_t)n, sizeof(float));
    float *dq = calloc((size_t)n * dim, sizeof(float)), *dq_raw = calloc((size_t)n * dim, sizeof(float));
    float *logits = calloc((size_t)n * (K + 1), sizeof(float));
    moco_l2norm_forward(q, norms, q_raw, n, dim);
    moco_objective_result res;
    int32_t st = api->loss(obj, &res, dq, logits, q, k, queue, n, K, dim, &err);
    MT_CHECK(st == 0, "loss: %s", err.msg);
    moco_l2norm_backward(dq_raw, dq, q, norms, n, dim);

    ref_stat s;
    ref_stat_init(&s, "infonce (T=0.07, K=64)", TOL_ATOL, TOL_RTOL);
    ref_cmp(&s, "q = normalize(q_raw)", q, ref_f32(&f, "q", (int64_t)n * dim), (int64_t)n * dim);
    ref_cmp(&s, "logits", logits, ref_f32(&f, "logits", (int64_t)n * (K + 1)), (int64_t)n * (K + 1));
    ref_cmp(&s, "loss", &res.loss, ref_f32(&f, "loss", 1), 1);
    ref_cmp(&s, "dL/dq", dq, ref_f32(&f, "dq", (int64_t)n * dim), (int64_t)n * dim);
    ref_cmp(&s, "dL/dq_raw", dq_raw, ref_f32(&f, "dq_raw", (int64_t)n * dim), (int64_t)n * dim);
    ref_report(&s);
    /* the loss is far from ln(K+1): the fixture's positives are informative */
    MT_CHECK(fabs(res.loss - log(K + 1.0)) > 0.5, "loss %f too close to ln(K+1)", res.loss);

    api->destroy(obj);
    free(q);
    free(norms);
    free(dq);
    free(dq_raw);
    free(logits);
    ref_fixture_free(&f);
}

int main(void) {
    MT_RUN(test_infonce_vs_torch);
    return mt_finish();
}
