/* The "infonce" objective plugin against a double-precision reference:
 * ln(K+1) when all logits tie, the positive at column 0, finite-difference
 * check of dq, accuracy on a constructed case, and config/input refusals. */
#include "mtest.h"
#include "test_host.h"

static const moco_objective_api *api;

/* Reference loss in double: q (n, dim) double; k, neg float. logits
 * (n, 1 + count) optional. Returns the mean cross-entropy with target 0. */
static double ref_loss(const double *q, const float *k, const float *neg, int n, int count,
                       int dim, double t, double *logits, double *acc) {
    double total = 0;
    int correct = 0;
    double *row = malloc((size_t)(count + 1) * sizeof *row);
    for (int i = 0; i < n; i++) {
        double mx = -INFINITY;
        for (int j = 0; j <= count; j++) {
            const float *v = j == 0 ? k + (size_t)i * dim : neg + (size_t)(j - 1) * dim;
            double dot = 0;
            for (int c = 0; c < dim; c++) dot += q[(size_t)i * dim + c] * v[c];
            row[j] = dot / t;
            if (row[j] > mx) mx = row[j];
            if (logits) logits[(size_t)i * (count + 1) + j] = row[j];
        }
        double s = 0;
        for (int j = 0; j <= count; j++) s += exp(row[j] - mx);
        total += mx + log(s) - row[0];
        correct += !(mx > row[0]);
    }
    free(row);
    if (acc) *acc = (double)correct / n;
    return total / n;
}

static void random_unit(float *x, int rows, int dim, moco_rng *r) {
    for (int i = 0; i < rows; i++) {
        double ss = 0;
        for (int j = 0; j < dim; j++) {
            x[i * dim + j] = (float)moco_rng_normal(r);
            ss += (double)x[i * dim + j] * x[i * dim + j];
        }
        for (int j = 0; j < dim; j++) x[i * dim + j] = (float)(x[i * dim + j] / sqrt(ss));
    }
}

static void *make(const char *t, int32_t dim, int32_t *rc, moco_error *err) {
    test_host th;
    const char *kv[] = {"temperature", t, NULL};
    th_init(&th, "objective", t ? kv : NULL);
    void *o = NULL;
    *rc = api->create(&th.host, dim, &o, err);
    return o;
}

static void test_entry(void) {
    const moco_plugin_entry *e = th_load_plugin(MOCO_TEST_PLUGIN_DIR, "infonce");
    MT_CHECK(e != NULL, "plugin infonce.so not loadable");
    if (!e) exit(mt_finish() | 1);
    MT_CHECK(e->sdk_version.major == MOCO_SDK_VERSION_MAJOR, "major");
    MT_CHECK(e->kind == MOCO_KIND_OBJECTIVE, "kind %d", e->kind);
    MT_CHECK(strcmp(e->name, "infonce") == 0, "name %s", e->name);
    api = e->api;
    MT_CHECK(api->sdk_version.major == MOCO_SDK_VERSION_MAJOR, "api major");
}

static void test_equal_logits_give_ln_k1_tiny(void) {
    enum { N = 3, K = 15, D = 4 };
    int32_t rc;
    moco_error err = {{0}};
    void *o = make("0.2", D, &rc, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    if (rc) return;
    float q[N * D] = {0}, k[N * D] = {0}, neg[K * D] = {0}, dq[N * D];
    moco_objective_result res;
    /* q orthogonal to its key and to every negative: every logit is 0 */
    for (int i = 0; i < N; i++) {
        q[i * D + 0] = 1;
        k[i * D + 1] = 1;
    }
    for (int j = 0; j < K; j++) neg[j * D + 1 + j % 3] = 1;
    rc = api->loss(o, &res, dq, NULL, q, k, neg, N, K, D, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    MT_CLOSE(res.loss, log(K + 1.0), 1e-6, 1e-6);
    /* dq_i = (1/(n T)) [ (1/(K+1) - 1) k_i + sum_j neg_j / (K+1) ] */
    for (int i = 0; i < N; i++)
        for (int c = 0; c < D; c++) {
            double s = 0;
            for (int j = 0; j < K; j++) s += neg[j * D + c];
            double want = (1.0 / (N * 0.2)) * ((1.0 / (K + 1) - 1) * k[i * D + c] + s / (K + 1));
            MT_CLOSE(dq[i * D + c], want, 1e-6, 1e-5);
        }
    /* all vectors identical: every logit is 1/T; a tie counts as correct
     * (argmax takes the first index, as torch.argmax) */
    for (int i = 0; i < N * D; i++) q[i] = k[i] = 0.5f;
    for (int i = 0; i < K * D; i++) neg[i] = 0.5f;
    rc = api->loss(o, &res, NULL, NULL, q, k, neg, N, K, D, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    MT_CLOSE(res.loss, log(K + 1.0), 1e-6, 1e-6);
    MT_CHECK(res.accuracy == 1.0f, "accuracy on ties %g", (double)res.accuracy);
    api->destroy(o);
}

static void test_positive_at_column0_tiny(void) {
    enum { N = 4, K = 32, D = 16 };
    int32_t rc;
    moco_error err = {{0}};
    void *o = make("0.07", D, &rc, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    if (rc) return;
    moco_rng r;
    moco_rng_seed(&r, 7);
    float q[N * D], neg[K * D], logits[N * (K + 1)];
    random_unit(q, N, D, &r);
    random_unit(neg, K, D, &r);
    moco_objective_result good, swapped;
    rc = api->loss(o, &good, NULL, logits, q, q, neg, N, K, D, &err); /* k = q */
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    for (int i = 0; i < N; i++) MT_CLOSE(logits[i * (K + 1)], 1.0 / 0.07, 1e-4, 1e-5);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < K; j++) {
            double dot = 0;
            for (int c = 0; c < D; c++) dot += (double)q[i * D + c] * neg[j * D + c];
            MT_CLOSE(logits[i * (K + 1) + 1 + j], dot / 0.07, 1e-4, 1e-5);
        }
    MT_CHECK(good.accuracy == 1.0f, "acc %g", (double)good.accuracy);
    /* move the true key into the negatives and a negative into the key slot */
    float k2[N * D], neg2[K * D];
    memcpy(neg2, neg, sizeof neg);
    for (int i = 0; i < N; i++) memcpy(k2 + i * D, neg + i * D, D * sizeof(float));
    for (int i = 0; i < N; i++) memcpy(neg2 + i * D, q + i * D, D * sizeof(float));
    rc = api->loss(o, &swapped, NULL, NULL, q, k2, neg2, N, K, D, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    printf("  loss with k = q: %.4f, with k swapped into the negatives: %.4f\n",
           (double)good.loss, (double)swapped.loss);
    MT_CHECK(good.loss < swapped.loss - 1.0f, "positive not at column 0: %g vs %g",
             (double)good.loss, (double)swapped.loss);
    MT_CHECK(swapped.accuracy == 0.0f, "swapped acc %g", (double)swapped.accuracy);
    api->destroy(o);
}

/* dq against central differences of the double reference loss, plus the
 * plugin's loss and logits against the reference. */
static void fd_case(const char *t_str, double t, int n, int count, int dim, uint64_t seed) {
    int32_t rc;
    moco_error err = {{0}};
    void *o = make(t_str, dim, &rc, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    if (rc) return;
    moco_rng r;
    moco_rng_seed(&r, seed);
    float *q = malloc((size_t)n * dim * sizeof *q), *k = malloc((size_t)n * dim * sizeof *k);
    float *neg = malloc((size_t)count * dim * sizeof *neg);
    float *dq = malloc((size_t)n * dim * sizeof *dq);
    float *logits = malloc((size_t)n * (count + 1) * sizeof *logits);
    double *qd = malloc((size_t)n * dim * sizeof *qd);
    double *ref_logits = malloc((size_t)n * (count + 1) * sizeof *ref_logits);
    random_unit(q, n, dim, &r);
    random_unit(k, n, dim, &r);
    random_unit(neg, count, dim, &r);
    /* pull keys towards their queries so the positive matters */
    for (int i = 0; i < n * dim; i++) k[i] = 0.5f * k[i] + 0.5f * q[i];
    moco_objective_result res;
    rc = api->loss(o, &res, dq, logits, q, k, neg, n, count, dim, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    for (int i = 0; i < n * dim; i++) qd[i] = q[i];
    double ref_acc;
    double ref = ref_loss(qd, k, neg, n, count, dim, t, ref_logits, &ref_acc);
    MT_CLOSE(res.loss, ref, 1e-6, 2e-6);
    MT_CLOSE(res.accuracy, ref_acc, 1e-7, 0);
    double worst_logit = 0;
    for (long i = 0; i < (long)n * (count + 1); i++) {
        double e = fabs(logits[i] - ref_logits[i]) / (1e-5 + 1e-5 * fabs(ref_logits[i]));
        if (e > worst_logit) worst_logit = e;
    }
    MT_CHECK(worst_logit <= 1, "logits off: %g", worst_logit);

    /* relative to the gradient's own scale, so near-zero components do not
     * turn float rounding into large relative errors */
    const double h = 1e-5;
    double *fd = malloc((size_t)n * dim * sizeof *fd);
    double scale = 0;
    for (long i = 0; i < (long)n * dim; i++) {
        double save = qd[i];
        qd[i] = save + h;
        double lp = ref_loss(qd, k, neg, n, count, dim, t, NULL, NULL);
        qd[i] = save - h;
        double lm = ref_loss(qd, k, neg, n, count, dim, t, NULL, NULL);
        qd[i] = save;
        fd[i] = (lp - lm) / (2 * h);
        if (fabs(fd[i]) > scale) scale = fabs(fd[i]);
    }
    double worst = 0;
    long worst_i = 0;
    for (long i = 0; i < (long)n * dim; i++) {
        double e = fabs(dq[i] - fd[i]) / (1e-3 * scale + fabs(fd[i]));
        if (e > worst) {
            worst = e;
            worst_i = i;
        }
    }
    printf("  T=%s n=%d K=%d dim=%d: loss %.6f (ref %.6f), dq worst relative error %.3g "
           "(dq %.6g vs fd %.6g, max |fd| %.3g)\n",
           t_str, n, count, dim, (double)res.loss, ref, worst, (double)dq[worst_i], fd[worst_i],
           scale);
    MT_CHECK(worst < 1e-3, "dq vs finite differences: worst %g at %ld", worst, worst_i);
    free(fd);

    /* every output combination gives the same loss, logits and dq */
    float *dq2 = malloc((size_t)n * dim * sizeof *dq2);
    moco_objective_result r2;
    rc = api->loss(o, &r2, dq2, NULL, q, k, neg, n, count, dim, &err);
    MT_CHECK(rc == MOCO_OK && r2.loss == res.loss && r2.accuracy == res.accuracy, "no logits");
    MT_CHECK(memcmp(dq, dq2, (size_t)n * dim * sizeof *dq) == 0, "dq depends on logits ptr");
    rc = api->loss(o, &r2, NULL, NULL, q, k, neg, n, count, dim, &err);
    MT_CHECK(rc == MOCO_OK && r2.loss == res.loss, "no outputs");
    free(dq2);
    free(q);
    free(k);
    free(neg);
    free(dq);
    free(logits);
    free(qd);
    free(ref_logits);
    api->destroy(o);
}

static void test_dq_finite_differences_tiny(void) {
    fd_case("0.2", 0.2, 3, 5, 7, 11);
    fd_case("0.07", 0.07, 4, 33, 9, 12);
    fd_case("1", 1.0, 2, 1, 3, 13);
    fd_case("0.2", 0.2, 8, 300, 24, 14); /* big enough for OpenBLAS's blocked paths */
}

static void test_accuracy_constructed_tiny(void) {
    enum { N = 4, K = 2, D = 2 };
    int32_t rc;
    moco_error err = {{0}};
    void *o = make(NULL, D, &rc, &err); /* default T = 0.07 */
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    if (rc) return;
    /* negatives (0, 1) and (-0.6, 0.8); every q = (1, 0). Rows 0 and 2 have
     * k = q (logit 1 wins), rows 1 and 3 have k = -q (logit -1 loses to 0). */
    const float q[N * D] = {1, 0, 1, 0, 1, 0, 1, 0};
    const float k[N * D] = {1, 0, -1, 0, 1, 0, -1, 0};
    const float neg[K * D] = {0, 1, -0.6f, 0.8f};
    float logits[N * (K + 1)];
    moco_objective_result res;
    rc = api->loss(o, &res, NULL, logits, q, k, neg, N, K, D, &err);
    MT_CHECK(rc == MOCO_OK, "%s", err.msg);
    MT_CHECK(res.accuracy == 0.5f, "accuracy %g", (double)res.accuracy);
    MT_CLOSE(logits[0], 1 / 0.07, 1e-4, 1e-6); /* the default temperature */
    MT_CLOSE(logits[3], -1 / 0.07, 1e-4, 1e-6);
    MT_CLOSE(logits[5], -0.6 / 0.07, 1e-4, 1e-6);
    /* with no negatives the positive is the only class: loss 0, dq 0 */
    float dq[N * D];
    rc = api->loss(o, &res, dq, NULL, q, k, NULL, N, 0, D, &err);
    MT_CHECK(rc == MOCO_OK && res.loss == 0.0f && res.accuracy == 1.0f, "K = 0");
    for (int i = 0; i < N * D; i++) MT_CHECK(dq[i] == 0.0f, "dq[%d] = %g", i, (double)dq[i]);
    api->destroy(o);
}

static void test_refusals_tiny(void) {
    int32_t rc;
    moco_error err = {{0}};
    void *o = make("0", 8, &rc, &err);
    printf("  temperature = 0: %s\n", err.msg);
    MT_CHECK(rc == MOCO_ERR_INVALID && o == NULL, "T = 0 accepted");
    MT_CHECK(strstr(err.msg, "test.ini:1") && strstr(err.msg, "temperature") &&
                 strstr(err.msg, "HINT"),
             "%s", err.msg);
    const char *bad[] = {"-0.1", "10.5", "abc", "nan", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o = make(bad[i], 8, &rc, &err);
        MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "temperature"), "T = %s: %s", bad[i],
                 err.msg);
    }
    o = make("10", 8, &rc, &err);
    MT_CHECK(rc == MOCO_OK, "T = 10 refused: %s", err.msg);
    if (o) api->destroy(o);
    o = make("0.07", 0, &rc, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "dim 0 accepted");

    o = make("0.2", 4, &rc, &err);
    if (rc) return;
    float q[8] = {1, 0, 0, 0, 0, 1, 0, 0}, k[8] = {1, 0, 0, 0, 0, 1, 0, 0};
    float neg[8] = {0, 0, 1, 0, 0, 0, 0, 1};
    moco_objective_result res;
    rc = api->loss(o, &res, NULL, NULL, q, k, neg, 0, 2, 4, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "n = 0 accepted");
    rc = api->loss(o, &res, NULL, NULL, q, k, neg, 2, 1, 2, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "dim"), "dim mismatch: %s", err.msg);
    q[1] = NAN;
    rc = api->loss(o, &res, NULL, NULL, q, k, neg, 2, 2, 4, &err);
    printf("  NaN in q: %s\n", err.msg);
    MT_CHECK(rc == MOCO_ERR_NUMERIC && strstr(err.msg, "NaN"), "rc %d %s", rc, err.msg);
    q[1] = 0;
    neg[5] = INFINITY;
    rc = api->loss(o, &res, NULL, NULL, q, k, neg, 2, 2, 4, &err);
    MT_CHECK(rc == MOCO_ERR_NUMERIC, "Inf in a negative: rc %d", rc);
    api->destroy(o);
}

int main(void) {
    MT_RUN(test_entry);
    MT_RUN(test_equal_logits_give_ln_k1_tiny);
    MT_RUN(test_positive_at_column0_tiny);
    MT_RUN(test_dq_finite_differences_tiny);
    MT_RUN(test_accuracy_constructed_tiny);
    MT_RUN(test_refusals_tiny);
    return mt_finish();
}
