/* backbone_resnet18_behaviour_tiny: the contract of the resnet18 backbone
 * on reduced models (width 8, 8x8 or 16x16 images): identical instances,
 * train vs eval BN, running statistics, batch limits, INI errors, the
 * backward contract, the feature output and the head. */
#include <math.h>

#include "rn_test.h"

#define N 4
#define DIM 16
#define SIZE 16

static const char *const tiny[] = {"width", "8", NULL};

static float *xalloc(int32_t n, int32_t size, uint64_t seed) {
    float *x = malloc(sizeof(float) * n * 3 * size * size);
    rt_fill_normal(x, (int64_t)n * 3 * size * size, seed);
    return x;
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d) m = d;
    }
    return m;
}

static int32_t fwd(rt_model *r, float *out, float *feat, const float *x, int32_t n,
                   int32_t train) {
    moco_error err = {{0}};
    int32_t rc = r->api->forward(r->m, out, feat, x, n, train, &err);
    MT_CHECK(rc == MOCO_OK, "forward: %s", err.msg);
    return rc;
}

/* Two instances from ONE host (the host's query and key encoders). */
static void test_two_instances_identical(void) {
    test_host th;
    th_init(&th, "backbone", tiny);
    const moco_backbone_api *api = rt_api();
    void *a = NULL, *b = NULL;
    moco_error err = {{0}};
    MT_CHECK(api->create(&th.host, 3, SIZE, SIZE, N, DIM, &a, &err) == MOCO_OK, "%s", err.msg);
    MT_CHECK(api->create(&th.host, 3, SIZE, SIZE, N, DIM, &b, &err) == MOCO_OK, "%s", err.msg);
    if (!a || !b) return;
    moco_backbone_info ia, ib;
    api->info(a, &ia);
    api->info(b, &ib);
    MT_CHECK(ia.params.count == ib.params.count && ia.params.data != ib.params.data,
             "separate arenas of one size");
    MT_CHECK(!memcmp(ia.params.data, ib.params.data, sizeof(float) * ia.params.count),
             "parameters differ");
    MT_CHECK(!memcmp(ia.buffers.data, ib.buffers.data, sizeof(float) * ia.buffers.count),
             "buffers differ");
    float *x = xalloc(N, SIZE, 3);
    float oa[N * DIM], ob[N * DIM];
    MT_CHECK(api->forward(a, oa, NULL, x, N, 1, &err) == MOCO_OK, "%s", err.msg);
    MT_CHECK(api->forward(b, ob, NULL, x, N, 1, &err) == MOCO_OK, "%s", err.msg);
    MT_CHECK(!memcmp(oa, ob, sizeof oa), "train outputs differ");
    MT_CHECK(!memcmp(ia.buffers.data, ib.buffers.data, sizeof(float) * ia.buffers.count),
             "running stats differ after the same forward");

    /* another run seed gives other parameters */
    test_host th2;
    th_init(&th2, "backbone", tiny);
    th2.seed = th.seed + 1;
    void *c = NULL;
    MT_CHECK(api->create(&th2.host, 3, SIZE, SIZE, N, DIM, &c, &err) == MOCO_OK, "%s", err.msg);
    if (c) {
        moco_backbone_info ic;
        api->info(c, &ic);
        MT_CHECK(memcmp(ia.params.data, ic.params.data, sizeof(float) * ia.params.count),
                 "a different seed gave the same parameters");
        api->destroy(c);
    }
    free(x);
    api->destroy(a);
    api->destroy(b);
}

static float nbt(const rt_model *r, const char *bn) {
    char name[96];
    snprintf(name, sizeof name, "%s.num_batches_tracked", bn);
    return *(float *)rt_find(r, name).data;
}

static void test_train_vs_eval(void) {
    rt_model r;
    rt_create_ok(&r, tiny, 1, 3, SIZE, SIZE, N, DIM);
    float *x = xalloc(N, SIZE, 5);
    float ot[N * DIM], oe[N * DIM], oe2[N * DIM];
    MT_CHECK(nbt(&r, "bn1") == 0, "counter starts at %g", nbt(&r, "bn1"));
    fwd(&r, ot, NULL, x, N, 1);
    MT_CHECK(nbt(&r, "bn1") == 1 && nbt(&r, "layer4.1.bn2") == 1 &&
                 nbt(&r, "layer3.0.downsample.1") == 1,
             "num_batches_tracked after one train forward: %g", nbt(&r, "bn1"));
    int ones = 0, bns = 0;
    for (int32_t i = 0; i < r.info.num_tensors; i++) {
        moco_tensor_desc d = rt_tensor(&r, i);
        if (!rt_ends_with(d.name, "num_batches_tracked")) continue;
        bns++;
        ones += *(float *)d.data == 1.0f;
    }
    MT_CHECK(ones == 20 && bns == 20, "%d of %d counters at 1", ones, bns);

    float *snap = malloc(sizeof(float) * r.info.buffers.count);
    memcpy(snap, r.info.buffers.data, sizeof(float) * r.info.buffers.count);
    fwd(&r, oe, NULL, x, N, 0);
    fwd(&r, oe2, NULL, x, N, 0);
    MT_CHECK(!memcmp(snap, r.info.buffers.data, sizeof(float) * r.info.buffers.count),
             "eval forward changed the buffers");
    MT_CHECK(!memcmp(oe, oe2, sizeof oe), "eval forward not repeatable");
    double d = max_abs_diff(ot, oe, N * DIM);
    MT_CHECK(d > 1e-3, "train and eval outputs agree (%g): eval must use running stats", d);

    /* a running stat moves eval output only */
    float *rm = rt_find(&r, "layer2.0.bn1.running_mean").data;
    rm[0] += 1.0f;
    float ot2[N * DIM];
    fwd(&r, oe2, NULL, x, N, 0);
    MT_CHECK(max_abs_diff(oe, oe2, N * DIM) > 1e-4, "running_mean does not reach eval");
    memcpy(r.info.buffers.data, snap, sizeof(float) * r.info.buffers.count);
    fwd(&r, ot2, NULL, x, N, 1);
    rm[0] += 1.0f;
    fwd(&r, oe2, NULL, x, N, 1);
    MT_CHECK(!memcmp(ot2, oe2, sizeof ot2), "running_mean changed a train forward");
    MT_CHECK(nbt(&r, "bn1") == 3, "counter after 3 train forwards: %g", nbt(&r, "bn1"));
    free(snap);
    free(x);
    rt_destroy(&r);
}

/* bn1's running stats follow PyTorch after one and two train forwards:
 * r = (1 - 0.1) r + 0.1 stat, unbiased variance into running_var. */
static void test_running_stats_update(void) {
    rt_model r;
    rt_create_ok(&r, tiny, 1, 3, SIZE, SIZE, N, DIM);
    moco_tensor_desc w = rt_find(&r, "conv1.weight");
    const float *rmean = rt_find(&r, "bn1.running_mean").data;
    const float *rvar = rt_find(&r, "bn1.running_var").data;
    moco_conv_shape cs = {N, 3, SIZE, SIZE, 8, 3, 3, 1, 1, 0, 0};
    MOCO_ASSERT(moco_conv_shape_init(&cs) == 0);
    const int32_t hw = SIZE * SIZE;
    float *c1 = malloc(sizeof(float) * N * 8 * hw);
    double want_m[8] = {0}, want_v[8];
    for (int k = 0; k < 8; k++) want_v[k] = 1.0;
    float out[N * DIM];
    for (int step = 0; step < 2; step++) {
        float *x = xalloc(N, SIZE, 20 + step);
        moco_conv2d_forward_naive(c1, x, w.data, &cs);
        for (int c = 0; c < 8; c++) {
            double s = 0, s2 = 0;
            for (int i = 0; i < N; i++)
                for (int j = 0; j < hw; j++) s += c1[(i * 8 + c) * hw + j];
            double mean = s / (N * hw);
            for (int i = 0; i < N; i++)
                for (int j = 0; j < hw; j++) {
                    double t = c1[(i * 8 + c) * hw + j] - mean;
                    s2 += t * t;
                }
            want_m[c] = 0.9 * want_m[c] + 0.1 * mean;
            want_v[c] = 0.9 * want_v[c] + 0.1 * s2 / (N * hw - 1);
        }
        fwd(&r, out, NULL, x, N, 1);
        for (int c = 0; c < 8; c++) {
            MT_CLOSE(rmean[c], want_m[c], 1e-6, 1e-5);
            MT_CLOSE(rvar[c], want_v[c], 1e-6, 1e-5);
        }
        free(x);
    }
    MT_CHECK(nbt(&r, "bn1") == 2, "num_batches_tracked %g", nbt(&r, "bn1"));
    free(c1);
    rt_destroy(&r);
}

/* With bn_momentum = 1 the running stats become the batch's (unbiased var);
 * scaling running_var back to the biased variance makes eval normalise
 * exactly as train did, so eval(x) == train(x) proves every BN reads its
 * running stats in eval mode. */
static void test_eval_uses_running_stats(void) {
    static const char *const kv[] = {"width", "8", "bn_momentum", "1", NULL};
    rt_model r;
    rt_create_ok(&r, kv, 1, 3, SIZE, SIZE, N, DIM);
    float *x = xalloc(N, SIZE, 9);
    float ot[N * DIM], oe[N * DIM], ft[N * 64], fe[N * 64];
    fwd(&r, ot, ft, x, N, 1);
    int fixed = 0;
    for (int32_t i = 0; i < r.info.num_tensors; i++) {
        moco_tensor_desc d = rt_tensor(&r, i);
        if (!rt_ends_with(d.name, "running_var")) continue;
        int stage = 1;   /* bn1 runs at the input size, like layer1 */
        if (!strncmp(d.name, "layer", 5)) stage = d.name[5] - '0';
        int side = SIZE >> (stage - 1);
        double m = (double)N * side * side;
        float *v = d.data;
        for (int64_t c = 0; c < d.shape[0]; c++) v[c] = (float)(v[c] * (m - 1) / m);
        fixed++;
    }
    MT_CHECK(fixed == 20, "%d running_var tensors", fixed);
    fwd(&r, oe, fe, x, N, 0);
    long worst = 0;
    double e = mt_max_rel(oe, ot, N * DIM, 1e-4, 1e-3, &worst);
    MT_CHECK(e <= 1, "eval %.6g vs train %.6g at %ld", oe[worst], ot[worst], worst);
    e = mt_max_rel(fe, ft, N * 64, 1e-4, 1e-3, &worst);
    MT_CHECK(e <= 1, "features: eval %.6g vs train %.6g at %ld", fe[worst], ft[worst], worst);
    free(x);
    rt_destroy(&r);
}

static void test_batch_limits(void) {
    rt_model r;
    rt_create_ok(&r, tiny, 1, 3, SIZE, SIZE, N, DIM);
    float *x = xalloc(N + 1, SIZE, 4);
    float out[(N + 1) * DIM], o2[2 * DIM];
    moco_error err = {{0}};
    int32_t rc = r.api->forward(r.m, out, NULL, x, N + 1, 1, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "max_batch") && strstr(err.msg, "HINT"),
             "n > max_batch: rc %d: %s", (int)rc, err.msg);
    rc = r.api->forward(r.m, out, NULL, x, 0, 0, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "n = 0: rc %d", (int)rc);
    /* a smaller batch after a full one: eval rows do not depend on n */
    fwd(&r, out, NULL, x, N, 0);
    fwd(&r, o2, NULL, x, 2, 0);
    MT_CHECK(max_abs_diff(out, o2, 2 * DIM) <= 1e-5, "eval of 2 vs first 2 of 4: %g",
             max_abs_diff(out, o2, 2 * DIM));
    fwd(&r, o2, NULL, x, 2, 1);
    rc = r.api->backward(r.m, o2, &err);
    MT_CHECK(rc == MOCO_OK, "backward after n = 2: %s", err.msg);
    rt_destroy(&r);

    /* 8x8 cifar: layer4 is 1x1, so one image gives BN one value per channel */
    rt_create_ok(&r, tiny, 1, 3, 8, 8, N, DIM);
    rc = r.api->forward(r.m, out, NULL, x, 1, 1, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "HINT"), "train n = 1 at 1x1: %d %s",
             (int)rc, err.msg);
    rc = r.api->forward(r.m, out, NULL, x, 1, 0, &err);
    MT_CHECK(rc == MOCO_OK, "eval n = 1: %s", err.msg);
    rc = r.api->forward(r.m, out, NULL, x, 2, 1, &err);
    MT_CHECK(rc == MOCO_OK, "train n = 2: %s", err.msg);
    free(x);
    rt_destroy(&r);
}

static void expect_bad(const char *key, const char *value) {
    const char *kv[] = {"width", "8", key, value, NULL};
    rt_model r;
    moco_error err = {{0}};
    int32_t rc = rt_create(&r, kv, 1, 3, SIZE, SIZE, N, DIM, &err);
    char want[64];
    snprintf(want, sizeof want, "%s = '%s'", key, value);
    MT_CHECK(rc == MOCO_ERR_INVALID && r.m == NULL, "%s = %s accepted (rc %d)", key, value,
             (int)rc);
    MT_CHECK(strstr(err.msg, want) && strstr(err.msg, "HINT") && strstr(err.msg, "test.ini"),
             "message for %s = %s: %s", key, value, err.msg);
    rt_destroy(&r);
}

static void test_bad_ini(void) {
    expect_bad("stem", "foo");
    expect_bad("head", "bar");
    expect_bad("bn_momentum", "2");
    expect_bad("bn_eps", "0");
    expect_bad("bn_eps", "abc");
    expect_bad("zero_init_residual", "maybe");
    /* width twice would be ambiguous: read with only the bad value */
    static const char *const w0[] = {"width", "0", NULL};
    static const char *const wx[] = {"width", "wide", NULL};
    rt_model r;
    moco_error err = {{0}};
    int32_t rc = rt_create(&r, w0, 1, 3, SIZE, SIZE, N, DIM, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "width = '0'") && strstr(err.msg, "HINT"),
             "width = 0: %d %s", (int)rc, err.msg);
    rc = rt_create(&r, wx, 1, 3, SIZE, SIZE, N, DIM, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "width"), "width = wide: %s", err.msg);
    /* sizes from the host */
    rc = rt_create(&r, tiny, 1, 3, SIZE, SIZE, N, 0, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "HINT"), "dim 0: %s", err.msg);
    rc = rt_create(&r, tiny, 1, 3, SIZE, SIZE, 0, DIM, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "HINT"), "max_batch 0: %s", err.msg);
    rc = rt_create(&r, tiny, 1, 0, SIZE, SIZE, N, DIM, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "HINT"), "0 channels: %s", err.msg);
}

/* Every key is looked up, so the host never reports ours as unknown. */
static void test_all_keys_read(void) {
    static const char *const kv[] = {"stem", "imagenet", "width", "8", "head", "mlp",
                                     "bn_momentum", "0.01", "bn_eps", "1e-3",
                                     "zero_init_residual", "yes", NULL};
    rt_model r;
    rt_create_ok(&r, kv, 1, 3, 32, 32, 2, DIM);
    for (int i = 0; i < r.th.nkeys; i++)
        MT_CHECK(r.th.used[i], "key %s never read", r.th.keys[i]);
    rt_destroy(&r);
}

static void test_backward_contract(void) {
    rt_model r;
    rt_create_ok(&r, tiny, 1, 3, SIZE, SIZE, N, DIM);
    float *x = xalloc(N, SIZE, 6);
    float out[N * DIM], dout[N * DIM];
    rt_fill_uniform(dout, N * DIM, 8);
    moco_error err = {{0}};
    int32_t rc = r.api->backward(r.m, dout, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "HINT"), "backward first: %d %s",
             (int)rc, err.msg);
    fwd(&r, out, NULL, x, N, 0);
    rc = r.api->backward(r.m, dout, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "eval"), "backward after eval: %d %s",
             (int)rc, err.msg);

    /* accumulation: two backward calls give twice the gradient */
    const int64_t np = r.info.grads.count;
    float *g1 = malloc(sizeof(float) * np);
    fwd(&r, out, NULL, x, N, 1);
    memset(r.info.grads.data, 0, sizeof(float) * np);
    MT_CHECK(r.api->backward(r.m, dout, &err) == MOCO_OK, "%s", err.msg);
    memcpy(g1, r.info.grads.data, sizeof(float) * np);
    MT_CHECK(r.api->backward(r.m, dout, &err) == MOCO_OK, "%s", err.msg);
    for (int64_t i = 0; i < np; i++) g1[i] *= 2;
    long worst = 0;
    double e = mt_max_rel(r.info.grads.data, g1, np, 1e-6, 1e-5, &worst);
    MT_CHECK(e <= 1, "second backward does not accumulate: %g vs %g at %ld",
             r.info.grads.data[worst], g1[worst], worst);
    double norm = 0;
    for (int64_t i = 0; i < np; i++) norm += fabs(g1[i]);
    MT_CHECK(norm > 0, "all gradients zero");

    /* the images need not outlive forward: backward uses the plugin's copy */
    fwd(&r, out, NULL, x, N, 1);
    memset(r.info.grads.data, 0, sizeof(float) * np);
    MT_CHECK(r.api->backward(r.m, dout, &err) == MOCO_OK, "%s", err.msg);
    memcpy(g1, r.info.grads.data, sizeof(float) * np);
    fwd(&r, out, NULL, x, N, 1);
    for (int64_t i = 0; i < (int64_t)N * 3 * SIZE * SIZE; i++) x[i] = 1e3f;
    memset(r.info.grads.data, 0, sizeof(float) * np);
    MT_CHECK(r.api->backward(r.m, dout, &err) == MOCO_OK, "%s", err.msg);
    moco_tensor_desc w = rt_find(&r, "conv1.weight");
    int64_t off = (float *)w.data - r.info.params.data;
    MT_CHECK(!memcmp(g1 + off, r.info.grads.data + off, sizeof(float) * 8 * 27),
             "conv1 gradient depends on the caller's buffer after forward");
    free(g1);
    free(x);
    rt_destroy(&r);
}

/* feat is the pooled feature; out is the head applied to it. */
static void test_feat_and_head(void) {
    for (int mlp = 0; mlp < 2; mlp++) {
        const char *kv[] = {"width", "8", "head", mlp ? "mlp" : "linear", NULL};
        rt_model r;
        rt_create_ok(&r, kv, 1, 3, SIZE, SIZE, N, DIM);
        MT_CHECK(r.info.feat_dim == 64, "feat_dim %d", (int)r.info.feat_dim);
        float *x = xalloc(N, SIZE, 10);
        float out[N * DIM], feat[N * 64], want[N * DIM];
        fwd(&r, out, feat, x, N, 1);
        const char *w1 = mlp ? "fc.0.weight" : "fc.weight", *b1 = mlp ? "fc.0.bias" : "fc.bias";
        const float *W = rt_find(&r, w1).data, *B = rt_find(&r, b1).data;
        int nonneg = 1;
        for (int i = 0; i < N * 64; i++) nonneg &= feat[i] >= 0;
        MT_CHECK(nonneg, "pooled features of ReLU outputs must be >= 0");
        int o1 = mlp ? 64 : DIM;
        double h[64];
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < o1; j++) {
                double s = B[j];
                for (int k = 0; k < 64; k++) s += (double)feat[i * 64 + k] * W[j * 64 + k];
                h[j] = s;
            }
            if (mlp) {
                const float *W2 = rt_find(&r, "fc.2.weight").data;
                const float *B2 = rt_find(&r, "fc.2.bias").data;
                for (int j = 0; j < DIM; j++) {
                    double s = B2[j];
                    for (int k = 0; k < 64; k++) s += (h[k] > 0 ? h[k] : 0) * W2[j * 64 + k];
                    want[i * DIM + j] = (float)s;
                }
            } else {
                for (int j = 0; j < DIM; j++) want[i * DIM + j] = (float)h[j];
            }
        }
        long worst = 0;
        double e = mt_max_rel(out, want, N * DIM, 1e-5, 1e-4, &worst);
        MT_CHECK(e <= 1, "%s head: out %g vs %g at %ld", mlp ? "mlp" : "linear", out[worst],
                 want[worst], worst);
        free(x);
        rt_destroy(&r);
    }
}

static void test_nonfinite_input(void) {
    rt_model r;
    rt_create_ok(&r, tiny, 1, 3, SIZE, SIZE, N, DIM);
    float *x = xalloc(N, SIZE, 12);
    x[5] = NAN;
    float out[N * DIM];
    moco_error err = {{0}};
    int32_t rc = r.api->forward(r.m, out, NULL, x, N, 0, &err);
    MT_CHECK(rc == MOCO_ERR_NUMERIC && strstr(err.msg, "HINT"), "NaN input: %d %s", (int)rc,
             err.msg);
    free(x);
    rt_destroy(&r);
}

int main(void) {
    MT_RUN(test_two_instances_identical);
    MT_RUN(test_train_vs_eval);
    MT_RUN(test_running_stats_update);
    MT_RUN(test_eval_uses_running_stats);
    MT_RUN(test_batch_limits);
    MT_RUN(test_bad_ini);
    MT_RUN(test_all_keys_read);
    MT_RUN(test_backward_contract);
    MT_RUN(test_feat_and_head);
    MT_RUN(test_nonfinite_input);
    return mt_finish();
}
