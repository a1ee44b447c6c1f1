/* MoCo step mechanics on a tiny run: the key encoder starts as an exact copy,
 * one momentum update is exact, m = 1 leaves it unchanged, SGD follows
 * PyTorch's formula, a step changes the query encoder and enqueues keys. */
#include "mtest.h"
#include "prefetch.h"
#include "run.h"
#include "tiny_run.h"
#include "train.h"

static const char *tmp;
static const char *plugin_dirs[] = {MOCO_TEST_PLUGIN_DIR};

static int setup(run *r, const char *overrides) {
    moco_error err = {{0}};
    const char *path = tiny_ini(tmp, "math", overrides);
    int32_t st = run_setup(r, path, plugin_dirs, 1, NULL, &err);
    MT_CHECK(st == 0, "setup: %s", err.msg);
    return st;
}

static int one_step(run *r, moco_objective_result *res) {
    size_t view = (size_t)r->view.channels * r->view.height * r->view.width;
    float *xq = malloc(r->cfg.batch * view * sizeof(float));
    float *xk = malloc(r->cfg.batch * view * sizeof(float));
    uint8_t *pix = malloc(3 * 32 * 32);
    int64_t *order = malloc(r->train_info.count * sizeof(int64_t));
    run_epoch_order(r, 0, order);
    moco_error err = {{0}};
    int32_t st = prefetch_fill(r, 0, order, xq, xk, pix, &err);
    if (!st) st = train_step(r, xq, xk, 0.03, res, &err);
    MT_CHECK(st == 0, "step: %s", err.msg);
    free(xq);
    free(xk);
    free(pix);
    free(order);
    return st;
}

static void test_key_starts_as_copy(void) {
    run r;
    if (setup(&r, "")) return;
    MT_CHECK(r.qinfo.params.count == r.kinfo.params.count, "param counts");
    MT_CHECK(!memcmp(r.qinfo.params.data, r.kinfo.params.data,
                     r.qinfo.params.count * sizeof(float)), "params differ at step 0");
    MT_CHECK(!memcmp(r.qinfo.buffers.data, r.kinfo.buffers.data,
                     r.qinfo.buffers.count * sizeof(float)), "buffers differ at step 0");
    MT_CHECK(r.qinfo.params.data != r.kinfo.params.data, "encoders share storage");
    run_teardown(&r);
}

static void test_momentum_update_exact(void) {
    float k[5] = {1, -2, 3.5f, 0, 1e-3f}, q[5] = {0.5f, 4, -1, 2, 7};
    float k0[5];
    memcpy(k0, k, sizeof k);
    train_momentum_update(k, q, 5, 0.999f);
    for (int i = 0; i < 5; i++) {
        float want = 0.999f * k0[i] + (1.0f - 0.999f) * q[i];
        MT_CHECK(k[i] == want, "k[%d] = %.9g, want %.9g", i, k[i], want);
        MT_CLOSE(k[i], 0.999 * k0[i] + 0.001 * q[i], 1e-6, 1e-6);
    }
    memcpy(k, k0, sizeof k);
    train_momentum_update(k, q, 5, 1.0f);
    MT_CHECK(!memcmp(k, k0, sizeof k), "m = 1 changed the key encoder");
}

static void test_sgd_formula(void) {
    /* PyTorch SGD(momentum=0.9, weight_decay=0.1, lr=0.5), two steps by hand */
    float p[2] = {1.0f, -2.0f}, v[2] = {0, 0}, g[2] = {0.3f, 0.1f};
    train_sgd(p, v, g, 2, 0.5f, 0.9f, 0.1f);
    /* g' = g + wd p = {0.4, -0.1}; v = g'; p -= 0.5 v */
    MT_CLOSE(p[0], 0.8, 1e-6, 0);
    MT_CLOSE(p[1], -1.95, 1e-6, 0);
    train_sgd(p, v, g, 2, 0.5f, 0.9f, 0.1f);
    /* g' = {0.3 + 0.08, 0.1 - 0.195} = {0.38, -0.095}; v = 0.9 v + g' */
    MT_CLOSE(v[0], 0.9 * 0.4 + 0.38, 1e-6, 0);
    MT_CLOSE(p[0], 0.8 - 0.5 * (0.36 + 0.38), 1e-6, 0);
    MT_CLOSE(p[1], -1.95 - 0.5 * (0.9 * -0.1 - 0.095), 1e-6, 0);
}

static void test_step_effects(void) {
    run r;
    if (setup(&r, "")) return;
    int64_t np = r.qinfo.params.count;
    float *q0 = malloc(np * sizeof(float));
    memcpy(q0, r.qinfo.params.data, np * sizeof(float));
    const float *neg;
    int32_t K;
    r.dict->negatives(r.queue, &neg, &K);
    moco_objective_result res;
    if (!one_step(&r, &res)) {
        MT_CHECK(isfinite(res.loss) && res.loss > 0, "loss %f", res.loss);
        /* at step 0 the loss is near ln(K+1) for random features */
        MT_CHECK(fabs(res.loss - log(K + 1.0)) < 2.0, "loss %f vs ln(K+1) %f", res.loss,
                 log(K + 1.0));
        MT_CHECK(memcmp(q0, r.qinfo.params.data, np * sizeof(float)) != 0, "SGD did nothing");
        /* key = m k0 + (1-m) q_new with k0 = q0 */
        long bad = 0;
        for (int64_t i = 0; i < np; i++) {
            float want = 0.999f * q0[i] + (1.0f - 0.999f) * r.qinfo.params.data[i];
            bad += r.kinfo.params.data[i] != want;
        }
        MT_CHECK(bad == 0, "%ld key params not m k + (1-m) q", bad);
        /* the batch's keys are the first rows of the queue now */
        const float *neg2;
        r.dict->negatives(r.queue, &neg2, &K);
        MT_CHECK(!memcmp(neg2, r.k, r.cfg.batch * r.cfg.dim * sizeof(float)), "keys enqueued");
    }
    free(q0);
    run_teardown(&r);
}

static void test_m_one_keeps_key_params(void) {
    run r;
    if (setup(&r, "moco.momentum=1")) return;
    int64_t np = r.kinfo.params.count;
    float *k0 = malloc(np * sizeof(float));
    memcpy(k0, r.kinfo.params.data, np * sizeof(float));
    moco_objective_result res;
    if (!one_step(&r, &res))
        MT_CHECK(!memcmp(k0, r.kinfo.params.data, np * sizeof(float)), "m = 1 moved the key");
    free(k0);
    run_teardown(&r);
}

int main(void) {
    tmp = tiny_tmpdir();
    if (!tmp) return 1;
    MT_RUN(test_key_starts_as_copy);
    MT_RUN(test_momentum_update_exact);
    MT_RUN(test_sgd_formula);
    MT_RUN(test_step_effects);
    MT_RUN(test_m_one_keeps_key_params);
    return mt_finish();
}
