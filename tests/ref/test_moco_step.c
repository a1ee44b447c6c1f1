/* Two complete MoCo steps of the host (host/train.c train_step) against the
 * same two steps in PyTorch (float64), from identical weights, batches and
 * queue (tests/ref/make_fixtures.py, case_moco):
 *   q = normalize(f_q(x_q)) train mode; k = normalize(f_k(x_k)) train-mode BN,
 *   no grad; InfoNCE (T = 0.07) with the queue; backward; SGD (lr 0.05,
 *   momentum 0.9, weight decay 1e-3, PyTorch's torch.optim.SGD); momentum
 *   update of the key parameters (m = 0.999) right after SGD — the official
 *   code runs it at the start of the next step, before the keys, which is
 *   the same sequence, and the reference is written in our order; enqueue.
 * After each step: loss, q and k, every query parameter, every key
 * parameter, both encoders' BN buffers, the queue and its pointer. The queue
 * starts with its pointer at K - batch, so step 1 wraps it to 0. Step 2 runs
 * with the SGD momentum buffers of step 1. */
#define _XOPEN_SOURCE 700   /* nftw */
#include <ftw.h>

#include "ref_model.h"
#include "run.h"
#include "tiny_run.h"
#include "train.h"

/* The loss is one scalar that collects the rounding of both whole networks:
 * PyTorch's own float32 run is 1.3e-6 abs / 1.4e-6 rel off the float64
 * reference here, so 2e-6 left no room for another summation order (our
 * Winograd path used 88% of it). 5e-6 is ~3.5x torch f32's error, the
 * headroom of the other groups; a 1% change of T still moves the loss by
 * ~1e-3. */
#define TOL_LOSS_ATOL 5e-6
#define TOL_LOSS_RTOL 5e-6
#define TOL_EMB_ATOL 5e-6
#define TOL_EMB_RTOL 5e-5
#define TOL_QPARAM_ATOL 5e-6
#define TOL_QPARAM_RTOL 1e-5
#define TOL_KPARAM_ATOL 1e-6   /* the key update is nearly exact: (1 - m) scales q's error */
#define TOL_KPARAM_RTOL 2e-6
#define TOL_BUF_ATOL 1e-5
#define TOL_BUF_RTOL 1e-4

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void test_two_moco_steps(void) {
    ref_fixture f;
    ref_open(&f, "moco_step_w4.bin");
    const int64_t *cfg = ref_i64s(&f, "config", 10);
    const float *hyper = ref_f32(&f, "hyper", 5);   /* lr, sgd momentum, weight decay, m, T */
    const int32_t width = (int32_t)cfg[1], dim = (int32_t)cfg[3], batch = (int32_t)cfg[4];
    const int32_t size = (int32_t)cfg[6], K = (int32_t)cfg[8], steps = (int32_t)cfg[9];

    const char *tmp = tiny_tmpdir();
    MT_CHECK(tmp != NULL, "temp dir");
    if (!tmp) return;
    char ov[1024];
    snprintf(ov, sizeof ov,
             "backbone.stem=cifar;backbone.width=%d;backbone.head=linear;moco.dim=%d;"
             "moco.momentum=%.9g;train.batch=%d;train.sgd_momentum=%.9g;"
             "train.weight_decay=%.9g;dictionary.size=%d;augment.size=%d;"
             "objective.temperature=%.9g",
             width, dim, (double)hyper[3], batch, (double)hyper[1], (double)hyper[2], K, size,
             (double)hyper[4]);
    const char *ini = tiny_ini(tmp, "ref_step", ov);
    const char *dirs[] = {MOCO_TEST_PLUGIN_DIR};
    run r;
    moco_error err = {{0}};
    int32_t st = run_setup(&r, ini, dirs, 1, NULL, &err);
    MT_CHECK(st == 0, "setup: %s", err.msg);
    if (st) return;
    MT_CHECK(r.view.height == size && r.view.width == size, "view %dx%d", r.view.height,
             r.view.width);

    /* identical initial state: both encoders (the key encoder is a copy,
     * buffers included), the queue and its pointer */
    MT_CHECK(ref_fill_weights(&f, r.bb, r.enc_q) == 0, "query weights");
    MT_CHECK(ref_fill_weights(&f, r.bb, r.enc_k) == 0, "key weights");
    moco_tensor_desc qd, pd;
    r.dict->state(r.queue, 0, &qd);
    r.dict->state(r.queue, 1, &pd);
    MT_CHECK(qd.dtype == MOCO_DTYPE_F32 && qd.shape[0] == K && qd.shape[1] == dim, "queue shape");
    memcpy(qd.data, ref_f32(&f, "queue0", (int64_t)K * dim), (size_t)K * dim * sizeof(float));
    *(int64_t *)pd.data = ref_i64s(&f, "ptr0", 1)[0];

    ref_stat s_loss, s_emb, s_qp, s_kp, s_qb, s_kb, s_queue, s_cnt;
    ref_stat_init(&s_loss, "moco step loss", TOL_LOSS_ATOL, TOL_LOSS_RTOL);
    ref_stat_init(&s_emb, "moco step q, k (normalised)", TOL_EMB_ATOL, TOL_EMB_RTOL);
    ref_stat_init(&s_qp, "moco query params after SGD", TOL_QPARAM_ATOL, TOL_QPARAM_RTOL);
    ref_stat_init(&s_kp, "moco key params after m-update", TOL_KPARAM_ATOL, TOL_KPARAM_RTOL);
    ref_stat_init(&s_qb, "moco query BN buffers", TOL_BUF_ATOL, TOL_BUF_RTOL);
    ref_stat_init(&s_kb, "moco key BN buffers (own fwd)", TOL_BUF_ATOL, TOL_BUF_RTOL);
    ref_stat_init(&s_queue, "moco queue after enqueue", TOL_EMB_ATOL, TOL_EMB_RTOL);
    ref_stat_init(&s_cnt, "moco queue_ptr, num_batches_tracked", 0, 0);

    const int64_t view = (int64_t)3 * size * size, bd = (int64_t)batch * dim;
    for (int32_t s = 1; s <= steps && !st; s++) {
        char key[128], p[32];
        snprintf(p, sizeof p, "step%d.", (int)s);
        snprintf(key, sizeof key, "%sxq", p);
        const float *xq = ref_f32(&f, key, batch * view);
        snprintf(key, sizeof key, "%sxk", p);
        const float *xk = ref_f32(&f, key, batch * view);
        moco_objective_result res;
        st = train_step(&r, xq, xk, (double)hyper[0], &res, &err);
        MT_CHECK(st == 0, "step %d: %s", (int)s, err.msg);
        if (st) break;

        snprintf(key, sizeof key, "%sloss", p);
        ref_cmp(&s_loss, key, &res.loss, ref_f32(&f, key, 1), 1);
        snprintf(key, sizeof key, "%sq", p);
        ref_cmp(&s_emb, key, r.q, ref_f32(&f, key, bd), bd);
        snprintf(key, sizeof key, "%sk", p);
        ref_cmp(&s_emb, key, r.k, ref_f32(&f, key, bd), bd);
        snprintf(key, sizeof key, "%sq.param/", p);
        ref_cmp_model(&s_qp, NULL, &f, key, r.bb, r.enc_q, MOCO_ROLE_PARAM, 0);
        snprintf(key, sizeof key, "%sk.param/", p);
        ref_cmp_model(&s_kp, NULL, &f, key, r.bb, r.enc_k, MOCO_ROLE_PARAM, 0);
        snprintf(key, sizeof key, "%sq.buf/", p);
        ref_cmp_model(&s_qb, &s_cnt, &f, key, r.bb, r.enc_q, MOCO_ROLE_BUFFER, 0);
        snprintf(key, sizeof key, "%sk.buf/", p);
        ref_cmp_model(&s_kb, &s_cnt, &f, key, r.bb, r.enc_k, MOCO_ROLE_BUFFER, 0);
        snprintf(key, sizeof key, "%squeue", p);
        ref_cmp(&s_queue, key, qd.data, ref_f32(&f, key, (int64_t)K * dim), (int64_t)K * dim);
        snprintf(key, sizeof key, "%squeue_ptr", p);
        double ours = (double)*(int64_t *)pd.data, want = (double)ref_i64s(&f, key, 1)[0];
        ref_cmp_exact(&s_cnt, key, &ours, &want, 1);
    }
    ref_report(&s_loss);
    ref_report(&s_emb);
    ref_report(&s_qp);
    ref_report(&s_kp);
    ref_report(&s_qb);
    ref_report(&s_kb);
    ref_report(&s_queue);
    ref_report(&s_cnt);

    run_teardown(&r);
    ref_fixture_free(&f);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
    MT_RUN(test_two_moco_steps);
    return mt_finish();
}
