/* kNN monitor (host/eval.c) against a naive full-sort reference on small
 * synthetic clustered features; k > n_bank; refusals; const inputs. */
#include "eval.h"
#include "moco/rng.h"
#include "mtest.h"

/* n points (n, d) around num_classes random unit centres: centre + noise,
 * L2-normalised; labels (n) cycle through the classes. */
static void clusters(float *x, int32_t *y, const float *centres, int n, int d, int classes,
                     double noise, moco_rng *r) {
    for (int i = 0; i < n; i++) {
        int c = (int)moco_rng_below(r, (uint64_t)classes);
        y[i] = c;
        for (int j = 0; j < d; j++)
            x[i * d + j] = centres[c * d + j] + (float)(noise * moco_rng_normal(r));
    }
    moco_eval_l2_normalize(x, n, d);
}

typedef struct ref_item {
    double sim;
    int idx;
} ref_item;

static int ref_cmp(const void *pa, const void *pb) {
    const ref_item *a = pa, *b = pb;
    if (a->sim != b->sim) return a->sim > b->sim ? -1 : 1; /* most similar first */
    return a->idx - b->idx;                                /* then lower index */
}

/* The straightforward kNN: all similarities, a full sort, weighted votes. */
static void ref_knn(int32_t *pred, const float *bank, const int32_t *labels, int nb,
                    const float *query, int m, int d, int classes, int k, float t) {
    ref_item *items = malloc((size_t)nb * sizeof *items);
    double *votes = malloc((size_t)classes * sizeof *votes);
    int kk = k < nb ? k : nb;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < nb; j++) {
            float s = 0; /* float dot, like the GEMM it stands in for */
            for (int c = 0; c < d; c++) s += query[i * d + c] * bank[j * d + c];
            items[j].sim = s;
            items[j].idx = j;
        }
        qsort(items, (size_t)nb, sizeof *items, ref_cmp);
        for (int c = 0; c < classes; c++) votes[c] = 0;
        for (int j = 0; j < kk; j++)
            votes[labels[items[j].idx]] += exp((items[j].sim - items[0].sim) / t);
        int best = 0;
        for (int c = 1; c < classes; c++)
            if (votes[c] > votes[best]) best = c;
        pred[i] = best;
    }
    free(items);
    free(votes);
}

static void test_l2_normalize_and_accuracy(void) {
    float x[6] = {3, 4, 0, 0, 0, 0};
    moco_eval_l2_normalize(x, 2, 3);
    MT_CLOSE(x[0], 0.6, 1e-7, 0);
    MT_CLOSE(x[1], 0.8, 1e-7, 0);
    MT_CHECK(x[3] == 0 && x[4] == 0 && x[5] == 0, "zero row must stay zero");
    int32_t p[4] = {0, 1, 2, 3}, y[4] = {0, 1, 0, 0};
    MT_CLOSE(moco_eval_accuracy(p, y, 4), 0.5, 0, 0);
    MT_CHECK(moco_eval_accuracy(p, y, 0) == 0.0f, "empty");
}

static void test_knn_matches_naive_synthetic(void) {
    enum { NB = 600, M = 300, D = 16, C = 5 }; /* M > 256: two query chunks */
    moco_rng r;
    moco_rng_seed(&r, 42);
    float *centres = malloc(C * D * sizeof(float));
    for (int i = 0; i < C * D; i++) centres[i] = (float)moco_rng_normal(&r);
    moco_eval_l2_normalize(centres, C, D);
    float *bank = malloc(NB * D * sizeof(float)), *query = malloc(M * D * sizeof(float));
    int32_t *bl = malloc(NB * sizeof(int32_t)), *ql = malloc(M * sizeof(int32_t));
    /* noise large enough that neighbourhoods mix and the votes matter */
    clusters(bank, bl, centres, NB, D, C, 0.35, &r);
    clusters(query, ql, centres, M, D, C, 0.35, &r);
    float *bank_copy = malloc(NB * D * sizeof(float)), *query_copy = malloc(M * D * sizeof(float));
    int32_t *bl_copy = malloc(NB * sizeof(int32_t));
    memcpy(bank_copy, bank, NB * D * sizeof(float));
    memcpy(query_copy, query, M * D * sizeof(float));
    memcpy(bl_copy, bl, NB * sizeof(int32_t));

    int32_t *pred = malloc(M * sizeof(int32_t)), *want = malloc(M * sizeof(int32_t));
    const int ks[] = {1, 5, 50, 200, NB};
    const float ts[] = {0.1f, 0.5f, 0.01f};
    for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
        for (size_t b = 0; b < sizeof ts / sizeof *ts; b++) {
            moco_error err = {{0}};
            int32_t rc = moco_knn_predict(pred, bank, bl, NB, query, M, D, C, ks[a], ts[b], &err);
            MT_CHECK(rc == MOCO_OK, "%s", err.msg);
            ref_knn(want, bank, bl, NB, query, M, D, C, ks[a], ts[b]);
            int diff = 0;
            for (int i = 0; i < M; i++) diff += pred[i] != want[i];
            MT_CHECK(diff == 0, "k=%d t=%g: %d of %d predictions differ from the naive kNN",
                     ks[a], (double)ts[b], diff, M);
            if (ks[a] == 200 && b == 0)
                printf("  k=200 t=0.1: accuracy %.3f (chance %.2f)\n",
                       (double)moco_eval_accuracy(pred, ql, M), 1.0 / C);
            if (ks[a] == 200 && b == 0)
                MT_CHECK(moco_eval_accuracy(pred, ql, M) > 0.6f, "kNN no better than chance");
        }
    MT_CHECK(memcmp(bank, bank_copy, NB * D * sizeof(float)) == 0, "bank modified");
    MT_CHECK(memcmp(query, query_copy, M * D * sizeof(float)) == 0, "query modified");
    MT_CHECK(memcmp(bl, bl_copy, NB * sizeof(int32_t)) == 0, "labels modified");

    /* k > n_bank means the whole bank */
    int32_t *all = malloc(M * sizeof(int32_t));
    moco_error err = {{0}};
    MT_CHECK(moco_knn_predict(pred, bank, bl, NB, query, M, D, C, NB, 0.1f, &err) == MOCO_OK,
             "%s", err.msg);
    MT_CHECK(moco_knn_predict(all, bank, bl, NB, query, M, D, C, 5 * NB, 0.1f, &err) == MOCO_OK,
             "%s", err.msg);
    MT_CHECK(memcmp(pred, all, M * sizeof(int32_t)) == 0, "k > n_bank differs from k = n_bank");
    /* a tiny bank: 3 rows, k = 200 */
    MT_CHECK(moco_knn_predict(pred, bank, bl, 3, query, M, D, C, 200, 0.1f, &err) == MOCO_OK,
             "%s", err.msg);
    ref_knn(want, bank, bl, 3, query, M, D, C, 3, 0.1f);
    MT_CHECK(memcmp(pred, want, M * sizeof(int32_t)) == 0, "3-row bank");

    free(all);
    free(pred);
    free(want);
    free(centres);
    free(bank);
    free(query);
    free(bl);
    free(ql);
    free(bank_copy);
    free(query_copy);
    free(bl_copy);
}

static void test_knn_ties_and_exact_tiny(void) {
    /* bank rows: e0 (class 2), e0 (class 1), e1 (class 0); query e0, k = 1:
     * the two e0 rows tie, the lower bank index (class 2) wins */
    const float bank[6] = {1, 0, 1, 0, 0, 1};
    const int32_t labels[3] = {2, 1, 0};
    const float query[4] = {1, 0, 0, 1};
    int32_t pred[2];
    moco_error err = {{0}};
    MT_CHECK(moco_knn_predict(pred, bank, labels, 3, query, 2, 2, 3, 1, 0.1f, &err) == MOCO_OK,
             "%s", err.msg);
    MT_CHECK(pred[0] == 2 && pred[1] == 0, "pred %d %d", pred[0], pred[1]);
    /* k = 2: classes 2 and 1 tie on votes; the lower class index wins */
    MT_CHECK(moco_knn_predict(pred, bank, labels, 3, query, 1, 2, 3, 2, 0.1f, &err) == MOCO_OK,
             "%s", err.msg);
    MT_CHECK(pred[0] == 1, "vote tie -> %d", pred[0]);
    /* k = 3, t = 1e-4: exp(sim/t) overflows a float; still class 1 */
    MT_CHECK(moco_knn_predict(pred, bank, labels, 3, query, 1, 2, 3, 3, 1e-4f, &err) == MOCO_OK,
             "%s", err.msg);
    MT_CHECK(pred[0] == 1, "tiny t -> %d", pred[0]);
}

static void test_knn_refusals_tiny(void) {
    const float bank[4] = {1, 0, 0, 1};
    const int32_t good[2] = {0, 1}, bad[2] = {0, 7};
    int32_t pred[2];
    moco_error err = {{0}};
    int32_t rc = moco_knn_predict(pred, bank, bad, 2, bank, 2, 2, 2, 1, 0.1f, &err);
    printf("  bad label: %s\n", err.msg);
    MT_CHECK(rc == MOCO_ERR_INVALID && strstr(err.msg, "HINT"), "rc %d", rc);
    rc = moco_knn_predict(pred, bank, good, 2, bank, 2, 2, 2, 0, 0.1f, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "k = 0 accepted");
    rc = moco_knn_predict(pred, bank, good, 2, bank, 2, 2, 2, 1, 0.0f, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "t = 0 accepted");
    rc = moco_knn_predict(pred, bank, good, 0, bank, 2, 2, 2, 1, 0.1f, &err);
    MT_CHECK(rc == MOCO_ERR_INVALID, "empty bank accepted");
    rc = moco_knn_predict(pred, bank, good, 2, bank, 0, 2, 2, 1, 0.1f, &err);
    MT_CHECK(rc == MOCO_OK, "no queries: %s", err.msg);
}

int main(void) {
    MT_RUN(test_l2_normalize_and_accuracy);
    MT_RUN(test_knn_matches_naive_synthetic);
    MT_RUN(test_knn_ties_and_exact_tiny);
    MT_RUN(test_knn_refusals_tiny);
    return mt_finish();
}
